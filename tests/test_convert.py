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
    an.convert_(model, an.presets.standard())  # not named by a rule: stays digital
    assert type(model[0]) is nn.ConvTranspose2d
