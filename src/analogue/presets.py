"""Presets: functions returning ``AnalogConfig``s, each citing where its numbers come from."""

from __future__ import annotations

from .config import (
    ADCConfig,
    AnalogConfig,
    DACConfig,
    MappingConfig,
    NoiseConfig,
    TileConfig,
)


def ideal(rows: int = 256, cols: int = 256) -> AnalogConfig:
    """Every non-ideality off: the layer equals its digital twin (tiling is exact)."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=None, range_policy="dynamic"),
        adc=ADCConfig(bits=None, clip=False),
        mapping=MappingConfig(),
        noise=NoiseConfig(out_std_rel_fs=0.0),
    )


def standard() -> AnalogConfig:
    """A typical inference tile: 256x256 arrays, 8-bit DAC and ADC, output noise on.

    8-bit converters, an output bound of 10 and an output noise of 0.04 in those units
    (0.4 % of full scale) follow the standard crossbar model of Rasch et al., Nat. Commun. 2023
    (reference.md section 3); per-vector abs-max input scaling and column-wise weight scaling as
    there; conductances map to ``g_max = 25 uS`` (PCM, Joshi et al. 2020).
    """
    return AnalogConfig(
        tile=TileConfig(rows=256, cols=256),
        dac=DACConfig(bits=8, range_policy="dynamic"),
        adc=ADCConfig(bits=8, out_bound=10.0, clip=True),
        mapping=MappingConfig(g_max_uS=25.0, g_min_uS=0.0, scale="column"),
        noise=NoiseConfig(out_std_rel_fs=0.004),
    )


def quantized(dac_bits: int = 8, adc_bits: int = 8, rows: int = 256, cols: int = 256) -> AnalogConfig:
    """Converters only (no noise): the quantisation floor of a tile."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=dac_bits),
        adc=ADCConfig(bits=adc_bits, out_bound=10.0),
        noise=NoiseConfig(out_std_rel_fs=0.0),
    )


__all__ = ["ideal", "quantized", "standard"]
