"""The tiled crossbar matrix-vector product: every row block is one slice of a batched matmul.

For each row block ``b`` (a tile's worth of inputs) and input vector ``n`` the array sums
currents ``P[b, n, :] = x_n[n, rows of b] @ w_n[b]`` (Kirchhoff), output noise is added, the
block's ADC digitises ``P[b]`` and the digital periphery scales the partial sums back and adds
them over row blocks. Row blocks run as one ``torch.bmm``; when the partial sums of a large layer
would exceed ``max_partial_elems`` they are processed in chunks (of blocks, then of vectors), so
peak memory stays near that of a plain matmul.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from analogue.physics.irdrop import Crossbar as Crossbar  # the exact IR-drop solve (re-exported)
from analogue.physics.irdrop import effective_conductance as effective_conductance
from analogue.physics.irdrop import solve as solve
from analogue.physics.noise import GaussianSource
from analogue.physics.periphery import ColumnADCs, levels, nonideal_adc_, quantise_

BlockReader = Callable[[int, int], tuple[Tensor, Tensor]]
"""``read(b0, b1) -> (w_n, scale)``: normalised weights ``(b1-b0, r, M)`` of row blocks
``b0..b1-1`` (conductance difference over ``g_max - g_min``) and their digital scales
``(b1-b0, 1, M)``."""

DEFAULT_MAX_PARTIAL_ELEMS = 1 << 20


class WeightUnits(enum.Enum):
    """What a ``BlockReader`` gives: normalised weights ``w_n`` (conductance difference over
    ``g_max - g_min``), or the weights in weight units ``w_n * scale``."""

    NORMALISED = "normalised"
    WEIGHT = "weight"


@dataclass(frozen=True)
class Readout:
    """The output periphery of a tile: output noise of std ``noise_std`` and an ADC of
    ``adc_bits`` (``None``: ideal) over ``[-out_bound, out_bound]``, both in normalised output
    units; ``clip``: an ideal ADC still clips at ``out_bound``. ``adcs``: static errors of each
    block column's ADC (``physics.periphery.ColumnADCs``, one entry per row block of the MVM;
    ``None``: ideal converters)."""

    adc_bits: int | None
    out_bound: float
    clip: bool
    noise_std: float = 0.0
    adcs: ColumnADCs | None = None

    def blocks(self, b0: int, b1: int) -> Readout:
        """The readout of row blocks ``b0..b1-1``."""
        return self if self.adcs is None else replace(self, adcs=self.adcs.blocks(b0, b1))


def _digitise_(p: Tensor, scale: Tensor, readout: Readout, source: GaussianSource | None,
               units: WeightUnits = WeightUnits.NORMALISED, rescale: bool = True, x_unit: float = 1.0,
               ) -> tuple[Tensor, Tensor | None]:
    """In place on the fresh partial sums ``p``: noise, ADC, and the digital scale.

    With weights in weight units (``units``) the partial sums are divided by ``scale`` first
    (folded into the ADC's input gain: the same pass). Returns ``(p, post)``:
    ``p * post`` is the digitised output in weight units; with ``rescale`` it is applied in place
    and ``post`` is ``None`` (as it is when there is nothing to apply), else the caller applies it
    (fused with the digital accumulation). ``x_unit``: the inputs were DAC codes, each worth
    ``x_unit`` (folded into the same gain).
    """
    adc_bits, out_bound, clip, noise_std = readout.adc_bits, readout.out_bound, readout.clip, readout.noise_std
    normalise = units is WeightUnits.WEIGHT
    lv = levels(adc_bits) if adc_bits is not None else None
    if normalise and lv is None and noise_std == 0.0 and not clip:  # ideal converters: the scale
        return (p, None) if x_unit == 1.0 else (p.mul_(x_unit), None)  # cancels out
    if lv is not None and out_bound * torch.finfo(p.dtype).max <= lv:
        # a zero ADC range (e.g. calibrated on an all-zero layer): every code is worth 0, and the
        # gain into ADC steps would overflow the dtype
        return p.zero_(), None
    gain = 1.0 if lv is None else lv / out_bound  # normalised units -> ADC steps
    if normalise:  # an all-zero column (scale at the floor) has zero sums: keep the gain finite
        p.mul_(torch.div(gain * x_unit, scale).clamp_max_(torch.finfo(p.dtype).max))
    elif gain * x_unit != 1.0:
        p.mul_(gain * x_unit)
    if noise_std > 0.0:
        assert source is not None
        source.add_(p, noise_std * gain)
    if lv is not None:
        if readout.adcs is None:
            quantise_(p, adc_bits)
        else:  # static per-column converter errors (a programmed instance's)
            nonideal_adc_(p, adc_bits, readout.adcs)
        post = scale * (out_bound / lv)
    else:
        if clip:
            p.clamp_(-out_bound, out_bound)
        post = scale
    if rescale:
        return p.mul_(post), None
    return p, post


def _accumulate(p: Tensor, post: Tensor | None, groups: int, out: Tensor | None,
                add: bool = False) -> Tensor:
    """``sum over row blocks of p * post``: ``(G*nb, N, M)`` -> ``(G, N, M)``, written to ``out``
    (added to it with ``add``).

    A few blocks are added with fused multiply-adds (one pass each, no product tensor); many
    blocks with one product and one reduction.
    """
    gb, n, m = p.shape
    nb = gb // groups
    pv = p.view(groups, nb, n, m)
    if out is None:
        out = torch.empty(groups, n, m, dtype=p.dtype, device=p.device)
    if post is None:
        return out.add_(pv.sum(dim=1)) if add else torch.sum(pv, dim=1, out=out)
    cv = post.expand(gb, 1, m).reshape(groups, nb, 1, m)
    if nb <= 8:
        if add:
            out.addcmul_(pv[:, 0], cv[:, 0])
        else:
            torch.mul(pv[:, 0], cv[:, 0], out=out)
        for b in range(1, nb):
            out.addcmul_(pv[:, b], cv[:, b])
        return out
    pv.mul_(cv)
    return out.add_(pv.sum(dim=1)) if add else torch.sum(pv, dim=1, out=out)


def tiled_mvm(
    x_blocks: Tensor,
    read: BlockReader,
    *,
    groups: int,
    readout: Readout,
    source: GaussianSource | None = None,
    units: WeightUnits = WeightUnits.NORMALISED,
    max_partial_elems: int = DEFAULT_MAX_PARTIAL_ELEMS,
    out: Tensor | None = None,
    dac: Callable[[Tensor, slice, slice], Tensor] | None = None,
    cols: int | None = None,
    workspace: Callable[[int], Tensor] | None = None,
    x_unit: float = 1.0,
    in_scale: Tensor | None = None,
) -> Tensor:
    """Analog MVM of inputs ``x_blocks`` ``(G * nb, N, r)`` against the blocks ``read`` gives.

    ``x_blocks`` are DAC outputs, or raw inputs when ``dac(x_chunk, blocks, vectors)`` is given: it is
    then applied to each chunk as it is processed, so the DAC outputs of a large layer never
    exist all at once. Returns ``(G, N, M)`` in units of (input full scale) x (weight units),
    before the input's digital rescale. ``readout``: the output noise and ADC; ``source``: the
    output noise's stream (needed when ``readout.noise_std > 0``). ``out``: an optional
    ``(G, N, M)`` tensor to write into.

    ``units``: with ``WeightUnits.WEIGHT`` ``read`` gives the weights in weight units
    (``w_n * scale``) and the partial sums are divided by the scale instead of the weights -- the same product, with no normalised
    copy of the weights (the ADC's gain absorbs the division). ``cols``: the number of columns
    ``read`` gives, when the caller knows it (else one block is read to find out).
    ``workspace(numel)``: a reused flat buffer for partial sums that do not leave the function (on
    CPU a matmul writing into freshly allocated memory runs much slower). ``x_unit``: the inputs
    (or what ``dac`` gives) are DAC codes worth ``x_unit`` each. ``in_scale``: ``(G * nb, N, 1)``
    input full scales per row block and vector (per-tile dynamic ranges), multiplied into each
    block's digitised partial sums before the digital accumulation (the output then includes the
    input's rescale).
    """
    if dac is None:
        dac = lambda xc, _blocks, _rows: xc  # noqa: E731
    gb, n, _ = x_blocks.shape
    nb = gb // groups
    first = None
    if cols is None:
        first = read(0, min(gb, 1))
        cols = first[0].shape[-1]
    m = cols
    kw = dict(readout=readout, source=source, units=units, x_unit=x_unit)
    if gb * n * m <= max_partial_elems:  # the common case: one batched matmul for the whole layer
        w, s = read(0, gb) if gb > 1 or first is None else first
        one_block = gb == groups  # one row block per group: the partial sums are the output
        xd = dac(x_blocks, slice(0, gb), slice(0, n))
        if one_block or workspace is None:
            p = torch.bmm(xd, w)
        else:
            p = torch.bmm(xd, w, out=workspace(gb * n * m).view(gb, n, m))
        p, post = _digitise_(p, s, rescale=one_block, **kw)
        if in_scale is not None:
            p.mul_(in_scale)
        if one_block:
            return p if out is None else out.copy_(p)
        return _accumulate(p, post, groups, out)
    if out is None:
        out = torch.empty(groups, n, m, dtype=x_blocks.dtype, device=x_blocks.device)
    out.zero_()
    # Large layers: chunks of whole row blocks, and of input vectors when one block is too big.
    # chunks of half the one-shot budget: a layer too large for one matmul holds at most that much
    chunk = max(1, max_partial_elems // 2)
    blocks_per_chunk = max(1, chunk // max(1, n * m))
    rows_per_chunk = n if blocks_per_chunk > 1 or n * m <= chunk else max(1, chunk // m)
    # one partial-sum buffer for all chunks: a matmul writing into reused memory is faster on CPU
    size = min(gb, blocks_per_chunk) * min(n, rows_per_chunk) * m
    p_buf = workspace(size) if workspace is not None else \
        torch.empty(size, dtype=x_blocks.dtype, device=x_blocks.device)
    for b0 in range(0, gb, blocks_per_chunk):
        b1 = min(gb, b0 + blocks_per_chunk)
        w, s = read(b0, b1)
        kw["readout"] = readout.blocks(b0, b1)
        gidx = torch.arange(b0, b1, device=x_blocks.device) // nb
        for n0 in range(0, n, rows_per_chunk):
            n1 = min(n, n0 + rows_per_chunk)
            p = p_buf[: (b1 - b0) * (n1 - n0) * m].view(b1 - b0, n1 - n0, m)
            torch.bmm(dac(x_blocks[b0:b1, n0:n1], slice(b0, b1), slice(n0, n1)), w, out=p)
            if groups == 1:  # the digital scale fused into the accumulation
                p, post = _digitise_(p, s, rescale=False, **kw)
                if in_scale is not None:
                    p.mul_(in_scale[b0:b1, n0:n1])
                _accumulate(p, post, 1, out[:, n0:n1], add=True)
            else:
                p = _digitise_(p, s, **kw)[0]
                if in_scale is not None:
                    p.mul_(in_scale[b0:b1, n0:n1])
                out[:, n0:n1].index_add_(0, gidx, p)
    return out
