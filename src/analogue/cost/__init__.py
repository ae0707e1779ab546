"""Energy, latency and area of analog in-memory-computing chips and compiled models.

Pure functions over the same hardware description the compiler uses (``analogue.config.chips.Chip``):

- ``peak(chip)``: datasheet peak TOPS, TOPS/W, area and the energy of one array MVM by component;
- ``estimate_cost(program, batch=1)``: a compiled model's energy, latency, throughput, effective
  TOPS and TOPS/W, per component and per layer, next to the same work on a GPU;
- ``estimate_training(program)``: forward, backward and pulsed in-memory update;
- ``gpu_estimate(program)``: the all-digital reference from datasheet figures;
- ``sweep(chip, **axes)``: vectorised design-space evaluation.

Component models live in :mod:`analogue.cost.components`, their constants and sources in
:mod:`analogue.cost.constants`.
"""

from analogue.cost import components, constants
from analogue.cost.arrays import array_costs, array_size_study
from analogue.cost.estimate import CostReport, estimate_cost, estimate_training, gpu_estimate
from analogue.cost.peak import PeakReport, peak, sweep, sweep_points

__all__ = [
    "CostReport",
    "PeakReport",
    "array_costs",
    "array_size_study",
    "components",
    "constants",
    "estimate_cost",
    "estimate_training",
    "gpu_estimate",
    "peak",
    "sweep",
    "sweep_points",
]
