"""In-memory training beyond MLPs: a small CNN on the digits and a tiny transformer on a synthetic
sequence task, each trained digitally (plain SGD) and fully in memory (Tiki-Taka on simulated
pulsed arrays, forward and transposed-read backward on ``presets.standard()`` tiles), with the test
accuracy and the time of one training step side by side.

The sequence task (``majority_task``): sequences of ``seq`` tokens from a vocabulary of ``vocab``;
the label is the most frequent token (ties to the smallest). The transformer
(``TinySequenceTransformer``) is one pre-norm encoder block of plain ``nn.Linear`` layers, whose
inputs are ``(batch, seq, features)``; the in-memory optimizers flatten them into update vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from analogue.apps._device import as_device, data_to
from analogue.config import AnalogConfig, presets
from analogue.config.pulsed import DEVICE_PRESETS, BackwardConfig, PulsedDevice
from analogue.data.digits import DigitsData, evaluate_accuracy, load_digits
from analogue.lifecycle.convert import convert_
from analogue.train.inmemory.optimizers import OPTIMIZERS, digital_parameters

ALGORITHMS = ("digital", "tikitaka")

#: Hyperparameters per (task, algorithm): learning rates in weight units (Tiki-Taka: of the fast
#: array); ``bias_lr`` of the digital parameters.
DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("cnn", "digital"): {"lr": 0.1},
    ("cnn", "tikitaka"): {"lr": 0.3, "transfer_lr": 0.1, "columns_per_transfer": 16, "bias_lr": 0.05},
    ("transformer", "digital"): {"lr": 0.1},
    ("transformer", "tikitaka"): {"lr": 1.0, "transfer_lr": 0.1, "columns_per_transfer": 4, "bias_lr": 0.05},
}

LR_DECAY = 0.85
"""Factor on every learning rate after each epoch (as the MLP study's)."""


def small_digits_cnn(seed: int = 0) -> nn.Sequential:
    """``1x8x8 -> conv 8 (3x3) -> conv 16 (3x3, stride 2) -> linear 10`` with ReLUs (~3.8 k weights)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1, stride=2),
                             nn.ReLU(), nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


class TinySequenceTransformer(nn.Module):
    """Token and position embeddings, one pre-norm encoder block (self-attention with ``heads`` heads,
    a ``ff``-wide MLP), mean pooling and a linear classifier."""

    def __init__(self, vocab: int, seq: int, classes: int, d: int = 32, heads: int = 2, ff: int = 64,
                 seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.heads = heads
            self.embed = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(0.02 * torch.randn(seq, d))
            self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)
            self.head = nn.Linear(d, classes)

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.embed(tokens) + self.pos[: tokens.shape[1]]
        b, s, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, s, d)
        h = h + self.proj(a)
        h = h + self.ff2(torch.relu(self.ff1(self.norm2(h))))
        return self.head(h.mean(dim=1))


def majority_task(n_train: int = 2000, n_test: int = 500, seq: int = 12, vocab: int = 4,
                  seed: int = 0) -> DigitsData:
    """Random token sequences labelled by their most frequent token (ties: the smallest), split
    into train and test (``DigitsData`` holds any train/test tensors)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (n_train + n_test, seq), generator=g)
    counts = nn.functional.one_hot(x, vocab).sum(dim=1)
    y = counts.argmax(dim=1)  # first maximum: the smallest token of a tie
    return DigitsData(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


@dataclass(frozen=True)
class Task:
    """A model builder, its data and its number of classes."""

    name: str
    model: Callable[[int], nn.Module]
    data: Callable[[], DigitsData]


TASKS: dict[str, Task] = {
    "cnn": Task("digits CNN", small_digits_cnn, lambda: load_digits(seed=0)),
    "transformer": Task("tiny transformer, majority of 12 tokens",
                        lambda seed: TinySequenceTransformer(vocab=4, seq=12, classes=4, seed=seed),
                        majority_task),
}


def train_task(task: str, algorithm: str, *, epochs: int = 5, batch_size: int = 16, seed: int = 0,
               cfg: AnalogConfig | None = None, device: PulsedDevice | None = None,
               data: DigitsData | None = None, lr_decay: float = LR_DECAY,
               torch_device: torch.device | str = "cpu", **overrides: Any) -> dict[str, Any]:
    """Train ``task`` (``"cnn"`` or ``"transformer"``) with ``algorithm`` (``"digital"`` or
    ``"tikitaka"``). Analog runs convert every linear and convolution layer with ``cfg`` (default
    ``presets.standard()``), read the backward through the same converters, and pulse ``device``
    (default: the asymmetric RRAM-like preset); every learning rate is multiplied by ``lr_decay``
    after each epoch. ``torch_device``: the torch device of the model and its data. Returns
    per-epoch test accuracy, the wall time and the mean time of one training step (forward,
    backward, updates)."""
    if task not in TASKS:
        raise ValueError(f"train_task: task must be one of {sorted(TASKS)}, got {task!r}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"train_task: algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    spec = TASKS[task]
    tdev = as_device(torch_device)
    data = data_to(data or spec.data(), tdev)
    model = spec.model(seed).to(tdev)
    hp = {**DEFAULTS[(task, algorithm)], **overrides}
    lr = hp.pop("lr")
    bias_lr = hp.pop("bias_lr", lr)
    opt = None
    if algorithm == "digital":
        dig = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        cfg = cfg or presets.standard()
        convert_(model, cfg, seed=seed)
        opt = OPTIMIZERS[algorithm](model, device or DEVICE_PRESETS["rram"](), lr,
                                    backward=BackwardConfig.like_forward(cfg), seed=seed, **hp)
        dig = torch.optim.SGD(list(digital_parameters(model)), lr=bias_lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    accuracy: list[float] = []
    steps, step_s = 0, 0.0
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for xb, yb in data.batches(batch_size, gen):
            ts = time.perf_counter()
            loss_fn(model(xb), yb).backward()
            if opt is not None:
                opt.step()
                opt.zero_grad()
            dig.step()
            dig.zero_grad(set_to_none=True)
            step_s += time.perf_counter() - ts
            steps += 1
        for o in (opt, dig):
            for group in o.param_groups if o is not None else ():
                group["lr"] *= lr_decay
        accuracy.append(evaluate_accuracy(model, data.x_test, data.y_test))
    return {"task": task, "algorithm": algorithm, "accuracy": accuracy, "seconds": time.perf_counter() - t0,
            "step_s": step_s / max(steps, 1), "hyperparameters": {"lr": lr, "bias_lr": bias_lr, **hp}}


def beyond_mlp_table(epochs: int = 5, seed: int = 0,
                     torch_device: torch.device | str = "cpu") -> list[dict[str, Any]]:
    """Rows ``task, digital %, tikitaka %, step-time ratio`` for both tasks (trained here on
    ``torch_device``)."""
    rows = []
    for task in TASKS:
        dig = train_task(task, "digital", epochs=epochs, seed=seed, torch_device=torch_device)
        tt = train_task(task, "tikitaka", epochs=epochs, seed=seed, torch_device=torch_device)
        rows.append({"model": TASKS[task].name, "digital accuracy %": round(100 * dig["accuracy"][-1], 2),
                     "Tiki-Taka accuracy %": round(100 * tt["accuracy"][-1], 2),
                     "step time ratio": round(tt["step_s"] / dig["step_s"], 2)})
    return rows


__all__ = ["ALGORITHMS", "TASKS", "TinySequenceTransformer", "beyond_mlp_table", "majority_task",
           "small_digits_cnn", "train_task"]
