"""``analogue continual``: continual learning on a battery.

A stream of tasks learned one after the other by the digits MLP (64-128-10) trained in memory
(``MixedPrecision`` or ``TikiTaka`` over ``AnalogLinear``, RRAM-like pulsed devices), against
digital fine-tuning on an edge CPU and against freezing the model after the first task:

- ``split``: five tasks of two digits each (0/1, 2/3, ...), task-incremental (the output is
  restricted to the task's two classes, as in Lopez-Paz & Ranzato 2017's split benchmarks);
- ``permuted``: four tasks of all ten digits, each under its own fixed pixel permutation (task 0
  the identity);
- ``rotated``: four tasks of all ten digits rotated by 0, 90, 180 and 270 degrees (exact on the
  8x8 grid).

After each task every task's test accuracy is measured: ``R[i, j]`` = accuracy on task ``j``
after learning task ``i``. Metrics (:func:`continual_metrics`): average accuracy, backward and
forward transfer (Lopez-Paz & Ranzato, NeurIPS 2017) and forgetting (Chaudhry et al., ECCV 2018).
Energy per update (one mini-batch of 16): the forward and backward reads from the cost model
(``analogue.cost.estimate_training`` on NeuRRAM) plus the pulsed update
(``analogue.cost.edge.pulsed_update_energy_J``) with the pulses the optimizer actually applied;
an energy budget per update bounds the energy each pulsed update spends (pulses plus periphery). Digital fine-tuning: 3x the forward MACs
per sample on an edge CPU (``analogue.cost.edge.digital_update_energy_J``).

``data="mnist5k"`` runs the streams on 28x28 MNIST-5k (a 784-128-10 MLP). ``li2022_comparison``
sets the split stream against Li et al. 2022's RRAM chip, with mixed-precision pulsed updates or
with that paper's scheme (``learner="mpcl"``: low-precision weights programmed from a digital copy,
:class:`ProgrammedLinear`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue.apps._device import as_device
from analogue.apps.inmemory_study import digits_mlp
from analogue.config import presets
from analogue.config.pulsed import (
    DEVICE_PRESETS,
    BackwardConfig,
    PCMLikeDevice,
    ProgrammedWeights,
    PulsedDevice,
    rram_li2022_programmed,
)
from analogue.cost import constants as cost_constants
from analogue.cost import edge
from analogue.data.digits import DigitsData, load_digits
from analogue.data.mnist import load_mnist5k
from analogue.lifecycle.convert import convert_
from analogue.train.inmemory.optimizers import OPTIMIZERS, digital_parameters

logger = logging.getLogger(__name__)

STREAMS = ("split", "permuted", "rotated")
LEARNERS = ("analog", "digital", "frozen")
"""The learners of the study; ``run_stream`` also takes ``"mpcl"`` (programmed low-precision weights)."""
DATASETS = ("digits", "mnist5k")
HP = {"mixed": {"lr": 0.2}, "tikitaka": {"lr": 2.0, "transfer_lr": 0.1, "columns_per_transfer": 4}}
BIAS_LR = 0.1
DIGITAL_LR = 0.1
BATCH = 16
NODE_NM = 130.0
"""The update periphery's node: NeuRRAM's (RRAM arrays; ``analogue.config.chips.neurram``)."""


# -- metrics --------------------------------------------------------------------------------------
def continual_metrics(R: np.ndarray, baseline: np.ndarray | None = None) -> dict[str, float]:
    """From the accuracy matrix ``R[i, j]`` (after task ``i``, on task ``j``; ``T x T``):

    - ``average_accuracy`` = mean_j R[T-1, j];
    - ``backward_transfer`` = mean_{j<T-1} (R[T-1, j] - R[j, j]) (Lopez-Paz & Ranzato 2017);
    - ``forgetting`` = mean_{j<T-1} max_{l<T-1} (R[l, j] - R[T-1, j]) (Chaudhry et al. 2018);
    - ``forward_transfer`` = mean_{j>0} (R[j-1, j] - baseline[j]) with ``baseline`` the accuracy
      of the untrained model on each task (NaN without it).
    """
    R = np.asarray(R, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] < 2:
        raise ValueError(f"continual_metrics: R must be a square matrix of at least 2 tasks, got shape {R.shape}")
    T = R.shape[0]
    last = R[-1]
    bwt = float(np.mean(last[:-1] - np.diag(R)[:-1]))
    forget = float(np.mean([np.max(R[: T - 1, j] - last[j]) for j in range(T - 1)]))
    fwt = float("nan")
    if baseline is not None:
        b = np.asarray(baseline, dtype=np.float64)
        fwt = float(np.mean([R[j - 1, j] - b[j] for j in range(1, T)]))
    return {"average_accuracy": float(np.mean(last)), "backward_transfer": bwt, "forgetting": forget,
            "forward_transfer": fwt}


# -- tasks ----------------------------------------------------------------------------------------
def make_stream(kind: str, n_permuted: int = 4, seed: int = 0, data: str = "digits") -> list[dict[str, Tensor]]:
    """The tasks of a stream: per task ``x_train, y_train, x_test, y_test`` and ``classes`` (the
    output classes the task may use). ``data``: ``digits`` (8x8, scikit-learn) or ``mnist5k``
    (28x28, :func:`analogue.data.load_mnist5k`)."""
    if kind not in STREAMS:
        raise ValueError(f"continual: stream must be one of {STREAMS}, got {kind!r}")
    d = _load(data)
    side = math.isqrt(d.x_train.shape[1])
    tasks = []
    if kind == "split":
        for t in range(5):
            cls = torch.tensor([2 * t, 2 * t + 1])
            tr, te = torch.isin(d.y_train, cls), torch.isin(d.y_test, cls)
            tasks.append({"x_train": d.x_train[tr], "y_train": d.y_train[tr], "x_test": d.x_test[te],
                          "y_test": d.y_test[te], "classes": cls})
    elif kind == "rotated":
        for t in range(4):
            def rot(x: Tensor, k: int = t) -> Tensor:
                return torch.rot90(x.view(-1, side, side), k, dims=(1, 2)).reshape(-1, side * side)
            tasks.append({"x_train": rot(d.x_train), "y_train": d.y_train, "x_test": rot(d.x_test),
                          "y_test": d.y_test, "classes": torch.arange(10)})
    else:
        g = torch.Generator().manual_seed(seed)
        for t in range(n_permuted):
            perm = torch.arange(side * side) if t == 0 else torch.randperm(side * side, generator=g)
            tasks.append({"x_train": d.x_train[:, perm], "y_train": d.y_train, "x_test": d.x_test[:, perm],
                          "y_test": d.y_test, "classes": torch.arange(10)})
    return tasks


def _load(data: str) -> DigitsData:
    if data not in DATASETS:
        raise ValueError(f"continual: data must be one of {DATASETS}, got {data!r}")
    return load_digits(flat=True, seed=0) if data == "digits" else load_mnist5k(flat=True, seed=0)


def _mlp(n_in: int, seed: int) -> nn.Sequential:
    """The stream's MLP: the digits MLP (64-128-10) for 8x8 digits, ``n_in``-128-10 otherwise
    (initialised the same way)."""
    model = digits_mlp(seed=seed)
    if n_in == model[0].in_features:
        return model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(n_in, model[0].out_features), nn.ReLU(),
                             nn.Linear(model[0].out_features, model[2].out_features))


class ProgrammedLinear(nn.Module):
    """A linear layer computed on RRAM holding low-precision weights programmed from a
    high-precision digital copy (Li et al. 2022's mixed precision; :class:`ProgrammedWeights`).

    ``weight`` (the parameter the optimizer trains) is the digital copy, clipped to ``+-w_max``;
    ``programmed`` (a buffer) is what the cells hold: the level nearest the copy plus the
    programming error drawn when the cell was last written. :meth:`program` writes only the cells
    whose level changed. The forward reads ``programmed`` with read noise; the gradient reaches
    the digital copy straight through (the copy's gradient is that of the weights read)."""

    def __init__(self, linear: nn.Linear, cfg: ProgrammedWeights, generator: torch.Generator) -> None:
        super().__init__()
        self.cfg = cfg
        self.gen = generator
        self.w_max = cfg.range_rel * float(linear.weight.detach().abs().max())
        self.weight = nn.Parameter(linear.weight.detach().clone().clamp(-self.w_max, self.w_max))
        self.bias = nn.Parameter(linear.bias.detach().clone())
        self.register_buffer("level", torch.full(self.weight.shape, -1, dtype=torch.long))
        self.register_buffer("programmed", torch.zeros_like(self.weight))
        self.writes = 0
        self.program()

    def _randn(self, shape: torch.Size) -> Tensor:
        return torch.randn(shape, generator=self.gen).to(self.weight.device)

    @torch.no_grad()
    def program(self) -> int:
        """Clip the digital copy and write the cells whose level changed; returns how many."""
        self.weight.clamp_(-self.w_max, self.w_max)
        steps = self.cfg.n_levels - 1
        level = torch.round((self.weight / self.w_max + 1.0) * (steps / 2)).long()
        changed = level != self.level
        n = int(changed.sum())
        if n:
            target = (level[changed].to(self.weight.dtype) * (2.0 / steps) - 1.0) * self.w_max
            err = self._randn(target.shape).mul_(self.cfg.programming_std_rel * self.w_max)
            self.programmed[changed] = target + err
            self.level.copy_(level)
        self.writes += n
        return n

    def forward(self, x: Tensor) -> Tensor:
        w = self.programmed
        if self.cfg.read_std_rel > 0:
            w = w + self._randn(w.shape).mul_(self.cfg.read_std_rel * self.w_max)
        return F.linear(x, self.weight + (w - self.weight).detach(), self.bias)


def _programmed_mlp(model: nn.Sequential, cfg: ProgrammedWeights, seed: int) -> nn.Sequential:
    gen = torch.Generator().manual_seed(seed + 7919)
    return nn.Sequential(*[ProgrammedLinear(m, cfg, gen) if isinstance(m, nn.Linear) else m for m in model])


def _masked(logits: Tensor, classes: Tensor) -> Tensor:
    if len(classes) == logits.shape[1]:
        return logits
    mask = torch.full((logits.shape[1],), float("-inf"), device=logits.device)
    mask[classes] = 0.0
    return logits + mask


@torch.no_grad()
def _accuracy(model: nn.Module, task: dict[str, Tensor]) -> float:
    model.eval()
    pred = _masked(model(task["x_test"]), task["classes"]).argmax(1)
    return float((pred == task["y_test"]).float().mean())


# -- learning -------------------------------------------------------------------------------------
def run_stream(tasks: list[dict[str, Tensor]], learner: str, *, algorithm: str = "mixed",
               device: str | PulsedDevice = "rram", epochs: int = 3, budget_J: float | None = None,
               seed: int = 0, torch_device: torch.device | str = "cpu",
               programmed: ProgrammedWeights | None = None) -> dict[str, Any]:
    """Learn ``tasks`` in order with ``learner`` (``analog``: in memory with ``algorithm``;
    ``digital``: SGD fine-tuning; ``frozen``: the analog learner on the first task only; ``mpcl``:
    SGD on a digital copy whose low-precision weights are programmed into RRAM, ``programmed``,
    default :func:`~analogue.config.pulsed.rram_li2022_programmed`, and compute there). Returns
    ``R``, the metrics, the updates and their energy. ``device``: a pulsed device preset name or a
    device; ``torch_device``: where the model and the tasks' tensors live (the batch order is drawn
    on the CPU, so it is the same on every device).

    ``budget_J``: the energy one pulsed update may spend, as the cost model charges it
    (:func:`analogue.cost.edge.update_energy_J`: device pulses plus the periphery of the pulse
    slots): the periphery is clocked for :func:`~analogue.cost.edge.budget_slots` slots (the
    ``mixed`` pulse limit, the ``tikitaka`` pulse-train length) and what the budget leaves after
    it limits the device pulses each step actually applies (``pulse_budget`` of the optimizer:
    ``mixed`` scales its pulse counts down, ``tikitaka`` its sampled trains and then its
    transfer), so no update spends more. The result's ``update_energy_J`` gives the mean and the
    largest update energy spent."""
    if learner not in (*LEARNERS, "mpcl"):
        raise ValueError(f"continual: learner must be one of {(*LEARNERS, 'mpcl')}, got {learner!r}")
    if algorithm not in HP:
        raise ValueError(f"continual: algorithm must be one of {sorted(HP)}, got {algorithm!r}")
    if isinstance(device, str):
        if device not in DEVICE_PRESETS:
            raise ValueError(f"continual: unknown device {device!r}; use one of {sorted(DEVICE_PRESETS)}")
        device_model = DEVICE_PRESETS[device]()
    else:
        device_model = device
    tdev = as_device(torch_device)
    tasks = [{k: v.to(tdev) for k, v in t.items()} for t in tasks]
    n_in = int(tasks[0]["x_train"].shape[1])
    model = _mlp(n_in, seed).to(tdev)
    shapes = [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)]
    kind = "pcm" if isinstance(device_model, PCMLikeDevice) else "rram"
    pulse_J = cost_constants.DEVICES[kind]["pulse_J"]
    opt = None
    hp = dict(HP[algorithm])
    slots = 31
    if learner == "digital":
        dig = torch.optim.SGD(model.parameters(), lr=DIGITAL_LR)
    elif learner == "mpcl":
        model = _programmed_mlp(model, programmed or rram_li2022_programmed(), seed).to(tdev)
        dig = torch.optim.SGD(model.parameters(), lr=DIGITAL_LR)
    else:
        cfg = presets.standard()
        convert_(model, cfg, seed=seed)
        if budget_J is not None:
            slots = edge.budget_slots(budget_J, shapes, NODE_NM)
            hp["pulse_budget"] = edge.pulses_for_budget(budget_J, shapes, slots, pulse_J, NODE_NM)
        hp["max_pulses" if algorithm == "mixed" else "bl"] = slots
        opt = OPTIMIZERS[algorithm](model, device_model, hp.pop("lr"),
                                    backward=BackwardConfig.like_forward(cfg), seed=seed, **hp)
        dig = torch.optim.SGD(list(digital_parameters(model)), lr=BIAS_LR)
    spent: list[float] = []
    baseline = np.array([_accuracy(model, t) for t in tasks])
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    T = len(tasks)
    R = np.zeros((T, T))
    updates = 0
    for i, task in enumerate(tasks):
        if not (learner == "frozen" and i > 0):
            for _ in range(epochs):
                model.train()
                order = torch.randperm(len(task["x_train"]), generator=gen)
                for k in range(0, len(order), BATCH):
                    idx = order[k : k + BATCH]
                    loss = loss_fn(_masked(model(task["x_train"][idx]), task["classes"]), task["y_train"][idx])
                    loss.backward()
                    if opt is not None:
                        before = opt.stats["device_pulses"]
                        opt.step()
                        opt.zero_grad()
                        pulses = opt.stats["device_pulses"] - before
                        spent.append(sum(edge.update_energy_J(pulses, shapes, slots, pulse_J, NODE_NM).values()))
                    dig.step()
                    dig.zero_grad(set_to_none=True)
                    for m in model:
                        if isinstance(m, ProgrammedLinear):
                            m.program()
                    updates += 1
        R[i] = [_accuracy(model, t) for t in tasks]
    out: dict[str, Any] = {"learner": learner, "R": R.tolist(), "baseline": baseline.tolist(),
                           "metrics": continual_metrics(R, baseline), "updates": updates}
    macs = sum(r * c for r, c in shapes)
    if learner == "digital":
        out["energy_per_update_J"] = edge.digital_update_energy_J(macs, BATCH)
    elif learner == "mpcl":
        writes = sum(m.writes for m in model if isinstance(m, ProgrammedLinear))
        out["cell_writes_per_update"] = writes / max(updates, 1)
    elif opt is not None:
        stats = opt.stats
        pulses_per_update = stats["device_pulses"] / max(stats["steps"], 1.0)
        e = {"forward + backward reads": BATCH * _read_energy_per_sample_J(n_in),
             **edge.update_energy_J(pulses_per_update, shapes, slots, pulse_J, NODE_NM)}
        out["energy_per_update_J"] = sum(e.values())
        out["energy_breakdown_J"] = e
        out["pulses_per_update"] = pulses_per_update
        out["max_pulses"] = slots
        out["pulse_budget"] = hp.get("pulse_budget")
        out["budget_J"] = budget_J
        out["update_energy_J"] = {"mean": float(np.mean(spent)) if spent else 0.0,
                                  "max": float(np.max(spent)) if spent else 0.0}
        opt.close()
    return out


@functools.lru_cache(maxsize=2)
def _read_energy_per_sample_J(n_in: int = 64) -> float:
    """Forward and backward (transposed) reads of one sample of the digits MLP compiled onto
    NeuRRAM, from the cost model (``estimate_training`` less its update term)."""
    from analogue.compile import compile as an_compile
    from analogue.config import chips
    from analogue.cost import estimate_training

    program = an_compile(_mlp(n_in, 0), torch.zeros(1, n_in), chip=chips.neurram(), build_model=False)
    rep = estimate_training(program, batch=BATCH, pulses_per_update=1)
    return rep.energy_J - rep.energy_breakdown_J["update"]


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Layers this small run fastest on one CPU thread; the thread count is restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


#: Li et al., Advanced Intelligent Systems (2022) (docs/references.md, section 10): mixed-precision
#: continual learning on an RRAM computing chip, 5-split-MNIST, average accuracy on the chip and of
#: the software baseline, %.
LI2022_PUBLISHED = {"chip_pct": 94.9, "software_pct": 97.0}


def li2022_comparison(*, device: str | PulsedDevice = "rram-li2022", seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
                      epochs: int = 3, torch_device: torch.device | str = "cpu", data: str = "digits",
                      learner: str = "analog", programmed: ProgrammedWeights | None = None) -> dict[str, Any]:
    """Li et al.'s split-MNIST result side by side with this model's split stream on ``data``
    (``digits`` or ``mnist5k``): learning in memory against digital fine-tuning (the software
    baseline), both task-incremental (five tasks of two classes), mean, sample standard deviation
    and standard error over ``seeds`` (model initialisation, devices, batch order), the gap paired
    by seed. ``learner``: ``analog`` (``MixedPrecision`` pulsed updates on ``device``) or ``mpcl``
    (the paper's scheme: low-precision weights ``programmed`` into RRAM from a digital copy, default
    :func:`~analogue.config.pulsed.rram_li2022_programmed`). Also the standard error of one
    accuracy from the size of the test set."""
    if len(seeds) < 2:
        raise ValueError(f"li2022_comparison: give at least 2 seeds, got {seeds!r}")
    if learner not in ("analog", "mpcl"):
        raise ValueError(f"li2022_comparison: learner must be 'analog' or 'mpcl', got {learner!r}")
    tasks = make_stream("split", data=data)
    analog, digital = [], []
    with _one_thread():
        for s in seeds:
            analog.append(run_stream(tasks, learner, device=device, epochs=epochs, seed=s,
                                     torch_device=torch_device, programmed=programmed)["metrics"]["average_accuracy"])
            digital.append(run_stream(tasks, "digital", epochs=epochs, seed=s,
                                      torch_device=torch_device)["metrics"]["average_accuracy"])
    a, d = 100 * np.array(analog), 100 * np.array(digital)
    gap = d - a
    n_test = sum(len(t["y_test"]) for t in tasks)
    p = float(np.mean(d)) / 100
    pub = LI2022_PUBLISHED
    if learner == "mpcl":
        cfg = programmed or rram_li2022_programmed()
        name = (f"MPCL {cfg.n_levels} levels, programming {100 * cfg.programming_std_rel:g} %, "
                f"read {100 * cfg.read_std_rel:g} %")
    else:
        name = device if isinstance(device, str) else type(device).__name__
    label = {"digits": "8x8 digits", "mnist5k": "MNIST-5k"}[data]
    rows = [{"source": "Li et al. 2022: RRAM chip vs software, 28x28 MNIST (published)",
             "in memory %": pub["chip_pct"], "software %": pub["software_pct"],
             "gap (points)": pub["software_pct"] - pub["chip_pct"], "gap sd": float("nan"), "gap se": float("nan")},
            {"source": f"this model: {name} vs digital, {label}, {len(seeds)} seeds",
             "in memory %": float(a.mean()), "software %": float(d.mean()), "gap (points)": float(gap.mean()),
             "gap sd": float(gap.std(ddof=1)), "gap se": float(gap.std(ddof=1) / math.sqrt(len(seeds)))}]
    return {"rows": rows, "in_memory_pct": a.tolist(), "software_pct": d.tolist(), "gap_points": gap.tolist(),
            "seeds": list(seeds), "test_samples": n_test, "accuracy_se_points": 100 * math.sqrt(p * (1 - p) / n_test),
            "device": name, "epochs": epochs, "data": data, "learner": learner}


def run_continual_study(*, streams: tuple[str, ...] = ("split", "permuted"), algorithm: str = "mixed", device: str = "rram",
                        epochs: int = 3, budget_J: float | None = None, seed: int = 0,
                        out: Path | None = None, log: Callable[[str], None] | None = None,
                        torch_device: torch.device | str = "cpu", data: str = "digits") -> dict[str, Any]:
    """Every learner on every stream; the table, the matrices and (with ``out``) ``continual.json``
    and ``continual.png`` (the accuracy matrices). ``device``: the pulsed device preset;
    ``torch_device``: the torch device of the models and the data; ``data``: ``digits`` or
    ``mnist5k``. With the split stream, the Li et al. comparison: mixed precision on
    ``rram-li2022`` on digits; on MNIST-5k also the paper's scheme (``mpcl``, first row)."""
    tdev = as_device(torch_device)
    log = log or logger.info
    runs: dict[str, dict[str, Any]] = {}
    with _one_thread():
        for s in streams:
            tasks = make_stream(s, seed=seed, data=data)
            for learner in LEARNERS:
                log(f"{s}: {learner} ...")
                runs[f"{s}/{learner}"] = run_stream(tasks, learner, algorithm=algorithm, device=device,
                                                    epochs=epochs, budget_J=budget_J, seed=seed,
                                                    torch_device=tdev)
        published = None
        if "split" in streams:
            log("split: Li et al. 2022 comparison ...")
            published = li2022_comparison(device="rram-li2022", epochs=epochs, torch_device=tdev, data=data,
                                          learner="mpcl" if data == "mnist5k" else "analog")
            if data == "mnist5k":
                mixed = li2022_comparison(device="rram-li2022", epochs=epochs, torch_device=tdev, data=data)
                published["rows"].append(mixed["rows"][1])
    table = []
    for key, r in runs.items():
        m = r["metrics"]
        e = r.get("energy_per_update_J", 0.0) if r["learner"] != "frozen" else 0.0
        table.append({"stream/learner": key, "avg acc %": 100 * m["average_accuracy"],
                      "BWT %": 100 * m["backward_transfer"], "forgetting %": 100 * m["forgetting"],
                      "FWT %": 100 * m["forward_transfer"], "updates": r["updates"],
                      "nJ/update": 1e9 * e,
                      "max pulsed-update nJ": 1e9 * r["update_energy_J"]["max"] if "update_energy_J" in r else 0.0,
                      "updates/Wh": edge.updates_per_Wh(e) if e else float("inf"),
                      "updates per coin cell": edge.updates_per_Wh(e) * edge.COIN_CELL_WH if e else float("inf")})
    result: dict[str, Any] = {"algorithm": algorithm, "device": device, "data": data, "epochs": epochs, "budget_J": budget_J,
                              "seed": seed, "table": table, "runs": runs, "li2022": published}
    if out is not None:
        from analogue._util.tables import save_json

        out.mkdir(parents=True, exist_ok=True)
        result["paths"] = {"json": str(out / "continual.json"), "plot": str(out / "continual.png")}
        _plot(runs, Path(result["paths"]["plot"]))
        save_json(result["paths"]["json"], result)
    return result


def _plot(runs: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analogue._util.tables import save_figure

    keys = list(runs)
    fig, axes = plt.subplots(1, len(keys), figsize=(2.3 * len(keys), 2.6), squeeze=False)
    for ax, k in zip(axes[0], keys):
        R = np.asarray(runs[k]["R"])
        ax.imshow(100 * R, vmin=0, vmax=100, cmap="viridis")
        for (i, j), v in np.ndenumerate(R):
            ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=6,
                    color="white" if v < 0.6 else "black")
        ax.set_xticks(range(R.shape[1]))
        ax.set_yticks(range(R.shape[0]))
        ax.set_title(k, fontsize=7)
        ax.set_xlabel("task j", fontsize=7)
        ax.set_ylabel("after task i", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle("Accuracy matrix R[i, j] (%)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
