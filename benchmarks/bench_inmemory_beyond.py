"""One in-memory training step of a CNN and of a tiny transformer against the same digital step,
side by side (issue 18, item 5).

The digits CNN (two convolutions, one linear layer) on a batch of 8x8 images, and the tiny
transformer (one encoder block, ``(batch, seq, features)`` inputs to its linear layers) on a batch
of 12-token sequences: forward, backward, update. Analog: ``presets.standard()`` tiles, analog
backward (transposed read), Tiki-Taka on the asymmetric RRAM-like device with the digital
parameters (biases, embeddings, norms) on ``torch.optim.SGD``; digital: the plain model with
``torch.optim.SGD``. Medians of interleaved repeats; the ratio is the figure of merit (target
<= 10x, as for MLPs). Run: ``python benchmarks/bench_inmemory_beyond.py [--threads N]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from common import time_pair
from torch import nn

import analogue as an
from analogue.apps.inmemory_beyond import DEFAULTS, TASKS
from analogue.config.pulsed import BackwardConfig, rram_asymmetric
from analogue.train.inmemory.optimizers import TikiTaka, digital_parameters


def _step(task: str, analog: bool, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    model = TASKS[task].model(0)
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

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"\nOne training step, batch {args.batch}, float32, {torch.get_num_threads()} thread(s)\n")
    print("| model | digital ms | Tiki-Taka ms | x digital |")
    print("|---|---|---|---|")
    for task in TASKS:
        data = TASKS[task].data()
        x, y = data.x_train[: args.batch], data.y_train[: args.batch]
        td, ta = time_pair(_step(task, False, x, y), _step(task, True, x, y), reps=args.reps)
        print(f"| {TASKS[task].name} | {1e3 * td:.2f} | {1e3 * ta:.2f} | {ta / td:.1f} |")


if __name__ == "__main__":
    main()
