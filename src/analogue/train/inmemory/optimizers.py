"""Training in memory: optimizers that change analog weights only by device pulses.

The forward and backward MVMs run on the simulated tiles (``AnalogLinear`` layers, also with
``(batch, seq, features)`` inputs as in transformers, and ``AnalogConv1d``/``AnalogConv2d`` of one
group, whose update vectors are the im2col rows: one rank-1 pulsed update per output position,
summed in the devices as the hardware does it; the backward
optionally through its own transposed read, ``BackwardConfig``), and the weights are updated in
place by the devices' response to pulses (``analogue.physics.pulsed``), never by exact arithmetic:

- ``AnalogSGD``: stochastic pulse trains from the row (inputs) and column (errors) drivers; every
  coincidence is one device pulse (Gokmen & Vlasov, Front. Neurosci. 10:333, 2016).
- ``MixedPrecision``: the gradient is accumulated digitally in ``chi``; whenever ``|chi|`` passes
  the device's nominal step, that many pulses are sent and subtracted from ``chi`` (Nandakumar et
  al., Front. Neurosci. 14:406, 2020).
- ``TikiTaka``: pulsed SGD on a fast array ``A``; every ``transfer_every`` steps a few columns of
  ``A`` are read (one-hot inputs through the read periphery), accumulated digitally in ``H`` and
  moved to the slow array ``C`` (the weights the model uses) by threshold pulses (Gokmen & Haensch,
  Front. Neurosci. 14:103, 2020; the digital ``H`` as in Gokmen, Front. AI 4:699148, 2021). With
  ``chop_every`` the fast array's inputs and reads carry a sign that flips periodically, which
  cancels the offset of ``A``'s symmetry point (Rasch et al., "Fast offset-corrected in-memory
  training", arXiv:2303.04721, 2023).

They are optimizer-like objects (``torch.optim.Optimizer`` subclasses: ``step()`` after
``loss.backward()``, ``zero_grad()``, ``state_dict()``) over the analog layers of a model; their
weights stop requiring gradients (they change only through pulses). Train the digital parameters
(biases, norms) with any torch optimizer over ``digital_parameters(model)``::

    opt = an.train.AnalogSGD(model, an.train.rram_asymmetric(), lr=0.1)
    dig = torch.optim.SGD(an.train.digital_parameters(model), lr=0.1)
    loss.backward(); opt.step(); dig.step(); opt.zero_grad(); dig.zero_grad()

The weight ``Parameter`` always holds ``weight_scale * w`` where ``w`` is the array's state in
device units; per-device parameters and states live in the optimizer's ``state``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue._util.seeds import layer_seed
from analogue.config.pulsed import BackwardConfig, PulsedDevice
from analogue.lifecycle.convert import analog_layers
from analogue.nn import AnalogConv1d, AnalogConv2d, AnalogLayer, AnalogLinear
from analogue.physics import pulsed
from analogue.physics.noise import GaussianSource, NoiseStream
from analogue.physics.periphery import adc
from analogue.physics.ste import MVMTrace
from analogue.train.inmemory.arrays import PulsedArray

ALGORITHMS = ("sgd", "mixed", "tikitaka")


def _pool_size(n: int) -> int:
    """Pool of a ``GaussianSource`` for ``n`` samples per call: the next power of two in [2^14, 2^22]
    (as the layers' forward noise; each call renews 1/64 of it)."""
    return 1 << max(14, min(22, math.ceil(math.log2(max(n, 1)))))


# -- the analog backward pass --------------------------------------------------------------------------
class TransposedRead:
    """``grad_input`` of an analog layer computed by the array's transposed read (``BackwardConfig``).

    Installed on a layer by ``attach_analog_backward_`` (``layer.set_backward(TransposedRead(...))``):
    the layer's ``grad_input`` (which ``AnalogMatmulFn``'s backward calls) then runs it instead of
    the exact ``g @ w_eff^T``.
    """

    def __init__(self, layer: AnalogLayer, cfg: BackwardConfig, seed: int) -> None:
        if not isinstance(cfg, BackwardConfig):
            raise TypeError(f"{layer.layer_name}: backward config must be a BackwardConfig, "
                            f"got {type(cfg).__name__}")
        self.cfg = cfg
        self.tile = layer.cfg.tile
        self.scale_policy = layer.cfg.mapping.scale
        self.seed = int(seed)
        self._stream = NoiseStream(seed)

    def __call__(self, g: Tensor, trace: MVMTrace) -> Tensor:
        c = self.cfg
        noise_std = c.out_std_rel_fs * c.out_bound
        src = None
        if noise_std > 0:
            src = self._stream.source(g.device, g.dtype, _pool_size(g.shape[0] * g.shape[1] * trace.w_eff.shape[1]))
        return pulsed.transposed_mvm(
            g.contiguous(), trace.w_eff, rows=self.tile.rows, cols=self.tile.cols,
            scale_policy=self.scale_policy, dac_bits=c.dac_bits, adc_bits=c.adc_bits,
            out_bound=c.out_bound, noise_std=noise_std, source=src)


def attach_analog_backward_(model: nn.Module | AnalogLayer, cfg: BackwardConfig | None,
                            seed: int = 0) -> nn.Module | AnalogLayer:
    """Make every analog layer compute its input gradient by a transposed read (``cfg``), or
    restore the exact straight-through ``g @ w_eff^T`` with ``cfg=None``. In place; returns ``model``."""
    layers = [model] if isinstance(model, AnalogLayer) else list(analog_layers(model).values())
    for i, layer in enumerate(layers):
        layer.set_backward(None if cfg is None else TransposedRead(layer, cfg, layer_seed(seed, 7919 * (i + 1))))
    return model


# -- capturing x and d -----------------------------------------------------------------------------------
class _Record:
    __slots__ = ("d", "x")

    def __init__(self, x: Tensor) -> None:
        self.x = x
        self.d: Tensor | None = None


#: The analog layers the in-memory optimizers train.
TRAINABLE = (AnalogLinear, AnalogConv1d, AnalogConv2d)
Trainable = AnalogLinear | AnalogConv1d | AnalogConv2d


def update_rows(layer: Trainable, x: Tensor, d: Tensor) -> tuple[Tensor, Tensor]:
    """The update vectors of one forward: ``(x_rows, d_rows)``, ``(P, K)`` and ``(P, M)``, with
    ``W -= lr * d_rows^T x_rows`` the SGD step of the weight as a matrix ``(M, K)`` (a convolution's
    weight flattened in torch order, ``(out, in * kernel)``).

    ``x``: the layer's input, ``d``: the error at its output. A linear layer's leading dimensions
    (batch, sequence) are flattened; a convolution's inputs become its im2col patches (padded as the
    layer pads), one row per output position, and the error one row per position alike.
    """
    if isinstance(layer, AnalogLinear):
        return x.reshape(-1, layer.in_features), d.reshape(-1, layer.out_features)
    nd = 1 if isinstance(layer, AnalogConv1d) else 2
    if x.dim() == nd + 1:  # unbatched
        x, d = x.unsqueeze(0), d.unsqueeze(0)
    if nd == 1:  # as 2-D with a height of 1
        x, d = x.unsqueeze(2), d.unsqueeze(2)
        k, s, dil = (1, layer.kernel_size[0]), (1, layer.stride[0]), (1, layer.dilation[0])
    else:
        k, s, dil = layer.kernel_size, layer.stride, layer.dilation
    left, right, top, bottom = pads = layer._pads()
    if layer.padding_mode == "zeros" and left == right and top == bottom:  # unfold pads, without a copy
        cols = F.unfold(x, k, dilation=dil, padding=(top, left), stride=s)  # (B, C * kh * kw, L)
    else:
        if any(pads):
            x = F.pad(x, pads, mode="constant" if layer.padding_mode == "zeros" else layer.padding_mode)
        cols = F.unfold(x, k, dilation=dil, stride=s)
    kk = cols.shape[1]
    return cols.transpose(1, 2).reshape(-1, kk), d.flatten(2).transpose(1, 2).reshape(-1, d.shape[1])


def _matrix_shape(w: Tensor) -> tuple[int, int]:
    """A layer weight as the array's ``(M, K)``."""
    return w.shape[0], w[0].numel()


def _resolve_layers(model: nn.Module | Iterable[AnalogLayer]) -> dict[str, Trainable]:
    if isinstance(model, TRAINABLE):
        layers: dict[str, AnalogLayer] = {model.layer_name: model}
    elif isinstance(model, nn.Module):
        layers = dict(analog_layers(model))
    else:
        layers = {getattr(m, "layer_name", str(i)): m for i, m in enumerate(model)}
    if not layers:
        raise ValueError("in-memory training: the model has no analog layers; call an.convert_ first")
    for name, layer in layers.items():
        if not isinstance(layer, TRAINABLE) or getattr(layer, "groups", 1) != 1:
            what = type(layer).__name__ + (f" with groups={layer.groups}" if isinstance(layer, TRAINABLE) else "")
            raise TypeError(f"{name}: in-memory training supports AnalogLinear, AnalogConv1d and AnalogConv2d "
                            f"(groups=1) layers, got {what}; keep it digital (rules={{{name!r}: None}}) or "
                            "train it hardware-aware")
    return layers  # type: ignore[return-value]


def digital_parameters(model: nn.Module) -> Iterator[nn.Parameter]:
    """The parameters a normal torch optimizer should train: those that require gradients (an
    in-memory optimizer turns its weights' off while it is attached; ``close()`` turns them on)."""
    for p in model.parameters():
        if p.requires_grad:
            yield p


# -- the optimizers --------------------------------------------------------------------------------------
class InMemoryOptimizer(torch.optim.Optimizer):
    """Base of the in-memory algorithms: layer bookkeeping, capture of ``x`` and ``d``, write-back.

    ``model``: a module (its analog layers, ``TRAINABLE``, are trained) or an iterable of layers.
    ``device``: the pulsed device model of every array. ``lr``: learning rate in weight units (the
    expected change of ``W`` is ``-lr * dL/dW`` for a nominal device). ``bl``: pulse-train length.
    ``sampling``: ``"counts"`` (fast) or ``"trains"`` (exact pulse trains); see
    ``physics.pulsed.sample_coincidences``. ``backward``: a ``BackwardConfig`` for an analog
    transposed read in the backward pass, or ``None`` for the exact one. ``weight_scale``: weight
    units per device unit; ``None`` chooses ``max|W| / init_fraction`` per layer at start.
    ``seed``: the device sampling and pulse randomness.
    """

    algorithm = "base"

    def __init__(self, model: nn.Module | Iterable[AnalogLayer], device: PulsedDevice, lr: float, *,
                 bl: int = 31, sampling: str = "counts", backward: BackwardConfig | None = None,
                 weight_scale: float | None = None, init_fraction: float = 0.15, seed: int = 0,
                 **defaults: Any) -> None:
        if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise ValueError(f"{type(self).__name__}: lr must be a finite number > 0, got {lr!r}")
        if not (isinstance(bl, int) and 1 <= bl <= 1 << 16):
            raise ValueError(f"{type(self).__name__}: bl (pulse-train length) must be an int in [1, 65536], "
                             f"got {bl!r}")
        if sampling not in pulsed.SAMPLING_MODES:
            raise ValueError(f"{type(self).__name__}: sampling must be one of {pulsed.SAMPLING_MODES}, "
                             f"got {sampling!r}")
        if weight_scale is not None and not weight_scale > 0:
            raise ValueError(f"{type(self).__name__}: weight_scale must be > 0 or None, got {weight_scale!r}")
        if not 0 < init_fraction <= 1:
            raise ValueError(f"{type(self).__name__}: init_fraction must lie in (0, 1], got {init_fraction!r}")
        layers = _resolve_layers(model)
        self.device_model = device
        self.bl, self.sampling, self.backward_cfg = bl, sampling, backward
        self._layers = {id(layer.weight): (name, layer) for name, layer in layers.items()}
        self._records: dict[int, list[_Record]] = {id(layer.weight): [] for layer in layers.values()}
        self._hooks: list[Any] = []
        # random draws on the weights' device (the pulses are sampled where the arrays live)
        where = next(iter(layers.values())).weight.device if layers else torch.device("cpu")
        self.generator = torch.Generator(device=where).manual_seed(int(seed))
        self._seed = int(seed)
        self._noise_stream = NoiseStream(layer_seed(self._seed, 1))  # cycle-to-cycle noise
        self._pulses = torch.zeros((), dtype=torch.float64, device=where)
        self._counts = {"steps": 0, "array_updates": 0, "transfer_reads": 0, "refreshes": 0,
                        "samples": 0}
        self._scale: dict[int, float] = {}
        self._next_col: dict[int, int] = {}  # TikiTaka: st["next_col"] as an int (no read-back per step)
        super().__init__([layer.weight for layer in layers.values()], dict(lr=lr, **defaults))
        for layer in layers.values():
            self._attach(layer)
            self._init_layer(layer, weight_scale, init_fraction)
        if backward is not None:
            for i, layer in enumerate(layers.values()):
                attach_analog_backward_(layer, backward, seed=layer_seed(seed, i))

    # -- setup -----------------------------------------------------------------------------------
    def _attach(self, layer: Trainable) -> None:
        layer.weight.requires_grad_(False)
        key = id(layer.weight)

        def pre_hook(mod: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
            x = args[0]
            if torch.is_grad_enabled() and mod.training and mod.bias is None and not x.requires_grad:
                return (x.detach().requires_grad_(),) + tuple(args[1:])  # so an error reaches this layer
            return None

        def hook(mod: nn.Module, args: tuple[Any, ...], out: Tensor) -> None:
            if not (torch.is_grad_enabled() and mod.training and out.requires_grad):
                return
            rec = _Record(args[0].detach())
            self._records[key].append(rec)

            def grab(g: Tensor) -> None:
                rec.d = g.detach()

            out.register_hook(grab)

        self._hooks.append(layer.register_forward_pre_hook(pre_hook))
        self._hooks.append(layer.register_forward_hook(hook))

    def _new_array(self, like: Tensor, device: PulsedDevice | None = None) -> PulsedArray:
        return PulsedArray.sample(device or self.device_model, tuple(like.shape), self.generator, like)

    def _init_layer(self, layer: Trainable, weight_scale: float | None, init_fraction: float) -> None:
        w = layer.weight
        st = self.state[w]
        peak = float(w.detach().abs().max())
        ws = weight_scale if weight_scale is not None else max(peak, 1e-12) / init_fraction
        st["weight_scale"] = torch.tensor(ws, dtype=w.dtype, device=w.device)
        self._scale[id(w)] = float(ws)
        w2 = w.detach().reshape(_matrix_shape(w))
        arr = self._new_array(w2)
        arr.program_(w2 / ws)
        st["array"] = arr.tensors
        self._write_back(w)

    def close(self) -> None:
        """Detach from the model: remove hooks, restore gradients and the exact backward."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        for _name, layer in self._layers.values():
            layer.weight.requires_grad_(True)
            if self.backward_cfg is not None:
                attach_analog_backward_(layer, None)

    # -- helpers ---------------------------------------------------------------------------------
    def array(self, weight: Tensor, name: str = "array") -> PulsedArray:
        """The ``PulsedArray`` view of a layer's (slow) array."""
        return PulsedArray(self._device_for(name), self.state[weight][name])

    def _device_for(self, name: str) -> PulsedDevice:
        return self.device_model

    def _write_back(self, w: Tensor) -> None:
        st = self.state[w]
        with torch.no_grad():
            torch.mul(self.array(w).weight(), st["weight_scale"], out=w if w.dim() == 2 else w.view(_matrix_shape(w)))

    def layers(self) -> dict[str, Trainable]:
        return {name: layer for name, layer in self._layers.values()}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget captured activations and errors (and clear gradients, which these weights lack)."""
        for recs in self._records.values():
            recs.clear()
        # the weights change only through pulses and normally have no gradient: skip torch's pass
        if any(p.grad is not None for g in self.param_groups for p in g["params"]):
            super().zero_grad(set_to_none=set_to_none)

    def _noise(self, arr: PulsedArray) -> GaussianSource | None:
        """Cycle-to-cycle noise for ``arr``: a fast Gaussian source on its own stream, made on first
        use; ``None`` for noise-free devices."""
        dev = arr.device
        if dev.c2c_std_rel <= 0 and getattr(dev, "reset_std", 0.0) <= 0:
            return None
        t = next(iter(arr.tensors.values()))  # every tensor has the array's shape, device, dtype
        return self._noise_stream.source(t.device, t.dtype, _pool_size(t.numel()))

    @property
    def stats(self) -> dict[str, float]:
        """Work done so far: optimizer ``steps``, training ``samples`` (input vectors of the layer
        that saw most, per step), ``array_updates`` (parallel pulsed updates of a whole array), ``device_pulses`` (pulses
        received by devices, summed), ``transfer_reads`` (Tiki-Taka column reads), ``refreshes``
        (PCM pair refreshes)."""
        return {**{k: float(v) for k, v in self._counts.items()}, "device_pulses": float(self._pulses)}

    def _weight_scale(self, w: Tensor) -> float:
        ws = self._scale.get(id(w))
        if ws is None:  # e.g. after load_state_dict
            ws = self._scale[id(w)] = float(self.state[w]["weight_scale"])
        return ws

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._scale.clear()
        self._next_col.clear()
        for group in self.param_groups:
            for w in group["params"]:
                self._write_back(w)

    def _count_pulses(self, n_up: Tensor, n_down: Tensor) -> None:
        self._pulses += n_up.sum(dtype=torch.float64) + n_down.sum(dtype=torch.float64)

    def _pulsed_update(self, arr: PulsedArray, x: Tensor, d: Tensor, lr_device: float,
                       share: int | None = None) -> int | None:
        """Pulse trains for ``W -= lr_device * d^T x`` (device units) onto ``arr``. ``share``: the
        most pulses it may apply (the sampled counts scaled down to it); then the pulses applied
        are returned (``None`` otherwise)."""
        ppu = lr_device / arr.device.dw_nominal
        # descent: a coincidence of x_i and -d_j with positive sign is an up pulse
        ps, qs = pulsed.pulse_probabilities(x, d.neg(), ppu, self.bl)
        n_up, n_down = pulsed.sample_coincidences(ps, qs, self.bl, self.generator, self.sampling)
        used = None
        if share is not None:
            both = self._counts_within(torch.stack((n_up, n_down)).to(torch.int64), share)
            n_up, n_down = both[0].to(n_up.dtype), both[1].to(n_down.dtype)
            used = int(both.sum())
        self._counts["refreshes"] += arr.pulse_(n_up, n_down, self._noise(arr))
        self._counts["array_updates"] += 1
        self._count_pulses(n_up, n_down)
        return used

    @staticmethod
    def _share(group: dict[str, Any], numel: int) -> int | None:
        """An array's share of the group's ``pulse_budget`` (pulses per step over all arrays): in
        proportion to its devices, rounded down; ``None`` without a budget."""
        budget = group.get("pulse_budget")
        if budget is None:
            return None
        return budget * numel // sum(p.numel() for p in group["params"])

    @staticmethod
    def _counts_within(k: Tensor, share: int) -> Tensor:
        """Non-negative integer pulse counts ``k`` cut to ``share`` in all when they exceed it, in
        proportion (largest remainder: each count becomes ``floor(k * share / total)``, and the
        pulses left over go, one each, to the counts with the largest remainders), so the sum is
        exactly ``share`` and no count grows; ``k`` itself when it is within."""
        total = int(k.sum())
        if total <= share:
            return k
        scaled = k * share
        out = scaled // total
        left = share - int(out.sum())
        if left > 0:
            rem = (scaled - out * total).flatten()
            out.view(-1)[torch.topk(rem, left, sorted=False).indices] += 1
        return out

    @classmethod
    def _scaled_to(cls, n: Tensor, share: int) -> Tensor:
        """Signed whole pulse counts ``n`` cut to ``share`` pulses in all
        (:meth:`_counts_within` of ``|n|``), signs kept."""
        k = n.abs().to(torch.int64)
        if int(k.sum()) <= share:
            return n
        return cls._counts_within(k, share).to(n.dtype) * n.sign()

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        samples = 0
        for group in self.param_groups:
            for w in group["params"]:
                recs = [r for r in self._records[id(w)] if r.d is not None]
                if not recs:
                    continue
                layer = self._layers[id(w)][1]
                rows = [update_rows(layer, r.x, r.d) for r in recs]  # type: ignore[arg-type]
                x = torch.cat([r[0] for r in rows]) if len(rows) > 1 else rows[0][0]
                d = torch.cat([r[1] for r in rows]) if len(rows) > 1 else rows[0][1]
                if not math.isfinite(float(d.abs().amax())):
                    raise ValueError(f"{self._layers[id(w)][0]}: the error reaching the array is NaN or "
                                     "Inf; lower the learning rate or check the loss")
                samples = max(samples, x.shape[0])
                self._update(w, x, d, group)
                self._write_back(w)
        for recs in self._records.values():
            recs.clear()
        self._counts["steps"] += 1
        self._counts["samples"] += samples
        return loss

    def _update(self, w: Tensor, x: Tensor, d: Tensor, group: dict[str, Any]) -> None:
        raise NotImplementedError


class AnalogSGD(InMemoryOptimizer):
    """Plain analog SGD: every step is one stochastic pulse-train update of the array."""

    algorithm = "sgd"

    def _update(self, w: Tensor, x: Tensor, d: Tensor, group: dict[str, Any]) -> None:
        self._pulsed_update(self.array(w), x, d, group["lr"] / self._weight_scale(w))


class MixedPrecision(InMemoryOptimizer):
    """Digital gradient accumulation with threshold transfer to the array (Nandakumar et al. 2020).

    ``chi`` (device units) accumulates ``-lr * dL/dW / weight_scale``; every device whose ``|chi|``
    reaches its nominal step gets ``trunc(chi / step)`` pulses (at most ``max_pulses`` per step) and
    ``chi`` keeps the remainder. ``pulse_budget``: the most device pulses one step may apply over
    all arrays (``None``: no limit); each array gets the share of its devices (rounded down), and
    an array that would exceed its share has its pulse counts scaled down to it (truncated toward
    zero), the rest staying in ``chi`` for later steps.
    """

    algorithm = "mixed"

    def __init__(self, model: nn.Module | Iterable[AnalogLayer], device: PulsedDevice, lr: float, *,
                 max_pulses: int = 31, pulse_budget: int | None = None, **kwargs: Any) -> None:
        if not (isinstance(max_pulses, int) and max_pulses >= 1):
            raise ValueError(f"MixedPrecision: max_pulses must be an int >= 1, got {max_pulses!r}")
        if pulse_budget is not None and not (isinstance(pulse_budget, int) and pulse_budget >= 0):
            raise ValueError(f"MixedPrecision: pulse_budget must be an int >= 0 or None, got {pulse_budget!r}")
        super().__init__(model, device, lr, max_pulses=max_pulses, pulse_budget=pulse_budget, **kwargs)

    def _update(self, w: Tensor, x: Tensor, d: Tensor, group: dict[str, Any]) -> None:
        st = self.state[w]
        ws = self._weight_scale(w)
        chi = st.get("chi")
        if chi is None:
            chi = st["chi"] = w.new_zeros(_matrix_shape(w))
        chi.sub_(d.t() @ x, alpha=group["lr"] / ws)
        dw = self.device_model.dw_nominal
        n = torch.trunc(chi / dw).clamp_(-group["max_pulses"], group["max_pulses"])
        share = self._share(group, n.numel())
        if share is not None:
            n = self._scaled_to(n, share)
        chi.sub_(n * dw)
        n_up, n_down = n.clamp_min(0.0), (-n).clamp_min(0.0)
        arr = self.array(w)
        self._counts["refreshes"] += arr.pulse_(n_up, n_down, self._noise(arr))
        self._counts["array_updates"] += 1
        self._count_pulses(n_up, n_down)


class TikiTaka(InMemoryOptimizer):
    """Tiki-Taka (v2) with optional chopper: fast array ``A``, digital ``H``, slow array ``C`` = weights.

    ``lr``: learning rate of the pulsed updates onto ``A`` (weight units, as ``AnalogSGD``).
    ``transfer_lr``: ``H += transfer_lr * read(A[:, i])`` for the transferred columns.
    ``transfer_every``: steps between transfers; ``columns_per_transfer``: input columns read per
    transfer (cyclically). ``H`` moves to ``C`` by ``trunc(H / step_C)`` pulses (at most
    ``max_pulses``). ``chop_every``: flip a column's chopper sign after this many reads of it
    (``None``: no chopper). ``fast_device``: device model of ``A`` (default: the same as ``C``).
    ``zero_shift``: ``A`` is read against a reference at each device's symmetry point, where ``A``
    also starts (Kim et al., arXiv:1907.10228, 2019). ``transfer_read``: the read periphery.
    ``pulse_budget``: the most device pulses one step may apply over all arrays (``None``: no
    limit), shared in proportion to each layer's devices; up to half of a layer's share is kept
    for its transfer (at most what a transfer can use), the fast update's sampled pulses are cut
    to the rest, and the transfer gets what is then left (the remainder of ``H`` waits).
    ``A`` forgets through its device's asymmetry (soft bounds pull it to the symmetry point); a
    symmetric constant-step fast device never forgets, and the transfer then runs away -- give
    such arrays a soft-bounds ``fast_device``.
    """

    algorithm = "tikitaka"

    def __init__(self, model: nn.Module | Iterable[AnalogLayer], device: PulsedDevice, lr: float, *,
                 transfer_lr: float = 0.1, transfer_every: int = 1, columns_per_transfer: int = 1,
                 max_pulses: int = 31, chop_every: int | None = None,
                 fast_device: PulsedDevice | None = None, zero_shift: bool = True,
                 transfer_read: BackwardConfig | None = None, pulse_budget: int | None = None,
                 **kwargs: Any) -> None:
        for name, v in (("transfer_every", transfer_every), ("columns_per_transfer", columns_per_transfer),
                        ("max_pulses", max_pulses)):
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"TikiTaka: {name} must be an int >= 1, got {v!r}")
        if pulse_budget is not None and not (isinstance(pulse_budget, int) and pulse_budget >= 0):
            raise ValueError(f"TikiTaka: pulse_budget must be an int >= 0 or None, got {pulse_budget!r}")
        if chop_every is not None and not (isinstance(chop_every, int) and chop_every >= 1):
            raise ValueError(f"TikiTaka: chop_every must be an int >= 1 or None, got {chop_every!r}")
        if not transfer_lr > 0:
            raise ValueError(f"TikiTaka: transfer_lr must be > 0, got {transfer_lr!r}")
        self.fast_device = fast_device
        self.zero_shift = zero_shift
        self.transfer_read = transfer_read if transfer_read is not None else BackwardConfig(
            dac_bits=8, adc_bits=8, out_bound=1.0, out_std_rel_fs=0.02)
        super().__init__(model, device, lr, transfer_lr=transfer_lr, transfer_every=transfer_every,
                         columns_per_transfer=columns_per_transfer, max_pulses=max_pulses,
                         chop_every=chop_every, pulse_budget=pulse_budget, **kwargs)

    def _device_for(self, name: str) -> PulsedDevice:
        if name == "fast" and self.fast_device is not None:
            return self.fast_device
        return self.device_model

    def _init_layer(self, layer: Trainable, weight_scale: float | None, init_fraction: float) -> None:
        super()._init_layer(layer, weight_scale, init_fraction)
        w = layer.weight
        st = self.state[w]
        shape = _matrix_shape(w)
        fast = PulsedArray.sample(self._device_for("fast"), shape, self.generator, w.detach())
        ref = fast.symmetry_point() if self.zero_shift else w.new_zeros(shape)
        fast.program_(ref)
        st["fast"] = fast.tensors
        st["fast_ref"] = ref
        st["h"] = w.new_zeros(shape)
        st["chopper"] = torch.ones(shape[1], dtype=w.dtype, device=w.device)
        st["reads"] = torch.zeros(shape[1], dtype=w.dtype, device=w.device)
        st["tt_step"] = torch.zeros((), dtype=w.dtype, device=w.device)
        st["next_col"] = torch.zeros((), dtype=w.dtype, device=w.device)

    def _read_columns(self, fast: PulsedArray, ref: Tensor, cols: Tensor | slice) -> Tensor:
        """One-hot reads of ``A[:, cols]`` against the reference, through the read periphery."""
        c = self.transfer_read
        a = fast.weight()[:, cols] - ref[:, cols]
        if c.out_std_rel_fs > 0:
            a = a + (c.out_std_rel_fs * c.out_bound) * torch.randn(
                a.shape, generator=self.generator, dtype=a.dtype, device=a.device)
        return adc(a, c.out_bound, c.adc_bits, clip=True)

    def _update(self, w: Tensor, x: Tensor, d: Tensor, group: dict[str, Any]) -> None:
        st = self.state[w]
        fast = self.array(w, "fast")
        chop = st["chopper"]
        chopped = group["chop_every"] is not None  # without a chopper its signs stay +1: skip the products
        share = self._share(group, w.numel())
        fast_share = None
        if share is not None:  # keep up to half of the share for the transfer's pulses
            rows, cols_total = _matrix_shape(w)
            transfer_most = rows * min(group["columns_per_transfer"], cols_total) * group["max_pulses"]
            fast_share = share - min(share // 2, transfer_most)
        used = self._pulsed_update(fast, x * chop if chopped else x, d, group["lr"] / self._weight_scale(w),
                                   fast_share)
        st["tt_step"] += 1
        every = group["transfer_every"]
        if every > 1 and int(st["tt_step"]) % every:
            return
        k = _matrix_shape(w)[1]
        n_cols = min(group["columns_per_transfer"], k)
        start = self._next_col.get(id(w))
        if start is None:  # first transfer, or after load_state_dict
            start = int(st["next_col"])
        stop = start + n_cols
        # the columns as a slice (views, no gather/scatter) unless they wrap around
        cols: Tensor | slice = slice(start, stop) if stop <= k else (
            torch.arange(n_cols, device=w.device) + start) % k
        self._next_col[id(w)] = stop % k
        st["next_col"].fill_(stop % k)
        a = self._read_columns(fast, st["fast_ref"], cols)
        if chopped:
            a = a * chop[cols]
        h = st["h"]
        hc = h[:, cols]  # a view for a slice, a copy for an index (written back below)
        hc += group["transfer_lr"] * a
        slow = self.array(w)
        dw = slow.device.dw_nominal
        n = torch.trunc(hc / dw).clamp_(-group["max_pulses"], group["max_pulses"])
        if share is not None:
            n = self._scaled_to(n, share - (used or 0))
        hc -= n * dw
        if not isinstance(cols, slice):
            h[:, cols] = hc
        n_up, n_down = n.clamp_min(0.0), (-n).clamp_min(0.0)
        self._counts["refreshes"] += slow.pulse_(n_up, n_down, self._noise(slow), cols)
        self._count_pulses(n_up, n_down)
        self._counts["transfer_reads"] += n_cols
        if chopped:
            st["reads"][cols] += 1
            flip = st["reads"][cols] % group["chop_every"] == 0
            chop[cols] = torch.where(flip, -chop[cols], chop[cols])


OPTIMIZERS: dict[str, type[InMemoryOptimizer]] = {"sgd": AnalogSGD, "mixed": MixedPrecision,
                                                   "tikitaka": TikiTaka}

__all__ = [
    "ALGORITHMS",
    "OPTIMIZERS",
    "AnalogSGD",
    "InMemoryOptimizer",
    "MixedPrecision",
    "TikiTaka",
    "TRAINABLE",
    "TransposedRead",
    "attach_analog_backward_",
    "digital_parameters",
    "update_rows",
]
