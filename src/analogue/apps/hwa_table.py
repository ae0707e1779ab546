"""The hardware-aware training table: digital, plain analog, HWA analog and HWA + hybrid over time.

``run_hwa_table`` trains the digits CNN as ``docs/examples/digits_hwa.yaml`` says (digital pretraining,
then hardware-aware training on ``presets.pcm()``), then evaluates, over ``repeats`` programming
instances with global drift compensation, at 1 s / 1 h / 1 d / 1 y after programming:

- digital: the model before conversion (no programming, no drift);
- plain analog: the digital model converted and calibrated, no HWA;
- HWA analog: the HWA-trained model;
- HWA + hybrid: the HWA-trained model with the layers ``plan_hybrid`` picks (from a per-layer
  sensitivity analysis at 1 d, under a MAC budget) on an int8 digital unit. The sensitivity
  metric is the relative output error: the HWA model's accuracy and loss barely move when one
  layer alone is analog, so they cannot rank the layers.

``analogue hwa-table`` prints the table (the one in the README) and saves ``hwa_table.json``.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analogue._util.progress import Progress
from analogue._util.tables import save_json
from analogue.analysis.drift import SECONDS, accuracy_over_time
from analogue.analysis.hybrid import HybridPlan, plan_hybrid
from analogue.analysis.sensitivity import sensitivity
from analogue.apps._device import as_device, data_to
from analogue.apps.train_config import TrainConfig
from analogue.apps.training import build_data, evaluate, run_training
from analogue.lifecycle.calibrate import calibrate_
from analogue.lifecycle.convert import convert_, to_digital_
from analogue.nn.int8 import quantize_int8_

TABLE_TIMES = ("1 s", "1 h", "1 d", "1 y")

logger = logging.getLogger(__name__)


def digits_hwa_config() -> TrainConfig:
    """The recipe of ``docs/examples/digits_hwa.yaml`` (a test keeps the two identical)."""
    return TrainConfig.from_dict({
        "model": {"name": "digits_cnn"},
        "data": {"name": "digits", "batch_size": 64},
        "pretrain": {"epochs": 30, "optimizer": {"name": "adam", "lr": 3.0e-3}},
        "analog": {"preset": "pcm"},
        "hwa": {"device_noise_scale": 3.0, "clip_weights_sigma": 2.5, "distill_alpha": 0.5,
                "distill_T": 2.0},
        "optimizer": {"name": "adam", "lr": 1.0e-3, "schedule": "cosine"},
        "epochs": 40,
        "seed": 0,
    })


def _recalibrate_(model: nn.Module, x: Any, learned: bool) -> nn.Module:
    """ADC ranges (and non-learned input ranges) for the weights as trained."""
    return calibrate_(model, x, inputs=not learned)


def run_hwa_table(
    cfg: TrainConfig | None = None,
    out: str | Path | None = "results",
    *,
    repeats: int = 10,
    min_analog_mac_fraction: float = 0.95,
    seed: int = 0,
    progress: Progress = None,
    log: Callable[[str], None] | None = None,
    trust_code: bool = False,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Train, evaluate the four variants over time, return (and save under ``out``) the table.

    Accuracies are in percent, mean and standard deviation over ``repeats`` programming
    instances (global drift compensation). ``progress``: bars (``None``: on a terminal);
    ``log``: receives progress lines (default: this module's logger); ``trust_code``: as in
    ``run_training``; ``device``: the torch device of the models and their data.
    """
    dev = as_device(device)
    say = log or logger.info
    cfg = digits_hwa_config() if cfg is None else cfg
    acfg = cfg.analog.build()
    if acfg is None:
        raise ValueError("hwa-table: the config must convert the model (analog.preset is null)")
    t0 = time.perf_counter()
    trained = run_training(cfg, progress=progress, log=say, trust_code=trust_code, device=dev)
    data = data_to(build_data(cfg, trust_code=trust_code), dev)
    x_cal = data.x_train[:512]
    digital = trained.digital
    assert digital is not None
    times = [SECONDS[t] for t in TABLE_TIMES]
    learned = acfg.dac.range_policy == "learned"

    plain = convert_(copy.deepcopy(digital), acfg, seed=seed)
    calibrate_(plain, x_cal)
    hwa = _recalibrate_(copy.deepcopy(trained.model), x_cal, learned)

    say("per-layer sensitivity of the HWA model at 1 d ...")
    sens = sensitivity(to_digital_(copy.deepcopy(hwa)), data.x_test, acfg, metric="output_error",
                       n_seeds=repeats, t_s=SECONDS["1 d"], seed=seed, progress=progress)
    plan = plan_hybrid(sens, min_analog_mac_fraction=min_analog_mac_fraction)
    hybrid = convert_(copy.deepcopy(hwa), acfg, rules=plan.rules or None, seed=seed)
    if plan.digital:
        quantize_int8_(hybrid, plan.digital)

    variants = {"plain analog": plain, "HWA analog": hwa, "HWA + hybrid": hybrid}
    acc_digital = 100.0 * evaluate(digital, (data.x_test, data.y_test))["accuracy"]
    rows: list[dict[str, Any]] = [{"model": "digital", **{t: f"{acc_digital:.2f}" for t in TABLE_TIMES}}]
    raw: dict[str, Any] = {"digital": acc_digital}
    for name, model in variants.items():
        say(f"{name}: {repeats} programming instances x {len(times)} times ...")
        res = accuracy_over_time(model, (data.x_test, data.y_test), times, repeats,
                                 compensation=("global",), seed=seed, progress=progress)
        row: dict[str, Any] = {"model": name}
        for label, t in zip(TABLE_TIMES, times):
            p = res.point(t, "global")
            row[label] = f"{100 * p.mean:.2f} +- {100 * p.std:.2f}"
        rows.append(row)
        raw[name] = {label: {"mean": 100 * res.point(t, "global").mean, "std": 100 * res.point(t, "global").std}
                     for label, t in zip(TABLE_TIMES, times)}
    result = {
        "table": rows,
        "accuracy": raw,
        "hybrid": _plan_summary(plan),
        "sensitivity": sens.table(),
        "train_history": trained.history,
        "config": cfg.to_dict(),
        "repeats": repeats,
        "command": "analogue hwa-table",
        "seconds": time.perf_counter() - t0,
    }
    if out is not None:
        result["path"] = str(save_json(Path(out) / "hwa_table.json", result))
    return result


def _plan_summary(plan: HybridPlan) -> dict[str, Any]:
    return {"digital_layers": list(plan.digital), "analog_mac_fraction": plan.analog_mac_fraction,
            "min_analog_mac_fraction": plan.min_analog_mac_fraction, "table": plan.table()}
