"""The torch device an app runs its model on: model, data and evaluation all live there.

On the CPU nothing is moved or copied (``Tensor.to`` of a tensor already there returns it), so the
CPU results stay exactly those of the documented figures. Data sets stay in memory on the device;
the batch orders are still drawn by CPU generators (so they match across devices) and index the
device tensors.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import torch

SPLITS = ("x_train", "y_train", "x_test", "y_test")


def as_device(device: torch.device | str) -> torch.device:
    """``device`` as a ``torch.device`` (``ValueError`` naming ``device`` for a bad name)."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device: {device!r} is not a torch device; use cpu, cuda, cuda:N or mps") from None


def data_to(data: Any, device: torch.device) -> Any:
    """``data`` (an object with tensors ``x_train, y_train, x_test, y_test``) with those tensors on
    ``device``: ``data`` itself when they already are; a dataclass is copied with
    ``dataclasses.replace``, another object becomes a namespace of the four tensors."""
    moved = {name: getattr(data, name).to(device) for name in SPLITS}
    if all(moved[name] is getattr(data, name) for name in SPLITS):
        return data
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dataclasses.replace(data, **moved)
    return SimpleNamespace(**moved)
