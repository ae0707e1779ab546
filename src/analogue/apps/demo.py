"""The one-command demo: a CNN on the digits data, digital against simulated analog tiles."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch

from analogue._util.progress import Progress, progress_enabled
from analogue._util.tables import save_figure, save_json
from analogue.analysis.mvm import mvm_error_table
from analogue.apps._device import as_device, data_to
from analogue.config import presets
from analogue.data.digits import digits_cnn, evaluate_accuracy, load_digits, train_classifier
from analogue.lifecycle.calibrate import calibrate_
from analogue.lifecycle.convert import convert_


def run_demo(out: Path, epochs: int = 15, seed: int = 0, progress: Progress = None,
             device: torch.device | str = "cpu") -> dict[str, Any]:
    """Train, convert with ``presets.standard()``, evaluate, measure MVM error; save JSON + plot.
    ``progress``: a training bar (``None``: on a terminal). ``device``: the torch device of the
    CNN, its data and its analog twins (the one-tile MVM error table stays on the CPU)."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)  # fail before training if the folder cannot be made
    torch.manual_seed(seed)
    dev = as_device(device)
    data = data_to(load_digits(seed=seed), dev)
    model = digits_cnn(seed=seed).to(dev)
    bar = tqdm(total=epochs, desc="training digits CNN", disable=not progress_enabled(progress), unit="epoch")

    def on_epoch(epoch: int, loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.3f}")
        bar.update(1)

    train_classifier(model, data, epochs=epochs, seed=seed, progress=on_epoch)
    bar.close()
    acc_digital = evaluate_accuracy(model, data.x_test, data.y_test)

    cfg = presets.standard()
    analog = convert_(copy.deepcopy(model), cfg, seed=seed)
    acc_analog = evaluate_accuracy(analog, data.x_test, data.y_test)
    calibrated = convert_(copy.deepcopy(model), cfg, seed=seed)
    calibrate_(calibrated, data.x_train[:512])
    acc_cal = evaluate_accuracy(calibrated, data.x_test, data.y_test)
    low = cfg.replace(**{"dac.bits": 4, "adc.bits": 4})
    coarse = convert_(copy.deepcopy(model), low, seed=seed)
    calibrate_(coarse, data.x_train[:512])
    acc_low = evaluate_accuracy(coarse, data.x_test, data.y_test)

    accuracy_table = [
        {"model": "digital (float32)", "test accuracy %": 100 * acc_digital, "drop (points)": 0.0},
        {"model": "analog standard()", "test accuracy %": 100 * acc_analog,
         "drop (points)": 100 * (acc_digital - acc_analog)},
        {"model": "analog standard() + ADC calibration", "test accuracy %": 100 * acc_cal,
         "drop (points)": 100 * (acc_digital - acc_cal)},
        {"model": "analog, 4-bit DAC/ADC + calibration", "test accuracy %": 100 * acc_low,
         "drop (points)": 100 * (acc_digital - acc_low)},
    ]
    mvm_rows = mvm_error_table(
        {"quantized 8/8-bit": presets.quantized(), "standard (8/8-bit + noise)": cfg},
        rows=256, cols=256, n_vectors=500, seed=seed,
    )
    mvm_table = [
        {"config": r["config"], "ADC calibrated": r["calibrated"], "mean %": 100 * r["mean"],
         "worst %": 100 * r["worst"], "worst < 1 %": r["meets_1pct"]}
        for r in mvm_rows
    ]
    paths = {"json": str(out / "results.json"), "plot": str(out / "demo.png")}
    _plot(accuracy_table, mvm_table, Path(paths["plot"]))
    result = {
        "accuracy_table": accuracy_table,
        "mvm_table": mvm_table,
        "config": cfg.to_dict(),
        "seconds": time.perf_counter() - t0,
        "paths": paths,
    }
    save_json(paths["json"], result)
    return result


def _plot(acc_rows: list[dict], mvm_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r["model"] for r in acc_rows]
    a1.barh(names, [r["test accuracy %"] for r in acc_rows], color=["#555", "#c44", "#4a4", "#c84"])
    a1.set_xlim(min(r["test accuracy %"] for r in acc_rows) - 5, 100)
    a1.set_xlabel("test accuracy (%)")
    a1.set_title("digits CNN")
    labels = [f"{r['config'].split(' ')[0]}\n{'calibrated' if r['ADC calibrated'] else 'default range'}"
              for r in mvm_rows]
    a2.bar(range(len(mvm_rows)), [r["worst %"] for r in mvm_rows], label="worst case")
    a2.bar(range(len(mvm_rows)), [r["mean %"] for r in mvm_rows], label="mean")
    a2.axhline(1.0, color="k", ls="--", lw=1, label="1 % of full scale")
    a2.set_xticks(range(len(mvm_rows)), labels, fontsize=8)
    a2.set_yscale("log")
    a2.set_ylabel("MVM error (% of full-scale output)")
    a2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
