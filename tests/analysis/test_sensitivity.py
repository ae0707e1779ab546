"""Per-layer sensitivity and the hybrid placement policy."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import analogue as an
from analogue.analysis.hybrid import apply_hybrid_, plan_hybrid
from analogue.analysis.sensitivity import (
    LayerSensitivity,
    SensitivityResult,
    count_macs,
    sensitivity,
)
from analogue.data import digits_cnn
from analogue.data.models import small_resnet, tiny_transformer_encoder
from analogue.nn.int8 import Int8Conv2d, Int8Linear


def _trained_state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_count_macs_by_hand():
    macs = count_macs(digits_cnn(0), torch.rand(4, 1, 8, 8))
    # conv 1->16 3x3 on 8x8 (same), conv 16->32 3x3 on 8x8, linear 512->64, linear 64->10
    assert macs == {"0": 64 * 16 * 9, "2": 64 * 32 * 144, "6": 512 * 64, "8": 64 * 10}


def test_ideal_tiles_lose_nothing_and_the_model_is_restored():
    torch.manual_seed(0)
    model = digits_cnn(0).eval()
    before = _trained_state(model)
    x = torch.rand(64, 1, 8, 8)
    y = model(x).argmax(1)
    res = sensitivity(model, (x, y), an.presets.ideal(), n_seeds=3)
    assert {s.name for s in res.layers} == {"0", "2", "6", "8"}
    assert res.baseline == 1.0
    assert all(s.degradation == 0.0 and s.metric_std == 0.0 for s in res.layers)
    err = sensitivity(model, x, an.presets.ideal(), metric="output_error", n_seeds=2)
    assert all(s.degradation < 1e-5 for s in err.layers)
    assert all(type(m) in (torch.nn.Conv2d, torch.nn.Linear, torch.nn.ReLU, torch.nn.MaxPool2d,
                           torch.nn.Flatten, torch.nn.Sequential) for m in model.modules())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert math.isclose(sum(s.mac_fraction for s in res.layers), 1.0)


def test_noisier_analog_costs_more_and_the_spread_is_measured():
    torch.manual_seed(0)
    model = digits_cnn(0).eval()
    x = torch.rand(128, 1, 8, 8)
    pcm = an.presets.pcm()
    early = sensitivity(model, x, pcm, metric="output_error", n_seeds=4, t_s=1.0)
    late = sensitivity(model, x, pcm, metric="output_error", n_seeds=4, t_s=31_536_000.0,
                       compensation="none")
    for a, b in zip(early.layers, late.layers):
        assert b.degradation > a.degradation > 0  # uncompensated drift for a year hurts more
        assert a.metric_std > 0 and a.n_seeds == 4


def test_bad_inputs_fail_early():
    model = digits_cnn(0)
    x = torch.rand(8, 1, 8, 8)
    with pytest.raises(ValueError, match="labels"):
        sensitivity(model, x, an.presets.standard())
    with pytest.raises(ValueError, match="metric"):
        sensitivity(model, x, an.presets.standard(), metric="f1")
    with pytest.raises(ValueError, match="not a plain"):
        sensitivity(model, x, an.presets.standard(), metric="output_error", layers=["1"])
    with pytest.raises(ValueError, match="digital model"):
        sensitivity(an.convert_(digits_cnn(0), an.presets.standard()), x, an.presets.standard(),
                    metric="output_error")


def _fake(degr, macs, sem=None):
    total = sum(macs)
    layers = tuple(LayerSensitivity(f"l{i}", "Linear", m, m / total, 0.0, 0.0, d,
                                    0.0 if sem is None else sem[i], 10)
                   for i, (d, m) in enumerate(zip(degr, macs)))
    return SensitivityResult("loss", 0.0, 0.0, layers, {})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1.0, 5.0), st.integers(1, 1000)), min_size=1, max_size=8),
       st.floats(0.0, 1.0), st.one_of(st.none(), st.integers(0, 4)))
def test_policy_respects_its_budget_and_is_optimal(layers, frac, max_layers):
    degr, macs = zip(*layers)
    plan = plan_hybrid(_fake(degr, macs), min_analog_mac_fraction=frac, max_digital_layers=max_layers,
                       significance=0.0)
    total = sum(macs)
    digital_macs = sum(m for (d, m), i in zip(layers, range(len(layers))) if f"l{i}" in plan.digital)
    assert plan.analog_mac_fraction >= frac - 1e-9
    assert math.isclose(plan.analog_mac_fraction, 1 - digital_macs / total)
    assert max_layers is None or len(plan.digital) <= max_layers
    assert set(plan.rules) == set(plan.digital) and all(v is None for v in plan.rules.values())
    # brute force over every subset: no feasible subset removes more degradation
    best = 0.0
    for r in range(len(layers) + 1):
        for sub in itertools.combinations(range(len(layers)), r):
            if max_layers is not None and r > max_layers:
                continue
            if sum(macs[i] for i in sub) <= (1 - frac) * total + 1e-9 * total:
                best = max(best, sum(max(degr[i], 0.0) for i in sub if degr[i] > 0))
    assert plan.removed_degradation == pytest.approx(best, abs=1e-9)


def test_insignificant_layers_stay_analog():
    sens = _fake([0.5, 0.01, 0.3], [10, 10, 10], sem=[0.1, 0.02, 0.2])
    plan = plan_hybrid(sens, min_analog_mac_fraction=0.0, significance=2.0)
    assert plan.digital == ("l0",)  # l1 is within noise (0.01 < 2 x 0.02), l2 too (0.3 < 0.4)


def test_resnet_sensitivity_and_hybrid_placement():
    torch.manual_seed(0)
    model = small_resnet(10, 3, 8).eval()
    x = torch.rand(16, 3, 16, 16)
    sens = sensitivity(model, x, an.presets.pcm(), metric="output_error", n_seeds=3, t_s=86_400.0)
    convs = [n for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert [s.name for s in sens.layers] == convs
    plan = plan_hybrid(sens, min_analog_mac_fraction=0.95)
    assert plan.analog_mac_fraction >= 0.95
    assert plan.digital, "some layer is worth keeping digital within 5 % of the MACs"
    # the policy spends the budget on the layers with the most degradation per MAC
    by = sens.by_name()
    per_mac = sorted(sens.layers, key=lambda s: -s.degradation / s.macs)
    assert per_mac[0].name in plan.digital or per_mac[0].macs > 0.05 * sens.total_macs
    assert {r["placement"] for r in plan.table()} <= {"analog", "digital (int8)"}
    hybrid = apply_hybrid_(model, an.presets.pcm(), plan)
    for name in plan.digital:
        assert isinstance(dict(hybrid.named_modules())[name], (Int8Conv2d, Int8Linear))
    analog = set(an.analog_layers(hybrid))
    assert analog == set(convs) - set(plan.digital)
    assert hybrid(x).shape == (16, 10)
    assert all(by[n].degradation > 0 for n in plan.digital)


def test_transformer_encoder_sensitivity_and_hybrid_placement():
    torch.manual_seed(0)
    model = tiny_transformer_encoder(vocab_size=100, hidden_size=32, num_layers=2, num_heads=2,
                                     intermediate_size=64, max_positions=32)
    ids = torch.randint(0, 100, (8, 16))
    sens = sensitivity(model, {"input_ids": ids}, an.presets.pcm(), metric="output_error", n_seeds=2,
                       t_s=86_400.0)
    names = [s.name for s in sens.layers]
    assert any("attention.self.query" in n for n in names) and any("intermediate.dense" in n for n in names)
    by = sens.by_name()
    assert all(by[n].degradation > 0 for n in names if n.startswith("encoder."))
    assert by["pooler.dense"].degradation == 0.0  # the metric reads last_hidden_state, before the pooler
    plan = plan_hybrid(sens, min_analog_mac_fraction=0.9, max_digital_layers=3)
    assert plan.analog_mac_fraction >= 0.9 and 1 <= len(plan.digital) <= 3
    hybrid = apply_hybrid_(model, an.presets.pcm(), plan)
    out = hybrid(input_ids=ids).last_hidden_state
    assert out.shape == (8, 16, 32) and torch.isfinite(out).all()
