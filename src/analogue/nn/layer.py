"""``AnalogLayer``: what every analog module shares (the shell: config, ranges, forward plumbing).

A layer keeps an ordinary ``nn.Parameter`` weight and a digital bias. Its forward is the list of
physical steps: DAC the inputs, read the weights off the array as normalised conductances, sum
currents per row block, add output noise, digitise each block with its ADC, rescale and add the
partial sums digitally. Everything stateful the physics needs (input ranges, ADC ranges,
programmed conductances) lives in registered buffers or parameters, so ``state_dict``,
optimizers and ``deepcopy`` work unchanged.

The weight readers live in ``nn.readers``, the reused temporaries in ``nn.buffers``, the autograd
functions in ``nn.autograd``. Extension points are typed and public: ``set_weight_perturbation``
(hardware-aware training), ``set_backward`` (an input gradient other than the exact one, e.g. the
array's transposed read) and ``set_input_capture`` (recording the inputs the tiles apply).

Threads: one layer may run in several threads at once. The temporaries it reuses between calls
are per thread (``nn.buffers``), so concurrent calls give the outputs they give one at a
time. The layer's output-noise stream is one per layer, shared: concurrent calls draw distinct
stretches of it in the order they reach it, so noisy outputs are reproducible per ``noise_seed``
only when the calls come in a fixed order (one thread, or one model copy per thread: ``deepcopy``
and ``reseed`` each copy).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import torch
from torch import Tensor, nn

from analogue.config import AnalogConfig
from analogue.nn import buffers, programmed, readers
from analogue.nn.autograd import AnalogMatmulFn
from analogue.nn.call import INFERENCE, CallMode, Inputs
from analogue.nn.readers import WeightPerturber
from analogue.physics import mapping
from analogue.physics.crossbar import BlockReader, Readout, WeightUnits, tiled_mvm
from analogue.physics.noise import GaussianSource, NoiseStream, pool_size_for
from analogue.physics.periphery import (
    bit_plane_significance,
    dac,
    dac_unit,
    dynamic_input_scale,
    input_bit_planes,
    nonideal_dac,
)
from analogue.physics.ste import MVMTrace, autocast_on

NON_FINITE_MESSAGE = ("analogue: an analog layer's input or weight contains NaN or Inf (device-side "
                      "check; see docs/reliability.md)")


class InputGradient(Protocol):
    """An analog layer's input gradient ``g @ w_eff^T`` (``(G, N, M)`` -> ``(G, N, K)``) from the
    output gradient and the forward's trace (``set_backward``)."""

    def __call__(self, g: Tensor, trace: MVMTrace) -> Tensor: ...


class InputSink(Protocol):
    """Where a layer records the ``(G, N, K)`` inputs it applies to its tiles (``set_input_capture``)."""

    def append(self, x: Tensor) -> None: ...


def simulated_forward(forward: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Decorate an analog layer's ``forward(self, x)``: how it runs inside ``torch.compile`` and
    ``torch.autocast``.

    - ``torch.compile``: the tile simulation (Python-side noise streams, reused buffers, NaN
      checks) runs eagerly; dynamo breaks the graph around the layer and compiles the digital
      rest of the model (``fullgraph=True`` therefore fails on a model with analog layers).
    - ``torch.autocast``: the simulation runs in the weight's dtype with autocast off (the DAC and
      ADC bits set the simulated precision, not the host's float format; like torch's float32-list
      ops) and returns that dtype; downstream layers cast as autocast tells them.
    - Otherwise an input whose dtype differs from the weight's fails here, naming the layer.
    """

    @functools.wraps(forward)
    def run(self: AnalogLayer, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self.layer_name}: expected a tensor input, got {type(x).__name__}")
        dev = x.device.type
        autocast = autocast_on(dev)
        if autocast and x.is_floating_point():
            x = x.to(self.weight.dtype)
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"{self.layer_name}: input dtype {x.dtype} differs from the weight's {self.weight.dtype}; "
                f"cast the input (x.to({self.weight.dtype})) or the model (model.to({x.dtype}))."
            )
        if autocast:
            with torch.autocast(dev, enabled=False):
                return forward(self, x)
        return forward(self, x)

    return torch.compiler.disable(run)


def _host_value(value: float, dtype: torch.dtype) -> float:
    """``value`` as a tensor of ``dtype`` holds it, read back as a Python float (on the host)."""
    return float(torch.tensor(value, dtype=torch.float64).to(dtype)) if dtype != torch.float64 else float(value)


def copy_params(src: nn.Module, dst: nn.Module) -> nn.Module:
    """Copy ``weight`` and ``bias`` (and the train/eval mode) from ``src`` into ``dst``."""
    with torch.no_grad():
        dst.weight.copy_(src.weight)
        if src.bias is not None:
            dst.bias.copy_(src.bias)
    dst.train(src.training)
    return dst


class AnalogLayer(nn.Module):
    """Base class: subclasses define ``_matrix()`` (the weight as ``(G, K, M)``), ``weight_grad`` and
    the forward that reshapes inputs to ``(G, N, K)`` and calls ``analog_matmul`` (or
    ``analog_matmul_flat``)."""

    weight: nn.Parameter
    groups: int

    def _init_analog(self, cfg: AnalogConfig | None, seed: int = 0) -> None:
        from analogue.config.presets import standard

        cfg = standard() if cfg is None else cfg
        if not isinstance(cfg, AnalogConfig):
            raise TypeError(f"{type(self).__name__}: cfg must be an AnalogConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.layer_name = type(self).__name__
        self.noise_seed = int(seed)
        self._stream = NoiseStream(seed)
        self._capture: InputSink | None = None  # set_input_capture
        self._weight_perturbation: WeightPerturber | None = None  # set_weight_perturbation
        self._input_gradient: InputGradient | None = None  # set_backward
        dev, dt = self.weight.device, self.weight.dtype
        rng = torch.tensor(float(cfg.dac.input_range), device=dev, dtype=dt)
        if cfg.dac.range_policy == "learned":
            self.input_range = nn.Parameter(rng)
        elif cfg.dac.range_policy in ("fixed", "calibrated"):
            self.register_buffer("input_range", rng)
        else:
            self.input_range = None
        self.register_buffer("out_bound", torch.tensor(float(cfg.adc.out_bound), device=dev, dtype=dt))
        self._note_out_bound(_host_value(float(cfg.adc.out_bound), dt))
        programmed.init_programmed_state(self)  # empty until an.program_ (see nn/programmed.py)

    # -- the ADC range as the host knows it (no device read in the forward) --------------------
    def _note_out_bound(self, value: float) -> None:
        """Record that the ``out_bound`` buffer now holds ``value`` (set where it is written:
        construction, ``.to()``, ``load_state_dict``, ``calibrate_``)."""
        ob = self.out_bound
        self.__dict__["_out_bound_host"] = (ob, ob._version, value)

    def out_bound_value(self) -> float:
        """The ADC range ``out_bound`` as a Python float, without reading device memory: the value
        recorded where the buffer was last written (construction, ``.to()``, ``load_state_dict``,
        ``calibrate_``). A write anywhere else (the buffer replaced, or changed in place: its
        version counter moves) is read back once here (one host sync on an accelerator). On CPU
        the buffer is host memory: read directly (no dispatcher op; faster than the record)."""
        ob = self.out_bound
        if ob.is_cpu:
            return ob.tolist()
        return self._recorded_out_bound()

    def record_out_bound(self) -> float:
        """Read the ``out_bound`` buffer once and record it as the host's copy (call after writing
        the buffer, e.g. ``calibrate_``: the forward then reads nothing back); returns it."""
        self._note_out_bound(float(self.out_bound))
        return self.__dict__["_out_bound_host"][2]

    def _recorded_out_bound(self) -> float:
        """``out_bound_value`` from the host's record (what accelerators use)."""
        ob = self.out_bound
        rec = self.__dict__.get("_out_bound_host")
        if rec is None or rec[0] is not ob or rec[1] != ob._version:
            self._note_out_bound(float(ob))
            rec = self.__dict__["_out_bound_host"]
        return rec[2]

    def _apply(self, fn, recurse=True):  # type: ignore[override]
        rec = self.__dict__.get("_out_bound_host")
        known = rec is not None and rec[0] is self.out_bound and rec[1] == self.out_bound._version
        out = super()._apply(fn, recurse)
        if known and self.out_bound is not rec[0]:  # moved or cast: the value, cast on the host
            self._note_out_bound(_host_value(rec[2], self.out_bound.dtype))
        return out

    # -- shapes --------------------------------------------------------------------------------
    def _matrix(self) -> Tensor:  # (G, K, M)
        raise NotImplementedError

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        raise NotImplementedError

    def weight_matrix(self) -> Tensor:
        """The weight as the array maps it, ``(G, K, M)`` (inputs on rows, outputs on columns),
        detached (a view of the weight where the layout allows)."""
        return self._matrix().detach()

    @property
    def matrix_shape(self) -> tuple[int, int, int]:
        """``(groups, rows K, columns M)`` of the mapped matrix per group."""
        g, k, m = self._matrix().shape
        return g, k, m

    @property
    def n_row_blocks(self) -> int:
        return mapping.n_row_blocks(self.matrix_shape[1], self.cfg.tile.rows)

    # -- extension points ------------------------------------------------------------------------
    @property
    def weight_perturbation(self) -> WeightPerturber | None:
        """The training-mode weight perturbation (``set_weight_perturbation``), or ``None``."""
        return self._weight_perturbation

    def set_weight_perturbation(self, perturbation: WeightPerturber | None) -> None:
        """Perturb the weights on every training-mode read with ``perturbation(w_n, layer)``
        (hardware-aware training, ``train.hwa``); ``None``: read them unperturbed. One that is a
        ``WeightUnitPerturber`` runs on the weights in weight units where it supports the
        layer's config (``nn.readers``)."""
        if perturbation is not None and not callable(perturbation):
            raise TypeError(f"{self.layer_name}: a weight perturbation is a callable (w_n, layer) -> "
                            f"perturbed w_n, got {type(perturbation).__name__}")
        self._weight_perturbation = perturbation

    @property
    def input_gradient(self) -> InputGradient | None:
        """The input gradient installed by ``set_backward``, or ``None`` (the exact one)."""
        return self._input_gradient

    def set_backward(self, backward: InputGradient | None) -> None:
        """Compute the input gradient ``g @ w_eff^T`` with ``backward(g, trace)`` (e.g. the array's
        transposed read, ``train.inmemory``); ``None``: the exact straight-through product."""
        if backward is not None and not callable(backward):
            raise TypeError(f"{self.layer_name}: a backward is a callable (g, trace) -> input "
                            f"gradient, got {type(backward).__name__}")
        self._input_gradient = backward

    def set_input_capture(self, sink: InputSink | None) -> None:
        """Append every ``(G, N, K)`` input the tiles apply to ``sink`` (anything with
        ``append(x)``; the inputs detached); ``None``: stop. While capturing, a convolution
        records its patches (im2col) and runs its MVM through ``analog_matmul``."""
        self._capture = sink

    @property
    def capturing_inputs(self) -> bool:
        """Whether ``set_input_capture`` installed a sink."""
        return self._capture is not None

    # -- noise ---------------------------------------------------------------------------------
    def reseed(self, seed: int) -> None:
        """Restart this layer's noise stream from ``seed`` (runs are reproducible per seed)."""
        self.noise_seed = int(seed)
        self._stream = NoiseStream(seed)

    def noise_source(self, device: torch.device, dtype: torch.dtype, n: int) -> GaussianSource:
        """The layer's noise stream (one for all threads), restarted from ``noise_seed`` for a new
        device, dtype or a larger pool (``n``: the samples one call draws)."""
        return self._stream.source(device, dtype, pool_size_for(n))

    # -- the weights as the array holds them (nn.readers) ------------------------------------------
    def read_blocks(self) -> BlockReader:
        """A reader of normalised weight blocks and their digital scales (see ``physics.crossbar``):
        the programmed array in eval mode, else the weight, perturbed in training mode by the
        layer's weight perturbation (``readers.normalised_reader``)."""
        return readers.normalised_reader(self)

    def read_is_exact(self) -> bool:
        """Whether the array reads back exactly the trainable weight (ideal device, no perturbation)."""
        return readers.read_is_exact(self)

    # -- reused temporaries (nn.buffers) -----------------------------------------------------------
    scratch_max_elems: int = buffers.SCRATCH_MAX_ELEMS
    """Temporaries of a call up to this many elements (64 MiB in float32) live in reused per-layer,
    per-thread buffers (not state: dropped by ``deepcopy``/pickling and by ``release_buffers``);
    larger ones are allocated per call. On CPU fresh memory costs a page fault per 4 KiB on first
    touch (more than the arithmetic done in it). Lower it (on the class or a layer) to bound the
    memory a model keeps between calls."""

    BUFFER_KEYS = ("_reused", "_out_bound_host", "_held_drop")
    """Entries of the layer's ``__dict__`` that are not state: the per-thread reused temporaries
    (``_w_scratch``, ``_p_scratch``, ``_x_scratch``, ``_y_scratch``, ``_cols_scratch``,
    ``_pad_scratch``, ``_g_scratch`` and the kept slots ``_kept``), the host copy of the ADC range
    and the held IR-drop factors (``nn.readers.HeldDrop``)."""

    def release_buffers(self) -> None:
        """Free the reused temporaries of every thread (they are re-created on the next call)."""
        for key in self.BUFFER_KEYS:
            self.__dict__.pop(key, None)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in self.BUFFER_KEYS:
            state.pop(key, None)
        return state

    def _reused_buffers(self) -> dict:
        """The calling thread's reused temporaries of this layer, by name (concurrent calls from
        several threads must not share them)."""
        return buffers.thread_buffers(self)

    def _scratch(self, name: str, numel: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """A reused flat buffer of at least ``numel`` elements (not state; per thread; grown on
        demand); a fresh tensor above ``scratch_max_elems``."""
        return buffers.flat_scratch(self._reused_buffers(), name, numel, dtype, device, self.scratch_max_elems)

    def _kept_slot(self, device: torch.device) -> tuple[int | None, dict | None]:
        """Buffers for what a training forward keeps for its backward (``buffers.kept_slot``)."""
        return buffers.kept_slot(self._reused_buffers(), device)

    def _slot_buffer(self, bufs: dict | None, name: str, shape: tuple[int, ...] | torch.Size,
                     dtype: torch.dtype, device: torch.device) -> Tensor | None:
        """The slot's buffer ``name`` in ``shape`` (``None``: no slot, or above the size cap)."""
        return buffers.shaped_buffer(bufs, name, tuple(shape), dtype, device, self.scratch_max_elems)

    # -- the MVM -------------------------------------------------------------------------------
    device_side_checks: tuple[str, ...] = ("cuda",)
    """Device types whose NaN/Inf check of inputs and weights is a device-side assert
    (``torch._assert_async``: no host sync; on CPU it costs 14 us a call, a host read 0.2 us)."""

    def input_scale(self, x: Tensor, input_range: Tensor | None) -> Tensor:
        """The full-scale input for ``(..., K)`` inputs: the layer's range (0-d), the per-vector
        maximum ``(..., 1)``, or with ``range_policy="dynamic_tile"`` on several row tiles each
        input's own tile's maximum ``(..., K)``."""
        if input_range is None:
            xd = x.detach() if x.requires_grad else x
            if self._tile_ranges(x.shape[-1]):
                return self._per_tile_scale(xd)
            return dynamic_input_scale(xd)
        return input_range.detach().abs().clamp_min(torch.finfo(x.dtype).tiny)

    def _tile_ranges(self, k: int) -> bool:
        """Whether inputs of ``k`` features get one dynamic range per row tile (``dynamic_tile``
        on a layer spanning several row tiles; within one tile it is the per-vector range)."""
        return self.cfg.dac.range_policy == "dynamic_tile" and mapping.n_row_blocks(k, self.cfg.tile.rows) > 1

    def _per_tile_scale(self, x: Tensor) -> Tensor:
        """Each input's full scale ``(..., K)``: the absolute maximum over the inputs on its row
        tile (never 0, NaN propagating), laid out like ``x``."""
        k = x.shape[-1]
        nb = mapping.n_row_blocks(k, self.cfg.tile.rows)
        r = mapping.block_rows(k, self.cfg.tile.rows)
        pad = nb * r - k
        xp = torch.nn.functional.pad(x, (0, pad)) if pad else x
        peak = dynamic_input_scale(xp.unflatten(-1, (nb, r)))  # (..., nb, 1)
        return peak.expand(*peak.shape[:-1], r).flatten(-2)[..., :k]

    def _tile_scale_blocks(self, scale: Tensor, groups: int) -> Tensor:
        """``(G, N, K)`` per-input full scales (``_per_tile_scale``) -> ``(G * nb, N, 1)``, one per
        (row block, vector) in block order."""
        k = scale.shape[-1]
        r = mapping.block_rows(k, self.cfg.tile.rows)
        per_block = scale[..., ::r]  # the first input of every block: (G, N, nb)
        return per_block.permute(0, 2, 1).reshape(groups * per_block.shape[-1], -1, 1)

    def _reject_non_finite(self, inputs: Tensor | None, weight_peaks: list[Tensor] | None = None) -> None:
        """Fail on a NaN/Inf input or weight, given 0-d reductions that propagate NaN and Inf:
        ``inputs`` (``None``: checked already) and the maxima of the weights' column scales
        (``mapping.weight_scales``, computed by the read anyway).

        No host sync: on the devices in ``device_side_checks`` (CUDA) one device-side assert
        (``torch._assert_async``) for both, which fails the next synchronising call with a
        device-side assert when a value is NaN/Inf (``program_`` then names the layer); elsewhere
        the 0-d value is read on the host (CPU: host memory, nothing to wait for; MPS: a sync) and
        a NaN/Inf raises a ``ValueError`` naming the layer and whether the input or the weight was
        not finite (docs/reliability.md)."""
        parts = ([] if inputs is None else [inputs]) + (weight_peaks or [])
        if not parts:
            return
        total = parts[0]
        for part in parts[1:]:
            total = torch.maximum(total, part)  # NaN propagating
        if total.is_cpu and "cpu" not in self.device_side_checks:
            if math.isfinite(total.tolist()):  # host memory: a read without a dispatcher op
                return
        elif total.device.type in self.device_side_checks:
            try:
                torch._assert_async(torch.isfinite(total), NON_FINITE_MESSAGE)
                return
            except RuntimeError:  # raised at once (a CPU tensor): say which, naming the layer
                pass
        elif math.isfinite(float(total)):  # a device without the assert: one sync
            return
        if weight_peaks and not math.isfinite(float(torch.stack(weight_peaks).max())):
            raise ValueError(
                f"{self.layer_name}: weight contains NaN or Inf; an analog array cannot hold it. "
                "Lower the learning rate, clip the gradients, or reload a finite checkpoint."
            )
        raise ValueError(
            f"{self.layer_name}: input contains NaN or Inf; an analog tile cannot apply it. "
            "Check the preceding layers or the data."
        )

    def _empty_forward(self, x: Tensor, input_range: Tensor | None, keep: bool) -> tuple[Tensor, MVMTrace | None]:
        """``simulate`` for a batch of no vectors: ``(G, 0, M)`` outputs (and a trace whose
        gradients are empty, or zero for the weight)."""
        y = x.new_zeros(x.shape[0], 0, self.matrix_shape[2])
        if not keep:
            return y, None
        scale = x.new_ones(()) if input_range is None else input_range.detach().abs()
        return y, MVMTrace(x_codes=x.detach(), x_scale=scale, w_eff=self.weight_matrix(),
                           clipped=input_range is not None)

    def simulate(self, x: Tensor, input_range: Tensor | None, mode: CallMode = INFERENCE,
                 scale: Tensor | None = None, bias: Tensor | None = None,
                 input_check: Tensor | None = None) -> tuple[Tensor, MVMTrace | None]:
        """Forward MVM of ``(G, N, K)`` inputs; with ``mode.keep_trace``, also what the backward
        needs (``CallMode``: also what the inputs hold and whether the output may be transient).

        Without a trace (inference) large inputs are processed in chunks of vectors so that the
        DAC outputs and partial sums never exceed ``max_chunk_elems`` elements at a time.
        ``scale``: the dynamic per-vector input range ``(G, N, 1)`` when the caller has computed
        it already (a convolution takes it from the image, without the im2col copy). ``bias``:
        the digital bias, broadcastable to ``(G, N, M)``, added with the input's rescale (one pass
        over the outputs). ``input_check``: for DAC codes with a fixed range, the caller's 0-d
        reduction of the inputs that is NaN/Inf iff an input is (checked with the weights, one
        host sync).

        NaN/Inf inputs, and NaN/Inf weights read from the weight parameter (not a programmed
        array), fail with a ``ValueError`` naming the layer.
        """
        keep = mode.keep_trace
        if x.shape[1] == 0:  # an empty batch: nothing reaches the array
            return self._empty_forward(x, input_range, keep)
        reps = programmed.n_instances(self) if programmed.reads_programmed(self) else 1
        if reps > 1:  # Monte Carlo programming instances run as extra groups (evaluation only)
            x = programmed.split_instances(self, x, reps, keep)
            scale = None if scale is None else programmed.split_instances(self, scale, reps, keep)
            if mode.transient_output:  # the instances are merged into a fresh output
                mode = replace(mode, transient_output=False)
        g, n, k = x.shape
        if scale is None or input_range is not None:
            scale = self.input_scale(x, input_range)
        # NaN/Inf check, after the MVM with the weights' (one host sync): the dynamic range's
        # reduction propagates NaN/Inf; otherwise one sum in float64 (NaN or +-Inf if any element
        # is NaN or +-Inf, and no overflow for finite inputs)
        if input_range is None:
            check = scale.amax()
        elif mode.inputs is Inputs.VALUES:
            check = x.detach().sum(dtype=torch.float64).abs()
        else:
            check = input_check
        # per-tile dynamic ranges: the digitised partial sums of each block are rescaled by their
        # own tile's range before the digital accumulation
        tile_scale = self._tile_scale_blocks(scale, g) if scale.dim() and scale.shape[-1] > 1 else None
        clip = input_range is not None  # a dynamic range bounds |x|: nothing to clip
        offset = self._buffers["prog_out_offset"]  # the output correction (nn/programmed.py), if any
        if offset is not None and programmed.reads_programmed(self):
            bias = offset if bias is None else bias + offset
        layer_bias = bias if reps == 1 else None
        if not keep:
            weights = readers.choose_read(self, lambda numel: self._scratch("_w_scratch", numel, x.dtype, x.device))
            peaks: list[Tensor] | None = [] if weights.checks_weights else None
            y = self._mvm(x, scale, readers.recording(weights.read, peaks), weights.units, mode, clip=clip,
                          bias=layer_bias, tile_scale=tile_scale)[1]
            self._reject_non_finite(check, peaks)
            y = programmed.merge_instances(y, reps)
            return (y.add_(bias) if bias is not None and reps > 1 else y), None
        # read once, so the forward and the backward see the same (noisy) weights
        slot, bufs = self._kept_slot(x.device)
        weights = readers.choose_read(
            self, lambda numel: self._slot_buffer(bufs, "w_eff", (numel,), x.dtype, x.device))
        peaks = [] if weights.checks_weights else None
        nb = mapping.n_row_blocks(k, self.cfg.tile.rows)
        w_all, s_all = readers.recording(weights.read, peaks)(0, g * nb)
        codes_buf = None if mode.inputs is Inputs.CODES else \
            self._slot_buffer(bufs, "codes", x.shape, x.dtype, x.device)
        x_n, y = self._mvm(x, scale, lambda b0, b1: (w_all, s_all) if b0 == 0 and b1 == len(w_all)
                           else (w_all[b0:b1], s_all[b0:b1]), weights.units, mode, clip=clip,
                           codes_out=codes_buf, bias=layer_bias, tile_scale=tile_scale)
        self._reject_non_finite(check, peaks)
        if bias is not None and reps > 1:
            y.add_(bias)
        w_eff = readers.held_weights(
            self, weights, w_all, s_all,
            out=lambda: self._slot_buffer(bufs, "w_eff", w_all.shape, w_all.dtype, w_all.device))
        trace = MVMTrace(x_codes=x_n, x_scale=scale, w_eff=w_eff, clipped=clip,
                         x_unit=dac_unit(self.cfg.dac.bits), read_state=weights.wired)
        if slot is not None:
            buffers.hold_slot(self._reused_buffers(), slot, trace, bufs)
        return y, trace

    max_chunk_elems: int = 1 << 20
    """Partial sums (and, in inference, DAC outputs) are processed this many elements at a time."""

    def _mvm(self, x: Tensor, scale: Tensor, read: BlockReader, units: WeightUnits, mode: CallMode, *,
             clip: bool, codes_out: Tensor | None = None, bias: Tensor | None = None,
             tile_scale: Tensor | None = None) -> tuple[Tensor | None, Tensor]:
        """DAC, tiled crossbar, noise, ADC, digital rescale: ``(x_codes, y)`` for ``(G, N, K)``
        inputs (the DAC codes are worth ``dac_unit(bits)`` each).

        ``read``: the weight blocks, in ``units``. ``clip``: the DAC clips at ``scale``
        (a fixed range; a dynamic one bounds ``|x|``). Without ``mode.keep_trace``, a layer whose
        partial sums need chunks runs the DAC per chunk inside the crossbar loop (no full copy of
        the DAC outputs; ``x_n`` is then not returned). ``codes_out``: where to write the kept DAC
        codes. ``bias``: added with the input's rescale. ``tile_scale``: with per-tile ranges
        (``scale`` then ``(G, N, K)``), the ranges per block ``(G * nb, N, 1)``: each block's
        digitised partial sums are rescaled before the sum.

        Bit-serial inputs (``DACConfig.bits_per_cycle``): the DAC codes' read cycles
        (``input_bit_planes``) run as ``cycles x N`` vectors per group (one matmul), each digitised
        on its own; their outputs are shifted and added digitally before the input's rescale.
        """
        cfg = self.cfg
        g, n, k = x.shape
        nb, r = mapping.n_row_blocks(k, cfg.tile.rows), mapping.block_rows(k, cfg.tile.rows)
        bits, keep, codes = cfg.dac.bits, mode.keep_trace, mode.inputs is Inputs.CODES
        m = self.matrix_shape[2]
        cols = m * cfg.device.slicing.n_slices
        serial = cfg.dac.bits_per_cycle  # bit-serial inputs: k bits per read cycle (None: amplitude)
        chunked = serial is None and not codes and not keep and g * nb * n * cols > self.max_chunk_elems
        x_n = x if codes else None
        if not chunked and not codes:  # inference: the DAC outputs go into a reused buffer (not kept)
            buf = codes_out if keep else self._scratch("_x_scratch", x.numel(), x.dtype, x.device).view(x.shape)
            x_n = dac(x, scale, bits, clip, out=buf, codes=True)
        src_x = x if chunked else x_n
        gr, adcs = g, programmed.column_adcs(self) if cfg.adc.nonideal else None  # groups read
        if serial is not None and programmed.reads_programmed(self) and cfg.device.read_noise.per_read_std_frac:
            # per-read noise: the read cycles as extra groups, cycle-major, each a read of its own
            gr, cyc = g * cfg.dac.cycles, cfg.dac.cycles
            src_x = input_bit_planes(x_n, bits, serial, dim=0).view(gr, n, k)
            read = programmed.fresh_reads(read, g * nb, cyc)
            adcs = None if adcs is None else adcs.repeat(cyc)
            tile_scale = None if tile_scale is None else tile_scale.repeat(cyc, 1, 1)
        elif serial is not None:  # the read cycles as extra vectors, cycle-major within each group
            src_x = input_bit_planes(x_n, bits, serial, dim=1).view(g, -1, k)
            if tile_scale is not None:
                tile_scale = tile_scale.repeat(1, cfg.dac.cycles, 1)
        nv = src_x.shape[1]  # vectors read: N, or cycles x N
        if nb == 1:  # one row block per group: the inputs are the blocks
            x_blocks = src_x
        elif gr == 1 and nb * r == k:
            x_blocks = src_x[0].view(nv, nb, r).transpose(0, 1)  # a view: no copy of the inputs
        else:
            x_blocks = mapping.inputs_to_blocks(src_x, cfg.tile.rows)
        dac_inl = programmed.dac_inl(self) if cfg.dac.inl_std_lsb else None  # programmed DACs' INL
        if dac_inl is not None and not chunked:
            x_blocks = nonideal_dac(x_blocks, bits, dac_inl)
        chunk_dac = None
        if chunked:
            if tile_scale is not None:  # (G*nb, N, 1) already
                sb = tile_scale
            else:
                sb = scale.repeat_interleave(nb, dim=0) if scale.dim() else scale  # (G*nb, N, 1)
            def chunk_dac(xc: Tensor, blocks: slice, rows: slice) -> Tensor:
                buf = self._scratch("_x_scratch", xc.numel(), xc.dtype, xc.device).view(xc.shape)
                xc = dac(xc, sb[blocks, rows] if sb.dim() else sb, bits, clip, out=buf, codes=True)
                return xc if dac_inl is None else nonideal_dac(xc, bits, dac_inl[blocks])
        # output noise is a property of the array: relative to the configured range, not a calibrated one
        noise_std = cfg.noise.out_std_rel_fs * cfg.adc.out_bound
        src = self.noise_source(x.device, x.dtype, min(gr * nb * nv * cols, self.max_chunk_elems)) \
            if noise_std > 0 else None
        readout = Readout(adc_bits=cfg.adc.bits, out_bound=self.out_bound_value(), clip=cfg.adc.clip,
                          noise_std=noise_std, adcs=adcs)
        y = tiled_mvm(
            x_blocks, read, groups=gr, readout=readout, source=src, max_partial_elems=self.max_chunk_elems,
            dac=chunk_dac, units=units, cols=cols,
            workspace=lambda numel: self._scratch("_p_scratch", numel, x.dtype, x.device),
            out=self._scratch("_y_scratch", g * n * m, x.dtype, x.device).view(g, n, m)
            if mode.transient_output and cols == m and serial is None else None,
            x_unit=dac_unit(bits) if serial is None else 1.0 / ((1 << serial) - 1), in_scale=tile_scale,
        )
        if serial is not None:  # shift-and-add of the cycles' digitised outputs
            sig = bit_plane_significance(bits, serial, y.dtype, y.device)
            y = torch.matmul(sig, y.view(sig.numel(), g * n * cols) if gr > g else
                             y.view(g, sig.numel(), n * cols)).view(g, n, cols)
        if cols != m:  # bit-sliced columns: shift-and-add the slices of each output
            y = y.view(g, n, m, cols // m).sum(dim=-1)
        if tile_scale is not None:  # rescaled per block already
            return x_n, y if bias is None else y.add_(bias)
        return x_n, y.mul_(scale) if bias is None else torch.addcmul(bias, y, scale, out=y)

    def grad_input(self, g: Tensor, trace: MVMTrace) -> Tensor:
        """``g @ w_eff^T``: exact, or what ``set_backward`` installed."""
        if self._input_gradient is not None:
            return self._input_gradient(g, trace)
        w = trace.w_eff
        if g.shape[0] == 1:  # one group: a plain matrix product (fewer operations than matmul's 3-D path)
            return torch.mm(g[0], w[0].t()).unsqueeze(0)
        return torch.bmm(g, w.transpose(1, 2))

    def analog_matmul_flat(self, x: Tensor, bias: Tensor | None = None) -> Tensor:
        """``(..., K)`` inputs of one group -> ``(..., M)`` outputs through the simulated tiles,
        plus the digital ``bias`` ``(M,)`` (no reshapes on the autograd graph)."""
        lead, k = x.shape[:-1], x.shape[-1]
        if self._capture is not None:
            self._capture.append(x.detach().reshape(1, -1, k))
        if torch.is_grad_enabled():
            return AnalogMatmulFn.apply(x, self.weight, self.input_range, bias, self, True)
        y = self.simulate(x.reshape(1, -1, k), self.input_range, INFERENCE, bias=bias)[0][0]
        return y.view(*lead, y.shape[-1])

    def analog_matmul(self, x: Tensor, mode: CallMode = INFERENCE, scale: Tensor | None = None,
                      bias: Tensor | None = None, input_check: Tensor | None = None) -> Tensor:
        """``(G, N, K)`` inputs -> ``(G, N, M)`` outputs through the simulated tiles, plus the
        digital ``bias`` (``(G * M,)``). With gradients on, through ``AnalogMatmulFn`` (input
        values; ``mode``, ``scale`` and ``input_check`` apply to inference: see ``simulate``)."""
        if self._capture is not None:
            self._capture.append(x.detach())
        if not torch.is_grad_enabled():  # inference: nothing to keep for a backward
            return self.simulate(x, self.input_range, mode, scale=scale,
                                 bias=None if bias is None else bias.view(x.shape[0], 1, -1),
                                 input_check=input_check)[0]
        return AnalogMatmulFn.apply(x, self.weight, self.input_range, bias, self, False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        programmed.prepare_load(self, state_dict, prefix)  # a programmed state loads into a fresh layer
        version = self.out_bound._version
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        incoming = state_dict.get(prefix + "out_bound")
        if self.out_bound._version != version and isinstance(incoming, Tensor):  # copied in: read it here
            self._note_out_bound(_host_value(float(incoming), self.out_bound.dtype))

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"tile={c.tile.rows}x{c.tile.cols}, dac_bits={c.dac.bits}, adc_bits={c.adc.bits}, "
                f"out_noise={c.noise.out_std_rel_fs}, device={c.device.kind}")

