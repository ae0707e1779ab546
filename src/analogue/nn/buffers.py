"""Per-thread reused temporaries of analog layers (and of hardware-aware training's noise).

On CPU fresh memory costs a page fault per 4 KiB on first touch (more than the arithmetic done
in it), so the temporaries of a call live in buffers reused across calls. They are not state:
their owner keeps them in its ``__dict__`` under ``"_reused"`` and drops that key when copied or
pickled. They are per thread: concurrent calls from several threads must not share them.
"""

from __future__ import annotations

import math
import threading
import weakref

import torch
from torch import Tensor

SCRATCH_MAX_ELEMS = 1 << 24
"""Temporaries up to this many elements (64 MiB in float32) are reused; larger ones are
allocated per call (``AnalogLayer.scratch_max_elems``)."""

KEPT_SLOTS = "_kept"
"""The entry of a layer's reused buffers holding the two kept slots (``kept_slot``)."""


class _ThreadBuffers(threading.local):
    """Per thread: the reused temporaries of an owner, by name (freed with the thread)."""

    def __init__(self) -> None:
        self.bufs: dict = {}


def thread_buffers(owner: object) -> dict:
    """The calling thread's reused temporaries of ``owner``, by name, kept in its ``__dict__``
    under ``"_reused"`` (not state: owners drop that key when copied or pickled). Concurrent calls
    from several threads must not share them."""
    tls = owner.__dict__.get("_reused")
    if tls is None:
        tls = owner.__dict__.setdefault("_reused", _ThreadBuffers())
    return tls.bufs


def shaped_buffer(bufs: dict | None, name: str, shape: tuple[int, ...], dtype: torch.dtype,
                  device: torch.device, max_elems: int) -> Tensor | None:
    """``bufs[name]``, (re)allocated in ``shape``: a buffer reused across calls (``None`` without a
    dict, or above ``max_elems`` elements: the caller allocates afresh)."""
    if bufs is None or math.prod(shape) > max_elems:
        return None
    buf = bufs.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype or buf.device != device:
        buf = bufs[name] = torch.empty(shape, dtype=dtype, device=device)
    return buf


def flat_scratch(bufs: dict, name: str, numel: int, dtype: torch.dtype, device: torch.device,
                 max_elems: int) -> Tensor:
    """A reused flat buffer ``bufs[name]`` of at least ``numel`` elements (grown on demand), its
    first ``numel`` elements returned; a fresh tensor above ``max_elems``."""
    if numel > max_elems:
        return torch.empty(numel, dtype=dtype, device=device)
    buf = bufs.get(name)
    if buf is None or buf.numel() < numel or buf.dtype != dtype or buf.device != device:
        buf = torch.empty(numel, dtype=dtype, device=device)
        bufs[name] = buf
    return buf[:numel]


def dense_flat(t: Tensor) -> Tensor | None:
    """The elements of ``t`` in memory order as one 1-D view, when ``t`` covers a dense stretch of
    its storage without overlap (any permutation of a contiguous layout); else ``None``."""
    if t.is_contiguous():
        return t.view(-1)
    expect = 1
    for stride, size in sorted(zip(t.stride(), t.shape)):  # dims from the innermost out
        if size != 1 and stride != expect:
            return None
        expect *= size
    return t.as_strided((t.numel(),), (1,), t.storage_offset())


def strided_like(flat: Tensor | None, t: Tensor) -> Tensor | None:
    """The first ``t.numel()`` elements of the 1-D buffer ``flat`` laid out like the dense ``t``
    (same strides: elementwise work between them runs in memory order); ``None`` without a
    buffer or for a ``t`` that is not dense."""
    if flat is None or dense_flat(t) is None:
        return None
    return flat[: t.numel()].as_strided(t.shape, t.stride())


def kept_slot(bufs: dict, device: torch.device) -> tuple[int | None, dict | None]:
    """Buffers for what a training forward keeps for its backward (DAC codes, held weights),
    reused across steps: one of two slots (in ``bufs[KEPT_SLOTS]``) whose last trace is gone (the
    previous step's graph may still be referenced while the next forward runs). On CPU a fresh
    multi-MB tensor costs a page fault per 4 KiB on every step. ``(None, None)``: allocate afresh
    (both alive, or not on CPU)."""
    if device.type != "cpu":
        return None, None
    kept = bufs.setdefault(KEPT_SLOTS, [None, None])
    for slot, entry in enumerate(kept):
        if entry is not None and entry[0]() is not None:
            continue  # that slot's buffers are still held by a live trace
        return slot, {} if entry is None else entry[1]
    return None, None


def hold_slot(bufs: dict, slot: int | None, trace: object, slot_bufs: dict | None) -> None:
    """Mark ``slot`` (from ``kept_slot``) as held by ``trace`` until it is gone."""
    if slot is not None:
        bufs[KEPT_SLOTS][slot] = (weakref.ref(trace), slot_bufs)
