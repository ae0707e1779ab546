"""Core tile simulation against plain PyTorch, side by side in one run (CPU).

- 1024x1024 AnalogLinear, batch 256, presets.standard() (256x256 tiles: 4x4 tiles), forward
  (weights mapped on every call, and programmed once with an.program_) and forward+backward,
  against nn.Linear. Target: <= 1.5x.
- a 3x3 Conv2d 64->64 on 32x32 images, batch 16, against nn.Conv2d.
- the output-noise source against torch.randn for the 4x256x1024 partial sums.
- peak memory of a 4096x4096 layer at batch 2048 (inference forward), against nn.Linear.
  Target: <= 1.5x.

Run: python benchmarks/bench_core.py [--device cuda] (the peak-memory case is CPU-only)
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import (  # noqa: E402
    add_device_argument,
    md_table,
    on_device,
    peak_rss_delta_mb,
    resolve_device,
    time_pair,
)

import analogue as an  # noqa: E402
from analogue.physics.noise import GaussianSource  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(ap)
    dev = resolve_device(ap.parse_args().device)
    torch.manual_seed(0)
    rows = []
    cfg = an.presets.standard()

    def time_pair_on(fa, fb, **kw):
        return time_pair(on_device(fa, dev), on_device(fb, dev), **kw)

    lin = torch.nn.Linear(1024, 1024).to(dev)
    ana = an.AnalogLinear.from_float(lin, cfg)
    x = torch.randn(256, 1024, device=dev)
    with torch.no_grad():
        t_ref, t_ana = time_pair_on(lambda: lin(x), lambda: ana(x))
    rows.append({"case": "linear 1024x1024 b256 forward", "torch ms": 1e3 * t_ref,
                 "analog ms": 1e3 * t_ana, "ratio": t_ana / t_ref})
    # inference as deployed: programmed once (ideal device), the array's state is cached
    deployed = torch.nn.Sequential(an.AnalogLinear.from_float(lin, cfg)).eval()
    an.program_(deployed, seed=0)
    with torch.no_grad():
        t_ref, t_ana = time_pair_on(lambda: lin(x), lambda: deployed(x))
    rows.append({"case": "linear 1024x1024 b256 forward, programmed (an.program_)", "torch ms": 1e3 * t_ref,
                 "analog ms": 1e3 * t_ana, "ratio": t_ana / t_ref})
    xg = x.clone().requires_grad_()

    def fb(m):
        m.zero_grad(set_to_none=True)
        m(xg).sum().backward()

    t_ref, t_ana = time_pair_on(lambda: fb(lin), lambda: fb(ana))
    rows.append({"case": "linear 1024x1024 b256 fwd+bwd", "torch ms": 1e3 * t_ref,
                 "analog ms": 1e3 * t_ana, "ratio": t_ana / t_ref})

    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(dev)
    aconv = an.AnalogConv2d.from_float(conv, cfg)
    xc = torch.randn(16, 64, 32, 32, device=dev)
    with torch.no_grad():
        t_ref, t_ana = time_pair_on(lambda: conv(xc), lambda: aconv(xc), reps=15)
    rows.append({"case": "conv2d 64->64 3x3 32x32 b16 forward", "torch ms": 1e3 * t_ref,
                 "analog ms": 1e3 * t_ana, "ratio": t_ana / t_ref})
    xcg = xc.clone().requires_grad_()
    t_ref, t_ana = time_pair_on(lambda: fb_conv(conv, xcg), lambda: fb_conv(aconv, xcg), reps=10)
    rows.append({"case": "conv2d 64->64 3x3 32x32 b16 fwd+bwd", "torch ms": 1e3 * t_ref,
                 "analog ms": 1e3 * t_ana, "ratio": t_ana / t_ref})

    gen = torch.Generator(device=dev).manual_seed(0)
    src = GaussianSource(torch.Generator(device=dev).manual_seed(0), pool_size=1 << 20)
    p = torch.zeros(4, 256, 1024, device=dev)
    t_ref, t_ana = time_pair_on(lambda: p.add_(torch.randn(p.shape, generator=gen, device=dev), alpha=0.04),
                             lambda: src.add_(p, 0.04))
    rows.append({"case": "output noise for 4x256x1024 partial sums (randn vs GaussianSource)",
                 "torch ms": 1e3 * t_ref, "analog ms": 1e3 * t_ana, "ratio": t_ana / t_ref})
    print(md_table(rows))
    if dev.type != "cpu":
        return

    setup = ("import analogue as an\nlin = torch.nn.Linear(4096, 4096)\n"
             "ana = an.AnalogLinear.from_float(lin, an.presets.standard())\n"
             "x = torch.randn(2048, 4096)\n")
    m_ref = peak_rss_delta_mb(setup, "with torch.no_grad():\n    y = lin(x)")
    m_ana = peak_rss_delta_mb(setup, "with torch.no_grad():\n    y = ana(x)")
    print()
    print(md_table([{"case": "peak memory, 4096x4096 b2048 forward (MiB above weights+input)",
                     "torch MiB": m_ref, "analog MiB": m_ana, "ratio": m_ana / m_ref}]))
    setup_total = setup + "base_total = 0\n"
    print(f"\n(for scale: weights {4096*4096*4/2**20:.0f} MiB, input {2048*4096*4/2**20:.0f} MiB, "
          f"output {2048*4096*4/2**20:.0f} MiB; torch threads {torch.get_num_threads()})")
    del setup_total


def fb_conv(m, x):
    m.zero_grad(set_to_none=True)
    m(x).sum().backward()


if __name__ == "__main__":
    main()
