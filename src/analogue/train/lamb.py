"""LAMB: layer-wise adaptive moments for large-batch and low-precision training.

You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020,
Algorithm 2. Per parameter tensor ``x`` with gradient ``g`` at step ``t``::

    m = b1 m + (1 - b1) g                      v = b2 v + (1 - b2) g^2
    m_hat = m / (1 - b1^t)                     v_hat = v / (1 - b2^t)       (bias correction)
    u = m_hat / (sqrt(v_hat) + eps) + wd x     (Adam direction plus decoupled weight decay)
    ratio = phi(||x||) / ||u||                 (1 when either norm is 0; phi(z) = min(z, clamp))
    x = x - lr * ratio * u

The trust ratio makes every layer move by about ``lr`` times its own norm, whatever the scale
of its gradient -- which is why the founding brief lists it among the optimizers that tolerate
noisy, low-precision weights. torch has no LAMB and the packages that had one are unmaintained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor


class LAMB(torch.optim.Optimizer):
    """LAMB optimizer (You et al., ICLR 2020).

    ``lr``: step size (a fraction of each tensor's norm per step when the trust ratio is on);
    ``betas``, ``eps``: as in Adam; ``weight_decay``: decoupled, added to the Adam direction
    before the trust ratio; ``trust_clamp``: upper bound of ``phi(||x||)`` (``None``: no bound);
    ``bias_correction``: Adam's bias correction of the moments.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        trust_clamp: float | None = 10.0,
        bias_correction: bool = True,
    ) -> None:
        if not lr > 0.0:
            raise ValueError(f"LAMB.lr must be > 0, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"LAMB.betas must lie in [0, 1), got {betas}")
        if not eps > 0.0:
            raise ValueError(f"LAMB.eps must be > 0, got {eps}")
        if weight_decay < 0.0:
            raise ValueError(f"LAMB.weight_decay must be >= 0, got {weight_decay}")
        if trust_clamp is not None and not trust_clamp > 0.0:
            raise ValueError(f"LAMB.trust_clamp must be > 0 or None, got {trust_clamp}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                        "trust_clamp": trust_clamp, "bias_correction": bias_correction}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if g.is_sparse:
                    raise RuntimeError("LAMB does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = float(state["step"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1.0 - b1)
                v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                if group["bias_correction"]:
                    m_hat, v_hat = m / (1.0 - b1**t), v / (1.0 - b2**t)
                else:
                    m_hat, v_hat = m, v
                u = m_hat / (v_hat.sqrt() + group["eps"])
                if group["weight_decay"] != 0.0:
                    u.add_(p, alpha=group["weight_decay"])
                w_norm = torch.linalg.vector_norm(p)
                if group["trust_clamp"] is not None:
                    w_norm = w_norm.clamp(max=group["trust_clamp"])
                u_norm = torch.linalg.vector_norm(u)
                ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
                state["trust_ratio"] = ratio  # kept for inspection (logging, tests)
                p.add_(u * ratio, alpha=-group["lr"])
        return loss
