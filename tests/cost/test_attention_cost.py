"""The cost of analog attention's per-inference writes, on a hand-worked case."""

import math

import pytest

from analogue.config import ConfigError
from analogue.config.chips import ADC_KIND_CODE
from analogue.config.technology import DEVICES, ENDURANCE_CYCLES
from analogue.cost import components as C
from analogue.cost.attention import attention_cost


def test_hand_case_rram():
    # seq 10, d_head 4, 2 heads, 3 layers, tiles of 8 rows: K^T (4 rows) one block, V (10 rows) two
    c = attention_cost(seq=10, d_head=4, heads=2, layers=3, device_kind="rram", tile_rows=8,
                       inferences_per_s=10.0)
    assert c.cells_written == 2 * 2 * 10 * 4 * 2 * 3 == 960
    assert c.write_energy_J == pytest.approx(960 * 50e-12)
    assert c.write_time_s == pytest.approx(3 * 10 * 2e-6)  # max(4, 10) rows per layer, 3 layers
    assert c.conversions == 2 * 3 * (10 * 10 * 1 + 10 * 4 * 2) == 1080
    e_adc = float(C.adc_energy_J(ADC_KIND_CODE["sar"], 8, 1e9, 14.0, float(C.node_vdd_V(14.0))))
    assert c.convert_energy_J == pytest.approx(1080 * e_adc)
    assert c.analog_energy_J == pytest.approx(c.write_energy_J + c.convert_energy_J)
    assert c.digital_macs == 2 * 10 * 10 * 4 * 2 * 3
    assert c.digital_energy_J == pytest.approx(c.digital_macs * float(C.digital_op_energy_J(8, 14.0)))
    assert c.lifetime_inferences == ENDURANCE_CYCLES["rram"] == 1e6
    assert c.lifetime_days == pytest.approx(1e6 / (10.0 * 86_400))
    assert DEVICES["rram"]["program_J"] == 50e-12 and DEVICES["rram"]["program_row_s"] == 2e-6


def test_unlimited_endurance_and_no_rate():
    c = attention_cost(seq=4, d_head=4, heads=1, layers=1, device_kind="sram")
    assert math.isinf(c.lifetime_inferences) and c.lifetime_days is None
    assert c.to_dict()["device_kind"] == "sram"



def test_sram_writes_are_not_free():
    """An SRAM write costs an SRAM access: 10 pJ per 64 bits of an 8 KB array at 45 nm (Horowitz,
    ISSCC 2014; docs/references.md section 8), one row per 2 ns."""
    c = attention_cost(seq=10, d_head=4, heads=2, layers=3, device_kind="sram", tile_rows=8)
    assert c.cells_written == 960
    assert c.write_energy_J == pytest.approx(960 * 10e-12 / 64)
    assert c.write_time_s == pytest.approx(3 * 10 * 2e-9)


@pytest.mark.parametrize("kw,match", [({"seq": 0}, "seq"), ({"device_kind": "dram"}, "device_kind"),
                                      ({"adc_kind": "pipeline"}, "adc_kind"),
                                      ({"inferences_per_s": -1.0}, "inferences_per_s")])
def test_bad_arguments_name_the_field(kw, match):
    args = dict(seq=4, d_head=4, heads=1, layers=1, device_kind="pcm") | kw
    with pytest.raises(ConfigError, match=match):
        attention_cost(**args)
