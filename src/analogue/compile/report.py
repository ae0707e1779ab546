"""Presentation of a CompiledModel: the summary table and the array-occupancy plot."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from analogue.compile.program import CompiledModel


def human(n: float) -> str:
    """1234567 -> '1.23M' (k, M, G, T)."""
    for unit, div in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.3g}" if isinstance(n, float) and not float(n).is_integer() else str(int(n))


def ranges(values: tuple[int, ...]) -> str:
    """(0, 1, 2, 5, 7, 8) -> '0-2,5,7-8'."""
    if not values:
        return "-"
    out, start, prev = [], values[0], values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        out.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = v
    out.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(out)


def _shape(lp: Any) -> str:
    return "x".join(str(s) for s in lp.weight_shape) if lp.weight_shape else "-"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    fmt = lambda cells: "  ".join(  # noqa: E731
        c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()
    return [fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def format_summary(program: CompiledModel, max_digital: int | None = 20) -> str:
    chip = program.chip
    analog = program.analog_layers
    digital = program.digital_layers
    lines = [
        f"Program on {chip.name}: {chip.n_cores} cores x {chip.arrays_per_core} arrays of"
        f" {chip.array_rows}x{chip.array_cols} cells, {chip.cells_per_weight} cell(s)/weight",
        f"arrays used {program.arrays_used}/{chip.n_arrays}"
        f" | reprogramming rounds {program.reprogram_rounds}"
        f" | pipeline stages {program.n_stages}"
        f" | inter-core traffic {human(program.activation_bits_moved)}bit/inference",
        "",
    ]
    rows = [
        [
            lp.name,
            lp.op,
            _shape(lp),
            f"{lp.rows}x{lp.cols}" + (f"x{lp.groups}g" if lp.groups > 1 else ""),
            str(lp.arrays),
            f"{100 * lp.utilization:.0f}%",
            str(lp.replication),
            human(lp.mvms_per_inference),
            human(lp.macs),
            ranges(lp.cores),
            str(lp.stage),
        ]
        for lp in analog
    ]
    if rows:
        lines += _table(
            [
                "analog layer",
                "op",
                "weight",
                "rows x cols",
                "arrays",
                "util",
                "rep",
                "MVMs",
                "MACs",
                "cores",
                "stage",
            ],
            rows,
            right={4, 5, 6, 7, 8, 10},
        )
        lines.append("")
    shown = sorted(digital, key=lambda lp: -(lp.digital_ops + lp.macs))
    if max_digital is not None:
        shown = shown[:max_digital]
    if shown:
        drows = [
            [
                lp.name,
                lp.op,
                human(lp.macs),
                human(lp.digital_ops),
                human(lp.output_elems),
                str(lp.stage),
                lp.reason,
            ]
            for lp in shown
        ]
        title = "digital op" + (
            f" (top {len(shown)} of {len(digital)} by ops)" if len(shown) < len(digital) else ""
        )
        lines += _table(
            [title, "op", "MACs", "ops", "out elems", "stage", "why digital"],
            drows,
            right={2, 3, 4, 5},
        )
        lines.append("")
    total_macs = program.analog_macs + program.digital_macs
    frac = program.analog_macs / total_macs if total_macs else 0.0
    lines.append(
        f"totals: {len(analog)} analog layers, {len(digital)} digital ops;"
        f" MACs analog {human(program.analog_macs)} ({100 * frac:.1f}%),"
        f" digital {human(program.digital_macs)}; digital-unit ops {human(program.digital_ops)}"
        + (
            f" (per inference, from a batch of {program.batch_size})"
            if program.batch_size != 1
            else ""
        )
    )
    lines += [f"note: {n}" for n in program.notes]
    return "\n".join(lines)


def plot_occupancy(
    program: CompiledModel, path: str | os.PathLike[str] | None = None, round: int = 0
) -> Any:
    """Stacked bars: per core, the arrays' cell occupancy coloured by layer (one round).

    Bar height is in arrays: a full array counts 1, a half-used one 0.5. Returns the figure.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    chip = program.chip
    n_cores = int(chip.n_cores)
    cap = float(chip.array_rows * chip.array_cols)
    names = [lp.name for lp in program.analog_layers]
    occ = np.zeros((len(names), n_cores))
    for i, name in enumerate(names):
        for b in program.placement.get(name, []):
            if b.round == round:
                occ[i, b.core] += b.cells / cap
    fig, ax = plt.subplots(figsize=(max(6.0, 0.12 * n_cores + 3), 4.0))
    cmap = plt.get_cmap("tab20")
    bottom = np.zeros(n_cores)
    for i, name in enumerate(names):
        if occ[i].any():
            ax.bar(
                np.arange(n_cores),
                occ[i],
                bottom=bottom,
                color=cmap(i % 20),
                width=0.9,
                label=name if len(names) <= 20 else None,
            )
            bottom += occ[i]
    ax.axhline(chip.arrays_per_core, color="k", lw=0.8, ls="--")
    ax.set_xlabel("core")
    ax.set_ylabel("arrays occupied (cells / array size)")
    title = f"{chip.name}: array occupancy"
    if program.reprogram_rounds > 1:
        title += f" (round {round + 1} of {program.reprogram_rounds})"
    ax.set_title(title)
    ax.set_xlim(-0.5, n_cores - 0.5)
    if len(names) <= 20:
        ax.legend(fontsize=6, ncol=2, loc="upper right", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    if path is not None:
        import io

        from analogue._util.io import atomic_write_bytes

        buf = io.BytesIO()
        fig.savefig(
            buf, format=str(path).rsplit(".", 1)[-1] if "." in str(path) else "png", dpi=120
        )
        atomic_write_bytes(path, buf.getvalue())
    return fig
