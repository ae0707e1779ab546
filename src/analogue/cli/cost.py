"""``analogue cost [--chip hermes|my_chip.yaml] [--model MODULE:FUNCTION --input-shape 1,3,32,32
[--input-dtype int64]] [--reprogram --inferences-per-write N --inferences-per-s R] [--validate]
[--out DIR]``:
peak figures of a chip and the presets, the claims check, and (with ``--model``) the cost of a
compiled model, with the energy-breakdown and TOPS/W-vs-ADC-bits plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from analogue._util.progress import progress_arg
from analogue.apps.claims import claims_table, preset_chips
from analogue.cli.device import add_device_argument, resolve_device
from analogue.cli.map import CHIP_HELP, add_input_arguments


def add_cost_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chip", default="hermes", help=CHIP_HELP)
    p.add_argument("--model", default=None, help="MODULE:FUNCTION returning an nn.Module")
    add_input_arguments(p, required=False)
    p.add_argument("--kwargs", default="{}", help="JSON keyword arguments for FUNCTION")
    p.add_argument("--batch", type=int, default=1, help="inputs streamed through the pipeline")
    p.add_argument("--replicate", action="store_true", help="copy bottleneck layers")
    p.add_argument("--reprogram", action="store_true", help="time-multiplex when it does not fit")
    p.add_argument("--training", action="store_true", help="also estimate in-memory training")
    p.add_argument("--precision", default="int8", choices=["int8", "fp16"],
                   help="precision of the GPU, CPU and edge-NPU baselines")
    p.add_argument("--inferences-per-write", type=int, default=None,
                   help="with --reprogram: inferences per array write pass (default: the batch)")
    p.add_argument("--inferences-per-s", type=float, default=None,
                   help="with --reprogram: inference rate for the endurance check "
                        "(default: continuously, at the throughput)")
    p.add_argument("--service-life-years", type=float, default=5.0,
                   help="with --reprogram: warn when the arrays wear out sooner")
    p.add_argument("--out", default=None, help="folder for cost.json and the plots")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_device_argument(p)
    p.add_argument("--validate", action="store_true",
                   help="only the validation table: published chips against the model, fitted"
                        " in-sample and leave-one-out (with --out: validation.json and"
                        " validation.png)")


def run_validate(args: argparse.Namespace) -> int:
    """``analogue cost --validate``: the table of ``analogue.cost.validation.validate``."""
    from analogue._util.io import atomic_write_text
    from analogue.cost.plots import plot_validation
    from analogue.cost.validation import report_dict, validate

    r = validate()
    print(r.table())
    if args.out:
        out = Path(args.out)
        p1 = plot_validation(r, out / "validation.png")
        p2 = atomic_write_text(out / "validation.json", json.dumps(report_dict(r), indent=1))
        print(f"saved {p1} and {p2}")
    return 0


def run_cost(args: argparse.Namespace) -> int:
    from analogue._util.io import atomic_write_text
    from analogue.cli.map import load_chip
    from analogue.cost import estimate_cost, estimate_training, peak
    from analogue.cost.plots import plot_energy_breakdown, plot_tops_per_W_vs_adc_bits

    if getattr(args, "validate", False):
        return run_validate(args)
    chip = load_chip(args.chip)
    args.torch_device = dev = resolve_device(args.device)  # the model's (with --model)
    if args.model and not args.input_shape:
        raise ValueError("--model needs --input-shape, e.g. --input-shape 1,3,32,32")
    pk = peak(chip)
    print(pk.table())
    print()
    print("claims check (peak, presets against published figures):")
    print(claims_table())
    result: dict[str, object] = {"peak": pk.to_dict()}
    breakdowns: dict[str, dict[str, float]] = {}
    macs: dict[str, float] = {}
    for ch in preset_chips():
        if ch.is_analog:
            r = peak(ch)
            breakdowns[ch.name] = r.energy_per_mvm_J
            macs[ch.name] = float(r.macs_per_mvm)
    if args.model:
        from analogue.cli.map import build_factory_model, example_input
        from analogue.compile import compile as compile_model

        x = example_input(args).to(dev)
        model = build_factory_model(args.model, args.kwargs).to(dev)
        program = compile_model(
            model, x, chip, replicate=args.replicate, reprogram=args.reprogram, build_model=False,
            progress=progress_arg(args),
        )
        report = estimate_cost(
            program, batch=args.batch, precision=args.precision,
            inferences_per_write=args.inferences_per_write, inferences_per_s=args.inferences_per_s,
            service_life_years=args.service_life_years,
        )
        print()
        print(report.table())
        result["inference"] = report.to_dict()
        label = f"{args.model.rsplit(':', 1)[-1]} on {chip.name}"
        breakdowns[label] = dict(report.energy_breakdown_J)
        macs[label] = float(report.macs)
        if args.training:
            tr = estimate_training(program, batch=args.batch)
            print()
            print(tr.table())
            result["training"] = tr.to_dict()
    if args.out:
        out = Path(args.out)
        p1 = plot_energy_breakdown(breakdowns, out / "energy_breakdown.png", macs=macs)
        analog = [c for c in preset_chips() if c.is_analog]
        p2 = plot_tops_per_W_vs_adc_bits(analog, out / "tops_per_W_vs_adc_bits.png")
        p3 = atomic_write_text(out / "cost.json", json.dumps(result, indent=1, default=str))
        print(f"saved {p1}, {p2} and {p3}")
    return 0
