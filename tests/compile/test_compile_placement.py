"""Placement: exact tiling, capacity errors, time multiplexing, replication, traffic."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import analogue as an
from analogue import chips
from analogue.compile import ChipCapacityError, layer_geometry
from analogue.data.models import mlp, small_resnet

from .placement_checks import check_exact_placement, expected_arrays_per_copy


@settings(max_examples=150, deadline=None)
@given(
    rows=st.integers(1, 700),
    cols=st.integers(1, 700),
    groups=st.integers(1, 12),
    R=st.integers(4, 300),
    C=st.integers(4, 300),
    cpw=st.integers(1, 4),
)
def test_geometry_tiles_every_group_exactly(rows, cols, groups, R, C, cpw):
    chip = SimpleNamespace(array_rows=R, array_cols=C, cells_per_weight=cpw, name="t")
    if C // cpw < 1:
        return
    geo = layer_geometry(rows, cols, groups, chip)
    assert geo.per_copy == expected_arrays_per_copy(rows, cols, groups, chip)
    cover = np.zeros((groups, rows, cols * cpw), dtype=np.int32)
    in_array: dict[int, np.ndarray] = {}
    for arr, g, r0, c0, nr, nc, ar0, ac0 in geo.blocks:
        assert 0 <= arr < geo.per_copy
        assert ar0 + nr <= R and ac0 + nc <= C and nc % cpw == 0
        cover[g, r0 : r0 + nr, c0 : c0 + nc] += 1
        in_array.setdefault(arr, np.zeros((R, C), dtype=np.int32))[
            ar0 : ar0 + nr, ac0 : ac0 + nc
        ] += 1
    assert (cover == 1).all()
    assert all((m <= 1).all() for m in in_array.values())
    assert len(in_array) == geo.per_copy


def test_too_large_model_fails_with_counts(tiny_chip):
    model = mlp((1024, 1024, 1024))  # two 1024x1024 layers: 16 arrays of 256x256 each
    with pytest.raises(ChipCapacityError) as info:
        an.compile(model, torch.randn(1, 1024), tiny_chip)
    msg = str(info.value)
    assert "needs 32 arrays" in msg and "has 4 (2 cores x 2 arrays per core)" in msg
    assert "reprogram=True" in msg
    assert isinstance(info.value, ValueError)


def test_reprogramming_time_multiplexes(tiny_chip):
    model = mlp((1024, 1024, 1024))
    prog = an.compile(model, torch.randn(1, 1024), tiny_chip, reprogram=True, build_model=False)
    assert prog.reprogram_rounds == 8  # 32 arrays / 4 per round
    assert prog.arrays_used == 4
    assert [lp.round for lp in prog.analog_layers] == [0, 4]
    occ = prog.core_occupancy()
    assert len(occ) == 8 and all(sum(r) == 4 for r in occ)
    check_exact_placement(prog)
    assert "time-multiplexed" in prog.summary()


def test_replication_fills_spare_arrays_at_the_bottleneck():
    model = small_resnet(width=16).eval()
    x = torch.randn(1, 3, 32, 32)
    chip = chips.hermes()
    base = an.compile(model, x, chip, build_model=False)
    rep = an.compile(model, x, chip, replicate=True, build_model=False)
    assert all(lp.replication == 1 for lp in base.analog_layers)
    assert rep.arrays_used <= chip.n_arrays
    t_base = max(lp.mvms_per_inference / lp.replication for lp in base.analog_layers)
    t_rep = max(lp.mvms_per_inference / lp.replication for lp in rep.analog_layers)
    assert t_rep < t_base
    # greedy stops only when the bottleneck's next copy does not fit
    spare = chip.n_arrays - sum(lp.arrays for lp in rep.analog_layers)
    bott = max(rep.analog_layers, key=lambda lp: lp.mvms_per_inference / lp.replication)
    per_copy = bott.arrays // bott.replication
    assert per_copy > spare or bott.replication == bott.mvms_per_inference
    check_exact_placement(rep)


def test_copies_do_not_straddle_cores_when_avoidable():
    chip = chips.Chip(name="c4", organisation=chips.Organisation(n_cores=4, arrays_per_core=4))
    model = mlp((512, 256, 768))  # 2 arrays, then 3 arrays: the second starts on a fresh core
    prog = an.compile(model, torch.randn(1, 512), chip, build_model=False)
    assert [lp.cores for lp in prog.analog_layers] == [(0,), (1,)]
    check_exact_placement(prog)
    full = chips.Chip(name="c2", organisation=chips.Organisation(n_cores=2, arrays_per_core=3))  # 2+2+2 arrays fill 6: must straddle
    prog = an.compile(mlp((256, 512, 256, 512)), torch.randn(1, 256), full, build_model=False)
    assert [lp.cores for lp in prog.analog_layers] == [(0,), (0, 1), (1,)]
    check_exact_placement(prog)


def test_traffic_model_mlp_on_hermes():
    """Hand count: layer 0 (784 rows) spans cores 0-3, so 3 remote row blocks send 256 partial
    sums of 8 + log2(4) bits; the ReLU runs on core 0; layers 2 and 4 (cores 4, 5) receive 256
    and 128 activations of 8 bits. The model input comes from off-chip and is not counted."""
    prog = an.compile(
        mlp((784, 256, 128, 10)), torch.randn(1, 784), chips.hermes(), build_model=False
    )
    assert [lp.cores for lp in prog.analog_layers] == [(0, 1, 2, 3), (4,), (5,)]
    assert prog.activation_bits_moved == 3 * 256 * (8 + 2) + 256 * 8 + 128 * 8
    one_core = chips.Chip(name="one", organisation=chips.Organisation(n_cores=1, arrays_per_core=8))
    prog1 = an.compile(mlp((784, 256, 128, 10)), torch.randn(1, 784), one_core, build_model=False)
    assert prog1.activation_bits_moved == 0


def test_analog_digital_ops_cover_partial_sums_and_bias():
    prog = an.compile(mlp((784, 256)), torch.randn(1, 784), chips.sram_cim(), build_model=False)
    (lp,) = prog.analog_layers
    row_blocks = math.ceil(784 / 256)
    # per output: scale + bias + (row blocks - 1) partial-sum adds + (8 - 1) bit-slice adds
    assert lp.digital_ops == 256 * (1 + 1 + (row_blocks - 1) + 7)
