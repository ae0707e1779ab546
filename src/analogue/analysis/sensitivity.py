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
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import AnalogConfig
from ..nn import ANALOG_TWINS, AnalogLayer

METRICS = ("accuracy", "loss", "output_error")
_PLAIN = (nn.Linear, nn.Conv1d, nn.Conv2d)

Inputs = Tensor | Mapping[str, Tensor]


# -- inputs of any model ----------------------------------------------------------------------------
def _n(x: Inputs) -> int:
    return len(x) if isinstance(x, Tensor) else len(next(iter(x.values())))


def _take(x: Inputs, n: int) -> Inputs:
    return x[:n] if isinstance(x, Tensor) else {k: v[:n] for k, v in x.items()}


def _repeat(x: Inputs, reps: int) -> Inputs:
    """``reps`` copies of the batch, instance-major (what a programmed layer with ``reps``
    instances expects)."""
    if reps == 1:
        return x
    rep = lambda t: t.repeat(reps, *([1] * (t.dim() - 1)))
    return rep(x) if isinstance(x, Tensor) else {k: rep(v) for k, v in x.items()}


def _output(out: Any) -> Tensor:
    """The main tensor of a model output (a tensor, a tuple, or a Hugging Face ``ModelOutput``)."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, Mapping):
        return next(iter(out.values()))
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor):
        return out[0]
    raise TypeError(f"sensitivity: cannot find the output tensor in a {type(out).__name__}")


def _forward(model: nn.Module, x: Inputs) -> Tensor:
    return _output(model(**x) if isinstance(x, Mapping) else model(x))


class _KwargsModel(nn.Module):
    """Lets ``calibrate_`` feed a dict of inputs as keyword arguments."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Inputs) -> Tensor:
        return _forward(self.model, x)


# -- MACs ---------------------------------------------------------------------------------------------
@torch.no_grad()
def count_macs(model: nn.Module, x: Inputs) -> dict[str, int]:
    """Multiply-accumulates per example of every Linear/Conv layer (analog or not) on inputs ``x``.

    A Linear does ``in_features`` MACs per output element, a convolution
    ``in_channels / groups * prod(kernel_size)``; the count follows the actual output sizes, so
    sequence lengths and strides are accounted for.
    """
    counts: dict[str, int] = {}
    hooks = []
    n = _n(x)

    def hook(name: str, mod: nn.Module) -> Any:
        def fn(_m: nn.Module, _inp: Any, out: Tensor) -> None:
            per_out = mod.in_features if hasattr(mod, "in_features") else \
                mod.in_channels // mod.groups * math.prod(mod.kernel_size)
            counts[name] = counts.get(name, 0) + out.numel() // n * per_out
        return fn

    for name, mod in model.named_modules():
        if type(mod) in _PLAIN or isinstance(mod, AnalogLayer):
            hooks.append(mod.register_forward_hook(hook(name, mod)))
    was = model.training
    model.eval()
    try:
        _forward(model, x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return counts


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
def _metric_per_instance(out: Tensor, reps: int, metric: str, y: Tensor | None,
                         ref: Tensor | None) -> Tensor:
    out = out.reshape(reps, -1, *out.shape[1:]).float()
    if metric == "accuracy":
        return (out.argmax(dim=-1) == y).float().mean(dim=1)
    if metric == "loss":
        return torch.stack([F.cross_entropy(o, y) for o in out])
    err = (out - ref).flatten(1).norm(dim=1)
    return err / ref.flatten().norm().clamp_min(torch.finfo(ref.dtype).tiny)


@torch.no_grad()
def _deploy(layer: AnalogLayer, seed: int, reps: int, t_s: float, compensation: str) -> None:
    """Program ``reps`` instances of one layer and read them ``t_s`` later, compensated."""
    from ..lifecycle_drift import drift_, program_

    program_(layer, seed=seed, instances=reps)
    drift_(layer, t_s, compensation=compensation)


@torch.no_grad()
def sensitivity(
    model: nn.Module,
    data: Inputs | tuple[Inputs, Tensor],
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
) -> SensitivityResult:
    """Degradation of ``metric`` when only one layer at a time runs on analog tiles with ``cfg``.

    ``model``: a digital model (not modified; every layer is restored). ``data``: ``(x, y)`` with
    class labels ``y`` for ``accuracy``/``loss``, or inputs ``x`` alone for ``output_error``; ``x``
    is a tensor or a dict of tensors passed as keyword arguments (Hugging Face models); at most
    ``max_examples`` are used. ``n_seeds`` programming instances (Monte Carlo, run as one batch)
    are read ``t_s`` seconds after programming with ``compensation`` (none|global|column) drift
    compensation. ``layers``: names to analyse (default: every Linear/Conv layer).
    """
    if metric not in METRICS:
        raise ValueError(f"sensitivity: metric must be one of {METRICS}, got {metric!r}")
    if not isinstance(cfg, AnalogConfig):
        raise TypeError(f"sensitivity: cfg must be an AnalogConfig, got {type(cfg).__name__}")
    if not (isinstance(n_seeds, int) and n_seeds >= 1):
        raise ValueError(f"sensitivity: n_seeds must be a positive integer, got {n_seeds!r}")
    if any(isinstance(m, AnalogLayer) for m in model.modules()):
        raise ValueError("sensitivity: pass the digital model (an.to_digital_(model) first); it decides "
                         "which layers go analog")
    x, y = (data if isinstance(data, tuple) else (data, None))
    if metric != "output_error" and y is None:
        raise ValueError(f"sensitivity: metric {metric!r} needs labels; pass data=(x, y) or use "
                         "metric='output_error'")
    x = _take(x, max_examples)
    y = None if y is None else y[:max_examples]
    modules = dict(model.named_modules())
    names = [n for n, m in modules.items() if type(m) in _PLAIN] if layers is None else list(layers)
    for n in names:
        if n not in modules or type(modules[n]) not in _PLAIN:
            raise ValueError(f"sensitivity: {n!r} is not a plain Linear/Conv1d/Conv2d layer of the model")
    if not names:
        raise ValueError("sensitivity: the model has no Linear/Conv layers to put on analog tiles")
    macs = count_macs(model, _take(x, 8))
    total = sum(macs.get(n, 0) for n in names) or 1

    was = model.training
    model.eval()
    try:
        ref = _forward(model, x)
        base = _metric_per_instance(ref, 1, metric, y, ref)
        baseline = float(base[0])
        xr = _repeat(x, n_seeds)
        results = []
        for i, name in enumerate(names):
            parent_name, _, child_name = name.rpartition(".")
            parent = modules[parent_name] if parent_name else model
            plain = modules[name]
            twin = ANALOG_TWINS[type(plain).__name__].from_float(plain, cfg, seed=seed * 1_000_003 + i)
            twin.layer_name = name
            twin.eval()
            setattr(parent, child_name, twin)
            try:
                if calibrate:
                    from ..lifecycle import calibrate_

                    calibrate_(_KwargsModel(model).eval(), [x])  # eval: calibrate_ restores the mode
                _deploy(twin, seed * 1_000_003 + i, n_seeds, float(t_s), compensation)
                vals = _metric_per_instance(_forward(model, xr), n_seeds, metric, y, ref)
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
