"""Embedded data sets and small models for demos and tests (no downloads)."""

from analogue.data.digits import (
    DigitsData,
    digits_cnn,
    evaluate_accuracy,
    load_digits,
    train_classifier,
)

__all__ = ["DigitsData", "digits_cnn", "evaluate_accuracy", "load_digits", "train_classifier"]
