"""Int8 digital stand-ins: the layers a hybrid chip keeps on its digital accelerator.

Fake quantisation (quantise, then compute in float): weights symmetric int8 per output channel
(``max|w_o| -> 127``), activations symmetric int8 per tensor with a dynamic range (``max|x| ->
127`` per call), i.e. the usual post-training int8 scheme of digital inference accelerators
(Jacob et al., CVPR 2018; per-channel weights as in Krishnamoorthi, arXiv:1806.08342). Rounding
uses the straight-through estimator, so the layers also train. Subclasses of the torch layers:
``isinstance(m, nn.Linear)`` holds and ``state_dict`` keys are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue.nn.layer import copy_params
from analogue.physics.ste import round_ste

INT8_LEVELS = 127


def fake_quant_int8(x: Tensor, dim: int | None = None) -> Tensor:
    """Symmetric int8 fake quantisation of ``x``: per tensor, or per slice along ``dim``."""
    if dim is None:
        amax = x.detach().abs().amax()
    else:
        reduce = [d for d in range(x.dim()) if d != dim % x.dim()]
        amax = x.detach().abs().amax(dim=reduce, keepdim=True)
    scale = amax.clamp_min(torch.finfo(x.dtype).tiny) / INT8_LEVELS
    return round_ste(x / scale).clamp(-INT8_LEVELS, INT8_LEVELS) * scale


def _twin(mod: nn.Module, cls: type) -> nn.Module:
    """A fresh ``cls`` with ``mod``'s geometry and copies of its parameters."""
    kw = {"bias": mod.bias is not None, "device": mod.weight.device, "dtype": mod.weight.dtype}
    if isinstance(mod, nn.Linear):
        new = cls(mod.in_features, mod.out_features, **kw)
    else:
        new = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                  mod.dilation, mod.groups, padding_mode=mod.padding_mode, **kw)
    return copy_params(mod, new)


class _Int8Mixin:
    _float_cls: type

    @classmethod
    def from_float(cls, mod: nn.Module) -> nn.Module:
        """An int8 twin with copies of ``mod``'s parameters (and its training mode)."""
        return _twin(mod, cls)

    def to_float(self) -> nn.Module:
        """The plain torch layer with the same (unquantised) parameters."""
        return _twin(self, self._float_cls)


class Int8Linear(_Int8Mixin, nn.Linear):
    """``nn.Linear`` with int8 per-channel weights and int8 per-tensor inputs."""

    _float_cls = nn.Linear

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(fake_quant_int8(x), fake_quant_int8(self.weight, dim=0), self.bias)


class Int8Conv1d(_Int8Mixin, nn.Conv1d):
    """``nn.Conv1d`` with int8 per-channel weights and int8 per-tensor inputs."""

    _float_cls = nn.Conv1d

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(fake_quant_int8(x), fake_quant_int8(self.weight, dim=0), self.bias)


class Int8Conv2d(_Int8Mixin, nn.Conv2d):
    """``nn.Conv2d`` with int8 per-channel weights and int8 per-tensor inputs."""

    _float_cls = nn.Conv2d

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(fake_quant_int8(x), fake_quant_int8(self.weight, dim=0), self.bias)


INT8_TWINS: dict[type, type] = {nn.Linear: Int8Linear, nn.Conv1d: Int8Conv1d, nn.Conv2d: Int8Conv2d}


def quantize_int8_(model: nn.Module, names: Iterable[str] | None = None) -> nn.Module:
    """Swap plain ``nn.Linear/Conv1d/Conv2d`` layers for their int8 twins, in place; returns ``model``.

    ``names``: the modules to quantise (``None``: every plain one). Analog layers are left alone.
    A name that is not a plain layer of the model fails, naming it.
    """
    wanted = None if names is None else set(names)
    modules = dict(model.named_modules())
    if wanted is not None:
        for n in wanted:
            if n not in modules:
                raise ValueError(f"quantize_int8_: no module named {n!r} in the model")
            if type(modules[n]) not in INT8_TWINS and not isinstance(modules[n], _Int8Mixin):
                raise ValueError(f"quantize_int8_: {n!r} is a {type(modules[n]).__name__}; only plain "
                                 "nn.Linear/Conv1d/Conv2d layers have int8 twins")
        if "" in wanted:
            raise ValueError("quantize_int8_: pass a container module; the root cannot be replaced in place")
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            full = f"{parent_name}.{child_name}" if parent_name else child_name
            twin = INT8_TWINS.get(type(child))
            if twin is not None and (wanted is None or full in wanted):
                setattr(parent, child_name, twin.from_float(child))
    return model


__all__ = ["INT8_TWINS", "Int8Conv1d", "Int8Conv2d", "Int8Linear", "fake_quant_int8", "quantize_int8_"]
