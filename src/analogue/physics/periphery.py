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

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from analogue.config.array import input_cycles
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
    # out of place: amax/amin keep their outputs for their backward (gradients through activations)
    return torch.maximum(x.amax(dim=dim, keepdim=True), x.amin(dim=dim, keepdim=True).neg())


def dynamic_input_scale(x: Tensor) -> Tensor:
    """Per-vector absolute maximum over the last dimension, ``(..., 1)``, never 0. NaN propagates."""
    return abs_max(x, -1).clamp_min(torch.finfo(x.dtype).tiny)


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


# -- static converter errors, sampled once per programmed instance ------------------------------
# Definitions after IEEE Std 1241-2010 (offset, gain error, DNL, INL of a converter's static
# transfer curve); per-column sampling as for the per-column CCO ADCs of an in-memory core
# (Khaddam-Aljameh et al., JSSC 57(4), 2022). Errors are output-referred at code centres: code
# ``k`` reads as ``k + INL(k)`` LSB, which differs from shifting the transition levels by at most
# half a code's DNL.

@dataclass(frozen=True)
class ColumnADCs:
    """The static errors of one ADC per column of ``B`` blocks (``C`` columns each):
    ``gain`` ``(B, 1, C)``: ``1 + gain error``; ``offset`` ``(B, 1, C)``: LSB; ``inl`` ``(B, 2L+1,
    C)``: the INL of each code ``-L..L`` in LSB. Each is ``None`` when that error is off."""

    gain: Tensor | None = None
    offset: Tensor | None = None
    inl: Tensor | None = None

    def blocks(self, b0: int, b1: int) -> ColumnADCs:
        """The errors of blocks ``b0..b1-1``."""
        return ColumnADCs(*(None if t is None else t[b0:b1] for t in (self.gain, self.offset, self.inl)))

    def repeat(self, times: int) -> ColumnADCs:
        """The errors of ``times`` successive uses of every block (``(times * B, ...)``: e.g. the
        read cycles of bit-serial inputs run as extra groups)."""
        return ColumnADCs(*(None if t is None else t.repeat(times, 1, 1) for t in (self.gain, self.offset, self.inl)))


def bow_profile(bits: int, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> Tensor:
    """The third-order (bow) INL shape over codes ``k = -L..L``, ``(2L+1,)``:
    ``p(k) = (3 sqrt(3) / 2) (x - x**3)`` with ``x = k / L``: odd (a compressive cubic with its
    end points corrected), zero at ``0`` and the end codes, peak ``+-1`` at ``x = +-1/sqrt(3)``."""
    lv = levels(bits)
    x = torch.arange(-lv, lv + 1, dtype=torch.float64, device=device) / lv
    return (1.5 * math.sqrt(3.0) * (x - x**3)).to(dtype)


def random_walk_inl(n: int, bits: int, cols: int, dnl_std_lsb: float, gen: torch.Generator,
                    dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> Tensor:
    """INL ``(n, 2L+1, cols)`` in LSB from i.i.d. DNL: every code step ``k-1 -> k`` of every column
    is ``1 + d_k`` LSB wide with ``d_k ~ N(0, dnl_std_lsb**2)``; ``INL(k) = sum_{j<=k} d_j``
    (``INL(-L) = 0``), end-point corrected: the straight line through ``INL(-L)`` and ``INL(L)``
    is removed (that part is a gain error), so ``INL(+-L) = 0`` and the DNL ``INL(k) - INL(k-1)``
    has variance ``dnl_std_lsb**2 (1 - 1/(2L))``."""
    lv = levels(bits)
    d = torch.randn(n, 2 * lv, cols, generator=gen, dtype=torch.float64, device=device) * dnl_std_lsb
    inl = torch.cat([torch.zeros(n, 1, cols, dtype=torch.float64, device=device), d.cumsum(1)], 1)
    t = torch.arange(2 * lv + 1, dtype=torch.float64, device=device).view(1, -1, 1) / (2 * lv)
    return (inl - t * inl[:, -1:]).to(dtype)


def sample_column_adcs(n: int, cols: int, bits: int, *, offset_std_lsb: float, gain_std_rel: float,
                       inl_std_lsb: float, dnl_std_lsb: float, generators: Sequence[torch.Generator],
                       dtype: torch.dtype = torch.float32, device: torch.device | None = None,
                       ) -> ColumnADCs | None:
    """Sample the ADCs of ``n`` blocks of ``cols`` columns (``None`` when every std is 0).

    ``generators``: four, one stream per error (offset, gain, INL amplitude, DNL), so switching
    one error on leaves the others' samples unchanged. Per column: ``offset ~ N(0, offset_std_lsb**2)``
    LSB; ``gain = 1 + N(0, gain_std_rel**2)``; ``INL(k) = a * bow_profile(k) + random_walk_inl(k)``
    with ``a ~ N(0, inl_std_lsb**2)`` LSB.
    """
    g_off, g_gain, g_inl, g_dnl = generators

    def normal(std: float, gen: torch.Generator, rows: int = 1) -> Tensor:
        return torch.randn(n, rows, cols, generator=gen, dtype=torch.float64, device=device).mul_(std)

    offset = normal(offset_std_lsb, g_off).to(dtype) if offset_std_lsb > 0 else None
    gain = normal(gain_std_rel, g_gain).add_(1.0).to(dtype) if gain_std_rel > 0 else None
    inl = None
    if inl_std_lsb > 0:
        inl = normal(inl_std_lsb, g_inl) * bow_profile(bits, torch.float64, device).view(1, -1, 1)
    if dnl_std_lsb > 0:
        walk = random_walk_inl(n, bits, cols, dnl_std_lsb, g_dnl, torch.float64, device)
        inl = walk if inl is None else inl + walk
    if offset is None and gain is None and inl is None:
        return None
    return ColumnADCs(gain=gain, offset=offset, inl=None if inl is None else inl.to(dtype))


def nonideal_adc_(steps: Tensor, bits: int, adcs: ColumnADCs) -> Tensor:
    """In place: the codes of ADCs with static errors for inputs ``steps`` ``(B, N, C)`` in LSB
    (ideal code ``quantise_(steps)``): ``k = quantise_((1 + gain) * steps + offset)``, read as
    ``k + INL(k)`` (the per-column lookup of ``adcs.inl`` at code ``k``)."""
    if adcs.gain is not None:
        steps.mul_(adcs.gain)
    if adcs.offset is not None:
        steps.add_(adcs.offset)
    quantise_(steps, bits)
    if adcs.inl is not None:
        idx = steps.to(torch.long).add_(levels(bits)).clamp_(0, 2 * levels(bits))  # NaN: any code
        steps.add_(torch.gather(adcs.inl, 1, idx))
    return steps


def sample_dac_inl(n: int, rows: int, bits: int, inl_std_lsb: float, gen: torch.Generator,
                   dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> Tensor:
    """DAC INL tables ``(n, 2L+1, rows)`` in LSB for the row DACs of ``n`` blocks: per row,
    ``INL(k) = a * bow_profile(k)`` with ``a ~ N(0, inl_std_lsb**2)`` (zero at code 0: an idle
    word line stays idle)."""
    a = torch.randn(n, 1, rows, generator=gen, dtype=torch.float64, device=device) * inl_std_lsb
    return (a * bow_profile(bits, torch.float64, device).view(1, -1, 1)).to(dtype)


def nonideal_dac(codes: Tensor, bits: int, inl: Tensor) -> Tensor:
    """DAC codes ``(B, N, r)`` (integers ``-L..L``) as the row DACs apply them: ``k + INL(k)``
    with ``inl`` ``(B, 2L+1, r)`` from ``sample_dac_inl`` (a new tensor)."""
    idx = codes.to(torch.long).add_(levels(bits)).clamp_(0, 2 * levels(bits))
    return codes + torch.gather(inl, 1, idx)


# -- bit-serial inputs ---------------------------------------------------------------------------
# Bit-serial inputs, one ADC conversion per read cycle and a digital shift-and-add, as in ISAAC
# (Shafiee et al., ISCA 2016) and the bit-serial inputs of Jia et al. (IEEE JSSC 55(9), 2020;
# docs/references.md section 7). Sign-magnitude (a modelling choice: it matches the symmetric
# codes ``-L..L`` and the weights' bit slicing, ``physics.slicing``): a code ``c`` is its sign and
# ``bits - 1`` magnitude bits; cycle ``j`` applies the magnitude's ``j``-th ``k``-bit digit with
# the input's sign as the pulse polarity (for ``k = 1`` a ternary pulse +V, 0, -V), least
# significant digit first. The digital periphery weights the cycles' digitised outputs by
# ``2**(k j)`` and adds them.

def bit_plane_significance(bits: int, bits_per_cycle: int, dtype: torch.dtype = torch.float32,
                           device: torch.device | None = None) -> Tensor:
    """``(C,)`` weight of each read cycle relative to a full-scale input: ``(2**k - 1) 2**(k j) / L``
    for ``C = ceil((bits - 1) / k)`` cycles, so that ``sum_j significance[j] * planes[j] /
    (2**k - 1) = codes / L`` (``input_bit_planes``)."""
    k = bits_per_cycle
    n = input_cycles(bits, k)
    j = torch.arange(n, dtype=torch.float64, device=device)
    return (((1 << k) - 1) * torch.pow(2.0, k * j) / levels(bits)).to(dtype)


def input_bit_planes(codes: Tensor, bits: int, bits_per_cycle: int, dim: int = 0) -> Tensor:
    """The read cycles of bit-serial inputs: DAC codes (integers ``-L..L`` of a ``bits``-bit DAC)
    -> their ``C = ceil((bits - 1) / k)`` digits, a new dimension ``dim`` (a new tensor).

    Cycle ``j`` holds ``sign(c) * digit_j(|c|)``: the ``j``-th base-``2**k`` digit of the
    magnitude (least significant first), an integer in ``-(2**k - 1)..2**k - 1``, i.e. the code of
    a ``k + 1``-bit cycle DAC (worth ``1 / (2**k - 1)`` of full scale each). ``sum_j 2**(k j)
    * planes[j] == codes`` exactly (``bit_plane_significance`` gives the weights in full-scale
    units); the digits come from integer shifts of the magnitude, exact at every DAC resolution.
    """
    k = bits_per_cycle
    n = input_cycles(bits, k)
    d = dim if dim >= 0 else codes.dim() + 1 + dim
    shape = [1] * (codes.dim() + 1)
    shape[d] = n
    shifts = torch.arange(0, n * k, k, dtype=torch.int32, device=codes.device).view(shape)
    mag = codes.abs().to(torch.int32).unsqueeze(d)  # integer shifts: exact, and cheaper than floats
    planes = mag.bitwise_right_shift(shifts).bitwise_and_((1 << k) - 1).to(codes.dtype)
    return planes.mul_(codes.sign().unsqueeze(d))
