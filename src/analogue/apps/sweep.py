"""The standard sweep: accuracy and cost of one model at every point (``analogue sweep``).

``analysis.sweeps.sweep`` runs the points on Ray and keeps the table; this module says what a point
measures (``measure_point``) and builds the model a sweep names (``load_model``):

- accuracy: the model converted with the point's ``chip.array`` (``lifecycle.convert_``, seed
  of the point), its ranges calibrated on the first 256 training inputs, then the mean top-1
  accuracy over ``spec.repeats`` programming instances at the point's ``t_s`` with
  ``spec.compensation`` (``analysis.accuracy_over_time``, which programs and drifts a copy);
- cost: that converted model compiled onto the point's chip (``compile.compile``) and priced
  (``cost.estimate_cost``, batch 1): energy per inference, latency, area.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from analogue._util.progress import Progress
from analogue.analysis.drift import accuracy_over_time
from analogue.analysis.sweeps import SweepResult, SweepSpec, point_chip, point_settings, sweep
from analogue.apps.train_config import _resolve
from analogue.compile import compile as compile_model
from analogue.config import ConfigError
from analogue.cost.estimate import estimate_cost
from analogue.lifecycle.calibrate import calibrate_
from analogue.lifecycle.convert import convert_


def digits_mlp(seed: int = 0, epochs: int = 20) -> tuple[nn.Module, Any]:
    """A 64-64-10 MLP trained on scikit-learn's digits (flat), and the data (about 1 s)."""
    from analogue.data.digits import load_digits, train_classifier
    from analogue.data.models import mlp

    data = load_digits(flat=True, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = mlp((64, 64, 10))
    return train_classifier(model, data, epochs=epochs, seed=seed), data


def digits_cnn(seed: int = 0, epochs: int = 15) -> tuple[nn.Module, Any]:
    """The demo's CNN trained on digits, and the data (a few seconds)."""
    from analogue.data.digits import digits_cnn as build
    from analogue.data.digits import load_digits, train_classifier

    data = load_digits(seed=seed)
    with torch.random.fork_rng(devices=[]):
        return train_classifier(build(seed), data, epochs=epochs, seed=seed), data


BUILTINS: dict[str, Callable[..., tuple[nn.Module, Any]]] = {"digits_mlp": digits_mlp, "digits_cnn": digits_cnn}
"""Models a sweep names without code of its own."""


def load_model(name: str, kwargs: dict[str, Any] | None = None, *, trust_code: bool = False
               ) -> tuple[nn.Module, Any]:
    """``(model, data)`` of a sweep's ``model``: a builtin, or ``MODULE:FUNCTION`` returning
    ``(model, data)`` (outside ``analogue`` only with ``trust_code``). ``data``: an object with
    tensors ``x_test``/``y_test`` (and ``x_train`` to calibrate on)."""
    fn = _resolve(name, BUILTINS, "sweep.model", trust_code)
    try:
        got = fn(**(kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"sweep.model_kwargs: {name!r} does not take {kwargs} ({exc})") from None
    if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], nn.Module)):
        raise ConfigError(f"sweep.model: {name!r} must return (model, data), got {type(got).__name__}")
    model, data = got
    for attr in ("x_test", "y_test"):
        if not isinstance(getattr(data, attr, None), Tensor):
            raise ConfigError(f"sweep.model: {name!r} returned data without a tensor {attr!r}")
    return model.eval(), data


def measure_point(context: tuple[SweepSpec, nn.Module, Any, str], point: dict[str, Any]) -> dict[str, float]:
    """Accuracy and cost of one point (module docstring); ``context``: ``(spec, model, data,
    device)``. Returns ``accuracy`` (mean over the instances, in [0, 1]), ``accuracy_ci_low``/
    ``_high`` (95 % Student-t interval), ``energy_J`` per inference, ``latency_s``,
    ``area_mm2`` and ``tops_per_W``."""
    spec, model, data, device = context
    chip = point_chip(spec, point)
    t_s, seed = point_settings(spec, point)
    analog = copy.deepcopy(model).to(device)
    convert_(analog, chip.array, seed=seed)
    x_train = getattr(data, "x_train", None)
    if isinstance(x_train, Tensor):
        calibrate_(analog, x_train[:256].to(device))
    test = (data.x_test.to(device), data.y_test.to(device))
    acc = accuracy_over_time(analog, test, (t_s,), spec.repeats, compensation=(spec.compensation,),
                             seed=seed, batch_size=spec.batch_size, progress=False).point(t_s, spec.compensation)
    cost = estimate_cost(compile_model(analog, test[0][:1], chip, build_model=False, progress=False))
    return {"accuracy": acc.mean, "accuracy_ci_low": acc.ci_low, "accuracy_ci_high": acc.ci_high,
            "energy_J": cost.energy_J, "latency_s": cost.latency_s, "area_mm2": cost.area_mm2,
            "tops_per_W": cost.tops_per_W}


def run_sweep(spec: SweepSpec | str | os.PathLike[str], out: str | os.PathLike[str], *, address: str | None = None,
              num_cpus: int | None = None, rerun: str = "missing", device: str = "cpu", trust_code: bool = False,
              progress: Progress = None) -> SweepResult:
    """Build the spec's model once, then ``analysis.sweep`` with ``measure_point``; ``spec``: a
    ``SweepSpec`` or a YAML file. The table, the Pareto plot (``out/pareto.png``) and the
    front (``out/pareto.json``) are written under ``out``."""
    from analogue._util.tables import save_json

    if not isinstance(spec, SweepSpec):
        spec = SweepSpec.from_yaml(spec)
    torch.device(device)  # a bad device string fails here
    model, data = load_model(spec.model, spec.model_kwargs, trust_code=trust_code)
    result = sweep(spec, measure_point, (spec, model, data, device), out=out, address=address,
                   num_cpus=num_cpus, rerun=rerun, progress=progress)
    if any(r.get("status") == "ok" for r in result.rows):
        result.plot(os.path.join(out, "pareto.png"))
    save_json(os.path.join(out, "pareto.json"), {"spec": spec.to_dict(), "front": result.pareto(),
                                                 "failed": result.failed})
    return result


__all__ = ["BUILTINS", "digits_cnn", "digits_mlp", "load_model", "measure_point", "run_sweep"]
