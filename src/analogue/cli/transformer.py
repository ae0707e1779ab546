"""``analogue transformer`` (registered in ``cli.COMMANDS``): the pretrained MiniLM sentence encoder
and a GPT-2-class LM, digital vs analog, before and after HWA fine-tuning, with compile and cost
(``analogue.apps.transformers``)."""

from __future__ import annotations

import argparse
import sys

from analogue._util.tables import print_table
from analogue.cli.device import add_device_argument, resolve_device


def add_transformer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=300,
                   help="HWA fine-tuning steps of the encoder (0: the table before fine-tuning only)")
    p.add_argument("--batch-size", type=int, default=16, help="sentences per fine-tuning step")
    p.add_argument("--lr", type=float, default=2e-4,
                   help="peak AdamW learning rate of the fine-tuning (warm-up, then cosine decay)")
    p.add_argument("--lm-steps", type=int, default=300, help="digital training steps of the GPT-2-class LM")
    p.add_argument("--lm-hwa-steps", type=int, default=150, help="HWA fine-tuning steps of the LM")
    p.add_argument("--no-lm", action="store_true", help="skip the language-model table")
    p.add_argument("--no-cost", action="store_true", help="skip compile and cost on HERMES and Mythic")
    p.add_argument("--digital", default="",
                   help="comma-separated module names or 're:' patterns of encoder layers kept digital (int8): "
                        "extra rows 'pcm() 1 d/1 y, N digital' beside the all-analog ones")
    p.add_argument("--devices-per-weight", type=int, default=1,
                   help="extra rows with this many PCM devices per weight (HERMES: 4); 1: none")
    p.add_argument("--correction", choices=("affine", "none"), default="affine",
                   help="affine: extra rows 'pcm() 1 h/1 d/1 y, affine' with a per-output gain and offset fitted "
                        "on the calibration sentences after the global drift compensation (an.calibrate_outputs_); "
                        "none: without those rows")
    p.add_argument("--instances", type=int, default=1,
                   help="programming instances (seeds seed, seed+1, ...) per encoder row: mean +- std")
    p.add_argument("--seed", type=int, default=0)
    add_device_argument(p)


def mean_std_cells(rows: list[dict]) -> list[dict]:
    """Rows with ``<score>`` and ``<score>_std`` shown as one cell ``"mean +- std"`` (4 decimals);
    rows without ``_std`` entries as they are."""
    out = []
    for row in rows:
        cells = {}
        for k, v in row.items():
            if k.endswith("_std") and k[:-4] in row:
                continue
            std = row.get(f"{k}_std")
            cells[k] = v if std is None else f"{v:.4f} +- {std:.4f}"
        out.append(cells)
    return out


def run_transformer_cli(args: argparse.Namespace) -> int:
    from analogue.apps.transformers import run_transformers

    device = resolve_device(args.device)
    for name in ("steps", "lm_steps", "lm_hwa_steps"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.devices_per_weight < 1:
        raise ValueError(f"--devices-per-weight must be >= 1, got {args.devices_per_weight}")
    if args.instances < 1:
        raise ValueError(f"--instances must be >= 1, got {args.instances}")
    digital = tuple(d.strip() for d in args.digital.split(",") if d.strip())
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")

    def on_step(step: int, loss: float) -> None:
        if step % 20 == 0 or step == args.steps - 1:
            print(f"  HWA step {step + 1}/{args.steps}: loss {loss:.4f}", file=sys.stderr, flush=True)

    res = run_transformers(steps=args.steps, batch_size=args.batch_size, lr=args.lr, lm_steps=args.lm_steps,
                           lm_hwa_steps=args.lm_hwa_steps, seed=args.seed, cost=not args.no_cost,
                           lm=not args.no_lm, on_step=on_step, device=device, digital=digital,
                           devices_per_weight=args.devices_per_weight, correction=args.correction,
                           instances=args.instances)
    over = f" (mean +- std over {args.instances} programming instances)" if args.instances > 1 else ""
    print_table(f"all-MiniLM-L6-v2 on analog hardware: 80 graded sentence pairs{over}", mean_std_cells(res["before"]))
    if "after" in res:
        print_table(f"After HWA fine-tuning ({args.steps} steps of distillation at pcm() 1 y, "
                    f"{res['hwa_seconds']:.0f} s){over}", mean_std_cells(res["after"]))
    if "cost" in res:
        print_table("Compile and cost per 32-token sentence", res["cost"])
    if "lm" in res:
        print_table(f"GPT-2-class LM (4 x 256, vocabulary {res['lm']['vocab']}): perplexity on held-out text",
                    res["lm"]["rows"])
    return 0
