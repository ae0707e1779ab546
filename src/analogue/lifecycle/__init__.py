"""The model-level verbs, one lifecycle: ``convert_`` / ``to_digital_`` (``convert``: swap layers
for their analog twins and back, with a report of what was converted), ``calibrate_``
(``calibrate``: input and ADC ranges from data; ``calibrate_outputs_``: a per-output affine
correction after programming), ``program_`` / ``drift_`` / ``compensate_drift_``
(``devices``: the conductances the arrays hold over time), ``save`` / ``load`` (``saving``)."""

from analogue.lifecycle.calibrate import (
    calibrate_,
    calibrate_outputs_,
    capture_inputs,
    sample_inputs,
)
from analogue.lifecycle.convert import (
    ConversionReport,
    DigitalLayer,
    analog_layers,
    conversion_report,
    convert_,
    to_digital_,
)
from analogue.lifecycle.devices import compensate_drift_, drift_, program_, unprogram_
from analogue.lifecycle.saving import load, save

__all__ = ["ConversionReport", "DigitalLayer", "analog_layers", "calibrate_", "calibrate_outputs_", "capture_inputs",
           "compensate_drift_", "conversion_report", "convert_", "drift_", "load", "program_",
           "sample_inputs", "save", "to_digital_", "unprogram_"]
