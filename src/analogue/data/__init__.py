"""Embedded data sets and small models for demos and tests (no downloads)."""

from analogue.data.digits import (
    DigitsData,
    digits_cnn,
    evaluate_accuracy,
    load_digits,
    train_classifier,
)
from analogue.data.mnist import load_mnist5k

__all__ = ["DigitsData", "digits_cnn", "evaluate_accuracy", "load_digits", "load_mnist5k", "train_classifier"]
