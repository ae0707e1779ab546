"""The fast models' drop operator ``D`` (``physics.irdrop._drop``): the column sums as a matmul,
or blocked (``_col_blocked``, 128 rows and more), against the running sums (``_drop_sums``, the
independent implementation), for every layout and wire combination, with and without autograd;
and above the matmul's size the running sums where the rows do not split into blocks."""

from __future__ import annotations

import pytest
import torch

from analogue.physics import irdrop
from analogue.physics.irdrop import _drop, _drop_sums


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("wires", [(1.5e-6, 5e-6), (0.0, 5e-6), (1.5e-6, 0.0)])
@pytest.mark.parametrize("shape,col_dim", [((3, 24, 20), -2), ((2, 3, 24, 4, 20), -3), ((24, 5, 20), 0),
                                           ((2, 128, 9), -2), ((2, 256, 3, 5), -3), ((160, 3, 4), 0),
                                           ((130, 6), -2)])
def test_matmul_and_running_sums_agree(wires, shape, col_dim):
    x = _x(*shape)
    ref = _drop_sums(x, *wires, col_dim)
    torch.testing.assert_close(_drop(x, *wires, col_dim), ref, rtol=1e-13, atol=0)
    # under autograd: the same values and the same gradients
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    u = _x(*shape, seed=1)
    (ga,) = torch.autograd.grad(_drop(a, *wires, col_dim), a, u)
    (gb,) = torch.autograd.grad(_drop_sums(b, *wires, col_dim), b, u)
    torch.testing.assert_close(ga, gb, rtol=1e-13, atol=0)


def test_non_contiguous_side_by_side_arrays():
    x = _x(2, 4, 24, 20).transpose(-2, -3)  # (2, 24, 4, 20), not contiguous
    torch.testing.assert_close(_drop(x, 1e-6, 3e-6, -3), _drop_sums(x, 1e-6, 3e-6, -3), rtol=1e-13, atol=0)


def test_large_arrays_take_the_running_sums(monkeypatch):
    x = _x(2, 12, 7)
    monkeypatch.setattr(irdrop, "_MATMUL_MAX_ROWS", 11)
    assert torch.equal(_drop(x, 1e-6, 3e-6), _drop_sums(x, 1e-6, 3e-6))


def test_blocked_column_sums_where_the_rows_split_into_blocks(monkeypatch):
    calls = []
    real = irdrop._col_blocked
    monkeypatch.setattr(irdrop, "_col_blocked", lambda *a: calls.append(a[-1]) or real(*a))
    for rows, block in ((64, 0), (128, 16), (130, 0), (160, 16), (256, 32), (1024, 32), (1040, 16)):
        assert irdrop._col_block(rows) == block
    x = _x(2, 1024, 3)  # above the matmul's size: blocked, not running sums
    torch.testing.assert_close(_drop(x, 1e-6, 3e-6), _drop_sums(x, 1e-6, 3e-6), rtol=1e-13, atol=0)
    assert calls == [32]
