"""analogue: simulate, train, compile and cost PyTorch models on analog in-memory-computing hardware."""

from analogue import analysis, cost, physics, sensor, train
from analogue._util.version import __version__ as __version__
from analogue.compile import CompiledModel, compile  # noqa: A004 -- an.compile is the public name
from analogue.compile.program import deprecated_program as _deprecated_program
from analogue.config import (
    ADCConfig,
    AnalogConfig,
    ConfigError,
    DACConfig,
    DeviceConfig,
    MappingConfig,
    NoiseConfig,
    TileConfig,
    chips,
    presets,
)
from analogue.config.attention import AttentionConfig
from analogue.cost import CostReport, estimate_cost
from analogue.cost.arrays import array_size_study
from analogue.lifecycle.attention import analog_attention_
from analogue.lifecycle.calibrate import calibrate_, calibrate_outputs_, capture_inputs
from analogue.lifecycle.convert import (
    ConversionReport,
    DigitalLayer,
    analog_layers,
    conversion_report,
    convert_,
    to_digital_,
)
from analogue.lifecycle.devices import compensate_drift_, drift_, program_, unprogram_
from analogue.lifecycle.saving import load, save
from analogue.nn import AnalogConv1d, AnalogConv2d, AnalogHFConv1D, AnalogLayer, AnalogLinear


def __getattr__(name: str) -> object:
    if name == "Program":  # the old name of CompiledModel (it collided with program_)
        return _deprecated_program()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ADCConfig",
    "AnalogConfig",
    "AnalogConv1d",
    "AnalogConv2d",
    "AnalogHFConv1D",
    "AnalogLayer",
    "AnalogLinear",
    "AttentionConfig",
    "ConfigError",
    "ConversionReport",
    "CompiledModel",
    "CostReport",
    "DACConfig",
    "DeviceConfig",
    "DigitalLayer",
    "MappingConfig",
    "NoiseConfig",
    "TileConfig",
    "analog_attention_",
    "analog_layers",
    "analysis",
    "array_size_study",
    "calibrate_",
    "calibrate_outputs_",
    "capture_inputs",
    "chips",
    "compensate_drift_",
    "compile",
    "conversion_report",
    "convert_",
    "cost",
    "drift_",
    "estimate_cost",
    "load",
    "physics",
    "presets",
    "program_",
    "save",
    "sensor",
    "to_digital_",
    "train",
    "unprogram_",
]
