"""Device models: what happens to a conductance between the trained weight and the read current.

Pure functions on tensors (conductances in microsiemens, times in seconds, temperatures in
kelvin); randomness only through an explicit ``torch.Generator``; inputs are never modified.
The parameters live in ``analogue.config.DeviceConfig`` and its sections.

The order of events for one device (``program_devices`` then ``devices_at``):

1. target: the normalised weight mapped to a differential pair, rounded to the device's finite
   levels and capped at the range left by aging (``device_targets``);
2. programming (once): write noise ``N(0, sigma_prog(g))`` and device-to-device gain, clamp at
   ``G >= 0``; stuck-on/off faults; drift exponent ``nu`` per device (``program_devices``);
3. at time ``t`` (``devices_at``): power-law drift ``((t_eff + t0) / t0) ** -nu`` with
   ``t_eff = t * arrhenius_factor(T)``, relaxation, accumulated 1/f read noise, the conductance
   temperature coefficient; stuck devices stay where they are.

Sources: Nandakumar et al., "Phase-change memory models for deep learning training and
inference", ICECS 2019, and Joshi et al., Nat. Commun. 11, 2473 (2020) for the PCM statistics
(docs/references.md section 2); Wan et al., Nature 608, 504 (2022) for RRAM relaxation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from analogue.config import (
    Aging,
    DeviceConfig,
    Drift,
    Levels,
    ProgrammingNoise,
    ReadNoise,
    Temperature,
)

K_B_EV_PER_K = 8.617333262e-5
"""Boltzmann constant in eV/K (CODATA 2018)."""

STUCK_OFF = 1
STUCK_ON = 2
"""Fault codes of ``ProgrammedDevices.stuck`` (0: healthy)."""


# -- 1. targets ---------------------------------------------------------------------------------
def aging_range_fraction(cycles: float, aging: Aging) -> float:
    """Fraction of the conductance range ``g_max - g_min`` still reachable after ``cycles``
    programming cycles (1 for a fresh device). Raises once the range is gone."""
    if not (isinstance(cycles, (int, float)) and math.isfinite(cycles) and cycles >= 0):
        raise ValueError(f"aging: programming cycles must be a finite number >= 0, got {cycles!r}")
    if not aging.active:
        return 1.0
    frac = 1.0 - aging.range_loss_per_decade * math.log10(max(cycles / aging.onset_cycles, 1.0))
    if frac <= 0.0:
        raise ValueError(
            f"aging: after {cycles:g} programming cycles the device has no conductance range left "
            f"(Aging.range_loss_per_decade={aging.range_loss_per_decade}); program it fewer times"
        )
    return frac


def quantize_levels(g_norm: Tensor, levels: Levels) -> Tensor:
    """Round normalised conductances ``(G - g_min) / (g_max - g_min)`` in ``[0, 1]`` to the
    device's ``levels.per_device`` equally spaced levels (identity for an analog device)."""
    if levels.per_device is None:
        return g_norm
    steps = levels.per_device - 1
    return torch.round(g_norm.clamp(0.0, 1.0) * steps) / steps


def device_targets(
    w_n: Tensor, g_max_uS: float, g_min_uS: float, levels: Levels, range_fraction: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Target conductances ``(G+, G-)`` in uS for normalised weights ``w_n`` in ``[-1, 1]``.

    The positive part goes to ``G+``, the negative part to ``G-`` (the other device at
    ``g_min``), rounded to the finite levels, and capped at ``g_min + range_fraction * span``
    (aging: a worn device cannot reach the top of its range).
    """
    span = g_max_uS - g_min_uS
    out = []
    for part in (
        w_n.clamp(0.0, 1.0),
        torch.neg(w_n).clamp_(0.0, 1.0),
    ):  # fresh tensors: in place below
        part = quantize_levels(part, levels)
        if range_fraction < 1.0:
            part = part.clamp_(max=range_fraction)
        out.append(part.mul_(span).add_(g_min_uS))
    return out[0], out[1]


# -- 2. programming -----------------------------------------------------------------------------
def programming_std_uS(g: Tensor, prog: ProgrammingNoise, g_max_uS: float) -> Tensor:
    """Write-noise standard deviation in uS at ``g = G_target / g_max`` (polynomial in ``g``).

    PCM (Nandakumar et al. 2019): ``(0.26348 + 1.9650 g - 1.1731 g^2) * g_max_uS / 25``.
    """
    coeffs = prog.std_poly_frac_gmax
    if not coeffs:
        return torch.zeros_like(g)
    out = torch.full_like(g, coeffs[-1])
    for c in reversed(coeffs[:-1]):  # Horner, in place on the fresh buffer
        out.mul_(g).add_(c)
    return out.clamp_min_(0.0).mul_(g_max_uS)


def drift_exponent_stats(g: Tensor, drift: Drift) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of the drift exponent at ``g = G_target / g_max``.

    PCM (Joshi et al. 2020): ``mu = clip(-0.0155 ln g + 0.0244, 0.049, 0.1)``,
    ``sigma = clip(-0.0125 ln g - 0.0059, 0.008, 0.045)``, ``g`` floored at ``1e-7``.
    """
    ln_g = g.clamp_min(drift.g_floor).log_()
    mu = (
        torch.mul(ln_g, drift.nu_mean_per_ln_g)
        .add_(drift.nu_mean_at_g1)
        .clamp_(*drift.nu_mean_bounds)
    )
    sd = ln_g.mul_(drift.nu_std_per_ln_g).add_(drift.nu_std_at_g1).clamp_(*drift.nu_std_bounds)
    return mu, sd


Normal = Callable[[tuple[int, ...]], Tensor]
"""A source of standard-normal samples: ``normal(shape)`` returns a new tensor of that shape."""


def normal_sampler(generator: torch.Generator, like: Tensor, normal: Normal | None = None) -> Normal:
    """``normal``, or ``torch.randn`` from ``generator`` in ``like``'s dtype and device."""
    if normal is not None:
        return normal
    return lambda shape: torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)


def sample_drift_exponents(g: Tensor, drift: Drift, generator: torch.Generator,
                           normal: Normal | None = None) -> Tensor:
    """One exponent per device, ``nu = |N(mu(g), sigma(g))|`` (``normal``: see ``program_devices``)."""
    mu, sd = drift_exponent_stats(g, drift)
    z = normal_sampler(generator, g, normal)(tuple(g.shape))
    return z.mul_(sd).add_(mu).abs_()


def sample_faults(
    shape: tuple[int, ...],
    stuck_on_rate: float,
    stuck_off_rate: float,
    generator: torch.Generator,
    device: torch.device | None = None,
) -> Tensor:
    """``int8`` fault codes: ``STUCK_ON`` with probability ``stuck_on_rate``, ``STUCK_OFF`` with
    ``stuck_off_rate``, 0 otherwise (independent per device)."""
    for name, r in (("stuck_on_rate", stuck_on_rate), ("stuck_off_rate", stuck_off_rate)):
        if not (0.0 <= r <= 1.0):
            raise ValueError(f"sample_faults: {name} is a rate and must lie in [0, 1], got {r!r}")
    u = torch.rand(shape, generator=generator, device=device)
    codes = torch.zeros(shape, dtype=torch.int8, device=device)
    codes[u < stuck_on_rate] = STUCK_ON
    codes[(u >= stuck_on_rate) & (u < stuck_on_rate + stuck_off_rate)] = STUCK_OFF
    return codes


@dataclass(frozen=True)
class ProgrammedDevices:
    """One programming of a set of devices: conductances just after programming ``g_uS``,
    drift exponents ``nu`` (``None`` without drift) and fault codes ``stuck`` (``None``
    without faults), all of the targets' shape."""

    g_uS: Tensor
    nu: Tensor | None
    stuck: Tensor | None


def program_devices(
    g_target_uS: Tensor,
    dev: DeviceConfig,
    g_max_uS: float,
    g_min_uS: float,
    generator: torch.Generator,
    normal: Normal | None = None,
) -> ProgrammedDevices:
    """Program devices to ``g_target_uS`` once: write noise, device-to-device gain, faults and
    drift exponents, in that order of random draws. ``G >= 0`` always.

    ``normal``: where the Gaussian draws come from (default ``torch.randn`` from ``generator``;
    hardware-aware training passes its fast per-batch source); faults always use ``generator``.
    """
    g = g_target_uS / g_max_uS
    shape = tuple(g.shape)
    randn = normal_sampler(generator, g, normal)
    if dev.programming.active:
        out = randn(shape)
        out.mul_(programming_std_uS(g, dev.programming, g_max_uS)).add_(g_target_uS)
    else:
        out = g_target_uS.clone()
    if dev.variability.active:
        gain = (
            randn(shape)
            .mul_(dev.variability.gain_std_rel)
            .add_(1.0)
        )
        out.mul_(gain)
        del gain
    out.clamp_min_(0.0)
    stuck = None
    if dev.faults.active:
        stuck = sample_faults(
            tuple(out.shape),
            dev.faults.stuck_on_rate,
            dev.faults.stuck_off_rate,
            generator,
            out.device,
        )
        out = apply_faults(out, stuck, g_max_uS, g_min_uS)
    nu = sample_drift_exponents(g, dev.drift, generator, normal) if dev.drift.active else None
    if nu is not None and stuck is not None:
        nu = nu.masked_fill(stuck != 0, 0.0)
    return ProgrammedDevices(out, nu, stuck)


def apply_faults(g_uS: Tensor, stuck: Tensor, g_max_uS: float, g_min_uS: float) -> Tensor:
    """Stuck-on devices read ``g_max``, stuck-off devices ``g_min``; the rest unchanged."""
    out = g_uS.masked_fill(stuck == STUCK_ON, g_max_uS)
    return out.masked_fill(stuck == STUCK_OFF, g_min_uS)


# -- 3. over time -------------------------------------------------------------------------------
def check_time(t_s: float, where: str = "t_s") -> float:
    """A device time in seconds: finite and >= 0."""
    if (
        isinstance(t_s, bool)
        or not isinstance(t_s, (int, float))
        or not math.isfinite(t_s)
        or t_s < 0
    ):
        raise ValueError(
            f"{where}: time since programming must be a finite number of seconds >= 0, got {t_s!r}"
        )
    return float(t_s)


def check_temperature(temperature_k: float, where: str = "temperature_k") -> float:
    """A temperature in kelvin: finite and > 0 (not Celsius: 25 C is 298.15 K)."""
    if (
        isinstance(temperature_k, bool)
        or not isinstance(temperature_k, (int, float))
        or not math.isfinite(temperature_k)
        or temperature_k <= 0
    ):
        raise ValueError(
            f"{where}: must be a finite temperature in kelvin > 0 (25 C = 298.15 K), "
            f"got {temperature_k!r}"
        )
    return float(temperature_k)


def arrhenius_factor(temperature_k: float, temp: Temperature) -> float:
    """How much faster drift and relaxation run at ``temperature_k`` than at ``temp.reference_k``:
    ``exp(Ea / k_B * (1 / T_ref - 1 / T))`` (1 at the reference or without an activation energy)."""
    t = check_temperature(temperature_k)
    if temp.drift_activation_eV == 0.0:
        return 1.0
    return math.exp(temp.drift_activation_eV / K_B_EV_PER_K * (1.0 / temp.reference_k - 1.0 / t))


def drift_factor(t_s: float, nu: Tensor, t0_s: float) -> Tensor:
    """``((t + t0) / t0) ** -nu``: the fraction of its programmed conductance a device keeps."""
    return torch.mul(nu, -math.log((check_time(t_s) + t0_s) / t0_s)).exp_()


def flicker_q_s(g: Tensor, rn: ReadNoise) -> Tensor:
    """``Q_s = min(coeff / max(g ** exponent, floor), max)`` (PCM: 0.0088, 0.65, 1e-3, 0.2)."""
    q = g.clamp_min(0.0).pow_(rn.flicker_g_exponent).clamp_min_(rn.flicker_g_floor)
    return q.reciprocal_().mul_(rn.flicker_coeff).clamp_max_(rn.flicker_max)


def flicker_std_rel(g: Tensor, t_s: float, rn: ReadNoise, t0_s: float) -> Tensor:
    """Relative std of the accumulated 1/f read noise at time ``t_s`` after programming:
    ``Q_s(g) * sqrt(ln((t + t0 + t_read) / (2 t_read)))``."""
    t = check_time(t_s)
    return flicker_q_s(g, rn).mul_(
        math.sqrt(math.log((t + t0_s + rn.t_read_s) / (2.0 * rn.t_read_s)))
    )


def relaxation_std_uS(t_s: float, dev: DeviceConfig) -> float:
    """Std of the relaxation walk at ``t_s``: ``std_uS * sqrt(1 - exp(-t / tau))``."""
    r = dev.relaxation
    return r.std_uS * math.sqrt(-math.expm1(-check_time(t_s) / r.tau_s)) if r.active else 0.0


def devices_at(
    prog: ProgrammedDevices,
    g_target_uS: Tensor,
    t_s: float,
    temperature_k: float,
    dev: DeviceConfig,
    g_max_uS: float,
    g_min_uS: float,
    z_flicker: Tensor | None = None,
    z_relax: Tensor | None = None,
) -> Tensor:
    """Conductances in uS read at ``t_s`` seconds after programming, held at ``temperature_k``.

    ``z_flicker`` / ``z_relax``: standard-normal samples, one per device, required when the
    device has 1/f read noise / relaxation (pass the same samples to see the same instance at
    several times). Drift and relaxation run on the Arrhenius-accelerated time; the 1/f noise
    accumulates in wall time. Returns a new tensor; ``G >= 0``.
    """
    t = check_time(t_s)
    temp_k = check_temperature(temperature_k)
    t_eff = t * arrhenius_factor(temp_k, dev.temperature)
    if dev.relaxation.active and z_relax is None:
        raise ValueError("devices_at: this device relaxes; pass z_relax (one N(0, 1) per device)")
    if dev.read_noise.active and z_flicker is None:
        raise ValueError(
            "devices_at: this device has 1/f read noise; pass z_flicker (one N(0, 1) per device)"
        )
    # g is a fresh tensor from here on, so every step below may work in place
    if prog.nu is not None and t_eff > 0.0:
        g = drift_factor(t_eff, prog.nu, dev.drift.t0_s).mul_(prog.g_uS)
    else:
        g = prog.g_uS.clone()
    if dev.relaxation.active:
        g.add_(z_relax, alpha=relaxation_std_uS(t_eff, dev)).clamp_min_(0.0)
    if dev.read_noise.active:  # g >= 0 here, so |G| * (1 + rel z) = G * (1 + rel z)
        rel = flicker_std_rel(g_target_uS / g_max_uS, t, dev.read_noise, dev.drift.t0_s)
        g.mul_(torch.mul(z_flicker, rel).add_(1.0)).clamp_min_(
            0.0
        )  # rel may broadcast over instances
        del rel
    tc = dev.temperature.g_coeff_per_k
    if tc != 0.0:
        g.mul_(1.0 + tc * (temp_k - dev.temperature.reference_k)).clamp_min_(0.0)
    if prog.stuck is not None:
        g = apply_faults(g, prog.stuck, g_max_uS, g_min_uS)
    return g


__all__ = [
    "K_B_EV_PER_K",
    "Normal",
    "STUCK_OFF",
    "STUCK_ON",
    "ProgrammedDevices",
    "aging_range_fraction",
    "apply_faults",
    "arrhenius_factor",
    "check_temperature",
    "check_time",
    "device_targets",
    "devices_at",
    "drift_exponent_stats",
    "drift_factor",
    "flicker_q_s",
    "flicker_std_rel",
    "normal_sampler",
    "program_devices",
    "programming_std_uS",
    "quantize_levels",
    "relaxation_std_uS",
    "sample_drift_exponents",
    "sample_faults",
]
