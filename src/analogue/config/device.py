"""Device sections of the hardware description: programming noise, variability, drift, read
noise, relaxation, faults, conductance levels, temperature, aging and bit slicing, composed into
``DeviceConfig`` (small frozen dataclasses, units in field names; see ``analogue.config.array``
for the normalised units). Sources: docs/references.md section 2 and the presets' citations.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from analogue._util.validate import (
    check_bits,
    check_bounds,
    check_finite,
    check_nonnegative,
    check_positive,
    check_rate,
    require,
)


@dataclass(frozen=True)
class ProgrammingNoise:
    """Write noise, sampled once per device when it is programmed.

    ``std_uS = g_max_uS * sum_i std_poly_frac_gmax[i] * g**i`` with ``g = G_target / g_max``
    (the polynomial form of Nandakumar et al. 2019; ``()`` is no noise). The programmed
    conductance is clamped at ``G >= 0``.
    """

    std_poly_frac_gmax: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        where = "ProgrammingNoise.std_poly_frac_gmax"
        require(isinstance(self.std_poly_frac_gmax, tuple), where, "must be a tuple of coefficients")
        for c in self.std_poly_frac_gmax:
            check_finite(c, where)
        worst = min((sum(c * (i / 64) ** k for k, c in enumerate(self.std_poly_frac_gmax))
                     for i in range(65)), default=0.0)
        require(worst >= 0.0, where,
               f"the standard deviation must be >= 0 for g in [0, 1] (min {worst:.3g})")

    @property
    def active(self) -> bool:
        return any(c != 0.0 for c in self.std_poly_frac_gmax)


@dataclass(frozen=True)
class Variability:
    """Device-to-device variability: every device's conductance is multiplied, once, by
    ``1 + gain_std_rel * N(0, 1)`` (open-loop programming; write-verify largely hides it)."""

    gain_std_rel: float = 0.0

    def __post_init__(self) -> None:
        check_nonnegative(self.gain_std_rel, "Variability.gain_std_rel")

    @property
    def active(self) -> bool:
        return self.gain_std_rel > 0.0


@dataclass(frozen=True)
class Drift:
    """Power-law conductance drift ``G(t) = G_prog * ((t + t0_s) / t0_s) ** -nu``.

    Each device draws its exponent once when programmed: ``nu = |N(mean, std)|`` with
    ``mean = clip(nu_mean_at_g1 + nu_mean_per_ln_g * ln(g), *nu_mean_bounds)`` and likewise for
    ``std``, ``g = max(G_target / g_max, g_floor)`` (Joshi et al. 2020). All zeros: no drift.
    ``t0_s`` is also the time origin of the accumulated read noise (``ReadNoise``).
    """

    nu_mean_at_g1: float = 0.0
    nu_mean_per_ln_g: float = 0.0
    nu_mean_bounds: tuple[float, float] = (0.0, 1.0)
    nu_std_at_g1: float = 0.0
    nu_std_per_ln_g: float = 0.0
    nu_std_bounds: tuple[float, float] = (0.0, 1.0)
    t0_s: float = 20.0
    g_floor: float = 1e-7

    def __post_init__(self) -> None:
        for name in ("nu_mean_at_g1", "nu_mean_per_ln_g", "nu_std_at_g1", "nu_std_per_ln_g"):
            check_finite(getattr(self, name), f"Drift.{name}")
        check_bounds(self.nu_mean_bounds, "Drift.nu_mean_bounds")
        check_bounds(self.nu_std_bounds, "Drift.nu_std_bounds")
        check_positive(self.t0_s, "Drift.t0_s")
        require(isinstance(self.g_floor, (int, float)) and 0.0 < self.g_floor < 1.0, "Drift.g_floor",
               f"must lie in (0, 1), got {self.g_floor!r}")

    @property
    def active(self) -> bool:
        coeffs = (self.nu_mean_at_g1, self.nu_mean_per_ln_g, self.nu_std_at_g1,
                  self.nu_std_per_ln_g, self.nu_mean_bounds[0], self.nu_std_bounds[0])
        return any(v != 0.0 for v in coeffs)


@dataclass(frozen=True)
class ReadNoise:
    """Noise seen when the array is read.

    Accumulated 1/f noise (sampled by ``drift_``, Joshi et al. 2020): relative std
    ``Q_s * sqrt(ln((t + t0 + t_read_s) / (2 t_read_s)))`` of ``|G(t)|`` with
    ``Q_s = min(flicker_coeff / max(g ** flicker_g_exponent, flicker_g_floor), flicker_max)``.
    Per-read noise (fresh on every forward): Gaussian of std ``per_read_std_frac`` on every
    normalised weight, i.e. as a fraction of the conductance range ``g_max - g_min``.
    """

    flicker_coeff: float = 0.0
    flicker_g_exponent: float = 0.65
    flicker_g_floor: float = 1e-3
    flicker_max: float = 0.2
    t_read_s: float = 250e-9
    per_read_std_frac: float = 0.0

    def __post_init__(self) -> None:
        check_nonnegative(self.flicker_coeff, "ReadNoise.flicker_coeff")
        check_nonnegative(self.flicker_g_exponent, "ReadNoise.flicker_g_exponent")
        check_positive(self.flicker_g_floor, "ReadNoise.flicker_g_floor")
        check_nonnegative(self.flicker_max, "ReadNoise.flicker_max")
        check_positive(self.t_read_s, "ReadNoise.t_read_s")
        check_nonnegative(self.per_read_std_frac, "ReadNoise.per_read_std_frac")

    @property
    def active(self) -> bool:
        return self.flicker_coeff > 0.0 and self.flicker_max > 0.0


@dataclass(frozen=True)
class Relaxation:
    """Random conductance relaxation after programming (RRAM): each device moves by
    ``std_uS * sqrt(1 - exp(-t / tau_s)) * z`` with one ``z ~ N(0, 1)`` per device, fast at first
    and saturating (Wan et al., Nature 2022, Extended Data Fig. 3)."""

    std_uS: float = 0.0
    tau_s: float = 100.0

    def __post_init__(self) -> None:
        check_nonnegative(self.std_uS, "Relaxation.std_uS")
        check_positive(self.tau_s, "Relaxation.tau_s")

    @property
    def active(self) -> bool:
        return self.std_uS > 0.0


@dataclass(frozen=True)
class Faults:
    """Stuck devices, drawn once per device when programmed: stuck-on at ``g_max``, stuck-off at
    ``g_min``; they neither drift nor relax."""

    stuck_on_rate: float = 0.0
    stuck_off_rate: float = 0.0

    def __post_init__(self) -> None:
        check_rate(self.stuck_on_rate, "Faults.stuck_on_rate")
        check_rate(self.stuck_off_rate, "Faults.stuck_off_rate")
        require(self.stuck_on_rate + self.stuck_off_rate <= 1.0, "Faults.stuck_on_rate",
               "stuck_on_rate + stuck_off_rate must not exceed 1")

    @property
    def active(self) -> bool:
        return self.stuck_on_rate > 0.0 or self.stuck_off_rate > 0.0


@dataclass(frozen=True)
class Levels:
    """Finite conductance levels: ``per_device`` equally spaced targets from ``g_min`` to ``g_max``
    (both included); ``None`` is a continuous (analog) device."""

    per_device: int | None = None

    def __post_init__(self) -> None:
        check_bits(self.per_device, "Levels.per_device", lo=2, hi=1 << 16)

    @property
    def active(self) -> bool:
        return self.per_device is not None


@dataclass(frozen=True)
class Temperature:
    """Temperature effects relative to ``reference_k`` (all temperatures in kelvin).

    Drift and relaxation run faster by the Arrhenius factor
    ``exp(drift_activation_eV / k_B * (1 / reference_k - 1 / T))`` on time; every conductance is
    read as ``G * (1 + g_coeff_per_k * (T - reference_k))``.
    """

    reference_k: float = 300.0
    drift_activation_eV: float = 0.0
    g_coeff_per_k: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self.reference_k, "Temperature.reference_k")
        check_nonnegative(self.drift_activation_eV, "Temperature.drift_activation_eV")
        check_finite(self.g_coeff_per_k, "Temperature.g_coeff_per_k")

    @property
    def active(self) -> bool:
        return self.drift_activation_eV > 0.0 or self.g_coeff_per_k != 0.0


@dataclass(frozen=True)
class Aging:
    """Loss of conductance range with programming cycles ``n``: the highest reachable
    conductance falls to ``g_min + (g_max - g_min) * f`` with
    ``f = 1 - range_loss_per_decade * log10(max(n / onset_cycles, 1))``."""

    range_loss_per_decade: float = 0.0
    onset_cycles: float = 1.0

    def __post_init__(self) -> None:
        loss = self.range_loss_per_decade
        require(isinstance(loss, (int, float)) and 0.0 <= loss <= 1.0,
               "Aging.range_loss_per_decade", f"must lie in [0, 1], got {loss!r}")
        check_positive(self.onset_cycles, "Aging.onset_cycles")

    @property
    def active(self) -> bool:
        return self.range_loss_per_decade > 0.0


@dataclass(frozen=True)
class BitSlicing:
    """Weights quantised to ``weight_bits`` signed bits and spread over
    ``ceil((weight_bits - 1) / bits_per_slice)`` columns per output (sign in the differential
    pair), each its own ADC conversion, shifted and added digitally. ``None``: one analog column."""

    weight_bits: int | None = None
    bits_per_slice: int = 1

    def __post_init__(self) -> None:
        check_bits(self.weight_bits, "BitSlicing.weight_bits", lo=2, hi=16)
        check_bits(self.bits_per_slice, "BitSlicing.bits_per_slice", lo=1, hi=15)

    @property
    def n_slices(self) -> int:
        if self.weight_bits is None:
            return 1
        return -(-(self.weight_bits - 1) // self.bits_per_slice)

    @property
    def active(self) -> bool:
        return self.weight_bits is not None


@dataclass(frozen=True)
class DeviceConfig:
    """The memory cell's non-idealities, one small section per effect (``physics.devices``).

    ``kind`` names the technology for reports and cost models (``ideal``, ``pcm``, ``rram``,
    ``sram``, ``flash``, ...); the physics come only from the sections. ``DeviceConfig()`` is the
    ideal device: every section off.
    """

    kind: str = "ideal"
    programming: ProgrammingNoise = field(default_factory=ProgrammingNoise)
    variability: Variability = field(default_factory=Variability)
    drift: Drift = field(default_factory=Drift)
    read_noise: ReadNoise = field(default_factory=ReadNoise)
    relaxation: Relaxation = field(default_factory=Relaxation)
    faults: Faults = field(default_factory=Faults)
    levels: Levels = field(default_factory=Levels)
    temperature: Temperature = field(default_factory=Temperature)
    aging: Aging = field(default_factory=Aging)
    slicing: BitSlicing = field(default_factory=BitSlicing)

    def __post_init__(self) -> None:
        require(isinstance(self.kind, str) and bool(self.kind), "DeviceConfig.kind",
               f"must be a non-empty string, got {self.kind!r}")
        for f in fields(self):
            if f.name == "kind":
                continue
            cls = _DEVICE_SECTIONS[f.name]
            v = getattr(self, f.name)
            require(isinstance(v, cls), f"DeviceConfig.{f.name}",
                   f"must be a {cls.__name__}, got {type(v).__name__}")

    @property
    def is_ideal(self) -> bool:
        """No effect at all: programming would store the weights exactly."""
        return not any(getattr(self, name).active for name in _DEVICE_SECTIONS)


_DEVICE_SECTIONS: dict[str, type] = {
    "programming": ProgrammingNoise,
    "variability": Variability,
    "drift": Drift,
    "read_noise": ReadNoise,
    "relaxation": Relaxation,
    "faults": Faults,
    "levels": Levels,
    "temperature": Temperature,
    "aging": Aging,
    "slicing": BitSlicing,
}
