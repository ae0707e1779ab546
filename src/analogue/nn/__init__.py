"""Analog modules: thin shells that call ``analogue.physics`` in their forward."""

from .base import AnalogLayer
from .conv import AnalogConv1d, AnalogConv2d
from .int8 import Int8Conv1d, Int8Conv2d, Int8Linear, quantize_int8_
from .linear import AnalogLinear

ANALOG_TWINS = {
    "Linear": AnalogLinear,
    "Conv1d": AnalogConv1d,
    "Conv2d": AnalogConv2d,
}

__all__ = ["ANALOG_TWINS", "AnalogConv1d", "AnalogConv2d", "AnalogLayer", "AnalogLinear", "Int8Conv1d",
           "Int8Conv2d", "Int8Linear", "quantize_int8_"]
