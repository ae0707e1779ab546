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


def test_continual_learns_on_the_torch_device(monkeypatch):
    """The digital learner (the in-memory optimizers draw their pulses from a generator on the
    weights' device, which ``meta`` has not; ``apps.inmemory_study``'s test does the same)."""
    from analogue.apps import continual as mod

    seen = {}

    def accuracy(model, task):
        seen["model"], seen["task"] = model, task
        raise Stop

    monkeypatch.setattr(mod, "_accuracy", accuracy)
    tasks = mod.make_stream("split")[:2]
    with pytest.raises(Stop):
        mod.run_stream(tasks, "digital", epochs=1, torch_device="meta")
    assert _param_devices(seen["model"]) == {META}
    assert {v.device for v in seen["task"].values()} == {META}
    assert tasks[0]["x_train"].device.type == "cpu"  # the caller's tasks are left where they are
    calls = []

    def stream(tasks, learner, **kw):
        calls.append(kw["torch_device"])
        raise Stop

    monkeypatch.setattr(mod, "run_stream", stream)
    with pytest.raises(Stop):
        mod.run_continual_study(streams=("split",), epochs=1, torch_device="meta", log=lambda _: None)
    assert calls == [META]


def test_sensor_trains_and_reads_on_the_device(monkeypatch):
    from analogue.apps import sensor as mod

    seen = {}

    def train(model, data, **kw):
        seen["model"], seen["data"] = model, data
        raise Stop

    monkeypatch.setattr(mod, "train_classifier", train)
    with pytest.raises(Stop):
        mod.run_sensor_study(repeats=1, device="meta")
    assert _param_devices(seen["model"]) == {META}
    assert {getattr(seen["data"], n).device for n in _device.SPLITS} == {META}


def test_sensor_programming_on_the_cpu_is_unchanged():
    """The sensor is programmed on the CPU and then moved: on the CPU exactly the sensor of
    ``InSensorConv2d(...).program_(seed)`` (the documented figures stand)."""
    from analogue.apps import sensor as mod
    from analogue.sensor import InSensorConv2d

    conv = mod.sensor_model(0)[0]
    got = mod._programmed(conv, mod.default_config(), seed=3)
    want = InSensorConv2d(conv, mod.default_config(), (mod.SIZE, mod.SIZE)).program_(3)
    for name in ("held", "gain", "offset_e"):
        assert torch.equal(getattr(got, name), getattr(want, name)), name
    assert not torch.equal(got.held, conv.weight)  # programming noise was drawn
    assert conv.weight.device.type == "cpu"


def test_transformers_run_on_the_device(monkeypatch):
    pytest.importorskip("transformers")
    from analogue.apps import transformers as mod

    seen = {}

    def pairs(teacher, tok):
        seen["teacher"] = teacher
        raise Stop

    monkeypatch.setattr(mod, "minilm", lambda: (torch.nn.Linear(2, 2), None))  # the packaged model is large
    monkeypatch.setattr(mod, "PairSet", pairs)
    with pytest.raises(Stop):
        mod.run_transformers(device="meta")
    assert _param_devices(seen["teacher"]) == {META}

    def train(model, ids, steps, **kw):
        seen["lm"], seen["ids"] = model, ids
        raise Stop

    monkeypatch.setattr(mod, "train_lm", train)
    with pytest.raises(Stop):
        mod.lm_table(digital_steps=1, hwa_steps=1, device="meta")
    assert _param_devices(seen["lm"]) == {META} and seen["ids"].device == META


def test_transformer_helpers_put_the_tokens_on_the_model_device():
    from analogue.apps import transformers as mod

    batch = {"input_ids": torch.ones(1, 3, dtype=torch.long)}
    assert mod._on_model(torch.nn.Linear(2, 2), batch)["input_ids"] is batch["input_ids"]  # CPU: nothing moves
    assert mod._on_model(torch.nn.Linear(2, 2).to(META), batch)["input_ids"].device == META
