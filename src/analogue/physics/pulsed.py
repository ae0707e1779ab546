"""Training in memory: pulse coincidences, the device response to them, and the transposed read.

An analog array is updated in place, not written: the row drivers send stochastic pulse trains
encoding the layer inputs ``x`` and the column drivers trains encoding the back-propagated errors
``d``; a device changes its conductance by one step for every slot in which a pulse arrives on its
row and its column at once (Gokmen & Vlasov, Front. Neurosci. 10:333, 2016). Everything here is a
pure function of tensors, vectorised over samples, slots and devices; randomness comes only from
an explicit ``torch.Generator`` (or, for Gaussian noise, a ``GaussianSource`` drawing from one).

Units. Device states ``w`` are in device units (conductance difference over ``g_max - g_min``, the
nominal bounds are ``w_min = -1``, ``w_max = 1``); counts are numbers of pulses; ``x`` and ``d``
are in any units (only their ratios to the per-sample maxima matter). Matrices are in the weight
layout of ``nn.Linear``: ``(outputs M, inputs K)``; ``x`` is ``(B, K)`` and ``d`` is ``(B, M)``.

Pulse statistics (``pulse_probabilities``, ``coincidence_moments``). In a train of ``bl`` slots
row ``i`` fires with probability ``p_i = c_x |x_i|`` per slot and column ``j`` with ``q_j =
c_d |d_j|``, independently, so a device sees ``Binomial(bl, p_i q_j)`` coincidences per sample and
a batch adds them. The sign of a coincidence is ``sign(x_i d_j)``: ``n_up`` counts positive,
``n_down`` negative ones. Expectation ``bl * sum_b p q`` and variance ``bl * sum_b p q (1 - p q)``
over the samples of each sign. ``c_x c_d = pulses_per_unit / bl`` makes the expected count
``pulses_per_unit * |x_i d_j|`` summed over the batch; per sample ``c_x |x|_max = c_d |d|_max``
("update management", Gokmen & Vlasov 2016); probabilities are clipped at 1 (a truncated update).

Device responses, closed forms for ``n_up`` up and ``n_down`` down pulses (documented expectations,
each checked by a statistical test):

- constant step: ``w + n_up s_up - n_down s_down``; cycle-to-cycle noise is a sum of one
  independent ``N(0, (c2c s)^2)`` per pulse, so its variance is ``c2c^2 (n_up s_up^2 + n_down
  s_down^2)``; the result is clipped to ``[w_min, w_max]``.
- soft bounds (saturating; Gokmen & Haensch, Front. Neurosci. 14:103, 2020): an up pulse moves
  ``w`` by ``s_up (1 - w / w_max)``, a down pulse by ``-s_down (1 - w / w_min)``. Every pulse is an
  affine contraction, so ``n`` pulses in one direction give exactly ``w_n = w_max - (w_max - w_0)
  (1 - s_up/w_max)^n``. Up and down pulses of a batch arrive interleaved; the closed form treats
  them as evenly interleaved (exact when one count is zero, and the exact composition of the two
  contractions otherwise): with rates ``k_up = -ln(1 - s_up/w_max)`` and ``k_down = -ln(1 -
  s_down/|w_min|)``, ``K = n_up k_up + n_down k_down``, ``w' = w_inf + (w - w_inf) exp(-K)`` with
  the fixed point ``w_inf = (n_up k_up w_max + n_down k_down w_min) / K``. Cycle-to-cycle noise as
  for the constant step, added to the closed form (the contraction of earlier pulses' noise by
  later pulses is second order in ``s / w_max`` and neglected), then clipped. The symmetry point,
  where an up and a down pulse cancel, is ``(s_up - s_down) / (s_up / w_max + s_down / |w_min|)``.
- PCM-like, SET only (Nandakumar et al., Front. Neurosci. 14:406, 2020; Boybat et al., Nat. Commun.
  9:2514, 2018): a differential pair ``(g_plus, g_minus)`` in ``[0, g_max]``; an up pulse SETs
  ``g_plus``, a down pulse SETs ``g_minus``, each with the saturating response above (its lower
  bound is 0, there are no gradual RESETs). When either device passes ``reset_threshold * g_max``
  both are RESET and the weight ``g_plus - g_minus`` is re-programmed onto one of them (with a
  programming error), the occasional refresh of a PCM pair.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from analogue.physics.crossbar import Readout, tiled_mvm
from analogue.physics.mapping import inputs_to_blocks, to_blocks, weight_scales
from analogue.physics.noise import GaussianSource
from analogue.physics.periphery import dac, dynamic_input_scale

SAMPLING_MODES = ("trains", "counts")


# -- pulse statistics ------------------------------------------------------------------------------
def pulse_probabilities(x: Tensor, d: Tensor, pulses_per_unit: float, bl: int) -> tuple[Tensor, Tensor]:
    """Signed per-slot firing probabilities ``(ps, qs)``: ``|ps| = c_x |x|`` ``(B, K)`` and ``|qs| =
    c_d |d|`` ``(B, M)``, with the signs of ``x`` and ``d`` (the polarity of the pulses).

    ``c_x c_d = pulses_per_unit / bl`` with ``c_x |x|_max = c_d |d|_max`` per sample (update
    management); magnitudes clipped to 1. ``pulses_per_unit``: expected coincidences per unit of
    ``|x_i d_j|``.
    """
    if x.dim() != 2 or d.dim() != 2 or x.shape[0] != d.shape[0]:
        raise ValueError(f"pulse_probabilities: need x (B, K) and d (B, M) with one B, got "
                         f"{tuple(x.shape)} and {tuple(d.shape)}")
    if not (isinstance(bl, int) and bl >= 1):
        raise ValueError(f"pulse_probabilities: bl (pulse-train length) must be an int >= 1, got {bl!r}")
    if not pulses_per_unit >= 0.0:
        raise ValueError(f"pulse_probabilities: pulses_per_unit must be >= 0, got {pulses_per_unit}")
    tiny = torch.finfo(x.dtype).tiny
    x_max = x.abs().amax(dim=1, keepdim=True).clamp_min_(tiny)
    d_max = d.abs().amax(dim=1, keepdim=True).clamp_min_(tiny)
    peak = torch.sqrt(x_max * d_max * (pulses_per_unit / bl))  # p_max = q_max per sample
    ps = (x * (peak / x_max)).clamp_(-1.0, 1.0)
    qs = (d * (peak / d_max)).clamp_(-1.0, 1.0)
    return ps, qs


def coincidence_moments(ps: Tensor, qs: Tensor, bl: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Exact ``(mean_up, var_up, mean_down, var_down)`` of the coincidence counts, each ``(M, K)``.

    ``ps``/``qs``: signed probabilities (``pulse_probabilities``); ``up`` counts slots with
    ``sign(x_i d_j) > 0``: mean ``bl sum_b p q``, variance ``bl sum_b p q (1 - p q)`` over those
    samples.
    """
    pa, qa = ps.abs(), qs.abs()
    h = 0.5 * bl
    tot, diff = (qa * h).t() @ pa, (qs * h).t() @ ps
    tot2, diff2 = (qs * qs * h).t() @ (ps * ps), (qs * qa * h).t() @ (ps * pa)
    mean_up, mean_down = torch.add(tot, diff), tot.sub_(diff)
    var_up = (mean_up - tot2 - diff2).clamp_min_(0.0)
    var_down = (mean_down - tot2.sub_(diff2)).clamp_min_(0.0)
    return mean_up.clamp_min_(0.0), var_up, mean_down.clamp_min_(0.0), var_down


POISSON_GRID_STEP = 1.0 / 16.0
"""Spacing of the tabulated Poisson means; a mean between two grid points samples one of them."""
POISSON_TABLE_MAX = 32.0
"""Means from here up are drawn from the rounded normal approximation."""
_POISSON_KMAX = 96  # P(N > 96 | mean 32) < 1e-17
_POISSON_GUIDE = 1024


@functools.lru_cache(maxsize=8)
def _poisson_tables(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """CDFs ``(G+1, KMAX+1)`` of Poisson laws on the mean grid, and a guide table ``(G+1, J)``:
    the smallest ``k`` with ``CDF(k) > j / J`` (Chen & Asau 1974), both flattened."""
    g = round(POISSON_TABLE_MAX / POISSON_GRID_STEP)
    mu = torch.arange(g + 1, dtype=torch.float64) * POISSON_GRID_STEP
    k = torch.arange(_POISSON_KMAX + 1, dtype=torch.float64)
    logp = k * torch.log(mu.clamp_min(1e-300)).unsqueeze(1) - mu.unsqueeze(1) - torch.lgamma(k + 1)
    pmf = torch.exp(logp)
    pmf[0] = 0.0
    pmf[0, 0] = 1.0
    cdf = torch.cumsum(pmf, dim=1).clamp_(max=1.0)
    cdf[:, -1] = 1.0
    levels_ = torch.arange(_POISSON_GUIDE, dtype=torch.float64) / _POISSON_GUIDE
    guide = torch.searchsorted(cdf, levels_.expand(g + 1, -1).contiguous(), right=True)
    return (cdf.to(device=device, dtype=dtype).reshape(-1),
            guide.to(device=device, dtype=torch.int32).reshape(-1))


def sample_poisson(mean: Tensor, generator: torch.Generator) -> Tensor:
    """Poisson counts for every element of ``mean`` (float tensor), fast and vectorised.

    Below ``POISSON_TABLE_MAX`` the mean is rounded stochastically to the grid of step ``h =
    POISSON_GRID_STEP`` (so the mean stays exact) and the count drawn by inversion of the tabulated
    CDF with a guide table: the law is the mixture of the two neighbouring Poisson laws, mean
    ``mean`` and variance ``mean + h^2 f (1 - f)`` (``f`` the position between grid points, so at
    most ``mean + 1/1024``). From ``POISSON_TABLE_MAX`` up: ``floor(mean + sqrt(mean - 1/6) xi + U)``,
    the rounded normal approximation (mean exact, variance ``mean`` to within 1e-9; the skewness
    ``mean^-1/2`` is dropped). Two uniforms per element (plus a normal above the table).
    """
    shape, dt, dev = mean.shape, mean.dtype, mean.device
    mean = mean.reshape(-1)
    cdf, guide = _poisson_tables(dev, dt)
    round(POISSON_TABLE_MAX / POISSON_GRID_STEP)
    width = _POISSON_KMAX + 1
    u = torch.rand(mean.shape, generator=generator, device=dev, dtype=dt)
    t = mean.clamp(0.0, POISSON_TABLE_MAX).mul_(1.0 / POISSON_GRID_STEP)
    row = torch.floor(t)
    f = t.sub_(row)
    # stochastic rounding to the grid keeps the mean exact
    ri = row.int().add_(torch.rand(mean.shape, generator=generator, device=dev, dtype=dt) < f)
    base = ri * width
    cell = (u * _POISSON_GUIDE).int().add_(ri, alpha=_POISSON_GUIDE)
    idx = guide.index_select(0, cell).add_(base)  # flat index into the CDF table
    for _ in range(2):
        idx.add_(cdf.index_select(0, idx) <= u)
    todo = (cdf.index_select(0, idx) <= u).nonzero().squeeze(1)
    while todo.numel():  # the few draws deep in a tail
        it = idx[todo] + 1
        idx[todo] = it
        todo = todo[cdf.index_select(0, it) <= u[todo]]
    k = idx.sub_(base)
    out = k.to(dt)
    big = mean >= POISSON_TABLE_MAX
    if bool(big.any()):
        mb = mean[big]
        xi = torch.randn(mb.shape, generator=generator, device=dev, dtype=dt)
        ub = torch.rand(mb.shape, generator=generator, device=dev, dtype=dt)
        out[big] = torch.floor(mb + torch.sqrt(mb - 1.0 / 6.0) * xi + ub).clamp_min_(0.0)
    return out.view(shape)


def sample_coincidences(ps: Tensor, qs: Tensor, bl: int, generator: torch.Generator,
                        mode: str = "counts") -> tuple[Tensor, Tensor]:
    """Coincidence counts ``(n_up, n_down)``, each ``(M, K)``, of one batch of pulse trains.

    ``mode="trains"``: the exact process -- row and column bit trains ``(B * bl, K)`` and
    ``(B * bl, M)`` drawn as tensors, counts from two matmuls (``C^T R`` and its signed twin); it
    keeps the correlation of devices sharing a row or a column. Cost ``~ bl`` times a weight
    gradient. ``mode="counts"``: each device's count drawn from the Poisson law of its mean
    (``sample_poisson``), the means from two matmuls -- the law of rare events for a sum of ``B * bl``
    Bernoulli trials (Le Cam 1960: total-variation distance at most ``bl sum_b (p q)^2``): exact
    mean, variance ``mean`` instead of ``mean - bl sum_b (p q)^2``, devices independent. Cost ~ two
    weight gradients plus elementwise work.
    """
    if mode == "counts":
        pa, qa = ps.abs(), qs.abs()
        h = 0.5 * bl
        tot, diff = (qa * h).t() @ pa, (qs * h).t() @ ps
        means = torch.empty((2, *tot.shape), dtype=tot.dtype, device=tot.device)
        torch.add(tot, diff, out=means[0])
        torch.sub(tot, diff, out=means[1])
        both = sample_poisson(means.clamp_min_(0.0), generator)
        return both[0], both[1]
    if mode == "trains":
        b, k = ps.shape
        m = qs.shape[1]
        dt = ps.dtype
        u = torch.rand((b, bl, k), generator=generator, device=ps.device, dtype=dt)
        r = (u < ps.abs().unsqueeze(1)).to(dt)
        u = torch.rand((b, bl, m), generator=generator, device=ps.device, dtype=dt)
        c = (u < qs.abs().unsqueeze(1)).to(dt)
        tot = c.reshape(b * bl, m).t() @ r.reshape(b * bl, k)
        diff = (c * torch.sign(qs).unsqueeze(1)).reshape(b * bl, m).t() @ (
            r * torch.sign(ps).unsqueeze(1)).reshape(b * bl, k)
        return (0.5 * (tot + diff)).round_(), (0.5 * (tot - diff)).round_()
    raise ValueError(f"sample_coincidences: mode must be one of {SAMPLING_MODES}, got {mode!r}")


# -- device responses ------------------------------------------------------------------------------
def _standard_normal(like: Tensor, source: torch.Generator | GaussianSource | None, who: str) -> Tensor:
    if isinstance(source, GaussianSource):
        return source.sample(tuple(like.shape)).to(like.dtype)
    if isinstance(source, torch.Generator):
        return torch.randn(like.shape, generator=source, device=like.device, dtype=like.dtype)
    raise ValueError(f"{who}: cycle-to-cycle noise needs a torch.Generator or GaussianSource")


def _c2c(out: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor, step_down: Tensor, c2c_std_rel: float,
         source: torch.Generator | GaussianSource | None, who: str) -> Tensor:
    """``out + c2c * sqrt(n_up s_up^2 + n_down s_down^2) * N(0, 1)``: one independent
    ``N(0, (c2c s)^2)`` per pulse, summed."""
    if c2c_std_rel <= 0.0:
        return out
    var = (n_up * step_up.square()).addcmul_(n_down, step_down.square())
    return out.addcmul_(var.sqrt_(), _standard_normal(out, source, who), value=c2c_std_rel)


def constant_step_response(w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor, step_down: Tensor,
                           w_min: Tensor, w_max: Tensor, c2c_std_rel: float = 0.0,
                           source: torch.Generator | GaussianSource | None = None) -> Tensor:
    """Device states after ``n_up``/``n_down`` pulses of a constant-step device (clipped to bounds).

    ``w + n_up s_up - n_down s_down`` plus cycle-to-cycle noise of variance ``c2c_std_rel^2 (n_up
    s_up^2 + n_down s_down^2)`` (``source`` needed when ``c2c_std_rel > 0``). Steps and bounds are
    per device (broadcast against ``w``), in device units.
    """
    out = (w + n_up * step_up).sub_(n_down * step_down)
    out = _c2c(out, n_up, n_down, step_up, step_down, c2c_std_rel, source, "constant_step_response")
    return torch.clamp(out, min=w_min, max=w_max)


def soft_bounds_rates(step_up: Tensor, step_down: Tensor, w_min: Tensor,
                      w_max: Tensor) -> tuple[Tensor, Tensor]:
    """Contraction rates ``k_up = -ln(1 - s_up/w_max)``, ``k_down = -ln(1 - s_down/|w_min|)``."""
    a_up = step_up / w_max
    a_down = step_down / (-w_min)
    if bool((a_up >= 1).any()) or bool((a_down >= 1).any()):
        raise ValueError("soft_bounds_rates: a step must be smaller than the bound it approaches; "
                         "raise n_states")
    return -torch.log1p(-a_up), -torch.log1p(-a_down)


def soft_bounds_response(w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor, step_down: Tensor,
                         w_min: Tensor, w_max: Tensor, c2c_std_rel: float = 0.0,
                         source: torch.Generator | GaussianSource | None = None,
                         rates: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Device states after ``n_up``/``n_down`` pulses of a soft-bounds device (module docstring).

    ``step_up``/``step_down``: the step at ``w = 0`` (device units); ``w_min < 0 < w_max``;
    ``rates``: precomputed ``soft_bounds_rates`` (they depend only on the device parameters).
    Cycle-to-cycle noise as for ``constant_step_response``; the result is clipped to the bounds.
    """
    k_up, k_down = soft_bounds_rates(step_up, step_down, w_min, w_max) if rates is None else rates
    ku, kd = n_up * k_up, n_down * k_down
    big_k = ku + kd
    # w' = w_inf + (w - w_inf) e^-K = w - (w K - w_inf K) (1 - e^-K) / K; K = 0 only without pulses
    shrink = torch.expm1(-big_k).div_(big_k.clamp_min(torch.finfo(w.dtype).tiny)).neg_()
    pull = (w * big_k).sub_(ku.mul_(w_max)).sub_(kd.mul_(w_min))
    out = w - pull.mul_(shrink)
    out = _c2c(out, n_up, n_down, step_up, step_down, c2c_std_rel, source, "soft_bounds_response")
    return torch.clamp(out, min=w_min, max=w_max)


def soft_bounds_symmetry_point(step_up: Tensor, step_down: Tensor, w_min: Tensor, w_max: Tensor) -> Tensor:
    """The state where one up and one down pulse cancel (to first order in the step)."""
    return (step_up - step_down) / (step_up / w_max + step_down / (-w_min))


def pcm_set_response(g_plus: Tensor, g_minus: Tensor, n_up: Tensor, n_down: Tensor, step: Tensor,
                     g_max: Tensor, c2c_std_rel: float = 0.0,
                     source: torch.Generator | GaussianSource | None = None,
                     rate: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """SET-only differential pair: ``n_up`` pulses on ``g_plus``, ``n_down`` on ``g_minus``.

    Each device follows the saturating response ``g_n = g_max - (g_max - g_0) (1 - step/g_max)^n``
    (the soft-bounds response with up pulses only) with the step ``step`` at ``g = 0`` (device
    units) and cycle-to-cycle noise as for ``constant_step_response``; states clipped to
    ``[0, g_max]``. ``rate``: precomputed ``-ln(1 - step/g_max)``. Resets: ``pcm_refresh``.
    """
    zero = torch.zeros_like(n_up)
    lo = -g_max
    if rate is None:
        rate = soft_bounds_rates(step, step, lo, g_max)[0]
    rates = (rate, rate)
    gp = soft_bounds_response(g_plus, n_up, zero, step, step, lo, g_max, c2c_std_rel, source, rates)
    gm = soft_bounds_response(g_minus, n_down, zero, step, step, lo, g_max, c2c_std_rel, source, rates)
    return gp.clamp_min_(0.0), gm.clamp_min_(0.0)


def pcm_refresh(g_plus: Tensor, g_minus: Tensor, g_max: Tensor, threshold_rel: float, reset_std: float,
                source: torch.Generator | GaussianSource | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Refresh the pairs where either device passed ``threshold_rel * g_max``.

    Both devices are RESET (to 0) and ``w = g_plus - g_minus`` is re-programmed onto ``g_plus``
    (``w > 0``) or ``g_minus`` with an additive programming error ``N(0, reset_std^2)`` (device
    units), clipped to ``[0, g_max]``. Returns ``(g_plus, g_minus, refreshed mask)``.
    """
    mask = (g_plus > threshold_rel * g_max) | (g_minus > threshold_rel * g_max)
    w = g_plus - g_minus
    if reset_std > 0.0:
        w = w + reset_std * _standard_normal(w, source, "pcm_refresh")
    zero = torch.zeros_like(g_max)
    new_p = torch.minimum(torch.maximum(w, zero), g_max)
    new_m = torch.minimum(torch.maximum(-w, zero), g_max)
    return torch.where(mask, new_p, g_plus), torch.where(mask, new_m, g_minus), mask


# -- the transposed read (analog backward pass) ------------------------------------------------------
def transposed_mvm(g: Tensor, w_eff: Tensor, *, rows: int, cols: int, scale_policy: str,
                   dac_bits: int | None, adc_bits: int | None, out_bound: float, noise_std: float,
                   source: GaussianSource | None) -> Tensor:
    """``g @ w_eff^T`` computed by reading the array transposed: ``(G, N, M)`` -> ``(G, N, K)``.

    The errors ``g`` drive the array's columns (one DAC per column, per-vector abs-max scaling --
    "noise management"), currents are summed along each row (``cols`` columns per tile, so the
    tiles' column blocks are the row blocks of this read), output noise ``noise_std`` (normalised
    units, like ``out_bound``) and an ADC per row digitise each column block's partial sums, which
    are scaled and added digitally. ``w_eff``: the held weights ``(G, K, M)`` in weight units,
    normalised per (column block, row) by ``scale_policy`` like the forward read.
    """
    groups, _n, _m = g.shape
    wt = w_eff.transpose(1, 2)  # (G, M, K): the transposed read's "rows" are the array's columns
    blocks = to_blocks(wt, cols)
    scales = weight_scales(blocks, rows, scale_policy)
    w_n = blocks / scales
    g_scale = dynamic_input_scale(g)
    g_n = dac(g, g_scale, dac_bits)
    g_blocks = inputs_to_blocks(g_n, cols)

    def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
        return w_n[b0:b1], scales[b0:b1]

    y = tiled_mvm(g_blocks, read, groups=groups, source=source,
                  readout=Readout(adc_bits=adc_bits, out_bound=out_bound, clip=True, noise_std=noise_std))
    return y.mul_(g_scale)


def expected_soft_bounds_up(w0: Tensor, p: float, bl: int, step: Tensor, w_max: Tensor) -> Tensor:
    """``E[w]`` after a train of ``bl`` slots firing an up pulse with probability ``p`` each.

    ``n ~ Binomial(bl, p)`` and ``E[(1 - a)^n] = (1 - p a)^bl`` with ``a = step / w_max``.
    """
    a = step / w_max
    return w_max - (w_max - w0) * (1 - p * a) ** bl

