"""Voltage-sensed reads and SRAM cell areas from the published bit cells (issue 16).

Oracles: the RC discharge of a precharged bit line in closed form and its two limits (a full
discharge, ``C V_read V_rail``; a small swing, the clamped read's ``V_read V_rail G t``); the
published 6T cell areas at their own nodes; the chip-level model against the component function.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analogue.config import ConfigError
from analogue.config.chips import Chip
from analogue.config.technology import SRAM_6T_CELL_UM2, SRAM_CELL_X6T
from analogue.cost import chips_table, components, peak, sweep
from analogue.cost.model import chip_params, evaluate


def test_precharge_energy_is_the_rc_discharge_between_its_two_limits() -> None:
    rows, cols, c_cell, v, rail, g, t, act = 64, 8, 0.1, 0.2, 0.9, 50.0, 4e-12, 0.5  # t = RC
    c_bl = rows * c_cell * 1e-15
    gt = rows * act * g * 1e-6 * t
    e = components.bitline_precharge_energy_J(rows, cols, c_cell, v, rail, g, t, act)
    assert e == pytest.approx(cols * c_bl * v * rail * (1.0 - math.exp(-gt / c_bl)), rel=1e-12)
    # full discharge: the line's charge, C V_read V_rail (C V^2 with the rail at the read voltage)
    full = components.bitline_precharge_energy_J(rows, cols, c_cell, v, v, g, 1e-3, act)
    assert full == pytest.approx(cols * c_bl * v * v, rel=1e-12)
    # small swing: the clamped (current-mode) read's energy, V_read V_rail G t
    tiny = components.bitline_precharge_energy_J(rows, cols, c_cell, v, rail, g, 1e-15, act)
    clamped = components.crossbar_read_energy_J(rows, cols, g, v, 1e-15, act) * rail / v
    assert tiny == pytest.approx(clamped, rel=1e-6)
    # never above either bound
    assert e < cols * c_bl * v * rail
    assert e < components.crossbar_read_energy_J(rows, cols, g, v, t, act) * rail / v
    # a line without capacitance holds no charge
    assert components.bitline_precharge_energy_J(rows, cols, 0.0, v, rail, g, t, act) == 0.0


def test_voltage_sensing_replaces_only_the_ohmic_read() -> None:
    """Yoon 2021's slice read current-mode and voltage-sensed: only ``crossbar`` changes, by the
    ohmic term swapped for the discharge of the 8 bit lines."""
    entry = next(e for e in chips_table.table() if e.key == "yoon-40nm-rram")
    cur = entry.chip
    vol = cur.replace(**{"electrical.read_sensing": "voltage"})
    pc, pv = chip_params(cur), chip_params(vol)
    ec, ev = evaluate(pc)["mvm_energy_J"], evaluate(pv)["mvm_energy_J"]
    for k in ec:
        if k != "crossbar":
            assert ev[k] == pytest.approx(ec[k], rel=1e-12), k
    g_mean = pc["g_min_uS"] + (pc["g_max_uS"] - pc["g_min_uS"]) * 0.5  # WEIGHT_ACTIVITY
    lines = ec["crossbar"] - components.crossbar_read_energy_J(
        256, 8, g_mean, 0.2, 2e-9, 0.5) * 0.9 / 0.2
    sensed = components.bitline_precharge_energy_J(
        256, 8, pc["c_wire_fF_per_cell"], 0.2, 0.9, g_mean, 2e-9, 0.5)
    assert ev["crossbar"] == pytest.approx(lines + sensed, rel=1e-9)
    assert ev["crossbar"] < ec["crossbar"]
    # the default stands: every preset and table entry reads current-mode
    assert Chip.from_dict(json.loads(json.dumps(vol.to_dict()))) == vol
    assert all(e.chip.electrical.read_sensing == "current" for e in chips_table.table())
    with pytest.raises(ConfigError, match="read_sensing"):
        cur.replace(**{"electrical.read_sensing": "charge"})


def test_sram_cells_are_the_published_6t_cells_times_the_cell_multiple() -> None:
    for node, um2 in SRAM_6T_CELL_UM2.items():
        assert components.sram_cell_area_um2(node) == pytest.approx(um2, rel=1e-12)
        for cell, x in SRAM_CELL_X6T.items():
            assert components.sram_cell_area_um2(node, cell) == pytest.approx(um2 * x, rel=1e-12)
    nodes = np.array([3.0, 5.0, 10.0, 22.0, 28.0, 40.0, 65.0, 90.0, 130.0])
    a = components.sram_cell_area_um2(nodes)
    assert np.all(np.diff(a) >= 0)
    assert a[0] == pytest.approx(0.021)  # held below 5 nm (N3E keeps the N5 cell)
    assert a[-1] == pytest.approx(1.0 * (130 / 90) ** 2)  # F2 above the largest published node
    # log-log interpolation: 28 nm between Intel's 14 and 32 nm cells
    slope = math.log(0.171 / 0.0588) / math.log(32 / 14)
    assert a[4] == pytest.approx(0.0588 * (28 / 14) ** slope, rel=1e-12)
    with pytest.raises(ValueError, match="unknown SRAM cell"):
        components.sram_cell_area_um2(7.0, "7T")


def test_sram_chip_cells_scalar_and_sweep_agree() -> None:
    """A chip without a cell area takes the default 8T cell at its node, in chip_params and in
    the vectorised sweep over the node and the device."""
    base = chips_table.table()[0].chip.replace(device="sram", core_area_mm2=None)
    for node in (7.0, 22.0, 65.0):
        p = chip_params(base.replace(node_nm=node))
        assert p["cell_area_um2"] == pytest.approx(
            components.sram_cell_area_um2(node, "8T"), rel=1e-12)
    r = sweep(base, node_nm=[7.0, 65.0], device=["sram", "rram"])
    loop = [peak(base.replace(node_nm=n, device=d)).area_mm2
            for n in (7.0, 65.0) for d in ("sram", "rram")]
    np.testing.assert_allclose(r["area_mm2"], loop, rtol=1e-12)
