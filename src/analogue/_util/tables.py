"""Small output helpers shared by the command line and the analyses: tables, JSON, plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analogue._util.io import atomic_write_bytes, atomic_write_text


def format_table(rows: Sequence[dict[str, Any]], floatfmt: str = ".4g") -> str:
    """A markdown table of ``rows`` (dicts with the same keys)."""
    if not rows:
        return "(empty)"
    keys = list(rows[0])

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else format(v, floatfmt)
        return str(v)

    body = [[cell(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(b[i]) for b in body)) for i, k in enumerate(keys)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    out = [line(keys), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    print(f"\n{title}\n{format_table(rows)}")


def save_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a matplotlib figure atomically (PNG unless the suffix says otherwise)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())
