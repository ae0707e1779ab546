"""an.compile takes a converted model as it is; a digital one is converted with the chip's array
config; CompiledModel (and its deprecated alias Program)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import analogue as an
from analogue import chips
from analogue.compile import program as program_module
from analogue.data.models import small_resnet


def _converted_through_the_lifecycle() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = small_resnet(width=8).eval()
    small_tiles = an.presets.pcm(rows=128, cols=128)
    an.convert_(model, an.presets.pcm(), rules={"fc": small_tiles}, seed=3)
    x = torch.randn(4, 3, 32, 32)
    an.calibrate_(model, [x])
    an.program_(model, seed=1)
    an.drift_(model, t_s=3600.0)
    return model, x


def test_a_converted_model_compiles_as_it_is():
    model, x = _converted_through_the_lifecycle()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prog = an.compile(model, x, chips.hermes())
    assert prog.model is not model
    assert {lp.name for lp in prog.analog_layers} == set(an.analog_layers(model))
    exe = an.analog_layers(prog.model)
    for name, layer in an.analog_layers(model).items():
        assert exe[name].cfg == layer.cfg  # per-layer configs survive
    assert exe["fc"].cfg.tile.rows == 128
    state = prog.model.state_dict()  # calibration and programmed (drifted) state survive
    assert state.keys() == before.keys()
    for k, v in before.items():
        assert torch.equal(state[k], v), k
    with torch.no_grad():  # same noise streams: the same outputs, exactly
        for _ in range(2):
            assert torch.equal(prog.model(x), model(x))


def test_a_digital_model_is_converted_with_the_chips_array_config():
    torch.manual_seed(0)
    model = small_resnet(width=8).eval()
    chip = chips.mythic_m1076()
    prog = an.compile(model, torch.randn(1, 3, 32, 32), chip)
    assert not any(isinstance(m, an.AnalogLayer) for m in model.modules())  # input untouched
    layers = an.analog_layers(prog.model)
    assert layers and all(layer.cfg == chip.array for layer in layers.values())
    assert an.compile(model, torch.randn(1, 3, 32, 32), chip, build_model=False).layers == prog.layers


def test_a_converted_model_whose_tiles_do_not_fit_fails_naming_both():
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
    an.convert_(model, an.presets.standard(), rules={"2": an.presets.standard().replace(
        **{"tile.rows": 512, "tile.cols": 300})})
    small = chips.hermes()  # 256x256 arrays
    with pytest.raises(ValueError, match=r"layer '2' runs on 512x300 tiles but chip 'hermes' has 256x256 arrays"):
        an.compile(model, torch.randn(1, 64), small)
    with pytest.raises(ValueError, match="'gpu-a100' has no arrays"):
        an.compile(model, torch.randn(1, 64), chips.gpu_a100())
    fits = an.compile(model, torch.randn(1, 64), chips.mythic_m1076())  # 1024x1024 arrays
    assert an.analog_layers(fits.model)["2"].cfg.tile.rows == 512


def test_rules_and_cfg_are_refused_for_a_converted_model():
    model = an.convert_(nn.Sequential(nn.Linear(8, 4)), an.presets.standard())
    for kw in ({"rules": {"0": None}}, {"cfg": an.presets.ideal()}):
        with pytest.raises(ValueError, match="converted already"):
            an.compile(model, torch.randn(1, 8), chips.hermes(), **kw)


def test_layers_kept_digital_by_convert_stay_digital():
    model = an.convert_(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)),
                        an.presets.standard(), rules={"2": None})
    prog = an.compile(model, torch.randn(1, 8), chips.hermes())
    assert [lp.name for lp in prog.analog_layers] == ["0"]
    assert prog.layer("2").placement == "digital" and prog.layer("2").reason == "digital in the converted model"


def test_program_is_a_deprecated_alias_of_compiled_model(monkeypatch):
    monkeypatch.setattr(program_module, "_warned_program", False)
    with pytest.warns(DeprecationWarning, match="Program is now CompiledModel"):
        assert an.Program is an.CompiledModel
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: later uses are quiet
        from analogue.compile import Program
        from analogue.compile.program import Program as P2
    assert Program is P2 is an.CompiledModel
    assert "Program" not in an.__all__ and "CompiledModel" in an.__all__
