"""Pulse statistics and device responses against their documented expectations.

Statistical tests use fixed seeds and bounds derived from the number of samples: a sample mean
within ``Z`` standard errors of its expectation, a sample variance within ``Z`` standard errors
estimated from the sample's fourth moment.
"""

import math

import pytest
import torch
from scipy import stats

from analogue.physics import pulsed
from analogue.physics.noise import GaussianSource

Z = 5.0  # standard errors allowed (two-sided p ~ 6e-7 per check)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _mean_ok(samples, expected, dim=0):
    """|mean - expected| within Z standard errors (elementwise, float64)."""
    s = samples.double()
    n = s.shape[dim]
    se = s.std(dim=dim) / math.sqrt(n)
    return ((s.mean(dim=dim) - expected.double()).abs() <= Z * se + 1e-9).all()


def _var_ok(samples, expected, dim=0):
    """|sample variance - expected| within Z standard errors of the sample variance."""
    s = samples.double()
    n = s.shape[dim]
    c = s - s.mean(dim=dim, keepdim=True)
    m2, m4 = (c**2).mean(dim=dim), (c**4).mean(dim=dim)
    se = torch.sqrt((m4 - m2**2).clamp_min(0) / n)
    return ((s.var(dim=dim) - expected.double()).abs() <= Z * se + 1e-9).all()


# -- pulse probabilities and moments -------------------------------------------------------------
def test_probabilities_encode_the_outer_product_with_update_management():
    g = _gen()
    x, d = torch.randn(6, 5, generator=g), 0.01 * torch.randn(6, 3, generator=g)
    bl, ppu = 31, 40.0
    ps, qs = pulsed.pulse_probabilities(x, d, ppu, bl)
    assert torch.equal(torch.sign(ps), torch.sign(x)) and torch.equal(torch.sign(qs), torch.sign(d))
    # per sample: p_max == q_max, and p_i q_j = ppu / bl * |x_i d_j| (no clipping at these values)
    assert torch.allclose(ps.abs().amax(1), qs.abs().amax(1))
    prod = qs.abs().unsqueeze(2) * ps.abs().unsqueeze(1)
    assert torch.allclose(prod, ppu / bl * d.abs().unsqueeze(2) * x.abs().unsqueeze(1), rtol=1e-5)
    # expected net count is ppu * d^T x exactly
    mu_up, _, mu_down, _ = pulsed.coincidence_moments(ps, qs, bl)
    assert torch.allclose(mu_up - mu_down, ppu * d.t() @ x, rtol=1e-4, atol=1e-5)


def test_probabilities_clip_at_one_and_reject_bad_input():
    ps, qs = pulsed.pulse_probabilities(torch.ones(2, 3), torch.ones(2, 4), 1e6, 10)
    assert ps.abs().max() == 1.0 and qs.abs().max() == 1.0
    ps, qs = pulsed.pulse_probabilities(torch.zeros(2, 3), torch.ones(2, 4), 5.0, 10)
    assert ps.abs().max() == 0 and torch.isfinite(qs).all()
    with pytest.raises(ValueError, match="bl"):
        pulsed.pulse_probabilities(torch.ones(2, 3), torch.ones(2, 4), 1.0, 0)
    with pytest.raises(ValueError, match="one B"):
        pulsed.pulse_probabilities(torch.ones(2, 3), torch.ones(3, 4), 1.0, 10)


def test_moments_match_brute_force_binomial_sums():
    g = _gen(1)
    x, d = torch.randn(4, 3, generator=g), torch.randn(4, 2, generator=g)
    bl = 7
    ps, qs = pulsed.pulse_probabilities(x, d, 20.0, bl)
    mu_up, var_up, mu_down, var_down = pulsed.coincidence_moments(ps, qs, bl)
    for j in range(2):
        for i in range(3):
            pi = (ps[:, i] * qs[:, j]).abs()
            up = (ps[:, i] * qs[:, j]) > 0
            assert math.isclose(mu_up[j, i], float(bl * pi[up].sum()), rel_tol=1e-5, abs_tol=1e-6)
            assert math.isclose(var_up[j, i], float(bl * (pi * (1 - pi))[up].sum()), rel_tol=1e-4, abs_tol=1e-6)
            assert math.isclose(mu_down[j, i], float(bl * pi[~up].sum()), rel_tol=1e-5, abs_tol=1e-6)
            assert math.isclose(var_down[j, i], float(bl * (pi * (1 - pi))[~up].sum()), rel_tol=1e-4,
                                abs_tol=1e-6)


# -- sampling coincidences -------------------------------------------------------------------------
def _repeat(fn, n):
    return torch.stack([torch.stack(fn()) for _ in range(n)])  # (n, 2, M, K)


def _sampled(seed, n, m, k, ppu, bl, mode):
    """4000 draws of ``mode`` coincidences for random ``(n, m)`` / ``(n, k)`` inputs, their exact
    moments ``(mu_up, var_up, mu_down, var_down)``, after checking they are counts."""
    g = _gen(seed)
    x, d = torch.randn(n, m, generator=g), torch.randn(n, k, generator=g)
    ps, qs = pulsed.pulse_probabilities(x, d, ppu, bl)
    s = _repeat(lambda: pulsed.sample_coincidences(ps, qs, bl, g, mode), 4000)
    assert (s == s.round()).all() and (s >= 0).all()
    return s, pulsed.coincidence_moments(ps, qs, bl)


def test_pulse_trains_have_the_exact_binomial_mean_and_variance():
    s, (mu_up, var_up, mu_down, var_down) = _sampled(2, 8, 4, 3, 12.0, 15, "trains")
    assert _mean_ok(s[:, 0], mu_up) and _mean_ok(s[:, 1], mu_down)
    assert _var_ok(s[:, 0], var_up) and _var_ok(s[:, 1], var_down)


def test_pulse_trains_correlate_devices_that_share_a_row():
    # one sample, row pulses shared by both columns: Cov(n_0i, n_1i) = bl p^2 q0 q1 (1 - ...) > 0
    ps, qs = torch.tensor([[0.6]]), torch.tensor([[0.7, 0.7]])
    bl, n = 10, 6000
    s = _repeat(lambda: pulsed.sample_coincidences(ps, qs, bl, _gen_shared, "trains"), n)[:, 0, :, 0]
    cov = float(torch.cov(s.t().double())[0, 1])
    # per slot: E[r c0 r c1] - E[r c0]E[r c1] = p q^2 - p^2 q^2
    expected = bl * (0.6 * 0.49 - 0.36 * 0.49)
    assert abs(cov - expected) < Z * math.sqrt(2.0 / n) * float(s.var(0).mean())
    # the fast mode draws devices independently
    c = _repeat(lambda: pulsed.sample_coincidences(ps, qs, bl, _gen_shared, "counts"), n)[:, 0, :, 0]
    assert abs(float(torch.corrcoef(c.t().double())[0, 1])) < Z / math.sqrt(n)


_gen_shared = _gen(3)


def test_counts_mode_has_the_exact_mean_and_the_poisson_variance():
    s, (mu_up, _, mu_down, _) = _sampled(4, 16, 5, 4, 30.0, 31, "counts")
    h = pulsed.POISSON_GRID_STEP
    for k, mu in ((0, mu_up), (1, mu_down)):
        f = (mu / h) - torch.floor(mu / h)
        assert _mean_ok(s[:, k], mu)
        assert _var_ok(s[:, k], mu + h * h * f * (1 - f))


def test_sample_coincidences_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        pulsed.sample_coincidences(torch.ones(1, 2), torch.ones(1, 2), 3, _gen(), "exact")


@pytest.mark.parametrize("mu", [0.0, 0.04, 0.7, 3.3, 12.0, 31.99, 32.0, 250.0])
def test_sample_poisson_matches_the_law(mu):
    n = 100_000
    s = pulsed.sample_poisson(torch.full((n,), mu), _gen(5))
    assert (s >= 0).all() and (s == s.round()).all()
    if mu == 0.0:
        assert s.max() == 0
        return
    h = pulsed.POISSON_GRID_STEP
    f = mu / h - math.floor(mu / h) if mu < pulsed.POISSON_TABLE_MAX else 0.0
    var = mu + (h * h * f * (1 - f) if mu < pulsed.POISSON_TABLE_MAX else 0.0)
    assert abs(float(s.double().mean()) - mu) < Z * math.sqrt(var / n)
    assert abs(float(s.double().var()) - var) < Z * math.sqrt((2 * var * var + var) / n)
    if mu < pulsed.POISSON_TABLE_MAX:  # chi-square goodness of fit against the two-point mixture
        lo = math.floor(mu / h) * h
        ks = torch.arange(0, int(mu + 12 * math.sqrt(mu) + 10))
        pmf = (1 - f) * stats.poisson.pmf(ks.numpy(), lo) + f * stats.poisson.pmf(ks.numpy(), lo + h)
        counts = torch.bincount(s.long(), minlength=len(ks))[: len(ks)].numpy()
        keep = pmf * n >= 5
        obs = list(counts[keep]) + [n - counts[keep].sum()]
        exp = list(pmf[keep] * n) + [n - (pmf[keep] * n).sum()]
        assert stats.chisquare(obs, exp).pvalue > 1e-4


def test_sample_poisson_is_deterministic_per_seed_and_keeps_shape():
    m = torch.rand(3, 4, 5) * 10
    a, b = pulsed.sample_poisson(m, _gen(9)), pulsed.sample_poisson(m, _gen(9))
    assert a.shape == m.shape and torch.equal(a, b)


# -- device responses --------------------------------------------------------------------------------
def _dev(shape=(2000,), w_max=1.0, w_min=-1.0, s_up=0.01, s_down=0.01):
    def full(v):
        return torch.full(shape, float(v))

    return full(s_up), full(s_down), full(w_min), full(w_max)


def test_constant_step_mean_variance_and_clipping():
    s_up, s_down, lo, hi = _dev(s_up=0.012, s_down=0.008)
    n_up, n_down = torch.full((2000,), 7.0), torch.full((2000,), 3.0)
    w0 = torch.zeros(2000)
    det = pulsed.constant_step_response(w0, n_up, n_down, s_up, s_down, lo, hi)
    assert torch.allclose(det, torch.full((2000,), 7 * 0.012 - 3 * 0.008))
    # noise: one N(0, (c2c s)^2) per pulse -> variance c2c^2 (n_up s_up^2 + n_down s_down^2)
    c2c = 0.3
    out = torch.stack([pulsed.constant_step_response(w0, n_up, n_down, s_up, s_down, lo, hi, c2c, _gen(i))
                       for i in range(3)]).reshape(-1)
    var = c2c**2 * (7 * 0.012**2 + 3 * 0.008**2)
    assert _mean_ok(out, torch.tensor(7 * 0.012 - 3 * 0.008))
    assert _var_ok(out, torch.tensor(var))
    # hard bounds
    big = pulsed.constant_step_response(w0, torch.full((2000,), 1e4), torch.zeros(2000), s_up, s_down, lo, hi)
    assert torch.equal(big, hi)
    with pytest.raises(ValueError, match="Generator"):
        pulsed.constant_step_response(w0, n_up, n_down, s_up, s_down, lo, hi, 0.1, None)


def _sequential_soft_bounds(w, n_up, n_down, s_up, s_down, w_min, w_max):
    """Reference: apply pulses one at a time, up and down evenly interleaved."""
    w = float(w)
    total = n_up + n_down
    ups_done = 0
    for k in range(total):
        # interleave so that after k pulses about k * n_up / total were up pulses
        if ups_done < round((k + 1) * n_up / total):
            w += s_up * (1 - w / w_max)
            ups_done += 1
        else:
            w -= s_down * (1 - w / w_min)
    return w


@pytest.mark.parametrize("n_up,n_down", [(0, 0), (25, 0), (0, 40), (300, 0), (30, 30), (80, 20)])
def test_soft_bounds_closed_form_against_pulse_by_pulse(n_up, n_down):
    s_up, s_down, w_min, w_max = 0.02, 0.015, -0.8, 1.2
    w0 = 0.3
    got = pulsed.soft_bounds_response(
        torch.tensor([w0]), torch.tensor([float(n_up)]), torch.tensor([float(n_down)]),
        torch.tensor([s_up]), torch.tensor([s_down]), torch.tensor([w_min]), torch.tensor([w_max]))
    ref = _sequential_soft_bounds(w0, n_up, n_down, s_up, s_down, w_min, w_max)
    if n_up == 0 or n_down == 0:  # one direction: the closed form is exact
        assert math.isclose(float(got), ref, rel_tol=1e-5, abs_tol=1e-6)
    else:  # evenly interleaved: exact up to the order of pulses, O(step) per pulse
        assert abs(float(got) - ref) < 2 * max(s_up, s_down)


def test_soft_bounds_saturate_at_each_device_bound_and_balance_at_the_symmetry_point():
    g = _gen(6)
    shape = (500,)
    w_max = 0.6 + torch.rand(shape, generator=g)
    w_min = -(0.6 + torch.rand(shape, generator=g))
    s_up = 0.005 * (0.5 + torch.rand(shape, generator=g))
    s_down = 0.005 * (0.5 + torch.rand(shape, generator=g))
    w0 = torch.zeros(shape)
    many, none = torch.full(shape, 20000.0), torch.zeros(shape)
    up = pulsed.soft_bounds_response(w0, many, none, s_up, s_down, w_min, w_max)
    down = pulsed.soft_bounds_response(w0, none, many, s_up, s_down, w_min, w_max)
    assert torch.allclose(up, w_max, atol=1e-4) and torch.allclose(down, w_min, atol=1e-4)
    both = pulsed.soft_bounds_response(w0 + 0.3, many, many, s_up, s_down, w_min, w_max)
    sp = pulsed.soft_bounds_symmetry_point(s_up, s_down, w_min, w_max)
    assert torch.allclose(both, sp, atol=0.01)  # the fixed point, to first order in the step
    # the step shrinks towards the bound it approaches (saturating) and grows away from it
    near = pulsed.soft_bounds_response(0.9 * w_max, torch.ones(shape), none, s_up, s_down, w_min, w_max)
    assert torch.allclose(near - 0.9 * w_max, s_up * 0.1, rtol=1e-3)


def test_soft_bounds_pulsed_update_matches_expectation_over_pulse_trains():
    """The whole chain for a rank-1 update: bl slots, coincidence probability p per slot, and the
    device response. E[w] = w_max - (w_max - w0) (1 - p a)^bl, E[(w_max - w)^2] uses
    E[(1 - a)^(2n)] = (1 - p (1 - (1 - a)^2))^bl (n ~ Binomial(bl, p))."""
    reps, bl = 3000, 31
    s, w_max, w0 = 0.05, 1.0, -0.2
    ps, qs = pulsed.pulse_probabilities(torch.full((1, 1), 0.8), torch.full((1, 1), 0.5), 9.0, bl)
    p = float(ps[0, 0] * qs[0, 0])
    g = _gen(7)
    counts = _repeat(lambda: pulsed.sample_coincidences(ps, qs, bl, g, "trains"), reps).reshape(reps, 2)
    sv, lo, hi = torch.full((reps,), s), torch.full((reps,), -w_max), torch.full((reps,), w_max)
    w = pulsed.soft_bounds_response(torch.full((reps,), w0), counts[:, 0], counts[:, 1], sv, sv, lo, hi)
    a = s / w_max
    mean = pulsed.expected_soft_bounds_up(torch.tensor(w0), p, bl, torch.tensor(s), torch.tensor(w_max))
    second = (w_max - w0) ** 2 * (1 - p * (1 - (1 - a) ** 2)) ** bl
    var = second - (w_max - float(mean)) ** 2
    assert _mean_ok(w.reshape(-1), mean)
    assert _var_ok(w.reshape(-1), torch.tensor(var))


def test_pcm_set_only_pair_and_refresh():
    shape = (1000,)
    g_max = torch.full(shape, 1.0)
    step = torch.full(shape, 0.05)
    gp, gm = torch.zeros(shape), torch.full(shape, 0.2)
    n = torch.full(shape, 10.0)
    gp2, gm2 = pulsed.pcm_set_response(gp, gm, n, torch.zeros(shape), step, g_max)
    assert torch.allclose(gp2, 1 - (1 - 0.05) ** 10 * torch.ones(shape), rtol=1e-5)
    assert torch.equal(gm2, gm)  # down pulses only ever SET the other device
    gp3, gm3 = pulsed.pcm_set_response(gp2, gm2, torch.zeros(shape), n, step, g_max)
    assert torch.equal(gp3, gp2) and (gm3 > gm2).all()  # no gradual decrease: the weight falls by a SET
    # refresh: pairs past the threshold are reset and re-programmed to the same weight
    hi_p, hi_m = torch.full(shape, 0.95), torch.full(shape, 0.6)
    rp, rm, mask = pulsed.pcm_refresh(hi_p, hi_m, g_max, 0.9, 0.0)
    assert mask.all() and torch.allclose(rp - rm, hi_p - hi_m) and torch.allclose(rm, torch.zeros(shape))
    rp, rm, mask = pulsed.pcm_refresh(torch.full(shape, 0.5), hi_m, g_max, 0.9, 0.0)
    assert not mask.any() and torch.equal(rp, torch.full(shape, 0.5))
    # programming error of the refresh
    rp, rm, _ = pulsed.pcm_refresh(hi_p, hi_m, g_max, 0.9, 0.02, _gen(8))
    assert _var_ok(rp - rm, torch.tensor(0.02**2)) and _mean_ok(rp - rm, torch.tensor(0.35))


def test_noise_from_a_gaussian_source_has_the_same_law():
    src = GaussianSource(_gen(10), pool_size=1 << 16)
    s_up, s_down, lo, hi = _dev(shape=(20000,))
    n_up = torch.full((20000,), 9.0)
    out = pulsed.constant_step_response(torch.zeros(20000), n_up, torch.zeros(20000), s_up, s_down, lo, hi,
                                        0.5, src)
    assert _var_ok(out, torch.tensor(0.25 * 9 * 1e-4)) and _mean_ok(out, torch.tensor(0.09))


# -- transposed read -------------------------------------------------------------------------------
@pytest.mark.parametrize("k,m,rows,cols", [(10, 7, 256, 256), (300, 70, 128, 32), (64, 600, 64, 256)])
def test_transposed_read_is_exact_with_ideal_converters(k, m, rows, cols):
    g = _gen(11)
    w = torch.randn(2, k, m, generator=g)
    err = torch.randn(2, 5, m, generator=g)
    out = pulsed.transposed_mvm(err, w, rows=rows, cols=cols, scale_policy="column", dac_bits=None,
                                adc_bits=None, out_bound=1e9, noise_std=0.0, source=None)
    assert torch.allclose(out, err @ w.transpose(1, 2), rtol=1e-4, atol=1e-4)


def test_transposed_read_error_follows_the_converters_and_noise():
    g = _gen(12)
    w = torch.randn(1, 256, 256, generator=g) / 16
    err = torch.randn(1, 512, 256, generator=g)
    exact = err @ w.transpose(1, 2)
    kw = {"rows": 256, "cols": 256, "scale_policy": "column", "out_bound": 10.0}
    q8 = pulsed.transposed_mvm(err, w, dac_bits=8, adc_bits=8, noise_std=0.0, source=None, **kw)
    q4 = pulsed.transposed_mvm(err, w, dac_bits=4, adc_bits=4, noise_std=0.0, source=None, **kw)
    e8, e4 = (q8 - exact).pow(2).mean().sqrt(), (q4 - exact).pow(2).mean().sqrt()
    assert e8 < e4 < exact.pow(2).mean().sqrt()
    noisy = pulsed.transposed_mvm(err, w, dac_bits=None, adc_bits=None, noise_std=0.5,
                                  source=GaussianSource(_gen(13), pool_size=1 << 18), **kw)
    # normalised noise 0.5 scaled back by the error's full scale and each row's weight scale
    scale = err.abs().amax(-1, keepdim=True) * w.abs().amax(-1).unsqueeze(1)
    z = ((noisy - exact) / (0.5 * scale)).reshape(-1)
    assert abs(float(z.mean())) < Z / math.sqrt(z.numel()) and abs(float(z.var()) - 1) < 0.03
