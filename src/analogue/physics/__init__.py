"""Pure physics on tensors: mapping, periphery, crossbar, noise sources, straight-through estimators."""

from .crossbar import tiled_mvm
from .mapping import (
    conductance_to_weight,
    inputs_to_blocks,
    n_row_blocks,
    to_blocks,
    weight_scales,
    weight_to_conductance,
)
from .noise import GaussianSource
from .periphery import adc, dac, digital_accumulate, dynamic_input_scale, levels, output_noise
from .ste import AnalogMatmulFn, MVMTrace, clamp_ste, round_ste

__all__ = [
    "AnalogMatmulFn",
    "GaussianSource",
    "MVMTrace",
    "adc",
    "clamp_ste",
    "conductance_to_weight",
    "dac",
    "digital_accumulate",
    "dynamic_input_scale",
    "inputs_to_blocks",
    "levels",
    "n_row_blocks",
    "output_noise",
    "round_ste",
    "tiled_mvm",
    "to_blocks",
    "weight_scales",
    "weight_to_conductance",
]
