"""Hybrid digital/analog placement: keep the few layers that suffer most on a digital unit.

``plan_hybrid`` takes a per-layer ``SensitivityResult`` and a budget -- at least
``min_analog_mac_fraction`` of the model's MACs stay on analog tiles, and optionally at most
``max_digital_layers`` layers go digital -- and chooses the digital set that removes the largest
total degradation within that budget (a 0/1 knapsack solved exactly on the Pareto frontier of
(digital MACs, layers, removed degradation); degradations are treated as additive, the usual
first-order assumption). Only layers whose degradation is significant (more than
``significance`` standard errors above zero) are candidates. The result is a ``rules`` mapping for
``an.convert_`` (``{name: None}``: keep digital) and a readable table; ``apply_hybrid_`` converts
a model accordingly, with the digital layers int8-quantised to stand for a digital accelerator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from analogue.analysis.sensitivity import SensitivityResult
from analogue.config import AnalogConfig

MAX_FRONTIER = 20_000
"""Pareto states kept per step; beyond this the lowest-value states are dropped (approximate)."""


@dataclass(frozen=True)
class HybridPlan:
    """Which layers stay digital, and why."""

    rules: dict[str, None]
    digital: tuple[str, ...]
    analog_mac_fraction: float
    min_analog_mac_fraction: float
    removed_degradation: float
    int8: bool
    rows: tuple[dict[str, Any], ...]

    def table(self) -> list[dict[str, Any]]:
        """One row per layer: type, MAC share, degradation alone on analog, placement."""
        return [dict(r) for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {"rules": dict(self.rules), "digital": list(self.digital),
                "analog_mac_fraction": self.analog_mac_fraction,
                "min_analog_mac_fraction": self.min_analog_mac_fraction,
                "removed_degradation": self.removed_degradation, "int8": self.int8,
                "table": self.table()}


def _knapsack(items: list[tuple[str, int, float]], capacity: int,
              max_count: int | None) -> tuple[tuple[str, ...], float]:
    """Best subset of ``(name, cost, value)`` with total cost <= ``capacity`` and at most
    ``max_count`` items; ties go to fewer items, then to lower cost."""
    # state: (cost, count, value, chosen)
    frontier: list[tuple[int, int, float, tuple[str, ...]]] = [(0, 0, 0.0, ())]
    for name, cost, value in items:
        grown = [(c + cost, k + 1, v + value, ch + (name,)) for c, k, v, ch in frontier
                 if c + cost <= capacity and (max_count is None or k + 1 <= max_count)]
        merged = sorted(frontier + grown, key=lambda s: (s[0], s[1], -s[2]))
        kept: list[tuple[int, int, float, tuple[str, ...]]] = []
        best_k = [-float("inf")] * (len(items) + 1)  # best value kept so far with exactly k layers
        for s in merged:  # keep a state only if no cheaper one with no more layers is as good
            if max(best_k[: s[1] + 1]) < s[2]:
                kept.append(s)
                best_k[s[1]] = max(best_k[s[1]], s[2])
        if len(kept) > MAX_FRONTIER:
            kept = sorted(kept, key=lambda s: -s[2])[:MAX_FRONTIER]
        frontier = kept
    best = max(frontier, key=lambda s: (s[2], -s[1], -s[0]))
    return best[3], best[2]


def plan_hybrid(
    sens: SensitivityResult,
    *,
    min_analog_mac_fraction: float = 0.95,
    max_digital_layers: int | None = None,
    significance: float = 2.0,
    int8: bool = True,
) -> HybridPlan:
    """Choose the layers to keep digital under the budget (see the module docstring).

    ``min_analog_mac_fraction`` in [0, 1]: share of the analysed layers' MACs that must stay on
    analog tiles. ``significance``: a layer is a candidate only if its degradation exceeds this
    many standard errors (and zero). ``int8``: the digital layers are meant to run int8 (shown in
    the table; ``apply_hybrid_`` quantises them).
    """
    if not isinstance(sens, SensitivityResult):
        raise TypeError(f"plan_hybrid: sens must be a SensitivityResult, got {type(sens).__name__}")
    if not 0.0 <= min_analog_mac_fraction <= 1.0:
        raise ValueError(f"plan_hybrid: min_analog_mac_fraction must lie in [0, 1], got {min_analog_mac_fraction}")
    if max_digital_layers is not None and (not isinstance(max_digital_layers, int) or max_digital_layers < 0):
        raise ValueError(f"plan_hybrid: max_digital_layers must be an integer >= 0 or None, got {max_digital_layers!r}")
    if significance < 0:
        raise ValueError(f"plan_hybrid: significance must be >= 0, got {significance}")
    total = sens.total_macs
    capacity = int((1.0 - min_analog_mac_fraction) * total + 1e-9 * total)
    items = [(s.name, s.macs, s.degradation) for s in sens.layers
             if s.degradation > 0 and s.degradation > significance * s.degradation_sem]
    digital, removed = _knapsack(items, capacity, max_digital_layers)
    digital_macs = sum(s.macs for s in sens.layers if s.name in digital)
    frac = 1.0 - digital_macs / total if total else 1.0
    scale, unit = (100.0, " (points)") if sens.metric == "accuracy" else (1.0, "")
    where = "digital (int8)" if int8 else "digital"
    rows = tuple(
        {"layer": s.name, "type": s.kind, "MACs %": 100.0 * s.mac_fraction,
         f"degradation{unit}": scale * s.degradation, "+-": scale * s.degradation_sem,
         "placement": where if s.name in digital else "analog"}
        for s in sorted(sens.layers, key=lambda s: -s.degradation))
    order = [s.name for s in sens.layers if s.name in digital]  # model order
    return HybridPlan(rules={n: None for n in order}, digital=tuple(order), analog_mac_fraction=frac,
                      min_analog_mac_fraction=min_analog_mac_fraction, removed_degradation=removed,
                      int8=int8, rows=rows)


def apply_hybrid_(model: nn.Module, cfg: AnalogConfig, plan: HybridPlan, seed: int = 0) -> nn.Module:
    """``convert_(model, cfg, plan.rules)``, then int8-quantise the digital layers if the plan says
    so; in place, returns ``model``."""
    from analogue.lifecycle.convert import convert_
    from analogue.nn.int8 import quantize_int8_

    convert_(model, cfg, rules=plan.rules or None, seed=seed)
    if plan.int8 and plan.digital:
        quantize_int8_(model, plan.digital)
    return model
