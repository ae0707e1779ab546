"""The training loop behind ``analogue train``: digital pretraining, conversion, hardware-aware
training, an atomic checkpoint after every epoch, and exact resumption.

Reproducibility: everything random in an epoch is a function of the checkpointed state --
the torch RNG state (dropout and the like), the data-order generator state, and the analog noise
streams, which restart at the start of every epoch from ``derive_seed(seed, epoch)``
(``hwa.reseed_noise_``; their pools are too large to checkpoint). A run killed at any point and
resumed from its last checkpoint therefore ends bit-for-bit where the uninterrupted run ends. The
loop runs inside ``torch.random.fork_rng``, so it leaves the caller's global RNG untouched.
(Bit-for-bit with the same thread count: the BLAS summation order depends on it.)

Safety of the run folder:

- ``checkpoint.pt`` holds a SHA-256 of its own contents and the run's fingerprint
  (``TrainConfig.sha256``: config, seed and the analog config it builds). A damaged checkpoint
  or one of another run is refused, naming the difference.
- The folder is locked (``.lock``, ``fcntl.flock``) while a run writes to it, so a second run on
  the same folder fails at once. The lock belongs to the process: the OS releases it when the
  process ends, however it ends, so a killed run never leaves a stale lock (the file itself is
  removed at exit; a leftover one is harmless). Where ``flock`` is missing (Windows) the lock
  file is created exclusively and a leftover one, after a crash, must be deleted by hand.
- ``history.json`` is a copy of the history stored in the checkpoint and is rewritten from it
  on resume, so a kill between the two writes never leaves it short. Temporary files of writes
  killed half-way (``.checkpoint.pt.*.tmp`` and the like) are removed when a run takes the lock.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue._util.inputs import OutputFn, batches
from analogue._util.io import atomic_write_bytes, atomic_write_text, stale_temp_files
from analogue._util.progress import Progress, progress_enabled
from analogue._util.seeds import derive_seed
from analogue.analysis.evaluation import check_batch_size, evaluate, outputs
from analogue.apps._device import as_device, data_to
from analogue.apps.train_config import (
    OptimizerSpec,
    TrainConfig,
    _data_builtins,
    _model_builtins,
    _resolve,
)
from analogue.config import ConfigError
from analogue.lifecycle.convert import convert_
from analogue.train.hwa import clip_weights_, distillation_loss, hwa_, reseed_noise_
from analogue.train.lamb import LAMB

CHECKPOINT = "checkpoint.pt"
CONFIG_COPY = "config.yaml"
HISTORY = "history.json"
FINAL_MODEL = "model.pt"
LOCK = ".lock"
CHECKPOINT_VERSION = 2

logger = logging.getLogger(__name__)


# -- building blocks ------------------------------------------------------------------------------
def build_model(cfg: TrainConfig, *, trust_code: bool = False) -> nn.Module:
    """The digital model of ``cfg`` (initialised from ``cfg.seed``; global RNG left untouched).
    ``trust_code``: allow a ``model.name`` outside ``analogue.data`` (imports and runs its code)."""
    fn = _resolve(cfg.model.name, _model_builtins(), "model.name", trust_code)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = fn(**cfg.model.kwargs)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.name: {cfg.model.name!r} returned a {type(model).__name__}, not an nn.Module")
    if cfg.model.init is not None:
        try:
            state = torch.load(cfg.model.init, weights_only=True, map_location="cpu")
        except Exception as exc:  # noqa: BLE001 -- any unreadable file is the same user error
            raise ConfigError(f"model.init: {cfg.model.init!r} is not a state_dict saved with torch.save "
                              f"({_one_line(exc)})") from None
        if not isinstance(state, dict):
            raise ConfigError(f"model.init: {cfg.model.init!r} holds a {type(state).__name__}, not a "
                              "state_dict (save model.state_dict())")
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, KeyError) as exc:
            raise ConfigError(f"model.init: {cfg.model.init!r} does not fit {cfg.model.name!r} "
                              f"({_one_line(exc)})") from None
    return model


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def build_data(cfg: TrainConfig, *, trust_code: bool = False) -> Any:
    """The data object of ``cfg``: tensors ``x_train, y_train, x_test, y_test``.
    ``trust_code``: allow a ``data.name`` outside ``analogue.data`` (imports and runs its code)."""
    fn = _resolve(cfg.data.name, _data_builtins(), "data.name", trust_code)
    data = fn(**cfg.data.kwargs)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        if not isinstance(getattr(data, name, None), Tensor):
            raise ConfigError(f"data.name: {cfg.data.name!r} returned an object without a tensor {name!r}")
    return data


def make_optimizer(spec: OptimizerSpec, params: Any) -> torch.optim.Optimizer:
    """A torch optimizer (or ``LAMB``) from its spec."""
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD, "lamb": LAMB}[spec.name]
    try:
        return cls(params, lr=spec.lr, weight_decay=spec.weight_decay, **spec.kwargs)
    except TypeError as exc:
        raise ConfigError(f"optimizer.kwargs: {exc}") from None


def make_scheduler(spec: OptimizerSpec, opt: torch.optim.Optimizer, epochs: int) -> Any:
    if spec.schedule == "cosine" and epochs > 0:
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    return None


def convert_for_training(model: nn.Module, cfg: TrainConfig, data: Any | None) -> nn.Module:
    """Convert ``model`` in place as ``cfg.analog`` says, calibrate, and install HWA.

    ``data``: what calibrates (when ``cfg.analog.calibrate``): an object with ``x_train`` (its
    first 512 training inputs), or inputs in the convention of ``analogue._util.inputs`` (a
    tensor, a dict of tensors, ``(x, y)`` pairs, a DataLoader: ``calibrate_`` reads its first
    batches); ``None``: no calibration (a resumed run loads the calibrated ranges).
    """
    from analogue.nn.int8 import quantize_int8_

    acfg = cfg.analog.build()
    assert acfg is not None
    rules = {name: None for name in cfg.analog.digital} or None
    convert_(model, acfg, rules=rules, seed=cfg.seed)
    if cfg.analog.int8_digital:
        quantize_int8_(model)
    if cfg.analog.calibrate and data is not None:
        from analogue.lifecycle.calibrate import calibrate_

        calibrate_(model, data.x_train[:512] if hasattr(data, "x_train") else data)
    hwa_(model, cfg.hwa, seed=cfg.seed)
    return model


@torch.no_grad()
def teacher_logits(teacher: nn.Module, data: Any, batch_size: int, *,
                   output_fn: OutputFn | None = None) -> Tensor:
    """The (fixed, digital) teacher's outputs for every input of ``data``, concatenated along the
    batch dimension, in eval mode (the teacher's mode is restored): computed once per run instead
    of once per batch and epoch. ``data``: a tensor of training inputs, or inputs in the
    convention of ``analogue._util.inputs`` (labels are ignored), run ``batch_size`` examples at a
    time; ``output_fn`` picks the logits of a model returning a dict, ``ModelOutput`` or tuple."""
    check_batch_size(batch_size, "teacher_logits")
    was = teacher.training
    teacher.eval()
    try:
        outs = [out for out, _ in outputs(teacher, batches(data, None, "teacher_logits"), batch_size,
                                          output_fn, where="teacher_logits")]
    finally:
        teacher.train(was)
    if not outs:
        raise ValueError("teacher_logits: the data yielded no inputs")
    return torch.cat(outs)


def train_epoch(model: nn.Module, data: Any, batch_size: int, opt: torch.optim.Optimizer,
                generator: torch.Generator, *, teacher: nn.Module | Tensor | None = None,
                hwa: Any = None, on_batch: Callable[[float], None] | None = None) -> float:
    """One pass over ``data.x_train`` in the order ``generator`` draws; returns the mean loss.

    ``teacher``: the distillation teacher, or its outputs for every training input
    (``teacher_logits``).
    """
    model.train()
    x, y = data.x_train, data.y_train
    distill = teacher is not None and hwa is not None and hwa.distill_alpha > 0
    if distill and isinstance(teacher, nn.Module):
        teacher = teacher_logits(teacher, x, batch_size)
    order = torch.randperm(len(x), generator=generator)
    total = 0.0
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        if distill:
            loss = distillation_loss(out, teacher[idx], yb, hwa.distill_T, hwa.distill_alpha)
        else:
            loss = F.cross_entropy(out, yb)
        loss.backward()
        opt.step()
        if hwa is not None and hwa.clip_weights_sigma is not None:
            clip_weights_(model, hwa.clip_weights_sigma)
        total += float(loss.detach()) * len(idx)
        if on_batch is not None:
            on_batch(float(loss.detach()))
    return total / len(x)


# -- checkpoints ----------------------------------------------------------------------------------
def _digest(obj: Any, h: Any) -> None:
    """Feed ``obj`` (nested dicts, lists, tuples, tensors, scalars, strings) into hash ``h``."""
    if isinstance(obj, Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"{{{len(obj)};".encode())
        for k, v in obj.items():
            _digest(k, h)
            _digest(v, h)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__}{len(obj)};".encode())
        for v in obj:
            _digest(v, h)
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


def checkpoint_sha256(state: dict[str, Any]) -> str:
    """SHA-256 of a checkpoint's contents (every tensor's bytes, dtype and shape, every value),
    without its ``sha256`` entry."""
    h = hashlib.sha256()
    _digest({k: v for k, v in state.items() if k != "sha256"}, h)
    return h.hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """``torch.save`` of ``state`` plus its ``sha256`` (``checkpoint_sha256``) to bytes, then an
    atomic write: a kill never leaves a torn checkpoint, and a damaged one is detected on load."""
    buf = io.BytesIO()
    torch.save({**state, "sha256": checkpoint_sha256(state)}, buf)
    return atomic_write_bytes(path, buf.getvalue())


_CHECKPOINT_KEYS: dict[str, type | tuple[type, ...]] = {
    "version": int, "epoch": int, "phase": str, "model": dict, "optimizer": dict,
    "scheduler": (dict, type(None)), "digital": (dict, type(None)), "torch_rng": Tensor,
    "data_rng": Tensor, "history": list, "config": str, "config_sha256": str, "sha256": str,
}


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A checkpoint written by ``save_checkpoint`` (``torch.load(weights_only=True)``: no code
    runs). A file that is not one, or whose contents do not match its SHA-256 (truncated, bit
    flips), raises a one-line ``ValueError``; a missing file ``FileNotFoundError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint {path}")
    fix = "restore a good copy, or start the run again with --force"
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols of damaged files
            warnings.simplefilter("ignore")
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 -- torch raises many kinds on damaged files
        raise ValueError(f"{path}: not a readable checkpoint ({_one_line(exc)}); {fix}") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not an analogue checkpoint (holds a {type(state).__name__}); {fix}")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint version {state.get('version')!r}, this analogue reads "
                         f"version {CHECKPOINT_VERSION} (with a checksum); {fix}")
    for key, kind in _CHECKPOINT_KEYS.items():
        if not isinstance(state.get(key), kind):
            raise ValueError(f"{path}: damaged checkpoint (entry {key!r} missing or of the wrong kind); {fix}")
    if checkpoint_sha256(state) != state["sha256"]:
        raise ValueError(f"{path}: damaged checkpoint (its contents do not match its SHA-256); {fix}")
    return state


def _check_checkpoint(ckpt: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    """Refuse a checkpoint of another run (config or seed) or one inconsistent with ``cfg``."""
    if ckpt["config_sha256"] != cfg.sha256():
        diff = _first_difference(json.loads(ckpt["config"]), cfg.to_dict())
        raise ConfigError(f"--resume: {path} was written by another run ({diff or 'the analog config differs'}); "
                          "resume with that run's config or start afresh with --force")
    epoch = ckpt["epoch"]
    if not (1 <= epoch <= cfg.total_epochs and len(ckpt["history"]) == epoch
            and ckpt["phase"] == _phase_of(cfg, epoch - 1)):
        raise ValueError(f"{path}: checkpoint after epoch {epoch} does not fit this run of "
                         f"{cfg.total_epochs} epochs; start afresh with --force")


def _first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The first dotted key where the nested dicts ``a`` (saved) and ``b`` (this run) differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            d = _first_difference(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b):
        return None
    return None if a == b else f"{where}: {a!r} there, {b!r} here"


# -- the run folder -------------------------------------------------------------------------------
@contextlib.contextmanager
def lock_run_folder(out: Path) -> Iterator[Path]:
    """Hold ``out/.lock`` for the duration: a second run on ``out`` raises ``RuntimeError``.

    ``fcntl.flock`` ties the lock to this process (released by the OS however the process ends,
    so it cannot go stale); the file is removed on exit. Without ``fcntl`` (Windows) the file is
    created with ``O_CREAT | O_EXCL``; one left by a crash must then be deleted by hand.
    """
    path = out / LOCK
    try:
        import fcntl
    except ImportError:  # pragma: no cover -- Windows
        fcntl = None  # type: ignore[assignment]
    busy = (f"{out} is in use by another run (lock {path}); wait for it to finish or choose "
            "another --out")
    if fcntl is None:  # pragma: no cover
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise RuntimeError(f"{busy} (if no run is active, a crash left it: delete it)") from None
    else:
        for _ in range(10):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise RuntimeError(busy) from None
            try:  # the holder before us may have removed the file it locked: lock the current one
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        else:  # pragma: no cover
            raise RuntimeError(busy)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _remove_stale_temp_files(out: Path) -> None:
    """Temporary files of our atomic writes that a kill left behind (we hold the lock)."""
    for name in (CHECKPOINT, HISTORY, FINAL_MODEL, CONFIG_COPY):
        for tmp in stale_temp_files(out, name):
            logger.info("removing %s (left by an interrupted write)", tmp)
            tmp.unlink(missing_ok=True)


def _write_history(out: Path, history: list[dict[str, Any]]) -> None:
    atomic_write_text(out / HISTORY, json.dumps(history, indent=2) + "\n")


# -- the run --------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """The trained model, one history row per epoch, where the run wrote its files, and the
    digital model as it was when converted (``None`` for a digital run)."""

    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    out_dir: Path | None = None
    digital: nn.Module | None = None
    completed_epochs: int = 0


@dataclass
class _State:
    model: nn.Module
    digital: nn.Module | None  # the model as converted; also the distillation teacher
    opt: torch.optim.Optimizer
    sched: Any
    phase: str
    teacher_out: Tensor | None = None  # the teacher's outputs on the training set (not saved)


def _prepare_out_dir(cfg: TrainConfig, out: Path, resume: bool, force: bool) -> dict[str, Any] | None:
    """Check the output folder (locked by the caller); return the checkpoint to resume from (or
    ``None``). On resume ``history.json`` is rewritten from the checkpoint."""
    ckpt_path, cfg_path = out / CHECKPOINT, out / CONFIG_COPY
    _remove_stale_temp_files(out)
    if resume:
        if not cfg_path.is_file():
            raise FileNotFoundError(f"--resume: {out} holds no run ({CONFIG_COPY} missing); "
                                    "start it without --resume")
        saved = TrainConfig.from_yaml(cfg_path)
        if saved.to_dict() != cfg.to_dict():
            raise ConfigError(f"--resume: the config differs from the run saved in {out}; resume with "
                              f"the same config ({cfg_path}) or start a new run in another --out")
        ckpt = load_checkpoint(ckpt_path) if ckpt_path.is_file() else None
        if ckpt is not None:
            _check_checkpoint(ckpt, cfg, ckpt_path)
        _write_history(out, list(ckpt["history"]) if ckpt is not None else [])
        return ckpt
    if any(p.name != LOCK for p in out.iterdir()) and not force:
        raise FileExistsError(f"{out} is not empty: pass --resume to continue the run in it, --force "
                              "to overwrite it, or choose another --out")
    for name in (CHECKPOINT, HISTORY, FINAL_MODEL):
        (out / name).unlink(missing_ok=True)
    cfg.to_yaml(cfg_path)
    return None


def _phase_of(cfg: TrainConfig, epoch: int) -> str:
    """``pretrain`` (digital) for the first ``pretrain.epochs`` epochs, then ``train``."""
    return "pretrain" if epoch < cfg.pretrain.epochs else "train"


def _is_analog(cfg: TrainConfig, phase: str) -> bool:
    return phase == "train" and cfg.analog.preset is not None


def _start_phase(cfg: TrainConfig, phase: str, model: nn.Module, data: Any | None) -> _State:
    """Set up a phase: conversion (and calibration when ``data`` is given), optimizer, schedule."""
    digital = None
    if _is_analog(cfg, phase):
        digital = copy.deepcopy(model).eval().requires_grad_(False)
        convert_for_training(model, cfg, data)
    spec, n_epochs = (cfg.pretrain.optimizer, cfg.pretrain.epochs) if phase == "pretrain" \
        else (cfg.optimizer, cfg.epochs)
    opt = make_optimizer(spec, model.parameters())
    return _State(model, digital, opt, make_scheduler(spec, opt, n_epochs), phase)


def run_training(
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    force: bool = False,
    progress: Progress = None,
    stop_after: int | None = None,
    log: Callable[[str], None] | None = None,
    trust_code: bool = False,
    device: torch.device | str = "cpu",
) -> TrainResult:
    """Run ``cfg``; with ``out_dir`` write ``config.yaml``, ``checkpoint.pt`` after every epoch,
    ``history.json`` and finally ``model.pt`` (the trained ``state_dict``).

    ``resume``: continue the run saved in ``out_dir`` (same config and seed, checked against the
    checkpoint's fingerprint) from its last checkpoint. ``force``: start afresh in a non-empty
    ``out_dir`` (otherwise refused). ``out_dir`` is locked while the run writes to it (a second
    run on it raises ``RuntimeError``). ``stop_after``: stop once this many epochs (counted over
    both phases) are complete, as a kill after that epoch would. ``progress``: per-epoch bars
    (``None``: on a terminal). ``log``: receives one line per epoch (default: this module's
    logger). ``trust_code``: allow ``model.name``/``data.name`` outside ``analogue.data``
    (importing them runs their code). ``device``: the torch device the model, its data, the
    teacher and the evaluation live on (checkpoints load on the CPU and are copied there; the data
    order is drawn on the CPU, the same on every device). Returns the model (in eval mode) and the
    history.
    """
    dev = as_device(device)
    out = Path(out_dir) if out_dir is not None else None
    if resume and out is None:
        raise ValueError("run_training: resume needs the out_dir of the run")
    if stop_after is not None and stop_after < 1:
        raise ValueError(f"run_training: stop_after must be >= 1, got {stop_after}")
    progress_enabled(progress)  # a bad value fails before any work
    _resolve(cfg.model.name, _model_builtins(), "model.name", trust_code)  # refuse before writing
    _resolve(cfg.data.name, _data_builtins(), "data.name", trust_code)
    if out is None:
        return _run(cfg, None, None, progress, stop_after, log or logger.info, trust_code, dev)
    if resume and not out.is_dir():
        raise FileNotFoundError(f"--resume: {out} holds no run (no such folder); start it without --resume")
    out.mkdir(parents=True, exist_ok=True)
    with lock_run_folder(out):
        ckpt = _prepare_out_dir(cfg, out, resume, force)
        return _run(cfg, out, ckpt, progress, stop_after, log or logger.info, trust_code, dev)


def _run(cfg: TrainConfig, out: Path | None, ckpt: dict[str, Any] | None, progress: Progress,
         stop_after: int | None, say: Callable[[str], None], trust_code: bool,
         dev: torch.device) -> TrainResult:
    data = data_to(build_data(cfg, trust_code=trust_code), dev)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, 7))
        gen = torch.Generator().manual_seed(derive_seed(cfg.seed, 11))
        model = build_model(cfg, trust_code=trust_code).to(dev)
        if ckpt is None:
            start, history = 0, []
            state = _start_phase(cfg, _phase_of(cfg, 0), model, data)
        else:
            start, history = int(ckpt["epoch"]), list(ckpt["history"])
            state = _start_phase(cfg, ckpt["phase"], model, None)
            _restore(state, ckpt, cfg, gen, trust_code, dev)
            say(f"resuming {out} after epoch {start} of {cfg.total_epochs}")
        for epoch in range(start, cfg.total_epochs):
            if _phase_of(cfg, epoch) != state.phase:
                state = _start_phase(cfg, _phase_of(cfg, epoch), state.model, data)
            row = _one_epoch(cfg, state, data, gen, epoch, progress)
            history.append(row)
            say(_format_row(row, cfg.total_epochs))
            if out is not None:
                _checkpoint(out, cfg, state, gen, epoch + 1, history)
            if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < cfg.total_epochs:
                return TrainResult(state.model.eval(), history, out, state.digital, epoch + 1)
    if out is not None:
        buf = io.BytesIO()
        torch.save(state.model.state_dict(), buf)
        atomic_write_bytes(out / FINAL_MODEL, buf.getvalue())
    return TrainResult(state.model.eval(), history, out, state.digital, cfg.total_epochs)


def _one_epoch(cfg: TrainConfig, state: _State, data: Any, gen: torch.Generator, epoch: int,
               progress: Progress) -> dict[str, Any]:
    from tqdm.auto import tqdm

    model = state.model
    analog = _is_analog(cfg, state.phase)
    if analog:
        reseed_noise_(model, derive_seed(cfg.seed, epoch))
    n_batches = math.ceil(len(data.x_train) / cfg.data.batch_size)
    bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{cfg.total_epochs} ({state.phase})",
               disable=not progress_enabled(progress), leave=False, unit="batch")

    def on_batch(loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    t0 = time.perf_counter()
    teacher = None
    if analog and cfg.hwa.distill_alpha > 0:
        if state.teacher_out is None:  # the teacher is fixed: its outputs are computed once
            state.teacher_out = teacher_logits(state.digital, data.x_train, cfg.data.batch_size)
        teacher = state.teacher_out
    loss = train_epoch(model, data, cfg.data.batch_size, state.opt, gen, teacher=teacher,
                       hwa=cfg.hwa if analog else None, on_batch=on_batch)
    seconds = time.perf_counter() - t0
    bar.close()
    if state.sched is not None:
        state.sched.step()
    test = evaluate(model, (data.x_test, data.y_test))
    return {"epoch": epoch + 1, "phase": "analog" if analog else "digital", "train_loss": loss, "test_loss": test["loss"],
            "test_accuracy": test["accuracy"], "seconds": seconds}


def _format_row(row: dict[str, Any], total: int) -> str:
    return (f"epoch {row['epoch']}/{total} ({row['phase']}): train loss {row['train_loss']:.4f}, "
            f"test loss {row['test_loss']:.4f}, test accuracy {100 * row['test_accuracy']:.2f} %, "
            f"{row['seconds']:.1f} s")


def _checkpoint(out: Path, cfg: TrainConfig, state: _State, gen: torch.Generator, epoch: int,
                history: list[dict[str, Any]]) -> None:
    ckpt = {
        "version": CHECKPOINT_VERSION,
        "epoch": epoch,
        "phase": state.phase,
        "model": state.model.state_dict(),
        "optimizer": state.opt.state_dict(),
        "scheduler": state.sched.state_dict() if state.sched is not None else None,
        "digital": state.digital.state_dict() if state.digital is not None else None,
        "torch_rng": torch.get_rng_state(),
        "data_rng": gen.get_state(),
        "history": history,
        "config": json.dumps(cfg.to_dict()),
        "config_sha256": cfg.sha256(),
    }
    save_checkpoint(out / CHECKPOINT, ckpt)
    _write_history(out, history)  # a kill before this line: resume rewrites it from the checkpoint


def _restore(state: _State, ckpt: dict[str, Any], cfg: TrainConfig, gen: torch.Generator,
             trust_code: bool = False, dev: torch.device | None = None) -> None:
    if ckpt["phase"] != state.phase:
        raise ConfigError(f"checkpoint phase {ckpt['phase']!r} does not match the run's {state.phase!r}")
    state.model.load_state_dict(ckpt["model"])
    if ckpt["digital"] is not None:
        digital = build_model(cfg, trust_code=trust_code).to(dev or "cpu")
        digital.load_state_dict(ckpt["digital"])
        state.digital = digital.eval().requires_grad_(False)
    state.opt.load_state_dict(ckpt["optimizer"])
    if state.sched is not None and ckpt["scheduler"] is not None:
        state.sched.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["torch_rng"])
    gen.set_state(ckpt["data_rng"])
