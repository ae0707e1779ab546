"""Analyses: MVM error, accuracy over time, Monte Carlo, sensitivity, sweeps."""

from .drift import AccuracyOverTime, DriftPoint, accuracy_over_time
from .mvm import mvm_error, mvm_error_table

__all__ = ["AccuracyOverTime", "DriftPoint", "accuracy_over_time", "mvm_error", "mvm_error_table"]
