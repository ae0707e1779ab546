"""Configs for training in memory: pulsed device responses and the analog backward pass.

Small frozen dataclasses, units in field names, validated in ``__post_init__``. Device units: a
device state ``w`` is the conductance difference over ``g_max - g_min`` (so the nominal bounds of
a bidirectional device are ``-1`` and ``1``, and of a PCM device ``0`` and ``1``). The physics
they parameterise is in ``analogue.physics.pulsed``; presets at the bottom cite their sources.

Variability: device-to-device (d2d) factors are drawn once per device when the array is made and
are log-normal with mean 1 and log-standard deviation ``d2d_*_std_rel`` (so they stay positive);
the up/down imbalance varies additively by ``d2d_asym_std``; cycle-to-cycle (c2c) noise is
Gaussian per pulse with standard deviation ``c2c_std_rel`` times the nominal step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from analogue._util.serial import section_from_dict
from analogue._util.validate import ConfigError, check_nonnegative, is_real, require
from analogue.config.array import ADCConfig, AnalogConfig

_KINDS: dict[str, type] = {}


def _nonneg(obj: Any, *names: str) -> None:
    for name in names:
        check_nonnegative(getattr(obj, name), f"{type(obj).__name__}.{name}")


def _n_states(obj: Any) -> None:
    v = obj.n_states
    require(isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 1_000_000,
           f"{type(obj).__name__}.n_states", f"must be an integer in [2, 1e6], got {v!r}")


@dataclass(frozen=True)
class _BidirectionalDevice:
    """Fields shared by devices that step both up and down (see the subclasses)."""

    n_states: int = 1000
    w_max: float = 1.0
    w_min: float = -1.0
    asym_up_down: float = 0.0
    d2d_step_std_rel: float = 0.0
    d2d_asym_std: float = 0.0
    d2d_bound_std_rel: float = 0.0
    c2c_std_rel: float = 0.0

    def __post_init__(self) -> None:
        _n_states(self)
        name = type(self).__name__
        require(is_real(self.w_max) and self.w_max > 0, f"{name}.w_max", f"must be > 0, got {self.w_max!r}")
        require(is_real(self.w_min) and self.w_min < 0, f"{name}.w_min", f"must be < 0, got {self.w_min!r}")
        require(is_real(self.asym_up_down) and abs(self.asym_up_down) < 1, f"{name}.asym_up_down",
               f"must lie in (-1, 1) (up steps 1+a, down steps 1-a), got {self.asym_up_down!r}")
        _nonneg(self, "d2d_step_std_rel", "d2d_asym_std", "d2d_bound_std_rel", "c2c_std_rel")

    kind: ClassVar[str] = "bidirectional"

    @property
    def dw_nominal(self) -> float:
        """The nominal step (device units): ``(w_max - w_min) / n_states``."""
        return (self.w_max - self.w_min) / self.n_states

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class ConstantStepDevice(_BidirectionalDevice):
    """Every pulse moves the state by a fixed step, up or down, until a hard bound.

    ``n_states``: nominal steps from ``w_min`` to ``w_max`` (the step is ``(w_max - w_min) /
    n_states``; the limited number of states). ``asym_up_down``: up steps are ``1 + a`` and down
    steps ``1 - a`` times the nominal step. ``w_max``/``w_min``: bounds (device units).
    """

    kind: ClassVar[str] = "constant_step"


@dataclass(frozen=True)
class SoftBoundsDevice(_BidirectionalDevice):
    """Saturating response: a pulse moves ``w`` by ``s_up (1 - w/w_max)`` up or ``s_down (1 - w/w_min)``
    down (Gokmen & Haensch 2020). ``n_states`` sets the step at ``w = 0``: ``(w_max - w_min) /
    n_states``; the other fields as for ``ConstantStepDevice``. The step must stay below half of
    each bound."""

    def __post_init__(self) -> None:
        super().__post_init__()
        worst = self.dw_nominal * (1 + abs(self.asym_up_down))
        require(worst < min(self.w_max, -self.w_min) / 2, f"{type(self).__name__}.n_states",
               f"the step {worst:.3g} must be below half of each bound; raise n_states")

    kind: ClassVar[str] = "soft_bounds"


@dataclass(frozen=True)
class PCMLikeDevice:
    """SET-only pair ``(g_plus, g_minus)`` with a saturating SET and occasional RESET/refresh.

    ``n_states``: SET steps from 0 to ``g_max`` at the initial (largest) step size ``g_max /
    n_states``; ``g_max``: upper bound of each device (device units); ``reset_threshold_rel``: a
    pair is refreshed when either device passes this fraction of ``g_max``; ``reset_std``: the
    programming error of the refresh (device units).
    """

    n_states: int = 100
    g_max: float = 1.0
    d2d_step_std_rel: float = 0.0
    d2d_bound_std_rel: float = 0.0
    c2c_std_rel: float = 0.0
    reset_threshold_rel: float = 0.9
    reset_std: float = 0.0

    def __post_init__(self) -> None:
        _n_states(self)
        name = type(self).__name__
        require(self.n_states >= 3, f"{name}.n_states", f"must be >= 3, got {self.n_states}")
        require(is_real(self.g_max) and self.g_max > 0, f"{name}.g_max", f"must be > 0, got {self.g_max!r}")
        require(is_real(self.reset_threshold_rel) and 0 < self.reset_threshold_rel <= 1,
               f"{name}.reset_threshold_rel", f"must lie in (0, 1], got {self.reset_threshold_rel!r}")
        _nonneg(self, "d2d_step_std_rel", "d2d_bound_std_rel", "c2c_std_rel", "reset_std")

    kind: ClassVar[str] = "pcm_like"

    @property
    def dw_nominal(self) -> float:
        """The first SET step (device units): ``g_max / n_states``."""
        return self.g_max / self.n_states

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class ProgrammedWeights:
    """Low-precision weights programmed into RRAM from a high-precision digital copy (the
    mixed-precision scheme of Li et al. 2022: the digital copy is trained, the arrays compute).

    ``n_levels``: equally spaced weight levels from ``-w_max`` to ``w_max`` (2: binary);
    ``range_rel``: ``w_max`` of a layer as a multiple of its largest initial weight (the digital
    copy is clipped to it); ``programming_std_rel``: the programming (write-verify) error of a
    cell, standard deviation as a fraction of ``w_max``, drawn anew each time the cell is written
    (only cells whose level changes are written); ``read_std_rel``: read noise per read, as a
    fraction of ``w_max``.
    """

    n_levels: int = 8
    range_rel: float = 2.0
    programming_std_rel: float = 0.0
    read_std_rel: float = 0.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        v = self.n_levels
        require(isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 65536, f"{name}.n_levels",
                f"must be an integer in [2, 65536], got {v!r}")
        require(is_real(self.range_rel) and self.range_rel > 0, f"{name}.range_rel",
                f"must be > 0, got {self.range_rel!r}")
        _nonneg(self, "programming_std_rel", "read_std_rel")

    kind: ClassVar[str] = "programmed"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


PulsedDevice = ConstantStepDevice | SoftBoundsDevice | PCMLikeDevice
_KINDS.update({"constant_step": ConstantStepDevice, "soft_bounds": SoftBoundsDevice,
               "pcm_like": PCMLikeDevice})


def device_from_dict(data: dict[str, Any]) -> PulsedDevice:
    """Inverse of ``to_dict`` (``kind`` picks the class; unknown fields fail with a suggestion)."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ConfigError(f"pulsed device: expected a mapping with 'kind' in {sorted(_KINDS)}, got {data!r}")
    data = dict(data)
    kind = data.pop("kind")
    if kind not in _KINDS:
        raise ConfigError(f"pulsed device: unknown kind {kind!r}; use one of {sorted(_KINDS)}")
    return section_from_dict(_KINDS[kind], data, f"pulsed device ({kind})")


@dataclass(frozen=True)
class BackwardConfig:
    """The transposed read of the backward pass: its own DAC, ADC and output noise.

    ``dac_bits``/``adc_bits``: resolution (``None`` ideal); ``out_bound``: ADC full scale in
    normalised units (full-scale error x full-scale weight); ``out_std_rel_fs``: output noise
    relative to ``out_bound``. The errors are scaled per vector by their absolute maximum.
    """

    dac_bits: int | None = 8
    adc_bits: int | None = 8
    out_bound: float = 10.0
    out_std_rel_fs: float = 0.004

    def __post_init__(self) -> None:
        # the core's converter checks, with this class's names
        try:
            ADCConfig(bits=self.adc_bits, out_bound=self.out_bound)
            ADCConfig(bits=self.dac_bits)
        except ConfigError as exc:
            raise ConfigError(f"BackwardConfig: {exc}") from None
        _nonneg(self, "out_std_rel_fs")

    @classmethod
    def like_forward(cls, cfg: AnalogConfig) -> BackwardConfig:
        """The same converters and noise as the forward read of ``cfg``."""
        return cls(dac_bits=cfg.dac.bits, adc_bits=cfg.adc.bits, out_bound=cfg.adc.out_bound,
                   out_std_rel_fs=cfg.noise.out_std_rel_fs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- presets ---------------------------------------------------------------------------------------
def ideal_device(n_states: int = 2000) -> ConstantStepDevice:
    """A symmetric constant-step device with very many states and no variability (the SGD limit)."""
    return ConstantStepDevice(n_states=n_states)


def rpu_constant_step() -> ConstantStepDevice:
    """The resistive processing unit specification of Gokmen & Vlasov, Front. Neurosci. 10:333 (2016).

    Their tolerances for training with stochastic pulses: ~1000 states over the weight range
    (step 0.001 on +-0.6), up/down imbalance within 2 %, device-to-device variation of the step
    and of the bounds 30 %, cycle-to-cycle noise 30 % of the step. Bounds here +-1 (device units);
    the step keeps their ratio of ~1200 states from bound to bound.
    """
    return ConstantStepDevice(n_states=1200, asym_up_down=0.0, d2d_step_std_rel=0.3,
                              d2d_asym_std=0.02, d2d_bound_std_rel=0.3, c2c_std_rel=0.3)


def rram_asymmetric() -> SoftBoundsDevice:
    """An asymmetric RRAM-like soft-bounds device (the in-memory training benchmark case).

    Soft bounds as in Gokmen & Haensch, Front. Neurosci. 14:103 (2020), whose RRAM-like devices
    have a state-dependent, asymmetric response with a symmetry point that differs from device to
    device; Rasch et al., "A flexible and fast PyTorch toolkit for simulating training and
    inference on analog crossbar arrays" (AICAS 2021) show such soft-bounds ReRAM presets failing
    plain analog SGD while Tiki-Taka recovers. Values chosen inside the ranges these papers span:
    ~500 states from bound to bound at ``w = 0`` (step 0.004), a 10 % mean up/down imbalance, 10 %
    device-to-device spread of that imbalance (so symmetry points scatter by ~0.1), 30 %
    device-to-device spread of steps and bounds, and 30 % cycle-to-cycle noise (Gokmen & Vlasov
    2016 tolerances).
    """
    return SoftBoundsDevice(n_states=500, asym_up_down=0.1, d2d_step_std_rel=0.3, d2d_asym_std=0.1,
                            d2d_bound_std_rel=0.3, c2c_std_rel=0.3)


def pcm_like() -> PCMLikeDevice:
    """A PCM-like SET-only pair with saturating SET and refresh.

    After Nandakumar et al., Front. Neurosci. 14:406 (2020) and Boybat et al., Nat. Commun. 9:2514
    (2018): potentiation by partial SET pulses with a conductance-dependent, saturating step and a
    few tens of effective states, depression only by an abrupt RESET, so a weight is a pair of
    devices that is refreshed when one saturates. ~50 SET steps to saturation at the first step
    size, 30 % device-to-device spread of steps and saturation levels, 30 % pulse-to-pulse noise,
    a refresh at 90 % of the upper bound with a 2 % (of ``g_max``) programming error.
    """
    return PCMLikeDevice(n_states=50, d2d_step_std_rel=0.3, d2d_bound_std_rel=0.3, c2c_std_rel=0.3,
                         reset_threshold_rel=0.9, reset_std=0.02)


def rram_li2022() -> SoftBoundsDevice:
    """An RRAM device for the continual-learning comparison with Li et al., "Mixed-precision
    continual learning based on computational resistance random access memory", Advanced
    Intelligent Systems (2022) (docs/references.md, section 10).

    The paper's own device statistics were not available in the sources read, so every value here
    is an assumption typical of multilevel 1T1R HfOx/TaOx RRAM under identical-pulse programming,
    not a fit to that paper's accuracy: ~64 conductance levels from bound to bound at ``w = 0``
    (6 bits), a saturating (soft-bounds) response, a 30 % up/down imbalance (SET steps larger
    than RESET steps), 30 % device-to-device spread of steps and 20 % of bounds, and cycle-to-cycle
    noise of 50 % of a step. Coarser, more asymmetric and noisier than :func:`rram_asymmetric`.
    """
    return SoftBoundsDevice(n_states=64, asym_up_down=0.3, d2d_step_std_rel=0.3, d2d_asym_std=0.1,
                            d2d_bound_std_rel=0.2, c2c_std_rel=0.5)


def rram_li2022_programmed() -> ProgrammedWeights:
    """The RRAM of the Li et al. (2022) comparison as that paper uses it: low-precision weights
    programmed from the digital copy (:class:`ProgrammedWeights`; docs/references.md, section 10).

    Published: the scheme (mixed precision: low-precision weights on the RRAM chip, a
    high-precision copy in digital, in situ fine-tuning). Assumed (the paper's device statistics
    were not in the sources read; fixed before the comparison was run, not fitted to it): 8 levels
    (3 bits) over +-2x the largest initial weight, a programming error of 5 % of ``w_max`` per
    write (typical of write-verify on multilevel 1T1R HfOx RRAM) and a read noise of 2 %.
    """
    return ProgrammedWeights(n_levels=8, range_rel=2.0, programming_std_rel=0.05, read_std_rel=0.02)


DEVICE_PRESETS = {
    "ideal": ideal_device,
    "rpu": rpu_constant_step,
    "rram": rram_asymmetric,
    "pcm": pcm_like,
    "rram-li2022": rram_li2022,
}

__all__ = [
    "DEVICE_PRESETS",
    "BackwardConfig",
    "ConstantStepDevice",
    "PCMLikeDevice",
    "ProgrammedWeights",
    "PulsedDevice",
    "SoftBoundsDevice",
    "device_from_dict",
    "ideal_device",
    "pcm_like",
    "rpu_constant_step",
    "rram_asymmetric",
    "rram_li2022",
    "rram_li2022_programmed",
]
