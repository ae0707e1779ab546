"""Pixel physics: light to charge, pure functions with explicit generators.

Units are in the names: ``lux`` is the illuminance on the sensor plane, ``e`` electrons, ``s``
seconds, ``um`` micrometres. The noise model is the EMVA 1288 linear camera model (European
Machine Vision Association, Standard 1288 release 4.0, 2021; docs/references.md, "At the edge"):
photon shot noise and dark shot noise are Poisson, the photo-response non-uniformity (PRNU) is a
per-pixel gain, the dark-signal non-uniformity (DSNU) a per-pixel offset, read noise is Gaussian,
and the well clips at its full-well capacity.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Luminous efficacy of monochromatic 555 nm (540 THz) light, lm/W: the SI definition of the
#: candela (BIPM, SI Brochure, 9th edition, 2019).
LUMENS_PER_WATT_555NM = 683.0
PLANCK_J_S = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299_792_458.0
WAVELENGTH_M = 555e-9


def photons_per_lux_s_um2() -> float:
    """Photons per second per um2 for 1 lux of 555 nm light: ``1 / 683 W/m2 / (h c / lambda)``
    = 4.09e3 photons / (s um2 lux)."""
    photon_J = PLANCK_J_S * SPEED_OF_LIGHT_M_S / WAVELENGTH_M
    return 1.0 / LUMENS_PER_WATT_555NM / photon_J * 1e-12


def mean_photoelectrons(scene: Tensor, lux: float, exposure_s: float, pixel_pitch_um: float,
                        quantum_efficiency: float) -> Tensor:
    """Mean photo-electrons per pixel: the scene's relative radiance (``[0, 1]``, 1 = the full
    illuminance ``lux``) times the photon flux on the pixel area, the exposure and the QE."""
    flux = photons_per_lux_s_um2() * lux * pixel_pitch_um**2 * exposure_s * quantum_efficiency
    return scene.clamp(0.0, 1.0) * flux


def fixed_pattern(shape: tuple[int, ...], prnu_fraction: float, dsnu_e: float,
                  generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Per-pixel gain ``1 + N(0, prnu_fraction)`` and offset ``N(0, dsnu_e)`` electrons, drawn
    once per sensor (the fixed pattern)."""
    gain = 1.0 + prnu_fraction * torch.randn(shape, generator=generator)
    offset = dsnu_e * torch.randn(shape, generator=generator)
    return gain, offset


def expose(mean_e: Tensor, *, dark_current_e_per_s: float, exposure_s: float, full_well_e: float,
           read_noise_e: float, gain: Tensor | None = None, offset_e: Tensor | None = None,
           generator: torch.Generator | None = None) -> Tensor:
    """Collected charge per pixel, electrons: ``Poisson(gain * mean_e + dark * t) + offset +
    N(0, read_noise_e)``, clipped to ``[0, full_well_e]``. ``generator=None``: the mean, no
    temporal noise (the zero-noise sensor)."""
    signal = mean_e if gain is None else mean_e * gain
    signal = signal + dark_current_e_per_s * exposure_s
    if generator is not None:
        signal = torch.poisson(signal, generator=generator)
        if read_noise_e > 0.0:
            signal = signal + read_noise_e * torch.randn(signal.shape, generator=generator, device=signal.device)
    if offset_e is not None:
        signal = signal + offset_e
    return signal.clamp(0.0, full_well_e)


def snr_db(mean_e: float, dark_current_e_per_s: float, exposure_s: float, read_noise_e: float) -> float:
    """Temporal SNR of a pixel (EMVA 1288 eq. 15 without quantisation): ``mean / sqrt(mean +
    dark * t + read^2)`` in dB."""
    var = mean_e + dark_current_e_per_s * exposure_s + read_noise_e**2
    return 20.0 * math.log10(mean_e / math.sqrt(var)) if mean_e > 0 else -math.inf
