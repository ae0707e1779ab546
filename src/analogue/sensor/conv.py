"""The first convolution computed on the pixels' charge, one ADC per output feature.

``capture`` turns a scene into normalised charge (``physics``: shot noise, dark current, fixed
pattern, full well); ``program_weights`` gives the weights the sensor actually holds
(conductances with the device's programming noise, and/or charge-sharing ratios with their
resolution and mismatch); ``InSensorConv2d`` is the layer: the weighted charge sum of each
receptive field (one ``conv2d``), digitised once per output feature, then the digital bias.
With every effect off it equals ``torch.nn.functional.conv2d`` on the scene.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from analogue.physics.devices import programming_std_uS
from analogue.physics.periphery import adc
from analogue.sensor import physics
from analogue.sensor.config import InSensorConfig, PixelConfig


def full_scale_e(pixel: PixelConfig, lux: float, exposure_s: float) -> float:
    """Expected charge of a full-scale (scene value 1) pixel, electrons, clipped at the full well."""
    one = physics.mean_photoelectrons(torch.ones(()), lux, exposure_s, pixel.pixel_pitch_um,
                                      pixel.quantum_efficiency)
    return min(float(one), pixel.full_well_e)


def capture(scene: Tensor, pixel: PixelConfig, *, lux: float, exposure_s: float,
            gain: Tensor | None = None, offset_e: Tensor | None = None,
            generator: torch.Generator | None = None) -> Tensor:
    """Charge per pixel normalised by :func:`full_scale_e` (1 = a full-scale pixel at this light
    and exposure; the programmable gain before the sums). ``generator=None``: no temporal noise."""
    if lux <= 0 or exposure_s <= 0:
        raise ValueError(f"capture: lux and exposure_s must be > 0, got {lux!r}, {exposure_s!r}")
    mean = physics.mean_photoelectrons(scene, lux, exposure_s, pixel.pixel_pitch_um,
                                       pixel.quantum_efficiency)
    q = physics.expose(mean, dark_current_e_per_s=pixel.dark_current_e_per_s, exposure_s=exposure_s,
                       full_well_e=pixel.full_well_e, read_noise_e=pixel.read_noise_e, gain=gain,
                       offset_e=offset_e, generator=generator)
    dark = pixel.dark_current_e_per_s * exposure_s  # the black level, subtracted (dark frame)
    return (q - dark) / full_scale_e(pixel, lux, exposure_s)


def program_weights(weight: Tensor, cfg: InSensorConfig, generator: torch.Generator | None) -> Tensor:
    """The weights the sensor holds, in weight units: ``|w| / max|w|`` quantised to the
    charge-sharing ratios (``ratio_bits``), with capacitor mismatch, and as a differential
    conductance pair with the device's programming noise. ``generator=None``: no sampling."""
    w_max = weight.abs().max().clamp_min(torch.finfo(weight.dtype).tiny)
    w = weight / w_max
    if cfg.ratio_bits is not None:
        lv = (1 << (cfg.ratio_bits - 1)) - 1
        w = torch.round(w * lv) / lv
    if generator is not None and cfg.capacitor_mismatch_fraction > 0:
        w = w * (1.0 + cfg.capacitor_mismatch_fraction * torch.randn(w.shape, generator=generator))
    if generator is not None and cfg.device.programming.active:
        g_pos, g_neg = w.clamp_min(0.0), (-w).clamp_min(0.0)
        out = []
        for g in (g_pos, g_neg):
            std = programming_std_uS(g, cfg.device.programming, 1.0)
            out.append((g + std * torch.randn(g.shape, generator=generator)).clamp_min(0.0))
        w = out[0] - out[1]
    return w * w_max


class InSensorConv2d(nn.Module):
    """A trained ``nn.Conv2d`` (one input channel: the pixel array) computed in the sensor.

    ``program_(seed)`` samples the held weights and the fixed pattern once; ``calibrate_(scenes)``
    sets each output ADC's range from clean scenes; ``forward(scene, lux=, exposure_s=,
    generator=)`` exposes, sums and digitises (``generator=None``: no temporal noise).
    """

    def __init__(self, conv: nn.Conv2d, cfg: InSensorConfig, image_hw: tuple[int, int]) -> None:
        super().__init__()
        if conv.in_channels != 1 or conv.groups != 1 or conv.dilation != (1, 1):
            raise ValueError("InSensorConv2d: the conv must read one channel (the pixel array), "
                             "groups=1, dilation=1")
        self.cfg = cfg
        self.stride, self.padding = conv.stride, conv.padding
        self.weight = nn.Parameter(conv.weight.detach().clone(), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
        self.register_buffer("held", self.weight.detach().clone())
        self.register_buffer("gain", torch.ones(image_hw))
        self.register_buffer("offset_e", torch.zeros(image_hw))
        self.register_buffer("bound", torch.full((conv.out_channels, 1, 1), float("inf")))

    def program_(self, seed: int | None) -> InSensorConv2d:
        """Sample the held weights and the pixels' fixed pattern (``seed=None``: exact, none)."""
        g = None if seed is None else torch.Generator().manual_seed(seed)
        self.held = program_weights(self.weight, self.cfg, g)
        if g is not None:
            self.gain, self.offset_e = physics.fixed_pattern(tuple(self.gain.shape), self.cfg.pixel.prnu_fraction,
                                                             self.cfg.pixel.dsnu_e, g)
        return self

    def weighted_sum(self, charge: Tensor) -> Tensor:
        """The charge-domain sums, before the ADCs: ``conv2d(charge, held)``."""
        return F.conv2d(charge, self.held, None, self.stride, self.padding)

    @torch.no_grad()
    def calibrate_(self, scenes: Tensor) -> InSensorConv2d:
        """Each output ADC's range: the largest clean |sum| over ``scenes`` (relative units)."""
        y = self.weighted_sum(scenes)
        self.bound = y.abs().amax(dim=(0, 2, 3)).view(-1, 1, 1)
        return self

    def forward(self, scene: Tensor, *, lux: float | None = None, exposure_s: float | None = None,
                generator: torch.Generator | None = None) -> Tensor:
        """``scene``: relative radiance ``(N, 1, H, W)`` in [0, 1]. ``lux=None``: the scene taken as
        the charge itself (no exposure, the zero-noise sensor)."""
        if lux is None or exposure_s is None:
            charge = scene
        else:
            charge = capture(scene, self.cfg.pixel, lux=lux, exposure_s=exposure_s, gain=self.gain,
                             offset_e=self.offset_e, generator=generator)
        y = self.weighted_sum(charge)
        if self.cfg.adc_bits is not None:
            y = adc(y, self.bound, self.cfg.adc_bits)
        return y if self.bias is None else y + self.bias.view(-1, 1, 1)
