"""Programming and drifting a 10 M-weight model on CPU (target: under 5 s for program_ + drift_).

Times, side by side in one run:
- ``an.program_`` (PCM: programming noise + drift exponents for 2 devices per weight),
- ``an.drift_`` to one year (drift + accumulated 1/f read noise, caches the read weights),
- ``an.drift_`` with global drift compensation (Hadamard calibration reads through the ADC),
- the plain-PyTorch floor: one ``torch.randn_like`` per device for the same number of weights,
- one inference forward of a 64-vector batch: torch, analog unprogrammed, analog programmed (the
  programmed read adds no per-forward device cost for PCM; both analog forwards pay the
  ADC/noise periphery).

Run: ``python benchmarks/bench_devices.py [--weights 10e6] [--repeats 3] [--device cuda]``; prints a
markdown table.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from common import add_device_argument, best_time, on_device, resolve_device  # noqa: E402

import analogue as an  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=float, default=10e6, help="approximate number of weights")
    ap.add_argument("--repeats", type=int, default=3)
    add_device_argument(ap)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    width = round(math.sqrt(args.weights))
    torch.manual_seed(0)
    digital = nn.Sequential(nn.Linear(width, width, bias=False)).eval().to(dev)
    n_weights = sum(p.numel() for p in digital.parameters())
    model = an.convert_(copy.deepcopy(digital), an.presets.pcm()).eval()
    unprogrammed = copy.deepcopy(model)
    w = digital[0].weight.detach()

    def floor() -> None:  # one Gaussian per device (2 per weight): the least any sampler must do
        torch.randn_like(w), torch.randn_like(w)

    def timed(fn) -> float:
        return best_time(on_device(fn, dev), args.repeats, warmup=0)

    t_floor = timed(floor)
    t_prog = timed(lambda: an.program_(model, seed=0))
    t_drift = timed(lambda: an.drift_(model, 31_536_000.0))
    t_comp = timed(lambda: an.drift_(model, 31_536_000.0, compensation="global"))
    x = torch.rand(64, width).to(dev)
    with torch.no_grad():
        t_fwd_torch = timed(lambda: digital(x))
        t_fwd_prog = timed(lambda: model(x))
        t_fwd_unprog = timed(lambda: unprogrammed(x))
    rows = [
        ("torch: 2 x randn_like (floor)", t_floor, 1.0),
        ("an.program_ (PCM)", t_prog, t_prog / t_floor),
        ("an.drift_ to 1 y", t_drift, t_drift / t_floor),
        ("an.program_ + an.drift_", t_prog + t_drift, (t_prog + t_drift) / t_floor),
        ("an.drift_ + global compensation", t_comp, t_comp / t_floor),
        ("forward, torch (64 vectors)", t_fwd_torch, 1.0),
        ("forward, analog unprogrammed (64 vectors)", t_fwd_unprog, t_fwd_unprog / t_fwd_torch),
        ("forward, programmed PCM (64 vectors)", t_fwd_prog, t_fwd_prog / t_fwd_torch),
    ]
    print(
        f"\n{n_weights / 1e6:.1f} M weights ({width}x{width}), {torch.get_num_threads()} threads, "
        f"best of {args.repeats}\n"
    )
    print("| step | seconds | ratio |")
    print("|---|---|---|")
    for name, t, r in rows:
        print(f"| {name} | {t:.3f} | {r:.1f}x |")
    verdict = "meets" if t_prog + t_drift < 5.0 else "MISSES"
    print(f"\nprogram_ + drift_: {t_prog + t_drift:.2f} s -- {verdict} the 5 s target")


if __name__ == "__main__":
    main()
