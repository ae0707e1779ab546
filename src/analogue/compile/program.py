"""The compiled model: where every operation of a model runs on a chip.

A :class:`CompiledModel` (called ``Program`` before; that name is a deprecated alias) is what
``an.compile(model, example_inputs, chip)`` returns and what the cost model (``an.estimate_cost``)
reads. It holds one :class:`LayerPlan` per captured operation (analog matrix-vector products and
everything the digital unit does), the placement of every analog weight block on the chip's
arrays, and the converted, executable model.

Conventions (all counts are per inference at batch 1):

- An analog layer's weight is mapped, per group, to a ``rows x cols`` matrix: ``rows`` are the
  inputs of one matrix-vector product (``in_features`` or ``in_channels/groups * kernel elements``),
  ``cols`` its outputs (``out_features`` or ``out_channels/groups``).
- Each weight takes ``chip.cells_per_weight`` cells (bit slices / multi-cell weights) laid side
  by side along the array's columns, so a group occupies ``rows x cols*cells_per_weight`` cells.
- ``CompiledModel.placement[layer]`` lists :class:`Block` tuples; the sum of ``n_rows * n_cols`` over a
  layer's blocks equals ``rows * cols * cells_per_weight * groups * replication`` == ``cells``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from analogue._util.serial import reject_unknown as _reject_unknown

if TYPE_CHECKING:  # pragma: no cover
    from analogue.config.chips import Chip

PROGRAM_VERSION = 1

ANALOG = "analog"
DIGITAL = "digital"


class Block(NamedTuple):
    """One rectangle of a layer's mapped weight matrix programmed into one array.

    ``core``/``array``: the array (``array`` counts within its core). ``round``: the reprogramming
    round in which the block is resident (0 unless time-multiplexed). ``replica``: which copy of
    the weights (replication for throughput). ``group``: conv group. ``row0``/``col0``: offset of
    the block in the group's mapped ``rows x cols*cells_per_weight`` matrix; ``n_rows``/``n_cols``
    its size in cells. ``arr_row0``/``arr_col0``: where it sits inside the array (non-zero when
    several small groups share one array block-diagonally).
    """

    core: int
    array: int
    round: int
    replica: int
    group: int
    row0: int
    col0: int
    n_rows: int
    n_cols: int
    arr_row0: int
    arr_col0: int

    @property
    def cells(self) -> int:
        return self.n_rows * self.n_cols


@dataclass
class LayerPlan:
    """One captured operation and where it runs (counts per inference at batch 1)."""

    name: str  # module qualified name (analog layers) or fx node name (digital ops)
    op: str  # "linear","conv1d","conv2d","matmul","bmm","softmax","layer_norm","gelu","add",...
    placement: str  # "analog" | "digital"
    weight_shape: tuple[int, ...]  # () for ops without a static weight
    rows: int  # analog: rows of the mapped matrix per group; 0 if digital
    cols: int  # analog: columns of the mapped matrix per group (weights, not cells); 0 if digital
    groups: int  # conv groups (1 otherwise)
    mvms_per_inference: int  # analog: input vectors presented per inference (tokens, positions)
    macs: int  # multiply-accumulates per inference
    digital_ops: int  # operations done by the digital unit for this node per inference
    arrays: int  # arrays occupied, including bit slices and replication
    cells: int  # programmed cells (rows*cols*groups*cells_per_weight*replication)
    utilization: float  # cells / (arrays * array_rows * array_cols)
    replication: int  # copies of the weights for throughput
    cores: tuple[int, ...]  # cores holding this layer's arrays
    stage: int  # pipeline stage index
    input_elems: int  # activation elements into this node per inference
    output_elems: int  # activation elements out of this node per inference
    module: str = ""  # qualified name of the innermost module the op was traced in
    reason: str = ""  # why an op with a static weight stayed digital (rules, unsupported op)
    round: int = 0  # first reprogramming round in which this layer is resident
    inputs: tuple[str, ...] = ()  # names of the LayerPlans this node consumes (dataflow edges)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerPlan:
        """Inverse of ``to_dict``: a field missing, unknown or of the wrong kind, or a negative
        count, raises a one-line ``ValueError`` naming the layer and the field."""
        where = "LayerPlan.from_dict"
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a JSON object per layer, got {type(data).__name__}")
        name = data.get("name")
        if isinstance(name, str):
            where = f"layer {name!r}"
        _reject_unknown(data, [f.name for f in dataclasses.fields(cls)], where)
        kw = dict(data)
        for f in dataclasses.fields(cls):
            if f.name not in kw:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ValueError(f"{where}: missing field {f.name!r}")
                continue
            v = kw[f.name]
            kind = _LAYER_FIELD_KINDS.get(f.name, "str")
            if kind in ("count", "int"):
                if not (isinstance(v, int) and not isinstance(v, bool) and (kind == "int" or v >= 0)):
                    raise ValueError(f"{where}: {f.name} must be an integer{' >= 0' if kind == 'count' else ''}, "
                                     f"got {v!r}")
            elif kind == "fraction":
                if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 + 1e-9):
                    raise ValueError(f"{where}: {f.name} must be a fraction in [0, 1], got {v!r}")
            elif kind in ("ints", "strs"):
                elem = int if kind == "ints" else str
                if not (isinstance(v, (list, tuple)) and all(isinstance(e, elem) and not isinstance(e, bool)
                                                              for e in v)):
                    raise ValueError(f"{where}: {f.name} must be a list of {elem.__name__}s, got {v!r}")
                kw[f.name] = tuple(v)
            elif not isinstance(v, str):
                raise ValueError(f"{where}: {f.name} must be a string, got {v!r}")
        if kw["placement"] not in (ANALOG, DIGITAL):
            raise ValueError(f"{where}: placement must be {ANALOG!r} or {DIGITAL!r}, got {kw['placement']!r}")
        return cls(**kw)


_LAYER_FIELD_KINDS = {
    "weight_shape": "ints", "cores": "ints", "inputs": "strs", "utilization": "fraction",
    **{k: "count" for k in ("rows", "cols", "groups", "mvms_per_inference", "macs", "digital_ops",
                            "arrays", "cells", "replication", "stage", "input_elems", "output_elems",
                            "round")},
}


@dataclass
class CompiledModel:
    """A model placed on a chip: layer table, array placement, and the executable model."""

    chip: Chip
    layers: list[LayerPlan]
    model: torch.nn.Module | None  # converted executable model (None after from_json)
    placement: dict[str, list[Block]]  # analog layer name -> the blocks it occupies
    activation_bits_moved: int  # bits moved between cores per inference (batch 1)
    reprogram_rounds: int = 1  # >1 when time-multiplexed by reprogramming
    batch_size: int = 1  # batch of the example inputs the counts were divided by
    version: int = PROGRAM_VERSION
    notes: list[str] = field(default_factory=list)

    # -- queries -----------------------------------------------------------------------------
    @property
    def analog_layers(self) -> list[LayerPlan]:
        return [lp for lp in self.layers if lp.placement == ANALOG]

    @property
    def digital_layers(self) -> list[LayerPlan]:
        return [lp for lp in self.layers if lp.placement == DIGITAL]

    def layer(self, name: str) -> LayerPlan:
        for lp in self.layers:
            if lp.name == name:
                return lp
        raise KeyError(f"CompiledModel has no layer {name!r}")

    @property
    def arrays_used(self) -> int:
        """Arrays holding weights in the largest reprogramming round."""
        per_round: dict[int, set[tuple[int, int]]] = {}
        for blocks in self.placement.values():
            for b in blocks:
                per_round.setdefault(b.round, set()).add((b.core, b.array))
        return max((len(s) for s in per_round.values()), default=0)

    @property
    def analog_macs(self) -> int:
        return sum(lp.macs for lp in self.analog_layers)

    @property
    def digital_macs(self) -> int:
        return sum(lp.macs for lp in self.digital_layers)

    @property
    def digital_ops(self) -> int:
        return sum(lp.digital_ops for lp in self.layers)

    @property
    def n_stages(self) -> int:
        return 1 + max((lp.stage for lp in self.layers), default=-1)

    def core_occupancy(self) -> list[list[int]]:
        """``occ[round][core]``: arrays occupied on each core in each reprogramming round."""
        n_cores = int(self.chip.n_cores)
        seen: dict[int, set[tuple[int, int]]] = {}
        for blocks in self.placement.values():
            for b in blocks:
                seen.setdefault(b.round, set()).add((b.core, b.array))
        occ = [[0] * n_cores for _ in range(max(self.reprogram_rounds, 1))]
        for r, arrs in seen.items():
            for core, _ in arrs:
                occ[r][core] += 1
        return occ

    # -- presentation -------------------------------------------------------------------------
    def summary(self, max_digital: int | None = 20) -> str:
        """A fixed-width table of the layers (all analog ones, then digital ops) and totals.

        ``max_digital``: list at most this many digital ops (largest first); ``None`` lists all.
        """
        from analogue.compile.report import format_summary

        return format_summary(self, max_digital=max_digital)

    def plot_occupancy(self, path: str | os.PathLike[str] | None = None, round: int = 0) -> Any:
        """Bar chart of arrays per core coloured by layer; saves to ``path`` if given."""
        from analogue.compile.report import plot_occupancy

        return plot_occupancy(self, path=path, round=round)

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "chip": self.chip.to_dict(),
            "layers": [lp.to_dict() for lp in self.layers],
            "placement": {k: [list(b) for b in v] for k, v in self.placement.items()},
            "activation_bits_moved": self.activation_bits_moved,
            "reprogram_rounds": self.reprogram_rounds,
            "batch_size": self.batch_size,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompiledModel:
        """Inverse of :meth:`to_dict`. Anything that is not a program of this version (a field
        missing or of the wrong kind, a negative count) raises a one-line ``ValueError`` (or the
        chip's ``ConfigError``) naming the field."""
        where = "CompiledModel.from_dict"
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a JSON object (CompiledModel.to_json), got {type(data).__name__}")
        version = data.get("version")
        if version != PROGRAM_VERSION:
            raise ValueError(f"{where}: this analogue reads version {PROGRAM_VERSION}, got {version!r}")
        _reject_unknown(data, ["version", *_PROGRAM_KEYS, "reprogram_rounds", "batch_size", "notes"], where)
        for key, kind in _PROGRAM_KEYS.items():
            if key not in data:
                raise ValueError(f"{where}: missing field {key!r} (write it with CompiledModel.to_json)")
            if not isinstance(data[key], kind):
                raise ValueError(f"{where}: {key} must be a JSON {_KIND_NAMES[kind]}, got {type(data[key]).__name__}")
        counts = {k: data.get(k, d) for k, d in (("activation_bits_moved", 0), ("reprogram_rounds", 1),
                                                 ("batch_size", 1))}
        for k, v in counts.items():
            lo = 0 if k == "activation_bits_moved" else 1
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo):
                raise ValueError(f"{where}: {k} must be an integer >= {lo}, got {v!r}")
        notes = data.get("notes", [])
        if not (isinstance(notes, list) and all(isinstance(n, str) for n in notes)):
            raise ValueError(f"{where}: notes must be a list of strings")
        layers = [LayerPlan.from_dict(d) for d in data["layers"]]
        names = {lp.name for lp in layers}
        placement: dict[str, list[Block]] = {}
        for k, blocks in data["placement"].items():
            if k not in names:
                raise ValueError(f"{where}: placement names {k!r}, which is not a layer")
            if not (isinstance(blocks, list) and all(
                    isinstance(b, list) and len(b) == len(Block._fields)
                    and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in b)
                    for b in blocks)):
                raise ValueError(f"{where}: placement[{k!r}] must be a list of blocks of "
                                 f"{len(Block._fields)} integers >= 0 ({', '.join(Block._fields)})")
            placement[k] = [Block(*b) for b in blocks]
        try:
            chip = _chip_from_dict(data["chip"])
        except TypeError as exc:
            raise ValueError(f"{where}: chip: {exc}") from None
        return cls(chip=chip, layers=layers, model=None, placement=placement, notes=list(notes), **counts)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """JSON text of everything but the model; also written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            from analogue._util.io import atomic_write_text

            atomic_write_text(path, text)
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> CompiledModel:
        """Inverse of :meth:`to_json`: ``source`` is the JSON text, or a path (``str`` or
        ``Path``) to a ``.json`` file. A missing file raises ``FileNotFoundError``, text that is
        not a program a one-line ``ValueError``."""
        if isinstance(source, os.PathLike):
            text = _read_text(Path(source))
        elif isinstance(source, str):
            head = source.lstrip()[:1]
            if head in ("{", "["):
                text = source
            elif _is_file(source):
                text = _read_text(Path(source))
            elif source.strip().endswith(".json") or os.sep in source:
                raise FileNotFoundError(f"CompiledModel.from_json: no such file {source!r}")
            else:
                text = source
        else:
            raise TypeError(f"CompiledModel.from_json: expected JSON text or a path, got {type(source).__name__}")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"CompiledModel.from_json: not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                             "give the text of CompiledModel.to_json or a path to its file") from None
        return cls.from_dict(data)


_PROGRAM_KEYS: dict[str, type] = {"chip": dict, "layers": list, "placement": dict,
                                  "activation_bits_moved": int}
_KIND_NAMES = {dict: "object", list: "array", int: "integer"}


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file
        return False


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"CompiledModel.from_json: no such file {str(path)!r}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"CompiledModel.from_json: {path} is not a text file ({exc.reason})") from None


def _chip_from_dict(data: dict[str, Any]) -> Chip:
    from analogue.config.chips import Chip

    return Chip.from_dict(data)


_warned_program = False


def deprecated_program() -> type[CompiledModel]:
    """``CompiledModel``, warning once (``DeprecationWarning``) that ``Program`` is its old name."""
    global _warned_program
    if not _warned_program:
        _warned_program = True
        warnings.warn(
            "analogue: Program is now CompiledModel (an.CompiledModel; the old name collided with"
            " an.program_, which writes conductances); Program will be removed",
            DeprecationWarning,
            stacklevel=3,
        )
    return CompiledModel


def __getattr__(name: str) -> Any:
    if name == "Program":
        return deprecated_program()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
