"""The ``analogue`` command: thin -- parses arguments, calls the library, prints and plots.

Subcommands are registered in ``COMMANDS`` (name -> (add_arguments, run)).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .compile.cli import add_map_arguments, run_map
from .cost.cli import add_cost_arguments, run_cost
from .demo_drift import add_drift_arguments, run_drift
from .report import print_table
from .train.train_cli import (
    add_hwa_table_arguments,
    add_train_arguments,
    run_hwa_table_cli,
    run_train,
)


# -- demo -------------------------------------------------------------------------------------
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results", help="folder for results.json and the plot")
    p.add_argument("--epochs", type=int, default=15, help="training epochs of the digital CNN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(out=Path(args.out), epochs=args.epochs, seed=args.seed, progress=not args.no_progress)
    print_table("Digits CNN: digital vs analog (an.presets.standard())", result["accuracy_table"])
    print_table("MVM error of one 256x256 tile, normalised to full-scale output", result["mvm_table"])
    print(f"saved {result['paths']['json']} and {result['paths']['plot']}")
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {
    "demo": ("train a CNN on digits, run it on simulated analog tiles, compare", _add_demo, _run_demo),
    "map": ("compile a model (MODULE:FUNCTION) onto a chip and print where every layer runs",
            add_map_arguments, run_map),
    "cost": ("energy, latency and area: chip peak figures, claims check, a compiled model's cost",
             add_cost_arguments, run_cost),
    "drift": ("digits CNN on PCM: accuracy from 1 s to 1 year after programming, with and without "
              "drift compensation", add_drift_arguments, run_drift),
    "train": ("train a model from a YAML config (digital pretraining, conversion, hardware-aware "
              "training), checkpointed every epoch; --resume continues a stopped run",
              add_train_arguments, run_train),
    "hwa-table": ("digits CNN on PCM: digital vs plain analog vs HWA-trained vs HWA + hybrid, 1 s to 1 y",
                  add_hwa_table_arguments, run_hwa_table_cli),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analogue", description="Analog in-memory-computing toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add, _run) in COMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"analogue {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
