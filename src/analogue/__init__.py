"""analogue: simulate, train, compile and cost PyTorch models on analog in-memory-computing hardware."""

from . import physics, presets
from .config import (
    ADCConfig,
    AnalogConfig,
    ConfigError,
    DACConfig,
    DeviceConfig,
    MappingConfig,
    NoiseConfig,
    TileConfig,
)
from .convert import analog_layers, convert_, to_digital_
from .nn import AnalogConv1d, AnalogConv2d, AnalogLayer, AnalogLinear

__version__ = "0.1.0"

__all__ = [
    "ADCConfig",
    "AnalogConfig",
    "AnalogConv1d",
    "AnalogConv2d",
    "AnalogLayer",
    "AnalogLinear",
    "ConfigError",
    "DACConfig",
    "DeviceConfig",
    "MappingConfig",
    "NoiseConfig",
    "TileConfig",
    "analog_layers",
    "convert_",
    "physics",
    "presets",
    "to_digital_",
]
