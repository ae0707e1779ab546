"""Component cost models: pure, vectorised functions (NumPy arrays in, arrays out).

Every function broadcasts over its array arguments, so one call evaluates many design points
(``analogue.cost.sweep``). Energies are in joules, times in seconds, areas in mm2, unless the name
says otherwise. Constants and their sources live in :mod:`analogue.cost.constants`.

Kinds are passed as integer codes (``ADC_KIND_CODE``, ``ENCODING_CODE``) so that a vector of
design points can mix them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# the kinds' codes and the conversion time are part of the chip's one timing model
from analogue.config.chips import ADC_KIND_CODE as ADC_KIND_CODE
from analogue.config.chips import ENCODING_CODE as ENCODING_CODE
from analogue.config.chips import adc_conversion_time_s as adc_conversion_time_s
from analogue.cost import constants as K

Array = NDArray[np.float64]


_NODES = np.array(sorted(K.NODE_VDD_V))
_VDDS = np.array([K.NODE_VDD_V[n] for n in _NODES])
_LEAK = np.array([K.LEAKAGE_W_PER_MM2[n] for n in _NODES])
_SRAM_NODES = np.array(sorted(K.SRAM_6T_CELL_UM2))
_SRAM_UM2 = np.array([K.SRAM_6T_CELL_UM2[n] for n in _SRAM_NODES])


def _f(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


# -- technology ----------------------------------------------------------------------------------
def node_vdd_V(node_nm: ArrayLike) -> Array:
    """Nominal supply (V) at a node, interpolated in log(node) between tabulated nodes."""
    n = np.clip(_f(node_nm), _NODES[0], _NODES[-1])
    return np.interp(np.log(n), np.log(_NODES), _VDDS)


def node_energy_scale(node_nm: ArrayLike, vdd_V: ArrayLike | None = None) -> Array:
    """Dynamic energy of a digital gate relative to 45 nm / 0.9 V: ``(node/45) (Vdd/0.9)^2``.

    Switched capacitance scales about linearly with the feature size and energy with C V^2
    (Stillmaker & Baas, Integration 58, 2017 give 0.2-0.25x at 14 nm, 0.1x at 7 nm).
    """
    n = _f(node_nm)
    v = node_vdd_V(n) if vdd_V is None else _f(vdd_V)
    return (n / K.REF_NODE_NM) * (v / K.REF_VDD_V) ** 2


def node_area_scale(node_nm: ArrayLike) -> Array:
    """Logic area relative to 45 nm: ``(node/45)^2``."""
    return (_f(node_nm) / K.REF_NODE_NM) ** 2


def leakage_W_per_mm2(node_nm: ArrayLike) -> Array:
    """Static power density of logic/SRAM (W/mm2), interpolated in log(node)."""
    n = np.clip(_f(node_nm), _NODES[0], _NODES[-1])
    return np.interp(np.log(n), np.log(_NODES), _LEAK)


def sram_cell_area_um2(node_nm: ArrayLike, cell: str = "6T") -> Array:
    """Area of one SRAM bit cell of kind ``cell`` (``SRAM_CELL_X6T``) at ``node_nm``, um2: the
    published 6T cells of ``SRAM_6T_CELL_UM2`` interpolated in log-log, held at the smallest
    node's below it (the 6T cell stopped shrinking at 5 nm) and scaled with F2 above the largest;
    times the cell's multiple of the 6T cell."""
    if cell not in K.SRAM_CELL_X6T:
        raise ValueError(f"unknown SRAM cell {cell!r}; known: {sorted(K.SRAM_CELL_X6T)}")
    n = _f(node_nm)
    lo, hi = _SRAM_NODES[0], _SRAM_NODES[-1]
    inside = np.exp(np.interp(np.log(np.clip(n, lo, hi)), np.log(_SRAM_NODES), np.log(_SRAM_UM2)))
    above = _SRAM_UM2[-1] * (np.maximum(n, hi) / hi) ** 2
    return np.where(n > hi, above, inside) * K.SRAM_CELL_X6T[cell]


# -- digital arithmetic and memory -------------------------------------------------------------
def add_energy_J(bits: ArrayLike, node_nm: ArrayLike) -> Array:
    """One integer add of ``bits`` bits (Horowitz 2014, linear in width), J."""
    return K.ADD8_PJ_45 * 1e-12 * _f(bits) / 8.0 * node_energy_scale(node_nm)


def mult_energy_J(bits: ArrayLike, node_nm: ArrayLike) -> Array:
    """One integer multiply of ``bits`` bits (Horowitz 2014, quadratic in width), J."""
    return K.MULT8_PJ_45 * 1e-12 * (_f(bits) / 8.0) ** 2 * node_energy_scale(node_nm)


def digital_op_energy_J(bits: ArrayLike, node_nm: ArrayLike) -> Array:
    """One operation of a SIMD digital unit (mean of multiply and add, with operand-supply and
    control overhead ``SIMD_OVERHEAD``), J."""
    arith = 0.5 * (mult_energy_J(bits, node_nm) + add_energy_J(bits, node_nm))
    return K.SIMD_OVERHEAD * arith


def digital_area_mm2(ops_per_s: ArrayLike, node_nm: ArrayLike) -> Array:
    """Area of a digital datapath sustaining ``ops_per_s`` 8-bit operations at 1 GHz lanes, mm2."""
    return K.DIGITAL_UM2_PER_GOPS_45 * 1e-6 * _f(ops_per_s) / 1e9 * node_area_scale(node_nm)


def shift_add_area_mm2(bits: ArrayLike, node_nm: ArrayLike) -> Array:
    """A shift-and-add unit of ``bits`` bits behind one converter: an adder with its accumulator
    register and control (``SHIFT_ADD_UM2_8B_45`` per 8 bits at 45 nm, node^2), mm2. Not a
    multiply-accumulate lane: shifting by the bit weight is wiring."""
    return K.SHIFT_ADD_UM2_8B_45 * 1e-6 * _f(bits) / 8.0 * node_area_scale(node_nm)


def flipflop_energy_J(node_nm: ArrayLike) -> Array:
    """One flip-flop toggle with its clock load, J."""
    return K.FF_PJ_45 * 1e-12 * node_energy_scale(node_nm)


def comparator_energy_J(node_nm: ArrayLike) -> Array:
    """One latched-comparator decision, J."""
    return K.COMPARATOR_PJ_45 * 1e-12 * node_energy_scale(node_nm)


def sram_energy_per_bit_J(capacity_bytes: ArrayLike, node_nm: ArrayLike) -> Array:
    """Read or write of one bit of a local SRAM of ``capacity_bytes`` (Horowitz 2014: 8 KB ->
    0.16 pJ/bit at 45 nm, growing as sqrt(capacity)), J. Buffers under 1 KB cost as 1 KB."""
    cap = np.maximum(_f(capacity_bytes), 1024.0)
    return (
        K.SRAM_PJ_PER_BIT_8KB_45 * 1e-12 * np.sqrt(cap / K.SRAM_REF_BYTES)
        * node_energy_scale(node_nm)
    )


def sram_area_mm2(capacity_bytes: ArrayLike, node_nm: ArrayLike) -> Array:
    """SRAM macro area (cells at ``SRAM_BIT_F2`` F2 per bit), mm2."""
    f_um = _f(node_nm) * 1e-3
    return _f(capacity_bytes) * 8.0 * K.SRAM_BIT_F2 * f_um**2 * 1e-6


# -- interconnect ---------------------------------------------------------------------------------
def wire_energy_per_bit_mm_J(vdd_V: ArrayLike) -> Array:
    """Moving one bit over 1 mm of on-chip wire: activity x C_wire x Vdd^2, J."""
    return K.WIRE_ACTIVITY * K.WIRE_F_PER_MM * _f(vdd_V) ** 2


def noc_energy_per_bit_J(hop_mm: ArrayLike, node_nm: ArrayLike, vdd_V: ArrayLike) -> Array:
    """One bit moved one hop between neighbouring cores: wire over ``hop_mm`` plus router FIFO, J."""
    router = 2.0 * sram_energy_per_bit_J(K.ROUTER_FIFO_BYTES, node_nm)
    return wire_energy_per_bit_mm_J(vdd_V) * _f(hop_mm) + router


# -- crossbar ---------------------------------------------------------------------------------------
def crossbar_read_energy_J(
    rows: ArrayLike,
    cols: ArrayLike,
    g_mean_uS: ArrayLike,
    v_read_V: ArrayLike,
    t_read_s: ArrayLike,
    input_activity: ArrayLike = K.INPUT_ACTIVITY,
) -> Array:
    """Ohmic energy of one read of a ``rows x cols`` array: ``sum V^2 G t`` over the cells with
    the mean input drive ``input_activity`` (fraction of full-scale drive-time), J."""
    return (
        _f(rows) * _f(cols) * _f(g_mean_uS) * 1e-6 * _f(v_read_V) ** 2 * _f(t_read_s)
        * _f(input_activity)
    )


def bitline_precharge_energy_J(
    rows: ArrayLike,
    cols: ArrayLike,
    c_wire_fF_per_cell: ArrayLike,
    v_read_V: ArrayLike,
    v_rail_V: ArrayLike,
    g_mean_uS: ArrayLike,
    t_read_s: ArrayLike,
    input_activity: ArrayLike = K.INPUT_ACTIVITY,
) -> Array:
    """A voltage-sensed read of ``cols`` bit lines, J (Yoon et al., IEEE JSSC 57(1), 2022).

    Each bit line (``rows`` cell segments of ``c_wire_fF_per_cell``, ``C_BL``) is precharged to
    ``v_read_V`` and left floating; its driven cells (``rows x input_activity`` of mean
    conductance ``g_mean_uS``) discharge it for ``t_read_s``, an RC discharge, and the rail
    ``v_rail_V`` restores the charge lost: ``C_BL V_rail V_read (1 - exp(-G t / C_BL))`` per bit
    line. A full discharge gives the bound ``C_BL V_read V_rail`` (``C V^2`` with the rail at the
    read voltage); a small swing the clamped read's ``V_read V_rail G t``."""
    c_bl = _f(rows) * _f(c_wire_fF_per_cell) * 1e-15
    gt = _f(rows) * _f(input_activity) * _f(g_mean_uS) * 1e-6 * _f(t_read_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        swing = np.where(c_bl > 0, -np.expm1(-gt / np.where(c_bl > 0, c_bl, 1.0)), 0.0)
    return _f(cols) * c_bl * _f(v_read_V) * _f(v_rail_V) * swing


def line_charge_energy_J(
    rows: ArrayLike,
    cols: ArrayLike,
    c_wire_fF_per_cell: ArrayLike,
    v_read_V: ArrayLike,
    v_gate_V: ArrayLike = 0.0,
    pulses: ArrayLike = 1.0,
) -> Array:
    """Charging the array's lines for one read, J: the driven lines to ``v_read_V`` once per input
    pulse and, for cells with an access transistor, the gate (word) lines to ``v_gate_V`` (the
    supply) once per read; each line carries ``c_wire_fF_per_cell`` per cell segment (wire plus
    device loading)."""
    c_lines = _f(rows) * _f(cols) * _f(c_wire_fF_per_cell) * 1e-15
    return c_lines * (_f(pulses) * _f(v_read_V) ** 2 + _f(v_gate_V) ** 2)


def dac_energy_J(
    rows: ArrayLike,
    cols: ArrayLike,
    dac_bits: ArrayLike,
    encoding: ArrayLike,
    c_wire_fF_per_cell: ArrayLike,
    v_read_V: ArrayLike,
    node_nm: ArrayLike,
    vdd_V: ArrayLike,
) -> Array:
    """Input drivers for one read of all ``rows``: the pulse logic per row plus driving the word
    line (``cols`` cell segments) from the supply, ``C V_read V_dd``, J.

    PWM: every clock cycle of the ``2**(bits-1)`` window each row compares its code with a shared
    counter (a ``bits``-wide compare, about an add) and clocks its output flip-flop. Amplitude
    DAC: ``bits`` switched unit elements. Bit-serial: one flip-flop per read. Pulse count: one
    flip-flop per pulse, ``2**(bits-1)`` pulses, each charging the word line.
    """
    b = _f(dac_bits)
    enc = np.asarray(encoding)
    pwm = 2.0 ** np.maximum(b - 1.0, 0.0) * (add_energy_J(b, node_nm) + flipflop_energy_J(node_nm))
    amp = b * 2.0 * flipflop_energy_J(node_nm)
    ser = flipflop_energy_J(node_nm)
    pulses = np.where(enc == ENCODING_CODE["pulse_count"], 2.0 ** np.maximum(b - 1.0, 0.0), 1.0)
    logic = np.where(enc == ENCODING_CODE["pwm"], pwm,
                     np.where(enc == ENCODING_CODE["amplitude"], amp, pulses * ser))
    drive = pulses * _f(cols) * _f(c_wire_fF_per_cell) * 1e-15 * _f(v_read_V) * _f(vdd_V)
    return _f(rows) * (logic + drive)


# -- ADCs -------------------------------------------------------------------------------------------
def adc_envelope_energy_J(bits: ArrayLike, fs_Hz: ArrayLike) -> Array:
    """ADC survey envelope (docs/references.md section 5): energy per conversion at ``bits`` and sample
    rate ``fs_Hz``. 8 bit at 1 GS/s: 0.64 pJ; 6 bit: 0.04 pJ; 10 bit: 10.2 pJ."""
    fom = np.minimum(K.ADC_FOM_A - K.ADC_FOM_B * np.log(_f(fs_Hz)), K.ADC_FOM_CAP_DB)
    sndr = 6.0206 * _f(bits) + 1.761
    return 1.0 / (2.0 * 10.0 ** ((fom - sndr) / 10.0))


def adc_energy_J(
    kind: ArrayLike,
    bits: ArrayLike,
    fs_Hz: ArrayLike,
    node_nm: ArrayLike,
    vdd_V: ArrayLike,
) -> Array:
    """Energy of one conversion by ADC kind (never below the survey envelope), J.

    - ``sar``: envelope x ``SAR_OVERHEAD`` (ISAAC's measured SAR against the envelope), and at
      least ``bits`` comparator decisions, each clocking the ``bits``-wide SAR register, plus the
      capacitive DAC (``2**bits`` unit capacitors ``C_UNIT_F`` switched to the supply);
    - ``flash``: ``2**bits - 1`` comparator decisions;
    - ``ramp`` (single-slope / charge-decrement counting): ``2**bits`` steps, each a comparator
      decision and two counter flip-flop toggles;
    - ``cco``: the oscillator runs the window at half its full-scale frequency on average,
      ``2**bits / 2`` periods of ``CCO_C_PER_PERIOD_F * Vdd^2``.
    """
    k = np.asarray(kind)
    b = _f(bits)
    env = adc_envelope_energy_J(b, fs_Hz)
    levels = 2.0**b
    v2 = _f(vdd_V) ** 2
    sar_steps = b * (comparator_energy_J(node_nm) + b * flipflop_energy_J(node_nm))
    sar = np.maximum(K.SAR_OVERHEAD * env, sar_steps + levels * K.SAR_C_UNIT_F * v2)
    flash = (levels - 1.0) * comparator_energy_J(node_nm)
    ramp = levels * (comparator_energy_J(node_nm) + 2.0 * flipflop_energy_J(node_nm))
    cco = 0.5 * levels * K.CCO_C_PER_PERIOD_F * v2
    e = np.select(
        [k == ADC_KIND_CODE["sar"], k == ADC_KIND_CODE["flash"], k == ADC_KIND_CODE["ramp"]],
        [sar, flash, ramp],
        default=cco,
    )
    return np.maximum(e, env)


def adc_area_mm2(kind: ArrayLike, bits: ArrayLike, node_nm: ArrayLike) -> Array:
    """Area of one ADC by kind, mm2.

    SAR: ISAAC's 8-bit 0.0012 mm2 at 32 nm, half capacitor array (~2**bits) and half comparator,
    references and switches (~bits), neither scaling with the node (``SAR_AREA_NODE_EXPONENT``:
    matching-limited analog, Pelgrom 1989). Flash: ``2**bits - 1`` comparators. Ramp: one comparator and a
    ``bits`` counter (the ramp generator is shared). CCO: HERMES' 4 um x 100 um at 14 nm for 12-bit
    counters, scaling with node^2, its counter part (``CCO_COUNTER_SHARE``) with ``bits``.
    """
    k = np.asarray(kind)
    b = _f(bits)
    s = node_area_scale(node_nm)
    sar = K.SAR_AREA_MM2_8B_32NM * (
        0.5 * 2.0 ** (b - 8.0)
        + 0.5 * (b / 8.0) * (_f(node_nm) / 32.0) ** K.SAR_AREA_NODE_EXPONENT
    )
    comp = K.COMPARATOR_UM2_45 * 1e-6 * s
    flash = (2.0**b - 1.0) * comp
    ramp = comp + b * 4.0 * comp / 8.0
    cco = K.CCO_AREA_MM2_14NM * (
        1.0 - K.CCO_COUNTER_SHARE + K.CCO_COUNTER_SHARE * b / K.CCO_COUNTER_BITS
    ) * s / node_area_scale(14.0)
    return np.select(
        [k == ADC_KIND_CODE["sar"], k == ADC_KIND_CODE["flash"], k == ADC_KIND_CODE["ramp"]],
        [sar, flash, ramp],
        default=cco,
    )


def sample_hold_energy_J(vdd_V: ArrayLike) -> Array:
    """Sampling one column output on its hold capacitor (C_hold Vdd^2), J."""
    return K.C_SAMPLE_HOLD_F * _f(vdd_V) ** 2


# -- devices ---------------------------------------------------------------------------------------
def device_table(kind: str) -> dict[str, float]:
    """The constants of one device kind (``analogue.cost.constants.DEVICES``)."""
    if kind not in K.DEVICES:
        raise ValueError(f"unknown device kind {kind!r}; known: {sorted(K.DEVICES)}")
    return K.DEVICES[kind]
