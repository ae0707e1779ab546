"""How large an array may be: a model's accuracy with line resistance (IR drop) over array sizes
and wire resistances, Monte Carlo over programmed instances; the result object of the array-size
study (accuracy here, the chip's energy, latency and area from ``analogue.cost.arrays``).

For each array size ``n`` and wire pair ``(r_row, r_col)`` the digital model is converted with
``n x n`` tiles and ``circuit.r_row_ohm``/``r_col_ohm`` set (``base_config`` otherwise), calibrated
when calibration data is given (before programming, or each instance after it), programmed (``instances`` Monte Carlo instances, in passes of
``instances_per_pass``: each instance's exact effective conductances, ``nn.programmed``) and
evaluated, every instance at once (``analysis.drift``'s per-instance accuracy). Every pair of a
size uses the same conversion and programming seeds, so the same devices are read through
different wires (``ArraySizeStudy.paired_change``: the wires' effect per instance). A block smaller
than the array sits at its corner by the drivers and sense amplifiers (docs/circuits.md), so it
is solved as an array of its own size. ``array_size_study`` (``analogue.cost.arrays``, also ``an.array_size_study``)
adds the cost columns; the architecture keeps analyses below the cost model.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from analogue._util import inputs
from analogue._util.progress import Progress, progress_enabled, track
from analogue._util.tables import format_table
from analogue._util.validate import is_real
from analogue.analysis.drift import _instance_accuracy, _stats
from analogue.analysis.evaluation import check_batch_size, labelled_batches
from analogue.config import AnalogConfig
from analogue.lifecycle.calibrate import calibrate_
from analogue.lifecycle.convert import analog_layers, convert_
from analogue.lifecycle.devices import program_

DEFAULT_SIZES = (64, 128, 256, 512, 1024)
"""Square array sizes of the study (rows = columns)."""

DEFAULT_R_WIRE = (0.0, 0.1, 0.5, 1.5)
"""Wire resistances per segment, ohm (row and column alike): ideal, 0.1 ohm, 0.5 ohm, and the
row-segment value of a 14-22 nm 1T1R wire model (issue 15)."""

CALIBRATE_WHEN = ("before", "after")
"""When the study calibrates (``an.calibrate_``) each converted copy: ``"before"`` programming, from
the ideal array (a host calibrating from the weights; one calibration for every instance), or
``"after"``, each programmed instance through its own wires (an on-chip calibration; one instance
per programming pass)."""

RWire = float | tuple[float, float]
"""A wire resistance per segment in ohm: one value for rows and columns, or ``(r_row, r_col)``."""


def wire_pairs(r_wire: Sequence[RWire], where: str = "array_size_study") -> list[tuple[float, float]]:
    """``r_wire`` as ``(r_row_ohm, r_col_ohm)`` pairs, checked (finite, >= 0, no repeats)."""
    if isinstance(r_wire, (str, bytes)) or not isinstance(r_wire, Sequence) or not r_wire:
        raise ValueError(f"{where}: r_wire must be a non-empty sequence of ohm values or (row, col) "
                         f"pairs, got {r_wire!r}")
    out: list[tuple[float, float]] = []
    for r in r_wire:
        pair = tuple(r) if isinstance(r, (tuple, list)) else (r, r)
        if len(pair) != 2 or not all(is_real(v) and v >= 0 for v in pair):
            raise ValueError(f"{where}: each r_wire entry must be an ohm value >= 0 or a (r_row, r_col) "
                             f"pair of them, got {r!r}")
        p = (float(pair[0]), float(pair[1]))
        if p in out:
            raise ValueError(f"{where}: r_wire lists {r!r} twice")
        out.append(p)
    return out


def check_sizes(sizes: Sequence[int], where: str = "array_size_study") -> list[int]:
    """``sizes`` as a sorted list of distinct integers in [1, 65536]."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
        raise ValueError(f"{where}: sizes must be a non-empty sequence of array sizes, got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 1 << 16:
            raise ValueError(f"{where}: each size must be an integer in [1, 65536] (an n x n array), "
                             f"got {s!r}")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"{where}: sizes has repeats: {list(sizes)}")
    return sorted(sizes)


def wire_label(r_row_ohm: float, r_col_ohm: float) -> str:
    """``"0.5 ohm"`` for equal wires, ``"1.5/5 ohm"`` for row/column."""
    return f"{r_row_ohm:g} ohm" if r_row_ohm == r_col_ohm else f"{r_row_ohm:g}/{r_col_ohm:g} ohm"


@dataclass(frozen=True)
class ArrayPoint:
    """Accuracy over ``n`` programmed instances with ``size x size`` arrays and wires of
    ``r_row_ohm``/``r_col_ohm`` per segment: mean, sample std, Student-t interval at
    ``confidence``, and each instance's accuracy (``samples``). Accuracies in [0, 1]."""

    size: int
    r_row_ohm: float
    r_col_ohm: float
    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float = 0.95
    samples: tuple[float, ...] = ()

    @property
    def wires(self) -> str:
        return wire_label(self.r_row_ohm, self.r_col_ohm)


@dataclass(frozen=True)
class ArrayCost:
    """The chip's cost at one array size (``analogue.cost.arrays``): energy per inference (J),
    latency of the batch (s), chip area (mm2), arrays the model uses, the resized chip's cores x
    arrays per core, and ``reprogram_rounds``: 1 when the model fits the chip, else the rounds of
    reprogramming that time-multiplex its arrays (the writes are in the energy and latency)."""

    size: int
    energy_J: float
    latency_s: float
    area_mm2: float
    arrays_used: int
    n_cores: int
    arrays_per_core: int
    reprogram_rounds: int = 1


def largest_within(points: Sequence[ArrayPoint], digital_accuracy: float,
                   max_loss: float) -> dict[str, int | None]:
    """Per wire pair (``wire_label``), the largest array size whose mean accuracy is at most
    ``max_loss`` (a fraction, 0.01 = one point) below ``digital_accuracy``; ``None`` when none
    is. Sizes above a failing one count too (the largest passing size is reported)."""
    if not (is_real(max_loss) and max_loss >= 0):
        raise ValueError(f"largest_within: max_loss must be a fraction >= 0 (0.01 = one point), got {max_loss!r}")
    out: dict[str, int | None] = {}
    for p in points:
        label = p.wires
        out.setdefault(label, None)
        if digital_accuracy - p.mean <= max_loss + 1e-12:
            best = out[label]
            out[label] = p.size if best is None else max(best, p.size)
    return out


@dataclass(frozen=True)
class ArraySizeStudy:
    """The result of the array-size study: accuracy per (size, wires) (``points``), the chip's cost
    per size (``costs``, empty when not computed), the digital model's accuracy and the accuracy
    loss allowed (``max_loss``, a fraction)."""

    points: tuple[ArrayPoint, ...]
    digital_accuracy: float
    max_loss: float
    costs: tuple[ArrayCost, ...] = ()
    chip: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sizes(self) -> list[int]:
        return sorted({p.size for p in self.points})

    @property
    def wires(self) -> list[str]:
        return list(dict.fromkeys(p.wires for p in self.points))

    def point(self, size: int, wires: str) -> ArrayPoint:
        for p in self.points:
            if p.size == size and p.wires == wires:
                return p
        raise KeyError(f"no result for size {size} with wires {wires!r}; have {self.wires}")

    def paired_change(self, size: int, wires: str, reference: str = "0 ohm") -> tuple[float, float]:
        """Accuracy with ``wires`` minus accuracy with ``reference`` wires at ``size``, per
        programmed instance (the same devices read through both, ``array_accuracy``): the mean
        and its standard error (fractions). Separates the wires' effect from the spread of the
        programming, which both points share."""
        a, b = self.point(size, wires).samples, self.point(size, reference).samples
        if len(a) != len(b) or not a:
            raise ValueError(f"paired_change: {wires!r} and {reference!r} at {size} hold {len(a)} and "
                             f"{len(b)} instances; pair points of one study")
        d = [x - y for x, y in zip(a, b, strict=True)]
        mean = sum(d) / len(d)
        sem = (sum((v - mean) ** 2 for v in d) / (len(d) - 1) / len(d)) ** 0.5 if len(d) > 1 else float("nan")
        return mean, sem

    def cost(self, size: int) -> ArrayCost | None:
        return next((c for c in self.costs if c.size == size), None)

    def largest_within(self, max_loss: float | None = None) -> dict[str, int | None]:
        """Per wire pair, the largest array within ``max_loss`` (default: the study's) of the
        digital accuracy (``largest_within``)."""
        return largest_within(self.points, self.digital_accuracy,
                              self.max_loss if max_loss is None else max_loss)

    def table(self) -> list[dict[str, Any]]:
        """One row per array size: mean accuracy (%) and its std over instances (points) per wire
        pair; when the study has ideal wires (0 ohm) and per-instance samples, each other pair's paired change from them
        (``paired_change``: points, mean ± standard error over instances); then the chip's energy
        per inference (uJ), latency (us) and area (mm2), and the reprogramming rounds when any
        size time-multiplexes (``ArrayCost.reprogram_rounds``)."""
        rows = []
        multiplexed = any(c.reprogram_rounds > 1 for c in self.costs)
        ideal = wire_label(0.0, 0.0)
        paired = ideal in self.wires and len(self.wires) > 1 and all(p.samples for p in self.points)
        for s in self.sizes:
            row: dict[str, Any] = {"array": f"{s}x{s}"}
            for w in self.wires:
                p = self.point(s, w)
                row[f"acc % @ {w}"] = f"{100 * p.mean:.2f} ± {100 * p.std:.2f}"
            if paired:
                for w in self.wires:
                    if w != ideal:
                        m, se = self.paired_change(s, w, ideal)
                        row[f"Δ pts @ {w}"] = f"{100 * m:+.2f} ± {100 * se:.2f}"
            c = self.cost(s)
            if c is not None:
                row["energy uJ"] = c.energy_J * 1e6
                row["latency us"] = c.latency_s * 1e6
                row["area mm2"] = c.area_mm2
                if multiplexed:
                    row["rounds"] = c.reprogram_rounds
            rows.append(row)
        return rows

    def summary(self) -> str:
        """The table (markdown), the digital accuracy and the largest array within the loss."""
        best = self.largest_within()
        lines = [format_table(self.table()), "",
                 f"digital accuracy {100 * self.digital_accuracy:.2f} %; largest array within "
                 f"{100 * self.max_loss:g} points of it:"]
        for w, s in best.items():
            lines.append(f"  {w}: {f'{s}x{s}' if s is not None else 'none of the sizes'}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"points": [asdict(p) for p in self.points], "costs": [asdict(c) for c in self.costs],
                "digital_accuracy": self.digital_accuracy, "max_loss": self.max_loss,
                "chip": self.chip, "notes": list(self.notes),
                "largest_within": self.largest_within()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArraySizeStudy:
        """The study ``to_dict`` wrote (e.g. read back from its JSON); ``largest_within`` is
        recomputed, not read."""
        where = "ArraySizeStudy.from_dict"
        if not isinstance(data, dict) or not {"points", "digital_accuracy", "max_loss"} <= data.keys():
            raise ValueError(f"{where}: expected the dict of ArraySizeStudy.to_dict (keys points, "
                             f"digital_accuracy, max_loss, ...), got {type(data).__name__}")
        points = tuple(ArrayPoint(**{**p, "samples": tuple(p.get("samples", ()))}) for p in data["points"])
        costs = tuple(ArrayCost(**c) for c in data.get("costs", ()))
        return cls(points, float(data["digital_accuracy"]), float(data["max_loss"]), costs,
                   str(data.get("chip", "")), tuple(data.get("notes", ())))

    def merged(self, other: ArraySizeStudy) -> ArraySizeStudy:
        """This study with ``other``'s points and costs added (``other``'s win where both have a
        (size, wires) point or a size's cost), e.g. sizes or wires run as separate processes with
        the same seeds. The digital accuracies must agree (the same model and data)."""
        if other.digital_accuracy != self.digital_accuracy:
            raise ValueError(f"ArraySizeStudy.merged: digital accuracies differ ({self.digital_accuracy} vs "
                             f"{other.digital_accuracy}): not the same model and data")
        keys = {(p.size, p.wires) for p in other.points}
        points = tuple(p for p in self.points if (p.size, p.wires) not in keys) + other.points
        sizes = {c.size for c in other.costs}
        costs = tuple(c for c in self.costs if c.size not in sizes) + other.costs
        notes = tuple(dict.fromkeys(self.notes + other.notes))
        return ArraySizeStudy(tuple(sorted(points, key=lambda p: p.size)), self.digital_accuracy, self.max_loss,
                              tuple(sorted(costs, key=lambda c: c.size)), self.chip or other.chip, notes)

    def plot(self, path: str | Path, title: str = "array size study") -> Path:
        """Accuracy (mean, +-1 std over instances) vs array size, one line per wire resistance,
        with the digital accuracy and the allowed loss; and the chip's energy per inference vs
        array size (when costed). Saved atomically."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from analogue._util.tables import save_figure

        panels = 2 if self.costs else 1
        fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
        ax = axes[0][0]
        sizes = self.sizes
        for w in self.wires:
            pts = [self.point(s, w) for s in sizes]
            ax.errorbar(sizes, [100 * p.mean for p in pts], yerr=[100 * p.std for p in pts],
                        marker="o", capsize=3, label=f"wires {w}")
        ax.axhline(100 * self.digital_accuracy, color="k", ls="--", lw=1, label="digital")
        ax.axhline(100 * (self.digital_accuracy - self.max_loss), color="grey", ls=":", lw=1,
                   label=f"digital - {100 * self.max_loss:g} points")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("array size (rows = columns)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title)
        ax.legend(fontsize=8)
        if self.costs:
            ax2 = axes[0][1]
            cs = sorted(self.costs, key=lambda c: c.size)
            ax2.plot([c.size for c in cs], [c.energy_J * 1e6 for c in cs], marker="s", color="C3",
                     label="energy per inference")
            over = [c for c in cs if c.reprogram_rounds > 1]
            if over:
                ax2.plot([c.size for c in over], [c.energy_J * 1e6 for c in over], ls="none", marker="s",
                         mfc="none", mec="k", ms=11, label="time-multiplexed (reprogrammed)")
                ax2.legend(fontsize=8)
            ax2.set_xscale("log", base=2)
            ax2.set_xticks([c.size for c in cs], [str(c.size) for c in cs])
            ax2.set_xlabel("array size (rows = columns)")
            ax2.set_ylabel("energy per inference (uJ)", color="C3")
            twin = ax2.twinx()
            twin.plot([c.size for c in cs], [c.area_mm2 for c in cs], marker="^", color="C4", ls="--",
                      label="chip area")
            twin.set_ylabel("chip area (mm2)", color="C4")
            ax2.set_title(f"cost on {self.chip} (same cross-points)" if self.chip else "cost")
        fig.tight_layout()
        out = save_figure(fig, path)
        plt.close(fig)
        return out


def _check_count(v: Any, name: str, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {v!r}")
    return v


def array_accuracy(
    model: nn.Module,
    data: object,
    base_config: AnalogConfig,
    sizes: Sequence[int] = DEFAULT_SIZES,
    r_wire: Sequence[RWire] = DEFAULT_R_WIRE,
    *,
    instances: int = 4,
    instances_per_pass: int = 4,
    calibration_data: object = None,
    calibrate_when: str = "before",
    seed: int = 0,
    confidence: float = 0.95,
    batch_size: int = 256,
    output_fn: inputs.OutputFn | None = None,
    progress: Progress = None,
) -> tuple[list[ArrayPoint], float]:
    """Accuracy of the digital ``model`` on labelled ``data`` with IR drop on, for every array size
    in ``sizes`` (``n x n`` tiles) and wire pair in ``r_wire``; returns the points and the digital
    model's accuracy. ``model`` is not modified.

    Each (size, wires): a copy converted with ``base_config`` (seed ``seed``), its tile set to the
    size and its ``circuit`` to the wires; calibrated (``an.calibrate_``, seed ``seed``) when
    ``calibration_data`` is given (required when the DAC's range policy is ``"calibrated"``),
    ``calibrate_when`` ``"before"`` programming (from the ideal array, once) or ``"after"`` it (each
    instance through its wires, one instance per pass; ``CALIBRATE_WHEN``); programmed
    ``instances`` times (``an.program_`` with ``instances_per_pass`` instances per pass and seed
    ``seed + 1 + first instance of the pass``) and evaluated per instance. A layer block smaller
    than the tile is placed at the array's corner by the drivers and the sense amplifiers, the
    rest of the array unused (``nn.programmed.ir_drop_weights``; docs/circuits.md). ``data``,
    ``output_fn``, ``batch_size`` and ``confidence`` as for ``accuracy_over_time``.

    Time: the exact IR-drop set-up of every programmed array (G+ and G-, every instance) grows as
    ``max(rows, cols) * min(rows, cols)^3`` (a wide block is solved as its reciprocal network):
    about 0.5 s for a 256x256 array, 5 s at 512x512 and 1.5 min or more at 1024x1024 on a 2-core
    CPU, so layers larger than 512 in both dimensions make a study long.
    """
    where = "array_size_study"
    progress_enabled(progress)
    if not isinstance(model, nn.Module):
        raise TypeError(f"{where}: model must be a torch.nn.Module, got {type(model).__name__}")
    if analog_layers(model):
        raise ValueError(f"{where}: pass the digital model (the study converts it with each array size); "
                         "this one has analog layers already (an.to_digital_ turns them back)")
    if not isinstance(base_config, AnalogConfig):
        raise TypeError(f"{where}: base_config must be an an.AnalogConfig, got {type(base_config).__name__}")
    if base_config.dac.range_policy == "calibrated" and calibration_data is None:
        raise ValueError(f"{where}: base_config's DAC range policy is 'calibrated'; pass calibration_data "
                         "(inputs for an.calibrate_, e.g. training examples)")
    sizes = check_sizes(sizes, where)
    pairs = wire_pairs(r_wire, where)
    if calibrate_when not in CALIBRATE_WHEN:
        raise ValueError(f"{where}: calibrate_when must be one of {CALIBRATE_WHEN} (calibrate from the ideal "
                         f"array, or each programmed instance through its wires), got {calibrate_when!r}")
    _check_count(instances, "instances", where)
    _check_count(instances_per_pass, "instances_per_pass", where)
    check_batch_size(batch_size, where)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"{where}: confidence must lie in (0, 1), got {confidence}")
    batches = list(labelled_batches(data, where))
    digital = float(_instance_accuracy(copy.deepcopy(model).eval(), batches, 1, batch_size, output_fn)[0])
    points: list[ArrayPoint] = []
    steps = [(s, p) for s in sizes for p in pairs]
    for size, (r_row, r_col) in track(steps, "array size study", progress, unit="point"):
        cfg = base_config.replace(**{"tile.rows": size, "tile.cols": size,
                                     "circuit.r_row_ohm": r_row, "circuit.r_col_ohm": r_col})
        work = convert_(copy.deepcopy(model), cfg, seed=seed)
        after = calibration_data is not None and calibrate_when == "after"
        if calibration_data is not None and not after:
            calibrate_(work, calibration_data, seed=seed, progress=False)
        work.eval()
        acc: list[float] = []
        per_pass = 1 if after else instances_per_pass
        for done in range(0, instances, per_pass):
            reps = min(per_pass, instances - done)
            program_(work, seed=seed + 1 + done, instances=reps, progress=False)
            if after:
                calibrate_(work, calibration_data, seed=seed, progress=False)
            acc.extend(_instance_accuracy(work, batches, reps, batch_size, output_fn).tolist())
        mean, std, lo, hi = _stats(acc, confidence)
        points.append(ArrayPoint(size, r_row, r_col, mean, std, lo, hi, len(acc), confidence, tuple(acc)))
        del work
    return points, digital


__all__ = ["CALIBRATE_WHEN", "DEFAULT_R_WIRE", "DEFAULT_SIZES", "ArrayCost", "ArrayPoint", "ArraySizeStudy", "RWire",
           "array_accuracy", "check_sizes", "largest_within", "wire_label", "wire_pairs"]
