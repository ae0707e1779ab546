"""The array-size study: accuracy with line resistance (``analysis.arrays``) and the chip's
energy, latency and area (this package) over array sizes, side by side.

``array_size_study(model, data, base_config, chip, sizes=..., r_wire=...)`` (also
``an.array_size_study``): for each array size ``n`` the chip is resized to ``n x n`` arrays with
the same cross-points (``compile.tiles.resize_arrays``), the digital model compiled onto it and
costed (``estimate_cost``); the accuracy comes from ``analysis.arrays.array_accuracy``. It lives
here because the architecture keeps ``analysis`` below ``compile`` and ``cost``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from analogue._util import inputs
from analogue._util.progress import Progress
from analogue.analysis.arrays import (
    DEFAULT_R_WIRE,
    DEFAULT_SIZES,
    ArrayCost,
    ArraySizeStudy,
    RWire,
    array_accuracy,
    check_sizes,
    largest_within,
)
from analogue.analysis.evaluation import labelled_batches
from analogue.compile import compile as compile_model
from analogue.compile.tiles import resize_arrays
from analogue.config import AnalogConfig
from analogue.config.chips import Chip
from analogue.cost.estimate import estimate_cost

__all__ = ["array_costs", "array_size_study", "example_from"]


def example_from(data: object) -> Any:
    """One example of labelled ``data`` as ``an.compile`` takes it: a tensor, a tuple of
    positional inputs, or a dict of keyword inputs (labels dropped)."""
    batch = next(iter(labelled_batches(data, "array_size_study")))
    one = inputs.select(batch, 0, 1)
    if one.kwargs:
        return {k: v for k, v in one.kwargs.items() if k != "labels"}
    return one.args[0] if len(one.args) == 1 else one.args


def array_costs(model: nn.Module, example_inputs: Any, chip: Chip, sizes: Sequence[int] = DEFAULT_SIZES,
                batch: int = 1) -> list[ArrayCost]:
    """The chip's cost of running ``model`` per array size: ``estimate_cost(an.compile(model,
    example_inputs, resize_arrays(chip, n, n), reprogram=True), batch)`` for each ``n`` in
    ``sizes``. Larger arrays hold the same cross-points in fewer arrays, and a layer smaller than
    an array still takes a whole one, so a model that fits at one size may not at another: there
    it is time-multiplexed by reprogramming (``ArrayCost.reprogram_rounds`` > 1; the writes
    count in the energy and latency) rather than left without a cost."""
    out = []
    for size in check_sizes(sizes, "array_costs"):
        resized = resize_arrays(chip, size, size)
        program = compile_model(model, example_inputs, resized, build_model=False, progress=False, reprogram=True)
        rep = estimate_cost(program, batch=batch)
        out.append(ArrayCost(size, rep.energy_J, rep.latency_s, rep.area_mm2, program.arrays_used,
                             resized.n_cores, resized.arrays_per_core, program.reprogram_rounds))
    return out


def array_size_study(
    model: nn.Module,
    data: object,
    base_config: AnalogConfig | None,
    chip: Chip,
    sizes: Sequence[int] = DEFAULT_SIZES,
    r_wire: Sequence[RWire] = DEFAULT_R_WIRE,
    *,
    instances: int = 4,
    max_loss: float = 0.01,
    example_inputs: Any = None,
    calibration_data: object = None,
    calibrate_when: str = "before",
    seed: int = 0,
    batch: int = 1,
    instances_per_pass: int = 4,
    batch_size: int = 256,
    confidence: float = 0.95,
    output_fn: inputs.OutputFn | None = None,
    progress: Progress = None,
) -> ArraySizeStudy:
    """How large an array may be: the digital ``model``'s accuracy on labelled ``data`` with IR drop
    on, per array size and wire resistance (``analysis.arrays.array_accuracy``: ``instances``
    programmed Monte Carlo instances, mean and spread), next to the chip's energy per inference,
    batch latency and area at that array size (``array_costs``, ``batch`` inputs), and the
    largest array within ``max_loss`` (a fraction: 0.01 = one point) of the digital accuracy.

    ``base_config``: how the layers are simulated (``None``: the chip's own, ``chip.array``); its
    tile and circuit are set per point. ``sizes``: square arrays; ``r_wire``: ohm per segment,
    one value for rows and columns or ``(r_row, r_col)`` pairs. ``example_inputs``: for
    ``an.compile`` (default: the first example of ``data``). ``calibration_data``: inputs for
    ``an.calibrate_`` of every converted copy (needed for a ``"calibrated"`` DAC), ``"before"``
    programming or ``"after"`` it (``calibrate_when``, ``analysis.arrays.CALIBRATE_WHEN``). Time: see
    ``array_accuracy`` (layers above 512 in both dimensions are slow to set up exactly).
    """
    if not isinstance(chip, Chip):
        raise TypeError(f"array_size_study: chip must be an an.chips.Chip, got {type(chip).__name__}")
    largest_within([], 0.0, max_loss)  # a bad max_loss fails before any work
    cfg = chip.array if base_config is None else base_config
    points, digital = array_accuracy(
        model, data, cfg, sizes, r_wire, instances=instances, instances_per_pass=instances_per_pass,
        calibration_data=calibration_data, calibrate_when=calibrate_when, seed=seed, confidence=confidence, batch_size=batch_size,
        output_fn=output_fn, progress=progress)
    example = example_from(data) if example_inputs is None else example_inputs
    costs = array_costs(model, example, chip, sizes, batch)
    note = (f"cost: {chip.name} resized to each array size with the same cross-points "
            f"({chip.n_arrays} arrays of {chip.array_rows}x{chip.array_cols}), core area from components")
    return ArraySizeStudy(tuple(points), digital, float(max_loss), tuple(costs), chip.name, (note,))
