"""Energy, latency and area of analog in-memory-computing chips and compiled models.

Pure functions over the same hardware description the compiler uses (``analogue.config.chips.Chip``):

- ``peak(chip)``: datasheet peak TOPS, TOPS/W, area and the energy of one array MVM by component;
- ``estimate_cost(program, batch=1)``: a compiled model's energy, latency, throughput, effective
  TOPS and TOPS/W, per component and per layer, next to the same work on a GPU;
- ``estimate_training(program)``: forward, backward and pulsed in-memory update;
- ``gpu_estimate(program)``: the all-digital reference from datasheet figures (an upper bound);
- ``baselines``: a GPU, a server CPU and an edge NPU by roofline, compared in plain words
  (``compare_baselines``, ``compare_sentence``);
- ``reprogram``: a time-multiplexed program's writes per write and per inference, and its wear
  against the device's endurance (``write_schedule``, ``EnduranceWarning``);
- ``sweep(chip, **axes)``: vectorised design-space evaluation;
- ``analogue.cost.validation.validate()``: published chips (``analogue.cost.chips_table``) against
  the model, fitted in-sample and leave-one-out (``analogue cost --validate``).

Component models live in :mod:`analogue.cost.components`, their constants and sources in
:mod:`analogue.cost.constants`.
"""

from analogue.cost import attention, baselines, components, constants, reprogram
from analogue.cost.arrays import array_costs, array_size_study
from analogue.cost.baselines import Baseline, baseline_estimate, compare_baselines, compare_sentence
from analogue.cost.estimate import CostReport, estimate_cost, estimate_training, gpu_estimate
from analogue.cost.peak import PeakReport, peak, sweep, sweep_points
from analogue.cost.reprogram import EnduranceWarning, WriteSchedule, write_schedule

__all__ = [
    "Baseline",
    "CostReport",
    "EnduranceWarning",
    "PeakReport",
    "WriteSchedule",
    "attention",
    "baseline_estimate",
    "baselines",
    "compare_baselines",
    "compare_sentence",
    "array_costs",
    "array_size_study",
    "components",
    "constants",
    "estimate_cost",
    "estimate_training",
    "gpu_estimate",
    "peak",
    "reprogram",
    "sweep",
    "sweep_points",
    "write_schedule",
]
