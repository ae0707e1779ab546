"""The Lightning callback: conversion at setup, clipping after each step, distillation, drift
metrics at the chosen times -- a few steps of a tiny MLP on digits, on the CPU."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import analogue as an
from analogue.data import load_digits
from analogue.nn import AnalogLinear
from analogue.train import HWAOptions

L = pytest.importorskip("lightning.pytorch")
from analogue.integrations.lightning import AnalogCallback  # noqa: E402


class Net(L.LightningModule):
    def __init__(self, analog: AnalogCallback) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        self.analog = [analog]  # a list: not a submodule, not a hyperparameter

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.analog[0].loss(self(x), x, y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Record(L.Callback):
    """Placed before the analog callback: sees each step's weights before they are clipped."""

    def __init__(self) -> None:
        self.before_clip: list[dict[str, torch.Tensor]] = []
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.before_clip.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()
                                 if k.endswith("weight")})
        self.losses.append(float(outputs["loss"]))


@pytest.fixture(scope="module")
def digits():
    d = load_digits(flat=True)
    return d


def _loader(x, y, batch=64):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)


def _fit(analog: AnalogCallback, digits, steps: int, val: bool = False) -> tuple[Net, Record]:
    model, rec = Net(analog), Record()
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=steps, callbacks=[rec, analog], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=1 if val else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, _loader(digits.x_train, digits.y_train),
                    _loader(digits.x_test[:128], digits.y_test[:128], 128) if val else None)
    model.trainer_metrics = dict(trainer.callback_metrics)
    return model, rec


def test_converts_and_clips_after_every_step(digits):
    sigma = 1.5
    analog = AnalogCallback(an.presets.standard(), HWAOptions(weight_noise_rel=0.02, clip_weights_sigma=sigma),
                            calibration_data=digits.x_train[:256])
    model, rec = _fit(analog, digits, steps=4)
    assert all(isinstance(m, AnalogLinear) for m in (model.net[0], model.net[2]))
    assert model.net[0].weight_perturbation is not None  # the HWA noise is installed
    assert len(rec.before_clip) == 4
    final = {k: v for k, v in model.state_dict().items() if k.endswith("weight")}
    for name, w_pre in rec.before_clip[-1].items():  # an independent clip of the last step's weights
        bound = sigma * w_pre.std(dim=1, unbiased=False, keepdim=True)
        expect = torch.maximum(torch.minimum(w_pre, bound), -bound)
        assert (expect != w_pre).any(), name  # clipping did something
        torch.testing.assert_close(final[name], expect, rtol=0, atol=1e-6)


def test_distillation_term_vanishes_when_student_equals_teacher(digits):
    # ideal(): the analog layer equals its digital twin, so at the first step the student is the
    # teacher and a loss of pure distillation (alpha = 1) is KL(teacher || student) = 0
    distill = AnalogCallback(an.presets.ideal(), HWAOptions(distill_alpha=1.0, distill_T=2.0))
    _, rec = _fit(distill, digits, steps=2)
    assert distill.recipe.teacher is not None
    assert not any(p.requires_grad for p in distill.recipe.teacher.parameters())
    assert abs(rec.losses[0]) < 1e-6
    plain = AnalogCallback(an.presets.ideal(), HWAOptions(distill_alpha=0.0))
    _, rec_ce = _fit(plain, digits, steps=1)
    assert rec_ce.losses[0] > 1.0  # cross-entropy of an untrained 10-class model: about ln 10
    assert plain.recipe.teacher is None


def test_drift_metrics_logged_at_the_chosen_times(digits):
    times = (3600.0, 86_400.0)
    val = (digits.x_test[:128], digits.y_test[:128])
    analog = AnalogCallback(an.presets.pcm(), HWAOptions(clip_weights_sigma=2.5), drift_data=val,
                            drift_times_s=times, drift_repeats=2, calibration_data=digits.x_train[:256])
    model, _ = _fit(analog, digits, steps=3, val=True)
    logged = {k: float(v) for k, v in model.trainer_metrics.items() if "@" in k}
    assert set(logged) == {"val_acc@1h", "val_acc@1d"}
    ref = an.analysis.accuracy_over_time(copy.deepcopy(model), val, times, 2, compensation=("global",),
                                         seed=0, progress=False)
    for t, name in zip(times, ("val_acc@1h", "val_acc@1d")):
        assert logged[name] == pytest.approx(ref.point(t, "global").mean, abs=1e-6)


def test_bad_arguments_fail_naming_the_field():
    with pytest.raises(ValueError, match="drift_data"):
        AnalogCallback(an.presets.pcm(), drift_times_s=(60.0,))
    with pytest.raises(ValueError, match="noise_streams"):
        AnalogCallback(an.presets.pcm(), noise_streams="each")
    with pytest.raises(TypeError, match="AnalogConfig"):
        AnalogCallback("pcm")


def test_recipe_on_a_converted_model():
    from analogue.integrations.recipe import HWARecipe

    model = nn.Sequential(nn.Linear(8, 4))
    an.convert_(model, an.presets.standard())
    HWARecipe(an.presets.standard(), HWAOptions(weight_noise_rel=0.1)).setup(model)
    assert model[0].weight_perturbation is not None  # noise installed on a model converted before
    with pytest.raises(ValueError, match="teacher"):
        HWARecipe(an.presets.standard(), HWAOptions(distill_alpha=0.5)).setup(model)
