"""``AnalogLinear``: ``nn.Linear`` on simulated crossbar tiles."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..config import AnalogConfig
from .base import AnalogLayer, copy_params, simulated_forward


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
        self.weight = ref.weight
        self.bias = ref.bias
        self._init_analog(cfg, seed)

    @classmethod
    def from_float(cls, mod: nn.Linear, cfg: AnalogConfig | None = None, seed: int = 0) -> AnalogLinear:
        """An analog twin sharing nothing with ``mod`` but copies of its weight and bias."""
        new = cls(mod.in_features, mod.out_features, mod.bias is not None, cfg,
                  device=mod.weight.device, dtype=mod.weight.dtype, seed=seed)
        return copy_params(mod, new)

    def to_float(self) -> nn.Linear:
        mod = nn.Linear(self.in_features, self.out_features, self.bias is not None,
                        device=self.weight.device, dtype=self.weight.dtype)
        return copy_params(self, mod)

    def _matrix(self) -> Tensor:
        return self.weight.t().unsqueeze(0)

    @property
    def matrix_shape(self) -> tuple[int, int, int]:
        return 1, self.in_features, self.out_features

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        return torch.mm(g[0].t(), x_eff[0])

    @simulated_forward
    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self.layer_name}: expected input (..., {self.in_features}), got {tuple(x.shape)}; "
                "reshape the input or fix the layer's in_features."
            )
        return self.analog_matmul(x, bias=self.bias, flat=True)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, " + super().extra_repr())
