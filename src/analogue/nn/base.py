"""``AnalogLayer``: what every analog module shares.

A layer keeps an ordinary ``nn.Parameter`` weight and a digital bias. Its forward is the list of
physical steps: DAC the inputs, read the weights off the array as normalised conductances, sum
currents per row block, add output noise, digitise each block with its ADC, rescale and add the
partial sums digitally. Everything stateful the physics needs (input ranges, ADC ranges,
programmed conductances) lives in registered buffers or parameters, so ``state_dict``,
optimizers and ``deepcopy`` work unchanged.

Threads: one layer may run in several threads at once. The temporaries it reuses between calls
are per thread (``_reused_buffers``), so concurrent calls give the outputs they give one at a
time. The layer's output-noise stream is one per layer, shared: concurrent calls draw distinct
stretches of it in the order they reach it, so noisy outputs are reproducible per ``noise_seed``
only when the calls come in a fixed order (one thread, or one model copy per thread: ``deepcopy``
and ``reseed`` each copy).
"""

from __future__ import annotations

import functools
import math
import threading
import weakref
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..config import AnalogConfig
from ..physics import mapping
from ..physics.crossbar import BlockReader, tiled_mvm
from ..physics.noise import GaussianSource, NoiseStream, pool_size_for
from ..physics.periphery import dac, dac_unit, dynamic_input_scale
from ..physics.slicing import bit_slice, unslice
from ..physics.ste import AnalogMatmulFn, MVMTrace, autocast_on
from . import programmed


class _ThreadBuffers(threading.local):
    """Per thread: the reused temporaries of a layer, by name (freed with the thread)."""

    def __init__(self) -> None:
        self.bufs: dict = {}


def thread_buffers(owner: object) -> dict:
    """The calling thread's reused temporaries of ``owner``, by name, kept in its ``__dict__``
    under ``"_reused"`` (not state: owners drop that key when copied or pickled). Concurrent calls
    from several threads must not share them."""
    tls = owner.__dict__.get("_reused")
    if tls is None:
        tls = owner.__dict__.setdefault("_reused", _ThreadBuffers())
    return tls.bufs


def shaped_buffer(bufs: dict | None, name: str, shape: tuple[int, ...], dtype: torch.dtype,
                  device: torch.device, max_elems: int) -> Tensor | None:
    """``bufs[name]``, (re)allocated in ``shape``: a buffer reused across calls (``None`` without a
    dict, or above ``max_elems`` elements: the caller allocates afresh)."""
    if bufs is None or math.prod(shape) > max_elems:
        return None
    buf = bufs.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype or buf.device != device:
        buf = bufs[name] = torch.empty(shape, dtype=dtype, device=device)
    return buf


def dense_flat(t: Tensor) -> Tensor | None:
    """The elements of ``t`` in memory order as one 1-D view, when ``t`` covers a dense stretch of
    its storage without overlap (any permutation of a contiguous layout); else ``None``."""
    if t.is_contiguous():
        return t.view(-1)
    expect = 1
    for stride, size in sorted(zip(t.stride(), t.shape)):  # dims from the innermost out
        if size != 1 and stride != expect:
            return None
        expect *= size
    return t.as_strided((t.numel(),), (1,), t.storage_offset())


def strided_like(flat: Tensor | None, t: Tensor) -> Tensor | None:
    """The first ``t.numel()`` elements of the 1-D buffer ``flat`` laid out like the dense ``t``
    (same strides: elementwise work between them runs in memory order); ``None`` without a
    buffer or for a ``t`` that is not dense."""
    if flat is None or dense_flat(t) is None:
        return None
    return flat[: t.numel()].as_strided(t.shape, t.stride())


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
    the forward that reshapes inputs to ``(G, N, K)`` and calls ``analog_matmul``."""

    weight: nn.Parameter
    groups: int

    def _init_analog(self, cfg: AnalogConfig | None, seed: int = 0) -> None:
        from ..presets import standard

        cfg = standard() if cfg is None else cfg
        if not isinstance(cfg, AnalogConfig):
            raise TypeError(f"{type(self).__name__}: cfg must be an AnalogConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.layer_name = type(self).__name__
        self.noise_seed = int(seed)
        self._stream = NoiseStream(seed)
        self._capture: list[Tensor] | None = None  # set by lifecycle.capture_inputs
        # callable (w_n blocks, layer) -> perturbed w_n, applied in training mode (analogue.train)
        self.weight_perturbation = None
        dev, dt = self.weight.device, self.weight.dtype
        rng = torch.tensor(float(cfg.dac.input_range), device=dev, dtype=dt)
        if cfg.dac.range_policy == "learned":
            self.input_range = nn.Parameter(rng)
        elif cfg.dac.range_policy in ("fixed", "calibrated"):
            self.register_buffer("input_range", rng)
        else:
            self.input_range = None
        self.register_buffer("out_bound", torch.tensor(float(cfg.adc.out_bound), device=dev, dtype=dt))
        programmed.init_programmed_state(self)  # empty until an.program_ (see nn/programmed.py)

    # -- shapes --------------------------------------------------------------------------------
    def _matrix(self) -> Tensor:  # (G, K, M)
        raise NotImplementedError

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def matrix_shape(self) -> tuple[int, int, int]:
        """``(groups, rows K, columns M)`` of the mapped matrix per group."""
        g, k, m = self._matrix().shape
        return g, k, m

    @property
    def n_row_blocks(self) -> int:
        return mapping.n_row_blocks(self.matrix_shape[1], self.cfg.tile.rows)

    # -- noise ---------------------------------------------------------------------------------
    def reseed(self, seed: int) -> None:
        """Restart this layer's noise stream from ``seed`` (runs are reproducible per seed)."""
        self.noise_seed = int(seed)
        self._stream = NoiseStream(seed)

    def _noise_source(self, device: torch.device, dtype: torch.dtype, n: int) -> GaussianSource:
        """The layer's noise stream (one for all threads), restarted from ``noise_seed`` for a new
        device, dtype or a larger pool."""
        return self._stream.source(device, dtype, pool_size_for(n))

    # -- the weights as the array holds them -----------------------------------------------------
    def read_blocks(self) -> BlockReader:
        """A reader of normalised weight blocks and their digital scales (see ``physics.crossbar``).

        In training mode a weight perturbation (``self.weight_perturbation``, set by hardware-aware
        training) is applied to the normalised blocks on every read.
        """
        if programmed.reads_programmed(self):  # eval mode on a programmed array: what it holds now
            return programmed.programmed_reader(self)
        blocks = mapping.to_blocks(self._matrix().detach(), self.cfg.tile.rows)
        cols, policy = self.cfg.tile.cols, self.cfg.mapping.scale
        perturb = self.weight_perturbation if self.training else None
        slicing = self.cfg.device.slicing if self.cfg.device.slicing.active else None

        # normalised weights in a reused, contiguous buffer (contiguous: the noise draws need it)
        scratch = self._scratch("_w_scratch", blocks.numel(), blocks.dtype, blocks.device).view(blocks.shape)

        def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
            wb = blocks[b0:b1]
            s = mapping.weight_scales(wb, cols, policy)
            w_n = torch.div(wb, s, out=scratch[b0:b1])
            if perturb is not None:
                w_n = perturb(w_n, self)
            if slicing is not None:  # bit-sliced weights: (b, r, M*S) columns, per-slice scales
                w_n, s = bit_slice(w_n, s, slicing)
            return w_n, s

        return read

    scratch_max_elems: int = 1 << 24
    """Temporaries of a call up to this many elements (64 MiB in float32) live in reused per-layer,
    per-thread buffers (not state: dropped by ``deepcopy``/pickling and by ``release_buffers``);
    larger ones are allocated per call. On CPU fresh memory costs a page fault per 4 KiB on first touch (about
    1 us each on this project's machine: more than the arithmetic done in it). Lower it (on the
    class or a layer) to bound the memory a model keeps between calls."""

    BUFFER_KEYS = ("_reused",)
    """Entries of the layer's ``__dict__`` that are not state: the per-thread reused temporaries
    (``_w_scratch``, ``_p_scratch``, ``_x_scratch``, ``_y_scratch``, ``_cols_scratch``,
    ``_pad_scratch``, ``_g_scratch`` and the kept slots ``_kept``)."""

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
        return thread_buffers(self)

    def _scratch(self, name: str, numel: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """A reused flat buffer of at least ``numel`` elements (not state; per thread; grown on
        demand); a fresh tensor above ``scratch_max_elems``."""
        if numel > self.scratch_max_elems:
            return torch.empty(numel, dtype=dtype, device=device)
        bufs = self._reused_buffers()
        buf = bufs.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype or buf.device != device:
            buf = torch.empty(numel, dtype=dtype, device=device)
            bufs[name] = buf
        return buf[:numel]

    def read_is_exact(self) -> bool:
        """Whether the array reads back exactly the trainable weight (ideal device, no perturbation)."""
        perturbed = self.training and self.weight_perturbation is not None
        return not perturbed and not programmed.reads_programmed(self)

    def held_matrix(self, w_blocks: Tensor, scales: Tensor, out: Tensor | None = None) -> Tensor:
        """The weights the array holds, ``(G, K, M)`` in weight units, given all its blocks
        (``out``: a buffer shaped like ``w_blocks`` to write them into, when not bit-sliced).

        When the read is exact this is the weight itself (no copy).
        """
        if self.read_is_exact():
            return self._matrix().detach()
        g, k, m = self.matrix_shape
        n_slices = w_blocks.shape[-1] // m
        if n_slices == 1 and out is not None:
            held = torch.mul(w_blocks, scales, out=out)
        else:
            held = unslice(w_blocks, scales, n_slices)
        return held.view(g, -1, m)[:, :k]

    # -- the MVM -------------------------------------------------------------------------------
    def _input_scale(self, x: Tensor, input_range: Tensor | None) -> Tensor:
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
        (``mapping.weight_scales``, computed by the read anyway). One host sync for both."""
        parts = ([] if inputs is None else [inputs]) + (weight_peaks or [])
        if not parts:
            return
        total = parts[0]
        for part in parts[1:]:
            total = torch.maximum(total, part)  # NaN propagating
        if math.isfinite(float(total)):
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

    @staticmethod
    def _recording(read: BlockReader, peaks: list[Tensor] | None) -> BlockReader:
        """``read``, appending to ``peaks`` the largest column scale of every read (NaN/Inf when a
        weight read is; ``None``: no check, ``read`` itself)."""
        if peaks is None:
            return read

        def recorded(b0: int, b1: int) -> tuple[Tensor, Tensor]:
            w, s = read(b0, b1)
            peaks.append(s.amax())
            return w, s

        return recorded

    def _empty_forward(self, x: Tensor, input_range: Tensor | None, keep: bool) -> tuple[Tensor, MVMTrace | None]:
        """``simulate`` for a batch of no vectors: ``(G, 0, M)`` outputs (and a trace whose
        gradients are empty, or zero for the weight)."""
        y = x.new_zeros(x.shape[0], 0, self.matrix_shape[2])
        if not keep:
            return y, None
        scale = x.new_ones(()) if input_range is None else input_range.detach().abs()
        return y, MVMTrace(x_codes=x.detach(), x_scale=scale, w_eff=self._matrix().detach(),
                           clipped=input_range is not None)

    def _reads_raw(self) -> bool:
        """Whether the crossbar can read the weight itself: an exact read without bit slicing.

        The partial sums are then divided by the column scales instead of the weights (one pass
        the ADC's gain absorbs; no normalised copy of the weights on every call).
        """
        return self.read_is_exact() and not self.cfg.device.slicing.active

    def _raw_reader(self, mat: Tensor | None = None, perturb=None, out: Tensor | None = None) -> BlockReader:
        """Reader of weight blocks in weight units and their scales (see ``_reads_raw``); ``mat``:
        ``self._matrix().detach()`` when the caller has it. ``perturb``: a weight perturbation
        that works in weight units (``_unit_perturbation``), applied on every read; ``out``: a
        flat buffer for the perturbed weights of a read of all blocks."""
        blocks = mapping.to_blocks(self._matrix().detach() if mat is None else mat, self.cfg.tile.rows)
        cols, policy = self.cfg.tile.cols, self.cfg.mapping.scale

        def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
            full = b0 == 0 and b1 == len(blocks)
            wb = blocks if full else blocks[b0:b1]
            s = mapping.weight_scales(wb, cols, policy)
            if perturb is not None:
                wb = perturb.perturb_weights(wb, s, self, out=strided_like(out, wb) if full else None)
            return wb, s

        return read

    def _unit_perturbation(self):
        """The training-mode weight perturbation when it can run on the weights in weight units
        (``train.hwa.WeightPerturbation.perturb_weights``: no normalised copy of the weights and no
        multiply back for the held weights), else ``None`` (``read_blocks`` applies it)."""
        pert = self.weight_perturbation if self.training else None
        if pert is None or self.cfg.device.slicing.active:  # (training mode: never a programmed read)
            return None
        supports = getattr(pert, "supports_weight_units", None)
        return pert if supports is not None and supports(self.cfg) else None

    def simulate(self, x: Tensor, input_range: Tensor | None, keep: bool,
                 scale: Tensor | None = None, transient: bool = False,
                 codes: bool = False, bias: Tensor | None = None,
                 input_check: Tensor | None = None) -> tuple[Tensor, MVMTrace | None]:
        """Forward MVM of ``(G, N, K)`` inputs; with ``keep``, also what the backward needs.

        Without ``keep`` (inference) large inputs are processed in chunks of vectors so that the
        DAC outputs and partial sums never exceed ``max_chunk_elems`` elements at a time.
        ``scale``: the dynamic per-vector input range ``(G, N, 1)`` when the caller has computed
        it already (a convolution takes it from the image, without the im2col copy).
        ``transient``: the caller copies the output before the next call, so it may live in a
        reused buffer. ``codes``: ``x`` already holds the DAC codes (``periphery.dac(...,
        codes=True)`` of the inputs; with a fixed range the caller has checked them for NaN/Inf),
        and in training it is what the trace keeps. ``bias``: the digital bias, broadcastable to
        ``(G, N, M)``, added with the input's rescale (one pass over the outputs).
        ``input_check``: with ``codes`` and a fixed range, the caller's 0-d reduction of the inputs
        that is NaN/Inf iff an input is (checked with the weights, one host sync).

        NaN/Inf inputs, and NaN/Inf weights read from the weight parameter (not a programmed
        array), fail with a ``ValueError`` naming the layer.
        """
        if x.shape[1] == 0:  # an empty batch: nothing reaches the array
            return self._empty_forward(x, input_range, keep)
        reps = programmed.n_instances(self) if programmed.reads_programmed(self) else 1
        if reps > 1:  # Monte Carlo programming instances run as extra groups (evaluation only)
            x = programmed.split_instances(self, x, reps, keep)
            scale = None if scale is None else programmed.split_instances(self, scale, reps, keep)
        g, n, k = x.shape
        if scale is None or input_range is not None:
            scale = self._input_scale(x, input_range)
        # NaN/Inf check, after the MVM with the weights' (one host sync): the dynamic range's
        # reduction propagates NaN/Inf; otherwise one sum in float64 (NaN or +-Inf if any element
        # is NaN or +-Inf, and no overflow for finite inputs)
        if input_range is None:
            check = scale.amax()
        elif not codes:
            check = x.detach().sum(dtype=torch.float64).abs()
        else:
            check = input_check
        peaks: list[Tensor] | None = None if programmed.reads_programmed(self) else []
        # per-tile dynamic ranges: the digitised partial sums of each block are rescaled by their
        # own tile's range before the digital accumulation
        tile_scale = self._tile_scale_blocks(scale, g) if scale.dim() and scale.shape[-1] > 1 else None
        raw = self._reads_raw()
        pert = None if raw else self._unit_perturbation()
        mat = self._matrix().detach() if raw or pert is not None else None
        m_cols = self.matrix_shape[2]
        nb = mapping.n_row_blocks(k, self.cfg.tile.rows)
        numel = g * nb * mapping.block_rows(k, self.cfg.tile.rows) * m_cols  # of the blocks
        if not keep:
            if pert is not None:
                read = self._raw_reader(mat, pert, self._scratch("_w_scratch", numel, x.dtype, x.device))
            else:
                read = self._raw_reader(mat) if raw else self.read_blocks()
            y = self._mvm(x, scale, self._recording(read, peaks), raw or pert is not None, dynamic=input_range is None, keep=False,
                          transient=transient and reps == 1, codes=codes,
                          bias=bias if reps == 1 else None, tile_scale=tile_scale)[1]
            self._reject_non_finite(check, peaks)
            y = programmed.merge_instances(y, reps)
            return (y.add_(bias) if bias is not None and reps > 1 else y), None
        # read once, so the forward and the backward see the same (noisy) weights
        slot, bufs = self._kept_slot(x.device)
        if pert is not None:  # the perturbed weights are what the backward keeps: in the slot
            read = self._raw_reader(mat, pert, self._slot_buffer(bufs, "w_eff", (numel,), x.dtype, x.device))
        else:
            read = self._raw_reader(mat) if raw else self.read_blocks()
        w_all, s_all = self._recording(read, peaks)(0, g * nb)
        codes_buf = None if codes else self._slot_buffer(bufs, "codes", x.shape, x.dtype, x.device)
        x_n, y = self._mvm(x, scale, lambda b0, b1: (w_all, s_all) if b0 == 0 and b1 == len(w_all)
                           else (w_all[b0:b1], s_all[b0:b1]), raw or pert is not None,
                           dynamic=input_range is None, keep=True, transient=transient,
                           codes_out=codes_buf, codes=codes, bias=bias if reps == 1 else None,
                           tile_scale=tile_scale)
        self._reject_non_finite(check, peaks)
        if bias is not None and reps > 1:
            y.add_(bias)
        if raw:  # the array holds the weight itself
            w_eff = mat
        elif pert is not None:  # the perturbed weights, in weight units
            w_eff = w_all.view(g, -1, m_cols)[:, :k]
        else:
            held_buf = None if self.read_is_exact() else \
                self._slot_buffer(bufs, "w_eff", w_all.shape, w_all.dtype, w_all.device)
            w_eff = self.held_matrix(w_all, s_all, out=held_buf)
        trace = MVMTrace(x_codes=x_n, x_scale=scale, w_eff=w_eff, clipped=input_range is not None,
                         x_unit=dac_unit(self.cfg.dac.bits))
        if slot is not None:
            self._reused_buffers()["_kept"][slot] = (weakref.ref(trace), bufs)
        return y, trace

    def _kept_slot(self, device: torch.device) -> tuple[int | None, dict | None]:
        """Buffers for what a training forward keeps for its backward (DAC codes, held weights),
        reused across steps: one of two slots whose last trace is gone (the previous step's graph
        may still be referenced while the next forward runs). On CPU a fresh multi-MB tensor costs
        a page fault per 4 KiB on every step. ``(None, None)``: allocate afresh (both alive)."""
        if device.type != "cpu":
            return None, None
        kept = self._reused_buffers().setdefault("_kept", [None, None])
        for slot, entry in enumerate(kept):
            if entry is not None and entry[0]() is not None:
                continue  # that slot's buffers are still held by a live trace
            return slot, {} if entry is None else entry[1]
        return None, None

    def _slot_buffer(self, bufs: dict | None, name: str, shape: torch.Size, dtype: torch.dtype,
                     device: torch.device) -> Tensor | None:
        """The slot's buffer ``name`` in ``shape`` (``None``: no slot, or above the size cap)."""
        return shaped_buffer(bufs, name, tuple(shape), dtype, device, self.scratch_max_elems)

    max_chunk_elems: int = 1 << 20
    """Partial sums (and, in inference, DAC outputs) are processed this many elements at a time."""

    def _mvm(self, x: Tensor, scale: Tensor, read: BlockReader, raw: bool = False,
             dynamic: bool = False, keep: bool = True, transient: bool = False,
             codes_out: Tensor | None = None, codes: bool = False,
             bias: Tensor | None = None, tile_scale: Tensor | None = None) -> tuple[Tensor | None, Tensor]:
        """DAC, tiled crossbar, noise, ADC, digital rescale: ``(x_codes, y)`` for ``(G, N, K)``
        inputs (the DAC codes are worth ``dac_unit(bits)`` each).

        ``raw``: ``read`` gives weights in weight units (see ``_reads_raw``). ``dynamic``: ``scale``
        bounds ``|x|`` (no clipping needed). Without ``keep``, a layer whose partial sums need
        chunks runs the DAC per chunk inside the crossbar loop (no full copy of the DAC outputs;
        ``x_n`` is then not returned). ``codes_out``: where to write the kept DAC codes.
        ``codes``: ``x`` holds the DAC codes already. ``bias``: added with the input's rescale.
        ``tile_scale``: with per-tile ranges (``scale`` then ``(G, N, K)``), the ranges per block
        ``(G * nb, N, 1)``: each block's digitised partial sums are rescaled before the sum.
        """
        cfg = self.cfg
        g, n, k = x.shape
        nb, r = mapping.n_row_blocks(k, cfg.tile.rows), mapping.block_rows(k, cfg.tile.rows)
        bits, clip = cfg.dac.bits, not dynamic
        m = self.matrix_shape[2]
        cols = m * cfg.device.slicing.n_slices
        chunked = not codes and not keep and g * nb * n * cols > self.max_chunk_elems
        x_n = x if codes else None
        if not chunked and not codes:  # inference: the DAC outputs go into a reused buffer (not kept)
            buf = codes_out if keep else self._scratch("_x_scratch", x.numel(), x.dtype, x.device).view(x.shape)
            x_n = dac(x, scale, bits, clip, out=buf, codes=True)
        src_x = x if chunked else x_n
        if nb == 1:  # one row block per group: the inputs are the blocks
            x_blocks = src_x
        elif g == 1 and nb * r == k:
            x_blocks = src_x[0].view(n, nb, r).transpose(0, 1)  # a view: no copy of the inputs
        else:
            x_blocks = mapping.inputs_to_blocks(src_x, cfg.tile.rows)
        chunk_dac = None
        if chunked:
            if tile_scale is not None:  # (G*nb, N, 1) already
                sb = tile_scale
            else:
                sb = scale.repeat_interleave(nb, dim=0) if scale.dim() else scale  # (G*nb, N, 1)
            def chunk_dac(xc: Tensor, blocks: slice, rows: slice) -> Tensor:
                buf = self._scratch("_x_scratch", xc.numel(), xc.dtype, xc.device).view(xc.shape)
                return dac(xc, sb[blocks, rows] if sb.dim() else sb, bits, clip, out=buf, codes=True)
        # output noise is a property of the array: relative to the configured range, not a calibrated one
        noise_std = cfg.noise.out_std_rel_fs * cfg.adc.out_bound
        src = self._noise_source(x.device, x.dtype, min(g * nb * n * cols, self.max_chunk_elems)) \
            if noise_std > 0 else None
        y = tiled_mvm(
            x_blocks, read, groups=g, adc_bits=cfg.adc.bits, out_bound=float(self.out_bound),
            clip=cfg.adc.clip, noise_std=noise_std, source=src, max_partial_elems=self.max_chunk_elems,
            dac=chunk_dac, normalise=raw, cols=cols,
            workspace=lambda numel: self._scratch("_p_scratch", numel, x.dtype, x.device),
            out=self._scratch("_y_scratch", g * n * m, x.dtype, x.device).view(g, n, m)
            if transient and cols == m else None, x_unit=dac_unit(bits), in_scale=tile_scale,
        )
        if cols != m:  # bit-sliced columns: shift-and-add the slices of each output
            y = y.view(g, n, m, cols // m).sum(dim=-1)
        if tile_scale is not None:  # rescaled per block already
            return x_n, y if bias is None else y.add_(bias)
        return x_n, y.mul_(scale) if bias is None else torch.addcmul(bias, y, scale, out=y)

    def grad_input(self, g: Tensor, trace: MVMTrace) -> Tensor:
        w = trace.w_eff
        if g.shape[0] == 1:  # one group: a plain matrix product (fewer operations than matmul's 3-D path)
            return torch.mm(g[0], w[0].t()).unsqueeze(0)
        return torch.bmm(g, w.transpose(1, 2))

    def analog_matmul(self, x: Tensor, scale: Tensor | None = None, transient: bool = False,
                      codes: bool = False, bias: Tensor | None = None, flat: bool = False,
                      input_check: Tensor | None = None) -> Tensor:
        """``(G, N, K)`` inputs -> ``(G, N, M)`` outputs through the simulated tiles (``scale``,
        ``transient``, ``codes``, ``input_check`` (inference only): see ``simulate``), plus the digital ``bias``
        (``(G * M,)``). ``flat``: ``x`` is ``(..., K)`` for one group and the output ``(..., M)``
        (no reshapes on the autograd graph)."""
        if flat:
            lead, k = x.shape[:-1], x.shape[-1]
            if self._capture is not None:
                self._capture.append(x.detach().reshape(1, -1, k))
            if torch.is_grad_enabled():
                return AnalogMatmulFn.apply(x, self.weight, self.input_range, bias, self, True)
            y = self.simulate(x.reshape(1, -1, k), self.input_range, keep=False, bias=bias)[0][0]
            return y.view(*lead, y.shape[-1])
        if self._capture is not None:
            self._capture.append(x.detach())
        if not torch.is_grad_enabled():  # inference: nothing to keep for a backward
            return self.simulate(x, self.input_range, keep=False, scale=scale, transient=transient,
                                 codes=codes, bias=None if bias is None else bias.view(x.shape[0], 1, -1),
                                 input_check=input_check)[0]
        return AnalogMatmulFn.apply(x, self.weight, self.input_range, bias, self, False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        programmed.prepare_load(self, state_dict, prefix)  # a programmed state loads into a fresh layer
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"tile={c.tile.rows}x{c.tile.cols}, dac_bits={c.dac.bits}, adc_bits={c.adc.bits}, "
                f"out_noise={c.noise.out_std_rel_fs}, device={c.device.kind}")

