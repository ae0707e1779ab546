"""The hardware description, data only: frozen dataclasses with units in their field names.

- ``array``: one crossbar tile and its periphery (``TileConfig``, ``DACConfig``, ``ADCConfig``,
  ``MappingConfig``, ``NoiseConfig``, ``CircuitConfig``) composed with a device into ``AnalogConfig``;
- ``device``: the device model's sections, composed into ``DeviceConfig``;
- ``pulsed``: devices and periphery for training in memory (pulsed updates);
- ``chips``: a whole chip, ``Chip`` (organisation, periphery timing, electrical, digital unit and
  ``array: AnalogConfig``), and the published chips as presets;
- ``presets``: functions returning ``AnalogConfig``s, each citing its source.
"""

from analogue._util.validate import ConfigError
from analogue.config.array import (
    CONFIG_VERSION,
    RANGE_POLICIES,
    SCALE_POLICIES,
    ADCConfig,
    AnalogConfig,
    CircuitConfig,
    DACConfig,
    MappingConfig,
    NoiseConfig,
    TileConfig,
)
from analogue.config.device import (
    Aging,
    BitSlicing,
    DeviceConfig,
    Drift,
    Faults,
    Levels,
    ProgrammingNoise,
    ReadNoise,
    Relaxation,
    Temperature,
    Variability,
)

__all__ = [
    "CONFIG_VERSION",
    "RANGE_POLICIES",
    "SCALE_POLICIES",
    "ADCConfig",
    "Aging",
    "AnalogConfig",
    "BitSlicing",
    "CircuitConfig",
    "ConfigError",
    "DACConfig",
    "DeviceConfig",
    "Drift",
    "Faults",
    "Levels",
    "MappingConfig",
    "NoiseConfig",
    "ProgrammingNoise",
    "ReadNoise",
    "Relaxation",
    "Temperature",
    "TileConfig",
    "Variability",
]
