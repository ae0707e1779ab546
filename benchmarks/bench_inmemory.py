"""One in-memory training step against the same digital step, side by side (issue 7).

A 256x256 ``AnalogLinear`` (``presets.standard()``: 8-bit DAC/ADC, output noise) trained in memory
with the asymmetric RRAM-like device: analog forward, analog backward (transposed read through its
own 8-bit DAC/ADC and noise), pulsed update (``AnalogSGD``, and the other algorithms) -- against
``nn.Linear(256, 256)`` with ``torch.optim.SGD``: forward, backward, update. Batch 256, float32,
CPU. Timings are medians of interleaved repeats; the ratio is the figure of merit (target <= 10x;
the incumbent needs ~1,300x). Run: ``python benchmarks/bench_inmemory.py [--threads N] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from common import add_device_argument, resolve_device, synchronize  # noqa: E402

import analogue as an  # noqa: E402
from analogue.config.pulsed import BackwardConfig, rram_asymmetric
from analogue.train.inmemory.optimizers import AnalogSGD, MixedPrecision, TikiTaka  # noqa: E402


def _digital(n: int, x: torch.Tensor, g: torch.Tensor) -> Callable[[], None]:
    torch.manual_seed(0)
    lin = nn.Linear(n, n, device=x.device)
    opt = torch.optim.SGD(lin.parameters(), lr=0.01)

    def step() -> None:
        xi = x.detach().requires_grad_()
        lin(xi).backward(g)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def _analog(n: int, x: torch.Tensor, g: torch.Tensor, algo: type, sampling: str,
            backward: BackwardConfig | None, **kw: object) -> Callable[[], None]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(n, n, device=x.device))
    an.convert_(model, an.presets.standard())
    opt = algo(model, rram_asymmetric(), lr=0.01, sampling=sampling, backward=backward, **kw)
    bias_opt = torch.optim.SGD([model[0].bias], lr=0.01)

    def step() -> None:
        xi = x.detach().requires_grad_()
        model(xi).backward(g)
        opt.step()
        bias_opt.step()
        opt.zero_grad()
        bias_opt.zero_grad(set_to_none=True)

    return step


def _time(fns: dict[str, Callable[[], None]], repeats: int, inner: int,
          device: torch.device) -> dict[str, float]:
    for f in fns.values():  # warm-up
        for _ in range(3):
            f()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():  # interleaved, so load changes hit every variant alike
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            synchronize(device)
            samples[k].append((time.perf_counter() - t0) / inner)
    return {k: statistics.median(v) for k, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: the ratio then measures the code, not how a shared "
                    "machine's cores happen to be loaded)")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--inner", type=int, default=10)
    add_device_argument(ap)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    n, b = args.size, args.batch
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(b, n, generator=gen).to(dev)
    g = (torch.randn(b, n, generator=gen) / b).to(dev)
    bwd = BackwardConfig()
    variants = {
        "digital nn.Linear + SGD": _digital(n, x, g),
        "AnalogSGD (counts), analog backward": _analog(n, x, g, AnalogSGD, "counts", bwd),
        "AnalogSGD (counts), exact backward": _analog(n, x, g, AnalogSGD, "counts", None),
        "AnalogSGD (trains, BL=31), analog backward": _analog(n, x, g, AnalogSGD, "trains", bwd),
        "MixedPrecision, analog backward": _analog(n, x, g, MixedPrecision, "counts", bwd),
        "TikiTaka (chopped), analog backward": _analog(n, x, g, TikiTaka, "counts", bwd,
                                                       columns_per_transfer=4, chop_every=2),
    }
    t = _time(variants, args.repeats, args.inner, dev)
    base = t["digital nn.Linear + SGD"]
    print(f"\nOne training step, {n}x{n} layer, batch {b}, float32, {dev}, {torch.get_num_threads()} thread(s)\n")
    print("| step | ms | x digital |")
    print("|---|---|---|")
    for k, v in t.items():
        print(f"| {k} | {1e3 * v:.3f} | {v / base:.1f} |")


if __name__ == "__main__":
    main()
