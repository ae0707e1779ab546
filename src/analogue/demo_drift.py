"""The drift demo: the digits CNN on PCM tiles, accuracy from 1 s to 1 year after programming."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch

from . import presets
from .analysis.drift import DEFAULT_TIMES_S, accuracy_over_time
from .convert import convert_
from .data.digits import digits_cnn, evaluate_accuracy, load_digits, train_classifier
from .lifecycle import calibrate_
from .report import save_json


def run_drift_demo(
    out: Path,
    epochs: int = 15,
    repeats: int = 10,
    seed: int = 0,
    compensation: tuple[str, ...] = ("none", "global"),
    temperature_k: float | None = None,
) -> dict[str, Any]:
    """Train the digits CNN, convert with ``presets.pcm()``, calibrate the ADC ranges, then run
    ``accuracy_over_time`` from 1 s to 1 y; save ``drift.json`` and ``drift.png`` under ``out``."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    data = load_digits(seed=seed)
    model = train_classifier(digits_cnn(seed=seed), data, epochs=epochs, seed=seed)
    acc_digital = evaluate_accuracy(model, data.x_test, data.y_test)
    cfg = presets.pcm()
    analog = convert_(copy.deepcopy(model), cfg, seed=seed)
    calibrate_(analog, data.x_train[:512])
    result = accuracy_over_time(
        analog,
        data,
        DEFAULT_TIMES_S,
        repeats,
        compensation=compensation,
        temperature_k=temperature_k,
        seed=seed,
    )
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": str(out / "drift.json"), "plot": str(out / "drift.png")}
    result.plot(
        paths["plot"],
        title=f"digits CNN on PCM (an.presets.pcm()), {repeats} programming instances",
    )
    summary = {
        "digital_accuracy": acc_digital,
        "analog_before_programming": result.baseline,
        "table": result.table(),
        "result": result.to_dict(),
        "config": cfg.to_dict(),
        "command": f"analogue drift --epochs {epochs} --repeats {repeats} --seed {seed}",
        "seconds": time.perf_counter() - t0,
        "paths": paths,
    }
    save_json(paths["json"], summary)
    return summary


# -- the `analogue drift` command (registered in cli.COMMANDS) -----------------------------------
def add_drift_arguments(p: Any) -> None:
    p.add_argument("--out", default="results", help="folder for drift.json and drift.png")
    p.add_argument("--epochs", type=int, default=15, help="training epochs of the digital CNN")
    p.add_argument("--repeats", type=int, default=10, help="programming instances (Monte Carlo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--compensation",
        nargs="+",
        default=["none", "global"],
        choices=["none", "global", "column"],
        help="drift compensation modes to compare",
    )
    p.add_argument(
        "--temperature-k",
        type=float,
        default=None,
        help="temperature the arrays are held at, kelvin (default: the device reference, 300 K)",
    )


def run_drift(args: Any) -> int:
    from .report import print_table

    res = run_drift_demo(
        Path(args.out),
        epochs=args.epochs,
        repeats=args.repeats,
        seed=args.seed,
        compensation=tuple(args.compensation),
        temperature_k=args.temperature_k,
    )
    print(
        f"digits CNN: digital {100 * res['digital_accuracy']:.2f} %, analog PCM before programming "
        f"{100 * res['analog_before_programming']:.2f} %"
    )
    print_table(
        f"Accuracy over time after programming ({args.repeats} instances, mean and 95 % CI)",
        res["table"],
    )
    print(f"saved {res['paths']['json']} and {res['paths']['plot']}")
    return 0


__all__ = ["add_drift_arguments", "run_drift", "run_drift_demo"]
