"""Helpers shared by the benchmark scripts: interleaved timing and peak-memory measurement."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from analogue.cli.device import add_device_argument, resolve_device

__all__ = ["add_device_argument", "best_time", "md_table", "on_device", "peak_rss_delta_mb", "resolve_device",
           "synchronize", "time_pair"]


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (an accelerator runs asynchronously: a timing must
    end with this); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def on_device(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """``fn`` followed by ``synchronize(device)`` (what ``time_pair``/``best_time`` time)."""
    if device.type == "cpu":
        return fn

    def run() -> object:
        out = fn()
        synchronize(device)
        return out

    return run


def time_pair(fn_a: Callable[[], object], fn_b: Callable[[], object], reps: int = 30,
              warmup: int = 5) -> tuple[float, float]:
    """Median seconds of ``fn_a`` and ``fn_b``, run interleaved so machine noise hits both alike."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn_a()
        t1 = time.perf_counter()
        fn_b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return statistics.median(ta), statistics.median(tb)


def best_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Fastest of ``repeats`` runs of ``fn`` (seconds), after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_rss_delta_mb(code_setup: str, code_run: str) -> float:
    """Peak resident memory (MiB) that ``code_run`` adds on top of the state ``code_setup`` leaves,
    measured in a fresh Python process (Linux: resets the high-water mark via /proc/self/clear_refs)."""
    script = f"""
import gc, torch
torch.set_num_threads({__import__('torch').get_num_threads()})
{code_setup}
gc.collect()
def _status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1])
base = _status('VmRSS:')
open('/proc/self/clear_refs', 'w').write('5')
{code_run}
print((_status('VmHWM:') - base) / 1024)
"""
    # a fixed mmap threshold makes every large tensor its own mapping, returned on free:
    # resident memory then tracks live tensors and the high-water mark is their true peak
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def md_table(rows: list[dict]) -> str:
    keys = list(rows[0])
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
