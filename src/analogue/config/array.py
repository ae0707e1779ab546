"""The hardware description: small frozen dataclasses, one per physical concern.

Units live in field names. Every class validates itself in ``__post_init__`` with a message
that names the field and the fix. ``AnalogConfig`` composes them and round-trips through
``to_dict``/``from_dict`` (JSON- and YAML-safe) and YAML files.

Normalised units used throughout the analog path (after Rasch et al., Nat. Commun. 2023):
inputs are scaled so the DAC full scale is 1, weights so the largest conductance difference
``g_max_uS - g_min_uS`` is 1. A column current is then a sum of products in ``[-rows, rows]``
and the ADC range ``ADCConfig.out_bound`` is given in these units (10 in Rasch et al.).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analogue._util.serial import Serialisable, check_version
from analogue._util.validate import (
    check_bits,
    check_nonnegative,
    check_positive,
    require,
)
from analogue.config.device import DeviceConfig

CONFIG_VERSION = 1

RANGE_POLICIES = ("dynamic", "dynamic_tile", "fixed", "calibrated", "learned")
SCALE_POLICIES = ("column", "tile")


def input_cycles(bits: Any, bits_per_cycle: Any) -> Any:
    """Read cycles of a ``bits``-bit DAC code streamed bit-serially, ``bits_per_cycle`` magnitude
    bits per read: sign-magnitude with the sign as the pulse polarity, so ``ceil((bits - 1) /
    bits_per_cycle)`` reads; a 1-bit code (its sign alone) is one read. The one count of both the
    accuracy path (``DACConfig.cycles``, ``physics.periphery.input_bit_planes``) and the cost
    model (``config.chips.mvm_timing``). Integers, or numpy arrays that broadcast (float64)."""
    if isinstance(bits, int) and isinstance(bits_per_cycle, int):
        return max(-(-(bits - 1) // bits_per_cycle), 1)
    b, k = np.asarray(bits, dtype=np.float64), np.asarray(bits_per_cycle, dtype=np.float64)
    return np.maximum(np.ceil((b - 1.0) / k), 1.0)


@dataclass(frozen=True)
class TileConfig:
    """One crossbar array: ``rows`` word lines (inputs) by ``cols`` bit lines (outputs)."""

    rows: int = 256
    cols: int = 256

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            v = getattr(self, name)
            require(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1 << 16,
                f"TileConfig.{name}",
                f"must be an integer in [1, 65536], got {v!r}",
            )


@dataclass(frozen=True)
class DACConfig:
    """Input digital-to-analog conversion.

    ``bits``: signed resolution (``2**(bits-1) - 1`` levels per side); ``1`` is a binary (sign)
    DAC driving +-full scale (``physics.periphery.quantise_``); ``None`` is ideal.
    ``range_policy``: how the full-scale input is chosen --
      ``dynamic``    per input vector, its absolute maximum (``noise management``);
      ``dynamic_tile`` per input vector and row tile, the absolute maximum of the vector's slice
                   on that tile (aihwkit's ``NoiseManagementType.ABS_MAX``); the same as
                   ``dynamic`` for a layer within one row tile;
      ``fixed``      ``input_range`` as given;
      ``calibrated`` a per-layer value measured from data by ``an.calibrate_``;
      ``learned``    a per-layer trainable range, initialised at ``input_range``.
    ``input_range``: full-scale input in the layer's input units (fixed/initial value).
    ``inl_std_lsb``: non-linearity of each row's DAC, sampled once per programmed instance: the
    amplitude of a third-order (bow) integral non-linearity, in LSB, drawn per row from
    ``N(0, inl_std_lsb**2)`` (``physics.periphery.bow_profile``); 0: a linear DAC. Needs
    ``bits >= 2``. Applies to programmed layers in eval mode (see docs/devices.md).
    ``bits_per_cycle``: ``None`` applies each input in one read (amplitude: one ADC conversion per
    column per MVM, today's path). ``k``: the input's DAC code is streamed bit-serially, ``k``
    magnitude bits per read cycle, least significant first, in sign-magnitude (the sign is the
    pulse polarity): ``ceil((bits - 1) / k)`` reads, each digitised by
    the column ADC over its full range ``[-out_bound, out_bound]`` (that of a full-scale input
    vector) with its own output noise, then shifted and added digitally
    (``physics.periphery.input_bit_planes``; docs/devices.md). Needs ``bits >= 2``,
    ``k <= bits - 1`` and a linear DAC (``inl_std_lsb = 0``).
    """

    bits: int | None = 8
    range_policy: str = "dynamic"
    input_range: float = 1.0
    inl_std_lsb: float = 0.0
    bits_per_cycle: int | None = None

    @property
    def cycles(self) -> int:
        """Read cycles per input vector: ``ceil((bits - 1) / bits_per_cycle)``; 1 without
        bit-serial inputs."""
        if self.bits_per_cycle is None or self.bits is None:
            return 1
        return input_cycles(self.bits, self.bits_per_cycle)

    def __post_init__(self) -> None:
        check_bits(self.bits, "DACConfig.bits")
        check_nonnegative(self.inl_std_lsb, "DACConfig.inl_std_lsb")
        require(
            self.inl_std_lsb == 0.0 or (self.bits is not None and self.bits >= 2),
            "DACConfig.inl_std_lsb",
            f"a DAC non-linearity needs a multi-bit DAC (bits >= 2), got bits={self.bits}",
        )
        if self.bits_per_cycle is not None:
            check_bits(self.bits_per_cycle, "DACConfig.bits_per_cycle", 1, 15)
            require(
                self.bits is not None and self.bits >= 2 and self.bits_per_cycle <= self.bits - 1,
                "DACConfig.bits_per_cycle",
                f"bit-serial inputs stream the {'' if self.bits is None else self.bits - 1} magnitude "
                f"bits of a multi-bit DAC code: need bits >= 2 and bits_per_cycle <= bits - 1, got "
                f"bits={self.bits}, bits_per_cycle={self.bits_per_cycle} (None: amplitude inputs)",
            )
            require(
                self.inl_std_lsb == 0.0,
                "DACConfig.inl_std_lsb",
                "a bit-serial DAC's non-linearity is not modelled; set inl_std_lsb=0 or "
                "bits_per_cycle=None",
            )
        require(
            self.range_policy in RANGE_POLICIES,
            "DACConfig.range_policy",
            f"must be one of {RANGE_POLICIES}, got {self.range_policy!r}",
        )
        check_positive(self.input_range, "DACConfig.input_range")


@dataclass(frozen=True)
class ADCConfig:
    """Output analog-to-digital conversion, one conversion per tile column per input vector.

    ``bits``: signed resolution over ``[-out_bound, out_bound]``; ``1`` is a sign ADC (one
    comparator per column, reading +-out_bound); ``None`` is ideal.
    ``out_bound``: full-scale output in normalised units (full-scale input x full-scale weight).
    ``clip``: saturate at the bound (a real ADC does); ``False`` only with ``bits=None``.

    Static errors of each column's ADC, sampled once per programmed instance and applied to
    programmed layers in eval mode (``physics.periphery.nonideal_adc_``; all 0: ideal). With the
    ADC input ``u`` in LSB, the code is ``k = Q((1 + gain) * u + offset)`` and it reads as
    ``k + INL(k)`` LSB:
    ``offset_std_lsb``: std of the per-column offset, LSB;
    ``gain_std_rel``: std of the per-column relative gain error;
    ``inl_std_lsb``: std of the per-column amplitude of a third-order (bow) INL, LSB (needs
    ``bits >= 2``);
    ``dnl_std_lsb``: std of the per-code, per-column DNL, LSB; its running sum, end-point
    corrected, is a random-walk INL (needs ``bits >= 2``).
    """

    bits: int | None = 8
    out_bound: float = 10.0
    clip: bool = True
    offset_std_lsb: float = 0.0
    gain_std_rel: float = 0.0
    inl_std_lsb: float = 0.0
    dnl_std_lsb: float = 0.0

    @property
    def nonideal(self) -> bool:
        """Whether any per-column converter error is on."""
        return bool(self.offset_std_lsb or self.gain_std_rel or self.inl_std_lsb or self.dnl_std_lsb)

    def __post_init__(self) -> None:
        check_bits(self.bits, "ADCConfig.bits")
        check_positive(self.out_bound, "ADCConfig.out_bound")
        for name in ("offset_std_lsb", "gain_std_rel", "inl_std_lsb", "dnl_std_lsb"):
            check_nonnegative(getattr(self, name), f"ADCConfig.{name}")
        require(
            self.gain_std_rel < 0.5,
            "ADCConfig.gain_std_rel",
            f"a relative gain error std must be below 0.5, got {self.gain_std_rel}",
        )
        require(
            not self.nonideal or self.bits is not None,
            "ADCConfig.bits",
            "converter errors in LSB need a quantising ADC; set bits or zero the *_lsb/gain fields",
        )
        for name in ("inl_std_lsb", "dnl_std_lsb"):
            require(
                getattr(self, name) == 0.0 or (self.bits is not None and self.bits >= 2),
                f"ADCConfig.{name}",
                f"a transfer-curve error needs a multi-bit ADC (bits >= 2), got bits={self.bits}",
            )
        require(
            self.clip or self.bits is None,
            "ADCConfig.clip",
            "a quantising ADC always saturates; set clip=True or bits=None",
        )


@dataclass(frozen=True)
class MappingConfig:
    """Weights to a differential conductance pair ``G+ - G-``.

    Each weight ``w`` goes to ``G+ = g_min + (g_max - g_min) * max(w, 0) / s`` and
    ``G- = g_min + (g_max - g_min) * max(-w, 0) / s``, where the scale ``s`` is the absolute
    maximum of the weights per tile column (``scale="column"``) or per tile (``"tile"``), applied
    back digitally after the ADC.
    """

    g_max_uS: float = 25.0
    g_min_uS: float = 0.0
    scale: str = "column"

    def __post_init__(self) -> None:
        check_positive(self.g_max_uS, "MappingConfig.g_max_uS")
        check_nonnegative(self.g_min_uS, "MappingConfig.g_min_uS")
        require(
            self.g_min_uS < self.g_max_uS,
            "MappingConfig.g_min_uS",
            f"must be below g_max_uS={self.g_max_uS}, got {self.g_min_uS}",
        )
        require(
            self.scale in SCALE_POLICIES,
            "MappingConfig.scale",
            f"must be one of {SCALE_POLICIES}, got {self.scale!r}",
        )


@dataclass(frozen=True)
class NoiseConfig:
    """Additive Gaussian noise on each column's output before its ADC.

    ``out_std_rel_fs``: standard deviation relative to the configured ADC full scale
    ``ADCConfig.out_bound`` (Rasch et al. 2023: 0.04 at a bound of 10, i.e. 0.004). The noise is
    a property of the array, so a calibrated ADC range does not change its absolute size.
    """

    out_std_rel_fs: float = 0.0

    def __post_init__(self) -> None:
        check_nonnegative(self.out_std_rel_fs, "NoiseConfig.out_std_rel_fs")


@dataclass(frozen=True)
class CircuitConfig:
    """The array's wires and read voltage: line resistance (IR drop).

    ``r_row_ohm``: resistance of one row (word line) wire segment between neighbouring cells, and
    of the one segment from the row driver to the first cell, ohm; ``r_col_ohm``: the same for one
    column (bit line) segment, and the segment from the last row to the column's sense amplifier
    (topology: ``physics.irdrop``, docs/circuits.md). Or per length: ``r_row_ohm_per_um`` /
    ``r_col_ohm_per_um``, ohm per micrometre of wire, with ``cell_pitch_um``, the cell pitch (one
    segment's length, the same along rows and columns), um; give one way or the other per wire,
    not both. ``row_segment_ohm`` / ``col_segment_ohm`` are the per-segment values every model uses.
    0 everywhere: ideal wires, IR drop off (the default; every earlier result stands).
    ``v_read_V``: the row voltage of a full-scale input (DAC code ``L`` of ``L`` levels), V. The
    network is linear, so the result does not depend on it; it states the operating point (inputs
    are voltages ``x * v_read_V``, ``|x| <= 1``). The conductance range is
    ``MappingConfig.g_min_uS``/``g_max_uS``.

    Programmed layers in eval mode read the exact effective conductances (``an.program_``/
    ``an.drift_``, ``nn.programmed``); every other read (unprogrammed layers, training) reads the
    fast model ``physics.irdrop.fast_conductance`` with ``fast_iterations`` steps (1: the
    resummed first order), differentiable (``nn.readers``). ``fast_refresh_reads``: how often a
    training-mode read recomputes the fast model's drop factors ``q = 1 + D[G]`` (``G_eff = G /
    q``): on every read (1, the default: the fast model itself, its weight gradient in closed
    form), or on every n-th training read of the layer, the reads between holding ``q`` from the
    last refresh (the conductances move little between optimiser steps, and ``q`` depends on them
    only through sums over whole rows and columns; the weight gradient is then that of ``G / q`` at
    the held ``q``). Costs: docs/circuits.md. Eval-mode reads of an unchanged weight reuse ``q``
    whatever this says (the same read, not an approximation).
    """

    r_row_ohm: float = 0.0
    r_col_ohm: float = 0.0
    v_read_V: float = 0.2
    r_row_ohm_per_um: float = 0.0
    r_col_ohm_per_um: float = 0.0
    cell_pitch_um: float = 0.0
    fast_iterations: int = 1
    fast_refresh_reads: int = 1

    @property
    def row_segment_ohm(self) -> float:
        """Resistance of one row wire segment, ohm (``r_row_ohm`` or per um times the pitch)."""
        return self.r_row_ohm or self.r_row_ohm_per_um * self.cell_pitch_um

    @property
    def col_segment_ohm(self) -> float:
        """Resistance of one column wire segment, ohm (``r_col_ohm`` or per um times the pitch)."""
        return self.r_col_ohm or self.r_col_ohm_per_um * self.cell_pitch_um

    @property
    def ir_drop(self) -> bool:
        """Whether any wire has resistance (IR drop on)."""
        return self.row_segment_ohm > 0.0 or self.col_segment_ohm > 0.0

    def __post_init__(self) -> None:
        for name in ("r_row_ohm", "r_col_ohm", "r_row_ohm_per_um", "r_col_ohm_per_um", "cell_pitch_um"):
            check_nonnegative(getattr(self, name), f"CircuitConfig.{name}")
        check_positive(self.v_read_V, "CircuitConfig.v_read_V")
        for wire in ("row", "col"):
            require(
                getattr(self, f"r_{wire}_ohm") == 0.0 or getattr(self, f"r_{wire}_ohm_per_um") == 0.0,
                f"CircuitConfig.r_{wire}_ohm_per_um",
                f"give the {wire} wire per segment (r_{wire}_ohm) or per um with cell_pitch_um "
                f"(r_{wire}_ohm_per_um), not both; set one of them to 0",
            )
        per_um = self.r_row_ohm_per_um > 0.0 or self.r_col_ohm_per_um > 0.0
        require(
            not per_um or self.cell_pitch_um > 0.0,
            "CircuitConfig.cell_pitch_um",
            "wire resistance per um needs the cell pitch (one segment's length) in um, > 0",
        )
        require(
            isinstance(self.fast_iterations, int) and not isinstance(self.fast_iterations, bool)
            and 1 <= self.fast_iterations <= 100,
            "CircuitConfig.fast_iterations",
            f"must be an integer in [1, 100] (1: the resummed first order), got {self.fast_iterations!r}",
        )
        require(
            isinstance(self.fast_refresh_reads, int) and not isinstance(self.fast_refresh_reads, bool)
            and self.fast_refresh_reads >= 1,
            "CircuitConfig.fast_refresh_reads",
            f"must be an integer >= 1 (1: recompute the drop factors on every training read), "
            f"got {self.fast_refresh_reads!r}",
        )
        require(
            self.fast_refresh_reads == 1 or self.fast_iterations == 1,
            "CircuitConfig.fast_refresh_reads",
            "held drop factors need the one-step fast model (fast_iterations=1); set one of them to 1",
        )


_SECTIONS: dict[str, type] = {
    "tile": TileConfig,
    "dac": DACConfig,
    "adc": ADCConfig,
    "mapping": MappingConfig,
    "noise": NoiseConfig,
    "device": DeviceConfig,
    "circuit": CircuitConfig,
}


@dataclass(frozen=True)
class AnalogConfig(Serialisable):
    """The complete description of how a layer runs on analog tiles.

    ``to_dict``/``from_dict`` (any ``Mapping``, e.g. an OmegaConf ``DictConfig``; unknown keys fail
    with the closest valid name), ``to_yaml``/``from_yaml`` (atomic writes) and ``replace`` with
    dotted paths (``cfg.replace(**{"adc.bits": 6})``) come from ``_util.serial.Serialisable``.
    """

    tile: TileConfig = field(default_factory=TileConfig)
    dac: DACConfig = field(default_factory=DACConfig)
    adc: ADCConfig = field(default_factory=ADCConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    circuit: CircuitConfig = field(default_factory=CircuitConfig)
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            v = getattr(self, name)
            require(
                isinstance(v, cls),
                f"AnalogConfig.{name}",
                f"must be a {cls.__name__}, got {type(v).__name__}",
            )
        check_version(self.version, CONFIG_VERSION, "AnalogConfig.version")
