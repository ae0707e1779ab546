"""``AnalogConv1d`` / ``AnalogConv2d``: convolutions as MVMs on tiles (im2col).

``in_channels / groups * prod(kernel_size)`` maps to rows and ``out_channels / groups`` to columns,
one matrix per group; groups run as extra slices of the same batched matmul. Stride, padding
(numbers, ``"same"``, ``"valid"``, every ``padding_mode``) and dilation follow ``torch.nn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import AnalogConfig
from ..physics.ste import AnalogConvFn
from .base import AnalogLayer, copy_params


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
        if getattr(mod, "transposed", False):
            raise ValueError(f"{type(mod).__name__}: transposed convolutions are not supported on tiles; "
                             "keep the layer digital with rules={name: None}")
        new = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                  mod.dilation, mod.groups, mod.bias is not None, mod.padding_mode, cfg,
                  device=mod.weight.device, dtype=mod.weight.dtype, seed=seed)
        return copy_params(mod, new)

    def to_float(self) -> nn.Module:
        mod = self._torch_cls(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                              self.padding, self.dilation, self.groups, self.bias is not None,
                              self.padding_mode, device=self.weight.device, dtype=self.weight.dtype)
        return copy_params(self, mod)

    # (G, K, M): per group, rows = in/G * prod(kernel), columns = out/G
    def _matrix(self) -> Tensor:
        g = self.groups
        return self.weight.reshape(g, self.out_channels // g, -1).transpose(1, 2)

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        return torch.bmm(g.transpose(1, 2), x_eff).reshape(self.weight.shape)

    def _pads(self) -> list[int]:
        """Explicit (left, right) padding per spatial dim, last dim first (``F.pad`` order)."""
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
        return out

    def _check_input(self, x: Tensor) -> None:
        if x.dim() not in (self._nd + 1, self._nd + 2) or x.shape[-self._nd - 1] != self.in_channels:
            raise ValueError(
                f"{self.layer_name}: expected input (N, {self.in_channels}, "
                f"{', '.join('L' * self._nd) if self._nd == 1 else 'H, W'}), got {tuple(x.shape)}; "
                "check the channel count of the previous layer."
            )

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        unbatched = x.dim() == self._nd + 1
        if unbatched:
            x = x.unsqueeze(0)
        pads = self._pads()
        if any(pads):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, pads, mode=mode)
        if self._nd == 1:  # run as 2-D with a height of 1
            x4 = x.unsqueeze(2)
            k, s, d = (1, self.kernel_size[0]), (1, self.stride[0]), (1, self.dilation[0])
        else:
            x4, k, s, d = x, self.kernel_size, self.stride, self.dilation
        b, _, h, w = x4.shape
        ho = (h - d[0] * (k[0] - 1) - 1) // s[0] + 1
        wo = (w - d[1] * (k[1] - 1) - 1) // s[1] + 1
        if ho <= 0 or wo <= 0:
            raise ValueError(f"{self.layer_name}: input {tuple(x.shape)} is smaller than the kernel "
                             f"{self.kernel_size} with dilation {self.dilation}; pad it or shrink the kernel.")
        geo = _Geometry(k, s, d, b, ho, wo)
        if self._capture is not None or not torch.is_grad_enabled():
            y = self._cols_to_image(self.analog_matmul(self._im2col(x4, geo)), geo)
        else:  # input gradient by the native transposed convolution instead of through im2col
            y = AnalogConvFn.apply(x4, self.weight, self.input_range, self, geo)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)  # y is a view here: out of place
        if self._nd == 1:
            y = y.squeeze(2)
        return y.squeeze(0) if unbatched else y

    def _im2col(self, x4: Tensor, geo: _Geometry) -> Tensor:
        """``(B, C, H, W)`` (padded) -> ``(G, B*Ho*Wo, C/G*kh*kw)``, K ordered like the weight.

        Strided views and one copy (much faster than ``F.unfold`` on CPU).
        """
        k, s, d = geo.k, geo.s, geo.d
        patches = x4.unfold(2, d[0] * (k[0] - 1) + 1, s[0]).unfold(3, d[1] * (k[1] - 1) + 1, s[1])
        patches = patches[..., :: d[0], :: d[1]]  # (B, C, Ho, Wo, kh, kw)
        g = self.groups
        cg = x4.shape[1] // g
        return patches.reshape(geo.b, g, cg, geo.ho, geo.wo, k[0], k[1]).permute(1, 0, 3, 4, 2, 5, 6) \
            .reshape(g, geo.b * geo.ho * geo.wo, cg * k[0] * k[1])

    def _cols_to_image(self, y: Tensor, geo: _Geometry) -> Tensor:
        g, _, m = y.shape
        return y.view(g, geo.b, geo.ho * geo.wo, m).permute(1, 0, 3, 2).reshape(geo.b, g * m, geo.ho, geo.wo)

    def _image_to_cols(self, g_img: Tensor, geo: _Geometry) -> Tensor:
        g = self.groups
        m = g_img.shape[1] // g
        return g_img.reshape(geo.b, g, m, geo.ho * geo.wo).permute(1, 0, 3, 2).reshape(g, -1, m)

    def conv_grad_input(self, g_img: Tensor, w_eff: Tensor, x_shape: torch.Size, geo: _Geometry) -> Tensor:
        """``col2im(g @ w_eff^T)`` computed as the native transposed convolution."""
        g, k, m = w_eff.shape
        kernel = w_eff.transpose(1, 2).reshape(g * m, k // (geo.k[0] * geo.k[1]), geo.k[0], geo.k[1])
        return torch.nn.grad.conv2d_input(x_shape, kernel.contiguous(), g_img, stride=geo.s, padding=0,
                                          dilation=geo.d, groups=g)

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

