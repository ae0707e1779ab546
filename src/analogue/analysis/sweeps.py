"""Design-space sweeps on Ray: a grid or random sample over any chip field, each point a Ray task,
results in a Parquet table that a rerun resumes, and the Pareto front of accuracy vs energy.

Not ``an.cost.sweep``: that one varies a chip's *peak* figures (vectorised, no model); this one
runs a model at every point -- accuracy over programming instances and the compiled model's
cost -- and is what ``analogue sweep SWEEP.yaml`` runs (``apps.sweep``).

A sweep is a ``SweepSpec`` (from YAML: ``SweepSpec.from_yaml``) -- a base chip and ``axes``, each
a list of values:

- ``chip``: chip preset names (``an.chips.get``), the base chip of the point;
- ``t_s``: the time after programming the accuracy is read at (seconds);
- ``seed``: the seed of the conversion and of the programming instances;
- any other name: a field of the chip, as ``Chip.replace`` takes it -- a dotted path
  (``array.adc.bits``, ``array.tile.rows``, ``organisation.n_cores``) or a flat name (``device``,
  ``adc_bits``, ``array_rows``).

``mode: grid`` runs every combination; ``mode: random`` a sample of ``samples`` distinct
combinations drawn with ``seed``. Each point is keyed by a hash of its values and of the spec's
fixed fields (``point_key``); ``sweep`` writes one Parquet part file per point, atomically, under
``out/points/``, so a rerun (same ``out``) runs only the points that have no row yet (and, with
``rerun="failed"``, those whose row records an error). A point that raises is a row with
``status="error"`` and the one-line message; the sweep goes on.

``sweep`` itself is generic: ``measure(context, point)`` returns a point's metrics (a dict of
numbers); ``context`` (the model and data) is put in Ray's object store once. The standard
measure -- accuracy and cost -- lives a layer up, in ``analogue.apps.sweep`` (it compiles and
costs, which sit above ``analysis``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analogue._util.io import fsync_dir, write_temp_file
from analogue._util.progress import Progress, bar, progress_enabled
from analogue._util.serial import field_names, nested_dataclass, read_yaml, reject_unknown
from analogue._util.tables import format_table, save_figure
from analogue.config import ConfigError
from analogue.config.chips import FLAT_FIELDS, Chip
from analogue.config.chips import get as get_chip
from analogue.nn.programmed import COMPENSATION_MODES

MODES = ("grid", "random")
RERUN = ("missing", "failed")
"""``missing``: run the points with no row; ``failed``: also rerun the points whose row is an error."""
SPECIAL_AXES = ("chip", "t_s", "seed")
MEASURE_ERRORS = (Exception,)


def check_chip_field(name: str, where: str = "sweep.axes") -> None:
    """Fail naming ``name`` unless ``Chip.replace`` takes it (a field path or a flat name)."""
    if name in FLAT_FIELDS or name in ("device", "g_max_uS"):
        return
    cls: Any = Chip
    parts = name.split(".")
    for i, part in enumerate(parts):
        reject_unknown({part: None}, field_names(cls), f"{where}: {'.'.join(['Chip', *parts[:i]])}")
        nxt = nested_dataclass(cls, part)
        if nxt is None and i < len(parts) - 1:
            raise ConfigError(f"{where}: {name!r}: Chip.{'.'.join(parts[:i + 1])} has no fields")
        cls = nxt


@dataclass(frozen=True)
class SweepSpec:
    """A sweep (module docstring). ``model``: what to build -- a name ``analogue.apps.sweep``
    knows (``digits_mlp``, ``digits_cnn``) or ``MODULE:FUNCTION`` returning ``(model, data)``.
    ``chip``: the base chip preset (an axis ``chip`` overrides it). ``axes``: name -> values.
    ``mode``: ``grid`` or ``random`` (``samples`` points, drawn with ``seed``). ``repeats``:
    programming instances per point; ``compensation``: drift compensation mode; ``t_s`` and
    ``seed``: the time and seed of points without those axes; ``batch_size``: of the
    evaluation; ``model_kwargs``: keyword arguments of the model's function."""

    model: str
    axes: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    chip: str = "hermes"
    mode: str = "grid"
    samples: int = 0
    repeats: int = 4
    compensation: str = "global"
    t_s: float = 1.0
    seed: int = 0
    batch_size: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"sweep.model: must be a model name or MODULE:FUNCTION, got {self.model!r}")
        if not isinstance(self.axes, Mapping):
            raise ConfigError(f"sweep.axes: must map field names to lists of values, got {type(self.axes).__name__}")
        axes = {}
        for name, values in self.axes.items():
            if not isinstance(name, str):
                raise ConfigError(f"sweep.axes: names must be strings, got {name!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ConfigError(f"sweep.axes.{name}: must be a non-empty list of values, got {values!r}")
            if name not in SPECIAL_AXES:
                check_chip_field(name)
            axes[name] = tuple(values)
        object.__setattr__(self, "axes", axes)
        if not isinstance(self.model_kwargs, Mapping) or not all(isinstance(k, str) for k in self.model_kwargs):
            raise ConfigError(f"sweep.model_kwargs: must map argument names to values, got {self.model_kwargs!r}")
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))
        get_chip(self.chip)  # an unknown preset fails here, naming the closest
        if self.mode not in MODES:
            raise ConfigError(f"sweep.mode: must be one of {MODES}, got {self.mode!r}")
        for name in ("samples", "repeats", "seed", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name in ("samples", "seed") else 1):
                raise ConfigError(f"sweep.{name}: must be a {'non-negative' if name in ('samples', 'seed') else 'positive'} "
                                  f"integer, got {v!r}")
        if self.mode == "random" and self.samples < 1:
            raise ConfigError("sweep.samples: mode 'random' needs samples >= 1 (the number of points)")
        if self.compensation not in COMPENSATION_MODES:
            raise ConfigError(f"sweep.compensation: must be one of {COMPENSATION_MODES}, got {self.compensation!r}")
        if isinstance(self.t_s, bool) or not isinstance(self.t_s, (int, float)) or not (
                math.isfinite(self.t_s) and self.t_s > 0):
            raise ConfigError(f"sweep.t_s: must be a time in seconds > 0, got {self.t_s!r}")

    @classmethod
    def from_dict(cls, data: Any, where: str = "sweep") -> SweepSpec:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: must be a mapping of fields, got {type(data).__name__}")
        reject_unknown(data, field_names(cls), where)
        if "model" not in data:
            raise ConfigError(f"{where}: the field 'model' is required (a model name or MODULE:FUNCTION)")
        return cls(**dict(data))

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SweepSpec:
        """From a YAML file (``safe_load``); unknown fields fail naming the field."""
        return cls.from_dict(read_yaml(path, "sweep"), f"sweep {Path(path).name}")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["axes"] = {k: list(v) for k, v in self.axes.items()}
        return out

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.axes.values())

    def points(self) -> list[dict[str, Any]]:
        """Every point of the sweep, in order: the grid, or ``samples`` distinct combinations."""
        names = list(self.axes)
        if self.mode == "grid":
            return [dict(zip(names, combo)) for combo in itertools.product(*self.axes.values())]
        n = self.grid_size()
        picks = random.Random(self.seed).sample(range(n), min(self.samples, n))
        out = []
        for index in picks:  # mixed radix: the last axis varies fastest, as in the grid
            point: dict[str, Any] = {}
            for name in reversed(names):
                index, i = divmod(index, len(self.axes[name]))
                point[name] = self.axes[name][i]
            out.append({name: point[name] for name in names})
        return out

    def fixed(self) -> dict[str, Any]:
        """The fields every point shares (part of each point's key)."""
        return {"model": self.model, "model_kwargs": self.model_kwargs, "chip": self.chip, "repeats": self.repeats,
                "compensation": self.compensation, "t_s": float(self.t_s), "seed": self.seed}


def point_key(spec: SweepSpec, point: Mapping[str, Any]) -> str:
    """A point's key: 16 hex digits of the SHA-256 of its values and the spec's fixed fields."""
    text = json.dumps({"fixed": spec.fixed(), "point": dict(point)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def point_chip(spec: SweepSpec, point: Mapping[str, Any]) -> Chip:
    """The chip of a point: its ``chip`` preset (or the spec's) with the other chip axes applied."""
    chip = get_chip(str(point.get("chip", spec.chip)))
    changes = {k: v for k, v in point.items() if k not in SPECIAL_AXES}
    return chip.replace(**changes) if changes else chip


def point_settings(spec: SweepSpec, point: Mapping[str, Any]) -> tuple[float, int]:
    """``(t_s, seed)`` of a point: its axes' values or the spec's."""
    return float(point.get("t_s", spec.t_s)), int(point.get("seed", spec.seed))


def pareto_front(rows: Sequence[Mapping[str, Any]], accuracy: str = "accuracy",
                 energy: str = "energy_J") -> list[dict[str, Any]]:
    """The rows no other row dominates (at least as accurate at no more energy, better in one),
    by increasing energy; rows without both numbers (failed points) are left out."""
    ok = [dict(r) for r in rows if _number(r.get(accuracy)) and _number(r.get(energy))]
    ok.sort(key=lambda r: (r[energy], -r[accuracy]))
    front: list[dict[str, Any]] = []
    best = -math.inf
    for r in ok:  # by energy: a row is on the front when it beats every cheaper row's accuracy
        if r[accuracy] > best:
            front.append(r)
            best = r[accuracy]
    return front


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# -- the Parquet store ---------------------------------------------------------------------------
def _parts(out: Path) -> Path:
    return out / "points"


def write_row(out: str | os.PathLike[str], row: Mapping[str, Any]) -> Path:
    """One point's row as its own Parquet file ``out/points/<key>.parquet``, written atomically
    (a crash leaves the old file or none, never half a file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = _parts(Path(out))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{row['key']}.parquet"
    table = pa.Table.from_pylist([dict(row)])
    tmp = write_temp_file(folder, name, lambda p: pq.write_table(table, p))
    os.replace(tmp, folder / name)
    fsync_dir(folder)
    return folder / name


def read_rows(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every row under ``out/points/`` (any sweep that wrote there), in file-name order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = _parts(Path(out))
    if not folder.is_dir():
        return []
    tables = [pq.read_table(p) for p in sorted(folder.glob("*.parquet"))]
    if not tables:
        return []
    return pa.concat_tables(tables, promote_options="default").to_pylist()


# -- running ---------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_point(measure: Callable[[Any, dict[str, Any]], Mapping[str, Any]], context: Any,
              point: dict[str, Any], key: str) -> dict[str, Any]:
    """One point's row: its key, its values, ``status`` (``ok``/``error``), ``error`` (the
    one-line message or ``""``), ``seconds`` and the metrics ``measure`` returned. Runs in a Ray
    worker; never raises for an error of the point."""
    start = time.perf_counter()
    row: dict[str, Any] = {"key": key, **point, "status": "ok", "error": ""}
    try:
        metrics = dict(measure(context, dict(point)))
        clash = sorted(set(metrics) & set(row))
        if clash:
            raise ValueError(f"measure returned metrics named like the row's columns: {clash}")
        row.update(metrics)
    except MEASURE_ERRORS as exc:
        row.update(status="error", error=_one_line(exc))
    row["seconds"] = time.perf_counter() - start
    return row


@dataclass(frozen=True)
class SweepResult:
    """What ``sweep`` did: the rows of the spec's points (``rows``, in the spec's order; those
    never run are absent), how many points ran now (``executed``) and how many were done already
    (``skipped``), and where the table lives (``out``)."""

    rows: tuple[dict[str, Any], ...]
    executed: int
    skipped: int
    out: Path
    axes: tuple[str, ...] = ()

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("status") != "ok"]

    def pareto(self) -> list[dict[str, Any]]:
        """The Pareto front of accuracy (higher) vs energy per inference (lower)."""
        return pareto_front(self.rows)

    def table(self, rows: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Table rows (the Pareto front by default): the axes, accuracy in %, energy in nJ."""
        out = []
        for r in self.pareto() if rows is None else rows:
            row = {name: r.get(name) for name in self.axes}
            if r.get("status", "ok") != "ok":
                row["error"] = r.get("error", "")
            else:
                row["accuracy %"] = 100 * r["accuracy"]
                row["energy nJ/inference"] = 1e9 * r["energy_J"]
                if "latency_s" in r:
                    row["latency us"] = 1e6 * r["latency_s"]
            out.append(row)
        return out

    def report(self) -> str:
        """The Pareto front as a markdown table, and the failed points."""
        text = format_table(self.table())
        if self.failed:
            text += "\n\nfailed points\n" + format_table(self.table(self.failed))
        return text

    def plot(self, path: str | os.PathLike[str], title: str = "accuracy vs energy per inference") -> Path:
        """Every finished point and the Pareto front, energy (log) against accuracy; saved atomically."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ok = [r for r in self.rows if r.get("status") == "ok"]
        front = self.pareto()
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter([1e9 * r["energy_J"] for r in ok], [100 * r["accuracy"] for r in ok], s=14, alpha=0.5,
                   label="points")
        ax.plot([1e9 * r["energy_J"] for r in front], [100 * r["accuracy"] for r in front], "o-", color="C3",
                label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel("energy per inference (nJ)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        saved = save_figure(fig, path)
        plt.close(fig)
        return saved


def sweep(spec: SweepSpec, measure: Callable[[Any, dict[str, Any]], Mapping[str, Any]], context: Any = None,
          *, out: str | os.PathLike[str], address: str | None = None, num_cpus: int | None = None,
          cpus_per_point: float = 1.0, rerun: str = "missing", progress: Progress = None) -> SweepResult:
    """Run ``spec``'s points as Ray tasks, ``measure(context, point)`` each; returns the rows.

    ``out``: the folder of the Parquet table (``out/points/<key>.parquet``, one file per point;
    ``read_rows(out)`` or ``pyarrow.parquet.read_table(out / "points")`` reads it); points with
    a row there already are skipped (``rerun="failed"`` also reruns the failed ones). Ray:
    an initialised Ray is used as it is; otherwise ``ray.init(address=address,
    num_cpus=num_cpus)`` (``address=None``: a local Ray on this machine; ``"auto"`` or
    ``"ray://host:10001"``: a cluster) is started and shut down after. ``cpus_per_point``: the
    CPUs Ray reserves for each task. ``measure`` and ``context`` must pickle (a module-level
    function; ``context`` goes to the object store once). ``progress``: a bar over the points.
    """
    import ray

    if not isinstance(spec, SweepSpec):
        raise TypeError(f"sweep: spec must be a SweepSpec, got {type(spec).__name__}")
    if rerun not in RERUN:
        raise ValueError(f"sweep: rerun must be one of {RERUN}, got {rerun!r}")
    if not (isinstance(cpus_per_point, (int, float)) and cpus_per_point > 0):
        raise ValueError(f"sweep: cpus_per_point must be > 0, got {cpus_per_point!r}")
    progress_enabled(progress)
    out = Path(out)
    points = spec.points()
    keys = [point_key(spec, p) for p in points]
    have = {r["key"]: r for r in read_rows(out)}
    done = {k for k, r in have.items() if r.get("status") == "ok" or rerun == "missing"}
    todo = [(k, p) for k, p in zip(keys, points) if k not in done]
    todo = list(dict(todo).items())  # a point listed twice runs once
    started = False
    if todo and not ray.is_initialized():
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        started = True
    try:
        if todo:
            task = ray.remote(num_cpus=cpus_per_point, max_retries=0)(run_point)
            ctx = ray.put(context)
            pending = {task.remote(measure, ctx, p, k): (k, p) for k, p in todo}
            with bar(len(pending), "sweep", progress, unit="point") as pbar:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    k, p = pending.pop(ready[0])
                    try:
                        row = ray.get(ready[0])
                    except Exception as exc:  # the worker died (out of memory, a crash): the point failed
                        row = {"key": k, **p, "status": "error", "error": _one_line(exc), "seconds": float("nan")}
                    write_row(out, row)
                    have[k] = row
                    pbar.update()
    finally:
        if started:
            ray.shutdown()
    rows = tuple(have[k] for k in dict.fromkeys(keys) if k in have)
    return SweepResult(rows, len(todo), len(dict.fromkeys(keys)) - len(todo), out, tuple(spec.axes))


__all__ = ["MODES", "RERUN", "SweepResult", "SweepSpec", "check_chip_field", "pareto_front", "point_chip",
           "point_key", "point_settings", "read_rows", "run_point", "sweep", "write_row"]
