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


def _tiny_bert_program(seq=20):
    import torch

    import analogue as an
    from analogue.config.attention import AttentionConfig
    from analogue.lifecycle.attention import analog_attention_

    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    c = transformers.BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=48, max_position_embeddings=24, attn_implementation="eager")
    model = transformers.BertModel(c).eval()
    ids = torch.randint(0, 40, (1, seq))
    analog_attention_(model, AttentionConfig(mode="analog", scores=an.presets.rram(), values=an.presets.rram()))
    return an.compile(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, an.chips.hermes())


def test_estimate_cost_adds_exactly_the_attention_writes_and_conversions():
    """The same compiled layer table priced with the model's attention analog and then digital:
    the energy rises by the attention figure (writes + conversions of 2 layers, 4 heads of 8, 20
    tokens, rram; the chip's ADC kind and node) plus the leakage over the write time, and the latency by the write time."""
    from analogue.config.attention import AttentionConfig
    from analogue.cost.attention import program_attention_cost
    from analogue.cost.estimate import estimate_cost
    from analogue.lifecycle.attention import analog_attention_

    prog = _tiny_bert_program()
    att = program_attention_cost(prog)
    chip = prog.chip
    ref = attention_cost(seq=20, d_head=8, heads=4, layers=2, device_kind="rram", tile_rows=256,
                         adc_kind=chip.periphery.adc_kind, node_nm=chip.node_nm)
    assert att.cells_written == ref.cells_written == 2 * 2 * 20 * 8 * 4 * 2
    assert att.analog_energy_J == pytest.approx(ref.analog_energy_J, rel=1e-12)
    assert att.write_time_s == pytest.approx(ref.write_time_s, rel=1e-12)
    analog = estimate_cost(prog)
    analog_attention_(prog.model, AttentionConfig())
    assert program_attention_cost(prog) is None
    digital = estimate_cost(prog)
    assert "attention" not in digital.energy_breakdown_J
    assert analog.energy_breakdown_J["attention"] == pytest.approx(ref.analog_energy_J, rel=1e-12)
    assert analog.latency_s - digital.latency_s == pytest.approx(ref.write_time_s, rel=1e-9)
    leak = analog.energy_breakdown_J["leakage"] - digital.energy_breakdown_J["leakage"]
    assert leak == pytest.approx(digital.energy_breakdown_J["leakage"] / digital.latency_s * ref.write_time_s, rel=1e-9)
    assert analog.energy_J - digital.energy_J == pytest.approx(ref.analog_energy_J + leak, rel=1e-9)
    assert any("analog attention writes 5120 rram cells" in n for n in analog.notes), analog.notes
