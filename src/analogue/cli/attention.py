"""``analogue attention`` (digital vs analog attention on a tiny BERT, accuracy and cost) and
``analogue inmemory-beyond`` (Tiki-Taka on a CNN and a tiny transformer vs digital)."""

from __future__ import annotations

import argparse

from analogue._util.tables import print_table
from analogue.cli.device import add_device_argument, resolve_device


def add_attention_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=6, help="digital training epochs of the tiny BERT")
    add_device_argument(p)


def run_attention(args: argparse.Namespace) -> int:
    from analogue.apps.attention_study import RATE_PER_S, attention_study

    args.torch_device = resolve_device(args.device)
    res = attention_study(seed=args.seed, epochs=args.epochs, device=args.torch_device)
    print_table("Tiny BERT (2 layers, 2 heads of 16, 12 tokens): digital vs analog attention; "
                f"energy of the two attention products per inference, lifetime at {RATE_PER_S:g} inferences/s",
                res["accuracy"])
    print_table("BERT-base sized attention (12 layers, 12 heads of 64, 128 tokens) per inference", res["cost"])
    return 0


def add_beyond_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=5)
    add_device_argument(p)


def run_beyond(args: argparse.Namespace) -> int:
    from analogue.apps.inmemory_beyond import beyond_mlp_table

    args.torch_device = resolve_device(args.device)
    print_table("In-memory training beyond MLPs: Tiki-Taka (RRAM-like device, standard() tiles) vs "
                f"digital SGD, {args.epochs} epochs", beyond_mlp_table(epochs=args.epochs, seed=args.seed,
                                                                        torch_device=args.torch_device))
    return 0
