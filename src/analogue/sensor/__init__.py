"""In-sensor computing: pixel physics (``physics``), the sensor's description (``config``) and
the first convolution computed on the pixels' charge with one ADC per output feature (``conv``).
Energy per frame lives in ``analogue.cost.edge``; the study in ``analogue.apps.sensor``."""

from analogue.sensor import physics
from analogue.sensor.config import InSensorConfig, PixelConfig
from analogue.sensor.conv import InSensorConv2d, capture, full_scale_e, program_weights

__all__ = ["InSensorConfig", "InSensorConv2d", "PixelConfig", "capture", "full_scale_e", "physics",
           "program_weights"]
