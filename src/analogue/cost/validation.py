"""Leave-one-out validation of the cost model against published chips (:mod:`analogue.cost.chips_table`).

The component models (:mod:`analogue.cost.components`) give each chip's energy per array MVM by
component. The shared constants are grouped into three physically bounded scale factors, one per
group of components (``ENERGY_GROUPS``): the array (device read, line charging and input
drivers), the converters (ADC, sample-and-hold, comparator bias) and the digital periphery
(shift-and-add, accumulation, SRAM, interconnect, digital unit, leakage). A factor multiplies every
constant of its group alike, for every chip; each is bounded to ``[1/BOUND, BOUND]`` of the
component model's own value (its sources' spread).

``fit(entries)`` sets the factors by least squares on ``log(predicted / published TOPS/W)`` over
the entries with a published TOPS/W (:func:`scipy.optimize.least_squares`); ``validate()`` fits on
all chips (in-sample) and, for every chip, on all the others (leave-one-out, a chip's operating
points left out together), then predicts. TOPS depends on the timing model only (no fitted
constant), so its in-sample and left-out predictions are equal. Area: the component areas with the
same treatment (``AREA_GROUPS``) where enough areas are published.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from analogue.cost.chips_table import TableEntry, table
from analogue.cost.model import chip_params, evaluate

#: Components of one array MVM (``analogue.cost.model.ENERGY_COMPONENTS``) by fitted group.
ENERGY_GROUPS: dict[str, tuple[str, ...]] = {
    "array": ("crossbar", "dac"),
    "converter": ("adc", "sample_hold"),
    "digital": ("shift_add", "accumulate", "sram", "noc", "digital", "leakage"),
}
#: Names of the fitted energy factors, in order. (One device-read factor per technology, 7
#: factors in all, was tried: leave-one-out median error 77 % against 50 % with these three.)
ENERGY_FACTORS = tuple(ENERGY_GROUPS)
#: Chip area components (``analogue.cost.model.AREA_COMPONENTS``) by fitted group.
AREA_GROUPS: dict[str, tuple[str, ...]] = {
    "cells": ("arrays",),
    "periphery": ("adc", "dac", "sample_hold", "shift_add"),
    "digital": ("sram", "digital", "other"),
}
#: A fitted factor stays within [1/BOUND, BOUND] of its component model.
BOUND = 4.0
#: Robust loss on the log residuals (``scipy.optimize.least_squares``): quadratic up to
#: ``LOSS_SCALE`` (about 30 %), linear beyond, so one badly transcribed chip cannot pull every
#: factor to its bound.
LOSS = "soft_l1"
LOSS_SCALE = 0.3
#: Prior on every fitted factor: ``log f ~ N(0, PRIOR_SIGMA^2)``, i.e. the component model's own
#: constants are known to within about a factor of 2 (one sigma; the spread of the sources in
#: docs/references.md section 5: Horowitz's energies vs. later nodes, the ADC survey's scatter
#: about its envelope). A fit then moves a factor only as far as the chips agree on it, and
#: chips that pull in opposite directions leave it near 1 (maximum a posteriori, not maximum
#: likelihood). ``None``: no prior (plain bounded least squares).
PRIOR_SIGMA: float | None = math.log(2.0)


@dataclass(frozen=True)
class Components:
    """Per entry: ops/s (``tops``), energy per second by group at unit factors (W) and area by
    group (mm2) at unit factors; published figures (NaN where not published)."""

    keys: tuple[str, ...]
    groups: tuple[str, ...]
    tops: np.ndarray
    power_W: np.ndarray  # (entries, energy groups)
    area_mm2: np.ndarray  # (entries, area groups)
    published_tops: np.ndarray
    published_tops_per_W: np.ndarray
    published_area_mm2: np.ndarray


def components(entries: Sequence[TableEntry]) -> Components:
    """Evaluate every entry's chip once (one vectorised pass) and group its components."""
    r = evaluate(chip_params([e.chip for e in entries]))
    n_arrays = np.array([e.chip.n_arrays for e in entries], dtype=np.float64)
    rate = n_arrays / r["mvm_latency_s"]  # array MVMs per second
    e_mvm = r["mvm_energy_J"]
    power = np.stack([rate * sum(e_mvm[c] for c in comps) for comps in ENERGY_GROUPS.values()], 1)
    area = np.stack([sum(r["area_mm2"][c] for c in comps) for comps in AREA_GROUPS.values()], 1)

    def pub(name: str) -> np.ndarray:
        return np.array([math.nan if getattr(e, name) is None else getattr(e, name)
                         for e in entries], dtype=np.float64)

    return Components(
        keys=tuple(e.key for e in entries), groups=tuple(e.group for e in entries),
        tops=np.asarray(r["tops"], dtype=np.float64), power_W=power, area_mm2=area,
        published_tops=pub("tops"), published_tops_per_W=pub("tops_per_W"),
        published_area_mm2=pub("area_mm2"),
    )


def predict_tops_per_W(c: Components, factors: np.ndarray) -> np.ndarray:
    """TOPS/W of every entry with the energy groups scaled by ``factors``."""
    return c.tops / (c.power_W @ np.asarray(factors, dtype=np.float64))


def predict_area_mm2(c: Components, factors: np.ndarray) -> np.ndarray:
    """Area of every entry with the area groups scaled by ``factors``."""
    return c.area_mm2 @ np.asarray(factors, dtype=np.float64)


def _fit_log(parts: np.ndarray, target: np.ndarray, fixed: np.ndarray, invert: bool,
             prior_sigma: float | None = None) -> np.ndarray:
    """Least squares in log space: ``log(parts @ f)`` (``invert``: ``-log``, as for an
    efficiency) against ``log(target)``; factors bounded to ``[1/BOUND, BOUND]``, and pulled
    towards 1 by a log-normal prior of width ``prior_sigma`` (``None``: no prior). Groups that no
    selected entry exercises (all-zero columns) or that are ``fixed`` keep 1."""
    from scipy.optimize import least_squares

    n = parts.shape[1]
    free = (parts.sum(axis=0) > 0) & ~fixed
    if not free.any() or target.size == 0:
        return np.ones(n)

    def resid(logf: np.ndarray) -> np.ndarray:
        f = np.ones(n)
        f[free] = np.exp(logf)
        y = np.log(parts @ f)
        r = (-y if invert else y) - np.log(target)
        if prior_sigma is None:
            return r
        return np.concatenate([r, logf / prior_sigma])

    sol = least_squares(resid, np.zeros(int(free.sum())), bounds=(-math.log(BOUND), math.log(BOUND)),
                        method="trf", loss=LOSS, f_scale=LOSS_SCALE)
    out = np.ones(n)
    out[free] = np.exp(sol.x)
    return out


def fit(c: Components, use: np.ndarray | None = None,
        prior_sigma: float | None = PRIOR_SIGMA) -> dict[str, np.ndarray]:
    """Fitted factors from the entries selected by ``use`` (boolean mask; all by default):
    ``energy`` (one per ``ENERGY_FACTORS``) and ``area`` (one per ``AREA_GROUPS``; fitted only
    where more chips publish an area than there are area groups, otherwise 1); ``prior_sigma``:
    the width of the log-normal prior on each factor (``PRIOR_SIGMA``; ``None``: none)."""
    use = np.ones(len(c.keys), bool) if use is None else np.asarray(use, bool)
    ok = use & np.isfinite(c.published_tops_per_W)
    # energy per op: power / ops = (parts @ f) / tops; TOPS/W = 1 / that
    parts = c.power_W[ok] / c.tops[ok, None]
    energy = _fit_log(parts, c.published_tops_per_W[ok], np.zeros(parts.shape[1], bool), True,
                      prior_sigma)
    ok_a = use & np.isfinite(c.published_area_mm2)
    n_area = len(AREA_GROUPS)
    n_chips = len({g for g, k in zip(c.groups, ok_a) if k})
    if n_chips > n_area:
        area = _fit_log(c.area_mm2[ok_a], c.published_area_mm2[ok_a], np.zeros(n_area, bool), False,
                        prior_sigma)
    else:
        area = np.ones(n_area)
    return {"energy": energy, "area": area}


@dataclass(frozen=True)
class ValidationReport:
    """Published figures and the model's predictions for every table entry.

    Per figure (``tops``, ``tops_per_W``, ``area_mm2``): ``published``, ``model`` (component models
    as shipped, factors 1), ``in_sample`` (factors fitted on all chips), ``left_out`` (factors fitted
    on the other chips); NaN where not published. ``factors``: the in-sample fit, by group.
    ``summary``: per figure and prediction, the median absolute relative error (``*_median``) and
    the worst factor off, ``max(pred/pub, pub/pred)`` (``*_worst``).
    """

    keys: tuple[str, ...]
    published: dict[str, np.ndarray]
    model: dict[str, np.ndarray]
    in_sample: dict[str, np.ndarray]
    left_out: dict[str, np.ndarray]
    factors: dict[str, dict[str, float]]
    summary: dict[str, dict[str, float]] = field(default_factory=dict)

    def table(self) -> str:
        """Fixed-width text: published, in-sample, left-out and error per figure and chip."""
        lines = []
        for fig, unit in (("tops", "TOPS"), ("tops_per_W", "TOPS/W"), ("area_mm2", "mm2")):
            lines.append(f"{unit}: {'chip':<22} {'published':>10} {'model':>10} {'in-sample':>10} "
                         f"{'left out':>10} {'err LOO':>8}")
            for i, k in enumerate(self.keys):
                p = self.published[fig][i]
                if not np.isfinite(p):
                    continue
                m, a, b = self.model[fig][i], self.in_sample[fig][i], self.left_out[fig][i]
                lines.append(f"{'':{len(unit) + 1}} {k:<22} {p:>10.4g} {m:>10.4g} {a:>10.4g} "
                             f"{b:>10.4g} {b / p - 1:>+8.0%}")
            s = self.summary.get(fig)
            if s:
                lines.append(
                    f"{'':{len(unit) + 1}} median |error|: model {s['model_median']:.0%}, in-sample "
                    f"{s['in_sample_median']:.0%}, left out {s['left_out_median']:.0%}; worst off by: "
                    f"model {s['model_worst']:.2f}x, in-sample {s['in_sample_worst']:.2f}x, left "
                    f"out {s['left_out_worst']:.2f}x (n={int(s['n'])})")
            lines.append("")
        lines.append("fitted factors (all chips): " + ", ".join(
            f"{kind} {g} x{v:.2f}" for kind, d in self.factors.items() for g, v in d.items()))
        return "\n".join(lines)


def _errors(pred: np.ndarray, pub: np.ndarray) -> np.ndarray:
    ok = np.isfinite(pub)
    return np.abs(pred[ok] / pub[ok] - 1.0)


def validate(entries: Sequence[TableEntry] | None = None,
             prior_sigma: float | None = PRIOR_SIGMA) -> ValidationReport:
    """Fit in-sample and leave-one-chip-out over ``entries`` (default: :func:`table`)."""
    entries = table() if entries is None else list(entries)
    return validate_components(components(entries), prior_sigma)


def validate_components(c: Components,
                        prior_sigma: float | None = PRIOR_SIGMA) -> ValidationReport:
    """:func:`validate` on already evaluated components (a synthetic table in the tests)."""
    ones_e, ones_a = np.ones(len(ENERGY_FACTORS)), np.ones(len(AREA_GROUPS))
    full = fit(c, prior_sigma=prior_sigma)
    chips = list(dict.fromkeys(c.groups))
    gidx = np.array([chips.index(g) for g in c.groups])
    loo_tw = np.empty(len(c.keys))
    loo_area = np.empty(len(c.keys))
    for j in range(len(chips)):
        out = gidx == j
        f = fit(c, ~out, prior_sigma)
        loo_tw[out] = predict_tops_per_W(c, f["energy"])[out]
        loo_area[out] = predict_area_mm2(c, f["area"])[out]
    published = {"tops": c.published_tops, "tops_per_W": c.published_tops_per_W,
                 "area_mm2": c.published_area_mm2}
    model = {"tops": c.tops, "tops_per_W": predict_tops_per_W(c, ones_e),
             "area_mm2": predict_area_mm2(c, ones_a)}
    ins = {"tops": c.tops, "tops_per_W": predict_tops_per_W(c, full["energy"]),
           "area_mm2": predict_area_mm2(c, full["area"])}
    loo = {"tops": c.tops, "tops_per_W": loo_tw, "area_mm2": loo_area}
    summary: dict[str, dict[str, float]] = {}
    for fig in published:
        n = int(np.isfinite(published[fig]).sum())
        if n == 0:
            continue
        s: dict[str, float] = {"n": float(n)}
        for name, pred in (("model", model), ("in_sample", ins), ("left_out", loo)):
            err = _errors(pred[fig], published[fig])
            s[f"{name}_median"] = float(np.median(err))
            ok = np.isfinite(published[fig])
            ratio = pred[fig][ok] / published[fig][ok]
            s[f"{name}_worst"] = float(np.max(np.maximum(ratio, 1.0 / ratio)))
        summary[fig] = s
    factors = {
        "energy": dict(zip(ENERGY_FACTORS, map(float, full["energy"]))),
        "area": dict(zip(AREA_GROUPS, map(float, full["area"]))),
    }
    return ValidationReport(keys=c.keys, published=published, model=model, in_sample=ins,
                            left_out=loo, factors=factors, summary=summary)


def report_dict(r: ValidationReport) -> dict[str, object]:
    """JSON-safe form of a report (NaN as ``None``)."""

    def clean(d: Mapping[str, np.ndarray]) -> dict[str, list[float | None]]:
        return {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in d.items()}

    return {"keys": list(r.keys), "published": clean(r.published), "model": clean(r.model),
            "in_sample": clean(r.in_sample), "left_out": clean(r.left_out),
            "factors": r.factors, "summary": r.summary}
