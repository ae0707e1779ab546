"""The scikit-learn digits data set (1,797 8x8 images, shipped with scikit-learn) and a small CNN.

Everything is deterministic for a given seed: the split, the initialisation and the batch order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class DigitsData:
    """Train/test tensors: images ``(N, 1, 8, 8)`` scaled to [0, 1], labels ``(N,)``."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    def batches(self, batch_size: int, generator: torch.Generator | None = None,
                split: str = "train") -> Iterable[tuple[Tensor, Tensor]]:
        x, y = (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)
        order = torch.randperm(len(x), generator=generator) if generator is not None else torch.arange(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], y[idx]


def load_digits(test_fraction: float = 0.2, seed: int = 0, flat: bool = False) -> DigitsData:
    """Load and split the digits; ``flat=True`` gives ``(N, 64)`` vectors for MLPs."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must lie in (0, 1), got {test_fraction}")
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    n_test = int(round(len(x) * test_fraction))
    te, tr = perm[:n_test], perm[n_test:]
    if not flat:
        x = x.view(-1, 1, 8, 8)
    return DigitsData(x[tr], y[tr], x[te], y[te])


def digits_cnn(seed: int = 0) -> nn.Sequential:
    """A small CNN for 8x8 digits: two 3x3 convolutions, max-pool, two linear layers (~45 k weights)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train_classifier(
    model: nn.Module,
    data: DigitsData,
    epochs: int = 15,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    optimizer: Callable[..., torch.optim.Optimizer] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """Train with cross-entropy (Adam unless ``optimizer`` is given); deterministic for ``seed``."""
    opt = (optimizer or torch.optim.Adam)(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for xb, yb in data.batches(batch_size, g):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            count += len(xb)
        if progress is not None:
            progress(epoch, total / count)
    model.eval()
    return model


def evaluate_accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy in [0, 1] (model put in eval mode): ``analogue.analysis.evaluate``'s."""
    from analogue.analysis.evaluation import evaluate

    model.eval()
    return evaluate(model, x, y, batch_size)["accuracy"]
