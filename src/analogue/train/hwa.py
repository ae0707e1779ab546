"""Hardware-aware (HWA) training: let the network learn to shrug off the hardware's noise.

Recipe (Joshi et al., Nat. Commun. 2020; Rasch et al., Nat. Commun. 2023): in every
training-mode forward the analog layers already quantise their inputs (DAC) and outputs (ADC),
clip at the ADC bound and add output noise (the core does that). ``hwa_`` adds what the core does
not: on every read of the array a fresh perturbation of the normalised weights (``w / max|w|`` per
tile column, the conductance difference over ``g_max - g_min``), resampled per batch --

- ``weight_noise_rel``: additive Gaussian noise, std relative to the column's largest weight
  (i.e. to ``g_max``), like programming noise of a device with a flat noise floor;
- ``device_noise_scale``: the programming noise of the preset's device model (``cfg.device``):
  Gaussian with the write-noise std of both devices of each differential pair at their targets
  (``physics.devices.programming_std_uS``; PCM: docs/references.md section 2), times this factor -- the
  PCM-like training noise of Joshi et al. 2020. With ``device_time_s > 0`` the whole device
  model is sampled instead: every batch the weights are programmed afresh (write noise,
  variability, faults), aged to that time (drift, 1/f read noise) and globally drift-compensated,
  and the deviation from the target, times the factor, is the perturbation (about 20 element-wise
  passes over the weights per batch, against 3 for the Gaussian);
- ``weight_noise_prop``: multiplicative Gaussian noise, std relative to each weight (drift
  dispersion and 1/f read noise grow with the conductance);
- ``drift_scale_range``: one uniform factor per layer and batch -- what is left of drift after an
  imperfect global compensation.

The backward uses the perturbed weights (noise-injection straight-through estimate, see
``nn/autograd.py``). ``clip_weights_`` keeps each column within ``+-k`` standard deviations after an
optimizer step, so the column maximum that maps to ``g_max`` is not an outlier and the noise
relative to typical weights stays small. ``distillation_loss`` trains against the digital teacher.
All randomness comes from seeded per-layer generators; ``reseed_noise_`` restarts every stream of
a model (layer output noise and HWA perturbations) so runs are reproducible and resumable.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue._util.seeds import derive_seed
from analogue._util.validate import check_nonnegative
from analogue.config import AnalogConfig, ConfigError, MappingConfig, ProgrammingNoise
from analogue.lifecycle.convert import analog_layers
from analogue.nn import AnalogLayer
from analogue.nn.buffers import dense_flat, shaped_buffer, strided_like, thread_buffers
from analogue.physics.noise import GaussianSource, NoiseStream, pool_size_for


@dataclass(frozen=True)
class HWAOptions:
    """What hardware-aware training injects; every effect is off by default.

    ``weight_noise_rel``: additive weight noise std, relative to the column's largest weight.
    ``weight_noise_prop``: multiplicative weight noise std, relative to each weight.
    ``device_noise_scale``: factor on the device model's programming noise (``cfg.device``; 0: off).
    ``device_time_s``: with ``device_noise_scale``, sample the full device model aged to this time
      after programming (drift, 1/f read noise, global drift compensation) instead of its
      programming noise alone (0: programming noise only).
    ``drift_scale_range``: ``(lo, hi)`` with ``0 < lo <= hi``: a per-layer, per-batch uniform
      factor on the weights (``None``: off).
    ``clip_weights_sigma``: after each optimizer step clip each column's weights to
      ``+-k`` standard deviations of that column (``None``: off).
    ``distill_T``, ``distill_alpha``: temperature and weight of the distillation term against the
      digital teacher (``alpha=0``: plain cross-entropy).
    """

    weight_noise_rel: float = 0.0
    weight_noise_prop: float = 0.0
    device_noise_scale: float = 0.0
    device_time_s: float = 0.0
    drift_scale_range: tuple[float, float] | None = None
    clip_weights_sigma: float | None = None
    distill_T: float = 1.0
    distill_alpha: float = 0.0

    def __post_init__(self) -> None:
        for name in ("weight_noise_rel", "weight_noise_prop", "device_noise_scale", "device_time_s"):
            check_nonnegative(getattr(self, name), f"HWAOptions.{name}")
        r = self.drift_scale_range
        if r is not None:
            ok = (isinstance(r, (tuple, list)) and len(r) == 2
                  and all(isinstance(v, (int, float)) and math.isfinite(v) for v in r)
                  and 0 < r[0] <= r[1])
            if not ok:
                raise ConfigError(f"HWAOptions.drift_scale_range: must be (lo, hi) with 0 < lo <= hi "
                                  f"or None, got {r!r}")
            object.__setattr__(self, "drift_scale_range", (float(r[0]), float(r[1])))
        if self.clip_weights_sigma is not None:
            check_nonnegative(self.clip_weights_sigma, "HWAOptions.clip_weights_sigma")
            if self.clip_weights_sigma == 0:
                raise ConfigError("HWAOptions.clip_weights_sigma: must be > 0 (e.g. 2.5) or None (off)")
        check_nonnegative(self.distill_T, "HWAOptions.distill_T")
        if self.distill_T == 0:
            raise ConfigError("HWAOptions.distill_T: the temperature must be > 0 (1 is plain softmax)")
        if not (isinstance(self.distill_alpha, (int, float)) and 0.0 <= self.distill_alpha <= 1.0):
            raise ConfigError(f"HWAOptions.distill_alpha: must lie in [0, 1], got {self.distill_alpha!r}")

    @property
    def perturbs_weights(self) -> bool:
        """Whether any weight perturbation is on (otherwise ``hwa_`` installs nothing)."""
        return (self.weight_noise_rel > 0 or self.weight_noise_prop > 0 or self.device_noise_scale > 0
                or self.drift_scale_range is not None)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["drift_scale_range"] is not None:
            out["drift_scale_range"] = list(out["drift_scale_range"])
        return out


def device_weights(w_n: Tensor, cfg: AnalogConfig, t_s: float, generator: torch.Generator,
                   normal: Callable[[tuple[int, ...]], Tensor] | None = None) -> Tensor:
    """One fresh sample of normalised weights ``w_n`` as the device model of ``cfg`` holds them.

    Programs targets ``w_n`` (write noise, variability, faults; ``physics.devices``), reads them
    ``t_s`` seconds later (drift, relaxation, accumulated 1/f noise) and divides by the
    least-squares drift factor ``sum(w t) / sum(w^2)`` over the whole tensor, as global drift
    compensation does. ``normal``: the source of the Gaussian draws (default ``torch.randn`` from
    ``generator``; ``WeightPerturbation`` passes its fast source). Returns a new tensor of
    ``w_n``'s shape.
    """
    from analogue.physics import devices

    dev, mp = cfg.device, cfg.mapping
    span = mp.g_max_uS - mp.g_min_uS
    tp, tn = devices.device_targets(w_n, mp.g_max_uS, mp.g_min_uS, dev.levels)
    targets = torch.stack([tp, tn])
    prog = devices.program_devices(targets, dev, mp.g_max_uS, mp.g_min_uS, generator, normal)
    if t_s > 0:
        randn = devices.normal_sampler(generator, w_n, normal)
        z = lambda active: randn(tuple(targets.shape)) if active else None
        g = devices.devices_at(prog, targets, t_s, dev.temperature.reference_k, dev, mp.g_max_uS,
                               mp.g_min_uS, z(dev.read_noise.active), z(dev.relaxation.active))
    else:
        g = prog.g_uS
    w = (g[0] - g[1]) / span
    if t_s > 0:
        alpha = (w * w_n).sum() / (w_n * w_n).sum().clamp_min(torch.finfo(w_n.dtype).tiny)
        w = w / alpha.clamp_min(1e-3)
    return w


def _compose(coeffs: tuple[float, ...], a: float, b: float) -> list[float]:
    """Coefficients (ascending) in ``t`` of ``p(a t + b)`` for ``p`` with ascending ``coeffs``."""
    out = [0.0]
    for c in reversed(coeffs):  # Horner on polynomials: out = out * (a t + b) + c
        nxt = [0.0] * (len(out) + 1)
        for i, v in enumerate(out):
            nxt[i] += v * b
            nxt[i + 1] += v * a
        nxt[0] += c
        out = nxt
    return out[: len(coeffs)]


@functools.lru_cache(maxsize=64)
def _std_poly(prog: ProgrammingNoise, mp: MappingConfig, scale: float, extra_var: float
              ) -> tuple[tuple[float, ...], float, bool]:
    """``(d, rest, clamp)`` of ``programming_std``: the on-device std ``d[0] + d[1] t + ...`` in
    ``t = |w|``, the variance ``rest`` added under the root, and whether the polynomial can turn
    negative on ``t in [0, 1]`` (then it is clamped at 0)."""
    span = mp.g_max_uS - mp.g_min_uS
    coeffs = prog.std_poly_frac_gmax
    g_off = mp.g_min_uS / mp.g_max_uS
    k = scale * mp.g_max_uS / span  # uS per unit of the polynomial, over the span
    s_off = k * max(0.0, sum(c * g_off ** i for i, c in enumerate(coeffs)))
    d = tuple(k * c for c in _compose(coeffs, span / mp.g_max_uS, g_off)) if coeffs else ()
    # the minimum over [0, 1] is at an end or at a stationary point: sample densely (any degree)
    grid = [i / 1024 for i in range(1025)]
    clamp = bool(d) and min(sum(c * t ** i for i, c in enumerate(d)) for t in grid) < 1e-12
    return d, s_off * s_off + extra_var, clamp


def programming_std(w_n: Tensor, cfg: AnalogConfig, scale: float = 1.0, extra_var: float = 0.0,
                    out: Tensor | None = None, work: Tensor | None = None) -> Tensor:
    """Std of a normalised weight's write noise: both devices of the differential pair at their
    targets (``g_min + span |w|`` and ``g_min``), ``scale * sqrt(s(G+)^2 + s(G-)^2) / span``, plus
    ``extra_var`` under the root.

    ``s`` is the device model's programming-noise std (``physics.devices.programming_std_uS``),
    evaluated as one polynomial in ``|w| <= 1`` (a few in-place passes); the clamp at ``G >= 0`` is
    ignored (a Gaussian stand-in for training). Returns a new tensor, or ``out`` (``work``: a
    second buffer of ``w_n``'s shape for ``|w_n|``).
    """
    d, rest, clamp = _std_poly(cfg.device.programming, cfg.mapping, float(scale), float(extra_var))
    if not d:
        return torch.full_like(w_n, math.sqrt(rest)) if out is None else out.fill_(math.sqrt(rest))
    t = w_n.abs() if work is None else torch.abs(w_n, out=work)
    if len(d) == 1:
        out = torch.full_like(w_n, d[0]) if out is None else out.fill_(d[0])
    elif len(d) == 3:  # the usual quadratic: (d0 + d1 t) + d2 t^2, two passes
        out = (torch.mul(t, d[1]) if out is None else torch.mul(t, d[1], out=out))
        out.add_(d[0]).addcmul_(t, t, value=d[2])
    else:  # Horner
        out = torch.mul(t, d[-1]) if out is None else torch.mul(t, d[-1], out=out)
        for c in reversed(d[1:-1]):
            out.add_(c).mul_(t)
        out.add_(d[0])
    if clamp:
        out.clamp_min_(0.0)
    return out.square_().add_(rest).sqrt_()  # sqrt(s_on^2 + rest)


class WeightPerturbation:
    """The per-layer, per-batch weight perturbation ``hwa_`` installs (``(w_n, layer) -> w_n'``).

    Draws from its own seeded fast Gaussian source; ``reseed`` restarts the stream. Safe to call
    from several threads at once, as the analog layers are: the buffers it reuses between calls
    are per thread (a result living in one stays valid until the same thread's next call), and
    the one noise stream is created once under a lock and drawn from under its own lock
    (concurrent calls get distinct stretches of it, in the order they reach it).
    """

    BUFFER_KEYS = ("_reused", "_consts")
    """Entries of ``__dict__`` that are not state: the per-thread reused buffers and the cached
    constants (dropped by ``deepcopy`` and pickling, re-created on the next call)."""

    def __init__(self, options: HWAOptions, seed: int) -> None:
        self.options = options
        self.seed = int(seed)
        self._stream = NoiseStream(seed)

    def reseed(self, seed: int) -> None:
        self.seed = int(seed)
        self._stream = NoiseStream(seed)

    def _src(self, w: Tensor) -> GaussianSource:
        return self._stream.source(w.device, w.dtype, pool_size_for(w.numel()))

    def __getstate__(self) -> dict:  # the reused buffers are not state
        state = self.__dict__.copy()
        for key in self.BUFFER_KEYS:
            state.pop(key, None)
        return state

    def _reused_buffers(self) -> dict:
        """The calling thread's reused buffers, by name."""
        return thread_buffers(self)

    def _buffer(self, name: str, like: Tensor) -> Tensor | None:
        """A reused buffer shaped like ``like`` (CPU: a fresh tensor costs page faults; per
        thread), or ``None`` above the layers' size cap."""
        bufs = self._reused_buffers() if like.device.type == "cpu" else None
        return shaped_buffer(bufs, name, tuple(like.shape), like.dtype, like.device,
                             AnalogLayer.scratch_max_elems)

    def _buffer_like(self, name: str, t: Tensor) -> Tensor | None:
        """A reused buffer laid out like the dense ``t`` (``None``: allocate afresh; per thread)."""
        bufs = self._reused_buffers() if t.device.type == "cpu" else None
        flat = shaped_buffer(bufs, name, (t.numel(),), t.dtype, t.device, AnalogLayer.scratch_max_elems)
        return strided_like(flat, t)

    def std(self, w_n: Tensor, cfg: AnalogConfig) -> Tensor | float:
        """Std of the Gaussian noise on ``w_n`` in normalised units: additive, multiplicative and
        (unless ``device_time_s`` asks for the full device model) the device's programming noise.
        A float when it does not depend on ``w_n``. A tensor result may live in a buffer this
        perturbation reuses on the calling thread's next call."""
        o = self.options
        var: Tensor | float = o.weight_noise_rel ** 2
        if o.weight_noise_prop > 0:
            var = var + (o.weight_noise_prop * w_n) ** 2
        if o.device_noise_scale > 0 and o.device_time_s == 0:
            if isinstance(var, float):
                return programming_std(w_n, cfg, o.device_noise_scale, extra_var=var,
                                       out=self._buffer("std", w_n), work=self._buffer("abs", w_n))
            return programming_std(w_n, cfg, o.device_noise_scale).square_().add_(var).sqrt_()
        return var.sqrt() if isinstance(var, Tensor) else math.sqrt(var)

    def _check_device(self, layer: AnalogLayer) -> None:
        o, dev = self.options, layer.cfg.device
        if o.device_time_s > 0 and dev.is_ideal or o.device_time_s == 0 and not dev.programming.active:
            raise ValueError(
                f"{layer.layer_name}: HWAOptions.device_noise_scale needs a device model with "
                f"{'programming noise' if o.device_time_s == 0 else 'non-idealities'} "
                f"(cfg.device.kind={dev.kind!r} has none); use a preset with one (e.g. pcm()) or "
                "weight_noise_rel instead")

    def supports_weight_units(self, cfg: AnalogConfig) -> bool:
        """Whether ``perturb_weights`` can run these options on ``cfg``: no device model at a
        time (``device_time_s``), no noise proportional to the weight, and a programming-noise
        std that is at most quadratic in the conductance."""
        o = self.options
        if o.device_time_s > 0 or o.weight_noise_prop > 0:
            return False
        if o.device_noise_scale == 0:
            return True
        d, _, _ = _std_poly(cfg.device.programming, cfg.mapping, float(o.device_noise_scale), 0.0)
        return len(d) <= 3

    def _const(self, value: float, like: Tensor) -> Tensor:
        """A cached 0-d tensor holding ``value`` (an addcmul's input term without a new tensor
        per call)."""
        consts = self.__dict__.setdefault("_consts", {})
        key = (value, like.dtype, like.device)
        c = consts.get(key)
        if c is None:
            c = consts[key] = torch.tensor(value, dtype=like.dtype, device=like.device)
        return c

    def perturb_weights(self, blocks: Tensor, scales: Tensor, layer: AnalogLayer,
                        out: Tensor | None = None) -> Tensor:
        """``__call__`` on the weights in weight units: ``blocks`` ``(B, r, M)`` and their column
        scales ``(B, 1, M)`` in, ``blocks + scales * std(|blocks| / scales) * N(0, 1)`` out (the
        same perturbation as ``__call__(blocks / scales) * scales``, without the normalised copy
        and the multiply back). The programming-noise std in weight units is evaluated as
        ``sqrt((s d0 + d1 |w| + (d2 / s) |w|^2)^2 + s^2 rest)`` (``_std_poly``), in five passes.
        ``out``: a tensor laid out like ``blocks`` to write into (a new one by default). Only
        for options ``supports_weight_units`` accepts."""
        o = self.options
        src = self._src(blocks)
        if o.device_noise_scale > 0:
            self._check_device(layer)
        if out is None:
            out = torch.empty_strided(blocks.shape, blocks.stride(), dtype=blocks.dtype, device=blocks.device)
        var0 = o.weight_noise_rel ** 2
        d, rest, clamp = (_std_poly(layer.cfg.device.programming, layer.cfg.mapping,
                                    float(o.device_noise_scale), float(var0))
                          if o.device_noise_scale > 0 else ((), var0, False))
        noisy = bool(d) or rest > 0
        if len(d) == 3:  # s q(|w| / s) = s d0 + |w| (d1 + (d2 / s) |w|), then sqrt(. ^2 + s^2 rest)
            a = torch.abs(blocks, out=self._buffer_like("abs", blocks))
            torch.addcmul(self._const(d[1], blocks), a, scales.reciprocal().mul_(d[2]), out=out)
            torch.addcmul(scales * d[0], a, out, out=out)
            if clamp:
                out.clamp_min_(0.0)
            torch.addcmul(scales.square().mul_(rest), out, out, out=out).sqrt_()
        elif len(d) == 2:  # s q = s d0 + d1 |w|
            torch.addcmul(scales * d[0], torch.abs(blocks), self._const(d[1], blocks), out=out)
            if clamp:
                out.clamp_min_(0.0)
            torch.addcmul(scales.square().mul_(rest), out, out, out=out).sqrt_()
        elif noisy:  # a std that does not depend on the weight
            c = math.sqrt((max(d[0], 0.0) if d else 0.0) ** 2 + rest)
            out.copy_((scales * c).expand(blocks.shape))
        flat_out, flat_base = dense_flat(out), dense_flat(blocks)
        if not noisy:
            out.copy_(blocks)
        elif flat_out is not None and flat_base is not None and out.stride() == blocks.stride():
            src.addmul_(flat_out, flat_base)  # out = blocks + out * N(0, 1), in memory order
        else:
            out.mul_(src.sample(tuple(out.shape))).add_(blocks)
        if o.drift_scale_range is not None:
            lo, hi = o.drift_scale_range
            u = torch.rand((), generator=src.generator, device=blocks.device, dtype=blocks.dtype)
            out.mul_(lo + (hi - lo) * u)
        return out

    def __call__(self, w_n: Tensor, layer: AnalogLayer) -> Tensor:
        o = self.options
        src = self._src(w_n)
        if o.device_noise_scale > 0:
            self._check_device(layer)
        out = w_n
        if o.device_noise_scale > 0 and o.device_time_s > 0:
            w_dev = device_weights(w_n, layer.cfg, o.device_time_s, src.generator, normal=src.sample)
            out = w_n + o.device_noise_scale * (w_dev - w_n)
        std = self.std(w_n, layer.cfg)
        if isinstance(std, Tensor):  # std is ours (fresh, or our buffer): the noise is drawn into it
            out = src.addmul_(std.contiguous(), out.contiguous())
        elif std > 0:
            out = src.add_(out.clone(memory_format=torch.contiguous_format), std)
        if o.drift_scale_range is not None:
            lo, hi = o.drift_scale_range
            u = torch.rand((), generator=src.generator, device=w_n.device, dtype=w_n.dtype)
            out = out * (lo + (hi - lo) * u)
        return out

    def __repr__(self) -> str:
        return f"WeightPerturbation({self.options}, seed={self.seed})"


def hwa_(model: nn.Module, options: HWAOptions, seed: int = 0) -> nn.Module:
    """Install ``options``' weight perturbation on every analog layer of ``model``; returns it.

    Only training-mode forwards are perturbed (``model.eval()`` runs the plain analog model). Each
    layer gets its own noise stream, seeded from ``seed`` and its position. With no weight
    perturbation in ``options`` this removes any installed one.
    """
    if not isinstance(options, HWAOptions):
        raise TypeError(f"hwa_: options must be an HWAOptions, got {type(options).__name__}")
    layers = analog_layers(model)
    if not layers:
        raise ValueError("hwa_: the model has no analog layers; call an.convert_(model, cfg) first")
    for i, layer in enumerate(layers.values()):
        layer.set_weight_perturbation(WeightPerturbation(options, derive_seed(seed, i))
                                      if options.perturbs_weights else None)
    return model


def remove_hwa_(model: nn.Module) -> nn.Module:
    """Remove every weight perturbation ``hwa_`` installed; returns ``model``."""
    for layer in analog_layers(model).values():
        layer.set_weight_perturbation(None)
    return model


@contextmanager
def hardware_aware(model: nn.Module, options: HWAOptions, seed: int = 0) -> Iterator[nn.Module]:
    """``with hardware_aware(model, options): train...`` -- ``hwa_`` inside, removed on exit."""
    hwa_(model, options, seed)
    try:
        yield model
    finally:
        remove_hwa_(model)


def reseed_noise_(model: nn.Module, seed: int) -> nn.Module:
    """Restart every noise stream of ``model`` (analog output noise and HWA perturbations).

    Layer ``i`` gets ``derive_seed(seed, i)`` for its output noise and ``derive_seed(seed, i, 1)``
    for its weight perturbation. The training loop calls this at the start of every epoch, so the
    noise an epoch sees depends only on (run seed, epoch) and a resumed run repeats it exactly.
    """
    for i, layer in enumerate(analog_layers(model).values()):
        layer.reseed(derive_seed(seed, i))
        pert = layer.weight_perturbation
        if isinstance(pert, WeightPerturbation):
            pert.reseed(derive_seed(seed, i, 1))
    return model


def _tile_columns(layer: AnalogLayer) -> Tensor:
    """``layer.weight`` as ``(outputs, inputs per output)``, one row per tile column, a view (so
    in-place edits land in the weight). A 2-d weight is read through the layer's own matrix
    ``(G, K, M)``, a view of it (Linear, stored ``(outputs, inputs)``: contiguous rows; HF
    ``Conv1D``, stored ``(inputs, outputs)``: strided rows); a convolution's weight is
    output-major, ``weight[o]`` being output ``o``'s column, as in torch's ``ConvNd`` (its matrix
    is a rearranged copy, not worth making here)."""
    w = layer.weight
    if w.dim() == 2:
        mat = layer.weight_matrix()
        if mat.untyped_storage().data_ptr() == w.untyped_storage().data_ptr():
            try:
                return mat.transpose(1, 2).view(-1, mat.shape[1])
            except RuntimeError:  # strides that no (G*M, K) view reaches: output-major below
                pass
    return w.detach().view(w.shape[0], -1)


@torch.no_grad()
def clip_weights_(model: nn.Module, sigma: float) -> nn.Module:
    """Clip every analog layer's weights to ``+-sigma`` standard deviations of their tile column.

    A tile column holds the weights of one output (``weight[o]`` of a Linear or Conv, the column
    ``weight[:, o]`` of a Hugging Face ``Conv1D``), so the statistics are per output channel, as
    the layer maps its weight (``weight_matrix``). Call after each optimizer step; returns ``model``.
    """
    if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"clip_weights_: sigma must be a finite number > 0, got {sigma!r}")
    for layer in analog_layers(model).values():
        flat = _tile_columns(layer)
        # the population std from two fast reductions (torch.std takes ~20x longer on CPU)
        mean = flat.mean(dim=1, keepdim=True)
        ms = torch.linalg.vector_norm(flat, 2, dim=1, keepdim=True).square_().div_(flat.shape[1])
        bound = ms.sub_(mean.square()).clamp_min_(0.0).sqrt_().mul_(sigma)
        # two passes with per-row bounds: faster on CPU than clamp_ with tensor bounds (benchmarks/README.md)
        torch.minimum(flat, bound, out=flat)
        torch.maximum(flat, bound.neg_(), out=flat)
    return model


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, target: Tensor,
                      T: float = 1.0, alpha: float = 0.5) -> Tensor:
    """``(1 - alpha) CE(student, target) + alpha T^2 KL(softmax(teacher/T) || softmax(student/T))``.

    Hinton et al., "Distilling the knowledge in a neural network", 2015 (the ``T^2`` keeps the
    gradient scale independent of the temperature).
    """
    ce = F.cross_entropy(student_logits, target)
    if alpha == 0.0:
        return ce
    kl = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.log_softmax(teacher_logits.detach() / T, dim=-1),
                  reduction="batchmean", log_target=True)
    return (1.0 - alpha) * ce + alpha * (T * T) * kl
