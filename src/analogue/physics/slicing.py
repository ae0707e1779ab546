"""Bit slicing: a weight quantised to ``weight_bits`` signed bits, spread over several columns.

The magnitude ``q = round(|w_n| * L)`` (``L = 2**(weight_bits-1) - 1``) is written in base
``2**bits_per_slice``; digit ``s`` goes to its own column (sign in the differential pair), read
by its own ADC conversion, and the digital periphery shifts and adds: output column ``m`` is the
sum over slices ``s`` of ``ADC(x . slice_s) * scale_m * significance_s``. The slices of one output
are adjacent columns: a ``(B, r, M)`` block becomes ``(B, r, M * S)`` with the slice index fastest,
and its scales ``(B, 1, M)`` become ``(B, 1, M * S)``. SRAM compute-in-memory macros work this way
(1-bit cells, one column per weight bit: Jia et al., IEEE JSSC 55(9), 2020).
"""

from __future__ import annotations

import torch
from torch import Tensor

from analogue.config import BitSlicing
from analogue.physics.periphery import levels


def slice_significance(
    cfg: BitSlicing, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> Tensor:
    """``(S,)`` weight of each slice relative to the full-scale weight: ``(base - 1) base**s / L``."""
    if cfg.weight_bits is None:
        return torch.ones(1, dtype=dtype, device=device)
    base = 1 << cfg.bits_per_slice
    lv = levels(cfg.weight_bits)
    s = torch.arange(cfg.n_slices, dtype=torch.float64, device=device)
    return ((base - 1) * torch.pow(float(base), s) / lv).to(dtype)


def bit_slice(w_n: Tensor, scales: Tensor, cfg: BitSlicing) -> tuple[Tensor, Tensor]:
    """Normalised blocks ``(B, r, M)`` and scales ``(B, 1, M)`` -> sliced ``(B, r, M*S)`` (each
    slice in ``[-1, 1]``, multiples of ``1 / (base - 1)``) and scales ``(B, 1, M*S)``.

    ``sum_s sliced[..., s] * scales[..., s]`` is the weight rounded to ``weight_bits``.
    """
    if cfg.weight_bits is None:
        return w_n, scales
    b, r, m = w_n.shape
    n_s = cfg.n_slices
    base = 1 << cfg.bits_per_slice
    q = torch.round(w_n.abs().clamp_max(1.0) * levels(cfg.weight_bits)).to(torch.int64)
    shifts = torch.arange(n_s, device=w_n.device, dtype=torch.int64) * cfg.bits_per_slice
    digits = (q.unsqueeze(-1) >> shifts) & (base - 1)  # (B, r, M, S)
    sliced = (digits.to(w_n.dtype) * (torch.sign(w_n).unsqueeze(-1) / (base - 1))).reshape(
        b, r, m * n_s
    )
    sig = slice_significance(cfg, w_n.dtype, w_n.device)
    s_out = (scales.unsqueeze(-1) * sig).reshape(scales.shape[0], 1, m * n_s)
    return sliced, s_out


def unslice(w_sliced: Tensor, scales: Tensor, n_slices: int) -> Tensor:
    """Weights in weight units ``(B, r, M)`` from sliced blocks and their scales (shift-and-add)."""
    if n_slices == 1:
        return w_sliced * scales
    b, r, ms = w_sliced.shape
    return (w_sliced * scales).view(b, r, ms // n_slices, n_slices).sum(dim=-1)


__all__ = ["bit_slice", "slice_significance", "unslice"]
