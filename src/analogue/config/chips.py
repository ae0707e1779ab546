"""The chip: one hardware description that drives the compiler (placement) and the cost model.

A ``Chip`` is a name, a technology node and five sections:

- ``array``: the ``AnalogConfig`` that simulates one crossbar array -- the one source of the tile
  size (``array.tile.rows x array.tile.cols`` cross-points), the DAC and ADC resolutions
  (``array.dac.bits``, ``array.adc.bits``), the device (``array.device``, whose ``kind`` is one
  of ``DEVICE_KINDS``) and the full-scale conductance (``array.mapping.g_max_uS``);
- ``organisation``: ``n_cores`` cores of ``arrays_per_core`` arrays, ``weight_bits`` per weight
  over ``cells_per_weight`` cells, the local SRAM buffer, cell and core areas;
- ``periphery``: input encoding, ADC kind and sharing (``columns_per_adc``), phases and timing;
- ``electrical``: read voltage and rail, supply, column bias, gated cells, wire and NoC energy;
- ``digital``: one ``DigitalUnit`` that runs what stays digital (activations, normalisation,
  attention softmax, ...) and the digital work per array output.

Units live in field names. The flat names of chip format version 1 (``array_rows``,
``dac_bits``, ``adc_kind``, ``supply_V``, ...) still work in ``Chip.replace``, in
``an.cost.sweep`` axes and in ``Chip.from_dict`` (version-1 files); ``FLAT_FIELDS`` says where
each one lives now. The ones read most (``array_rows``, ``array_cols``, ``dac_bits``,
``adc_bits``, ``device``, ``g_max_uS``, ``n_cores``, ``arrays_per_core``, ``cells_per_weight``)
are read-only properties.

Timing of one matrix-vector multiply (MVM) on one array (:func:`mvm_timing`, vectorised; the cost
model calls it for many design points, ``Chip.timing`` for one):

- ``mvm_time_s`` given: the time of one phase, as published; the MVM takes
  ``input_phases * mvm_time_s``.
- ``mvm_time_s=None``: derived, ``input_phases * (reads * t_read + conversions * columns_per_adc
  * t_adc)``, where the input encoding sets the reads and conversions per phase:
  ``"pwm"`` one window of ``2**(dac_bits-1)`` clock cycles (pulse width = input), one conversion;
  ``"pulse_count"`` the same window as ``2**(dac_bits-1)`` unit pulses of ``t_read_s`` (charge
  integrated per pulse), one conversion; ``"amplitude"`` one read of ``t_read_s`` through a
  voltage DAC, one conversion; ``"bit_serial"`` ``ceil((dac_bits - 1) / k)`` reads (sign-magnitude:
  the sign is the pulse polarity; ``k`` magnitude bits per read, ``array.dac.bits_per_cycle``, 1
  when unset; a 1-bit input is one read: ``config.array.input_cycles``, the accuracy path's
  count), each converted and combined by shift-and-add; ``"bit_serial_integrate"`` as many reads
  integrated in analog, one conversion. The ADC kind sets ``t_adc``: SAR one clock per bit, flash one clock, ramp
  ``2**adc_bits`` clocks, CCO none of its own (it counts during the read window).

A weight occupies ``cells_per_weight`` adjacent columns (differential pairs, bit slices), so one
array holds ``array_rows * (array_cols // cells_per_weight)`` weights and one MVM is that many MACs.

Presets are functions that cite their source: ``hermes()``, ``mythic_m1076()``,
``neurram(operating_point=...)``, ``sram_cim()``, ``gpu_a100()`` (all-digital reference). Their
simulated arrays are :func:`array_config`: the standard crossbar periphery with the chip's tile,
converters and conductance, and the device model of the chip's technology.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analogue._util.serial import (
    field_names,
    numeric_strings,
    read_yaml,
    reject_unknown,
    section_from_dict,
    type_hints,
    write_yaml,
)
from analogue._util.validate import ConfigError, is_int, is_real
from analogue.config import AnalogConfig, DeviceConfig, presets
from analogue.config.array import input_cycles
from analogue.config.technology import DEVICES

CHIP_VERSION = 2
"""Version 2: sections (``array``, ``organisation``, ``periphery``, ``electrical``, ``digital``).
Version 1 (32 flat fields) is still read by ``Chip.from_dict``/``from_yaml``."""

DEVICE_KINDS = ("pcm", "rram", "flash", "sram", "mram", "ideal", "none")
ADC_KINDS = ("sar", "flash", "ramp", "cco")
INPUT_ENCODINGS = ("pwm", "pulse_count", "bit_serial", "amplitude", "bit_serial_integrate")
NEURRAM_OPERATING_POINTS = ("3b_out_1b_in", "8b_out_6b_in")
#: How a weight's cells hold it (``Organisation.weight_mapping``): ``"unsigned"`` every cell
#: carries its share of the magnitude (bit slices, unit cells, one-sided offsets);
#: ``"differential"`` signed weights on (G+, G-) pairs, the magnitude on one side of each pair
#: and the other side at the minimum conductance.
WEIGHT_MAPPINGS = ("unsigned", "differential")
#: Where the cells of one weight are combined (``Organisation.slice_combining``): ``"digital"``
#: every cell's column is converted and the slices shifted and added after the ADC;
#: ``"analog"`` the columns of one weight are weighted and summed before one conversion (charge
#: sharing on binary-weighted capacitors, Dong et al. ISSCC 2020; weighted current-to-voltage
#: stacking, Hung et al. Nat. Electron. 2021).
SLICE_COMBININGS = ("digital", "analog")
#: How a read is sensed (``Electrical.read_sensing``): ``"current"`` the bit line is held at the
#: read voltage while the cells conduct for the drive time (``V^2 G t`` from the rail);
#: ``"voltage"`` the bit line is precharged to the read voltage and left floating, the cells
#: discharge it and its voltage is sensed (Yoon et al., IEEE JSSC 57(1), 2022): at most the
#: bit line's charge ``C_BL V_read`` is drawn from the rail per access.
READ_SENSINGS = ("current", "voltage")

#: Integer codes of the kinds, so that a vector of design points can mix them (:func:`mvm_timing`,
#: ``analogue.cost``).
ADC_KIND_CODE = {"sar": 0, "flash": 1, "ramp": 2, "cco": 3}
ENCODING_CODE = {"pwm": 0, "bit_serial": 1, "amplitude": 2, "bit_serial_integrate": 3,
                 "pulse_count": 4}

#: The device model of each technology (``analogue.config.presets``); kinds without a published model
#: (``mram``, ``ideal``, ``none``) get an ideal cell of that kind.
DEVICE_MODELS: dict[str, Callable[[], DeviceConfig]] = {
    "pcm": presets.pcm_device,
    "rram": presets.rram_device,
    "flash": presets.flash_device,
    "sram": presets.sram_device,
}


def _fail(where: str, msg: str) -> None:
    raise ConfigError(f"{where}: {msg}")


def _builtin(value: Any) -> Any:
    """NumPy scalars as builtins (JSON-safe); anything else unchanged."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, int, np.bool_)):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _int_in(value: Any, where: str, lo: int, hi: int) -> None:
    if not (is_int(value) and lo <= value <= hi):
        _fail(where, f"must be an integer in [{lo}, {hi}], got {value!r}")


def _positive(value: Any, where: str) -> None:
    if not (is_real(value) and value > 0):
        _fail(where, f"must be a finite number > 0, got {value!r}")


def _nonnegative(value: Any, where: str) -> None:
    if not (is_real(value) and value >= 0):
        _fail(where, f"must be a finite number >= 0, got {value!r}")


def _optional(check: Callable[[Any, str], None], value: Any, where: str) -> None:
    """``check`` unless ``value`` is ``None`` (derive it)."""
    if value is not None:
        check(value, f"{where} (or None: derived)")


def _one_of(value: Any, options: tuple[str, ...], where: str) -> None:
    if value not in options:
        _fail(where, f"must be one of {options}, got {value!r}")


class _Section:
    """Shared by the chip's sections: NumPy scalars become builtins, then ``_check`` validates;
    messages name the field as ``Chip.<section>.<field>``."""

    where: ClassVar[str] = "Chip"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            object.__setattr__(self, f.name, _builtin(getattr(self, f.name)))
        self._check()

    def _check(self) -> None:  # pragma: no cover - every section overrides it
        raise NotImplementedError

    def _at(self, name: str) -> str:
        return f"{self.where}.{name}"


@dataclass(frozen=True)
class Organisation(_Section):
    """How the arrays are laid out.

    ``n_cores`` cores x ``arrays_per_core`` arrays (0: an all-digital chip); ``weight_bits`` per
    weight stored over ``cells_per_weight`` cross-points side by side along an array row;
    ``sram_bytes_per_core`` local buffer; ``cell_area_um2`` one cross-point's area (``None``: the
    device kind's F2 x node^2); ``core_area_mm2`` a published core area (``None``: summed from
    components); ``weight_mapping`` how the cells hold a weight (``WEIGHT_MAPPINGS``;
    ``"differential"`` halves the mean read conductance of the cells: one side of each pair idles);
    ``slice_combining`` where a weight's cells are combined (``SLICE_COMBININGS``; ``"analog"``:
    one conversion per weight instead of one per cell column).
    """

    where: ClassVar[str] = "Chip.organisation"

    n_cores: int = 64
    arrays_per_core: int = 1
    weight_bits: int = 8
    cells_per_weight: int = 1
    sram_bytes_per_core: int = 64 * 1024
    cell_area_um2: float | None = None
    core_area_mm2: float | None = None
    weight_mapping: str = "unsigned"
    slice_combining: str = "digital"

    def _check(self) -> None:
        _int_in(self.n_cores, self._at("n_cores"), 1, 1 << 20)
        _int_in(self.arrays_per_core, self._at("arrays_per_core"), 0, 1 << 16)
        _int_in(self.weight_bits, self._at("weight_bits"), 1, 32)
        _int_in(self.cells_per_weight, self._at("cells_per_weight"), 1, 64)
        _int_in(self.sram_bytes_per_core, self._at("sram_bytes_per_core"), 0, 1 << 40)
        _optional(_positive, self.cell_area_um2, self._at("cell_area_um2"))
        _optional(_positive, self.core_area_mm2, self._at("core_area_mm2"))
        _one_of(self.weight_mapping, WEIGHT_MAPPINGS, self._at("weight_mapping"))
        if self.weight_mapping == "differential" and self.cells_per_weight % 2:
            _fail(self._at("weight_mapping"), "a differential weight sits on pairs of cells: give"
                  f" an even cells_per_weight (got {self.cells_per_weight}) or 'unsigned'")
        _one_of(self.slice_combining, SLICE_COMBININGS, self._at("slice_combining"))


@dataclass(frozen=True)
class Periphery(_Section):
    """The converters around an array and the timing of one MVM (module docstring).

    ``input_encoding`` how the DAC applies an input (``INPUT_ENCODINGS``); ``adc_kind``
    (``ADC_KINDS``), one ADC per ``columns_per_adc`` columns; ``input_phases`` how many times the
    array is read per MVM (e.g. positive and negative inputs separately, HERMES' four-phase mode);
    ``clock_hz`` the periphery clock; ``mvm_time_s`` one phase of one MVM (``None``: derived);
    ``t_read_s`` one read pulse for the ``"amplitude"``, ``"pulse_count"`` and bit-serial
    encodings; ``adc_max_bits`` the resolution the converters are built for, the most the
    silicon supports (``None``: the operating resolution ``array.adc.bits``). The chip's area
    follows ``max(adc_max_bits, array.adc.bits)`` (one chip, one area, whatever precision it
    runs at; an operating resolution above it is a redesign whose converters are built for it);
    its timing and energy follow the operating ``array.adc.bits`` (NeuRRAM's neuron is one
    circuit for 1-10 output bits).
    """

    where: ClassVar[str] = "Chip.periphery"

    input_encoding: str = "pwm"
    adc_kind: str = "sar"
    columns_per_adc: int = 1
    input_phases: int = 1
    clock_hz: float = 1.0e9
    mvm_time_s: float | None = None
    t_read_s: float = 10.0e-9
    adc_max_bits: int | None = None

    def _check(self) -> None:
        _one_of(self.input_encoding, INPUT_ENCODINGS, self._at("input_encoding"))
        _one_of(self.adc_kind, ADC_KINDS, self._at("adc_kind"))
        _int_in(self.columns_per_adc, self._at("columns_per_adc"), 1, 1 << 16)
        _int_in(self.input_phases, self._at("input_phases"), 1, 64)
        _positive(self.clock_hz, self._at("clock_hz"))
        _optional(_positive, self.mvm_time_s, self._at("mvm_time_s"))
        _positive(self.t_read_s, self._at("t_read_s"))
        _optional(lambda v, w: _int_in(v, w, 1, 16), self.adc_max_bits, self._at("adc_max_bits"))


@dataclass(frozen=True)
class Electrical(_Section):
    """Voltages, currents and capacitances of the cost model (typical defaults; sources in
    ``analogue.cost``).

    ``v_read_V`` read voltage on the word lines; ``read_supply_V`` the rail the read current is
    drawn from (``None``: a dedicated rail at ``v_read_V``; a current-mode readout that regulates
    the bit line from the core supply draws it at ``supply_V``); ``supply_V`` the periphery
    supply; ``bias_uW_per_column`` static bias of each column's analog front end
    (integrator/amplifier) while an MVM runs; ``gated_cells`` whether each cell has an access
    transistor whose gate line swings to the supply on every read (1T1R, 8T4R, flash, SRAM;
    ``False`` for passive crossbars); ``c_wire_fF_per_cell`` line capacitance per cell segment
    (``None``: the wire's capacitance per um times the cell pitch, ``sqrt(cell area)``,
    ``analogue.cost.constants.WIRE_FF_PER_UM``);
    ``noc_pJ_per_bit_mm`` interconnect energy per bit per mm (``None``: from the node);
    ``read_sensing`` how a read is sensed (``READ_SENSINGS``: ``"current"``, the default, or
    ``"voltage"``, a precharged bit line discharged by the cells).
    """

    where: ClassVar[str] = "Chip.electrical"

    v_read_V: float = 0.2
    read_supply_V: float | None = None
    supply_V: float = 0.8
    bias_uW_per_column: float = 0.0
    gated_cells: bool = True
    c_wire_fF_per_cell: float | None = 0.2
    noc_pJ_per_bit_mm: float | None = None
    read_sensing: str = "current"

    def _check(self) -> None:
        _positive(self.v_read_V, self._at("v_read_V"))
        _one_of(self.read_sensing, READ_SENSINGS, self._at("read_sensing"))
        _optional(_positive, self.read_supply_V, self._at("read_supply_V"))
        _positive(self.supply_V, self._at("supply_V"))
        _nonnegative(self.bias_uW_per_column, self._at("bias_uW_per_column"))
        if not isinstance(self.gated_cells, bool):
            _fail(self._at("gated_cells"), f"must be True or False, got {self.gated_cells!r}")
        _optional(_nonnegative, self.c_wire_fF_per_cell, self._at("c_wire_fF_per_cell"))
        _optional(_nonnegative, self.noc_pJ_per_bit_mm, self._at("noc_pJ_per_bit_mm"))


@dataclass(frozen=True)
class DigitalUnit(_Section):
    """The digital processor for what does not run on the arrays (one per chip, shared).

    ``ops_per_s``: peak throughput in operations (multiply, add, compare, ...) per second.
    ``node_nm``: its technology node (may differ from the arrays'; scales energy and area).
    ``pJ_per_op``: energy per operation; ``None`` derives it from ``op_bits`` and the node
        (``analogue.cost.components.digital_op_energy_J``).
    ``area_mm2``: its area; ``None`` derives it from the throughput and the node.
    ``op_bits``: operand width of one operation (8 for INT8, 16 for FP16/BF16).
    ``post_ops_per_output``: its operations per array output (scaling, activation; 0 where the
        neuron does it in analog).
    """

    where: ClassVar[str] = "DigitalUnit"

    ops_per_s: float = 1.0e11
    node_nm: float = 14.0
    pJ_per_op: float | None = None
    area_mm2: float | None = None
    op_bits: int = 8
    post_ops_per_output: float = 2.0

    def _check(self) -> None:
        _positive(self.ops_per_s, self._at("ops_per_s"))
        _positive(self.node_nm, self._at("node_nm"))
        _optional(_positive, self.pJ_per_op, self._at("pJ_per_op"))
        _optional(_nonnegative, self.area_mm2, self._at("area_mm2"))
        _int_in(self.op_bits, self._at("op_bits"), 1, 64)
        _nonnegative(self.post_ops_per_output, self._at("post_ops_per_output"))


def device_model(kind: str) -> DeviceConfig:
    """The device model of technology ``kind`` (``DEVICE_MODELS``), or an ideal cell named
    ``kind`` for a technology without one."""
    _one_of(kind, DEVICE_KINDS, "Chip.array.device.kind")
    make = DEVICE_MODELS.get(kind)
    return make() if make is not None else DeviceConfig(kind=kind)


def cell_g_max_uS(kind: str) -> float:
    """The full-scale conductance of a ``kind`` cross-point (``config.technology.DEVICES``), uS."""
    _one_of(kind, DEVICE_KINDS, "Chip.array.device.kind")
    return float(DEVICES[kind]["g_max_uS"])


def array_config(device: str, rows: int = 256, cols: int = 256, dac_bits: int = 8,
                 adc_bits: int = 8, g_max_uS: float | None = None) -> AnalogConfig:
    """The simulated array of a chip: the standard crossbar periphery of ``presets.standard()``
    (Rasch et al., Nat. Commun. 2023) with a ``rows x cols`` tile, ``dac_bits``/``adc_bits``
    converters, the device model of technology ``device`` (:func:`device_model`) and full-scale
    conductance ``g_max_uS`` (``None``: the technology's, :func:`cell_g_max_uS`)."""
    dev = device_model(device)
    g_max = cell_g_max_uS(device) if g_max_uS is None else g_max_uS
    changes = {"tile.rows": rows, "tile.cols": cols, "dac.bits": dac_bits, "adc.bits": adc_bits}
    if device != "none":  # an all-digital chip keeps a placeholder window (nothing is read)
        changes["mapping.g_max_uS"] = g_max
    return presets.standard().replace(device=dev, **changes)


#: The flat field names of chip version 1 (also ``Chip.replace`` keys and ``an.cost.sweep`` axes)
#: and where each lives now, plus ``adc_max_bits`` (version 2 only; a version-1 file leaves it
#: ``None``). ``device`` switches the technology: its device model and its
#: full-scale conductance; ``g_max_uS=None`` means the technology's.
FLAT_FIELDS: dict[str, str] = {
    "name": "name",
    "node_nm": "node_nm",
    "n_cores": "organisation.n_cores",
    "arrays_per_core": "organisation.arrays_per_core",
    "weight_bits": "organisation.weight_bits",
    "cells_per_weight": "organisation.cells_per_weight",
    "sram_bytes_per_core": "organisation.sram_bytes_per_core",
    "cell_area_um2": "organisation.cell_area_um2",
    "core_area_mm2": "organisation.core_area_mm2",
    "array_rows": "array.tile.rows",
    "array_cols": "array.tile.cols",
    "dac_bits": "array.dac.bits",
    "adc_bits": "array.adc.bits",
    "device": "array.device",
    "g_max_uS": "array.mapping.g_max_uS",
    "input_encoding": "periphery.input_encoding",
    "adc_kind": "periphery.adc_kind",
    "columns_per_adc": "periphery.columns_per_adc",
    "input_phases": "periphery.input_phases",
    "clock_hz": "periphery.clock_hz",
    "mvm_time_s": "periphery.mvm_time_s",
    "t_read_s": "periphery.t_read_s",
    "adc_max_bits": "periphery.adc_max_bits",
    "v_read_V": "electrical.v_read_V",
    "read_supply_V": "electrical.read_supply_V",
    "supply_V": "electrical.supply_V",
    "bias_uW_per_column": "electrical.bias_uW_per_column",
    "gated_cells": "electrical.gated_cells",
    "c_wire_fF_per_cell": "electrical.c_wire_fF_per_cell",
    "noc_pJ_per_bit_mm": "electrical.noc_pJ_per_bit_mm",
    "post_ops_per_output": "digital.post_ops_per_output",
    "digital": "digital",
    "version": "version",
}

_SECTIONS: dict[str, type] = {
    "organisation": Organisation,
    "periphery": Periphery,
    "electrical": Electrical,
    "digital": DigitalUnit,
}


@dataclass(frozen=True)
class Chip:
    """An analog in-memory-computing chip (or, with ``organisation.arrays_per_core=0`` and device
    kind ``"none"``, an all-digital one). Sections and timing: module docstring.

    Build one from sections (``Chip(name=..., array=array_config("rram", ...),
    organisation=Organisation(n_cores=48), ...)``) or change a preset with :meth:`replace`, which
    takes section paths (``"periphery.adc_kind"``, ``"array.adc.bits"``) and the flat names of
    ``FLAT_FIELDS`` (``adc_bits=6``, ``device="rram"``).
    """

    name: str = "custom"
    node_nm: float = 14.0
    organisation: Organisation = field(default_factory=Organisation)
    array: AnalogConfig = field(default_factory=lambda: array_config("pcm"))
    periphery: Periphery = field(default_factory=Periphery)
    electrical: Electrical = field(default_factory=Electrical)
    digital: DigitalUnit = field(default_factory=DigitalUnit)
    version: int = CHIP_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_nm", _builtin(self.node_nm))
        if not isinstance(self.name, str) or not self.name:
            _fail("Chip.name", f"must be a non-empty string, got {self.name!r}")
        _positive(self.node_nm, "Chip.node_nm")
        for name, cls in {**_SECTIONS, "array": AnalogConfig}.items():
            v = getattr(self, name)
            if not isinstance(v, cls):
                _fail(f"Chip.{name}", f"must be a {cls.__name__}, got {type(v).__name__}")
        _one_of(self.device, DEVICE_KINDS, "Chip.array.device.kind")
        for conv in ("dac", "adc"):
            if getattr(self.array, conv).bits is None:
                _fail(f"Chip.array.{conv}.bits", "a chip's converter has a resolution: give an"
                      " integer in [1, 16] (None, an ideal converter, is for simulation only)")
        org = self.organisation
        if (org.arrays_per_core == 0) != (self.device == "none"):
            _fail(
                "Chip.array.device.kind",
                "an all-digital chip has organisation.arrays_per_core=0 and device kind 'none';"
                f" set both or neither (got arrays_per_core={org.arrays_per_core},"
                f" device={self.device!r})",
            )
        if org.cells_per_weight > self.array_cols:
            _fail(
                "Chip.organisation.cells_per_weight",
                f"a weight's {org.cells_per_weight} cells lie along one array row; the array's"
                f" {self.array_cols} columns are too few (raise array.tile.cols or lower"
                " cells_per_weight)",
            )
        if self.periphery.columns_per_adc > self.array_cols:
            _fail("Chip.periphery.columns_per_adc",
                  f"must be an integer in [1, {self.array_cols}] (the array's columns), got"
                  f" {self.periphery.columns_per_adc!r}")
        if self.version != CHIP_VERSION:
            _fail("Chip.version", f"this analogue reads version {CHIP_VERSION} (and version-1"
                  f" files through Chip.from_dict), got {self.version!r}")

    # -- the array's numbers, read from its AnalogConfig --------------------------------------
    @property
    def array_rows(self) -> int:
        """Rows of one array (``array.tile.rows``)."""
        return self.array.tile.rows

    @property
    def array_cols(self) -> int:
        """Columns of one array (``array.tile.cols``)."""
        return self.array.tile.cols

    @property
    def dac_bits(self) -> int:
        """Input resolution per MVM (``array.dac.bits``)."""
        return int(self.array.dac.bits)  # type: ignore[arg-type]

    @property
    def adc_bits(self) -> int:
        """Output resolution (``array.adc.bits``)."""
        return int(self.array.adc.bits)  # type: ignore[arg-type]

    @property
    def device(self) -> str:
        """The device kind (``array.device.kind``), one of ``DEVICE_KINDS``."""
        return self.array.device.kind

    @property
    def g_max_uS(self) -> float:
        """Full-scale conductance of one cross-point (``array.mapping.g_max_uS``), uS."""
        return self.array.mapping.g_max_uS

    # -- organisation -----------------------------------------------------------------------
    @property
    def n_cores(self) -> int:
        """Cores on the chip (``organisation.n_cores``)."""
        return self.organisation.n_cores

    @property
    def arrays_per_core(self) -> int:
        """Arrays per core (``organisation.arrays_per_core``)."""
        return self.organisation.arrays_per_core

    @property
    def cells_per_weight(self) -> int:
        """Cross-points per weight (``organisation.cells_per_weight``)."""
        return self.organisation.cells_per_weight

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
        return -(-self.array_cols // self.periphery.columns_per_adc)

    # -- timing -------------------------------------------------------------------------------
    @property
    def timing(self) -> dict[str, float]:
        """:func:`mvm_timing` of this chip: ``t_read_s``, ``t_drive_s``, ``reads`` and ``convs``
        per phase, ``t_conv_s`` and ``mvm_latency_s``."""
        pe = self.periphery
        t = mvm_timing(
            encoding=ENCODING_CODE[pe.input_encoding], dac_bits=self.dac_bits,
            clock_hz=pe.clock_hz, t_read_s=pe.t_read_s, adc_kind=ADC_KIND_CODE[pe.adc_kind],
            adc_bits=self.adc_bits, columns_per_adc=pe.columns_per_adc,
            input_phases=pe.input_phases,
            mvm_time_s=np.nan if pe.mvm_time_s is None else pe.mvm_time_s,
            bits_per_cycle=self.bits_per_cycle,
        )
        return {k: float(v) for k, v in t.items()}

    @property
    def bits_per_cycle(self) -> int:
        """Magnitude bits per read of bit-serial inputs: the array's ``dac.bits_per_cycle``, 1
        when unset (as :func:`accuracy_array`)."""
        return self.array.dac.bits_per_cycle or 1

    @property
    def mvm_latency_s(self) -> float:
        """Time of one full MVM on one array (all phases, reads and conversions), s."""
        return self.timing["mvm_latency_s"]

    @property
    def conversions_per_mvm(self) -> int:
        """ADC conversions per array per MVM (every column, every conversion, every phase)."""
        return int(self.array_cols * self.timing["convs"] * self.periphery.input_phases)

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict of builtins (JSON- and YAML-safe), format version 2."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chip:
        """Inverse of ``to_dict`` (any ``Mapping``); also reads the flat version-1 format
        (``version: 1``, or no version and only ``FLAT_FIELDS`` names). Unknown keys fail with
        the closest valid name."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"Chip: expected a mapping, got {type(data).__name__}")
        if _is_flat(data):
            return _from_flat(data)
        return section_from_dict(cls, data, "Chip")

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write to a YAML file atomically (edit it, then ``--chip FILE.yaml`` on the command line)."""
        return write_yaml(path, self.to_dict())

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Chip:
        """A chip from a YAML file written by ``to_yaml`` (or by hand; same fields; version-1
        flat files too)."""
        return cls.from_dict(read_yaml(path, "Chip"))

    def replace(self, **changes: Any) -> Chip:
        """A copy with ``changes``: fields (``name``, ``array``, ``periphery``, ...), section paths
        (``"digital.node_nm"``, ``"periphery.adc_kind"``, ``"array.adc.bits"``) or the flat names
        of ``FLAT_FIELDS`` (``adc_bits=6``). ``device`` switches the technology (device model and
        full-scale conductance; a ``DeviceConfig`` is used as given); ``g_max_uS=None`` takes the
        technology's. Unknown names fail with the closest valid one."""
        sections: dict[str, Any] = {}  # field -> new value (object or mapping)
        nested: dict[str, dict[str, Any]] = {}  # field -> {sub-path: value}
        device = changes.pop("device", _UNSET)
        g_max = changes.pop("g_max_uS", _UNSET)
        names = field_names(self)
        for key, value in changes.items():
            path = FLAT_FIELDS.get(key, key)
            head, _, rest = path.partition(".")
            if head not in names:
                reject_unknown({key: None}, [*names, *FLAT_FIELDS], "Chip")
            if rest:
                nested.setdefault(head, {})[rest] = _builtin(value)
            else:
                sections[head] = _builtin(value)
        array = _section_value("array", sections.pop("array", self.array))
        try:
            if device is not _UNSET:
                array = _with_device(array, device)
            if g_max is not _UNSET and not (g_max is None and array.device.kind == "none"):
                g = cell_g_max_uS(array.device.kind) if g_max is None else _builtin(g_max)
                array = array.replace(**{"mapping.g_max_uS": g})
            if "array" in nested:
                array = array.replace(**nested.pop("array"))
        except ConfigError as exc:
            if str(exc).startswith("Chip."):
                raise
            raise ConfigError(f"Chip.array: {exc}") from None
        out: dict[str, Any] = {"array": array}
        for head in {*sections, *nested}:
            base = _section_value(head, sections.get(head, getattr(self, head)))
            subs = nested.get(head)
            if subs:
                cls = _SECTIONS.get(head)
                if cls is None:
                    reject_unknown({f"{head}.{next(iter(subs))}": None}, list(FLAT_FIELDS), "Chip")
                reject_unknown(subs, field_names(cls), f"Chip.{head}")
                hints = type_hints(cls)
                base = dataclasses.replace(
                    base, **{k: numeric_strings(v, hints.get(k)) for k, v in subs.items()}
                )
            out[head] = base
        return dataclasses.replace(self, **out)


_UNSET: Any = object()


def _section_value(name: str, value: Any) -> Any:
    """A section given as a mapping becomes its dataclass; anything else is checked by ``Chip``."""
    if name == "array" and isinstance(value, Mapping):
        return AnalogConfig.from_dict(value)
    cls = _SECTIONS.get(name)
    if cls is not None and isinstance(value, Mapping):
        return section_from_dict(cls, value, f"Chip.{name}")
    return value


def _with_device(array: AnalogConfig, device: Any) -> AnalogConfig:
    """``array`` on another technology: a kind name (or an object with a ``kind``) takes that
    technology's device model and full-scale conductance; a ``DeviceConfig`` is used as given,
    with its kind's conductance."""
    if isinstance(device, DeviceConfig):
        model = device
    else:
        kind = device if isinstance(device, str) else getattr(device, "kind", device)
        model = device_model(kind)
    if model.kind == "none":
        return array.replace(device=model)
    return array.replace(device=model, **{"mapping.g_max_uS": cell_g_max_uS(model.kind)})


def _is_flat(data: Mapping[str, Any]) -> bool:
    """A version-1 document: ``version: 1``, or no version and no section of version 2."""
    if "version" in data:
        return data["version"] == 1
    return not any(k in data for k in ("array", "organisation", "periphery", "electrical"))


def _from_flat(data: Mapping[str, Any]) -> Chip:
    """A chip from the flat version-1 format: each field to its place (``FLAT_FIELDS``); the
    array is :func:`array_config` of the flat device, tile, converters and conductance, as
    ``an.compile`` derived it in version 1."""
    reject_unknown(data, list(FLAT_FIELDS), "Chip")
    flat = {k: v for k, v in data.items() if k != "version"}
    digital = flat.pop("digital", None)
    if digital is not None:
        flat["digital"] = section_from_dict(DigitalUnit, digital, "Chip.digital")
    return Chip().replace(**flat)  # Chip() is version 1's default chip (pcm, 256x256, 8/8 bits)


# -- one timing model ----------------------------------------------------------------------------


def accuracy_array(chip: Chip, bits_per_cycle: int = 1) -> AnalogConfig:
    """The chip's simulated array (``chip.array``) with inputs read as its periphery applies them,
    so the accuracy simulation and the cost model describe one chip:
    ``input_encoding="bit_serial"`` (one ADC conversion per input read cycle): the DAC streams its
    code ``bits_per_cycle`` magnitude bits per read (``DACConfig.bits_per_cycle``; an array that
    sets it already keeps its own); every other encoding converts once per MVM (PWM, pulse
    count, amplitude, and ``"bit_serial_integrate"``, which integrates the cycles in analog before
    one conversion): amplitude inputs (``bits_per_cycle=None``). The cost model's timing counts
    the same reads and conversions for ``"bit_serial"`` (``config.array.input_cycles`` of the
    chip's ``array.dac.bits_per_cycle``, 1 when unset; docs/devices.md)."""
    array = chip.array
    if chip.periphery.input_encoding != "bit_serial":
        return array.replace(**{"dac.bits_per_cycle": None})
    if array.dac.bits_per_cycle is not None:
        return array
    return array.replace(**{"dac.bits_per_cycle": bits_per_cycle})


def adc_conversion_time_s(kind: ArrayLike, bits: ArrayLike, clock_hz: ArrayLike) -> NDArray[np.float64]:
    """Time of one conversion: SAR one clock per bit, flash one clock, ramp ``2**bits`` clocks,
    CCO none beyond the integration window it counts in, s (``kind`` as ``ADC_KIND_CODE``)."""
    k = np.asarray(kind)
    b = np.asarray(bits, dtype=np.float64)
    t = 1.0 / np.asarray(clock_hz, dtype=np.float64)
    return np.select(
        [k == ADC_KIND_CODE["sar"], k == ADC_KIND_CODE["flash"], k == ADC_KIND_CODE["ramp"]],
        [b * t, t, 2.0**b * t],
        default=0.0 * t,
    )


def mvm_timing(
    *,
    encoding: ArrayLike,
    dac_bits: ArrayLike,
    clock_hz: ArrayLike,
    t_read_s: ArrayLike,
    adc_kind: ArrayLike,
    adc_bits: ArrayLike,
    columns_per_adc: ArrayLike,
    input_phases: ArrayLike,
    mvm_time_s: ArrayLike,
    bits_per_cycle: ArrayLike = 1,
) -> dict[str, NDArray[np.float64]]:
    """Timing of one MVM on one array, for one design point (scalars) or many (arrays that
    broadcast); kinds as ``ENCODING_CODE``/``ADC_KIND_CODE``, ``mvm_time_s`` NaN where derived.

    Returns ``t_read_s`` (one read: a ``2**(dac_bits-1)``-cycle window for the time encodings,
    ``t_read_s`` otherwise), ``t_drive_s`` (how long the full-scale input drives the array during
    one read), ``reads`` and ``convs`` per phase, ``t_conv_s`` (one conversion) and
    ``mvm_latency_s`` (module docstring). ``bits_per_cycle``: magnitude bits per read of the
    bit-serial encodings (``DACConfig.bits_per_cycle``; 1 where the array leaves it unset).
    """
    enc = np.asarray(encoding)
    b_in = np.asarray(dac_bits, dtype=np.float64)
    serial = (enc == ENCODING_CODE["bit_serial"]) | (enc == ENCODING_CODE["bit_serial_integrate"])
    cycles = input_cycles(b_in, bits_per_cycle)  # the accuracy path's count (sign-magnitude)
    reads = np.where(serial, cycles, 1.0)
    convs = np.where(enc == ENCODING_CODE["bit_serial"], cycles, 1.0)
    timed = (enc == ENCODING_CODE["pwm"]) | (enc == ENCODING_CODE["pulse_count"])
    window = 2.0 ** np.maximum(b_in - 1.0, 0.0)
    t_read = np.where(timed, window / clock_hz, t_read_s)
    t_drive = np.where(
        enc == ENCODING_CODE["pwm"], t_read,
        np.where(enc == ENCODING_CODE["pulse_count"], window * t_read_s, t_read_s),
    )
    t_conv = adc_conversion_time_s(adc_kind, adc_bits, clock_hz)
    derived = input_phases * (reads * t_read + convs * columns_per_adc * t_conv)
    given = np.asarray(mvm_time_s, dtype=np.float64)
    latency = np.where(np.isnan(given), derived, input_phases * np.nan_to_num(given))
    return {"t_read_s": t_read, "t_drive_s": t_drive, "reads": reads, "convs": convs,
            "t_conv_s": t_conv, "mvm_latency_s": latency}


# -- presets -------------------------------------------------------------------------------------


def hermes(four_phase: bool = False) -> Chip:
    """IBM HERMES, 64-core PCM chip (Le Gallo et al., Nat. Electron. 6, 2023; core: Khaddam-Aljameh
    et al., IEEE JSSC 57(4), 2022).

    Published organisation: 14 nm; 64 cores, each one 256x256 array of PCM unit cells (one signed
    weight per unit cell); 8-bit PWM inputs on a 1 GHz clock; 256 current-controlled-oscillator
    (CCO) ADCs per core, one per column at 4 um pitch, 300 ps/LSB, each counting into two 12-bit
    ripple counters (``periphery.adc_max_bits=12``; 8-bit outputs); a local digital processing unit
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
        organisation=Organisation(n_cores=64, arrays_per_core=1, weight_bits=8, cells_per_weight=1,
                                  sram_bytes_per_core=0, core_area_mm2=0.635),
        array=array_config("pcm", rows=256, cols=256, dac_bits=8, adc_bits=8),
        periphery=Periphery(input_encoding="pwm", adc_kind="cco", columns_per_adc=1,
                            input_phases=4 if four_phase else 1, clock_hz=1.0e9, mvm_time_s=130e-9,
                            adc_max_bits=12),
        electrical=Electrical(v_read_V=0.2, read_supply_V=0.8, supply_V=0.8),
        digital=DigitalUnit(ops_per_s=64 * 256 * 2 / 130e-9, node_nm=14.0, op_bits=8),
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
        organisation=Organisation(n_cores=76, arrays_per_core=1, weight_bits=8, cells_per_weight=1,
                                  sram_bytes_per_core=128 * 1024),
        array=array_config("flash", rows=1024, cols=1024, dac_bits=8, adc_bits=8),
        periphery=Periphery(input_encoding="amplitude", adc_kind="sar", columns_per_adc=64,
                            input_phases=1, clock_hz=100e6, mvm_time_s=None, t_read_s=1e-6),
        electrical=Electrical(v_read_V=0.5, read_supply_V=0.9, supply_V=0.9),
        digital=DigitalUnit(ops_per_s=76 * 16 * 1.0e9, node_nm=40.0, op_bits=8),
    )


def neurram(operating_point: str = "3b_out_1b_in") -> Chip:
    """NeuRRAM (Wan et al., Nature 608, 2022): 48-core RRAM compute-in-memory chip.

    Published organisation: 130 nm; 48 cores, each a 256x256 1T1R RRAM array with 256 neurons;
    4-bit weights as differential conductance pairs (two cells per weight); voltage-mode sensing:
    each neuron samples its output line and integrates the charge once per input pulse (multi-bit
    inputs as repeated sample-and-integrate steps), then converts by comparison and charge
    decrement, one comparator step per output bit; 1-8 bit inputs, 1-10 bit outputs (one neuron
    circuit for all: ``periphery.adc_max_bits=10`` sizes its area); the neuron
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
        organisation=Organisation(n_cores=48, arrays_per_core=1, weight_bits=4, cells_per_weight=2,
                                  sram_bytes_per_core=0),
        array=array_config("rram", rows=256, cols=256, dac_bits=in_bits, adc_bits=out_bits,
                           g_max_uS=40.0),
        periphery=Periphery(input_encoding="pulse_count", adc_kind="sar", columns_per_adc=1,
                            input_phases=1, clock_hz=2.7e6, mvm_time_s=None, t_read_s=5e-9,
                            adc_max_bits=10),
        electrical=Electrical(v_read_V=0.1, supply_V=1.2, bias_uW_per_column=3.0,
                              c_wire_fF_per_cell=1.0, noc_pJ_per_bit_mm=0.0),
        digital=DigitalUnit(ops_per_s=1.0e9, node_nm=130.0, op_bits=8, post_ops_per_output=0.0),
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
        organisation=Organisation(n_cores=16, arrays_per_core=4, weight_bits=8, cells_per_weight=8,
                                  sram_bytes_per_core=128 * 1024),
        array=array_config("sram", rows=256, cols=256, dac_bits=8, adc_bits=8),
        periphery=Periphery(input_encoding="bit_serial", adc_kind="sar", columns_per_adc=4,
                            input_phases=1, clock_hz=1e9, mvm_time_s=None, t_read_s=0.5e-9),
        electrical=Electrical(v_read_V=0.8, supply_V=0.8),
        digital=DigitalUnit(ops_per_s=16 * 64 * 1e9, node_nm=22.0, op_bits=8),
    )


def gpu_a100() -> Chip:
    """All-digital reference: NVIDIA A100 SXM (datasheet, 2020): 7 nm, 108 SMs, 312 TFLOPS dense
    FP16/BF16 tensor throughput at 400 W TDP (about 1.28 pJ per op, 2.6 pJ per MAC at peak),
    826 mm2 die, 40 MB L2.
    """
    return Chip(
        name="gpu-a100",
        node_nm=7.0,
        organisation=Organisation(n_cores=108, arrays_per_core=0, weight_bits=16,
                                  sram_bytes_per_core=40 * 1024 * 1024 // 108),
        array=array_config("none", dac_bits=16, adc_bits=16),
        periphery=Periphery(input_encoding="amplitude", clock_hz=1.41e9),
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
        close = difflib.get_close_matches(key, list(PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; presets: {sorted(PRESETS)}"
        raise ConfigError(f"chips.get: unknown chip {name!r}{hint}")
    return PRESETS[key]()
