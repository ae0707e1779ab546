"""Area is the silicon's: one chip, one area, whatever precision an operating point runs at
(``Periphery.adc_max_bits``), and the area component models behind it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analogue import chips
from analogue.config import ConfigError
from analogue.config.chips import ADC_KIND_CODE, Chip
from analogue.cost import components as C
from analogue.cost import constants as K
from analogue.cost import peak, sweep
from analogue.cost.chips_table import groups, table
from analogue.cost.model import chip_params, evaluate

ENTRIES = table()


@pytest.mark.parametrize("group", groups(ENTRIES))
def test_every_chip_has_one_area_whatever_its_operating_point(group: str) -> None:
    areas = {e.key: peak(e.chip).area_breakdown_mm2 for e in ENTRIES if e.group == group}
    first = next(iter(areas.values()))
    for key, a in areas.items():
        assert a == pytest.approx(first, rel=1e-12), key


def test_neurram_and_hermes_operating_points_give_one_area_each() -> None:
    for group, n in (("neurram", 2), ("hermes", 2)):
        pts = [e for e in ENTRIES if e.group == group]
        assert len(pts) == n
        assert len({e.chip.adc_bits for e in pts}) == (2 if group == "neurram" else 1)
        assert len({round(peak(e.chip).area_mm2, 12) for e in pts}) == 1


def test_neurram_converters_are_sized_for_the_ten_bit_neuron() -> None:
    """Oracle: 48 cores x 256 columns x one SAR built for 10 bits at 130 nm."""
    for op in ("3b_out_1b_in", "8b_out_6b_in"):
        ch = chips.neurram(op)
        assert ch.periphery.adc_max_bits == 10
        want = 48 * 256 * float(C.adc_area_mm2(ADC_KIND_CODE["sar"], 10, 130.0))
        assert peak(ch).area_breakdown_mm2["adc"] == pytest.approx(want, rel=1e-12)
    # the operating resolution still sets the energy
    e3 = peak(chips.neurram("3b_out_1b_in")).energy_per_mvm_J["adc"]
    e8 = peak(chips.neurram("8b_out_6b_in")).energy_per_mvm_J["adc"]
    assert e8 > e3


def test_adc_max_bits_is_validated_and_round_trips() -> None:
    ch = chips.neurram()
    assert Chip.from_dict(json.loads(json.dumps(ch.to_dict()))) == ch
    assert ch.to_dict()["periphery"]["adc_max_bits"] == 10
    for bad in (0, 17, 2.5, "8"):
        with pytest.raises(ConfigError, match="adc_max_bits"):
            ch.replace(adc_max_bits=bad)
    # None: the operating resolution sizes the converters (as before the field existed)
    free = ch.replace(adc_max_bits=None)
    want = 48 * 256 * float(C.adc_area_mm2(ADC_KIND_CODE["sar"], 3, 130.0))
    assert peak(free).area_breakdown_mm2["adc"] == pytest.approx(want, rel=1e-12)
    # an operating resolution above the built one is a redesign: converters built for it
    up = ch.replace(adc_bits=12)
    want = 48 * 256 * float(C.adc_area_mm2(ADC_KIND_CODE["sar"], 12, 130.0))
    assert peak(up).area_breakdown_mm2["adc"] == pytest.approx(want, rel=1e-12)


def test_sweep_agrees_with_peak_on_the_built_resolution() -> None:
    ch = chips.neurram()
    r = sweep(ch, adc_bits=[1, 3, 8, 10, 12], adc_max_bits=[None, 10])
    for bits, built, area in zip(r["adc_bits"], r["adc_max_bits"], r["area_mm2"]):
        one = ch.replace(adc_bits=int(bits), adc_max_bits=None if np.isnan(built) else int(built))
        assert area == pytest.approx(peak(one).area_mm2, rel=1e-12)


def test_sar_area_does_not_scale_with_the_node_and_cco_counters_with_the_bits() -> None:
    sar = ADC_KIND_CODE["sar"]
    # ISAAC's 8-bit SAR, 0.0012 mm2 at 32 nm, at any node (matching-limited analog)
    for node in (7.0, 32.0, 130.0):
        assert float(C.adc_area_mm2(sar, 8, node)) == pytest.approx(K.SAR_AREA_MM2_8B_32NM)
    # HERMES' column converter: 4 um x 100 um at 14 nm with its two 12-bit counters
    cco = ADC_KIND_CODE["cco"]
    assert float(C.adc_area_mm2(cco, 12, 14.0)) == pytest.approx(4e-3 * 100e-3)
    # 8 bits: the 56 um of regulator and oscillator plus 8/12 of the 44 um of counters
    assert float(C.adc_area_mm2(cco, 8, 14.0)) == pytest.approx(4e-3 * (56 + 44 * 8 / 12) * 1e-3)


def test_shift_add_area_is_an_adder_and_register_not_a_mac_lane() -> None:
    # Horowitz's 8-bit adder (36 um2 at 45 nm) with 3x for the register and control
    assert float(C.shift_add_area_mm2(8, 45.0)) == pytest.approx(3 * 36e-6)
    assert float(C.shift_add_area_mm2(16, 90.0)) == pytest.approx(3 * 36e-6 * 2 * 4)
    assert float(C.shift_add_area_mm2(8, 45.0)) < float(C.digital_area_mm2(1e9, 45.0))


def test_pulse_count_gated_word_lines_toggle_once_per_pulse() -> None:
    """Oracle: the crossbar component of NeuRRAM at 6-bit inputs written out by hand."""
    ch = chips.neurram("8b_out_6b_in")
    p = chip_params(ch)
    r = evaluate(p)
    rows = cols = 256
    c = 1.0e-15 * rows * cols  # 1 fF per cell segment
    pulses = 2.0 ** (6 - 1) * K.INPUT_ACTIVITY  # mean pulse count of a 6-bit input
    g_mean = float(p["g_min_uS"]) + (40.0 - float(p["g_min_uS"])) * K.WEIGHT_ACTIVITY
    t_drive = 2.0 ** 5 * 5e-9
    ohmic = rows * cols * g_mean * 1e-6 * 0.1**2 * t_drive * K.INPUT_ACTIVITY
    lines = c * (pulses * 0.1**2 + pulses * 1.2**2)  # the gates switch with every pulse
    assert float(r["mvm_energy_J"]["crossbar"]) == pytest.approx(ohmic + lines, rel=1e-12)
    # a 1-bit input is at most one pulse: the gates switch once per read, as before
    p1 = chip_params(chips.neurram("3b_out_1b_in"))
    r1 = evaluate(p1)
    ohmic1 = rows * cols * g_mean * 1e-6 * 0.1**2 * 5e-9 * K.INPUT_ACTIVITY
    lines1 = c * (0.5 * 0.1**2 + 1.2**2)
    assert float(r1["mvm_energy_J"]["crossbar"]) == pytest.approx(ohmic1 + lines1, rel=1e-12)
