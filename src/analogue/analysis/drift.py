"""Accuracy over time: Monte Carlo over programming instances, with and without drift compensation.

Instances are a tensor dimension: ``program_(..., instances=R)`` samples ``R`` programming
instances at once and one forward of ``R`` stacked copies of a batch evaluates all of them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from analogue._util import inputs
from analogue._util.progress import Progress, progress_enabled, track
from analogue.analysis.evaluation import labelled_batches, outputs, top1_counts
from analogue.lifecycle.convert import analog_layers
from analogue.lifecycle.devices import drift_, program_, unprogram_
from analogue.nn.programmed import COMPENSATION_MODES
from analogue.physics.devices import check_temperature, check_time

SECONDS = {
    "1 s": 1.0,
    "1 min": 60.0,
    "1 h": 3600.0,
    "1 d": 86_400.0,
    "1 w": 604_800.0,
    "1 mo": 2_592_000.0,
    "1 y": 31_536_000.0,
}
"""Named times after programming (a month is 30 days, a year 365 days)."""

DEFAULT_TIMES_S = tuple(SECONDS.values())


@dataclass(frozen=True)
class DriftPoint:
    """Accuracy statistics over ``n`` programming instances at one time and compensation mode.
    ``ci_low``/``ci_high``: Student-t confidence interval of the mean at ``confidence``."""

    t_s: float
    compensation: str
    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float


@dataclass(frozen=True)
class AccuracyOverTime:
    """The result of ``accuracy_over_time``: one ``DriftPoint`` per (time, compensation),
    the per-instance accuracies, and the accuracy of the model as given (``baseline``)."""

    points: tuple[DriftPoint, ...]
    samples: dict[str, list[list[float]]]
    baseline: float
    temperature_k: float | None

    def point(self, t_s: float, compensation: str) -> DriftPoint:
        for p in self.points:
            if p.compensation == compensation and math.isclose(p.t_s, t_s, rel_tol=1e-12):
                return p
        raise KeyError(f"no result at t_s={t_s} with compensation={compensation!r}")

    def table(self) -> list[dict[str, Any]]:
        """Rows for a table: one per time, a mean and CI column per compensation mode (in %)."""
        times = sorted({p.t_s for p in self.points})
        modes = list(dict.fromkeys(p.compensation for p in self.points))
        rows = []
        for t in times:
            row: dict[str, Any] = {"time": format_time(t)}
            for mode in modes:
                p = self.point(t, mode)
                row[f"{mode} mean %"] = 100 * p.mean
                row[f"{mode} 95% CI" if p.confidence == 0.95 else f"{mode} CI"] = (
                    f"[{100 * p.ci_low:.1f}, {100 * p.ci_high:.1f}]"
                )
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [asdict(p) for p in self.points],
            "samples": self.samples,
            "baseline": self.baseline,
            "temperature_k": self.temperature_k,
        }

    def plot(self, path: str | Path, title: str = "accuracy over time") -> Path:
        """Accuracy (mean and CI band per compensation mode) against log time; saved atomically."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from analogue._util.tables import save_figure

        fig, ax = plt.subplots(figsize=(7, 4))
        for mode in dict.fromkeys(p.compensation for p in self.points):
            pts = sorted((p for p in self.points if p.compensation == mode), key=lambda p: p.t_s)
            t = [p.t_s for p in pts]
            ax.plot(t, [100 * p.mean for p in pts], marker="o", label=f"compensation: {mode}")
            ax.fill_between(
                t, [100 * p.ci_low for p in pts], [100 * p.ci_high for p in pts], alpha=0.2
            )
        ax.axhline(100 * self.baseline, color="k", ls="--", lw=1, label="before programming")
        ax.set_xscale("log")
        ticks = [
            v
            for v in SECONDS.values()
            if min(p.t_s for p in self.points) <= v <= max(p.t_s for p in self.points)
        ]
        if ticks:
            ax.set_xticks(ticks, [format_time(v) for v in ticks])
        ax.set_xlabel("time after programming")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        out = save_figure(fig, path)
        plt.close(fig)
        return out


def format_time(t_s: float) -> str:
    """``3600.0`` -> ``"1 h"``; other values in seconds."""
    for name, v in SECONDS.items():
        if math.isclose(t_s, v, rel_tol=1e-9):
            return name
    return f"{t_s:g} s"


def _data(data: object) -> list[inputs.Batch]:
    """Labelled batches (``evaluation.labelled_batches``), kept: every evaluation reads them."""
    return list(labelled_batches(data, "accuracy_over_time"))


@torch.no_grad()
def _instance_accuracy(model: nn.Module, batches: list[inputs.Batch], reps: int, batch_size: int,
                       output_fn: inputs.OutputFn | None) -> Tensor:
    """Top-1 accuracy of each of the ``reps`` programmed instances, ``(reps,)``: the fraction of
    labels (of every example, or every token; ``-100`` marks a label to ignore, as in Hugging Face
    models) that the output's argmax matches."""
    correct = torch.zeros(reps, dtype=torch.float64)
    total = 0
    for out, sub in outputs(model, batches, batch_size, output_fn, reps, "accuracy_over_time"):
        assert sub.labels is not None
        c, n = top1_counts(out, sub.labels, reps)
        correct += c
        total += n
    if total == 0:
        raise ValueError("accuracy_over_time: data yielded no samples")
    return correct / total


def _stats(acc: list[float], confidence: float) -> tuple[float, float, float, float]:
    from scipy import stats

    n = len(acc)
    t = torch.tensor(acc, dtype=torch.float64)
    mean = float(t.mean())
    std = float(t.std(unbiased=True)) if n > 1 else 0.0
    half = (
        float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
        if n > 1
        else float("nan")
    )
    return mean, std, mean - half, mean + half


def accuracy_over_time(
    model: nn.Module,
    data: object,
    times_s: Sequence[float] = DEFAULT_TIMES_S,
    repeats: int = 10,
    *,
    compensation: Sequence[str] = ("none", "global"),
    temperature_k: float | None = None,
    recalibrate_every_s: float | None = None,
    seed: int = 0,
    confidence: float = 0.95,
    batch_size: int = 256,
    instances_per_pass: int = 16,
    output_fn: inputs.OutputFn | None = None,
    progress: Progress = None,
) -> AccuracyOverTime:
    """Top-1 accuracy of ``model`` (converted, e.g. with ``an.presets.pcm()``) at each time after
    programming, over ``repeats`` independent programming instances, for each compensation mode.

    The model is not modified (a copy is programmed). Instances are sampled and evaluated
    ``instances_per_pass`` at a time as a tensor dimension; each instance is followed through all
    times (the same devices age). ``compensation`` modes: ``none``, ``global``, ``column``;
    ``recalibrate_every_s``: compensate at the last multiple of that period instead of at each
    time. ``confidence``: level of the Student-t interval of the mean. Accuracies are in [0, 1].

    ``data``: labelled inputs in the convention of ``analogue._util.inputs`` -- ``(x, y)``
    tensors, dicts of keyword inputs with a ``"labels"`` entry (a tokenizer's output), a list or
    DataLoader of those, or an object with ``x_test``/``y_test``. ``output_fn(output) -> Tensor``
    picks the logits (default: the tensor, the ``logits`` of a ``ModelOutput``/dict, or a tuple's
    first tensor). ``progress``: a bar over the (pass, time, mode) evaluations (None: on a TTY).
    """
    progress_enabled(progress)  # a bad policy fails before any work
    times = [check_time(t, "accuracy_over_time: times_s") for t in times_s]
    if not times:
        raise ValueError("accuracy_over_time: times_s is empty")
    if temperature_k is not None:
        check_temperature(temperature_k, "accuracy_over_time: temperature_k")
    modes = list(compensation)
    bad = [m for m in modes if m not in COMPENSATION_MODES]
    if bad or not modes:
        raise ValueError(
            f"accuracy_over_time: compensation modes must be from {COMPENSATION_MODES}, got {modes}"
        )
    for name, v in (
        ("repeats", repeats),
        ("batch_size", batch_size),
        ("instances_per_pass", instances_per_pass),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"accuracy_over_time: {name} must be a positive integer, got {v!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"accuracy_over_time: confidence must lie in (0, 1), got {confidence}")
    batches = _data(data)
    work = copy.deepcopy(model)
    work.eval()
    cycles = 1 + max(
        (int(m.prog_cycles) for m in analog_layers(work).values() if m.prog_cycles is not None),
        default=0,
    )
    unprogram_(work)  # the baseline is the model before programming
    baseline = float(_instance_accuracy(work, batches, 1, batch_size, output_fn)[0])
    samples: dict[str, list[list[float]]] = {m: [[] for _ in times] for m in modes}
    steps = [(done, ti, t, mode) for done in range(0, repeats, instances_per_pass)
             for ti, t in enumerate(times) for mode in modes]
    programmed = -1
    for done, ti, t, mode in track(steps, "accuracy over time", progress, unit="eval"):
        reps = min(instances_per_pass, repeats - done)
        if programmed != done:  # a new pass of instances, of the same age as the others
            program_(work, seed=seed + done, instances=reps, cycles=cycles)
            programmed = done
        every = recalibrate_every_s if mode != "none" else None
        drift_(work, t, temperature_k, compensation=mode, recalibrate_every_s=every)
        samples[mode][ti].extend(_instance_accuracy(work, batches, reps, batch_size, output_fn).tolist())
    points = []
    for ti, t in enumerate(times):
        for mode in modes:
            mean, std, lo, hi = _stats(samples[mode][ti], confidence)
            points.append(
                DriftPoint(t, mode, mean, std, lo, hi, len(samples[mode][ti]), confidence)
            )
    return AccuracyOverTime(tuple(points), samples, baseline, temperature_k)


__all__ = [
    "DEFAULT_TIMES_S",
    "SECONDS",
    "AccuracyOverTime",
    "DriftPoint",
    "accuracy_over_time",
    "format_time",
]
