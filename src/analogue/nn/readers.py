"""The weights an analog layer's array holds, read once per call.

One function, ``choose_read``, decides per call what the array reads and returns the reader with
what it reads (``WeightRead``):

=====================  ======================================================  ==============
kind                   what the array reads                                    units
=====================  ======================================================  ==============
``EXACT``              the trainable weight itself                              weight units
``SLICED``             the trainable weight, normalised and bit-sliced          normalised
``PERTURBED``          the weight perturbed in weight units (training)          weight units
``PERTURBED_BLOCKS``   the normalised (sliced) weight, perturbed (training)     normalised
``PROGRAMMED``         the programmed array as it reads now (eval mode)         normalised
``WIRED``              the (perturbed, sliced) weight read through wires with   normalised
                       resistance: the fast IR-drop model (``circuit.ir_drop``)
``WIRED_HELD``         the (perturbed) weight read through wires with the fast  weight units
                       model's drop factors held (``HeldDrop``): eval reads of
                       an unchanged weight, training with ``fast_refresh_reads``
=====================  ======================================================  ==============

With wire resistance (``CircuitConfig.ir_drop``) every read but a programmed one is ``WIRED``:
the normalised weights map to the G+/G- conductances of the device's range (``MappingConfig``
``g_min_uS``/``g_max_uS``), each physical array (``tile.rows`` x ``tile.cols``) goes through
``physics.irdrop.fast_conductance`` and the array reads ``(Geff+ - Geff-) / (g_max - g_min)``
(``wired_blocks``). Its weight gradient goes through the model too (``wire_weight_grad``, called
by the layers' backward). Programmed layers in eval mode read the exact effective weights stored
at programming time (``nn.programmed.ir_drop_weights``). Without wire resistance nothing changes.

A read in weight units lets the crossbar divide the partial sums by the column scales instead of
the weights (one pass the ADC's gain absorbs; no normalised copy of the weights on every call).

Weight perturbations (hardware-aware training) are typed: a ``WeightPerturber`` maps
normalised blocks to perturbed ones; one that is also a ``WeightUnitPerturber`` can run on
the weights in weight units (``train.hwa.WeightPerturbation`` is both).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import Tensor

from analogue.config import AnalogConfig
from analogue.nn import programmed
from analogue.nn.buffers import strided_like
from analogue.physics import mapping
from analogue.physics.crossbar import BlockReader, WeightUnits
from analogue.physics.irdrop import _drop, fast_conductance
from analogue.physics.slicing import bit_slice, unslice
from analogue.physics.ste import MVMTrace

if TYPE_CHECKING:
    from analogue.nn.layer import AnalogLayer


class WeightPerturber(Protocol):
    """A training-mode perturbation of the weights an analog layer reads (``set_weight_perturbation``)."""

    def __call__(self, w_n: Tensor, layer: AnalogLayer) -> Tensor:
        """Perturbed normalised weight blocks ``(b, r, M)`` (a new tensor or ``w_n`` itself)."""
        ...


@runtime_checkable
class WeightUnitPerturber(Protocol):
    """A ``WeightPerturber`` that can also run on the weights in weight units."""

    def __call__(self, w_n: Tensor, layer: AnalogLayer) -> Tensor: ...

    def supports_weight_units(self, cfg: AnalogConfig) -> bool:
        """Whether ``perturb_weights`` gives the same perturbation as ``__call__`` on ``cfg``."""
        ...

    def perturb_weights(self, blocks: Tensor, scales: Tensor, layer: AnalogLayer,
                        out: Tensor | None = None) -> Tensor:
        """``__call__(blocks / scales) * scales`` without the normalised copy; ``out``: a tensor
        laid out like ``blocks`` to write into."""
        ...


class ReadKind(enum.Enum):
    """What the array reads in one call (see the module's table)."""

    EXACT = "exact"
    SLICED = "sliced"
    PERTURBED = "perturbed"
    PERTURBED_BLOCKS = "perturbed_blocks"
    PROGRAMMED = "programmed"
    WIRED = "wired"
    WIRED_HELD = "wired_held"


_WEIGHT_UNITS = (ReadKind.EXACT, ReadKind.PERTURBED, ReadKind.WIRED_HELD)


@dataclass(frozen=True)
class WeightRead:
    """A reader of the array's weight blocks and what it reads. ``matrix``: the detached weight
    ``(G, K, M)`` the reader reads from, for reads in weight units (else ``None``); ``wired``:
    what a ``WIRED`` read keeps for its weight gradient, or the drop factors a ``WIRED_HELD``
    read held (the trace's ``read_state``)."""

    kind: ReadKind
    read: BlockReader
    matrix: Tensor | None = None
    wired: WiredState | HeldDrop | None = None

    @property
    def units(self) -> WeightUnits:
        """Whether ``read`` gives weights in weight units or normalised ones."""
        return WeightUnits.WEIGHT if self.kind in _WEIGHT_UNITS else WeightUnits.NORMALISED

    @property
    def is_exact(self) -> bool:
        """Whether the array holds the trainable weight itself (ideal device, no perturbation)."""
        return self.kind is ReadKind.EXACT or self.kind is ReadKind.SLICED

    @property
    def checks_weights(self) -> bool:
        """Whether the read weights come from the weight parameter (checked for NaN/Inf)."""
        return self.kind is not ReadKind.PROGRAMMED


def unit_perturbation(layer: AnalogLayer) -> WeightUnitPerturber | None:
    """The training-mode weight perturbation when it runs on the weights in weight units (no
    normalised copy and no multiply back for the held weights), else ``None``."""
    pert = layer.weight_perturbation if layer.training else None
    if pert is None or layer.cfg.device.slicing.active:  # (training mode: never a programmed read)
        return None
    if not _unit_type(type(pert)):
        return None
    return pert if pert.supports_weight_units(layer.cfg) else None


@functools.cache
def _unit_type(cls: type) -> bool:
    """Whether instances of ``cls`` are ``WeightUnitPerturber``s (a protocol check costs
    microseconds: once per class, not per read)."""
    return issubclass(cls, WeightUnitPerturber)


def read_is_exact(layer: AnalogLayer) -> bool:
    """Whether the array reads back exactly the trainable weight (ideal device, no perturbation)."""
    perturbed = layer.training and layer.weight_perturbation is not None
    return not perturbed and not programmed.reads_programmed(layer) and not layer.cfg.circuit.ir_drop


def reads_wires(layer: AnalogLayer) -> bool:
    """Whether this call reads the weight through the fast IR-drop model (wire resistance on, and
    not a programmed layer in eval mode, which reads its exact effective weights)."""
    return layer.cfg.circuit.ir_drop and not programmed.reads_programmed(layer)


class WiredState:
    """What a ``WIRED`` read of all blocks keeps for its weight gradient (``wire_weight_grad``),
    set when the read has the closed-form backward (one iteration, whole arrays, no slicing):
    ``eff`` and ``q`` ``(2, b, r, C)``, the effective conductances ``G / q`` of the G+ and G-
    arrays and the fast model's ``q = 1 + D[G]``; ``positive``: where the read weight is > 0;
    ``scales``: the blocks' digital scales. All ``None`` otherwise."""

    __slots__ = ("eff", "positive", "q", "scales")

    def __init__(self) -> None:
        self.eff: Tensor | None = None
        self.q: Tensor | None = None
        self.positive: Tensor | None = None
        self.scales: Tensor | None = None


def _closed_form(w_n: Tensor, cfg: AnalogConfig) -> bool:
    """Whether the wired read of ``w_n`` ``(b, r, C)`` has the closed-form backward (one
    iteration, the columns whole arrays, all viewed as ``(b, r, arrays, tile.cols)``)."""
    width, tc = w_n.shape[-1], cfg.tile.cols
    return cfg.circuit.fast_iterations == 1 and (width <= tc or width % tc == 0)


def _conductances(w_n: Tensor, cfg: AnalogConfig) -> Tensor:
    """``G+`` and ``G-`` (uS) of the normalised weights ``w_n`` ``(b, r, C)`` in one ``(2, b, r,
    C)`` tensor: ``G+ = g_min + span * max(w, 0)``, ``G- = G+ - span * w`` (no graph)."""
    mp = cfg.mapping
    span = mp.g_max_uS - mp.g_min_uS
    g = w_n.new_empty((2, *w_n.shape))
    torch.clamp(w_n, min=0, out=g[0]).mul_(span).add_(mp.g_min_uS)
    torch.mul(w_n, span, out=g[1])
    torch.sub(g[0], g[1], out=g[1])
    return g


def _arrays(x: Tensor, tc: int) -> Tensor:
    """``(..., C)`` viewed as ``(..., arrays, tc)`` (whole arrays side by side, no copy)."""
    width = x.shape[-1]
    return x.view(*x.shape[:-1], max(1, width // tc), min(width, tc))


def _wired_q(g: Tensor, cfg: AnalogConfig) -> Tensor:
    """``q = 1 + D[G]`` ``(2, b, r, C)`` of the conductances ``g`` (``_conductances``), every
    physical array at once (``physics.irdrop``'s drop operator, columns along dim -3 of the
    arrays' view)."""
    circ = cfg.circuit
    r_row, r_col = circ.row_segment_ohm * 1e-6, circ.col_segment_ohm * 1e-6  # ohm x uS: M-ohm
    return _drop(_arrays(g, cfg.tile.cols), r_row, r_col, col_dim=-3).add_(1.0).view(g.shape)


class HeldDrop:
    """The fast model's drop factors of one layer's arrays, held between reads
    (``CircuitConfig.fast_refresh_reads``; ``held_read``): ``gain`` ``(b, r, C)`` (blocks, as
    ``mapping.to_blocks`` lays the weight out), ``1 / q`` of the array that holds each weight (G+
    where the weight was > 0 at the refresh, G- elsewhere); ``gain_param``: the same laid out as
    the weight parameter, for a training read's weight gradient (else ``None``); ``offset`` ``(b,
    r, C)``, ``g_min (1/q+ - 1/q-) / span`` (``None`` when ``g_min = 0``); ``key``: what they were
    computed for (config, weight shape, dtype, device); ``version``: the weight's ``(data_ptr,
    _version)`` when computed for an eval read (an eval read of that weight reuses them: the same
    read), else ``None``; ``anchor``: then the weight's storage, held so that no other tensor can
    take its address while the factors are kept; ``reads``: training reads since the refresh.
    Kept in the layer's ``__dict__`` under ``"_held_drop"``: not state (dropped on copy and
    pickling, ``AnalogLayer.BUFFER_KEYS``)."""

    __slots__ = ("anchor", "gain", "gain_param", "key", "offset", "reads", "version")

    def __init__(self, gain: Tensor, gain_param: Tensor | None, offset: Tensor | None, key: tuple,
                 version: tuple | None) -> None:
        self.gain, self.gain_param, self.offset = gain, gain_param, offset
        self.key, self.version, self.reads = key, version, 0
        self.anchor: object | None = None


def drop_gain(w_n: Tensor, cfg: AnalogConfig) -> tuple[Tensor, Tensor | None]:
    """``(gain, offset)`` of the normalised weight blocks ``w_n`` ``(b, r, C)`` (their G+/G-
    arrays through ``_wired_q``): with them ``wired_blocks(w_n, cfg) == w_n * gain + offset`` (to
    rounding; ``offset`` ``None`` when ``g_min = 0``), since ``G- = g_min`` where ``w > 0`` and
    ``G+ = g_min`` elsewhere (``HeldDrop``)."""
    mp = cfg.mapping
    inv_q = _wired_q(_conductances(w_n, cfg), cfg).reciprocal_()
    offset = None
    if mp.g_min_uS > 0.0:
        offset = torch.sub(inv_q[0], inv_q[1]).mul_(mp.g_min_uS / (mp.g_max_uS - mp.g_min_uS))
    return torch.where(w_n > 0, inv_q[0], inv_q[1]), offset


def _weight_version(layer: AnalogLayer) -> tuple:
    w = layer.weight
    return (w.data_ptr(), w._version)


def held_read(layer: AnalogLayer, pert: WeightUnitPerturber | None) -> HeldDrop | None:
    """The drop factors this call of ``layer`` reads through, held (``HeldDrop``), or ``None``
    where every read runs the fast model (``wired_blocks``): training with ``fast_refresh_reads =
    1``, bit slicing, a weight perturbation that does not run in weight units, or arrays the
    closed form does not cover (several iterations, a partial last array). Training reads
    refresh them every ``circuit.fast_refresh_reads`` reads (from the unperturbed weight); eval
    reads whenever the weight or the config changed. ``pert``: the call's weight perturbation in
    weight units (``unit_perturbation``)."""
    cfg = layer.cfg
    g, k, m = layer.matrix_shape
    training = layer.training
    if training and (cfg.circuit.fast_refresh_reads == 1 or pert is None and layer.weight_perturbation is not None):
        return None
    if cfg.device.slicing.active or not (cfg.circuit.fast_iterations == 1 and (m <= cfg.tile.cols
                                                                              or m % cfg.tile.cols == 0)):
        return None
    weight = layer.weight
    key = (cfg.circuit, cfg.mapping, cfg.tile, tuple(weight.shape), weight.dtype, weight.device)
    held: HeldDrop | None = layer.__dict__.get("_held_drop")
    version = None if training else _weight_version(layer)
    stale = held is None or held.key != key or held.version != version or (
        training and held.reads >= cfg.circuit.fast_refresh_reads)  # (training: version None)
    if stale:
        with torch.no_grad():
            blocks = mapping.to_blocks(layer.weight_matrix(), cfg.tile.rows)
            gain, offset = drop_gain(blocks / mapping.weight_scales(blocks, cfg.tile.cols, cfg.mapping.scale), cfg)
        gain_param = None
        if training:  # the weight gradient's factor: the blocks' layout back to the parameter's
            with torch.enable_grad():
                (gain_param,) = torch.autograd.grad(layer._matrix(), weight, gain.view(g, -1, m)[:, :k])
        held = layer.__dict__["_held_drop"] = HeldDrop(gain, gain_param, offset, key, version)
        if version is not None:  # keeps the storage alive: no new weight can take its address
            held.anchor = weight.untyped_storage()
    if training:
        held.reads += 1
    return held


def wired_blocks(w_n: Tensor, cfg: AnalogConfig, keep: WiredState | None = None) -> Tensor:
    """Normalised weight blocks ``(b, r, C)`` as read through the wires of ``cfg.circuit``: each
    weight to ``G+ = g_min + span * max(w, 0)``, ``G- = G+ - span * w`` (uS, ``span = g_max -
    g_min``, ``cfg.mapping``), the columns cut into physical arrays of ``cfg.tile.cols``, each
    array's effective conductances by ``physics.irdrop.fast_conductance`` (all arrays, G+ and G-,
    in one batch) and ``(Geff+ - Geff-) / span`` back. Differentiable in ``w_n`` (pure torch).
    ``keep``: where to leave the model's state for the closed-form backward (``WiredState``;
    set when there is one: ``_closed_form``)."""
    circ, mp, tc = cfg.circuit, cfg.mapping, cfg.tile.cols
    span = mp.g_max_uS - mp.g_min_uS
    r_row, r_col = circ.row_segment_ohm * 1e-6, circ.col_segment_ohm * 1e-6  # ohm x uS: M-ohm
    graph = w_n.requires_grad and torch.is_grad_enabled()
    if not graph and _closed_form(w_n, cfg):  # G+/G- in one tensor, in place
        g = _conductances(w_n, cfg)
        q = _wired_q(g, cfg)
        eff = g.div_(q)
        if keep is not None:
            keep.eff, keep.q, keep.positive = eff, q, w_n > 0
        return torch.sub(eff[0], eff[1]).div_(span)
    g_pos = torch.relu(w_n).mul(span).add(mp.g_min_uS)
    g = torch.stack([g_pos, g_pos - span * w_n])
    width = g.shape[-1]
    if width <= tc or width % tc == 0:  # (2, b, r, arrays, tc): every array at once, no copy
        eff = fast_conductance(_arrays(g, tc), r_row, r_col, circ.fast_iterations, col_dim=-3).view(g.shape)
    else:
        eff = torch.cat([fast_conductance(g[..., c0: c0 + tc], r_row, r_col, circ.fast_iterations)
                         for c0 in range(0, width, tc)], dim=-1)
    return (eff[0] - eff[1]).div_(span)


def wired_vjp(w_n: Tensor, g_out: Tensor, cfg: AnalogConfig, kept: WiredState | None = None) -> Tensor:
    """The gradient with respect to ``w_n`` ``(b, r, C)`` of ``<g_out, wired_blocks(w_n, cfg)>``
    in closed form (one iteration, whole arrays: ``_closed_form``), no graph: with ``G`` the
    G+/G- conductances, ``q = 1 + D[G]`` and ``G_eff = G / q``: ``P = g_out / q - D[g_out
    G_eff / q]`` (``D`` symmetric) for each of G+ and G-, and the gradient is ``P+`` where
    ``w > 0`` and ``P-`` elsewhere (``dG+/dw = span [w > 0]``, ``dG-/dw = span ([w > 0] - 1)``;
    the spans cancel). ``kept``: the forward read's
    ``G_eff``, ``q`` and signs (``WiredState``; the Jacobian is then taken at the weights that
    read; ``w_n`` only gives the shape), else computed from ``w_n``."""
    circ = cfg.circuit
    r_row, r_col = circ.row_segment_ohm * 1e-6, circ.col_segment_ohm * 1e-6
    if kept is not None and kept.q is not None:
        eff, q, positive = kept.eff, kept.q, kept.positive
        t = torch.div(eff, q)
    else:
        g = _conductances(w_n, cfg)
        q = _wired_q(g, cfg)
        t = g.div_(q).div_(q)
        positive = w_n > 0
    t.mul_(g_out)  # g_out G / q^2
    p = torch.div(g_out, q)
    p.sub_(_drop(_arrays(t, cfg.tile.cols), r_row, r_col, col_dim=-3).view(t.shape))
    return torch.where(positive, p[0], p[1])


def wire_weight_grad(layer: AnalogLayer, gw: Tensor, trace: MVMTrace | None = None) -> Tensor:
    """The weight gradient through the wires: ``gw``, the gradient with respect to the weights the
    array read (laid out as the weight parameter), times the transposed Jacobian of the read
    ``W -> s * wired_blocks(W / s)`` (``s`` the digital column scales, held constant; any weight
    perturbation and bit slicing are passed straight through). ``gw`` itself when the call read
    no wires. ``trace``: the forward's; its ``read_state`` (a ``WiredState``) hands over what the
    forward's read kept, and the Jacobian is then taken at the weights the array read (the
    perturbed ones in hardware-aware training, as for the ideal read's straight-through
    gradient), in closed form (``wired_vjp``) with no pass over the weights for the model's
    state. Without it (bit slicing, several iterations, a partial last array, no trace) the
    Jacobian is taken at the unperturbed ``W / s``. A read through held drop factors
    (``HeldDrop``) in training has the Jacobian ``gain`` (in eval mode the fast model's, as
    without it). Called by the layers' backward (``nn.autograd``)."""
    if not reads_wires(layer):
        return gw
    state = trace.read_state if trace is not None else None
    if isinstance(state, HeldDrop) and state.version is None:  # training: W gain + s offset at the held q
        return gw.mul(state.gain_param)
    weight = layer.weight
    cfg = layer.cfg
    g, k, m = layer.matrix_shape
    with torch.enable_grad():
        mat = layer._matrix()  # the weight parameter laid out (G, K, M): a reshape of it
        probe = torch.zeros_like(mat, requires_grad=True)
        (lay,) = torch.autograd.grad(mat, weight, probe, create_graph=True)
        (g_mat,) = torch.autograd.grad(lay, probe, gw)  # gw laid out (G, K, M)
        g_blocks = mapping.to_blocks(g_mat, cfg.tile.rows)
        kept = state if isinstance(state, WiredState) and state.q is not None else None
        if kept is not None:  # the forward's read: no pass over the weights for the model
            s = kept.scales
            # d held / d W = d(s f(W / s)) / d W: the normalised read's VJP of (g s), over s
            # (contiguous like the kept state: mixed layouts make every pass a strided one)
            g_n = wired_vjp(g_blocks, torch.mul(g_blocks, s, out=torch.empty_like(kept.positive, dtype=s.dtype)),
                            cfg, kept)
        else:
            blocks = mapping.to_blocks(mat.detach(), cfg.tile.rows)
            s = mapping.weight_scales(blocks, cfg.tile.cols, cfg.mapping.scale)
            w_n = blocks / s
            if _closed_form(w_n, cfg):
                g_n = wired_vjp(w_n, g_blocks * s, cfg)
            else:
                (g_n,) = torch.autograd.grad(wired_blocks(w_n.requires_grad_(True), cfg), w_n, g_blocks * s)
        g_read = g_n.div_(s).view(g, -1, m)[:, :k]
        (out,) = torch.autograd.grad(mat, weight, g_read)
    return out


def normalised_reader(layer: AnalogLayer, keep: WiredState | None = None) -> BlockReader:
    """A reader of normalised weight blocks and their digital scales (``physics.crossbar``): the
    programmed array in eval mode, else the weight (perturbed in training mode by the layer's
    weight perturbation; bit-sliced when the device slices). ``keep``: where a wired read of all
    blocks leaves what its weight gradient reuses (``WiredState``)."""
    if programmed.reads_programmed(layer):  # eval mode on a programmed array: what it holds now
        return programmed.programmed_reader(layer)
    blocks = mapping.to_blocks(layer.weight_matrix(), layer.cfg.tile.rows)
    cols, policy = layer.cfg.tile.cols, layer.cfg.mapping.scale
    perturb = layer.weight_perturbation if layer.training else None
    slicing = layer.cfg.device.slicing if layer.cfg.device.slicing.active else None
    wired = layer.cfg.circuit.ir_drop

    # normalised weights in a reused, contiguous buffer (contiguous: the noise draws need it)
    scratch = layer._scratch("_w_scratch", blocks.numel(), blocks.dtype, blocks.device).view(blocks.shape)

    def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
        wb = blocks[b0:b1]
        s = mapping.weight_scales(wb, cols, policy)
        w_n = torch.div(wb, s, out=scratch[b0:b1])
        if perturb is not None:
            w_n = perturb(w_n, layer)
        if slicing is not None:  # bit-sliced weights: (b, r, M*S) columns, per-slice scales
            w_n, s = bit_slice(w_n, s, slicing)
        if wired:
            # a read of all blocks keeps its model's state for the weight gradient (not sliced:
            # the gradient is taken on the unsliced weights)
            whole = keep is not None and slicing is None and b0 == 0 and b1 == len(blocks)
            w_n = wired_blocks(w_n, layer.cfg, keep if whole else None)
            if whole and keep.q is not None:
                keep.scales = s
        return w_n, s

    return read


def weight_unit_reader(layer: AnalogLayer, mat: Tensor, perturb: WeightUnitPerturber | None = None,
                       out: Tensor | None = None, held: HeldDrop | None = None) -> BlockReader:
    """Reader of the blocks of ``mat`` (the layer's detached weight matrix) in weight units and
    their scales. ``perturb``: applied in weight units on every read; ``out``: a flat buffer for
    the perturbed (or wired) weights of a read of all blocks; ``held``: the wires' held drop
    factors, read through as ``W gain + s offset`` (``HeldDrop``, ``drop_gain``)."""
    blocks = mapping.to_blocks(mat, layer.cfg.tile.rows)
    cols, policy = layer.cfg.tile.cols, layer.cfg.mapping.scale

    def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
        full = b0 == 0 and b1 == len(blocks)
        wb = blocks if full else blocks[b0:b1]
        s = mapping.weight_scales(wb, cols, policy)
        dest = strided_like(out, wb) if full else None
        if perturb is not None:
            wb = perturb.perturb_weights(wb, s, layer, out=dest)
            dest = wb
        if held is not None:
            wb = torch.mul(wb, held.gain[b0:b1], out=dest) if dest is not None else wb * held.gain[b0:b1]
            if held.offset is not None:
                wb.addcmul_(held.offset[b0:b1], s)
        return wb, s

    return read


def _numel(layer: AnalogLayer, mat: Tensor) -> int:
    """Elements of the blocks of ``mat`` ``(G, K, M)`` (rows padded to whole blocks)."""
    rows = layer.cfg.tile.rows
    return mat.shape[0] * mapping.n_row_blocks(mat.shape[1], rows) * mapping.block_rows(mat.shape[1], rows) * mat.shape[2]


def choose_read(layer: AnalogLayer, perturbed_out: Callable[[int], Tensor | None]) -> WeightRead:
    """The reader of this call and what it reads (chosen once per call).

    ``perturbed_out(numel)``: a flat buffer for the weights perturbed in weight units (asked only
    for a ``PERTURBED`` or ``WIRED_HELD`` read; ``None``: allocate afresh)."""
    pert = unit_perturbation(layer)
    if reads_wires(layer):
        held = held_read(layer, pert)
        if held is not None:
            mat = layer.weight_matrix()
            return WeightRead(ReadKind.WIRED_HELD, weight_unit_reader(layer, mat, pert, perturbed_out(_numel(layer, mat)),
                                                                      held), mat, held)
        state = WiredState()
        return WeightRead(ReadKind.WIRED, normalised_reader(layer, state), wired=state)
    if pert is not None:
        mat = layer.weight_matrix()
        return WeightRead(ReadKind.PERTURBED, weight_unit_reader(layer, mat, pert, perturbed_out(_numel(layer, mat))), mat)
    if read_is_exact(layer):
        if not layer.cfg.device.slicing.active:
            mat = layer.weight_matrix()
            return WeightRead(ReadKind.EXACT, weight_unit_reader(layer, mat), mat)
        return WeightRead(ReadKind.SLICED, normalised_reader(layer))
    if programmed.reads_programmed(layer):
        return WeightRead(ReadKind.PROGRAMMED, normalised_reader(layer))
    return WeightRead(ReadKind.PERTURBED_BLOCKS, normalised_reader(layer))


def held_weights(layer: AnalogLayer, weights: WeightRead, w_blocks: Tensor, scales: Tensor,
                 out: Callable[[], Tensor | None]) -> Tensor:
    """The weights the array held in a read of all blocks ``(w_blocks, scales)``, ``(G, K, M)``
    in weight units: the weight itself for an exact read (no copy), the perturbed weights of a
    read in weight units (a view), else the blocks times their scales (``out()``: a buffer
    shaped like ``w_blocks`` to write them into, when not bit-sliced)."""
    g, k, m = layer.matrix_shape
    if weights.is_exact:
        return layer.weight_matrix() if weights.matrix is None else weights.matrix
    if weights.kind is ReadKind.PERTURBED or weights.kind is ReadKind.WIRED_HELD:
        return w_blocks.view(g, -1, m)[:, :k]
    n_slices = w_blocks.shape[-1] // m
    buf = out() if n_slices == 1 else None
    if buf is not None:
        held = torch.mul(w_blocks, scales, out=buf)
    else:
        held = unslice(w_blocks, scales, n_slices)
    return held.view(g, -1, m)[:, :k]


def recording(read: BlockReader, peaks: list[Tensor] | None) -> BlockReader:
    """``read``, appending to ``peaks`` the largest column scale of every read (NaN/Inf when a
    weight read is; ``None``: no check, ``read`` itself)."""
    if peaks is None:
        return read

    def recorded(b0: int, b1: int) -> tuple[Tensor, Tensor]:
        w, s = read(b0, b1)
        peaks.append(s.amax())
        return w, s

    return recorded
