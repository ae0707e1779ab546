"""The analog layer's former home, kept importable: ``AnalogLayer`` lives in ``nn.layer``, the
reused buffers in ``nn.buffers``, the weight readers in ``nn.readers``."""

from analogue.nn.buffers import dense_flat, shaped_buffer, strided_like, thread_buffers
from analogue.nn.layer import AnalogLayer, copy_params, simulated_forward

__all__ = ["AnalogLayer", "copy_params", "dense_flat", "shaped_buffer", "simulated_forward",
           "strided_like", "thread_buffers"]
