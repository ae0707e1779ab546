"""Straight-through estimators: pure gradients of tensors and plain settings (design convention 5).

- ``round_ste``: rounding with an identity gradient.
- ``clamp_ste``: clipping whose gradient passes inside the range and stops outside.
- ``MVMTrace`` and ``lsq_range_grad``: what an analog MVM keeps for its backward, and the
  gradient of a learned input range. The autograd functions of the analog layers
  (``analogue.nn.autograd``) use them: the backward is the straight-through estimate of
  ``y = x_eff @ w_eff`` (the converters and noise count as identity), so
  ``dx = (g @ w_eff^T) * [|x| <= r]`` and ``dW = x_eff^T @ g``, where ``x_eff`` is the input the DAC
  actually applied and ``w_eff`` the weights the array actually held; a learned input range
  ``r`` gets the LSQ gradient (Esser et al., ICLR 2020): ``d x_eff / d r = q(x/r) - x/r`` inside the
  range and ``sign(x)`` outside.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


def autocast_on(device_type: str) -> bool:
    """Whether ``torch.autocast`` is active for ``device_type`` (``False`` where it has none)."""
    return torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type)


def autocast_off_backward(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Run a simulation's backward with autocast off (its matmuls write into buffers of the
    forward's dtype), also when the caller runs ``backward()`` inside ``torch.autocast``."""

    @functools.wraps(backward)
    def run(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        dev = g.device.type
        with torch.autocast(dev, enabled=False) if autocast_on(dev) else contextlib.nullcontext():
            return backward(ctx, g)

    return run


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g


class _ClampSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, lo: float, hi: float) -> Tensor:
        ctx.save_for_backward((x >= lo) & (x <= hi))
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None, None]:
        (inside,) = ctx.saved_tensors
        return g * inside, None, None


def round_ste(x: Tensor) -> Tensor:
    """``round(x)`` forward, identity backward."""
    return _RoundSTE.apply(x)


def clamp_ste(x: Tensor, lo: float, hi: float) -> Tensor:
    """``clamp(x, lo, hi)`` forward; gradient 1 inside ``[lo, hi]``, 0 outside."""
    return _ClampSTE.apply(x, lo, hi)


@dataclass
class MVMTrace:
    """What the forward kept for the backward of one analog MVM.

    ``x_codes``: DAC codes ``(G, N, K)``, each worth ``x_unit``: the DAC outputs in ``[-1, 1]`` are
    ``x_codes * x_unit``; ``x_scale``: full-scale input, scalar tensor, ``(G, N, 1)``, or
    ``(G, N, K)`` with per-tile dynamic ranges;
    ``w_eff``: the held weights ``(G, K, M)`` in weight units; ``clipped``: whether the range
    could clip (fixed/calibrated/learned ranges); ``read_state``: what the weight read kept for
    the weight gradient (``nn.readers.WiredState``), or ``None``.
    """

    x_codes: Tensor
    x_scale: Tensor
    w_eff: Tensor
    clipped: bool
    x_unit: float = 1.0
    read_state: Any = None

    def weight_grad_operands(self) -> tuple[Tensor, Tensor | None]:
        """``(codes, unit)`` with ``x_eff = codes * unit``, for the weight gradient
        ``x_eff^T g = codes^T (g * unit)``: the per-vector scale goes on ``g``; with per-tile
        ranges (a full scale per input) ``codes`` is ``x_eff`` itself and ``unit`` is ``None``."""
        if self.x_scale.dim() > 0 and self.x_scale.shape[-1] > 1:
            return self.x_codes * (self.x_scale * self.x_unit), None
        return self.x_codes, self.x_scale * self.x_unit

    @property
    def x_n(self) -> Tensor:
        """The DAC outputs in ``[-1, 1]`` (a new tensor unless ``x_unit`` is 1)."""
        return self.x_codes if self.x_unit == 1.0 else self.x_codes * self.x_unit


def lsq_range_grad(gx: Tensor, x: Tensor, r: Tensor, x_n: Tensor, inside: Tensor) -> Tensor:
    """The LSQ gradient (Esser et al., ICLR 2020) of an input range ``r`` (0-d) given the input
    gradient ``gx`` of the applied inputs, the inputs ``x``, the DAC outputs ``x_n = q(x / r)``
    in ``[-1, 1]`` and the mask ``inside = |x| <= r``: ``sum(gx * (q(x/r) - x/r))`` inside the
    range, ``sum(gx * sign(x))`` outside (``x_n`` is ``sign(x)`` there)."""
    dxdr = x_n - torch.where(inside, x / r, torch.zeros((), dtype=x.dtype))
    return (gx * dxdr).sum().reshape(r.shape)
