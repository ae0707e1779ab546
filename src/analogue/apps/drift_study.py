"""The drift demo: the digits CNN on PCM tiles, accuracy from 1 s to 1 year after programming."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch

from analogue._util.progress import Progress, progress_enabled
from analogue._util.tables import save_json
from analogue.analysis.drift import DEFAULT_TIMES_S, accuracy_over_time
from analogue.apps._device import as_device, data_to
from analogue.config import presets
from analogue.data.digits import digits_cnn, evaluate_accuracy, load_digits, train_classifier
from analogue.lifecycle.calibrate import calibrate_
from analogue.lifecycle.convert import convert_


def run_drift_demo(
    out: Path,
    epochs: int = 15,
    repeats: int = 10,
    seed: int = 0,
    compensation: tuple[str, ...] = ("none", "global"),
    temperature_k: float | None = None,
    progress: Progress = None,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Train the digits CNN, convert with ``presets.pcm()``, calibrate the ADC ranges, then run
    ``accuracy_over_time`` from 1 s to 1 y; save ``drift.json`` and ``drift.png`` under ``out``.
    ``progress``: a training bar (``None``: on a terminal). ``device``: the torch device of the
    CNN, its data and the programmed PCM twins."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    dev = as_device(device)
    data = data_to(load_digits(seed=seed), dev)
    bar = tqdm(total=epochs, desc="training digits CNN", disable=not progress_enabled(progress), unit="epoch")
    model = train_classifier(digits_cnn(seed=seed).to(dev), data, epochs=epochs, seed=seed,
                             progress=lambda _epoch, _loss: bar.update(1))
    bar.close()
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
        progress=progress,
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


__all__ = ["run_drift_demo"]
