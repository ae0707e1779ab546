"""Analyses: test loss and accuracy, MVM error, accuracy over time, Monte Carlo, sensitivity, sweeps."""

from analogue.analysis.arrays import ArrayPoint, ArraySizeStudy, array_accuracy, largest_within
from analogue.analysis.drift import AccuracyOverTime, DriftPoint, accuracy_over_time
from analogue.analysis.evaluation import evaluate
from analogue.analysis.hybrid import HybridPlan, apply_hybrid_, plan_hybrid
from analogue.analysis.mvm import mvm_error, mvm_error_table
from analogue.analysis.sensitivity import (
           LayerSensitivity,
           SensitivityResult,
           count_macs,
           sensitivity,
)
from analogue.analysis.sweeps import SweepResult, SweepSpec, pareto_front, sweep

__all__ = [
    "AccuracyOverTime",
    "ArrayPoint",
    "ArraySizeStudy",
    "DriftPoint",
    "HybridPlan",
    "LayerSensitivity",
    "SensitivityResult",
    "SweepResult",
    "SweepSpec",
    "accuracy_over_time",
    "apply_hybrid_",
    "array_accuracy",
    "count_macs",
    "evaluate",
    "largest_within",
    "mvm_error",
    "mvm_error_table",
    "pareto_front",
    "plan_hybrid",
    "sensitivity",
    "sweep",
]


def __getattr__(name: str) -> object:
    """``an.analysis.array_size_study``: the array-size study (accuracy here, cost from
    ``analogue.cost``, so it lives in ``analogue.cost.arrays``), loaded on first use."""
    if name == "array_size_study":
        from analogue.cost import (
            arrays,  # the study needs the cost model: the one lazy import upwards (tests/test_architecture.py)
        )

        return arrays.array_size_study
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
