"""The chip-level cost model, vectorised over design points.

``chip_params(chips)`` turns one or many ``Chip`` objects into a dict of NumPy arrays (one entry
per design point); ``evaluate(params)`` returns, per design point, the time and the energy
breakdown of one MVM on one array, the chip's peak throughput, power, efficiency and area
breakdown. ``analogue.cost.peak`` and ``analogue.cost.sweep`` are thin shells around it.

What one array MVM costs (J), every term a component of :mod:`analogue.cost.components`:

- ``crossbar``: ``phases x reads x (sum V^2 G t + line charging)``; a voltage-sensed read
  (``Electrical.read_sensing="voltage"``) the charge its bit lines lose instead, at most
  ``C_BL V_read V_rail`` per bit line;
- ``dac``: input drivers and pulse logic for every read;
- ``adc``: ``phases x conversions x cols`` conversions at the sample rate the timing implies;
- ``sample_hold``: every conversion of a sampling ADC (not a CCO, which integrates);
- ``shift_add``: combining bit-serial input cycles and weight bit slices digitally;
- ``accumulate``: one partial-sum addition per output (arrays tile larger layers);
- ``sram``: inputs read from and outputs written to the core's buffer;
- ``noc``: outputs sent one hop to the next core;
- ``digital``: two digital-unit operations per output (scale and activation);
- ``leakage``: static power of the periphery, SRAM and digital logic over the MVM time.

At peak every array does one MVM per ``mvm_latency_s``; ``TOPS = 2 x MACs / time`` (one MAC is
two operations, as datasheets count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from analogue.config.chips import ADC_KIND_CODE, ENCODING_CODE, Chip, mvm_timing
from analogue.cost import components as C
from analogue.cost import constants as K

ENERGY_COMPONENTS = (
    "crossbar",
    "dac",
    "adc",
    "sample_hold",
    "shift_add",
    "accumulate",
    "sram",
    "noc",
    "digital",
    "leakage",
)
AREA_COMPONENTS = ("arrays", "adc", "dac", "sample_hold", "shift_add", "sram", "digital", "other")

_DEVICE_CODE = {k: i for i, k in enumerate(K.DEVICES)}


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def pitch_c_wire_fF(cell_area_um2: Any) -> Any:
    """Line capacitance per cell segment from the cell pitch: ``WIRE_FF_PER_UM x sqrt(area)``, fF."""
    return K.WIRE_FF_PER_UM * np.sqrt(np.asarray(cell_area_um2, dtype=np.float64))


def off_state_uS(g_min_dev_uS: Any, g_max_dev_uS: Any, g_max_uS: Any) -> Any:
    """Off-state conductance of a cross-point whose full scale is ``g_max_uS``, uS.

    The technology's off state (``DEVICES[kind]["g_min_uS"]``), except that a full scale below the
    technology's keeps the technology's on/off ratio: ``min(g_min_dev, g_max g_min_dev /
    g_max_dev)``. A cell read at a lower full scale (NeuRRAM's 40 uS RRAM window, 2.5-40 uS in
    its ``AnalogConfig`` preset; a resistance-sum string of MTJs, whose on and off resistances both
    add) does not keep the device's off state above its own full scale.
    """
    g_min = np.asarray(g_min_dev_uS, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(np.asarray(g_max_dev_uS) > 0,
                          np.asarray(g_max_uS) * g_min / np.asarray(g_max_dev_uS), g_min)
    return np.minimum(g_min, scaled)


def default_cell_area_um2(device_code: Any, node_nm: Any) -> np.ndarray:
    """A cross-point's area where the chip gives none, um2: the device table's ``cell_F2`` times
    F2, except SRAM, whose cell is the node's published 6T cell times the default compute cell's
    multiple (``components.sram_cell_area_um2``, ``SRAM_DEFAULT_CELL``)."""
    code = np.asarray(device_code, dtype=np.float64)
    f2 = np.array([K.DEVICES[k]["cell_F2"] for k in K.DEVICES])[code.astype(int)]
    f_um = np.asarray(node_nm, dtype=np.float64) * 1e-3
    sram = C.sram_cell_area_um2(node_nm, K.SRAM_DEFAULT_CELL)
    return np.where(code == _DEVICE_CODE["sram"], sram, f2 * f_um**2)


def chip_params(chips: Chip | Sequence[Chip]) -> dict[str, np.ndarray]:
    """Numeric parameters of one chip (0-d arrays) or many (1-d arrays), device constants resolved.

    Fields left ``None`` on the chip become NaN and are derived in :func:`evaluate`.
    """
    single = isinstance(chips, Chip)
    seq = [chips] if single else list(chips)
    rows: dict[str, list[float]] = {}

    def put(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    for ch in seq:
        dev = K.DEVICES[ch.device]
        org, pe, el, dig = ch.organisation, ch.periphery, ch.electrical, ch.digital
        put("node_nm", ch.node_nm)
        put("supply_V", el.supply_V)
        put("n_cores", org.n_cores)
        put("arrays_per_core", org.arrays_per_core)
        put("rows", ch.array_rows)
        put("cols", ch.array_cols)
        put("cells_per_weight", org.cells_per_weight)
        put("differential", float(org.weight_mapping == "differential"))
        put("slice_analog", float(org.slice_combining == "analog"))
        put("weight_bits", org.weight_bits)
        put("dac_bits", ch.dac_bits)
        put("bits_per_cycle", ch.bits_per_cycle)
        put("encoding", ENCODING_CODE[pe.input_encoding])
        put("adc_bits", ch.adc_bits)
        put("adc_kind", ADC_KIND_CODE[pe.adc_kind])
        put("adc_max_bits", _nan(pe.adc_max_bits))
        put("columns_per_adc", pe.columns_per_adc)
        put("clock_hz", pe.clock_hz)
        put("mvm_time_s", _nan(pe.mvm_time_s))
        put("input_phases", pe.input_phases)
        put("sram_bytes_per_core", org.sram_bytes_per_core)
        put("t_read_s", pe.t_read_s)
        put("v_read_V", el.v_read_V)
        put("read_supply_V", el.v_read_V if el.read_supply_V is None else el.read_supply_V)
        put("bias_uW_per_column", el.bias_uW_per_column)
        put("post_ops_per_output", dig.post_ops_per_output)
        put("gated_cells", float(el.gated_cells))
        put("voltage_sensing", float(el.read_sensing == "voltage"))
        # the array's full scale (its AnalogConfig); an all-digital chip's arrays conduct nothing
        g_max = ch.g_max_uS if ch.is_analog else dev["g_max_uS"]
        put("g_max_uS", g_max)
        put("g_min_uS", off_state_uS(dev["g_min_uS"], dev["g_max_uS"], g_max))
        put("device", _DEVICE_CODE[ch.device])
        cell = org.cell_area_um2
        cell_um2 = (float(default_cell_area_um2(_DEVICE_CODE[ch.device], ch.node_nm))
                    if cell is None else cell)
        put("cell_area_um2", cell_um2)
        c_wire = el.c_wire_fF_per_cell
        put("c_wire_fF_per_cell", pitch_c_wire_fF(cell_um2) if c_wire is None else c_wire)
        put("noc_pJ_per_bit_mm", _nan(el.noc_pJ_per_bit_mm))
        put("core_area_mm2", _nan(org.core_area_mm2))
        put("dig_ops_per_s", dig.ops_per_s)
        put("dig_node_nm", dig.node_nm)
        put("dig_pJ_per_op", _nan(dig.pJ_per_op))
        put("dig_area_mm2", _nan(dig.area_mm2))
        put("dig_op_bits", dig.op_bits)
    out = {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()}
    if single:
        out = {k: v[0] for k, v in out.items()}
    return out


def timing(p: dict[str, Any]) -> dict[str, np.ndarray]:
    """:func:`analogue.config.chips.mvm_timing` (the one timing model) of every design point in ``p``."""
    return mvm_timing(
        encoding=p["encoding"], dac_bits=p["dac_bits"], clock_hz=p["clock_hz"],
        t_read_s=p["t_read_s"], adc_kind=p["adc_kind"], adc_bits=p["adc_bits"],
        columns_per_adc=p["columns_per_adc"], input_phases=p["input_phases"],
        mvm_time_s=p["mvm_time_s"], bits_per_cycle=p["bits_per_cycle"],
    )


def digital_pJ_per_op(p: dict[str, Any]) -> np.ndarray:
    """Energy per digital-unit operation (given, or derived from its node and width), pJ."""
    derived = C.digital_op_energy_J(p["dig_op_bits"], p["dig_node_nm"]) * 1e12
    given = np.asarray(p["dig_pJ_per_op"], dtype=np.float64)
    return np.where(np.isnan(given), derived, given)


def digital_unit_area_mm2(p: dict[str, Any]) -> np.ndarray:
    """Area of the digital unit (given, or derived from its throughput and node), mm2."""
    derived = C.digital_area_mm2(p["dig_ops_per_s"], p["dig_node_nm"])
    given = np.asarray(p["dig_area_mm2"], dtype=np.float64)
    return np.where(np.isnan(given), derived, given)


def array_energy(
    p: dict[str, Any],
    rows: Any,
    cols: Any,
    tm: dict[str, np.ndarray] | None = None,
    input_activity: float = K.INPUT_ACTIVITY,
    weight_activity: float = K.WEIGHT_ACTIVITY,
    slices: bool = True,
) -> dict[str, np.ndarray]:
    """Energy of one MVM on one array of which ``rows x cols`` cells are driven and converted, J.

    Components ``crossbar``, ``dac``, ``adc``, ``sample_hold``, ``shift_add`` (combining
    bit-serial input cycles and, if ``slices``, the ``cells_per_weight`` bit slices). ``rows``
    and ``cols`` broadcast against the parameters (e.g. one entry per placed block).
    """
    tm = timing(p) if tm is None else tm
    node, vdd = p["node_nm"], p["supply_V"]
    R, Cc = np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
    phases, reads, convs = p["input_phases"], tm["reads"], tm["convs"]
    # a differential pair holds the magnitude on one side, the other at g_min (Joshi et al.,
    # Nat. Commun. 11, 2020; Wan et al., Nature 608, 2022): half the range on average
    side = 1.0 - 0.5 * p["differential"]
    g_mean = p["g_min_uS"] + (p["g_max_uS"] - p["g_min_uS"]) * weight_activity * side
    n_read = phases * reads
    # converted signals: every column, or one per weight when its cells are summed before the ADC
    conv_cols = converted_columns(p, Cc)
    n_conv = phases * convs * conv_cols
    # the read current I = V_read G flows for the drive time and is drawn from its rail
    ohmic = C.crossbar_read_energy_J(R, Cc, g_mean, p["v_read_V"], tm["t_drive_s"], input_activity)
    v_gate = np.where(p["gated_cells"] > 0, vdd, 0.0)
    # pulse-count inputs charge the driven lines once per pulse, as many as the input's magnitude
    pulses = np.where(
        p["encoding"] == ENCODING_CODE["pulse_count"],
        2.0 ** np.maximum(p["dac_bits"] - 1.0, 0.0) * input_activity,
        1.0,
    )
    lines = C.line_charge_energy_J(R, Cc, p["c_wire_fF_per_cell"], p["v_read_V"], v_gate, pulses)
    # a 1T1R cell's input pulse is its access gate opening: the word lines toggle once per pulse
    # (NeuRRAM: the word lines are switched once per input bit step; CiMLoop's model of it)
    pulsed_gates = (p["encoding"] == ENCODING_CODE["pulse_count"]) & (p["gated_cells"] > 0) & (
        p["v_read_V"] < vdd)
    lines = lines + np.where(pulsed_gates, C.line_charge_energy_J(
        R, Cc, p["c_wire_fF_per_cell"], 0.0, v_gate, 1.0) * np.maximum(pulses - 1.0, 0.0), 0.0)
    # a voltage-sensed read (Yoon et al., JSSC 57(1), 2022) precharges each bit line to the read
    # voltage and lets the cells discharge it: at most C_BL V_read from the rail per access (an
    # RC discharge between that bound and the clamped read's V^2 G t)
    sensed = C.bitline_precharge_energy_J(R, Cc, p["c_wire_fF_per_cell"], p["v_read_V"],
                                          p["read_supply_V"], g_mean, tm["t_drive_s"],
                                          input_activity)
    read = np.where(p["voltage_sensing"] > 0, sensed,
                    ohmic * p["read_supply_V"] / p["v_read_V"])
    e: dict[str, np.ndarray] = {}
    e["crossbar"] = n_read * (read + lines)
    e["dac"] = n_read * C.dac_energy_J(
        R, Cc, p["dac_bits"], p["encoding"], p["c_wire_fF_per_cell"], p["v_read_V"], node, vdd
    )
    # sample rate of one ADC: its conversions spread over the MVM time
    lat = tm["mvm_latency_s"]
    fs = phases * convs * p["columns_per_adc"] / np.maximum(lat, 1e-15)
    e["adc"] = n_conv * C.adc_energy_J(p["adc_kind"], p["adc_bits"], fs, node, vdd)
    # an amplifier-based comparator is biased while it converts
    t_converting = phases * convs * p["columns_per_adc"] * tm["t_conv_s"]
    e["adc"] = e["adc"] + conv_cols * p["bias_uW_per_column"] * 1e-6 * t_converting
    samples = p["adc_kind"] != ADC_KIND_CODE["cco"]
    e["sample_hold"] = np.where(samples, n_conv * C.sample_hold_energy_J(vdd), 0.0)
    cpw = np.where(p["slice_analog"] > 0, 1.0, p["cells_per_weight"]) if slices else 1.0
    combine = (convs > 1) | (np.asarray(cpw) > 1)
    sa_bits = p["adc_bits"] + np.log2(np.maximum(convs * cpw, 1.0))
    e["shift_add"] = np.where(combine, n_conv * C.add_energy_J(sa_bits, node), 0.0)
    return e


def physical_adc_bits(p: dict[str, Any]) -> np.ndarray:
    """Resolution the converters are built for, what sizes their area: ``Periphery.adc_max_bits``
    (NaN: none given) or the operating ``adc_bits`` where that is higher (a redesign)."""
    built = np.asarray(p.get("adc_max_bits", np.nan), dtype=np.float64)
    return np.fmax(built, p["adc_bits"])


def converted_columns(p: dict[str, Any], cols: Any) -> np.ndarray:
    """Signals converted per read of ``cols`` columns: the columns, or one per weight
    (``cols / cells_per_weight``) when a weight's cells are combined before conversion
    (``Organisation.slice_combining="analog"``)."""
    c = np.asarray(cols, dtype=np.float64)
    return np.where(p["slice_analog"] > 0, c / p["cells_per_weight"], c)


def evaluate(
    p: dict[str, Any],
    input_activity: float = K.INPUT_ACTIVITY,
    weight_activity: float = K.WEIGHT_ACTIVITY,
) -> dict[str, Any]:
    """Cost of one array MVM and the chip's peak figures, for every design point in ``p``.

    Returns a dict with ``mvm_latency_s``, ``mvm_energy_J`` (dict per component, J per array
    MVM), ``macs_per_mvm``, ``tops``, ``power_W``, ``tops_per_W``, ``energy_per_mac_J``,
    ``area_mm2`` (dict per component, chip total in ``"total"``), ``core_area_mm2``,
    ``tops_per_mm2``. All values are arrays shaped like the inputs.
    """
    tm = timing(p)
    node, vdd = p["node_nm"], p["supply_V"]
    R, Cc, cpw = p["rows"], p["cols"], p["cells_per_weight"]
    phases = p["input_phases"]
    convs = tm["convs"]
    outputs = R * 0.0 + np.floor(Cc / cpw)
    macs = R * outputs
    lat = tm["mvm_latency_s"]

    e = array_energy(p, R, Cc, tm, input_activity, weight_activity)
    cpw_digital = np.where(p["slice_analog"] > 0, 1.0, cpw)
    combine = (convs > 1) | (cpw_digital > 1)
    samples = p["adc_kind"] != ADC_KIND_CODE["cco"]
    acc_bits = p["adc_bits"] + 8.0
    e["accumulate"] = outputs * phases * C.add_energy_J(acc_bits, node)
    e_sram_bit = C.sram_energy_per_bit_J(p["sram_bytes_per_core"], node)
    has_sram = p["sram_bytes_per_core"] > 0
    e["sram"] = np.where(has_sram, (R * p["dac_bits"] + outputs * p["adc_bits"]) * e_sram_bit, 0.0)

    # -- area ---------------------------------------------------------------------------------
    a: dict[str, np.ndarray] = {}
    apc = p["arrays_per_core"]
    conv_cols = converted_columns(p, Cc)
    n_adc = np.ceil(conv_cols / p["columns_per_adc"])
    a["arrays"] = apc * R * Cc * p["cell_area_um2"] * 1e-6
    # the silicon's converters: built for adc_max_bits whatever resolution this operating point
    # reads out (one chip, one area)
    built_bits = physical_adc_bits(p)
    a["adc"] = apc * n_adc * C.adc_area_mm2(p["adc_kind"], built_bits, node)
    a["dac"] = apc * R * 4.0 * K.COMPARATOR_UM2_45 * 1e-6 * C.node_area_scale(node) / 4.0
    a["sample_hold"] = np.where(samples, apc * conv_cols * K.SAMPLE_HOLD_UM2_45 * 1e-6, 0.0)
    area_sa_bits = built_bits + np.log2(np.maximum(convs * cpw_digital, 1.0))
    a["shift_add"] = np.where(
        combine, apc * n_adc * C.shift_add_area_mm2(area_sa_bits, node), 0.0
    )
    a["sram"] = C.sram_area_mm2(p["sram_bytes_per_core"], node)
    n_cores = p["n_cores"]
    dig_area = digital_unit_area_mm2(p)
    a["digital"] = dig_area / n_cores  # per-core share of the digital unit
    core_parts = sum(a.values())
    given_core = np.asarray(p["core_area_mm2"], dtype=np.float64)
    core_area = np.where(np.isnan(given_core), core_parts, given_core)
    a["other"] = np.maximum(core_area - core_parts, 0.0)
    core_area = np.maximum(core_area, core_parts)

    hop_mm = np.sqrt(core_area)
    noc_bit = C.noc_energy_per_bit_J(hop_mm, node, vdd)
    given_noc = np.asarray(p["noc_pJ_per_bit_mm"], dtype=np.float64)
    noc_bit = np.where(np.isnan(given_noc), noc_bit, np.nan_to_num(given_noc) * 1e-12 * hop_mm)
    e["noc"] = outputs * p["adc_bits"] * noc_bit
    e["digital"] = outputs * p["post_ops_per_output"] * digital_pJ_per_op(p) * 1e-12
    # periphery, SRAM and digital logic leak; the non-volatile arrays do not
    logic_area = np.maximum(core_area - a["arrays"], 0.0)
    leak_W_core = C.leakage_W_per_mm2(node) * logic_area
    e["leakage"] = leak_W_core / np.maximum(apc, 1.0) * lat

    mvm_energy = sum(e.values())
    analog = apc > 0
    n_arrays = n_cores * apc
    with np.errstate(divide="ignore", invalid="ignore"):
        ops_analog = np.where(analog, 2.0 * macs * n_arrays / np.where(analog, lat, 1.0), 0.0)
        power_analog = np.where(analog, n_arrays * mvm_energy / np.where(analog, lat, 1.0), 0.0)
    dig_ops = np.asarray(p["dig_ops_per_s"], dtype=np.float64)
    dig_power = dig_ops * digital_pJ_per_op(p) * 1e-12
    # an all-digital chip's peak is its digital unit; an analog chip's is its arrays
    ops = np.where(analog, ops_analog, dig_ops)
    power = np.where(analog, power_analog, dig_power)
    area_total = np.where(analog, n_cores * core_area, dig_area)
    areas = {k: np.where(analog, n_cores * v, 0.0) for k, v in a.items()}
    areas["digital"] = np.where(analog, areas["digital"], dig_area)
    areas["total"] = area_total
    return {
        "mvm_latency_s": lat,
        "mvm_energy_J": e,
        "macs_per_mvm": macs,
        "tops": ops / 1e12,
        "power_W": power,
        "tops_per_W": ops / 1e12 / np.maximum(power, 1e-30),
        "energy_per_mac_J": 2.0 * power / np.maximum(ops, 1e-30),
        "area_mm2": areas,
        "core_area_mm2": core_area,
        "leakage_W": np.where(analog, n_cores * leak_W_core, 0.0),
        "tops_per_mm2": ops / 1e12 / np.maximum(area_total, 1e-30),
    }
