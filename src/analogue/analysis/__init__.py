"""Analyses: MVM error, accuracy over time, Monte Carlo, sensitivity, sweeps."""

from .mvm import mvm_error, mvm_error_table

__all__ = ["mvm_error", "mvm_error_table"]
