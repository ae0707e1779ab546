"""The sensor's description, data only: the pixel (``PixelConfig``) and the in-sensor first
layer (``InSensorConfig``). Defaults are a typical 3 um back-side-illuminated CMOS pixel
(docs/references.md, "At the edge": EMVA 1288 datasheet ranges of industrial CMOS sensors)."""

from __future__ import annotations

from dataclasses import dataclass, field

from analogue._util.serial import Serialisable
from analogue._util.validate import (
    check_bits,
    check_fraction,
    check_nonnegative,
    check_positive,
    check_positive_fraction,
    require,
)
from analogue.config.device import DeviceConfig


@dataclass(frozen=True)
class PixelConfig(Serialisable):
    """One pixel: pitch, quantum efficiency at 555 nm, full well, dark current, temporal read
    noise, and the fixed pattern (PRNU as a gain fraction, DSNU as an offset in electrons)."""

    pixel_pitch_um: float = 3.0
    quantum_efficiency: float = 0.6
    full_well_e: float = 10_000.0
    dark_current_e_per_s: float = 20.0
    read_noise_e: float = 3.0
    prnu_fraction: float = 0.01
    dsnu_e: float = 2.0
    version: int = 1

    def __post_init__(self) -> None:
        w = "PixelConfig"
        check_positive(self.pixel_pitch_um, f"{w}.pixel_pitch_um", fix="e.g. 3.0")
        check_positive_fraction(self.quantum_efficiency, f"{w}.quantum_efficiency")
        check_positive(self.full_well_e, f"{w}.full_well_e", fix="e.g. 10000")
        for name in ("dark_current_e_per_s", "read_noise_e", "prnu_fraction", "dsnu_e"):
            check_nonnegative(getattr(self, name), f"{w}.{name}")
        require(self.prnu_fraction < 0.5, f"{w}.prnu_fraction", "must be < 0.5 (a gain spread)")


@dataclass(frozen=True)
class InSensorConfig(Serialisable):
    """The first convolution computed on the pixels' charge.

    Weights are held as programmable conductances of ``device`` (its programming noise applies,
    a differential pair per weight) and/or as charge-sharing capacitor ratios of ``ratio_bits``
    bits with ``capacitor_mismatch_fraction`` relative mismatch (``None`` / 0: exact). The charge
    is normalised by the expected full-scale signal (a programmable gain, as auto-exposure does),
    and each output feature has one ADC of ``adc_bits`` (``None``: ideal) over the range set by
    calibration. Conventional pipeline for the energy comparison: one ``pixel_adc_bits`` ADC
    conversion per pixel. ``node_nm``: the sensor's logic process.
    """

    pixel: PixelConfig = field(default_factory=PixelConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    ratio_bits: int | None = None
    capacitor_mismatch_fraction: float = 0.0
    adc_bits: int | None = 8
    pixel_adc_bits: int = 10
    node_nm: float = 65.0
    version: int = 1

    def __post_init__(self) -> None:
        w = "InSensorConfig"
        require(isinstance(self.pixel, PixelConfig), f"{w}.pixel", "must be a PixelConfig")
        require(isinstance(self.device, DeviceConfig), f"{w}.device", "must be a DeviceConfig")
        if self.ratio_bits is not None:
            check_bits(self.ratio_bits, f"{w}.ratio_bits", lo=2)
        check_fraction(self.capacitor_mismatch_fraction, f"{w}.capacitor_mismatch_fraction")
        if self.adc_bits is not None:
            check_bits(self.adc_bits, f"{w}.adc_bits")
        check_bits(self.pixel_adc_bits, f"{w}.pixel_adc_bits")
        check_positive(self.node_nm, f"{w}.node_nm", fix="e.g. 65")
