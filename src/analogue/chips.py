"""The chip: one hardware description that drives the compiler (placement) and the cost model.

A ``Chip`` is ``n_cores`` cores, each with ``arrays_per_core`` crossbar arrays of
``array_rows x array_cols`` cross-points, their periphery (input DACs, column ADCs shared by
``columns_per_adc`` columns), a local SRAM buffer, and one ``DigitalUnit`` that runs what stays
digital (activations, normalisation, attention softmax, ...). Units live in field names.

Timing of one matrix-vector multiply (MVM) on one array (``Chip.mvm_latency_s``):

- ``mvm_time_s`` given: the time of one phase, as published; the MVM takes
  ``input_phases * mvm_time_s``.
- ``mvm_time_s=None``: derived, ``input_phases * (reads * t_read + conversions * columns_per_adc
  * t_adc)``, where the input encoding sets the reads and conversions per phase:
  ``"pwm"`` one window of ``2**(dac_bits-1)`` clock cycles (pulse width = input), one conversion;
  ``"pulse_count"`` the same window as ``2**(dac_bits-1)`` unit pulses of ``t_read_s`` (charge
  integrated per pulse), one conversion; ``"amplitude"`` one read of ``t_read_s`` through a
  voltage DAC, one conversion; ``"bit_serial"`` ``dac_bits`` reads, each converted and combined
  by shift-and-add; ``"bit_serial_integrate"`` ``dac_bits`` reads integrated in analog, one
  conversion. The ADC kind sets ``t_adc``: SAR one clock per bit, flash one clock, ramp
  ``2**adc_bits`` clocks, CCO none of its own (it counts during the read window).

A weight occupies ``cells_per_weight`` adjacent columns (differential pairs, bit slices), so one
array holds ``array_rows * (array_cols // cells_per_weight)`` weights and one MVM is that many MACs.

Presets are functions that cite their source: ``hermes()``, ``mythic_m1076()``,
``neurram(operating_point=...)``, ``sram_cim()``, ``gpu_a100()`` (all-digital reference).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analogue._util.serial import reject_unknown as _reject_unknown
from analogue.config import ConfigError, atomic_write_text, read_yaml

CHIP_VERSION = 1

DEVICE_KINDS = ("pcm", "rram", "flash", "sram", "mram", "ideal", "none")
ADC_KINDS = ("sar", "flash", "ramp", "cco")
INPUT_ENCODINGS = ("pwm", "pulse_count", "bit_serial", "amplitude", "bit_serial_integrate")
NEURRAM_OPERATING_POINTS = ("3b_out_1b_in", "8b_out_6b_in")


def _fail(where: str, msg: str) -> None:
    raise ConfigError(f"{where}: {msg}")


def _int_in(value: Any, where: str, lo: int, hi: int) -> None:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if not (ok and lo <= value <= hi):
        _fail(where, f"must be an integer in [{lo}, {hi}], got {value!r}")


def _pos(value: Any, where: str, allow_zero: bool = False, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        extra = " or None (derive it)" if allow_none else ""
        _fail(where, f"must be a finite number {bound}{extra}, got {value!r}")


@dataclass(frozen=True)
class DigitalUnit:
    """The digital processor for what does not run on the arrays (one per chip, shared).

    ``ops_per_s``: peak throughput in operations (multiply, add, compare, ...) per second.
    ``node_nm``: its technology node (may differ from the arrays'; scales energy and area).
    ``pJ_per_op``: energy per operation; ``None`` derives it from ``op_bits`` and the node
        (``analogue.cost.components.digital_op_energy_J``).
    ``area_mm2``: its area; ``None`` derives it from the throughput and the node.
    ``op_bits``: operand width of one operation (8 for INT8, 16 for FP16/BF16).
    """

    ops_per_s: float = 1.0e11
    node_nm: float = 14.0
    pJ_per_op: float | None = None
    area_mm2: float | None = None
    op_bits: int = 8

    def __post_init__(self) -> None:
        _pos(self.ops_per_s, "DigitalUnit.ops_per_s")
        _pos(self.node_nm, "DigitalUnit.node_nm")
        _pos(self.pJ_per_op, "DigitalUnit.pJ_per_op", allow_none=True)
        _pos(self.area_mm2, "DigitalUnit.area_mm2", allow_zero=True, allow_none=True)
        _int_in(self.op_bits, "DigitalUnit.op_bits", 1, 64)


@dataclass(frozen=True)
class Chip:
    """An analog in-memory-computing chip (or, with ``arrays_per_core=0``, an all-digital one).

    Organisation: ``n_cores`` cores x ``arrays_per_core`` arrays of ``array_rows x array_cols``
    cross-points of ``device`` ("pcm", "rram", "flash", "sram", "mram", "ideal"; "none" for an
    all-digital chip). A device config object with a ``kind`` attribute is accepted and reduced
    to its kind name.

    Numbers: ``weight_bits`` per weight stored over ``cells_per_weight`` cross-points;
    ``dac_bits`` input resolution per MVM, applied as ``input_encoding``; ``adc_bits`` output
    resolution, ``adc_kind`` ("sar", "flash", "ramp", "cco"), one ADC per ``columns_per_adc``
    columns. ``input_phases``: how many times the array is read per MVM (e.g. positive and
    negative inputs separately, HERMES' four-phase mode).

    Time: ``clock_hz`` the periphery clock; ``mvm_time_s`` one phase of one MVM (``None``:
    derived, see the module docstring); ``t_read_s`` one read pulse for ``"amplitude"`` and
    ``"bit_serial"`` encodings.

    Cost-model constants (defaults are typical values; sources in ``analogue.cost``):
    ``v_read_V`` read voltage on the word lines; ``read_supply_V`` the rail the read current is
    drawn from (``None``: a dedicated rail at ``v_read_V``; a current-mode readout that regulates
    the bit line from the core supply draws it at ``supply_V``); ``bias_uW_per_column`` static
    bias of each column's analog front end (integrator/amplifier) while an MVM runs;
    ``gated_cells`` whether each cell has an access transistor whose gate line swings to the supply
    on every read (1T1R, 8T4R, flash, SRAM; ``False`` for passive crossbars);
    ``post_ops_per_output`` digital operations per MVM output done at the core (scaling, activation;
    0 where the neuron does it in analog); ``g_max_uS`` full-scale conductance of one
    cross-point (``None``: the device kind's, ``analogue.cost.constants.DEVICES``);
    ``cell_area_um2`` one cross-point's area (``None``: the device kind's F2 x node^2);
    ``c_wire_fF_per_cell`` line capacitance per
    cell segment; ``supply_V`` the periphery supply; ``sram_bytes_per_core`` local buffer;
    ``noc_pJ_per_bit_mm`` interconnect energy per bit per mm (``None``: from the node);
    ``core_area_mm2`` a published core area (``None``: summed from components).
    """

    name: str = "custom"
    node_nm: float = 14.0
    n_cores: int = 64
    arrays_per_core: int = 1
    array_rows: int = 256
    array_cols: int = 256
    device: str = "pcm"
    weight_bits: int = 8
    cells_per_weight: int = 1
    dac_bits: int = 8
    input_encoding: str = "pwm"
    adc_bits: int = 8
    adc_kind: str = "sar"
    columns_per_adc: int = 1
    clock_hz: float = 1.0e9
    mvm_time_s: float | None = None
    input_phases: int = 1
    sram_bytes_per_core: int = 64 * 1024
    digital: DigitalUnit = field(default_factory=DigitalUnit)
    t_read_s: float = 10.0e-9
    v_read_V: float = 0.2
    read_supply_V: float | None = None
    bias_uW_per_column: float = 0.0
    post_ops_per_output: float = 2.0
    gated_cells: bool = True
    g_max_uS: float | None = None
    cell_area_um2: float | None = None
    c_wire_fF_per_cell: float = 0.2
    supply_V: float = 0.8
    noc_pJ_per_bit_mm: float | None = None
    core_area_mm2: float | None = None
    version: int = CHIP_VERSION

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # NumPy scalars become builtins (JSON-safe)
            v = getattr(self, f.name)
            if isinstance(v, numbers.Integral) and not isinstance(v, (bool, int)):
                object.__setattr__(self, f.name, int(v))
            elif isinstance(v, np.floating):
                object.__setattr__(self, f.name, float(v))
        dev = self.device
        if not isinstance(dev, str) and hasattr(dev, "kind"):
            object.__setattr__(self, "device", str(dev.kind))
        if not isinstance(self.name, str) or not self.name:
            _fail("Chip.name", f"must be a non-empty string, got {self.name!r}")
        _pos(self.node_nm, "Chip.node_nm")
        _int_in(self.n_cores, "Chip.n_cores", 1, 1 << 20)
        _int_in(self.arrays_per_core, "Chip.arrays_per_core", 0, 1 << 16)
        _int_in(self.array_rows, "Chip.array_rows", 1, 1 << 16)
        _int_in(self.array_cols, "Chip.array_cols", 1, 1 << 16)
        if self.device not in DEVICE_KINDS:
            _fail("Chip.device", f"must be one of {DEVICE_KINDS}, got {self.device!r}")
        if (self.arrays_per_core == 0) != (self.device == "none"):
            _fail(
                "Chip.device",
                "an all-digital chip has arrays_per_core=0 and device='none'; set both or neither"
                f" (got arrays_per_core={self.arrays_per_core}, device={self.device!r})",
            )
        _int_in(self.weight_bits, "Chip.weight_bits", 1, 32)
        _int_in(self.cells_per_weight, "Chip.cells_per_weight", 1, 64)
        if self.cells_per_weight > self.array_cols:
            _fail(
                "Chip.cells_per_weight",
                f"a weight's {self.cells_per_weight} cells lie along one array row; array_cols="
                f"{self.array_cols} is too narrow (raise array_cols or lower cells_per_weight)",
            )
        _int_in(self.dac_bits, "Chip.dac_bits", 1, 16)
        _int_in(self.adc_bits, "Chip.adc_bits", 1, 16)
        if self.input_encoding not in INPUT_ENCODINGS:
            _fail(
                "Chip.input_encoding",
                f"must be one of {INPUT_ENCODINGS}, got {self.input_encoding!r}",
            )
        if self.adc_kind not in ADC_KINDS:
            _fail("Chip.adc_kind", f"must be one of {ADC_KINDS}, got {self.adc_kind!r}")
        _int_in(self.columns_per_adc, "Chip.columns_per_adc", 1, self.array_cols)
        _pos(self.clock_hz, "Chip.clock_hz")
        _pos(self.mvm_time_s, "Chip.mvm_time_s", allow_none=True)
        _int_in(self.input_phases, "Chip.input_phases", 1, 64)
        _int_in(self.sram_bytes_per_core, "Chip.sram_bytes_per_core", 0, 1 << 40)
        if not isinstance(self.digital, DigitalUnit):
            _fail("Chip.digital", f"must be a DigitalUnit, got {type(self.digital).__name__}")
        _pos(self.t_read_s, "Chip.t_read_s")
        _pos(self.v_read_V, "Chip.v_read_V")
        _pos(self.read_supply_V, "Chip.read_supply_V", allow_none=True)
        _pos(self.bias_uW_per_column, "Chip.bias_uW_per_column", allow_zero=True)
        _pos(self.post_ops_per_output, "Chip.post_ops_per_output", allow_zero=True)
        if not isinstance(self.gated_cells, bool):
            _fail("Chip.gated_cells", f"must be True or False, got {self.gated_cells!r}")
        _pos(self.g_max_uS, "Chip.g_max_uS", allow_none=True)
        _pos(self.cell_area_um2, "Chip.cell_area_um2", allow_none=True)
        _pos(self.c_wire_fF_per_cell, "Chip.c_wire_fF_per_cell", allow_zero=True)
        _pos(self.supply_V, "Chip.supply_V")
        _pos(self.noc_pJ_per_bit_mm, "Chip.noc_pJ_per_bit_mm", allow_zero=True, allow_none=True)
        _pos(self.core_area_mm2, "Chip.core_area_mm2", allow_none=True)
        if self.version != CHIP_VERSION:
            _fail("Chip.version", f"this analogue reads version {CHIP_VERSION}, got {self.version!r}")

    # -- derived quantities ---------------------------------------------------------------------
    @property
    def is_analog(self) -> bool:
        """True when the chip has crossbar arrays."""
        return self.arrays_per_core > 0

    @property
    def n_arrays(self) -> int:
        """Arrays on the chip."""
        return self.n_cores * self.arrays_per_core

    @property
    def weights_per_array(self) -> int:
        """Weights one array holds (``rows * (cols // cells_per_weight)``)."""
        return self.array_rows * (self.array_cols // self.cells_per_weight)

    @property
    def weight_capacity(self) -> int:
        """Weights the whole chip holds."""
        return self.n_arrays * self.weights_per_array

    @property
    def adcs_per_array(self) -> int:
        """Column ADCs per array (``ceil(cols / columns_per_adc)``)."""
        return -(-self.array_cols // self.columns_per_adc)

    @property
    def read_time_s(self) -> float:
        """Duration of one array read: a window of ``2**(dac_bits-1)`` clock cycles for the
        time encodings (``"pwm"``, ``"pulse_count"``), one read pulse ``t_read_s`` otherwise, s."""
        if self.input_encoding in ("pwm", "pulse_count"):
            return float(2 ** max(self.dac_bits - 1, 0)) / self.clock_hz
        return self.t_read_s

    @property
    def drive_time_s(self) -> float:
        """Time the full-scale input drives the array during one read: the whole PWM window, or
        ``2**(dac_bits-1)`` pulses of ``t_read_s`` (``"pulse_count"``), or one ``t_read_s``, s."""
        if self.input_encoding == "pwm":
            return self.read_time_s
        if self.input_encoding == "pulse_count":
            return float(2 ** max(self.dac_bits - 1, 0)) * self.t_read_s
        return self.t_read_s

    @property
    def reads_per_phase(self) -> int:
        """Array reads per phase: ``dac_bits`` for the bit-serial encodings, else 1."""
        return self.dac_bits if self.input_encoding.startswith("bit_serial") else 1

    @property
    def conversions_per_phase(self) -> int:
        """ADC conversions per column per phase: every read when bit-serial with digital
        shift-and-add (``"bit_serial"``), once otherwise (PWM, amplitude, analog integration of
        the input bits in ``"bit_serial_integrate"``)."""
        return self.dac_bits if self.input_encoding == "bit_serial" else 1

    @property
    def adc_conversion_time_s(self) -> float:
        """Time of one ADC conversion, s (0 for a CCO, which counts during integration)."""
        if self.adc_kind == "sar":
            return self.adc_bits / self.clock_hz
        if self.adc_kind == "flash":
            return 1.0 / self.clock_hz
        if self.adc_kind == "ramp":
            return float(2**self.adc_bits) / self.clock_hz
        return 0.0

    @property
    def mvm_latency_s(self) -> float:
        """Time of one full MVM on one array (all phases, reads and conversions), s."""
        if self.mvm_time_s is not None:
            return self.input_phases * self.mvm_time_s
        per_phase = (
            self.reads_per_phase * self.read_time_s
            + self.conversions_per_phase * self.columns_per_adc * self.adc_conversion_time_s
        )
        return self.input_phases * per_phase

    @property
    def conversions_per_mvm(self) -> int:
        """ADC conversions per array per MVM (every column, every conversion, every phase)."""
        return self.array_cols * self.conversions_per_phase * self.input_phases

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict of builtins (JSON- and YAML-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chip:
        """Inverse of ``to_dict`` (any ``Mapping``); unknown keys fail with the closest valid name."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"Chip: expected a mapping, got {type(data).__name__}")
        _reject_unknown(data, [f.name for f in dataclasses.fields(cls)], "Chip")
        kwargs = dict(data)
        if "digital" in kwargs and isinstance(kwargs["digital"], Mapping):
            d = kwargs["digital"]
            _reject_unknown(d, [f.name for f in dataclasses.fields(DigitalUnit)], "Chip.digital")
            kwargs["digital"] = DigitalUnit(**d)
        return cls(**kwargs)

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write to a YAML file atomically (edit it, then ``--chip FILE.yaml`` on the command line)."""
        import yaml

        return atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Chip:
        """A chip from a YAML file written by ``to_yaml`` (or by hand; same fields)."""
        return cls.from_dict(read_yaml(path, "Chip"))

    def replace(self, **changes: Any) -> Chip:
        """``dataclasses.replace`` with unknown-field names caught (``digital.node_nm`` works too)."""
        nested = {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith("digital.")}
        flat = {k: v for k, v in changes.items() if not k.startswith("digital.")}
        _reject_unknown(flat, [f.name for f in dataclasses.fields(self)], "Chip")
        if nested:
            _reject_unknown(
                nested, [f.name for f in dataclasses.fields(DigitalUnit)], "Chip.digital"
            )
            flat["digital"] = dataclasses.replace(flat.get("digital", self.digital), **nested)
        return dataclasses.replace(self, **flat)


# -- presets -------------------------------------------------------------------------------------


def hermes(four_phase: bool = False) -> Chip:
    """IBM HERMES, 64-core PCM chip (Le Gallo et al., Nat. Electron. 6, 2023; core: Khaddam-Aljameh
    et al., IEEE JSSC 57(4), 2022).

    Published organisation: 14 nm; 64 cores, each one 256x256 array of PCM unit cells (one signed
    weight per unit cell); 8-bit PWM inputs on a 1 GHz clock; 256 current-controlled-oscillator
    (CCO) ADCs per core, one per column at 4 um pitch, 300 ps/LSB; a local digital processing unit
    per core (affine scaling, ReLU); core area 0.635 mm2 (1.59 TOPS/mm2 at 1.008 TOPS). One MVM
    phase takes 130 ns (1.008 TOPS per core = 2 x 65,536 ops / 130 ns); the four-phase
    (high-precision) mode reads the array four times.

    Cost-model values not stated in the papers: read voltage 0.2 V (IBM PCM MVM practice); the
    column current is drawn from the 0.8 V core supply (the CCO's current-mode input regulates
    the bit line); cross-point full scale one PCM device range, 25 uS (docs/references.md section 2;
    counting both devices of a polarity would double it and the array energy).
    """
    return Chip(
        name="hermes-4phase" if four_phase else "hermes",
        node_nm=14.0,
        n_cores=64,
        arrays_per_core=1,
        array_rows=256,
        array_cols=256,
        device="pcm",
        weight_bits=8,
        cells_per_weight=1,
        dac_bits=8,
        input_encoding="pwm",
        adc_bits=8,
        adc_kind="cco",
        columns_per_adc=1,
        clock_hz=1.0e9,
        mvm_time_s=130e-9,
        input_phases=4 if four_phase else 1,
        sram_bytes_per_core=0,
        digital=DigitalUnit(ops_per_s=64 * 256 * 2 / 130e-9, node_nm=14.0, op_bits=8),
        v_read_V=0.2,
        read_supply_V=0.8,
        supply_V=0.8,
        core_area_mm2=0.635,
    )


def mythic_m1076() -> Chip:
    """Mythic M1076 analog matrix processor (Mythic M1076 product brief, 2021; WikiChip Fuse,
    "Analog AI startup Mythic to compute and scale in flash", 2018; Mythic whitepaper 2022).

    Published organisation: 40 nm embedded NOR flash; 76 tiles, each an analog compute engine
    (up to 80 M 8-bit weights in all: a ~1024x1024 flash array per tile, one cell per weight,
    inputs converted to analog voltages, 8-bit ADCs), SRAM, a SIMD vector unit, a RISC-V core and
    a network-on-chip router; no DRAM. "Each tile can do 1000 by 1000 matrix products within a few
    microseconds." Published: 25 TOPS, 3-4 W typical.

    Cost-model values not published (assumed, typical): 8-bit SAR ADCs shared by 64 columns (an
    8-bit SAR, ~0.002 mm2 at 40 nm, spans ~64 flash columns of ~0.3 um pitch); 100 MHz SAR clock;
    1 us array read (sub-threshold flash columns settle slowly); 0.5 V read, current drawn from the
    0.9 V supply; flash cell full scale 2 uS (1 uA at 0.5 V, sub-threshold range of Guo et al.,
    IEDM 2017); 128 KB SRAM per tile.
    """
    return Chip(
        name="mythic-m1076",
        node_nm=40.0,
        n_cores=76,
        arrays_per_core=1,
        array_rows=1024,
        array_cols=1024,
        device="flash",
        weight_bits=8,
        cells_per_weight=1,
        dac_bits=8,
        input_encoding="amplitude",
        adc_bits=8,
        adc_kind="sar",
        columns_per_adc=64,
        clock_hz=100e6,
        mvm_time_s=None,
        input_phases=1,
        sram_bytes_per_core=128 * 1024,
        digital=DigitalUnit(ops_per_s=76 * 16 * 1.0e9, node_nm=40.0, op_bits=8),
        t_read_s=1e-6,
        v_read_V=0.5,
        read_supply_V=0.9,
        supply_V=0.9,
    )


def neurram(operating_point: str = "3b_out_1b_in") -> Chip:
    """NeuRRAM (Wan et al., Nature 608, 2022): 48-core RRAM compute-in-memory chip.

    Published organisation: 130 nm; 48 cores, each a 256x256 1T1R RRAM array with 256 neurons;
    4-bit weights as differential conductance pairs (two cells per weight); voltage-mode sensing:
    each neuron samples its output line and integrates the charge once per input pulse (multi-bit
    inputs as repeated sample-and-integrate steps), then converts by comparison and charge
    decrement, one comparator step per output bit; 1-8 bit inputs, 1-10 bit outputs; the neuron
    implements the activation (no digital post-processing on chip). Operating points:
    ``"3b_out_1b_in"`` 2.12 TOPS, 43.1 TOPS/W; ``"8b_out_6b_in"`` 0.26 TOPS, 9.1 TOPS/W.

    Cost-model values not published (assumed): the neuron step rate, 2.7 MHz, is the one implied
    by the 3-bit/1-bit throughput (1 pulse + 3 steps per MVM), so the 8-bit/6-bit throughput is
    the timing model's prediction; input pulses 5 ns at 0.1 V; cells up to 40 uS (a low-
    conductance window); neuron amplifier biased at 3 uW (2.5 uA at 1.2 V) while comparing;
    1 fF of line loading per 130 nm 1T1R cell.
    """
    if operating_point not in NEURRAM_OPERATING_POINTS:
        _fail(
            "neurram(operating_point)",
            f"must be one of {NEURRAM_OPERATING_POINTS}, got {operating_point!r}",
        )
    out_bits, in_bits = (3, 1) if operating_point == "3b_out_1b_in" else (8, 6)
    return Chip(
        name=f"neurram-{operating_point}",
        node_nm=130.0,
        n_cores=48,
        arrays_per_core=1,
        array_rows=256,
        array_cols=256,
        device="rram",
        weight_bits=4,
        cells_per_weight=2,
        dac_bits=in_bits,
        input_encoding="pulse_count",
        adc_bits=out_bits,
        adc_kind="sar",
        columns_per_adc=1,
        clock_hz=2.7e6,
        mvm_time_s=None,
        input_phases=1,
        sram_bytes_per_core=0,
        digital=DigitalUnit(ops_per_s=1.0e9, node_nm=130.0, op_bits=8),
        t_read_s=5e-9,
        v_read_V=0.1,
        supply_V=1.2,
        bias_uW_per_column=3.0,
        post_ops_per_output=0.0,
        noc_pJ_per_bit_mm=0.0,
        g_max_uS=40.0,
        c_wire_fF_per_cell=1.0,
    )


def sram_cim() -> Chip:
    """A generic 22 nm charge-domain SRAM compute-in-memory chip (representative of Valavi et al.,
    IEEE JSSC 54(6), 2019 and Jia et al., IEEE JSSC 55(9), 2020; not a specific product).

    16 cores x 4 arrays of 256x256 1-bit SRAM cells; 8-bit weights as 8 bit slices side by side,
    8-bit inputs bit-serially (one 0.5 ns read per bit), 8-bit SAR ADCs shared by 4 columns,
    shift-and-add of bit slices and input bits digitally; 128 KB of SRAM buffer per core.
    """
    return Chip(
        name="sram-cim",
        node_nm=22.0,
        n_cores=16,
        arrays_per_core=4,
        array_rows=256,
        array_cols=256,
        device="sram",
        weight_bits=8,
        cells_per_weight=8,
        dac_bits=8,
        input_encoding="bit_serial",
        adc_bits=8,
        adc_kind="sar",
        columns_per_adc=4,
        clock_hz=1e9,
        mvm_time_s=None,
        input_phases=1,
        sram_bytes_per_core=128 * 1024,
        digital=DigitalUnit(ops_per_s=16 * 64 * 1e9, node_nm=22.0, op_bits=8),
        t_read_s=0.5e-9,
        v_read_V=0.8,
        supply_V=0.8,
    )


def gpu_a100() -> Chip:
    """All-digital reference: NVIDIA A100 SXM (datasheet, 2020): 7 nm, 108 SMs, 312 TFLOPS dense
    FP16/BF16 tensor throughput at 400 W TDP (about 1.28 pJ per op, 2.6 pJ per MAC at peak),
    826 mm2 die, 40 MB L2.
    """
    return Chip(
        name="gpu-a100",
        node_nm=7.0,
        n_cores=108,
        arrays_per_core=0,
        device="none",
        weight_bits=16,
        dac_bits=16,
        adc_bits=16,
        input_encoding="amplitude",
        clock_hz=1.41e9,
        sram_bytes_per_core=40 * 1024 * 1024 // 108,
        digital=DigitalUnit(
            ops_per_s=312e12, node_nm=7.0, pJ_per_op=400.0 / 312e12 * 1e12, area_mm2=826.0,
            op_bits=16,
        ),
    )


PRESETS = {
    "hermes": hermes,
    "mythic_m1076": mythic_m1076,
    "neurram": neurram,
    "sram_cim": sram_cim,
    "gpu_a100": gpu_a100,
}


def get(name: str) -> Chip:
    """A preset by name (``"hermes"``, ``"hermes-4phase"``, ``"mythic_m1076"``, ``"neurram"``,
    ``"neurram-8b_out_6b_in"``, ``"sram_cim"``, ``"gpu_a100"``)."""
    key = name.replace("-", "_").lower()
    if key == "hermes_4phase":
        return hermes(four_phase=True)
    if key.startswith("neurram_"):
        return neurram(key[len("neurram_"):])
    if key not in PRESETS:
        import difflib

        close = difflib.get_close_matches(key, list(PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; presets: {sorted(PRESETS)}"
        raise ConfigError(f"chips.get: unknown chip {name!r}{hint}")
    return PRESETS[key]()
