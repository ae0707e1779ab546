"""Training inside the arrays: pulsed-update optimizers (``optimizers``: analog SGD, mixed
precision, Tiki-Taka, the transposed-read backward) over simulated pulsed arrays (``arrays``)."""

from analogue.train.inmemory.arrays import PulsedArray
from analogue.train.inmemory.optimizers import (
    AnalogSGD,
    InMemoryOptimizer,
    MixedPrecision,
    TikiTaka,
    TransposedRead,
    attach_analog_backward_,
    digital_parameters,
)

__all__ = ["AnalogSGD", "InMemoryOptimizer", "MixedPrecision", "PulsedArray", "TikiTaka", "TransposedRead",
           "attach_analog_backward_", "digital_parameters"]
