"""Per-layer sensitivity: how much does the model lose when only one layer runs on analog tiles?

For every ``nn.Linear`` / ``nn.Conv1d`` / ``nn.Conv2d`` of a digital model, ``sensitivity`` swaps in
that layer's analog twin alone, calibrates it, programs ``n_seeds`` Monte Carlo instances of the
array at once (``an.program_(..., instances=n)``: instances run as extra groups of one batched
forward), ages them to ``t_s`` with drift compensation (``an.drift_``), and measures the metric per instance against the
digital model. The result also carries each layer's share of the model's multiply-accumulates,
which the hybrid policy (``analysis.hybrid``) weighs against the sensitivity.

Metrics: ``accuracy`` (top-1, needs labels; degradation = digital - analog, in points),
``loss`` (cross-entropy; degradation = analog - digital) and ``output_error`` (relative RMS error
of the model output against the digital output; needs no labels, e.g. for an encoder).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue._util import inputs
from analogue._util.progress import Progress, progress_enabled, track
from analogue._util.seeds import layer_seed
from analogue.config import AnalogConfig
from analogue.lifecycle.convert import count_weight_macs
from analogue.nn import AnalogLayer
from analogue.nn.twins import twin_for

METRICS = ("accuracy", "loss", "output_error")

# -- inputs of any model: the convention of analogue._util.inputs ------------------------------------
def _examples(data: Any, max_examples: int) -> list[inputs.Batch]:
    """The batches of ``data`` up to ``max_examples`` examples in all (the last one cut)."""
    out, n = [], 0
    for batch in inputs.batches(data, None, "sensitivity"):
        k = inputs.batch_size(batch)
        if k == 0:
            continue
        if n + k > max_examples:
            batch, k = inputs.select(batch, 0, max_examples - n), max_examples - n
        out.append(batch)
        n += k
        if n >= max_examples:
            break
    if not out:
        raise ValueError("sensitivity: data held no examples; pass at least one input")
    return out


# -- MACs ---------------------------------------------------------------------------------------------
@torch.no_grad()
def count_macs(model: nn.Module, x: Any) -> dict[str, int]:
    """Multiply-accumulates per example of every weight layer (analog or not: linear, convolution,
    Hugging Face ``Conv1D``, recurrent, attention projections) on inputs ``x`` (one batch in the
    convention of ``analogue._util.inputs``: a tensor, a tuple of positional inputs, a dict of
    keyword inputs); ``an.conversion_report``'s count, divided by the batch size.

    A Linear does ``in_features`` MACs per output element, a convolution
    ``in_channels / groups * prod(kernel_size)``; the count follows the actual output sizes, so
    sequence lengths and strides are accounted for.
    """
    batch = inputs.as_batch(x, "count_macs")
    n = max(inputs.batch_size(batch), 1)
    return {name: v // n for name, v in count_weight_macs(model, batch).items()}


# -- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSensitivity:
    """One layer: its MACs, the metric over the Monte Carlo instances, and the degradation
    against the digital model (positive: worse; ``degradation_sem`` is the standard error)."""

    name: str
    kind: str
    macs: int
    mac_fraction: float
    metric_mean: float
    metric_std: float
    degradation: float
    degradation_sem: float
    n_seeds: int


@dataclass(frozen=True)
class SensitivityResult:
    """Per-layer sensitivities of one model under one analog config."""

    metric: str
    baseline: float
    t_s: float
    layers: tuple[LayerSensitivity, ...]
    config: dict[str, Any]

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def by_name(self) -> dict[str, LayerSensitivity]:
        return {layer.name: layer for layer in self.layers}

    def table(self) -> list[dict[str, Any]]:
        """Rows for ``report.format_table``, most sensitive first."""
        unit = " (points)" if self.metric == "accuracy" else ""
        scale = 100.0 if self.metric == "accuracy" else 1.0
        rows = sorted(self.layers, key=lambda s: -s.degradation)
        return [{"layer": s.name, "type": s.kind, "MACs %": 100.0 * s.mac_fraction,
                 f"degradation{unit}": scale * s.degradation, "+-": scale * s.degradation_sem}
                for s in rows]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "baseline": self.baseline, "t_s": self.t_s,
                "config": self.config, "layers": [asdict(s) for s in self.layers]}


# -- the analysis -------------------------------------------------------------------------------------
class _Metric:
    """A metric per programmed instance, accumulated over batches."""

    def __init__(self, metric: str, reps: int) -> None:
        self.metric, self.reps = metric, reps
        self.num = torch.zeros(reps, dtype=torch.float64)
        self.den = torch.zeros((), dtype=torch.float64)

    def add(self, out: Tensor, y: Tensor | None, ref: Tensor) -> None:
        out = out.reshape(self.reps, -1, *out.shape[1:]).float()
        if self.metric == "accuracy":
            assert y is not None
            self.num += (out.argmax(dim=-1) == y.to(out.device)).flatten(1).sum(dim=1).double().cpu()
            self.den += y.numel()
        elif self.metric == "loss":
            assert y is not None
            y = y.to(out.device)
            self.num += torch.stack([F.cross_entropy(o.reshape(-1, o.shape[-1]), y.reshape(-1), reduction="sum")
                                     for o in out]).double().cpu()
            self.den += y.numel()
        else:
            ref = ref.float()
            self.num += (out - ref).flatten(1).square().sum(dim=1).double().cpu()
            self.den += ref.square().sum().double().cpu()

    def value(self) -> Tensor:
        if self.metric == "output_error":
            return self.num.sqrt() / self.den.sqrt().clamp_min(torch.finfo(torch.float64).tiny)
        return self.num / self.den


def _measure(model: nn.Module, data: list[inputs.Batch], refs: list[Tensor], reps: int, metric: str,
             output_fn: inputs.OutputFn | None) -> Tensor:
    """``metric`` of each of ``reps`` programmed instances over the batches, ``(reps,)``."""
    acc = _Metric(metric, reps)
    for batch, ref in zip(data, refs):
        out = inputs.logits(inputs.call(model, inputs.repeat(batch, reps)), output_fn, "sensitivity")
        acc.add(out, batch.labels, ref)
    return acc.value()


@torch.no_grad()
def _deploy(layer: AnalogLayer, seed: int, reps: int, t_s: float, compensation: str) -> None:
    """Program ``reps`` instances of one layer and read them ``t_s`` later, compensated."""
    from analogue.lifecycle.devices import drift_, program_

    program_(layer, seed=seed, instances=reps)
    drift_(layer, t_s, compensation=compensation)


@torch.no_grad()
def sensitivity(
    model: nn.Module,
    data: Any,
    cfg: AnalogConfig,
    *,
    metric: str = "accuracy",
    n_seeds: int = 10,
    t_s: float = 0.0,
    seed: int = 0,
    compensation: str = "global",
    calibrate: bool = True,
    layers: list[str] | None = None,
    max_examples: int = 512,
    output_fn: inputs.OutputFn | None = None,
    progress: Progress = None,
) -> SensitivityResult:
    """Degradation of ``metric`` when only one layer at a time runs on analog tiles with ``cfg``.

    ``model``: a digital model (not modified; every layer is restored). ``data``: inputs in the
    convention of ``analogue._util.inputs`` (a tensor, a tuple of positional inputs, a dict of
    keyword inputs such as a tokenizer's output, or a list/iterable/DataLoader of those), with class
    labels for ``accuracy``/``loss`` (``(x, y)`` pairs, or a ``"labels"`` entry of a dict; token
    labels of a language model work too), or without for ``output_error``; the first
    ``max_examples`` examples are used. ``output_fn(output) -> Tensor`` picks the output tensor
    (default: the tensor, the ``logits`` of a ``ModelOutput``/dict, or a tuple's first tensor). ``n_seeds`` programming instances (Monte Carlo, run as one batch)
    are read ``t_s`` seconds after programming with ``compensation`` (none|global|column) drift
    compensation. ``layers``: names to analyse (default: every Linear/Conv layer).
    """
    progress_enabled(progress)  # a bad policy fails before any work
    if metric not in METRICS:
        raise ValueError(f"sensitivity: metric must be one of {METRICS}, got {metric!r}")
    if not isinstance(cfg, AnalogConfig):
        raise TypeError(f"sensitivity: cfg must be an AnalogConfig, got {type(cfg).__name__}")
    if not (isinstance(n_seeds, int) and n_seeds >= 1):
        raise ValueError(f"sensitivity: n_seeds must be a positive integer, got {n_seeds!r}")
    if any(isinstance(m, AnalogLayer) for m in model.modules()):
        raise ValueError("sensitivity: pass the digital model (an.to_digital_(model) first); it decides "
                         "which layers go analog")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"sensitivity: max_examples must be a positive integer, got {max_examples!r}")
    data = _examples(data, max_examples)
    if metric != "output_error" and any(b.labels is None for b in data):
        raise ValueError(f"sensitivity: metric {metric!r} needs labels; pass data=(x, y) pairs (or dicts "
                         "with a 'labels' entry) or use metric='output_error'")
    modules = dict(model.named_modules())
    names = [n for n, m in modules.items() if twin_for(m) is not None] if layers is None else list(layers)
    for n in names:
        if n not in modules or twin_for(modules[n]) is None:
            raise ValueError(f"sensitivity: {n!r} is not a plain layer with an analog twin (Linear, Conv1d, Conv2d or Hugging Face Conv1D) of the model")
    if not names:
        raise ValueError("sensitivity: the model has no Linear/Conv layers to put on analog tiles")
    macs = count_macs(model, inputs.select(data[0], 0, 8))
    total = sum(macs.get(n, 0) for n in names) or 1

    was = model.training
    model.eval()
    try:
        refs = [inputs.logits(inputs.call(model, b), output_fn, "sensitivity") for b in data]
        baseline = float(_measure(model, data, refs, 1, metric, output_fn)[0])
        results = []
        for i, name in enumerate(track(names, "sensitivity", progress, unit="layer")):
            parent_name, _, child_name = name.rpartition(".")
            parent = modules[parent_name] if parent_name else model
            plain = modules[name]
            twin = twin_for(plain).from_float(plain, cfg, seed=layer_seed(seed, i))
            twin.layer_name = name
            twin.eval()
            setattr(parent, child_name, twin)
            try:
                if calibrate:
                    from analogue.lifecycle.calibrate import calibrate_

                    calibrate_(model, data, max_batches=len(data), progress=False)
                _deploy(twin, layer_seed(seed, i), n_seeds, float(t_s), compensation)
                vals = _measure(model, data, refs, n_seeds, metric, output_fn)
            finally:
                setattr(parent, child_name, plain)
            deg = (baseline - vals) if metric == "accuracy" else (vals - baseline)
            sd = float(vals.std()) if n_seeds > 1 else 0.0
            results.append(LayerSensitivity(
                name=name, kind=type(plain).__name__, macs=int(macs.get(name, 0)),
                mac_fraction=macs.get(name, 0) / total, metric_mean=float(vals.mean()), metric_std=sd,
                degradation=float(deg.mean()), degradation_sem=sd / math.sqrt(n_seeds), n_seeds=n_seeds))
    finally:
        model.train(was)
    return SensitivityResult(metric=metric, baseline=baseline, t_s=float(t_s), layers=tuple(results),
                             config=cfg.to_dict())
