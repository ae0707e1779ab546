"""The apps run their model on the torch device they are given: model, data (and so every batch
and evaluation) live there. Checked without a GPU on the ``meta`` device (tensors without data):
each app is stopped at its first use of the model, where the model's parameters and the data must
be on ``meta``; on the CPU nothing is moved (the documented figures stand bit for bit)."""

from dataclasses import dataclass, replace
from types import SimpleNamespace

import pytest
import torch

from analogue.apps import _device
from analogue.apps._device import as_device, data_to
from analogue.data.digits import DigitsData, load_digits

META = torch.device("meta")


class Stop(Exception):
    """Raised where the app first runs its model: the test has seen what it needs."""


def _tensors(n=6):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 8, 8, generator=g), torch.arange(n) % 10


def test_data_to_moves_the_four_tensors_and_leaves_data_on_its_device_alone():
    x, y = _tensors()
    data = DigitsData(x, y, x[:2], y[:2])
    assert data_to(data, torch.device("cpu")) is data  # nothing copied on the CPU
    moved = data_to(data, META)
    assert type(moved) is DigitsData and data.x_train.device.type == "cpu"
    assert {getattr(moved, n).device for n in _device.SPLITS} == {META}
    assert moved.x_train.shape == x.shape and moved.y_test.dtype == torch.long

    @dataclass(frozen=True)
    class WithExtra:  # a user's data object: other fields come along
        x_train: torch.Tensor
        y_train: torch.Tensor
        x_test: torch.Tensor
        y_test: torch.Tensor
        name: str = "mine"

    moved = data_to(WithExtra(x, y, x, y), META)
    assert moved.name == "mine" and moved.x_test.device == META
    ns = data_to(SimpleNamespace(x_train=x, y_train=y, x_test=x, y_test=y), META)
    assert ns.y_train.device == META


def test_as_device_names_the_fix():
    assert as_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device: 'gpu7' is not a torch device; use cpu"):
        as_device("gpu7")


def _capture_model(monkeypatch, module, name, seen):
    """Wrap the model factory ``module.name`` so the test holds the model the app builds (an
    ``nn.Module.to`` moves it in place, so its parameters show where the app put it)."""
    real = getattr(module, name)

    def factory(*a, **k):
        seen["model"] = real(*a, **k)
        return seen["model"]

    monkeypatch.setattr(module, name, factory)


def _param_devices(model):
    return {p.device for p in model.parameters()}


@pytest.mark.parametrize("app", ["demo", "drift"])
def test_digits_apps_train_on_the_device(app, monkeypatch, tmp_path):
    if app == "demo":
        from analogue.apps import demo as mod
        run = lambda: mod.run_demo(tmp_path, epochs=1, progress=False, device="meta")  # noqa: E731
    else:
        from analogue.apps import drift_study as mod
        run = lambda: mod.run_drift_demo(tmp_path, epochs=1, repeats=1, progress=False, device="meta")  # noqa: E731
    seen = {}
    _capture_model(monkeypatch, mod, "digits_cnn", seen)

    def train(model, data, **kw):
        seen["trained"], seen["data"] = model, data
        raise Stop

    monkeypatch.setattr(mod, "train_classifier", train)
    with pytest.raises(Stop):
        run()
    assert seen["trained"] is seen["model"] and _param_devices(seen["model"]) == {META}
    assert {getattr(seen["data"], n).device for n in _device.SPLITS} == {META}


def test_run_training_trains_on_the_device(monkeypatch):
    from analogue.apps import TrainConfig, training

    seen = {}

    def epoch(model, data, *a, **k):
        seen["model"], seen["data"] = model, data
        raise Stop

    monkeypatch.setattr(training, "train_epoch", epoch)
    cfg = TrainConfig.from_dict({"model": {"name": "digits_cnn"}, "data": {"name": "digits"},
                                 "pretrain": {"epochs": 1}, "analog": {"preset": None}, "epochs": 0})
    with pytest.raises(Stop):
        training.run_training(cfg, progress=False, device="meta")
    assert _param_devices(seen["model"]) == {META}
    assert {getattr(seen["data"], n).device for n in _device.SPLITS} == {META}


def test_hwa_table_passes_the_device_to_training(monkeypatch):
    from analogue.apps import hwa_table

    seen = {}

    def train(cfg, **kw):
        seen.update(kw)
        raise Stop

    monkeypatch.setattr(hwa_table, "run_training", train)
    with pytest.raises(Stop):
        hwa_table.run_hwa_table(out=None, progress=False, device="meta")
    assert seen["device"] == META


def test_inmemory_mlp_trains_on_the_torch_device(monkeypatch):
    from analogue.apps import inmemory_study as mod

    seen = {}
    _capture_model(monkeypatch, mod, "digits_mlp", seen)

    @dataclass(frozen=True)
    class Seen(DigitsData):
        def batches(self, *a, **k):
            seen["data"] = self
            raise Stop

    data = load_digits(flat=True, seed=0)
    with pytest.raises(Stop):
        mod.train_digits("digital", epochs=1, data=Seen(data.x_train, data.y_train, data.x_test, data.y_test),
                         torch_device="meta")
    assert _param_devices(seen["model"]) == {META} and seen["data"].x_train.device == META


def test_inmemory_demo_passes_the_torch_device(monkeypatch):
    from analogue.apps import inmemory_study as mod

    seen = {}

    def train(name, **kw):
        seen.update(kw)
        raise Stop

    monkeypatch.setattr(mod, "train_digits", train)
    with pytest.raises(Stop):
        mod.run_inmemory_demo(["tikitaka"], epochs=1, torch_device="meta", log=lambda _: None)
    assert seen["torch_device"] == META and seen["data"].x_test.device == META


def test_beyond_trains_on_the_torch_device(monkeypatch):
    from analogue.apps import inmemory_beyond as mod

    seen = {}
    spec = mod.TASKS["transformer"]

    def model(seed):
        seen["model"] = spec.model(seed)
        return seen["model"]

    @dataclass(frozen=True)
    class Seen(DigitsData):
        def batches(self, *a, **k):
            seen["data"] = self
            raise Stop

    def data():
        d = spec.data()
        return Seen(d.x_train, d.y_train, d.x_test, d.y_test)

    monkeypatch.setitem(mod.TASKS, "transformer", replace(spec, model=model, data=data))
    with pytest.raises(Stop):
        mod.train_task("transformer", "digital", epochs=1, torch_device="meta")
    assert _param_devices(seen["model"]) == {META} and seen["data"].y_train.device == META
    calls = []

    def train(*a, **k):
        calls.append(k["torch_device"])
        raise Stop

    monkeypatch.setattr(mod, "train_task", train)
    with pytest.raises(Stop):
        mod.beyond_mlp_table(epochs=1, torch_device=META)
    assert calls == [META]


def test_attention_study_trains_on_the_device(monkeypatch):
    pytest.importorskip("transformers")
    from analogue.apps import attention_study as mod

    seen = {}

    def train(model, data, **kw):
        seen["model"], seen["data"] = model, data
        raise Stop

    monkeypatch.setattr(mod, "train_digital", train)
    with pytest.raises(Stop):
        mod.attention_study(epochs=1, device="meta")
    assert _param_devices(seen["model"]) == {META} and seen["data"].x_test.device == META
