"""Analyses: test loss and accuracy, MVM error, accuracy over time, Monte Carlo, sensitivity, sweeps."""

from .drift import AccuracyOverTime, DriftPoint, accuracy_over_time
from .evaluation import evaluate
from .hybrid import HybridPlan, apply_hybrid_, plan_hybrid
from .mvm import mvm_error, mvm_error_table
from .sensitivity import LayerSensitivity, SensitivityResult, count_macs, sensitivity

__all__ = ["AccuracyOverTime", "DriftPoint", "HybridPlan", "LayerSensitivity", "SensitivityResult",
           "accuracy_over_time", "apply_hybrid_", "count_macs", "evaluate", "mvm_error", "mvm_error_table",
           "plan_hybrid", "sensitivity"]
