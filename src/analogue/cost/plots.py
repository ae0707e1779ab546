"""Plots of the cost model (matplotlib, Agg backend; files written atomically)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from analogue._util.io import atomic_write_bytes
from analogue.config.chips import Chip


def _save(fig: object, path: str | os.PathLike[str]) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=120,  # type: ignore[attr-defined]
                bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def plot_energy_breakdown(
    breakdowns: Mapping[str, Mapping[str, float]],
    path: str | os.PathLike[str],
    per: str = "MAC",
    macs: Mapping[str, float] | None = None,
) -> Path:
    """Stacked bars, one per chip (or model): energy per component, normalised per ``per``.

    ``breakdowns``: name -> {component: energy J}; ``macs``: name -> MACs to divide by (pJ/MAC
    bars), or ``None`` to plot shares of the total (the ADC share visible at a glance).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(breakdowns)
    comps: list[str] = []
    for b in breakdowns.values():
        comps += [k for k in b if k not in comps]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(names), 4.2))
    bottom = np.zeros(len(names))
    cmap = plt.get_cmap("tab20")
    for i, comp in enumerate(comps):
        vals = []
        for n in names:
            b = breakdowns[n]
            total = sum(b.values()) or 1.0
            v = b.get(comp, 0.0)
            vals.append(v / macs[n] * 1e12 if macs is not None else v / total * 100.0)
        vals_a = np.array(vals)
        if not np.any(vals_a > 0):
            continue
        ax.bar(names, vals_a, bottom=bottom, label=comp, color=cmap(i % 20),
               edgecolor="black" if comp == "adc" else None, linewidth=1.2 if comp == "adc" else 0)
        bottom += vals_a
    ax.set_ylabel(f"energy per {per} (pJ)" if macs is not None else "share of energy (%)")
    ax.set_title("Energy breakdown (ADC outlined)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1.0), loc="upper left")
    ax.tick_params(axis="x", labelrotation=20)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_tops_per_W_vs_adc_bits(
    chips: Sequence[Chip],
    path: str | os.PathLike[str],
    bits: Sequence[int] = tuple(range(2, 13)),
) -> Path:
    """TOPS/W at peak against ADC resolution, one line per chip (a vectorised sweep each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analogue.cost.peak import sweep

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for ch in chips:
        r = sweep(ch, adc_bits=list(bits))
        ax.plot(r["adc_bits"], r["tops_per_W"], marker="o", ms=3, label=ch.name)
        ax.plot([ch.adc_bits], [float(np.interp(ch.adc_bits, r["adc_bits"], r["tops_per_W"]))],
                marker="*", ms=10, color=ax.lines[-1].get_color())
    ax.set_yscale("log")
    ax.set_xlabel("ADC bits")
    ax.set_ylabel("peak TOPS/W")
    ax.set_title("Efficiency against ADC resolution (star: preset)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_validation(report: object, path: str | os.PathLike[str]) -> Path:
    """Predicted against published TOPS/W (and TOPS and area where published), log-log, one
    marker per table entry (leave-one-out prediction filled, shipped model open), with the +-25 %
    band.
    ``report``: an ``analogue.cost.validation.ValidationReport``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = report
    fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.8))
    for ax, fig_name, unit in zip(axes, ("tops_per_W", "tops", "area_mm2"),
                                  ("TOPS/W", "TOPS", "area (mm2)")):
        pub = np.asarray(r.published[fig_name])  # type: ignore[attr-defined]
        ok = np.isfinite(pub)
        loo = np.asarray(r.left_out[fig_name])[ok]  # type: ignore[attr-defined]
        mod = np.asarray(r.model[fig_name])[ok]  # type: ignore[attr-defined]
        p = pub[ok]
        lo, hi = min(p.min(), loo.min(), mod.min()) / 2, max(p.max(), loo.max(), mod.max()) * 2
        xs = np.geomspace(lo, hi, 50)
        ax.fill_between(xs, xs * 0.75, xs * 1.25, color="0.85", label="+-25 %")
        ax.plot(xs, xs, color="0.5", lw=0.8)
        ax.scatter(p, mod, facecolors="none", edgecolors="C0", label="component model", zorder=3)
        ax.scatter(p, loo, color="C3", marker="x", label="left out (fitted on others)", zorder=3)
        for k, x, y in zip(np.asarray(r.keys)[ok], p, mod):  # type: ignore[attr-defined]
            ax.annotate(k.split("-")[0], (x, y), fontsize=6, xytext=(3, -3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"published {unit}")
        ax.set_ylabel(f"predicted {unit}")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_power_vs_throughput(
    points: Mapping[str, tuple[float, float]],
    peak_tops: float,
    peak_W: float,
    leakage_W: float,
    path: str | os.PathLike[str],
    published_W: tuple[float, float] | None = None,
) -> Path:
    """Power against sustained throughput, log-log: workload points (name -> (TOPS, W)), the
    chip's peak (every array busy) and the line ``P = P_leak + (TOPS / peak TOPS) (P_peak -
    P_leak)`` between idle and peak; ``published_W``: a published power range, shaded at the
    published throughput's height (the peak)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    lo = min([t for t, _ in points.values()] + [peak_tops]) / 3
    xs = np.geomspace(lo, peak_tops, 60)
    ax.plot(xs, leakage_W + xs / peak_tops * (peak_W - leakage_W), color="0.5", lw=0.8,
            label="leakage + utilisation x peak dynamic power")
    if published_W is not None:
        ax.fill_between([peak_tops / 1.3, peak_tops * 1.3], *published_W, color="C2", alpha=0.3,
                        label="published power")
    ax.scatter([peak_tops], [peak_W], marker="*", s=120, color="C3", label="model at peak",
               zorder=3)
    for i, (name, (t, w)) in enumerate(points.items()):
        ax.scatter([t], [w], color=f"C{i % 10}", zorder=3)
        ax.annotate(name, (t, w), fontsize=6, xytext=(4, -3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sustained TOPS")
    ax.set_ylabel("power (W)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    out = _save(fig, path)
    plt.close(fig)
    return out
