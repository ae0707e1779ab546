"""Placement: map analog weight matrices onto arrays, pack arrays onto cores, replicate the
layers that bound throughput, schedule a pipeline and count inter-core traffic.

Mapping (per analog layer, per group): the ``rows x cols`` weight matrix, each weight taking
``chip.cells_per_weight`` adjacent columns, is cut into row blocks of ``array_rows`` and column
blocks of ``array_cols // cells_per_weight`` weights; each block fills one array. Small groups of a
grouped convolution (each fitting an array) share arrays block-diagonally. Arrays are not shared
between layers.

Packing: layers in execution order fill cores in order; a copy of a layer that fits one core is
not split across two cores when the chip has room to avoid it. When the model does not fit, the
compiler raises :class:`ChipCapacityError` (how many arrays it needs and the chip has) or, with
``reprogram=True``, time-multiplexes: arrays are filled in rounds of ``chip.n_arrays`` and
reprogrammed between rounds (``CompiledModel.reprogram_rounds``).

Replication (``replicate=True``): spare arrays hold extra copies of the layer whose
``mvms_per_inference / replication`` is largest (the pipeline bottleneck), greedily, while a
copy fits.

Pipeline: an analog layer's stage is one more than the latest stage among the analog layers it
depends on (ASAP); a digital op sits in the stage of its latest analog producer.

Inter-core traffic per inference (``activation_bits_moved``), assuming each core has near-memory
digital processing (as HERMES' local digital units) so that digital ops run on the core of their
first producer:
- inputs: a core holding rows of a layer receives that fraction of the layer's input activations
  from the producer's core, at ``chip.dac_bits`` per element, unless it is that core;
- partial sums: row blocks on a core other than the column block's first core send their
  partial sums there, ``adc_bits + ceil(log2(row_blocks * cells_per_weight))`` bits per output;
- replicas: outputs computed by a copy on another core are gathered to the layer's first core;
- digital ops with inputs from several cores receive the remote ones.
The model's inputs arrive from off-chip and are not counted.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from analogue.compile.capture import OpNode
from analogue.compile.program import ANALOG, DIGITAL, Block, LayerPlan


class ChipCapacityError(ValueError):
    """The model's analog weights need more arrays than the chip has."""


@dataclass
class _Geometry:
    """How one copy of a layer's weights is cut into array blocks."""

    per_copy: int  # arrays per copy
    row_blocks: int
    blocks: list[
        tuple[int, int, int, int, int, int, int, int]
    ]  # (arr, group, r0, c0, nr, nc, ar0, ac0)


def layer_geometry(rows: int, cols: int, groups: int, chip: Any) -> _Geometry:
    """Cut one copy of a ``groups x rows x cols`` weight into array blocks (see module docs)."""
    R, C, cpw = int(chip.array_rows), int(chip.array_cols), int(chip.cells_per_weight)
    cw = C // cpw  # weights per array row
    if cw < 1:
        raise ChipCapacityError(
            f"chip {chip.name!r}: array_cols={C} is smaller than cells_per_weight={cpw};"
            " no weight fits an array row"
        )
    if groups > 1 and rows <= R and cols <= cw:
        gpa = min(R // rows, cw // cols)
        blocks = [
            (g // gpa, g, 0, 0, rows, cols * cpw, (g % gpa) * rows, (g % gpa) * cols * cpw)
            for g in range(groups)
        ]
        return _Geometry(per_copy=-(-groups // gpa), row_blocks=1, blocks=blocks)
    rb, cb = -(-rows // R), -(-cols // cw)
    blocks = []
    for g in range(groups):
        for i in range(rb):
            for j in range(cb):
                nr = min(R, rows - i * R)
                nc = min(cw, cols - j * cw) * cpw
                blocks.append(((g * rb + i) * cb + j, g, i * R, j * cw * cpw, nr, nc, 0, 0))
    return _Geometry(per_copy=groups * rb * cb, row_blocks=rb, blocks=blocks)


def _replicate(analog: list[OpNode], geo: dict[str, _Geometry], spare: int) -> dict[str, int]:
    """Greedy replication of the bottleneck layer into ``spare`` arrays."""
    rep = {op.name: 1 for op in analog}
    heap = [(-op.mvms, op.name) for op in analog if op.mvms > 0]
    heapq.heapify(heap)
    mvms = {op.name: op.mvms for op in analog}
    while heap:
        _, name = heapq.heappop(heap)
        need = geo[name].per_copy
        if need > spare or rep[name] >= mvms[name]:
            break  # the bottleneck cannot be relieved: further copies elsewhere gain nothing
        rep[name] += 1
        spare -= need
        heapq.heappush(heap, (-(mvms[name] / rep[name]), name))
    return rep


def _pack(
    order: list[tuple[str, int, int]], n_cores: int, apc: int, aligned: bool
) -> dict[tuple[str, int], list[int]] | None:
    """Assign global array indices to each (layer, replica) copy, in order.

    ``order``: (layer, replica, arrays per copy). Returns None when aligned packing overflows.
    """
    out: dict[tuple[str, int], list[int]] = {}
    cursor = 0
    capacity = n_cores * apc
    for name, r, n in order:
        if aligned and n <= apc and (cursor % apc) + n > apc:
            cursor = (cursor // apc + 1) * apc  # start the copy on a fresh core
        if aligned and cursor + n > capacity:
            return None
        out[(name, r)] = list(range(cursor, cursor + n))
        cursor += n
    return out


def _fail_capacity(analog: list[OpNode], geo: dict[str, _Geometry], need: int, chip: Any) -> None:
    big = sorted(analog, key=lambda o: -geo[o.name].per_copy)[:3]
    largest = ", ".join(f"{o.name} ({geo[o.name].per_copy})" for o in big)
    raise ChipCapacityError(
        f"the model needs {need} arrays of {chip.array_rows}x{chip.array_cols} cells"
        f" ({chip.cells_per_weight} cell(s) per weight) but chip {chip.name!r} has"
        f" {chip.n_arrays} ({chip.n_cores} cores x {chip.arrays_per_core} arrays per core)."
        f" Largest layers (arrays): {largest}. Pass reprogram=True to time-multiplex the arrays"
        " by reprogramming, keep layers digital with rules={name: None}, or use a larger chip."
    )


def place(
    ops: list[OpNode],
    analog_names: set[str],
    digital_reason: dict[str, str],
    chip: Any,
    replicate: bool = False,
    reprogram: bool = False,
) -> tuple[list[LayerPlan], dict[str, list[Block]], int, int, list[str]]:
    """Place ``ops`` on ``chip``.

    Returns ``(layers, placement, activation_bits_moved, rounds, notes)``.
    """
    notes: list[str] = []
    analog = [op for op in ops if op.name in analog_names]
    geo = {op.name: layer_geometry(op.rows, op.cols, op.groups, chip) for op in analog}
    need = sum(g.per_copy for g in geo.values())
    n_arrays = int(chip.n_arrays)
    apc, n_cores = int(chip.arrays_per_core), int(chip.n_cores)
    rounds = 1
    if need > n_arrays:
        if not reprogram:
            _fail_capacity(analog, geo, need, chip)
        rounds = -(-need // n_arrays)
        notes.append(
            f"time-multiplexed: {need} arrays needed, {n_arrays} on chip ->"
            f" {rounds} programming rounds per inference"
        )
    rep = {op.name: 1 for op in analog}
    if replicate and rounds == 1:
        rep = _replicate(analog, geo, n_arrays - need)
    order = [(op.name, r, geo[op.name].per_copy) for op in analog for r in range(rep[op.name])]
    if rounds == 1:
        slots = _pack(order, n_cores, apc, aligned=True) or _pack(order, n_cores, apc, False)
    else:
        slots = _pack(order, n_cores * rounds, apc, aligned=False)
    assert slots is not None

    placement: dict[str, list[Block]] = {}
    for op in analog:
        blocks: list[Block] = []
        for r in range(rep[op.name]):
            idx = slots[(op.name, r)]
            for arr, g, r0, c0, nr, nc, ar0, ac0 in geo[op.name].blocks:
                gi = idx[arr]
                rnd, local = divmod(gi, n_arrays)
                blocks.append(Block(local // apc, local % apc, rnd, r, g, r0, c0, nr, nc, ar0, ac0))
        placement[op.name] = blocks

    R, C, cpw = int(chip.array_rows), int(chip.array_cols), int(chip.cells_per_weight)
    layers: list[LayerPlan] = []
    for op in ops:
        if op.name in analog_names:
            g = geo[op.name]
            blocks = placement[op.name]
            arrays = g.per_copy * rep[op.name]
            cells = sum(b.cells for b in blocks)
            per_out = 1 + int(op.has_bias) + (g.row_blocks - 1) + (cpw - 1)
            layers.append(
                LayerPlan(
                    name=op.name,
                    op=op.op,
                    placement=ANALOG,
                    weight_shape=op.weight_shape,
                    rows=op.rows,
                    cols=op.cols,
                    groups=op.groups,
                    mvms_per_inference=op.mvms,
                    macs=op.macs,
                    digital_ops=op.mvms * op.cols * op.groups * per_out,
                    arrays=arrays,
                    cells=cells,
                    utilization=cells / (arrays * R * C),
                    replication=rep[op.name],
                    cores=tuple(sorted({b.core for b in blocks})),
                    stage=0,
                    input_elems=op.input_elems,
                    output_elems=op.output_elems,
                    module=op.module,
                    round=min(b.round for b in blocks),
                    inputs=tuple(op.inputs),
                )
            )
        else:
            layers.append(
                LayerPlan(
                    name=op.name,
                    op=op.op,
                    placement=DIGITAL,
                    weight_shape=op.weight_shape,
                    rows=0,
                    cols=0,
                    groups=op.groups,
                    mvms_per_inference=0,
                    macs=op.macs,
                    digital_ops=op.digital_ops or 2 * op.macs,
                    arrays=0,
                    cells=0,
                    utilization=0.0,
                    replication=1,
                    cores=(),
                    stage=0,
                    input_elems=op.input_elems,
                    output_elems=op.output_elems,
                    module=op.module,
                    reason=digital_reason.get(op.name, op.reason),
                    inputs=tuple(op.inputs),
                )
            )
    schedule_stages(layers)
    bits = count_traffic(layers, placement, geo, chip)
    return layers, placement, bits, rounds, notes


def schedule_stages(layers: list[LayerPlan]) -> None:
    """Assign ASAP pipeline stages in place (analog layers start new stages)."""
    out: dict[str, int] = {}
    for lp in layers:
        prev = max((out[s] for s in lp.inputs if s in out), default=-1)
        if lp.placement == ANALOG:
            lp.stage = prev + 1
            out[lp.name] = lp.stage
        else:
            lp.stage = max(prev, 0)
            out[lp.name] = prev


def count_traffic(
    layers: list[LayerPlan], placement: dict[str, list[Block]], geo: dict[str, _Geometry], chip: Any
) -> int:
    """Bits moved between cores per inference (see the module docstring for the model)."""
    act_bits = int(chip.dac_bits)
    cpw = int(chip.cells_per_weight)
    loc: dict[str, int | None] = {}
    total = 0.0
    for lp in layers:
        srcs = [loc.get(s) for s in lp.inputs]
        share = lp.input_elems / max(len(srcs), 1)
        if lp.placement == DIGITAL:
            here = next((s for s in srcs if s is not None), None)
            loc[lp.name] = here
            total += sum(share * act_bits for s in srcs if s is not None and s != here)
            continue
        blocks = placement[lp.name]
        rep, rows_total = lp.replication, lp.rows * lp.groups
        home = blocks[0].core
        loc[lp.name] = home
        # input rows each core needs (a row range used by several column blocks counts once)
        rows_on: dict[int, set[tuple[int, int, int, int]]] = {}
        for b in blocks:
            rows_on.setdefault(b.core, set()).add((b.replica, b.group, b.row0, b.n_rows))
        for s in srcs:
            if s is None:
                continue
            for core, ranges in rows_on.items():
                if core != s:
                    frac = sum(r[3] for r in ranges) / (rows_total * rep)
                    total += frac * share * act_bits
        # partial sums of row blocks held away from their column block's first core
        rb = geo[lp.name].row_blocks
        if rb > 1:
            ps_bits = int(chip.adc_bits) + math.ceil(math.log2(rb * cpw))
            first: dict[tuple[int, int, int], int] = {}
            for b in blocks:
                key = (b.replica, b.group, b.col0)
                if key not in first:
                    first[key] = b.core
                elif b.core != first[key]:
                    total += lp.mvms_per_inference / rep * (b.n_cols // cpw) * ps_bits
        # outputs of replicas computed on other cores are gathered to the first core
        if rep > 1:
            rep_home = {}
            for b in blocks:
                rep_home.setdefault(b.replica, b.core)
            total += sum(lp.output_elems / rep * act_bits for c in rep_home.values() if c != home)
    return int(round(total))
