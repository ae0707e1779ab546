"""``analogue train --in-memory``: an MLP on the digits trained fully in memory, per algorithm.

Every ``AnalogLinear`` runs its forward and its backward (transposed read) on simulated tiles and
is updated only by pulses of the chosen device (default: the asymmetric RRAM-like preset); the
biases are digital (``torch.optim.SGD``). The table shows test accuracy per epoch for each
algorithm, next to the same MLP trained digitally with plain SGD.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analogue.apps._device import as_device, data_to
from analogue.config import AnalogConfig, presets
from analogue.config.pulsed import DEVICE_PRESETS, BackwardConfig, PulsedDevice
from analogue.data.digits import DigitsData, evaluate_accuracy, load_digits
from analogue.lifecycle.convert import convert_
from analogue.train.inmemory.optimizers import (
    ALGORITHMS,
    OPTIMIZERS,
    InMemoryOptimizer,
    digital_parameters,
)

logger = logging.getLogger(__name__)

HIDDEN = (128,)
"""Hidden widths of the demo MLP (64 inputs, 10 classes)."""

DEFAULTS: dict[str, dict[str, Any]] = {
    # learning rates in weight units (Tiki-Taka: of the fast array); the arrays' range is
    # +-max|W_init| / 0.15 (the optimizers' default init_fraction)
    "digital": {"lr": 0.3},
    "sgd": {"lr": 0.1, "bias_lr": 0.1},
    "mixed": {"lr": 0.2, "bias_lr": 0.1},
    "tikitaka": {"lr": 2.0, "transfer_lr": 0.1, "columns_per_transfer": 4, "bias_lr": 0.1},
}
"""Per-algorithm hyperparameters of the demo (batch 16, learning rates x0.85 per epoch), each
picked from a small sweep on seeds 0-2 (plain analog SGD: its best of lr 0.05, 0.1, 0.2);
``bias_lr``: the digital biases' SGD learning rate."""
LR_DECAY = 0.85


def digits_mlp(hidden: tuple[int, ...] = HIDDEN, seed: int = 0) -> nn.Sequential:
    """``64 -> hidden... -> 10`` with ReLUs (plain torch layers; convert them for analog)."""
    sizes = (64, *hidden, 10)
    mods: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):  # seeded initialisation, global RNG untouched
        torch.manual_seed(seed)
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            mods.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def train_digits(algorithm: str, *, device: PulsedDevice | None = None, epochs: int = 10,
                 batch_size: int = 16, seed: int = 0, cfg: AnalogConfig | None = None,
                 backward: BackwardConfig | bool | None = None, data: DigitsData | None = None,
                 hidden: tuple[int, ...] = HIDDEN, lr_decay: float = LR_DECAY,
                 torch_device: torch.device | str = "cpu", **overrides: Any) -> dict[str, Any]:
    """Train the digits MLP with ``algorithm`` (``"digital"`` or one of ``ALGORITHMS``).

    Analog runs use ``cfg`` (default ``presets.standard()``) for the forward, ``backward``
    (default ``None``: the same converters and noise as the forward; ``False``: the exact
    ``g @ W^T``) for the transposed read and ``device``
    (default ``rram_asymmetric()``) for every array. Returns per-epoch test accuracy and loss,
    the wall time and the optimizer's work counters. ``lr_decay``: factor on every learning rate
    after each epoch. ``torch_device``: the torch device of the model and its data (``device`` is
    the pulsed device model).
    """
    if algorithm != "digital" and algorithm not in ALGORITHMS:
        raise ValueError(f"train_digits: algorithm must be 'digital' or one of {ALGORITHMS}, got {algorithm!r}")
    tdev = as_device(torch_device)
    data = data_to(data or load_digits(flat=True, seed=0), tdev)
    model = digits_mlp(hidden, seed).to(tdev)
    hp = {**DEFAULTS[algorithm], **overrides}
    lr = hp.pop("lr")
    bias_lr = hp.pop("bias_lr", lr)
    opt: InMemoryOptimizer | None = None
    if algorithm == "digital":
        dig = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        cfg = cfg or presets.standard()
        convert_(model, cfg, seed=seed)
        device = device or DEVICE_PRESETS["rram"]()
        if backward is None or backward is True:
            backward = BackwardConfig.like_forward(cfg)
        elif backward is False:
            backward = None
        opt = OPTIMIZERS[algorithm](model, device, lr, backward=backward, seed=seed, **hp)
        dig = torch.optim.SGD(list(digital_parameters(model)), lr=bias_lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    accuracy: list[float] = []
    losses: list[float] = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for xb, yb in data.batches(batch_size, gen):
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if opt is not None:
                opt.step()
                opt.zero_grad()
            dig.step()
            dig.zero_grad(set_to_none=True)
            total += float(loss.detach()) * len(xb)
            count += len(xb)
        losses.append(total / count)
        for o in (opt, dig):
            for group in o.param_groups if o is not None else ():
                group["lr"] *= lr_decay
        accuracy.append(evaluate_accuracy(model, data.x_test, data.y_test))
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {"algorithm": algorithm, "accuracy": accuracy, "loss": losses,
                           "seconds": seconds, "hyperparameters": {"lr": lr, "bias_lr": bias_lr, **hp,
                                               "batch_size": batch_size, "lr_decay": lr_decay}}
    if opt is not None:
        out["work"] = opt.stats
        out["device"] = opt.device_model.to_dict()
        opt.close()
    return out


# -- energy --------------------------------------------------------------------------------------
def training_energy(result: dict[str, Any], hidden: tuple[int, ...] = HIDDEN, batch_size: int = 16,
                    device_kind: str = "rram") -> dict[str, Any] | None:
    """Energy of an in-memory training run from the cost model (``analogue.cost.estimate_training``)
    with the pulses actually applied: the digits MLP compiled onto NeuRRAM (RRAM devices; HERMES for
    PCM-like devices); per sample forward and backward as the cost model counts them, plus the
    measured device pulses at the chip device's energy per pulse. ``None`` if the cost model is
    unavailable. The pulses include Tiki-Taka's fast array; its column reads are not counted (they
    are one one-hot MVM per read column, a small part)."""
    try:
        from analogue.compile import compile as an_compile
        from analogue.config import chips
        from analogue.cost import constants as cost_constants
        from analogue.cost import estimate_training
    except ImportError:
        return None
    chip = chips.hermes() if device_kind == "pcm_like" else chips.neurram()
    program = an_compile(digits_mlp(hidden), torch.zeros(1, 64), chip=chip, build_model=False)
    rep = estimate_training(program, batch=batch_size, pulses_per_update=1)
    work = result["work"]
    samples = work["samples"]
    pulse_j = cost_constants.DEVICES[chip.device]["pulse_J"]
    pulses_per_sample = work["device_pulses"] / max(samples, 1.0)
    per_sample = rep.energy_J - rep.energy_breakdown_J["update"] + pulses_per_sample * pulse_j
    return {"chip": chip.name, "energy_per_sample_J": per_sample, "energy_total_J": per_sample * samples,
            "update_energy_per_sample_J": pulses_per_sample * pulse_j,
            "pulses_per_sample": pulses_per_sample, "pulse_J": pulse_j, "samples": samples}


def run_inmemory_demo(algorithms: list[str], *, epochs: int = 10, device: str = "rram", seed: int = 0,
                      out: Path | None = None, log: Callable[[str], None] | None = None,
                      torch_device: torch.device | str = "cpu") -> dict[str, Any]:
    """Train the digits MLP with each of ``algorithms`` (plus digital SGD) and collect the table,
    the energy estimates and (with ``out``) ``inmemory.json`` and ``inmemory.png``. ``log``
    receives one line per algorithm (default: this module's logger). ``device``: the pulsed
    device preset; ``torch_device``: the torch device the MLPs and the data live on."""
    log = log or logger.info
    if device not in DEVICE_PRESETS:
        raise ValueError(f"train --in-memory: unknown device {device!r}; use one of {sorted(DEVICE_PRESETS)}")
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"train --in-memory: --epochs must be >= 1, got {epochs!r}")
    dev = DEVICE_PRESETS[device]()
    tdev = as_device(torch_device)
    data = data_to(load_digits(flat=True, seed=0), tdev)
    runs: dict[str, dict[str, Any]] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # layers this small run fastest on one thread; restored below
    try:
        for name in ["digital", *algorithms]:
            log(f"training {name} ...")
            runs[name] = train_digits(name, device=dev, epochs=epochs, seed=seed, data=data, torch_device=tdev)
            if name != "digital":
                runs[name]["energy"] = training_energy(runs[name], device_kind=dev.kind)
    finally:
        torch.set_num_threads(threads)
    table = [{"epoch": e + 1, **{n: 100 * r["accuracy"][e] for n, r in runs.items()}} for e in range(epochs)]
    summary = []
    for n, r in runs.items():
        en = r.get("energy")
        summary.append({
            "algorithm": n, "final test acc %": 100 * r["accuracy"][-1], "best %": 100 * max(r["accuracy"]),
            "train s": r["seconds"],
            "pulses/sample": en["pulses_per_sample"] if en else float("nan"),
            "energy/sample uJ": 1e6 * en["energy_per_sample_J"] if en else float("nan"),
            "run energy mJ": 1e3 * en["energy_total_J"] if en else float("nan"),
        })
    result = {"device": dev.to_dict(), "device_preset": device, "epochs": epochs, "seed": seed,
              "hidden": list(HIDDEN), "table": table, "summary": summary, "runs": runs}
    if out is not None:
        from analogue._util.tables import save_json

        out.mkdir(parents=True, exist_ok=True)
        result["paths"] = {"json": str(out / "inmemory.json"), "plot": str(out / "inmemory.png")}
        _plot(runs, Path(result["paths"]["plot"]), device)
        save_json(result["paths"]["json"], result)
    return result


def _plot(runs: dict[str, dict[str, Any]], path: Path, device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analogue._util.tables import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    for n, r in runs.items():
        acc = [100 * a for a in r["accuracy"]]
        ax.plot(range(1, len(acc) + 1), acc, marker="o", label=n, linestyle="--" if n == "digital" else "-")
    ax.axhline(94, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy %")
    ax.set_title(f"Digits MLP trained in memory ({device} device)")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, path)
    plt.close(fig)
