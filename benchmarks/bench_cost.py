"""How many chip design points per second does the cost model evaluate?

Target (issue 6): at least 10,000 design points per second on CPU for design-space sweeps.

    python benchmarks/bench_cost.py [--points 100000]

Prints a markdown table comparing, for the same design points,
- ``sweep``: ``an.cost.sweep`` (one vectorised NumPy pass over the Cartesian product),
- ``peak loop``: ``an.cost.peak`` on each ``Chip`` in a Python loop (the scalar path, on a
  subsample, extrapolated per point),
- ``estimate``: ``an.estimate_cost`` of a compiled ResNet-18-sized model and of BERT-base (per
  call, baselines and the write schedule included; target <= 1 s),
with design points per second and the sweep's speed-up over the loop.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

import analogue as an
from analogue import chips
from analogue.cost import peak, sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000, help="approximate sweep size")
    args = ap.parse_args()
    base = chips.hermes().replace(core_area_mm2=None)
    per_axis = max(round(args.points**0.25), 2)
    axes = {
        "adc_bits": list(np.linspace(2, 12, per_axis).round().astype(int)),
        "array_rows": [int(2**k) for k in np.linspace(6, 11, per_axis).round()],
        "node_nm": list(np.geomspace(5, 130, per_axis)),
        "clock_hz": list(np.geomspace(1e8, 2e9, per_axis)),
    }
    sweep(base, **{k: v[:2] for k, v in axes.items()})  # warm-up
    t0 = time.perf_counter()
    r = sweep(base, **axes)
    t_sweep = time.perf_counter() - t0
    n = len(r["tops"])

    rng = np.random.default_rng(0)
    idx = rng.choice(n, size=min(300, n), replace=False)
    variants = [
        base.replace(adc_bits=int(r["adc_bits"][i]), array_rows=int(r["array_rows"][i]),
                     node_nm=float(r["node_nm"][i]), clock_hz=float(r["clock_hz"][i]))
        for i in idx
    ]
    t0 = time.perf_counter()
    loop = [peak(c).tops_per_W for c in variants]
    t_loop = (time.perf_counter() - t0) / len(variants)
    assert np.allclose(loop, r["tops_per_W"][idx], rtol=1e-9)

    from analogue.data.models import resnet18_like

    model = resnet18_like(num_classes=10).eval()
    prog = an.compile(model, (torch.randn(1, 3, 32, 32),), chip=chips.hermes(), build_model=False,
                      reprogram=True)
    reps = 5
    with warnings.catch_warnings():  # batch-1 PCM reprogramming wears out: expected here
        warnings.simplefilter("ignore", an.cost.EnduranceWarning)
        an.estimate_cost(prog)
        t0 = time.perf_counter()
        for _ in range(reps):
            an.estimate_cost(prog)
        t_est = (time.perf_counter() - t0) / reps

    from analogue.data.models import tiny_transformer_encoder

    bert = tiny_transformer_encoder(vocab_size=30522, hidden_size=768, num_layers=12, num_heads=12,
                                    intermediate_size=3072, max_positions=512).eval()
    prog_b = an.compile(bert, (torch.randint(0, 30522, (1, 128)),), chip=chips.hermes(),
                        build_model=False, reprogram=True)
    with warnings.catch_warnings():  # batch-1 PCM reprogramming wears out: expected here
        warnings.simplefilter("ignore", an.cost.EnduranceWarning)
        an.estimate_cost(prog_b)
        t0 = time.perf_counter()
        for _ in range(reps):
            an.estimate_cost(prog_b)
        t_bert = (time.perf_counter() - t0) / reps

    rows = [
        ("sweep (vectorised)", n, t_sweep, n / t_sweep),
        ("peak loop (scalar)", len(variants), t_loop * len(variants), 1.0 / t_loop),
        ("estimate_cost ResNet-18-like", 1, t_est, 1.0 / t_est),
        ("estimate_cost BERT-base (seq 128)", 1, t_bert, 1.0 / t_bert),
    ]
    print("| path | points | seconds | points/s |\n|---|---|---|---|")
    for name, pts, sec, rate in rows:
        print(f"| {name} | {pts} | {sec:.3g} | {rate:,.0f} |")
    print(f"\nsweep over the loop: {(n / t_sweep) * t_loop:,.0f}x; "
          f"target >= 10,000 points/s: {'met' if n / t_sweep >= 1e4 else 'NOT met'}")


if __name__ == "__main__":
    main()
