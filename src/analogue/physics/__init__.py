"""Pure physics on tensors: mapping, periphery, crossbar, noise sources, straight-through estimators."""

from analogue.physics.crossbar import Readout, WeightUnits, tiled_mvm
from analogue.physics.mapping import (
    conductance_to_weight,
    inputs_to_blocks,
    n_row_blocks,
    to_blocks,
    weight_scales,
    weight_to_conductance,
)
from analogue.physics.noise import GaussianSource
from analogue.physics.periphery import (
    adc,
    dac,
    digital_accumulate,
    dynamic_input_scale,
    levels,
    output_noise,
)
from analogue.physics.ste import MVMTrace, clamp_ste, lsq_range_grad, round_ste

__all__ = [
    "GaussianSource",
    "MVMTrace",
    "Readout",
    "WeightUnits",
    "adc",
    "clamp_ste",
    "conductance_to_weight",
    "dac",
    "digital_accumulate",
    "dynamic_input_scale",
    "inputs_to_blocks",
    "levels",
    "lsq_range_grad",
    "n_row_blocks",
    "output_noise",
    "round_ste",
    "tiled_mvm",
    "to_blocks",
    "weight_scales",
    "weight_to_conductance",
]
