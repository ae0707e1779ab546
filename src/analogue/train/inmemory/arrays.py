"""``PulsedArray``: the devices of one crossbar under pulsed updates, as a dict of tensors.

Device-to-device parameters are sampled once when the array is made; the state (one device per
weight, or a SET-only pair for PCM-like devices) changes only through ``pulse_`` and ``program_``.
All tensors live in ``tensors`` so an optimizer can keep them in its ``state`` (``state_dict``,
``deepcopy`` and ``.to()`` work on them). Shapes are the weight layout ``(M, K)``; units are device
units (see ``pulsed_config``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from analogue.config.pulsed import ConstantStepDevice, PCMLikeDevice, PulsedDevice, SoftBoundsDevice
from analogue.physics import pulsed
from analogue.physics.noise import GaussianSource


def _lognormal(shape: tuple[int, ...], std: float, gen: torch.Generator, like: Tensor) -> Tensor:
    """Mean-1 log-normal factors with log-standard deviation ``std`` (1 when ``std == 0``)."""
    if std == 0.0:
        return torch.ones(shape, dtype=like.dtype, device=like.device)
    xi = torch.randn(shape, generator=gen, dtype=like.dtype, device=like.device)
    return torch.exp(std * xi - 0.5 * std * std)


def _check_device(device: object) -> None:
    if not isinstance(device, (ConstantStepDevice, SoftBoundsDevice, PCMLikeDevice)):
        raise TypeError("PulsedArray: device must be a ConstantStepDevice, SoftBoundsDevice or "
                        f"PCMLikeDevice (see analogue.config.pulsed), got {type(device).__name__}")


class PulsedArray:
    """The devices of an ``(M, K)`` array: sampled parameters plus state, all in ``tensors``."""

    def __init__(self, device: PulsedDevice, tensors: dict[str, Tensor]) -> None:
        _check_device(device)
        self.device = device
        self.tensors = tensors

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def sample(cls, device: PulsedDevice, shape: tuple[int, int], generator: torch.Generator,
               like: Tensor) -> PulsedArray:
        """Draw the device-to-device parameters of a fresh array (state at 0) for ``shape``."""
        _check_device(device)
        t: dict[str, Tensor] = {}
        dw = device.dw_nominal
        step = dw * _lognormal(shape, device.d2d_step_std_rel, generator, like)
        if isinstance(device, PCMLikeDevice):
            g_max = device.g_max * _lognormal(shape, device.d2d_bound_std_rel, generator, like)
            t["step"] = torch.minimum(step, 0.5 * g_max)
            t["g_max"] = g_max
            t["k"] = pulsed.soft_bounds_rates(t["step"], t["step"], -g_max, g_max)[0]
            t["g_plus"] = torch.zeros(shape, dtype=like.dtype, device=like.device)
            t["g_minus"] = torch.zeros_like(t["g_plus"])
        else:
            asym = torch.full(shape, device.asym_up_down, dtype=like.dtype, device=like.device)
            if device.d2d_asym_std > 0:
                asym = asym + device.d2d_asym_std * torch.randn(shape, generator=generator,
                                                                dtype=like.dtype, device=like.device)
            asym = asym.clamp(-0.95, 0.95)
            w_max = device.w_max * _lognormal(shape, device.d2d_bound_std_rel, generator, like)
            w_min = device.w_min * _lognormal(shape, device.d2d_bound_std_rel, generator, like)
            limit = 0.5 * torch.minimum(w_max, -w_min)
            t["step_up"] = torch.minimum(step * (1 + asym), limit)
            t["step_down"] = torch.minimum(step * (1 - asym), limit)
            t["w_max"], t["w_min"] = w_max, w_min
            t["w"] = torch.zeros(shape, dtype=like.dtype, device=like.device)
            if isinstance(device, SoftBoundsDevice):
                t["k_up"], t["k_down"] = pulsed.soft_bounds_rates(t["step_up"], t["step_down"], w_min, w_max)
        return cls(device, t)

    # -- reading and programming -----------------------------------------------------------------
    @property
    def is_pair(self) -> bool:
        return isinstance(self.device, PCMLikeDevice)

    def weight(self) -> Tensor:
        """The state as one number per weight (device units): ``w`` or ``g_plus - g_minus``."""
        t = self.tensors
        return t["g_plus"] - t["g_minus"] if self.is_pair else t["w"]

    def bounds(self) -> tuple[Tensor, Tensor]:
        """Per-device ``(lowest, highest)`` reachable weight."""
        t = self.tensors
        return (-t["g_max"], t["g_max"]) if self.is_pair else (t["w_min"], t["w_max"])

    def program_(self, w: Tensor, cols: Tensor | None = None) -> None:
        """Write ``w`` (device units) exactly, clipped to each device's bounds (closed-loop
        programming); ``cols`` restricts it to those input columns."""
        lo, hi = self.bounds()
        if cols is not None:
            lo, hi = lo[:, cols], hi[:, cols]
        w = torch.minimum(torch.maximum(w, lo), hi)
        if self.is_pair:
            self._put("g_plus", w.clamp_min(0.0), cols)
            self._put("g_minus", (-w).clamp_min(0.0), cols)
        else:
            self._put("w", w, cols)

    def symmetry_point(self) -> Tensor:
        """Per device, the state where up and down pulses balance (0 for constant steps without
        imbalance; for PCM-like pairs the pair is symmetric by construction, so 0)."""
        t = self.tensors
        if isinstance(self.device, SoftBoundsDevice):
            return pulsed.soft_bounds_symmetry_point(t["step_up"], t["step_down"], t["w_min"], t["w_max"])
        return torch.zeros_like(self.weight())

    # -- pulsing -----------------------------------------------------------------------------------
    def _get(self, name: str, cols: Tensor | slice | None) -> Tensor:
        v = self.tensors[name]
        return v if cols is None else v[:, cols]

    def _put(self, name: str, value: Tensor, cols: Tensor | slice | None) -> None:
        if cols is None:
            self.tensors[name] = value
        else:
            self.tensors[name][:, cols] = value

    def pulse_(self, n_up: Tensor, n_down: Tensor, source: torch.Generator | GaussianSource | None,
               cols: Tensor | slice | None = None) -> int:
        """Apply ``n_up`` up and ``n_down`` down pulses per device (``(M, K)``, or ``(M, len(cols))``
        restricted to ``cols``, an index tensor or a slice); returns the number of PCM refreshes (0 for other devices)."""
        dev, g = self.device, self._get
        c2c = dev.c2c_std_rel
        gen = source if c2c > 0 or getattr(dev, "reset_std", 0.0) > 0 else None
        if isinstance(dev, PCMLikeDevice):
            gp, gm = pulsed.pcm_set_response(g("g_plus", cols), g("g_minus", cols), n_up, n_down,
                                             g("step", cols), g("g_max", cols), c2c, gen, g("k", cols))
            gp, gm, mask = pulsed.pcm_refresh(gp, gm, g("g_max", cols), dev.reset_threshold_rel,
                                              dev.reset_std, gen)
            self._put("g_plus", gp, cols)
            self._put("g_minus", gm, cols)
            return int(mask.sum())
        args = (g("w", cols), n_up, n_down, g("step_up", cols), g("step_down", cols), g("w_min", cols),
                g("w_max", cols), c2c, gen)
        if isinstance(dev, SoftBoundsDevice):
            w = pulsed.soft_bounds_response(*args, rates=(g("k_up", cols), g("k_down", cols)))
        else:
            w = pulsed.constant_step_response(*args)
        self._put("w", w, cols)
        return 0
