"""The autograd functions of the analog layers: the simulated forward with straight-through
gradients (``physics.ste``: what the trace keeps and the LSQ range gradient).

- ``AnalogMatmulFn``: the analog layer's MVM. Forward runs the full physical simulation (DAC,
  tiled crossbar, noise, ADC, digital accumulation: ``AnalogLayer.simulate``). Backward is the
  straight-through estimate of ``y = x_eff @ w_eff``: ``dx = (g @ w_eff^T) * [|x| <= r]`` (the
  layer's ``grad_input``: exact, or its ``set_backward``) and ``dW = x_eff^T @ g``; a learned
  input range gets the LSQ gradient (``physics.ste.lsq_range_grad``).
- ``AnalogConvFn``: the same for a convolution on tiles (im2col, ``simulate``, back to an image).
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor

from analogue.nn import readers
from analogue.nn.call import INFERENCE, TRAINING, CallMode, Inputs
from analogue.physics.periphery import dac
from analogue.physics.ste import MVMTrace, autocast_off_backward, lsq_range_grad


class AnalogSim(Protocol):
    """What an analog layer gives ``AnalogMatmulFn``."""

    def simulate(self, x: Tensor, input_range: Tensor | None, mode: CallMode = INFERENCE,
                 scale: Tensor | None = None, bias: Tensor | None = None,
                 input_check: Tensor | None = None) -> tuple[Tensor, MVMTrace | None]:
        """Forward MVM of ``x`` ``(G, N, K)`` -> ``(G, N, M)``; a trace when ``mode.keep_trace``."""
        ...

    def grad_input(self, g: Tensor, trace: MVMTrace) -> Tensor:
        """``g @ w_eff^T`` -- exact, or through the array's own transposed read."""
        ...

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        """``x_eff^T @ g`` (``(G, K, M)``) laid out in the weight parameter's shape."""
        ...


def _clipped_grads(gx_full: Tensor, x: Tensor, r: Tensor, x_n: Tensor | None,
                   need_x: bool, need_r: bool) -> tuple[Tensor | None, Tensor | None]:
    """``(dx, dr)`` through a clipping range ``r``: the input gradient masked to ``|x| <= r``
    and the LSQ range gradient (``x_n``: the DAC outputs, when ``need_r``)."""
    inside = x.abs() <= r
    gr = lsq_range_grad(gx_full, x, r, x_n, inside) if need_r else None
    return (gx_full * inside if need_x else None), gr


class AnalogMatmulFn(torch.autograd.Function):
    """``y = sim.simulate(x)`` with the straight-through gradients described above."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, input_range: Tensor | None, bias: Tensor | None,
                sim: AnalogSim, flat: bool = False) -> Tensor:
        mode = TRAINING if any(ctx.needs_input_grad[:3]) else INFERENCE
        lead = x.shape[:-1]
        if bias is not None and not flat:  # (G * M,) -> per group
            bias = bias.view(x.shape[0], 1, -1)
        y, trace = sim.simulate(x.reshape(1, -1, x.shape[-1]) if flat else x, input_range, mode, bias=bias)
        ctx.sim, ctx.trace, ctx.flat = sim, trace, flat
        if trace is not None:
            ctx.save_for_backward(x)
        # not a view of y: torch forbids in-place ops (an inplace ReLU) on a view made in here
        return y.view(*lead, y.shape[-1]).detach() if flat else y

    @staticmethod
    @autocast_off_backward
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
                x_n = trace.x_n.reshape(x.shape) if need_r else None
                gx, gr = _clipped_grads(gx_full, x, trace.x_scale, x_n, need_x, need_r)
            else:
                gx = gx_full if need_x else None
        if need_w:  # x_eff^T g = codes^T (g * unit)
            codes, unit = trace.weight_grad_operands()
            gw = readers.wire_weight_grad(sim, sim.weight_grad(g if unit is None else g * unit, codes), trace)
        return gx, gw, gr, gb, None, None


class AnalogConvFn(torch.autograd.Function):
    """A convolution on tiles: im2col, ``layer.simulate``, back to an image.

    Same straight-through gradients as ``AnalogMatmulFn``, but the input gradient
    ``col2im(g @ w_eff^T)`` is the native transposed convolution (``layer.conv_grad_input``)
    rather than a backward through the im2col copy, and the clipping mask and the LSQ range
    gradient are taken per pixel (a fixed range quantises a pixel the same in every patch).
    """

    @staticmethod
    def forward(ctx: Any, x4: Tensor, weight: Tensor, input_range: Tensor | None, bias: Tensor | None,
                layer: Any, geo: Any, fmt: torch.memory_format, scale: Tensor | None,
                pad_inside: bool = False) -> Tensor:
        keep = any(ctx.needs_input_grad[:3])
        check = layer._input_check(x4, scale)
        x_in = x4
        if pad_inside:  # zero padding here (no autograd): the input gradient is then unpadded
            x4 = layer._pad_channels_last(x4)
        codes, scale = layer._dac_patches(x4, geo, scale, keep)  # im2col and DAC in one pass per offset
        # the digital bias goes on the columns (contiguous) with the rescale, before the layout copy
        g = layer.groups
        y, trace = layer.simulate(codes, input_range, CallMode(keep_trace=keep, inputs=Inputs.CODES),
                                  scale=scale, bias=None if bias is None else bias.view(g, 1, -1),
                                  input_check=check)
        ctx.layer, ctx.trace, ctx.geo, ctx.pad_inside = layer, trace, geo, pad_inside
        if trace is not None:
            ctx.save_for_backward(x_in)
        # one copy into the output's memory format (none for a channels-last output)
        return layer._cols_to_image(y, geo).contiguous(memory_format=fmt)

    @staticmethod
    @autocast_off_backward
    def backward(ctx: Any, g_img: Tensor) -> tuple[Tensor | None, ...]:
        saved = ctx.saved_tensors  # empty when only the bias needs a gradient (a frozen weight)
        x4 = saved[0] if saved else None
        trace: MVMTrace = ctx.trace
        layer, geo = ctx.layer, ctx.geo
        need_x, need_w, need_r, need_b = ctx.needs_input_grad[:4]
        gx = gw = gr = gb = None
        if not layer._grad_reads_image(g_img, geo) and not g_img.is_contiguous(memory_format=torch.channels_last):
            # the layer's column layout, in a reused buffer (it dies with this backward)
            b, m, ho, wo = g_img.shape
            g_cl = layer._scratch("_g_scratch", g_img.numel(), g_img.dtype, g_img.device).view(b, ho, wo, m)
            g_img = g_cl.copy_(g_img.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        if need_b:
            gb = g_img.sum(dim=(0, 2, 3))
        if need_x or need_r:
            gx_full = layer.conv_grad_input(g_img, trace.w_eff, x4.shape, geo, unpad=ctx.pad_inside)
            if trace.clipped:
                r = trace.x_scale
                x_n = dac(x4, r, layer.cfg.dac.bits) if need_r else None
                gx, gr = _clipped_grads(gx_full, x4, r, x_n, need_x, need_r)
            else:
                gx = gx_full if need_x else None
        if need_w:
            codes, unit = trace.weight_grad_operands()
            if unit is None:  # the codes are x_eff: one unit each
                unit = torch.ones((), dtype=g_img.dtype, device=g_img.device)
            gw = readers.wire_weight_grad(layer, layer.weight_grad_image(g_img, codes, unit, geo), trace)
        return gx, gw, gr, gb, None, None, None, None, None
