
import pytest
import torch
from torch import nn

import analogue as an


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
        nn.Sequential(nn.Conv1d(4, 4, 1)) if False else nn.Identity(),
        nn.Flatten(), nn.Linear(4 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 3),
    )


def test_convert_swaps_every_layer_and_back():
    model = _model()
    x = torch.randn(5, 1, 8, 8)
    ref = model(x)
    an.convert_(model, an.presets.ideal())
    assert isinstance(model[0], an.AnalogConv2d)
    assert isinstance(model[4], an.AnalogLinear) and isinstance(model[6], an.AnalogLinear)
    assert set(an.analog_layers(model)) == {"0", "4", "6"}
    assert model[4].layer_name == "4"
    assert torch.allclose(model(x), ref, atol=1e-5)
    an.to_digital_(model)
    assert type(model[0]) is nn.Conv2d and type(model[6]) is nn.Linear
    assert torch.allclose(model(x), ref, atol=1e-6)


def test_rules_exact_regex_and_none():
    model = _model()
    cfg6 = an.presets.standard().replace(**{"adc.bits": 6})
    an.convert_(model, an.presets.standard(), rules={"6": None, "re:[04]": cfg6})
    assert type(model[6]) is nn.Linear
    assert model[0].cfg.adc.bits == 6 and model[4].cfg.adc.bits == 6
    # re-converting an analog layer by rule, and back to digital
    an.convert_(model, an.presets.standard(), rules={"0": None})
    assert type(model[0]) is nn.Conv2d


def test_nested_names():
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2)))
    an.convert_(model, an.presets.standard(), rules={"0.1": None})
    assert isinstance(model[0][0], an.AnalogLinear) and type(model[0][1]) is nn.Linear


def test_bad_rules_fail_early():
    model = _model()
    with pytest.raises(ValueError, match="did you mean '4'"):
        an.convert_(model, an.presets.standard(), rules={"44": None})
    with pytest.raises(ValueError, match="matches no module"):
        an.convert_(model, an.presets.standard(), rules={"re:classifier.*": None})
    with pytest.raises(TypeError, match="AnalogConfig or None"):
        an.convert_(model, an.presets.standard(), rules={"4": "digital"})
    with pytest.raises(TypeError, match="cfg must be an AnalogConfig"):
        an.convert_(model, {"adc": {}})
    with pytest.raises(ValueError, match="bare layer"):
        an.convert_(nn.Linear(3, 3), an.presets.standard())


def test_unsupported_layer_named():
    model = nn.Sequential(nn.ConvTranspose2d(2, 2, 3))
    with pytest.raises(ValueError, match="ConvTranspose2d has no analog twin"):
        an.convert_(model, an.presets.standard(), rules={"0": an.presets.standard()})
    with pytest.warns(UserWarning, match="no layer is analog.*transposed convolutions are not supported"):
        an.convert_(model, an.presets.standard())  # not named by a rule: stays digital
    assert type(model[0]) is nn.ConvTranspose2d


class _Zoo(nn.Module):
    """One of each weight layer that stays digital, and one that converts."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.lstm = nn.LSTM(8, 6, batch_first=True)
        self.sub = nn.modules.linear.NonDynamicallyQuantizableLinear(6, 6)  # a Linear subclass
        self.conv3 = nn.Conv3d(1, 2, 3)
        self.deconv = nn.ConvTranspose2d(2, 3, 2)
        self.W = nn.Parameter(torch.randn(6, 6))  # a raw weight matrix of the model itself
        self.head = nn.Linear(6, 4)

    def forward(self, ids):
        h = self.emb(ids)
        h, _ = self.attn(h, h, h)
        h, _ = self.lstm(h)
        h = self.sub(h) @ self.W
        vol = self.conv3(torch.ones(1, 1, 4, 4, 4))  # (1, 2, 2, 2, 2)
        img = self.deconv(vol[:, :, 0])  # (1, 3, 3, 3)
        return self.head(h).sum() + img.sum()


def test_report_names_each_digital_layer_with_its_reason_and_counts_macs():
    model = _Zoo().eval()
    ids = torch.randint(0, 10, (2, 5))
    an.convert_(model, an.presets.ideal(), example_inputs=ids)
    rep = an.conversion_report(model, example_inputs=ids)
    assert rep.analog == ("head",) and type(model.sub) is nn.modules.linear.NonDynamicallyQuantizableLinear
    reasons = {d.name: d.reason for d in rep.digital}
    assert set(reasons) == {"", "emb", "attn", "attn.out_proj", "lstm", "sub", "conv3", "deconv"}
    assert "out_proj" in reasons["attn.out_proj"] and "reads its weight directly" in reasons["attn.out_proj"]
    assert "in_proj_weight" in reasons["attn"]
    assert "table lookup" in reasons["emb"] and "recurrent" in reasons["lstm"]
    assert "subclass of Linear" in reasons["sub"] and "3-d convolutions" in reasons["conv3"]
    assert "transposed" in reasons["deconv"] and "no analog twin" in reasons[""]  # the raw W of _Zoo
    tokens = ids.numel()
    macs = {
        "head": tokens * 6 * 4,
        "attn": tokens * 4 * 8 * 8,  # q, k, v and output projections
        "lstm": tokens * 4 * 6 * (8 + 6),
        "sub": tokens * 6 * 6,
        "conv3": 2 * 2 * 2 * 2 * 27,
        "deconv": 2 * 2 * 2 * 3 * 4,  # per input element: out channels x kernel
    }
    assert rep.analog_macs == macs["head"] and rep.total_macs == sum(macs.values())


def test_report_forward_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.BatchNorm1d(8), nn.Linear(8, 2))
    an.convert_(model, an.presets.standard())
    model.train()
    model[0].eval()
    layers = list(model)
    bn_mean = model[2].running_mean.clone()
    x = torch.randn(16, 8)
    torch.manual_seed(3)
    ref = torch.rand(1)
    torch.manual_seed(3)
    rep = an.conversion_report(model, example_inputs=x)
    assert torch.equal(torch.rand(1), ref)  # no draw from the global generator (dropout ran in eval mode)
    assert list(model) == layers and all(isinstance(model[i], an.AnalogLinear) for i in (0, 3))
    assert torch.equal(model[2].running_mean, bn_mean)
    assert [m.training for m in model] == [False, True, True, True]
    assert model[0]._stream._source is None  # no noise was drawn from the analog layers
    assert rep.mac_share == 1.0


def test_converting_nothing_warns_with_the_fix():
    with pytest.warns(UserWarning, match="rules keep every convertible layer digital"):
        an.convert_(nn.Sequential(nn.Linear(2, 2)), an.presets.standard(), rules={"0": None})
    with pytest.warns(UserWarning, match="no nn.Linear, nn.Conv1d, nn.Conv2d or transformers Conv1D layer"):
        an.convert_(nn.Sequential(nn.ReLU()), an.presets.standard())
    with pytest.warns(UserWarning, match="table lookup"):
        an.convert_(nn.Sequential(nn.Embedding(4, 2)), an.presets.standard())


def test_twins_hold_the_original_parameters():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # built before convert_
    params = list(model.parameters())
    an.convert_(model, an.presets.standard())
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))
    before = model[6].weight.detach().clone()
    model(torch.randn(4, 1, 8, 8)).square().sum().backward()
    opt.step()
    assert not torch.equal(model[6].weight, before)  # the optimizer moves the analog layer's weight
    an.to_digital_(model)
    assert type(model[6]) is nn.Linear and model[6].weight is params[-2]
    # a weight tied between two layers, and one layer registered twice, stay shared
    shared = nn.Linear(4, 4)
    tied = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 4))
    tied[3].weight = shared.weight
    an.convert_(tied, an.presets.standard())
    assert tied[0] is tied[2] and isinstance(tied[0], an.AnalogLinear)
    assert tied[3].weight is tied[0].weight
    assert an.conversion_report(tied).tied == (("0", "2", "3"),)
    an.to_digital_(tied)
    assert tied[0] is tied[2] and type(tied[0]) is nn.Linear and tied[3].weight is tied[0].weight


def test_second_convert_with_another_config_raises_and_leaves_the_model():
    model = _model()
    an.convert_(model, an.presets.ideal())
    layers = dict(an.analog_layers(model))
    with pytest.raises(ValueError, match=r"0 is already analog with another config.*rules=\{'0': cfg\}.*an\.to_digital_"):
        an.convert_(model, an.presets.standard())
    assert an.analog_layers(model) == layers  # nothing changed
    assert all(layer.cfg == an.presets.ideal() for layer in layers.values())
    # the same config again is a no-op: the same layer objects (calibration kept)
    an.convert_(model, an.presets.ideal())
    assert an.analog_layers(model) == layers
    # reconfigure through rules (the layer is rebuilt around the same Parameters), or start over
    weight = model[4].weight
    an.convert_(model, an.presets.ideal(), rules={"4": an.presets.standard()})
    assert model[4].cfg == an.presets.standard() and model[4].weight is weight and model[0] is layers["0"]
    an.convert_(an.to_digital_(model), an.presets.standard())
    assert all(layer.cfg == an.presets.standard() for layer in an.analog_layers(model).values())


def test_convert_leaves_analog_layers_it_did_not_make():
    model = nn.Sequential(an.AnalogLinear(4, 4, cfg=an.presets.ideal()), nn.Linear(4, 2))
    native = model[0]
    an.convert_(model, an.presets.standard())
    assert model[0] is native and model[0].cfg == an.presets.ideal()
    assert model[1].cfg == an.presets.standard()


def test_noise_seeds_follow_the_layer_position():
    a = an.convert_(_model(), an.presets.standard(), rules={"0": None}, seed=2)
    b = an.convert_(_model(), an.presets.standard(), seed=2)
    assert a[6].noise_seed == b[6].noise_seed == 2 * 1_000_003 + 2
