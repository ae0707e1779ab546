"""The compiled program: where every operation of a model runs on a chip.

A :class:`Program` is what ``an.compile(model, example_inputs, chip)`` returns and what the cost
model (``an.estimate_cost``) reads. It holds one :class:`LayerPlan` per captured operation (analog
matrix-vector products and everything the digital unit does), the placement of every analog weight
block on the chip's arrays, and the converted, executable model.

Conventions (all counts are per inference at batch 1):

- An analog layer's weight is mapped, per group, to a ``rows x cols`` matrix: ``rows`` are the
  inputs of one matrix-vector product (``in_features`` or ``in_channels/groups * kernel elements``),
  ``cols`` its outputs (``out_features`` or ``out_channels/groups``).
- Each weight takes ``chip.cells_per_weight`` cells (bit slices / multi-cell weights) laid side
  by side along the array's columns, so a group occupies ``rows x cols*cells_per_weight`` cells.
- ``Program.placement[layer]`` lists :class:`Block` tuples; the sum of ``n_rows * n_cols`` over a
  layer's blocks equals ``rows * cols * cells_per_weight * groups * replication`` == ``cells``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from analogue.config import _reject_unknown

if TYPE_CHECKING:  # pragma: no cover
    from analogue.chips import Chip

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
    def from_dict(cls, data: dict[str, Any]) -> LayerPlan:
        _reject_unknown(data, [f.name for f in dataclasses.fields(cls)], "LayerPlan.from_dict")
        kw = dict(data)
        for k in ("weight_shape", "cores", "inputs"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


@dataclass
class Program:
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
        raise KeyError(f"Program has no layer {name!r}")

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
            "chip": _chip_to_dict(self.chip),
            "layers": [lp.to_dict() for lp in self.layers],
            "placement": {k: [list(b) for b in v] for k, v in self.placement.items()},
            "activation_bits_moved": self.activation_bits_moved,
            "reprogram_rounds": self.reprogram_rounds,
            "batch_size": self.batch_size,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Program:
        version = data.get("version")
        if version != PROGRAM_VERSION:
            raise ValueError(
                f"Program.from_dict: this analogue reads version {PROGRAM_VERSION}, got {version!r}"
            )
        return cls(
            chip=_chip_from_dict(data["chip"]),
            layers=[LayerPlan.from_dict(d) for d in data["layers"]],
            model=None,
            placement={k: [Block(*b) for b in v] for k, v in data["placement"].items()},
            activation_bits_moved=int(data["activation_bits_moved"]),
            reprogram_rounds=int(data.get("reprogram_rounds", 1)),
            batch_size=int(data.get("batch_size", 1)),
            notes=list(data.get("notes", [])),
        )

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """JSON text of everything but the model; also written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            from analogue.config import atomic_write_text

            atomic_write_text(path, text)
        return text

    @classmethod
    def from_json(cls, text: str) -> Program:
        """Inverse of :meth:`to_json` (accepts the text or a path to a ``.json`` file)."""
        if not text.lstrip().startswith("{") and Path(text).is_file():
            text = Path(text).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))


def _chip_to_dict(chip: Any) -> dict[str, Any]:
    if hasattr(chip, "to_dict"):
        return chip.to_dict()
    return dataclasses.asdict(chip)


def _chip_from_dict(data: dict[str, Any]) -> Any:
    from analogue import chips

    if hasattr(chips.Chip, "from_dict"):
        return chips.Chip.from_dict(data)
    from analogue.config import section_from_dict

    return section_from_dict(chips.Chip, data, "Chip")
