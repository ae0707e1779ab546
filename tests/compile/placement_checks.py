"""Shared checks for compiled programs (imported by the tests of this folder)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode


def expected_arrays_per_copy(rows: int, cols: int, groups: int, chip) -> int:
    """Arrays one copy needs: whole-weight column blocks; small groups share arrays diagonally."""
    R, cw = chip.array_rows, chip.array_cols // chip.cells_per_weight
    if groups > 1 and rows <= R and cols <= cw:
        return math.ceil(groups / min(R // rows, cw // cols))
    return groups * math.ceil(rows / R) * math.ceil(cols / cw)


def check_exact_placement(program) -> None:
    """Every weight cell lands exactly once per copy, inside an array, arrays not shared."""
    chip = program.chip
    R, C, cpw = chip.array_rows, chip.array_cols, chip.cells_per_weight
    owner: dict[tuple[int, int, int], str] = {}
    array_masks: dict[tuple[int, int, int], np.ndarray] = {}
    for lp in program.analog_layers:
        blocks = program.placement[lp.name]
        want = lp.rows * lp.cols * cpw * lp.groups * lp.replication
        assert sum(b.n_rows * b.n_cols for b in blocks) == want == lp.cells, lp.name
        per_copy = expected_arrays_per_copy(lp.rows, lp.cols, lp.groups, chip)
        arrays = {(b.round, b.core, b.array) for b in blocks}
        assert len(arrays) == lp.arrays == per_copy * lp.replication, lp.name
        assert lp.utilization == pytest.approx(want / (lp.arrays * R * C))
        assert tuple(sorted({b.core for b in blocks})) == lp.cores
        cover = np.zeros((lp.replication, lp.groups, lp.rows, lp.cols * cpw), dtype=np.int32)
        for b in blocks:
            assert 0 <= b.core < chip.n_cores and 0 <= b.array < chip.arrays_per_core
            assert b.arr_row0 + b.n_rows <= R and b.arr_col0 + b.n_cols <= C, (lp.name, b)
            assert b.n_cols % cpw == 0 and b.col0 % cpw == 0  # a weight's cells never split
            cover[b.replica, b.group, b.row0 : b.row0 + b.n_rows, b.col0 : b.col0 + b.n_cols] += 1
            key = (b.round, b.core, b.array)
            assert owner.setdefault(key, lp.name) == lp.name, f"array {key} shared"
            mask = array_masks.setdefault(key, np.zeros((R, C), dtype=np.int32))
            mask[b.arr_row0 : b.arr_row0 + b.n_rows, b.arr_col0 : b.arr_col0 + b.n_cols] += 1
        assert (cover == 1).all(), f"{lp.name}: weight cells not covered exactly once"
    assert all((m <= 1).all() for m in array_masks.values()), "blocks overlap inside an array"
    per_round: dict[int, int] = {}
    for rnd, _, _ in owner:
        per_round[rnd] = per_round.get(rnd, 0) + 1
    assert all(n <= chip.n_arrays for n in per_round.values())
    assert len(per_round) <= program.reprogram_rounds


def reference_macs(model: torch.nn.Module, inputs, batch: int) -> float:
    """MACs per inference from torch.utils.flop_counter on a real forward pass."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        if isinstance(inputs, dict):
            model(**inputs)
        else:
            model(inputs)
    return counter.get_total_flops() / 2 / batch
