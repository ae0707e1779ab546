"""One in-memory training step of a CNN and of a tiny transformer against the same digital step,
side by side (issue 18, item 5).

The digits CNN (two convolutions, one linear layer) on a batch of 8x8 images, and the tiny
transformer (one encoder block, ``(batch, seq, features)`` inputs to its linear layers) on a batch
of 12-token sequences: forward, backward, update. Analog: ``presets.standard()`` tiles, analog
backward (transposed read), Tiki-Taka on the asymmetric RRAM-like device with the digital
parameters (biases, embeddings, norms) on ``torch.optim.SGD``; digital: the plain model with
``torch.optim.SGD``. Medians of interleaved repeats; the ratio is the figure of merit (target
<= 10x, as for MLPs). Run: ``python benchmarks/bench_inmemory_beyond.py [--threads N] [--device cuda]``
(models, optimizer state and the batch on that device; every step ends with it synchronised).

Before/after: ``--baseline-src DIR`` (the ``src`` folder of another checkout, e.g. from ``git
archive``) runs this script ``--runs`` times in fresh processes, alternating that tree and this one,
and prints the medians over the runs side by side (on a shared machine, alternation spreads the load
over both alike).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from common import add_device_argument, on_device, resolve_device, time_pair
from torch import nn

import analogue as an
from analogue.apps._device import data_to
from analogue.apps.inmemory_beyond import DEFAULTS, TASKS
from analogue.config.pulsed import BackwardConfig, rram_asymmetric
from analogue.train.inmemory.optimizers import TikiTaka, digital_parameters


def _step(task: str, analog: bool, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    model = TASKS[task].model(0).to(x.device)
    loss_fn = nn.CrossEntropyLoss()
    opt = None
    if analog:
        cfg = an.presets.standard()
        an.convert_(model, cfg)
        hp = {k: v for k, v in DEFAULTS[(task, "tikitaka")].items() if k not in ("lr", "bias_lr")}
        opt = TikiTaka(model, rram_asymmetric(), lr=0.1, backward=BackwardConfig.like_forward(cfg), **hp)
        dig = torch.optim.SGD(list(digital_parameters(model)), lr=0.01)
    else:
        dig = torch.optim.SGD(model.parameters(), lr=0.01)

    def step() -> None:
        loss_fn(model(x), y).backward()
        if opt is not None:
            opt.step()
            opt.zero_grad()
        dig.step()
        dig.zero_grad(set_to_none=True)

    return on_device(step, x.device)


def _measure(batch: int, reps: int, dev: torch.device) -> dict[str, tuple[float, float]]:
    """``{task: (digital s, Tiki-Taka s)}``, medians of ``reps`` interleaved repeats."""
    out = {}
    for task in TASKS:
        data = data_to(TASKS[task].data(), dev)
        x, y = data.x_train[:batch], data.y_train[:batch]
        out[task] = time_pair(_step(task, False, x, y), _step(task, True, x, y), reps=reps)
    return out


def _compare(args: argparse.Namespace) -> None:
    """Alternate fresh runs on ``args.baseline_src`` and on this tree's ``src``; print medians."""
    trees = {"before": str(Path(args.baseline_src).resolve()), "after": str(Path(__file__).resolve().parents[1] / "src")}
    runs: dict[str, list[dict[str, list[float]]]] = {k: [] for k in trees}
    cmd = [sys.executable, __file__, "--json", "--batch", str(args.batch), "--threads", str(args.threads),
           "--reps", str(args.reps), "--device", args.device]
    for _ in range(args.runs):
        for name, src in trees.items():
            env = {**os.environ, "PYTHONPATH": src}
            res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            runs[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"\nOne training step, batch {args.batch}, float32, {args.threads} thread(s); medians of "
          f"{args.runs} alternating runs of {args.reps} interleaved repeats\n")
    print("| model | digital ms | Tiki-Taka ms before | x digital before | Tiki-Taka ms after | x digital after |")
    print("|---|---|---|---|---|---|")
    for task in TASKS:
        med = {k: [statistics.median(r[task][i] for r in runs[k]) for i in (0, 1)] for k in runs}
        ratio = {k: statistics.median(r[task][1] / r[task][0] for r in runs[k]) for k in runs}
        dig = statistics.median([r[task][0] for k in runs for r in runs[k]])
        print(f"| {TASKS[task].name} | {1e3 * dig:.2f} | {1e3 * med['before'][1]:.2f} | {ratio['before']:.1f} | "
              f"{1e3 * med['after'][1]:.2f} | {ratio['after']:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--baseline-src", default=None, help="src folder of a baseline checkout to compare against")
    ap.add_argument("--runs", type=int, default=5, help="alternating runs per tree with --baseline-src")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    add_device_argument(ap)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    if args.baseline_src:
        _compare(args)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    res = _measure(args.batch, args.reps, dev)
    if args.json:
        print(json.dumps(res))
        return
    print(f"\nOne training step, batch {args.batch}, float32, {torch.get_num_threads()} thread(s)\n")
    print("| model | digital ms | Tiki-Taka ms | x digital |")
    print("|---|---|---|---|")
    for task, (td, ta) in res.items():
        print(f"| {TASKS[task].name} | {1e3 * td:.2f} | {1e3 * ta:.2f} | {ta / td:.1f} |")


if __name__ == "__main__":
    main()
