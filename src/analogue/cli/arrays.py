"""``analogue arrays [--model MODULE:FUNCTION --data MODULE:FUNCTION] [--chip hermes|chip.yaml]
[--sizes 64 128 ...] [--r-wire 0 0.5 1.5/5 ...] [--instances N] [--max-loss 0.01]
[--calibrate-when before|after] [--out DIR]``:
how large an array may be -- accuracy with line resistance (IR drop, Monte Carlo over programmed
instances) and the chip's energy, latency and area per array size, side by side
(``an.array_size_study``). Default model: the digits CNN, trained here on the shipped data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from analogue._util.progress import progress_arg
from analogue.analysis.arrays import CALIBRATE_WHEN
from analogue.cli.device import add_device_argument, resolve_device
from analogue.cli.map import CHIP_HELP


def parse_r_wire(text: str) -> Any:
    """``"0.5"`` -> 0.5 (rows and columns); ``"1.5/5"`` -> (1.5, 5.0) (row/column), ohm."""
    try:
        parts = [float(p) for p in text.split("/")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give ohm per segment, e.g. 0.5, or row/column, e.g. 1.5/5") from None
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return (parts[0], parts[1])
    raise argparse.ArgumentTypeError(f"{text!r}: at most one '/' (row/column), e.g. 1.5/5")


def tensors_to(data: Any, dev: torch.device) -> Any:
    """The tensors in ``data`` (a tensor, or tuples, lists and dicts of them, nested) on ``dev``;
    anything else (a DataLoader) as it is: its batches must then come on ``dev``."""
    from torch.utils._pytree import tree_map_only

    return tree_map_only(torch.Tensor, lambda t: t.to(dev), data)


def add_arrays_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="MODULE:FUNCTION returning a trained nn.Module (default: the digits CNN, trained here)")
    p.add_argument("--kwargs", default="{}", help="JSON keyword arguments for the model FUNCTION")
    p.add_argument("--data", default=None,
                   help="MODULE:FUNCTION returning labelled test data for --model: (x, y), a list of "
                        "(x, y) batches, or dicts with 'labels'")
    p.add_argument("--chip", default="hermes", help=CHIP_HELP)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512, 1024],
                   help="square array sizes (rows = columns)")
    p.add_argument("--r-wire", type=parse_r_wire, nargs="+", default=[0.0, 0.1, 0.5, 1.5],
                   help="wire resistance per segment, ohm: one value (rows and columns) or row/column")
    p.add_argument("--instances", type=int, default=4, help="programmed Monte Carlo instances per point")
    p.add_argument("--max-loss", type=float, default=0.01,
                   help="accuracy loss allowed vs the digital model, a fraction (0.01 = one point)")
    p.add_argument("--calibrate-when", choices=CALIBRATE_WHEN, default="before",
                   help="calibrate the ADC ranges before programming (from the ideal array, once: a host "
                        "calibrating from the weights) or after it (each programmed instance through its "
                        "wires: an on-chip calibration)")
    p.add_argument("--batch", type=int, default=1, help="inputs streamed through the pipeline (cost)")
    p.add_argument("--epochs", type=int, default=15, help="training epochs of the digits CNN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results", help="folder for arrays.json and arrays.png")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_device_argument(p)


def run_arrays(args: argparse.Namespace) -> int:
    from analogue._util.tables import save_json
    from analogue.cli.map import build_factory_model, load_chip, load_factory
    from analogue.cost.arrays import array_size_study

    args.torch_device = dev = resolve_device(args.device)
    chip = load_chip(args.chip)
    if not chip.is_analog:
        raise ValueError(f"--chip {args.chip}: the chip has no arrays; pick an analog chip")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # fail before any work if the folder cannot be made
    if args.model:
        if not args.data:
            raise ValueError("--model needs --data MODULE:FUNCTION returning labelled test data")
        model = build_factory_model(args.model, args.kwargs).to(dev)
        data = tensors_to(load_factory(args.data)(), dev)
        calibration: object = data
        name = args.model.rsplit(":", 1)[-1]
    else:
        if args.data:
            raise ValueError("--data goes with --model (the digits CNN uses the shipped digits data)")
        from analogue.apps._device import data_to
        from analogue.data.digits import digits_cnn, load_digits, train_classifier

        data = data_to(load_digits(seed=args.seed), dev)
        model = digits_cnn(seed=args.seed).to(dev)
        train_classifier(model, data, epochs=args.epochs, seed=args.seed)
        calibration = data.x_train[:512]
        name = "digits CNN"
    res = array_size_study(model, data, None, chip, sizes=args.sizes, r_wire=args.r_wire,
                           instances=args.instances, max_loss=args.max_loss, batch=args.batch,
                           calibration_data=calibration, calibrate_when=args.calibrate_when, seed=args.seed,
                           progress=progress_arg(args))
    print(f"\n{name} on {chip.name}: accuracy (mean ± std over {args.instances} programmed instances) "
          f"with IR drop, and cost, per array size (calibrated {args.calibrate_when} programming)")
    print(res.summary())
    p1 = save_json(out / "arrays.json", res.to_dict())
    p2 = res.plot(out / "arrays.png", title=f"{name}: accuracy vs array size")
    print(f"saved {p1} and {p2}")
    return 0
