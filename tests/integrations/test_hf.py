"""The Hugging Face callback and trainer: a tiny BERT classifier built from a config (no hub),
trained a few steps on the CPU: conversion, clipping after each step, distillation, drift
metrics at the chosen times."""

from __future__ import annotations

import copy
import os
import warnings

import pytest
import torch

import analogue as an
from analogue.lifecycle.convert import analog_layers
from analogue.train import HWAOptions

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate", reason="the transformers Trainer needs accelerate (transformers[torch])")
from analogue.integrations.hf import AnalogTrainer, AnalogTrainerCallback  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=48, max_position_embeddings=16, num_labels=3,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return transformers.BertForSequenceClassification(cfg)


def _data(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 50, (n, 8), generator=g)
    labels = ids[:, 0] % 3  # learnable from the first token
    return [{"input_ids": ids[i], "attention_mask": torch.ones(8, dtype=torch.long), "labels": labels[i]}
            for i in range(n)]


class Record(transformers.TrainerCallback):
    """Listed before the analog callback: sees each step's weights before they are clipped."""

    def __init__(self) -> None:
        self.before_clip: dict[str, torch.Tensor] = {}

    def on_step_end(self, args, state, control, model=None, **kw):
        self.before_clip = {name: m.weight.detach().clone() for name, m in analog_layers(model).items()}


def _trainer(tmp_path, analog, steps, cls=AnalogTrainer, record=None):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=steps, per_device_train_batch_size=8, per_device_eval_batch_size=16,
        learning_rate=1e-2, logging_steps=1, save_strategy="no", eval_strategy="no", report_to=[],
        disable_tqdm=True, use_cpu=True, seed=0, dataloader_num_workers=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(model=_model(), args=args, train_dataset=_data(64, 0), eval_dataset=_data(32, 1),
                   callbacks=[cb for cb in (record, analog) if cb is not None])


@pytest.mark.slow  # the Trainer's set-up: ~5 s on a loaded 2-core machine
def test_converts_and_clips_with_a_plain_trainer(tmp_path):
    sigma = 1.5
    analog = AnalogTrainerCallback(an.presets.standard(), HWAOptions(weight_noise_rel=0.02, clip_weights_sigma=sigma))
    rec = Record()
    trainer = _trainer(tmp_path, analog, 3, cls=transformers.Trainer, record=rec)
    layers = analog_layers(trainer.model)
    linears = [n for n, m in _model().named_modules() if isinstance(m, torch.nn.Linear)]
    assert sorted(layers) == sorted(linears)  # every Linear is analog (q, k, v, ..., pooler, classifier)
    trainer.train()
    assert trainer.state.global_step == 3
    for name, w_pre in rec.before_clip.items():  # an independent clip of the last step's weights
        bound = sigma * w_pre.std(dim=1, unbiased=False, keepdim=True)
        expect = torch.maximum(torch.minimum(w_pre, bound), -bound)
        assert (expect != w_pre).any(), name
        torch.testing.assert_close(layers[name].weight.detach(), expect, rtol=0, atol=1e-6)


@pytest.mark.slow  # the Trainer's set-up: ~5 s on a loaded 2-core machine
def test_distillation_term_vanishes_when_student_equals_teacher(tmp_path):
    analog = AnalogTrainerCallback(an.presets.ideal(), HWAOptions(distill_alpha=1.0, distill_T=2.0))
    trainer = _trainer(tmp_path, analog, 2)
    assert analog.recipe.teacher is not None and not analog_layers(analog.recipe.teacher)
    trainer.train()
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    assert abs(losses[0]) < 1e-5  # KL(teacher || student) with the student equal to the teacher
    plain = _trainer(tmp_path, AnalogTrainerCallback(an.presets.ideal()), 1)
    plain.train()
    assert [r["loss"] for r in plain.state.log_history if "loss" in r][0] > 0.5  # CE of 3 classes: ~ln 3


@pytest.mark.slow  # the Trainer's set-up: ~5 s on a loaded 2-core machine
def test_evaluate_logs_drift_metrics_at_the_chosen_times(tmp_path):
    times = (60.0, 86_400.0)
    analog = AnalogTrainerCallback(an.presets.pcm(), HWAOptions(clip_weights_sigma=2.5), drift_times_s=times,
                                   drift_repeats=2)
    trainer = _trainer(tmp_path, analog, 2)
    trainer.train()
    metrics = trainer.evaluate()
    assert {"eval_acc@1min", "eval_acc@1d"} <= set(metrics)
    assert "eval_acc@1d" in trainer.state.log_history[-1]
    data = [{k: torch.stack([d[k] for d in _data(32, 1)[i:i + 16]]) for k in ("input_ids", "attention_mask",
                                                                           "labels")} for i in (0, 16)]
    ref = an.analysis.accuracy_over_time(copy.deepcopy(trainer.model), data, times, 2, compensation=("global",),
                                         seed=0, progress=False)
    assert metrics["eval_acc@1min"] == pytest.approx(ref.point(60.0, "global").mean, abs=1e-6)
    assert metrics["eval_acc@1d"] == pytest.approx(ref.point(86_400.0, "global").mean, abs=1e-6)


def test_analog_trainer_needs_its_callback(tmp_path):
    with pytest.raises(ValueError, match="AnalogTrainerCallback"):
        _trainer(tmp_path, None, 1)
