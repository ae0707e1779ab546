"""``AnalogConv1d`` / ``AnalogConv2d``: convolutions as MVMs on tiles (im2col).

``in_channels / groups * prod(kernel_size)`` maps to rows and ``out_channels / groups`` to columns,
one matrix per group; groups run as extra slices of the same batched matmul. Stride, padding
(numbers, ``"same"``, ``"valid"``, every ``padding_mode``) and dilation follow ``torch.nn``.

The rows of a patch are ordered (kernel row, kernel column, channel): the im2col copy then reads
whole runs of channels from a channels-last image, several times faster on CPU than gathering
(channel, kernel row, kernel column) patches from a channels-first one. Inputs are converted to
channels-last once; the output comes back in the input's memory format, like ``torch.nn``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue.config import AnalogConfig
from analogue.nn.autograd import AnalogConvFn
from analogue.nn.call import CallMode, Inputs
from analogue.nn.layer import AnalogLayer, simulated_forward
from analogue.nn.twins import share_params
from analogue.physics.periphery import dac_codes_, dac_gain


@dataclass(frozen=True)
class _Geometry:
    """A convolution run as 2-D: kernel, stride, dilation, batch and output size."""

    k: tuple[int, int]
    s: tuple[int, int]
    d: tuple[int, int]
    b: int
    ho: int
    wo: int


class _AnalogConvNd(AnalogLayer):
    _nd: int
    _torch_cls: type

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 cfg: AnalogConfig | None = None, device=None, dtype=None, seed: int = 0) -> None:
        super().__init__()
        ref = self._torch_cls(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
                              device=device, dtype=dtype)
        self._copy_geometry(ref)
        self.weight, self.bias = ref.weight, ref.bias
        self._init_analog(cfg, seed)

    def _copy_geometry(self, ref: nn.Module) -> None:
        for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                     "groups", "padding_mode"):
            setattr(self, name, getattr(ref, name))

    @classmethod
    def from_float(cls, mod: nn.Module, cfg: AnalogConfig | None = None, seed: int = 0):
        """An analog twin of ``mod`` holding ``mod``'s own weight and bias Parameters (not copies)."""
        if getattr(mod, "transposed", False):
            raise ValueError(f"{type(mod).__name__}: transposed convolutions are not supported on tiles; "
                             "keep the layer digital with rules={name: None}")
        new = cls.__new__(cls)
        AnalogLayer.__init__(new)
        new._copy_geometry(mod)
        share_params(mod, new)
        new._init_analog(cfg, seed)
        return new

    def to_float(self) -> nn.Module:
        """The plain torch convolution holding this layer's weight and bias Parameters."""
        with torch.device("meta"):  # no throw-away weight allocation
            mod = self._torch_cls(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                                  self.padding, self.dilation, self.groups, self.bias is not None,
                                  self.padding_mode)
        return share_params(self, mod)

    # (G, K, M): per group, rows = kernel rows x kernel columns x in/G channels, columns = out/G
    def _weight4(self) -> Tensor:
        """The weight as ``(out, in/G, kh, kw)`` (a 1-d kernel has height 1)."""
        return self.weight.unsqueeze(2) if self._nd == 1 else self.weight

    def _matrix(self) -> Tensor:
        g = self.groups
        o, cg, kh, kw = self._weight4().shape
        return self._weight4().reshape(g, o // g, cg, kh, kw).permute(0, 3, 4, 2, 1).reshape(g, kh * kw * cg, o // g)

    @property
    def matrix_shape(self) -> tuple[int, int, int]:
        o, cg, kh, kw = self._weight4().shape
        return self.groups, kh * kw * cg, o // self.groups

    def _as_weight(self, gw: Tensor) -> Tensor:
        """A gradient laid out like ``_matrix`` transposed, ``(G, out/G, kh*kw*cg)``, in the
        weight's shape."""
        o, cg, kh, kw = self._weight4().shape
        return gw.reshape(o, kh, kw, cg).permute(0, 3, 1, 2).reshape(self.weight.shape)

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        return self._as_weight(torch.bmm(g.transpose(1, 2), x_eff))

    per_image_grad_min_pixels: int = 256

    def _grad_reads_image(self, g_img: Tensor, geo: _Geometry) -> bool:
        """Whether ``weight_grad_image`` uses the channels-first gradient as it is (one group,
        contiguous, images of at least ``per_image_grad_min_pixels`` output pixels)."""
        return self.groups == 1 and g_img.is_contiguous() and geo.ho * geo.wo >= self.per_image_grad_min_pixels

    def weight_grad_image(self, g_img: Tensor, codes: Tensor, unit: Tensor, geo: _Geometry) -> Tensor:
        """``codes^T (g * unit)`` in the weight's shape, from the output gradient as an image.

        ``unit``: what one code is worth per patch (``(G, N, 1)`` or a scalar). A channels-first
        gradient of a one-group layer with large images is used as it is: one batched product per
        image (its columns are that image's pixels) summed over the batch, instead of a layout
        copy; small images (fewer than ``per_image_grad_min_pixels`` output pixels) make too many
        tiny products, and take one product after the copy.
        """
        if self._grad_reads_image(g_img, geo):
            b, m = g_img.shape[:2]
            hw = geo.ho * geo.wo
            scaled = g_img * (unit.view(b, 1, geo.ho, geo.wo) if unit.dim() else unit)
            return self._as_weight(torch.bmm(scaled.view(b, m, hw), codes.view(b, hw, -1)).sum(dim=0))
        return self.weight_grad(self._image_to_cols(g_img, geo) * unit, codes)

    def _pads(self) -> list[int]:
        """Explicit ``[left, right, top, bottom]`` padding of the layer run as 2-D (``F.pad`` order;
        a 1-d layer has height 1 and no top/bottom padding)."""
        out: list[int] = []
        for d in reversed(range(self._nd)):
            k, dil = self.kernel_size[d], self.dilation[d]
            if self.padding == "same":
                total = dil * (k - 1)
                out += [total // 2, total - total // 2]
            elif self.padding == "valid":
                out += [0, 0]
            else:
                out += [self.padding[d], self.padding[d]]
        return out + [0, 0] if self._nd == 1 else out

    def _check_input(self, x: Tensor) -> None:
        if x.dim() not in (self._nd + 1, self._nd + 2) or x.shape[-self._nd - 1] != self.in_channels:
            raise ValueError(
                f"{self.layer_name}: expected input (N, {self.in_channels}, "
                f"{', '.join('L' * self._nd) if self._nd == 1 else 'H, W'}), got {tuple(x.shape)}; "
                "check the channel count of the previous layer."
            )

    @simulated_forward
    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        unbatched = x.dim() == self._nd + 1
        if unbatched:
            x = x.unsqueeze(0)
        if self._nd == 1:  # run as 2-D with a height of 1
            x = x.unsqueeze(2)
            k, s, d = (1, self.kernel_size[0]), (1, self.stride[0]), (1, self.dilation[0])
        else:
            k, s, d = self.kernel_size, self.stride, self.dilation
        channels_last = self._nd == 2 and x.dim() == 4 and not x.is_contiguous() \
            and x.is_contiguous(memory_format=torch.channels_last)
        left, right, top, bottom = self._pads()
        b, _, h, w = x.shape
        ho = (h + top + bottom - d[0] * (k[0] - 1) - 1) // s[0] + 1
        wo = (w + left + right - d[1] * (k[1] - 1) - 1) // s[1] + 1
        if ho <= 0 or wo <= 0:
            raise ValueError(f"{self.layer_name}: input {tuple(x.shape)} is smaller than the kernel "
                             f"{self.kernel_size} with dilation {self.dilation}; pad it or shrink the kernel.")
        geo = _Geometry(k, s, d, b, ho, wo)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        # the per-vector dynamic range of every patch, taken from the image (per-tile ranges of a
        # layer spanning several row tiles are taken from the patches themselves, in _dac_patches)
        per_patch = self.input_range is None and not self._tile_ranges(self.matrix_shape[1])
        scale = self._patch_scale(x, geo) if per_patch else None
        if self._capture is None and torch.is_grad_enabled():
            # input gradient by the native transposed convolution instead of through im2col; the
            # output in the input's memory format, like torch.nn, with the bias. Zero padding
            # happens inside (its gradient is the interior of the padded input's gradient).
            zeros = self.padding_mode == "zeros"
            y = AnalogConvFn.apply(x if zeros else self._pad_channels_last(x), self.weight, self.input_range,
                                   self.bias, self, geo, fmt, scale, zeros)
        else:
            y = self._forward_cols(self._pad_channels_last(x), geo, fmt, scale)
        if self._nd == 1:
            y = y.squeeze(2)
        return y.squeeze(0) if unbatched else y

    def _forward_cols(self, x4: Tensor, geo: _Geometry, fmt: torch.memory_format, scale: Tensor | None) -> Tensor:
        """Inference (or input capture): im2col and the DAC, the MVM, the image with the bias."""
        check = None
        if self._capture is None:
            check = self._input_check(x4, scale)
            (cols, scale), inputs = self._dac_patches(x4, geo, scale, keep=False), Inputs.CODES
        else:  # the captured inputs are the patches themselves, and stay
            cols, inputs = self._im2col(x4, geo), Inputs.VALUES
        channels_last = fmt == torch.channels_last
        # the bias goes on the columns with the rescale; a channels-first output is a copy, so the
        # MVM may then write into a reused buffer
        mode = CallMode(inputs=inputs, transient_output=not channels_last)
        y = self._cols_to_image(self.analog_matmul(cols, mode, scale=scale, bias=self.bias,
                                                   input_check=check), geo)
        if y.requires_grad:  # capturing inputs with gradients on
            return y.contiguous(memory_format=fmt)
        if channels_last:  # the MVM's fresh output, channels-last already
            return y
        # one pass from the MVM's buffer into a fresh channels-first output
        return torch.empty(y.shape, dtype=y.dtype, device=y.device).copy_(y)

    def _input_check(self, x4: Tensor, scale: Tensor | None) -> Tensor | None:
        """NaN/Inf in the input: the dynamic range propagates them (``None``: the simulation
        checks the range); a fixed range would clip an Inf, so the image's float64 sum is returned
        (NaN or +-Inf iff an input is), for the simulation to check with the weights."""
        if scale is None and self.input_range is not None:
            return x4.detach().sum(dtype=torch.float64).abs()
        return None

    def _pad_channels_last(self, x: Tensor) -> Tensor:
        """The padded input ``(B, C, H, W)`` laid out channels-last (one copy for zero padding)."""
        pads = self._pads()
        if not any(pads):
            return x.contiguous(memory_format=torch.channels_last)
        if self.padding_mode != "zeros":
            return F.pad(x.contiguous(memory_format=torch.channels_last), pads, mode=self.padding_mode) \
                .contiguous(memory_format=torch.channels_last)
        b, c, h, w = x.shape
        left, right, top, bottom = pads
        shape = (b, h + top + bottom, w + left + right, c)
        if torch.is_grad_enabled():  # kept for the backward: a fresh tensor
            out = x.new_zeros(shape)
        else:  # inference: a reused buffer (on CPU, fresh memory costs page faults on every call)
            out = self._scratch("_pad_scratch", math.prod(shape), x.dtype, x.device).view(shape).zero_()
        out[:, top:top + h, left:left + w].copy_(x.permute(0, 2, 3, 1))
        return out.permute(0, 3, 1, 2)

    slice_copy_min_channels: int = 64
    """im2col copies each kernel offset separately from this many channels per group up (faster
    for wide layers on CPU), else one strided copy."""

    def _im2col(self, x4: Tensor, geo: _Geometry, reuse: bool = False, gain: Tensor | None = None,
                out: Tensor | None = None) -> Tensor:
        """``(B, C, H, W)`` (padded, channels-last) -> ``(G, B*Ho*Wo, kh*kw*C/G)``, K ordered like
        ``_matrix``. ``reuse``: write into the layer's reused buffer (the result must not outlive
        the next call; on CPU fresh memory costs a page fault per 4 KiB on every call). ``gain``:
        ``(G, B*Ho*Wo, 1)`` or a scalar tensor multiplied into every patch in the same pass.
        ``out``: a ``(G, B*Ho*Wo, K)`` tensor to write into."""
        k, s, d = geo.k, geo.s, geo.d
        g = self.groups
        xl = x4.permute(0, 2, 3, 1)  # (B, H, W, C): contiguous for a channels-last x4
        cg = xl.shape[3] // g
        n = geo.b * geo.ho * geo.wo
        shape = (g, geo.b, geo.ho, geo.wo, k[0], k[1], cg)
        if out is not None:
            out = out.view(shape)
        elif reuse:
            out = self._scratch("_cols_scratch", math.prod(shape), xl.dtype, xl.device).view(shape)
        else:
            out = xl.new_empty(shape)
        gv = None if gain is None or gain.dim() == 0 else gain.view(g, geo.b, geo.ho, geo.wo, 1)
        if g == 1 and cg < self.slice_copy_min_channels:
            patches = xl.unfold(1, d[0] * (k[0] - 1) + 1, s[0]).unfold(2, d[1] * (k[1] - 1) + 1, s[1])
            patches = patches[..., :: d[0], :: d[1]].permute(0, 1, 2, 4, 5, 3)  # (B, Ho, Wo, kh, kw, C)
            if gain is None:
                out[0].copy_(patches)
            else:
                torch.mul(patches, gain if gv is None else gv[0].unsqueeze(-1).unsqueeze(-1), out=out[0])
            return out.view(g, n, k[0] * k[1] * cg)
        xg = xl.unflatten(3, (g, cg)).permute(3, 0, 1, 2, 4)  # (G, B, H, W, C/G)
        he, we = s[0] * (geo.ho - 1) + 1, s[1] * (geo.wo - 1) + 1
        for i in range(k[0]):
            for j in range(k[1]):
                src = xg[:, :, i * d[0]:i * d[0] + he:s[0], j * d[1]:j * d[1] + we:s[1]]
                if gain is None:
                    out[:, :, :, :, i, j].copy_(src)
                else:
                    torch.mul(src, gain if gv is None else gv, out=out[:, :, :, :, i, j])
        return out.view(g, n, k[0] * k[1] * cg)

    def _dac_patches(self, x4: Tensor, geo: _Geometry, scale: Tensor | None,
                     keep: bool) -> tuple[Tensor, Tensor | None]:
        """The DAC codes of every patch, ``(G, B*Ho*Wo, K)``, and the dynamic range they were taken
        at: im2col and the DAC's scaling in one pass per kernel offset, then the rounding
        (``periphery.dac`` with ``codes=True``, without a separate copy of the patches).
        ``scale``: the dynamic per-patch range, or ``None`` for the layer's input range (or for
        per-tile ranges, which are taken from the patches: im2col first, then the DAC in place).
        With ``keep`` (training) the codes go into a buffer the backward's trace may hold;
        otherwise into the layer's reused im2col buffer."""
        bits = self.cfg.dac.bits
        out = None
        if keep:  # the slot the simulation takes next (the first free one) keeps these codes
            k = self.matrix_shape[1]
            _, bufs = self._kept_slot(x4.device)
            out = self._slot_buffer(bufs, "codes", torch.Size((self.groups, geo.b * geo.ho * geo.wo, k)),
                                    x4.dtype, x4.device)
        if scale is None and self.input_range is None:  # per-tile dynamic ranges
            cols = self._im2col(x4, geo, reuse=not keep, out=out)
            scale = self._per_tile_scale(cols)
            return dac_codes_(cols.mul_(dac_gain(scale, bits)), bits, False), scale
        clip = scale is None
        gain = dac_gain(self.input_scale(x4, self.input_range) if clip else scale, bits)
        return dac_codes_(self._im2col(x4, geo, reuse=not keep, gain=gain, out=out), bits, clip), scale

    def _patch_scale(self, x: Tensor, geo: _Geometry) -> Tensor:
        """The dynamic input range of every patch, ``(G, B*Ho*Wo, 1)``, without the im2col copy.

        ``x``: the unpadded input ``(B, C, H, W)``. Each pixel's largest ``|x|`` over its group's
        channels, padded like the input (zeros, or copies of pixels for the other padding modes),
        then the maximum over each kernel window (strided, dilated), separably: exactly the
        per-vector maximum of the patches, NaN propagating.
        """
        g = self.groups
        b, c, h, w = x.shape
        xg = x.detach().reshape(b, g, c // g, h, w)
        peak = torch.maximum(xg.amax(dim=2), -xg.amin(dim=2))  # (B, G, H, W)
        pads = self._pads()
        if any(pads):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            peak = F.pad(peak, pads, mode=mode)
        (kh, kw), (sh, sw), (dh, dw) = geo.k, geo.s, geo.d
        if kh > 1 or sh > 1:
            peak = peak.unfold(2, dh * (kh - 1) + 1, sh)[..., ::dh].amax(dim=-1)
        if kw > 1 or sw > 1:
            peak = peak.unfold(3, dw * (kw - 1) + 1, sw)[..., ::dw].amax(dim=-1)
        scale = peak.permute(1, 0, 2, 3).reshape(g, b * geo.ho * geo.wo, 1)
        return scale.clamp_min(torch.finfo(scale.dtype).tiny)

    def _cols_to_image(self, y: Tensor, geo: _Geometry) -> Tensor:
        """``(G, B*Ho*Wo, M/G)`` -> ``(B, M, Ho, Wo)`` (channels-last strides: a view for G = 1)."""
        g, _, m = y.shape
        y = y.view(g, geo.b, geo.ho, geo.wo, m)
        y = y[0] if g == 1 else y.permute(1, 2, 3, 0, 4).reshape(geo.b, geo.ho, geo.wo, g * m)
        return y.permute(0, 3, 1, 2)

    def _image_to_cols(self, g_img: Tensor, geo: _Geometry) -> Tensor:
        """``(B, M, Ho, Wo)`` -> ``(G, B*Ho*Wo, M/G)`` (a view for G = 1 and channels-last input)."""
        g = self.groups
        m = g_img.shape[1] // g
        cols = g_img.permute(0, 2, 3, 1)
        if g == 1:
            return cols.reshape(1, -1, m)
        return cols.reshape(-1, g, m).transpose(0, 1)

    def conv_grad_input(self, g_img: Tensor, w_eff: Tensor, x_shape: torch.Size, geo: _Geometry,
                        unpad: bool = False) -> Tensor:
        """``col2im(g @ w_eff^T)`` computed as the native transposed convolution: the gradient of
        the padded input of ``x_shape``, or with ``unpad`` of the unpadded input ``x_shape`` (the
        interior of the padded one; zero padding)."""
        g, k, m = w_eff.shape
        kh, kw = geo.k
        kernel = w_eff.reshape(g, kh, kw, k // (kh * kw), m).permute(0, 4, 3, 1, 2) \
            .reshape(g * m, k // (kh * kw), kh, kw)
        if not unpad:
            return torch.nn.grad.conv2d_input(x_shape, kernel, g_img, stride=geo.s, padding=0,
                                              dilation=geo.d, groups=g)
        left, right, top, bottom = self._pads()
        b, c, h, w = x_shape
        if left == right and top == bottom:  # symmetric: the transposed convolution pads itself
            return torch.nn.grad.conv2d_input(x_shape, kernel, g_img, stride=geo.s, padding=(top, left),
                                              dilation=geo.d, groups=g)
        full = torch.nn.grad.conv2d_input((b, c, h + top + bottom, w + left + right), kernel, g_img,
                                          stride=geo.s, padding=0, dilation=geo.d, groups=g)
        return full[:, :, top:top + h, left:left + w]

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, " + super().extra_repr())


class AnalogConv1d(_AnalogConvNd):
    """``nn.Conv1d`` on tiles."""

    _nd = 1
    _torch_cls = nn.Conv1d


class AnalogConv2d(_AnalogConvNd):
    """``nn.Conv2d`` on tiles."""

    _nd = 2
    _torch_cls = nn.Conv2d

