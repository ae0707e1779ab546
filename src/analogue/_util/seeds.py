"""Seeds derived from a run's seed: one formula per kind, so that every module draws the same
streams from the same seed.

``layer_seed(seed, i) = seed * SEED_STRIDE + i`` (``SEED_STRIDE`` a prime) gives layer ``i`` of a
model its own seed: conversion, programming, calibration and the in-memory optimizers use it.
``derive_seed(*parts)`` mixes any number of integers (run seed, epoch, layer index, ...) into a
63-bit seed; hardware-aware training uses it.
"""

from __future__ import annotations

SEED_STRIDE = 1_000_003
"""A prime: seeds derived from (run seed, index) do not collide for indices below it."""

_INT64_LIMIT = 1 << 63


def layer_seed(seed: int, index: int) -> int:
    """The seed of layer (or stream) ``index`` of a run seeded with ``seed``:
    ``seed * SEED_STRIDE + index``."""
    return seed * SEED_STRIDE + index


def seed_limit(n_layers: int) -> int:
    """The largest ``|seed|`` whose layer seeds ``layer_seed(seed, i)``, ``i < n_layers``, all fit
    an int64."""
    return (_INT64_LIMIT - max(n_layers, 1)) // SEED_STRIDE


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (run seed, epoch, layer index, ...); order matters."""
    s = 0x2545F4914F6CDD1D
    for p in parts:
        s = (s * SEED_STRIDE + int(p) + 0x9E3779B97F4A7C15) % _INT64_LIMIT
    return s
