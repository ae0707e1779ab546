"""Every custom gradient of the package, in one place (design convention 5).

- ``round_ste``: rounding with an identity gradient.
- ``clamp_ste``: clipping whose gradient passes inside the range and stops outside.
- ``AnalogMatmulFn``: the analog layer's MVM (``AnalogConvFn``: the same for a convolution). Forward runs the full physical simulation
  (DAC, tiled crossbar, noise, ADC, digital accumulation). Backward is the straight-through
  estimate of ``y = x_eff @ w_eff``: the converters and noise count as identity, so
  ``dx = (g @ w_eff^T) * [|x| <= r]`` and ``dW = x_eff^T @ g``, where ``x_eff`` is the input the DAC
  actually applied and ``w_eff`` the weights the array actually held; a learned input range
  ``r`` gets the LSQ gradient (Esser et al., ICLR 2020): ``d x_eff / d r = q(x/r) - x/r`` inside the
  range and ``sign(x)`` outside.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor


def autocast_on(device_type: str) -> bool:
    """Whether ``torch.autocast`` is active for ``device_type`` (``False`` where it has none)."""
    return torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type)


def _float_backward(backward):
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
    could clip (fixed/calibrated/learned ranges).
    """

    x_codes: Tensor
    x_scale: Tensor
    w_eff: Tensor
    clipped: bool
    x_unit: float = 1.0

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


class AnalogSim(Protocol):
    """What an analog layer gives ``AnalogMatmulFn``."""

    def simulate(self, x: Tensor, input_range: Tensor | None, keep: bool,
                 scale: Tensor | None = None, bias: Tensor | None = None) -> tuple[Tensor, MVMTrace | None]:
        """Forward MVM of ``x`` ``(G, N, K)`` -> ``(G, N, M)``; a trace when ``keep``. ``scale``:
        the dynamic per-vector input range, when the caller has it already; ``bias``: the digital
        bias added to the outputs."""
        ...

    def grad_input(self, g: Tensor, trace: MVMTrace) -> Tensor:
        """``g @ w_eff^T`` -- exact, or through the array's own transposed read."""
        ...

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        """``x_eff^T @ g`` (``(G, K, M)``) laid out in the weight parameter's shape."""
        ...


class AnalogMatmulFn(torch.autograd.Function):
    """``y = sim.simulate(x)`` with the straight-through gradients described above."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, input_range: Tensor | None, bias: Tensor | None,
                sim: AnalogSim, flat: bool = False) -> Tensor:
        keep = any(ctx.needs_input_grad[:3])
        lead = x.shape[:-1]
        if bias is not None and not flat:  # (G * M,) -> per group
            bias = bias.view(x.shape[0], 1, -1)
        y, trace = sim.simulate(x.reshape(1, -1, x.shape[-1]) if flat else x, input_range, keep, bias=bias)
        ctx.sim, ctx.trace, ctx.flat = sim, trace, flat
        if trace is not None:
            ctx.save_for_backward(x)
        # not a view of y: torch forbids in-place ops (an inplace ReLU) on a view made in here
        return y.view(*lead, y.shape[-1]).detach() if flat else y

    @staticmethod
    @_float_backward
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        trace: MVMTrace | None = ctx.trace
        sim: AnalogSim = ctx.sim
        need_x, need_w, need_r, need_b = ctx.needs_input_grad[:4]
        if ctx.flat:  # (..., M) -> one group (1, N, M)
            g = g.reshape(1, -1, g.shape[-1])
        gx = gw = gr = gb = None
        if need_b:
            gb = g.sum(dim=1).view(-1)
        if trace is None:  # only the bias needs a gradient
            return gx, gw, gr, gb, None, None
        (x,) = ctx.saved_tensors
        if need_x or need_r:
            gx_full = sim.grad_input(g, trace).reshape(x.shape)
            if trace.clipped:
                r = trace.x_scale
                inside = x.abs() <= r
                if need_r:
                    dxdr = trace.x_n.reshape(x.shape) - torch.where(inside, x / r, torch.zeros((), dtype=x.dtype))
                    gr = (gx_full * dxdr).sum().reshape(r.shape)
                gx = gx_full * inside if need_x else None
            else:
                gx = gx_full if need_x else None
        if need_w:  # x_eff^T g = codes^T (g * unit)
            codes, unit = trace.weight_grad_operands()
            gw = sim.weight_grad(g if unit is None else g * unit, codes)
        return gx, gw, gr, gb, None, None


class AnalogConvFn(torch.autograd.Function):
    """A convolution on tiles: im2col, ``sim.simulate``, back to an image.

    Same straight-through gradients as ``AnalogMatmulFn``, but the input gradient
    ``col2im(g @ w_eff^T)`` is the native transposed convolution (``sim.conv_grad_input``)
    rather than a backward through the im2col copy, and the clipping mask and the LSQ range
    gradient are taken per pixel (a fixed range quantises a pixel the same in every patch).
    """

    @staticmethod
    def forward(ctx: Any, x4: Tensor, weight: Tensor, input_range: Tensor | None, bias: Tensor | None,
                sim: Any, geo: Any, fmt: torch.memory_format, scale: Tensor | None,
                pad_inside: bool = False) -> Tensor:
        keep = any(ctx.needs_input_grad[:3])
        check = sim._input_check(x4, scale)
        x_in = x4
        if pad_inside:  # zero padding here (no autograd): the input gradient is then unpadded
            x4 = sim._pad_channels_last(x4)
        codes, scale = sim._dac_patches(x4, geo, scale, keep)  # im2col and DAC in one pass per offset
        # the digital bias goes on the columns (contiguous) with the rescale, before the layout copy
        g = sim.groups
        y, trace = sim.simulate(codes, input_range, keep, scale=scale, codes=True,
                                bias=None if bias is None else bias.view(g, 1, -1), input_check=check)
        ctx.sim, ctx.trace, ctx.geo, ctx.pad_inside = sim, trace, geo, pad_inside
        if trace is not None:
            ctx.save_for_backward(x_in)
        # one copy into the output's memory format (none for a channels-last output)
        return sim._cols_to_image(y, geo).contiguous(memory_format=fmt)

    @staticmethod
    @_float_backward
    def backward(ctx: Any, g_img: Tensor) -> tuple[Tensor | None, ...]:
        (x4,) = ctx.saved_tensors
        trace: MVMTrace = ctx.trace
        sim, geo = ctx.sim, ctx.geo
        need_x, need_w, need_r, need_b = ctx.needs_input_grad[:4]
        gx = gw = gr = gb = None
        if not sim._grad_reads_image(g_img, geo) and not g_img.is_contiguous(memory_format=torch.channels_last):
            # the layer's column layout, in a reused buffer (it dies with this backward)
            b, m, ho, wo = g_img.shape
            g_cl = sim._scratch("_g_scratch", g_img.numel(), g_img.dtype, g_img.device).view(b, ho, wo, m)
            g_img = g_cl.copy_(g_img.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        if need_b:
            gb = g_img.sum(dim=(0, 2, 3))
        if need_x or need_r:
            gx_full = sim.conv_grad_input(g_img, trace.w_eff, x4.shape, geo, unpad=ctx.pad_inside)
            if trace.clipped:
                from .periphery import dac

                r = trace.x_scale
                inside = x4.abs() <= r
                if need_r:
                    x_n = dac(x4, r, sim.cfg.dac.bits)
                    dxdr = x_n - torch.where(inside, x4 / r, torch.zeros((), dtype=x4.dtype))
                    gr = (gx_full * dxdr).sum().reshape(r.shape)
                gx = gx_full * inside if need_x else None
            else:
                gx = gx_full if need_x else None
        if need_w:
            codes, unit = trace.weight_grad_operands()
            if unit is None:  # the codes are x_eff: one unit each
                unit = torch.ones((), dtype=g_img.dtype, device=g_img.device)
            gw = sim.weight_grad_image(g_img, codes, unit, geo)
        return gx, gw, gr, gb, None, None, None, None, None
