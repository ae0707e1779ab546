"""Analog modules: thin shells that call ``analogue.physics`` in their forward."""

from analogue.nn.conv import AnalogConv1d, AnalogConv2d
from analogue.nn.int8 import Int8Conv1d, Int8Conv2d, Int8Linear, quantize_int8_
from analogue.nn.layer import AnalogLayer
from analogue.nn.linear import AnalogHFConv1D, AnalogLinear
from analogue.nn.twins import digital_reason, share_params, twin_for

ANALOG_TWINS = {
    "Linear": AnalogLinear,
    "Conv1d": AnalogConv1d,
    "Conv2d": AnalogConv2d,
}
"""Twin by torch class name (the ``torch.nn`` classes only); :func:`twin_for` matches by class
and also knows Hugging Face's ``Conv1D``."""

__all__ = ["ANALOG_TWINS", "AnalogConv1d", "AnalogConv2d", "AnalogHFConv1D", "AnalogLayer", "AnalogLinear",
           "Int8Conv1d", "Int8Conv2d", "Int8Linear", "digital_reason", "quantize_int8_", "share_params",
           "twin_for"]
