"""Analyses: test loss and accuracy, MVM error, accuracy over time, Monte Carlo, sensitivity, sweeps."""

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
from analogue.analysis.sweep import SweepResult, SweepSpec, pareto_front, sweep

__all__ = ["AccuracyOverTime", "DriftPoint", "HybridPlan", "LayerSensitivity", "SensitivityResult",
           "SweepResult", "SweepSpec", "accuracy_over_time", "apply_hybrid_", "count_macs", "evaluate", "mvm_error",
           "mvm_error_table", "pareto_front", "plan_hybrid", "sensitivity", "sweep"]
