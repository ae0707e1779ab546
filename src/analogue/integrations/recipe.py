"""The hardware-aware training recipe as four calls a trainer makes, with no trainer in it.

``HWARecipe`` is what the Lightning callback (``integrations.lightning``) and the Hugging Face
callback and trainer (``integrations.hf``) wrap; the pieces are the ones of ``analogue``'s own
loop (``apps.training``), reused, not copied:

1. ``setup(model)``: keep a frozen digital copy as the distillation teacher (when
   ``hwa.distill_alpha > 0``), convert the model in place (``lifecycle.convert_``), calibrate its
   ranges on ``calibration_data`` (``lifecycle.calibrate_``) and install the weight noise
   (``train.hwa_``). The train-mode forward of an analog layer then injects the hardware's noise.
2. ``epoch_start(model, epoch, rank)``: restart every noise stream from (seed, epoch) --
   ``train.reseed_noise_`` as the loop does -- so an epoch's noise does not depend on what ran
   before it (``noise_streams="per_rank"`` adds the process rank to the seed).
3. ``after_step(model)``: clip each column's weights to ``hwa.clip_weights_sigma`` standard
   deviations (``train.clip_weights_``) after every optimizer step.
4. ``loss(logits, inputs, target)``: cross-entropy, or with ``hwa.distill_alpha > 0`` the
   distillation loss against the digital teacher (``train.distillation_loss``).

And ``drift_metrics(model, data)``: program a copy, drift it to each of ``drift_times_s``,
evaluate (``analysis.accuracy_over_time``, mean over ``drift_repeats`` programming instances)
and name the results ``{prefix}@{time}`` (``val_acc@1d``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from analogue._util import inputs
from analogue._util.seeds import derive_seed
from analogue.analysis.drift import accuracy_over_time, format_time
from analogue.config import AnalogConfig
from analogue.lifecycle.calibrate import calibrate_
from analogue.lifecycle.convert import analog_layers, convert_
from analogue.nn.programmed import COMPENSATION_MODES
from analogue.physics.devices import check_time
from analogue.train.hwa import HWAOptions, clip_weights_, distillation_loss, hwa_, reseed_noise_

NOISE_STREAMS = ("shared", "per_rank")
"""``shared``: every process draws the same noise streams (seeded by seed and epoch);
``per_rank``: each process's streams are also seeded by its rank (docs/integrations.md)."""


def metric_name(prefix: str, t_s: float) -> str:
    """``("val_acc", 86400.0)`` -> ``"val_acc@1d"`` (``analysis.drift.format_time`` without spaces)."""
    return f"{prefix}@{format_time(t_s).replace(' ', '')}"


class HWARecipe:
    """Hardware-aware training for any training loop: see the module docstring.

    ``config``: the analog hardware (``an.presets.pcm()``, ...). ``hwa``: what to inject and how to
    train (``an.train.HWAOptions``: weight noise, ``clip_weights_sigma``, ``distill_T``,
    ``distill_alpha``). ``seed``: of the conversion's and the HWA noise streams.
    ``calibration_data``: inputs to calibrate the converters' ranges on at setup (``None``: keep
    the config's ranges). ``drift_times_s``: times after programming for ``drift_metrics``
    (empty: none); ``drift_repeats`` programming instances each, drift compensation
    ``compensation``; ``metric_prefix`` names the metrics. ``noise_streams``: ``"shared"`` or
    ``"per_rank"`` (``NOISE_STREAMS``).
    """

    def __init__(self, config: AnalogConfig, hwa: HWAOptions | None = None, *, seed: int = 0,
                 calibration_data: Any = None, drift_times_s: Sequence[float] = (),
                 drift_repeats: int = 4, compensation: str = "global", metric_prefix: str = "val_acc",
                 noise_streams: str = "shared") -> None:
        if not isinstance(config, AnalogConfig):
            raise TypeError(f"HWARecipe: config must be an AnalogConfig (e.g. an.presets.pcm()), got "
                            f"{type(config).__name__}")
        hwa = HWAOptions() if hwa is None else hwa
        if not isinstance(hwa, HWAOptions):
            raise TypeError(f"HWARecipe: hwa must be an an.train.HWAOptions, got {type(hwa).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"HWARecipe: seed must be an int, got {seed!r}")
        self.drift_times_s = tuple(check_time(t, "HWARecipe: drift_times_s") for t in drift_times_s)
        if isinstance(drift_repeats, bool) or not isinstance(drift_repeats, int) or drift_repeats < 1:
            raise ValueError(f"HWARecipe: drift_repeats must be a positive integer, got {drift_repeats!r}")
        if compensation not in COMPENSATION_MODES:
            raise ValueError(f"HWARecipe: compensation must be one of {COMPENSATION_MODES}, got {compensation!r}")
        if noise_streams not in NOISE_STREAMS:
            raise ValueError(f"HWARecipe: noise_streams must be one of {NOISE_STREAMS}, got {noise_streams!r}")
        self.config, self.hwa, self.seed = config, hwa, seed
        self.calibration_data = calibration_data
        self.drift_repeats, self.compensation = drift_repeats, compensation
        self.metric_prefix, self.noise_streams = metric_prefix, noise_streams
        self.teacher: nn.Module | None = None

    @property
    def distilling(self) -> bool:
        """Whether ``loss`` adds the distillation term (``hwa.distill_alpha > 0``)."""
        return self.hwa.distill_alpha > 0

    def setup(self, model: nn.Module) -> nn.Module:
        """Teacher copy, conversion, calibration and weight noise, in place; returns ``model``.
        A model converted already (a second ``fit``, a resumed run) is not converted again; its
        weight noise is installed afresh (the teacher, if any, is the one kept before)."""
        if not analog_layers(model):
            if self.distilling:
                teacher = copy.deepcopy(model).eval()
                self.teacher = teacher.requires_grad_(False)
            convert_(model, self.config, seed=self.seed)
            if self.calibration_data is not None:
                calibrate_(model, self.calibration_data)
        elif self.distilling and self.teacher is None:
            raise ValueError("HWARecipe: distillation (hwa.distill_alpha > 0) needs the digital model as its "
                             "teacher, but the model is converted already; hand over the digital model")
        hwa_(model, self.hwa, seed=self.seed)
        return model

    def epoch_start(self, model: nn.Module, epoch: int, rank: int = 0) -> None:
        """Restart every noise stream from (seed, epoch), and the rank with ``per_rank`` streams."""
        parts = (self.seed, epoch) if self.noise_streams == "shared" else (self.seed, epoch, rank)
        reseed_noise_(model, derive_seed(*parts))

    def after_step(self, model: nn.Module) -> None:
        """Clip the weights after an optimizer step (when ``hwa.clip_weights_sigma`` is set)."""
        if self.hwa.clip_weights_sigma is not None:
            clip_weights_(model, self.hwa.clip_weights_sigma)

    @torch.no_grad()
    def teacher_logits(self, batch_inputs: Any, like: Tensor) -> Tensor:
        """The digital teacher's logits for ``batch_inputs`` (a tensor, tuple or dict of keyword
        inputs), on ``like``'s device and dtype."""
        if self.teacher is None:
            raise RuntimeError("HWARecipe: no teacher; distillation needs hwa.distill_alpha > 0 and setup(model) "
                               "(the callback calls it when training starts)")
        p = next(self.teacher.parameters(), None)
        if p is not None and p.device != like.device:
            self.teacher.to(like.device)
        out = inputs.call(self.teacher, inputs.as_batch(batch_inputs, "HWARecipe.teacher_logits"))
        return inputs.logits(out, None, "HWARecipe.teacher_logits").to(like.dtype)

    def loss(self, logits: Tensor, batch_inputs: Any, target: Tensor) -> Tensor:
        """Cross-entropy of ``logits`` against ``target``, or with ``hwa.distill_alpha > 0`` the
        distillation loss against the teacher's logits for ``batch_inputs``
        (``train.distillation_loss``; per-token logits ``(N, T, C)`` with labels ``(N, T)`` count
        every position, labels ``-100`` left out of the cross-entropy)."""
        if not self.distilling:
            teacher = logits.new_zeros(0)  # distillation_loss reads no teacher with alpha = 0
        else:
            teacher = self.teacher_logits(batch_inputs, logits).reshape(-1, logits.shape[-1])
        return distillation_loss(logits.reshape(-1, logits.shape[-1]), teacher, target.reshape(-1),
                                 self.hwa.distill_T, self.hwa.distill_alpha)

    def drift_metrics(self, model: nn.Module, data: Any, batch_size: int = 256) -> dict[str, float]:
        """``{"val_acc@1d": ..., ...}``: the mean top-1 accuracy over ``drift_repeats`` programming
        instances of a programmed copy of ``model`` at each of ``drift_times_s`` (the model itself is
        not changed); ``data``: labelled data in the convention of ``analogue._util.inputs``."""
        if not self.drift_times_s:
            return {}
        res = accuracy_over_time(model, data, self.drift_times_s, self.drift_repeats,
                                 compensation=(self.compensation,), seed=self.seed, batch_size=batch_size,
                                 progress=False)
        return {metric_name(self.metric_prefix, t): res.point(t, self.compensation).mean
                for t in self.drift_times_s}


__all__ = ["NOISE_STREAMS", "HWARecipe", "metric_name"]
