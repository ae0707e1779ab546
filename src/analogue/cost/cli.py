"""``analogue cost [--chip hermes] [--model MODULE:FUNCTION --input-shape 1,3,32,32] [--out DIR]``:
peak figures of a chip and the presets, the claims check, and (with ``--model``) the cost of a
compiled model, with the energy-breakdown and TOPS/W-vs-ADC-bits plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from analogue.cost.claims import claims_table, preset_chips


def add_cost_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--chip",
        default="hermes",
        help="chip preset: hermes, hermes-4phase, mythic_m1076, neurram, "
        "neurram-8b_out_6b_in, sram_cim, gpu_a100",
    )
    p.add_argument("--model", default=None, help="MODULE:FUNCTION returning an nn.Module")
    p.add_argument("--input-shape", default=None, help="example input shape, e.g. 1,3,32,32")
    p.add_argument("--kwargs", default="{}", help="JSON keyword arguments for FUNCTION")
    p.add_argument("--batch", type=int, default=1, help="inputs streamed through the pipeline")
    p.add_argument("--replicate", action="store_true", help="copy bottleneck layers")
    p.add_argument("--reprogram", action="store_true", help="time-multiplex when it does not fit")
    p.add_argument("--training", action="store_true", help="also estimate in-memory training")
    p.add_argument("--out", default=None, help="folder for cost.json and the plots")


def run_cost(args: argparse.Namespace) -> int:
    from analogue import chips
    from analogue.config import atomic_write_text
    from analogue.cost import estimate_cost, estimate_training, peak
    from analogue.cost.plots import plot_energy_breakdown, plot_tops_per_W_vs_adc_bits

    chip = chips.get(args.chip)
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
        if not args.input_shape:
            raise ValueError("--model needs --input-shape, e.g. --input-shape 1,3,32,32")
        import torch

        from analogue.compile import compile as compile_model
        from analogue.compile.cli import load_factory, parse_shape

        kwargs = json.loads(args.kwargs)
        if not isinstance(kwargs, dict):
            raise ValueError(f"--kwargs {args.kwargs!r}: must be a JSON object")
        model = load_factory(args.model)(**kwargs)
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{args.model} returned {type(model).__name__}, not an nn.Module")
        model.eval()
        x = torch.randn(parse_shape(args.input_shape), generator=torch.Generator().manual_seed(0))
        program = compile_model(
            model, x, chip, replicate=args.replicate, reprogram=args.reprogram, build_model=False
        )
        report = estimate_cost(program, batch=args.batch)
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
