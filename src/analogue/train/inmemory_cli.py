"""``analogue train --in-memory``: an MLP on the digits trained fully in memory, per algorithm.

Every ``AnalogLinear`` runs its forward and its backward (transposed read) on simulated tiles and
is updated only by pulses of the chosen device (default: the asymmetric RRAM-like preset); the
biases are digital (``torch.optim.SGD``). The table shows test accuracy per epoch for each
algorithm, next to the same MLP trained digitally with plain SGD.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import presets
from ..config import AnalogConfig
from ..convert import convert_
from ..data.digits import DigitsData, evaluate_accuracy, load_digits
from .inmemory import ALGORITHMS, OPTIMIZERS, InMemoryOptimizer, digital_parameters
from .pulsed_config import DEVICE_PRESETS, BackwardConfig, PulsedDevice

HIDDEN = (128,)
"""Hidden widths of the demo MLP (64 inputs, 10 classes)."""

DEFAULTS: dict[str, dict[str, Any]] = {
    # learning rates in weight units; weights span +-weight_scale = 2 * max|W_init| on the array
    "digital": {"lr": 0.1},
    "sgd": {"lr": 0.1},
    "mixed": {"lr": 0.1},
    "tikitaka": {"lr": 0.1, "transfer_lr": 1.0, "columns_per_transfer": 4, "chop_every": None},
}
"""Per-algorithm hyperparameters of the demo (batch 16)."""


def digits_mlp(hidden: tuple[int, ...] = HIDDEN, seed: int = 0) -> nn.Sequential:
    """``64 -> hidden... -> 10`` with ReLUs (plain torch layers; convert them for analog)."""
    torch.manual_seed(seed)
    sizes = (64, *hidden, 10)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def train_digits(algorithm: str, *, device: PulsedDevice | None = None, epochs: int = 10,
                 batch_size: int = 16, seed: int = 0, cfg: AnalogConfig | None = None,
                 backward: BackwardConfig | None = None, data: DigitsData | None = None,
                 hidden: tuple[int, ...] = HIDDEN, lr_decay: float = 1.0,
                 **overrides: Any) -> dict[str, Any]:
    """Train the digits MLP with ``algorithm`` (``"digital"`` or one of ``ALGORITHMS``).

    Analog runs use ``cfg`` (default ``presets.standard()``) for the forward, ``backward``
    (default: the same converters and noise as the forward) for the transposed read and ``device``
    (default ``rram_asymmetric()``) for every array. Returns per-epoch test accuracy and loss,
    the wall time and the optimizer's work counters. ``lr_decay``: factor on every learning rate
    after each epoch.
    """
    if algorithm != "digital" and algorithm not in ALGORITHMS:
        raise ValueError(f"train_digits: algorithm must be 'digital' or one of {ALGORITHMS}, got {algorithm!r}")
    data = data or load_digits(flat=True, seed=0)
    model = digits_mlp(hidden, seed)
    hp = {**DEFAULTS[algorithm], **overrides}
    lr = hp.pop("lr")
    opt: InMemoryOptimizer | None = None
    if algorithm == "digital":
        dig = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        cfg = cfg or presets.standard()
        convert_(model, cfg, seed=seed)
        device = device or DEVICE_PRESETS["rram"]()
        backward = BackwardConfig.like_forward(cfg) if backward is None else (backward or None)
        opt = OPTIMIZERS[algorithm](model, device, lr, backward=backward, seed=seed, **hp)
        dig = torch.optim.SGD(list(digital_parameters(model)), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    accuracy: list[float] = []
    losses: list[float] = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for xb, yb in data.batches(batch_size, gen):
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if opt is not None:
                opt.step()
                opt.zero_grad()
            dig.step()
            dig.zero_grad(set_to_none=True)
            total += float(loss.detach()) * len(xb)
            count += len(xb)
        losses.append(total / count)
        for o in (opt, dig):
            for group in o.param_groups if o is not None else ():
                group["lr"] *= lr_decay
        accuracy.append(evaluate_accuracy(model, data.x_test, data.y_test))
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {"algorithm": algorithm, "accuracy": accuracy, "loss": losses,
                           "seconds": seconds, "hyperparameters": {"lr": lr, **hp, "batch_size": batch_size}}
    if opt is not None:
        out["work"] = opt.stats
        out["device"] = opt.device_model.to_dict()
        opt.close()
    return out
