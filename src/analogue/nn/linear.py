"""``AnalogLinear``: ``nn.Linear`` on simulated crossbar tiles; ``AnalogHFConv1D``: the same for
Hugging Face's ``Conv1D`` (GPT-2), whose weight is stored transposed."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from analogue.config import AnalogConfig
from analogue.nn.layer import AnalogLayer, simulated_forward
from analogue.nn.twins import share_params


def _linear_forward(layer: AnalogLayer, x: Tensor) -> Tensor:
    """``(..., in_features)`` -> ``(..., out_features)`` through the tiles, plus the digital bias."""
    if x.dim() == 0 or x.shape[-1] != layer.in_features:
        raise ValueError(
            f"{layer.layer_name}: expected input (..., {layer.in_features}), got {tuple(x.shape)}; "
            "reshape the input or fix the layer's in_features."
        )
    return layer.analog_matmul_flat(x, layer.bias)


class AnalogLinear(AnalogLayer):
    """``y = x W^T + b`` with ``W^T`` on tiles (inputs on rows, outputs on columns); the bias is digital."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        cfg: AnalogConfig | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        ref = nn.Linear(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.in_features, self.out_features, self.groups = in_features, out_features, 1
        share_params(ref, self)
        self._init_analog(cfg, seed)

    @classmethod
    def from_float(cls, mod: nn.Linear, cfg: AnalogConfig | None = None, seed: int = 0) -> AnalogLinear:
        """An analog twin of ``mod`` holding ``mod``'s own weight and bias Parameters (not copies):
        gradients reach them, and a weight tied to another module stays tied."""
        new = cls.__new__(cls)
        AnalogLayer.__init__(new)
        new.in_features, new.out_features, new.groups = mod.in_features, mod.out_features, 1
        share_params(mod, new)
        new._init_analog(cfg, seed)
        return new

    def to_float(self) -> nn.Linear:
        """The plain ``nn.Linear`` holding this layer's weight and bias Parameters."""
        with torch.device("meta"):  # no throw-away weight allocation
            mod = nn.Linear(self.in_features, self.out_features, self.bias is not None)
        return share_params(self, mod)

    def _matrix(self) -> Tensor:
        return self.weight.t().unsqueeze(0)

    @property
    def matrix_shape(self) -> tuple[int, int, int]:
        return 1, self.in_features, self.out_features

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        return torch.mm(g[0].t(), x_eff[0])

    @simulated_forward
    def forward(self, x: Tensor) -> Tensor:
        return _linear_forward(self, x)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, " + super().extra_repr())


class AnalogHFConv1D(AnalogLayer):
    """Hugging Face's ``Conv1D`` (``transformers.pytorch_utils.Conv1D``, GPT-2's projections):
    ``y = x W + b`` with the weight stored ``(nx, nf)`` = (inputs, outputs), which is the array's
    layout (inputs on rows, outputs on columns); the bias is digital.

    ``nf``/``nx`` (outputs/inputs) as in ``Conv1D``; ``in_features``/``out_features`` name the same.
    ``to_float`` needs ``transformers``.
    """

    def __init__(
        self,
        nf: int,
        nx: int,
        bias: bool = True,
        cfg: AnalogConfig | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self._set_shape(nf, nx)
        self.weight = nn.Parameter(torch.empty(nx, nf, device=device, dtype=dtype))
        nn.init.normal_(self.weight, std=0.02)  # as Conv1D
        self.bias = nn.Parameter(torch.zeros(nf, device=device, dtype=dtype)) if bias else None
        self._init_analog(cfg, seed)

    def _set_shape(self, nf: int, nx: int) -> None:
        self.nf, self.nx, self.groups = nf, nx, 1
        self.in_features, self.out_features = nx, nf

    @classmethod
    def from_float(cls, mod: nn.Module, cfg: AnalogConfig | None = None, seed: int = 0) -> AnalogHFConv1D:
        """An analog twin of the ``Conv1D`` ``mod`` holding its own weight and bias Parameters
        (not copies; the weight keeps its ``(nx, nf)`` layout)."""
        if mod.weight.dim() != 2:
            raise ValueError(f"{type(mod).__name__}: expected a 2-d (nx, nf) weight, got {tuple(mod.weight.shape)}")
        new = cls.__new__(cls)
        AnalogLayer.__init__(new)
        nx, nf = mod.weight.shape
        new._set_shape(nf, nx)
        share_params(mod, new)
        new._init_analog(cfg, seed)
        return new

    def to_float(self) -> nn.Module:
        """The ``transformers`` ``Conv1D`` holding this layer's weight and bias Parameters."""
        from transformers.pytorch_utils import Conv1D

        with torch.device("meta"):  # no throw-away weight allocation
            mod = Conv1D(self.nf, self.nx)
        return share_params(self, mod)

    def _matrix(self) -> Tensor:
        return self.weight.unsqueeze(0)

    @property
    def matrix_shape(self) -> tuple[int, int, int]:
        return 1, self.nx, self.nf

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        return torch.mm(x_eff[0].t(), g[0])

    @simulated_forward
    def forward(self, x: Tensor) -> Tensor:
        return _linear_forward(self, x)

    def extra_repr(self) -> str:
        return f"nf={self.nf}, nx={self.nx}, bias={self.bias is not None}, " + super().extra_repr()
