"""Weights to conductances and back, and the row-block layout of a matrix on tiles.

A layer's weight matrix is stored transposed on the array: inputs drive the rows (word lines),
outputs are read on the columns (bit lines). ``to_blocks`` lays a ``(groups, K, M)`` matrix out as
``(groups * n_row_blocks, r, M)`` (``K`` split evenly into row blocks of ``r <= rows``) so every row block becomes one batched-matmul slice; column
blocks need no separate slice because every column has its own ADC conversion anyway.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from analogue.physics.periphery import SMALL_ELEMS, abs_max


def n_row_blocks(k: int, rows: int) -> int:
    """Row blocks needed for ``k`` inputs on tiles of ``rows`` rows."""
    return max(1, math.ceil(k / rows))


def block_rows(k: int, rows: int) -> int:
    """Rows per block: ``k`` split evenly over ``n_row_blocks`` tiles (at most ``rows`` each).

    An even split balances the tiles' utilisation and keeps zero padding below one row per block.
    """
    return math.ceil(k / n_row_blocks(k, rows))


def to_blocks(mat: Tensor, rows: int) -> Tensor:
    """``(G, K, M)`` -> ``(G * nb, r, M)``, zero-padding ``K`` up to ``nb * r``."""
    g, k, m = mat.shape
    nb, r = n_row_blocks(k, rows), block_rows(k, rows)
    pad = nb * r - k
    if pad:
        mat = torch.nn.functional.pad(mat, (0, 0, 0, pad))
    return mat.reshape(g * nb, r, m)


def inputs_to_blocks(x: Tensor, rows: int) -> Tensor:
    """``(G, N, K)`` -> ``(G * nb, N, r)``, zero-padding ``K`` like ``to_blocks``."""
    g, n, k = x.shape
    nb, r = n_row_blocks(k, rows), block_rows(k, rows)
    pad = nb * r - k
    if pad:
        x = torch.nn.functional.pad(x, (0, pad))
    return x.reshape(g, n, nb, r).permute(0, 2, 1, 3).reshape(g * nb, n, r)


def weight_scales(w_blocks: Tensor, cols: int, policy: str) -> Tensor:
    """Digital scale per block column: the absolute maximum the conductance range is mapped to.

    ``w_blocks``: ``(B, r, M)``. ``policy="column"``: one scale per (block, column);
    ``"tile"``: one per (block, column tile of ``cols`` columns). Returns ``(B, 1, M)``, never 0.
    """
    if w_blocks.numel() <= SMALL_ELEMS:
        amax = w_blocks.abs().amax(dim=1, keepdim=True)
    else:
        # reduced in the weights' memory order (the rows of a Linear's blocks are its contiguous
        # dim: faster on CPU; figures in benchmarks/README.md)
        order = sorted(range(3), key=lambda d: -w_blocks.stride(d))
        wp = w_blocks.permute(order)
        amax = abs_max(wp, order.index(1)).permute([order.index(d) for d in range(3)]).contiguous()
    if policy == "tile":
        b, _, m = amax.shape
        nc = math.ceil(m / cols)
        padded = torch.nn.functional.pad(amax, (0, nc * cols - m))
        per_tile = padded.view(b, 1, nc, cols).amax(dim=3, keepdim=True)
        amax = per_tile.expand(b, 1, nc, cols).reshape(b, 1, nc * cols)[..., :m].clone()  # own memory
    elif policy != "column":
        raise ValueError(f"unknown weight scale policy {policy!r}; use 'column' or 'tile'")
    return amax.clamp_min(torch.finfo(amax.dtype).tiny)  # out of place: amax keeps its output for its backward


def weight_to_conductance(
    w_norm: Tensor, g_max_uS: float, g_min_uS: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Normalised weights in ``[-1, 1]`` to the differential pair ``(G+, G-)`` in microsiemens."""
    span = g_max_uS - g_min_uS
    return g_min_uS + span * w_norm.clamp_min(0.0), g_min_uS + span * (-w_norm).clamp_min(0.0)


def conductance_to_weight(
    g_pos_uS: Tensor, g_neg_uS: Tensor, g_max_uS: float, g_min_uS: float = 0.0
) -> Tensor:
    """The normalised weight a differential pair reads as: ``(G+ - G-) / (g_max - g_min)``."""
    return (g_pos_uS - g_neg_uS) / (g_max_uS - g_min_uS)
