"""A fast source of standard-normal noise for the analog hot path.

``torch.randn`` on CPU costs more than the layer's matmul for the partial sums of a large
layer (figures: ``benchmarks/README.md``, core tiles). This source keeps two pools -- i.i.d. N(0, 1) magnitudes ``z`` and i.i.d. random signs ``s`` (+1/-1) --
and returns ``z[a + i] * s[b + i]`` for two independent random offsets ``a``, ``b`` per call:
one fused multiply-add over the target. Random stretches of each pool are redrawn from the
generator (``RENEW_EVERY`` calls' worth every ``RENEW_EVERY`` calls), so the pools turn over
every ``1 / refresh_fraction`` calls on average.

Properties (tested in ``tests/physics/test_noise.py``):
- within one call (at most ``pool_size`` samples) the samples are exactly i.i.d. N(0, 1):
  distinct pool entries times independent signs; a larger call reuses pool entries (in rows at
  distinct steps of the two pools, see ``add_``): no two of its samples share both factors, so
  pairs are uncorrelated over the pools' draws (for one pool the realised correlation at a given
  lag is of order ``1 / sqrt(pool_size)``);
- samples of different calls are uncorrelated: they share an entry of ``z`` only with an
  independent sign factor, unless both offsets coincide (probability ``1 / pool_size``);
- deterministic for a seeded ``torch.Generator``;
- safe to share between threads: each call takes its samples under a lock, so concurrent calls
  get distinct stretches of the one stream (which call gets which stretch follows the order in
  which the threads get there: reproducible per seed only from one thread).
"""

from __future__ import annotations

import math
import random
import threading

import torch
from torch import Tensor


def pool_size_for(n: int) -> int:
    """Pool size for calls of up to ``n`` samples: twice that up to 2^17 (one contiguous stretch
    per call, exactly i.i.d.); larger calls go in strided rows, fastest from a pool of 2^16 that
    stays in cache."""
    log_n = math.ceil(math.log2(max(n, 1)))
    return 1 << (max(14, log_n + 1) if log_n <= 17 else 16)


class GaussianSource:
    """Standard-normal samples at the cost of one multiply-add each, from an explicit generator."""

    def __init__(
        self,
        generator: torch.Generator,
        pool_size: int = 1 << 21,
        refresh_fraction: float = 1 / 64,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if pool_size < 1024:
            raise ValueError(f"GaussianSource.pool_size must be >= 1024, got {pool_size}")
        if not 0.0 < refresh_fraction <= 1.0:
            raise ValueError(f"GaussianSource.refresh_fraction must lie in (0, 1], got {refresh_fraction}")
        self.generator = generator
        self.device = generator.device
        self.pool = torch.randn(pool_size, generator=generator, device=self.device, dtype=dtype)
        self.signs = torch.randn(pool_size, generator=generator, device=self.device, dtype=dtype).sign_()
        self.refresh = max(1, int(pool_size * refresh_fraction))
        # offsets come from a Python generator seeded from ``generator`` (no tensor op per draw):
        # a CPU generator's next draw (host memory, read without a device sync); an accelerator's
        # generator's seed, on the host (reading a draw back would wait for the device)
        if self.device.type == "cpu":
            seed = torch.randint(1 << 62, (1,), generator=generator, device=self.device).tolist()[0]
        else:
            seed = f"analogue.noise.offsets:{generator.initial_seed()}"
        self._offsets = random.Random(seed)
        self._calls = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # a lock is not state (nor picklable)
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    RENEW_EVERY = 8
    """The pools' refresh runs every this many calls, ``RENEW_EVERY * refresh`` entries at once
    (the same turnover as ``refresh`` per call, with fewer operations)."""

    def add_(self, target: Tensor, std: float) -> Tensor:
        """``target += std * N(0, 1)`` in place (``target`` must be contiguous); returns it
        (layout of the samples: see ``_apply_``)."""
        return self._apply_(target, lambda part, z, s: part.addcmul_(z, s, value=std))

    def addmul_(self, target: Tensor, base: Tensor) -> Tensor:
        """``target = base + target * N(0, 1)`` in place on ``target`` (both contiguous, one
        shape): zero-mean noise with the standard deviations in ``target``, added to ``base``, in
        two passes."""
        if base.shape != target.shape or not base.is_contiguous():
            raise ValueError("GaussianSource.addmul_: base must be contiguous, shaped like the target")
        t0, b0 = target.storage_offset(), base.storage_offset()

        def op(part: Tensor, z: Tensor, s: Tensor) -> None:
            bpart = base.as_strided(part.shape, part.stride(), b0 + part.storage_offset() - t0)
            torch.addcmul(bpart, part.mul_(z), s, out=part)

        return self._apply_(target, op)

    def _apply_(self, target: Tensor, op) -> Tensor:
        """``op(part, z, s)`` over the target with samples ``z * s`` laid out as follows.

        One draw of uniforms per call (pool refresh and offsets), then fused multiply-adds over
        contiguous stretches of the pools: a target of at most half the pool is one stretch of
        each (offsets uniform over the positions that do not wrap); one of at most the pool is
        split at the wrap points (its samples stay exactly i.i.d.). A larger target is laid out
        as rows of half the pool, row ``i`` reading ``z[a + i*da :]`` and ``s[b + i*db :]`` with
        random offsets and random distinct row steps ``da != db`` (one multiply-add over all rows,
        the pools staying in cache): two samples then never share both their ``z`` and their
        sign entry, so every pair is uncorrelated and each sample is exactly N(0, 1).
        """
        if not target.is_contiguous():
            raise ValueError("GaussianSource needs a contiguous target")
        with self._lock:  # one call at a time: the offsets, the refresh and the reads of the pools
            self._apply_locked(target.view(-1), op)
        return target

    def _apply_locked(self, flat: Tensor, op) -> None:
        """``_apply_`` on the flat target, with the lock held."""
        m, total = self.pool.numel(), flat.numel()
        rnd = self._offsets.random
        u = [rnd() for _ in range(8)]
        self._calls += 1
        if self._calls % self.RENEW_EVERY == 0:
            k = min(m, self.RENEW_EVERY * self.refresh)
            a, b = int(u[0] * (m - k + 1)), int(u[1] * (m - k + 1))
            self.pool[a : a + k].normal_(generator=self.generator)
            self.signs[b : b + k].normal_(generator=self.generator).sign_()
        if total <= m:
            self._stretch(flat, op, u[2], u[3])
            return
        piece = m // 2
        rows, tail = divmod(total, piece)
        max_rows = m // 4 + 1  # keeps the largest row step >= 2, so the two steps can differ
        if rows > max_rows:  # a huge target: in parts of max_rows rows, each its own offsets
            for start in range(0, total, max_rows * piece):
                part = flat[start : start + max_rows * piece]
                self._apply_locked(part, op)
            return
        if rows > 1:
            max_step = (m - piece) // (rows - 1)  # >= 2
            da = 1 + int(u[2] * max_step)
            db = 1 + int(u[3] * (max_step - 1))
            db += db >= da  # uniform over the steps other than da
            a = int(u[4] * (m - piece - (rows - 1) * da + 1))
            b = int(u[5] * (m - piece - (rows - 1) * db + 1))
            z = self.pool.as_strided((rows, piece), (da, 1), self.pool.storage_offset() + a)
            sg = self.signs.as_strided((rows, piece), (db, 1), self.signs.storage_offset() + b)
            op(flat[: rows * piece].view(rows, piece), z, sg)
        else:
            self._stretch(flat[:piece], op, u[4], u[5])
        if tail:
            self._stretch(flat[rows * piece:], op, u[6], u[7])

    def _stretch(self, part: Tensor, op, ua: float, ub: float) -> None:
        """``op(part, z[a:], s[b:])`` for ``len(part) <= pool_size``, offsets from the uniforms
        ``ua``, ``ub``."""
        m, n = self.pool.numel(), part.numel()
        if 2 * n <= m:  # fits without wrapping: one stretch of each pool
            room = m - n + 1
            a, b = int(ua * room), int(ub * room)
            op(part, self.pool[a : a + n], self.signs[b : b + n])
            return
        a, b = int(ua * m), int(ub * m)
        # split at both wrap points so every piece is one contiguous slice of each pool
        cuts = sorted({0, n, min(n, m - a), min(n, m - b)})
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            za, sb = (a + lo) % m, (b + lo) % m
            op(part[lo:hi], self.pool[za : za + hi - lo], self.signs[sb : sb + hi - lo])

    def sample(self, shape: tuple[int, ...]) -> Tensor:
        """A fresh tensor of N(0, 1) samples (written, not added: one pass)."""
        out = torch.empty(shape, device=self.device, dtype=self.pool.dtype)
        return self._apply_(out, lambda part, z, s: torch.mul(z, s, out=part))


_STREAM_LOCK = threading.Lock()  # creation of a stream's source (rare: once per owner and device)


class NoiseStream:
    """One seeded noise stream of an owner (a layer, a weight perturbation, an optimizer): its
    :class:`GaussianSource` is made from ``seed`` on first use, and made again from ``seed`` for
    another device or dtype or a larger pool. Safe for several threads: the source is created once
    under a lock (two threads never start two copies of one stream), and ``GaussianSource``
    draws under its own lock."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._source: GaussianSource | None = None

    def _fits(self, src: GaussianSource | None, device: torch.device, dtype: torch.dtype, pool: int) -> bool:
        return (src is not None and src.device == torch.device(device) and src.pool.dtype == dtype
                and src.pool.numel() >= pool)

    def source(self, device: torch.device | str, dtype: torch.dtype, pool: int) -> GaussianSource:
        """The stream's source on ``device`` in ``dtype`` with a pool of at least ``pool``."""
        src = self._source
        if self._fits(src, device, dtype, pool):
            return src  # type: ignore[return-value]
        with _STREAM_LOCK:
            src = self._source
            if not self._fits(src, device, dtype, pool):
                gen = torch.Generator(device=device)
                gen.manual_seed(self.seed)
                src = self._source = GaussianSource(gen, pool_size=pool, dtype=dtype)
        return src
