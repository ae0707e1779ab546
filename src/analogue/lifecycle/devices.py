"""Model-level verbs for devices over time: program, drift, compensate.

::

    an.program_(model, seed=0)                       # sample programming once; state at t = 0
    an.drift_(model, t_s=86_400.0)                   # the same instance one day later
    an.drift_(model, t_s=86_400.0, compensation="global")   # ... read with drift compensation
    an.drift_(model, t_s=3e7, compensation="column", recalibrate_every_s=86_400.0)

Programming is explicit: nothing resamples it but another ``program_``. Changing weights after
programming does not change what the array holds until ``program_`` is called again. The
programmed state is read in eval mode (``model.eval()``); training mode reads the trainable
weights. ``drift_`` is deterministic for a programmed instance: calling it at 1 h, then 1 y,
then 1 h again gives the first result again.

Drift compensation reads every array with calibration inputs (the rows of a Hadamard matrix,
scaled on the DAC grid so the largest column sum is half the ADC range) through the real noisy
path, compares with the readings the host expects from the weights it programmed, and applies
the least-squares ratio digitally, per instance (``global``) or per array column (``column``).
The inputs are orthogonal, so the ratio is the least-squares drift of the weights themselves,
and the calibration signal sits far above the output noise and the ADC step: the factor tracks
the true drift -- unlike a readout with one-hot inputs whose outputs sit at the noise floor
(docs/references.md section 2).
"""

from __future__ import annotations

import math
import operator

from torch import nn

from analogue._util.progress import Progress, track
from analogue._util.seeds import SEED_STRIDE, layer_seed, seed_limit
from analogue.lifecycle.convert import analog_layers
from analogue.nn import AnalogLayer
from analogue.nn.programmed import (
    COMPENSATION_MODES,
    check_config,
    check_device_time,
    check_programmable,
    compensate_layer,
    drift_layer,
    is_programmed,
    program_layer,
    unprogram_layer,
)
from analogue.physics.devices import check_temperature


def _layers(model: nn.Module, verb: str) -> dict[str, AnalogLayer]:
    layers = analog_layers(model)
    if isinstance(model, AnalogLayer):
        layers = {model.layer_name: model}
    if not layers:
        raise ValueError(
            f"{verb}: the model has no analog layers; call an.convert_(model, cfg) first"
        )
    return layers


def _programmed_layers(model: nn.Module, verb: str) -> dict[str, AnalogLayer]:
    layers = _layers(model, verb)
    missing = [n for n, layer in layers.items() if not is_programmed(layer)]
    if missing:
        raise RuntimeError(
            f"{verb}: layer(s) {missing} are not programmed; call "
            "an.program_(model, seed=...) first (programming is never implicit)"
        )
    return layers


def program_(
    model: nn.Module,
    seed: int = 0,
    *,
    instances: int = 1,
    cycles: int | None = None,
    progress: Progress = None,
) -> nn.Module:
    """Program every analog layer's array once from its current weights; returns ``model``.

    Samples programming noise, device variability, faults and drift exponents, stores them in
    the layers' buffers and moves the arrays to ``t = 0`` at the reference temperature.
    ``instances > 1`` samples that many independent
    Monte Carlo instances at once; the model then expects ``instances`` stacked copies of every
    batch (``x.repeat(instances, ...)``) and is evaluation-only. ``cycles``: programming cycles
    the devices have seen (for aging; default: one more than before). Layer ``i`` uses seed
    ``seed * 1_000_003 + i``, so ``|seed|`` is at most ``seed_limit(n_layers)`` (about 9.2e12;
    a larger seed fails, naming the range). ``progress``: a bar over the layers (``None``: on a
    terminal only).

    Every layer is checked before any is programmed: a weight with NaN/Inf entries fails,
    naming the layer, and the model is left as it was.
    """
    if isinstance(seed, bool):
        raise TypeError(f"program_: seed must be an integer, got {seed!r}")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"program_: seed must be an integer, got {seed!r}") from None
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ValueError(f"program_: instances must be a positive integer, got {instances!r}")
    if cycles is not None and (
        isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1
    ):
        raise ValueError(f"program_: cycles must be a positive integer or None, got {cycles!r}")
    layers = _layers(model, "program_")
    lim = seed_limit(len(layers))
    if not -lim <= seed <= lim:
        raise ValueError(
            f"program_: seed must lie in [-{lim}, {lim}] (each layer's seed, seed * {SEED_STRIDE} "
            f"+ its index, is stored as an int64), got {seed}; pass a smaller seed"
        )
    for layer in layers.values():
        check_programmable(layer)
    items = list(enumerate(layers.values()))
    for i, layer in track(items, "program_", progress, total=len(items), unit="layer"):
        program_layer(layer, layer_seed(seed, i), instances, cycles)
    return model


def drift_(
    model: nn.Module,
    t_s: float,
    temperature_k: float | None = None,
    *,
    compensation: str | None = None,
    recalibrate_every_s: float | None = None,
    n_reads: int = 1,
    progress: Progress = None,
) -> nn.Module:
    """Move the programmed arrays to ``t_s`` seconds after programming; returns ``model``.

    ``temperature_k``: the temperature the arrays were held and are read at (kelvin; default
    the device's reference temperature). ``compensation``: ``None`` keeps the compensation
    factors as they are (the chip uses its last calibration); ``"none"`` removes them;
    ``"global"`` / ``"column"`` recalibrate -- at ``t_s`` itself, or, with
    ``recalibrate_every_s``, at the last multiple of that period before ``t_s`` (the factors are
    then as stale as a periodic schedule leaves them). ``t_s`` is at most
    ``MAX_DEVICE_TIME_S`` (1e18 s). ``progress``: a bar over the layers (``None``: on a
    terminal only).
    """
    t = check_device_time(t_s, "drift_: t_s")
    if temperature_k is not None:
        check_temperature(temperature_k, "drift_: temperature_k")
    if compensation is not None and compensation not in COMPENSATION_MODES:
        raise ValueError(
            f"drift_: compensation must be None or one of {COMPENSATION_MODES}, "
            f"got {compensation!r}"
        )
    t_cal = t
    if recalibrate_every_s is not None:
        every = check_device_time(recalibrate_every_s, "drift_: recalibrate_every_s")
        if every <= 0:
            raise ValueError("drift_: recalibrate_every_s must be > 0 seconds")
        if compensation in (None, "none"):
            raise ValueError("drift_: recalibrate_every_s needs compensation='global' or 'column'")
        t_cal = math.floor(t / every) * every
    layers = list(_programmed_layers(model, "drift_").values())
    for layer in layers:  # before any layer moves
        check_config(layer, "cannot drift_")
    for layer in track(layers, "drift_", progress, total=len(layers), unit="layer"):
        if compensation in ("global", "column"):
            drift_layer(layer, t_cal, temperature_k)
            compensate_layer(layer, compensation, n_reads)
            if t_cal != t:
                drift_layer(layer, t, temperature_k)
        else:
            drift_layer(layer, t, temperature_k)
            if compensation == "none":
                compensate_layer(layer, "none")
    return model


def compensate_drift_(model: nn.Module, mode: str = "global", n_reads: int = 1) -> nn.Module:
    """Measure the drift of every programmed array now and set its digital compensation
    (``global``: one factor per array instance, ``column``: one per array column, ``none``:
    remove); returns ``model``."""
    if mode not in COMPENSATION_MODES:
        raise ValueError(
            f"compensate_drift_: mode must be one of {COMPENSATION_MODES}, got {mode!r}"
        )
    for layer in _programmed_layers(model, "compensate_drift_").values():
        compensate_layer(layer, mode, n_reads)
    return model


def unprogram_(model: nn.Module) -> nn.Module:
    """Forget every layer's programmed state (the forward reads the trainable weights again)."""
    for layer in _layers(model, "unprogram_").values():
        unprogram_layer(layer)
    return model


__all__ = ["SEED_STRIDE", "compensate_drift_", "drift_", "program_", "seed_limit", "unprogram_"]
