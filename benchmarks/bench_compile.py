"""How long does ``an.compile`` take, next to a PyTorch forward pass and a bare ``torch.export``?

Target (issue 5): compiling a ResNet-18-sized model takes under 10 s on CPU.

    python benchmarks/bench_compile.py [--repeats 3] [--bert-base] [--device cuda]

``--device``: the models and example inputs are moved there before capture, and each timing ends
with the device synchronised.

Prints a markdown table: per model and chip, the best of ``repeats`` wall times of
- ``forward``: one plain PyTorch forward on the example input (reference),
- ``export``: ``torch.export.export`` alone (the capture's floor),
- ``compile``: ``an.compile(..., build_model=False)`` (capture + partition + placement),
- ``+ model``: ``an.compile(...)`` including the converted executable model,
and the ratio of ``compile`` to ``forward`` (each timed after one warm-up call).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import add_device_argument, best_time, on_device, resolve_device  # noqa: E402

import analogue as an  # noqa: E402
from analogue import chips  # noqa: E402
from analogue.data.models import resnet18_like, tiny_transformer_encoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--bert-base", action="store_true", help="also BERT-base (110 M params, seq 128)"
    )
    add_device_argument(ap)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    torch.manual_seed(0)
    cases = [
        (
            "ResNet-18 (224x224)",
            resnet18_like(1000).eval(),
            torch.randn(1, 3, 224, 224),
            chips.mythic_m1076(),
            {},
        ),
        (
            "ResNet-18 (224x224)",
            resnet18_like(1000).eval(),
            torch.randn(1, 3, 224, 224),
            chips.hermes(),
            {"reprogram": True},
        ),
        (
            "ResNet-18 (224x224)",
            resnet18_like(1000).eval(),
            torch.randn(1, 3, 224, 224),
            chips.mythic_m1076(),
            {"replicate": True},
        ),
        (
            "BERT 4L/256 (seq 128)",
            tiny_transformer_encoder(
                vocab_size=30522,
                hidden_size=256,
                num_layers=4,
                num_heads=4,
                intermediate_size=1024,
                max_positions=512,
            ),
            torch.randint(0, 30522, (1, 128)),
            chips.hermes(),
            {},
        ),
    ]
    if args.bert_base:
        cases.append(
            (
                "BERT-base (seq 128)",
                tiny_transformer_encoder(
                    vocab_size=30522,
                    hidden_size=768,
                    num_layers=12,
                    num_heads=12,
                    intermediate_size=3072,
                    max_positions=512,
                ),
                torch.randint(0, 30522, (1, 128)),
                chips.hermes(),
                {"reprogram": True},
            )
        )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats}\n")
    print(
        "| model | chip | options | forward s | export s | compile s | + model s"
        " | compile / forward |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, model, x, chip, opts in cases:
        model, x = model.to(dev), x.to(dev)
        with torch.no_grad():
            t_fwd = best_time(on_device(lambda: model(x), dev), args.repeats)
        t_exp = best_time(
            on_device(lambda: torch.export.export(model, (x,), strict=False), dev), args.repeats
        )
        t_cmp = best_time(
            on_device(lambda: an.compile(model, x, chip, build_model=False, **opts), dev),
            args.repeats,
        )
        t_all = best_time(on_device(lambda: an.compile(model, x, chip, **opts), dev), args.repeats)
        opt = ", ".join(k for k, v in opts.items() if v) or "-"
        print(
            f"| {name} | {chip.name} | {opt} | {t_fwd:.3f} | {t_exp:.3f} | {t_cmp:.3f} |"
            f" {t_all:.3f} | {t_cmp / t_fwd:.1f}x |"
        )


if __name__ == "__main__":
    main()
