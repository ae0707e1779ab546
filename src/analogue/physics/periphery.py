"""Converters at the edge of the array: DAC on the inputs, ADC on the outputs, output noise.

All functions are pure; quantisers round to nearest with ties to even (``torch.round``) and carry
no gradient themselves (the straight-through estimators live in ``physics.ste``).

A ``bits``-bit converter is signed and symmetric: codes ``-L..L`` with ``L = 2**(bits-1) - 1``
steps per side, zero exact, the top code at full scale. A 1-bit converter is binary: its two
levels are plus and minus full scale and it takes the sign of its input (``quantise_``): a sign
DAC drives the binary input pulses of chips such as NeuRRAM (Wan et al., Nature 608, 2022), which
feeds multi-bit inputs bit-serially, and a sign ADC is a single comparator per column.
"""

from __future__ import annotations

import torch
from torch import Tensor

from analogue.physics.noise import GaussianSource


def levels(bits: int) -> int:
    """Steps per side of a signed converter: ``2**(bits-1) - 1`` (symmetric, zero exact); 1 for a
    binary (1-bit) converter, whose codes are +-1 (see ``quantise_``)."""
    return max(1, (1 << (bits - 1)) - 1)


def quantise_(steps: Tensor, bits: int) -> Tensor:
    """In place: values in converter steps (input times ``levels(bits) / full_scale``) to the codes
    of a ``bits``-bit converter, clipped to ``[-L, L]`` and rounded.

    ``bits=1``: a binary converter, code ``sign(x)``: +-1, i.e. +-full scale. An input of exactly
    0 gives code 0 -- a word line with no pulse, or a column with no current (an all-zero column
    or input vector then reads 0, as it does at every other resolution).
    """
    if bits == 1:
        return steps.sign_()
    lv = levels(bits)
    return steps.clamp_(-lv, lv).round_()


SMALL_ELEMS = 1 << 14
"""Up to this many elements an absolute maximum takes ``abs()`` and one reduction (fewer
operations); above it two reductions (no temporary the size of the tensor)."""


def abs_max(x: Tensor, dim: int) -> Tensor:
    """``|x|.amax(dim, keepdim=True)``, NaN propagating."""
    if x.numel() <= SMALL_ELEMS:
        return x.abs().amax(dim=dim, keepdim=True)
    return torch.maximum(x.amax(dim=dim, keepdim=True), x.amin(dim=dim, keepdim=True).neg_())


def dynamic_input_scale(x: Tensor) -> Tensor:
    """Per-vector absolute maximum over the last dimension, ``(..., 1)``, never 0. NaN propagates."""
    return abs_max(x, -1).clamp_min_(torch.finfo(x.dtype).tiny)


def dac(x: Tensor, scale: Tensor | float, bits: int | None, clip: bool = True,
        out: Tensor | None = None, codes: bool = False) -> Tensor:
    """Normalise by the full-scale ``scale``, clip to ``[-1, 1]`` and quantise to ``bits``.

    ``clip=False`` skips the clipping where ``scale`` bounds ``|x|`` already (the dynamic range).
    ``out``: a tensor of ``x``'s shape to write the result into. ``codes``: return the integer
    codes ``round(x / scale * L)`` instead (the output times ``dac_unit(bits)``; one pass fewer).
    """
    if bits is None:
        xn = torch.div(x, scale, out=out) if out is not None else x / scale
        return xn.clamp_(-1.0, 1.0) if clip else xn
    gain = dac_gain(scale, bits)
    xn = dac_codes_(torch.mul(x, gain, out=out) if out is not None else torch.mul(x, gain), bits, clip)
    return xn if codes else xn.mul_(dac_unit(bits))


def dac_gain(scale: Tensor | float, bits: int | None) -> Tensor | float:
    """Codes per unit input, ``L / scale`` (``1 / scale`` without quantisation); a tensor scale at
    its floor (an all-zero vector) keeps a finite gain, so ``0 * gain = 0``."""
    gain = (1 if bits is None else levels(bits)) / scale
    if isinstance(gain, Tensor):
        gain = gain.clamp_max_(torch.finfo(gain.dtype).max)
    return gain


def dac_codes_(scaled: Tensor, bits: int | None, clip: bool) -> Tensor:
    """In place on inputs times ``dac_gain``: clip to the converter's range (with ``clip``) and
    round to the codes (without quantisation, the clipped normalised inputs)."""
    if bits == 1:  # binary: the sign (no clipping needed)
        return scaled.sign_()
    lv = 1 if bits is None else levels(bits)
    if clip:
        scaled.clamp_(-lv, lv)
    return scaled if bits is None else scaled.round_()


def dac_unit(bits: int | None) -> float:
    """The DAC output per code: ``1 / L`` (1 without quantisation)."""
    return 1.0 if bits is None else 1.0 / levels(bits)


def adc(y: Tensor, bound: float | Tensor, bits: int | None, clip: bool = True) -> Tensor:
    """Digitise column outputs over ``[-bound, bound]`` (normalised units; a zero ``bound`` reads
    0 everywhere)."""
    if bits is not None:
        lv, tiny = levels(bits), torch.finfo(y.dtype).tiny
        floor = bound.clamp_min(tiny) if isinstance(bound, Tensor) else max(bound, tiny)
        return quantise_(y / floor * lv, bits) * (bound / lv)  # a zero range: codes worth 0
    if clip:
        return torch.maximum(torch.minimum(y, torch.as_tensor(bound)), -torch.as_tensor(bound))
    return y


def output_noise(y: Tensor, std: float, source: GaussianSource | torch.Generator) -> Tensor:
    """``y + std * N(0, 1)`` with noise from an explicit generator or fast source."""
    if std == 0.0:
        return y
    if isinstance(source, GaussianSource):
        return source.add_(y.clone(memory_format=torch.contiguous_format), std)
    return y + std * torch.randn(y.shape, generator=source, device=y.device, dtype=y.dtype)


def digital_accumulate(partials: Tensor, scales: Tensor, groups: int) -> Tensor:
    """Scale each block's digitised partial sums and add them over row blocks.

    ``partials``: ``(G * nb, N, M)``; ``scales``: ``(G * nb, 1, M)``. Returns ``(G, N, M)``.
    """
    gb, n, m = partials.shape
    return (partials * scales).view(groups, gb // groups, n, m).sum(dim=1)
