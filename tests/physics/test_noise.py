"""The fast Gaussian source: distribution, independence and determinism, with bounds from n."""

import math

import pytest
import torch
from scipy import stats

from analogue.physics.noise import GaussianSource

N = 1 << 20


def _source(seed=0, pool=1 << 20):
    return GaussianSource(torch.Generator().manual_seed(seed), pool_size=pool)


def test_moments_within_sampling_error():
    x = _source().sample((N,)).double()
    # 6-sigma bounds from the sampling distributions of mean, variance and kurtosis
    assert abs(x.mean()) < 6 / math.sqrt(N)
    assert abs(x.var() - 1) < 6 * math.sqrt(2 / N)
    kurt = ((x - x.mean()) ** 4).mean() / x.var() ** 2
    assert abs(kurt - 3) < 6 * math.sqrt(24 / N)
    assert abs(((x - x.mean()) ** 3).mean()) < 6 * math.sqrt(6 / N)


def test_kolmogorov_smirnov_against_normal():
    x = _source(1).sample((200_000,)).numpy()
    assert stats.kstest(x, "norm").pvalue > 1e-3


def test_successive_calls_and_neighbours_uncorrelated():
    src = _source(2)
    a = src.sample((N,)).double()
    b = src.sample((N,)).double()
    bound = 6 / math.sqrt(N)
    assert abs(torch.corrcoef(torch.stack([a, b]))[0, 1]) < bound
    assert abs(torch.corrcoef(torch.stack([a[:-1], a[1:]]))[0, 1]) < bound
    # the same pool entries reappear in later calls only with fresh independent signs
    assert not torch.equal(a, b)


def test_within_a_call_no_value_repeats():
    x = _source(3, pool=1 << 16).sample((1 << 16,))
    assert torch.unique(x.abs()).numel() > 0.999 * x.numel()


def test_deterministic_for_a_seed():
    assert torch.equal(_source(5).sample((1000,)), _source(5).sample((1000,)))
    assert not torch.equal(_source(5).sample((1000,)), _source(6).sample((1000,)))


def test_add_scales_and_needs_contiguous():
    src = _source(7)
    t = torch.full((1 << 18,), 3.0)
    src.add_(t, 0.5)
    assert abs(t.mean().item() - 3.0) < 6 * 0.5 / math.sqrt(t.numel())
    assert abs(t.std().item() - 0.5) < 0.01
    with pytest.raises(ValueError, match="contiguous"):
        src.add_(torch.zeros(4, 4).t(), 1.0)


def test_bad_arguments():
    g = torch.Generator()
    with pytest.raises(ValueError, match="pool_size"):
        GaussianSource(g, pool_size=10)
    with pytest.raises(ValueError, match="refresh_fraction"):
        GaussianSource(g, refresh_fraction=0.0)


@pytest.mark.parametrize("size", [1 << 12, 3 << 16, 5 << 17])  # one stretch, wrapped, half-pool pieces
def test_targets_smaller_and_larger_than_the_pool(size):
    src = _source(11, pool=1 << 17)
    x = src.sample((size,)).double()
    n = x.numel()
    assert abs(x.mean()) < 6 / math.sqrt(n)
    assert abs(x.var() - 1) < 6 * math.sqrt(2 / n)
    assert abs(torch.corrcoef(torch.stack([x[:-1], x[1:]]))[0, 1]) < 6 / math.sqrt(n)
    if size <= 1 << 17:  # within one pool's worth the samples are distinct entries
        assert torch.unique(x.abs()).numel() > 0.999 * n


def test_rows_of_a_large_target_never_repeat_a_sample():
    # 40 rows of half the pool: row i reads the pools at steps da != db, so no lag between rows
    # pairs two samples that share both their magnitude and their sign entry (that would show as a
    # correlation near 1). Rows reuse the pool, so for one pool the realised correlation at a lag
    # is of order 1 / sqrt(pool / 2), not 1 / sqrt(n): the bound is 6 of those.
    pool = 1 << 14
    src = _source(12, pool=pool)
    for _ in range(3):
        x = src.sample((40 * pool // 2,)).double()
        for lag in range(pool // 2 - 300, pool // 2 + 2):
            c = torch.corrcoef(torch.stack([x[:-lag], x[lag:]]))[0, 1]
            assert abs(c) < 6 / math.sqrt(pool // 2), lag
    small = _source(13, pool=1024)
    big = small.sample((300_000,)).double()  # more rows than one layout holds: done in parts
    assert abs(big.var() - 1) < 6 * math.sqrt(2 / 1024)
    assert abs(torch.corrcoef(torch.stack([big[:-1], big[1:]]))[0, 1]) < 6 / math.sqrt(512)


@pytest.mark.parametrize("size", [1 << 10, 5 << 17])
def test_addmul_adds_zero_mean_noise_with_the_given_std_to_a_base(size):
    src = _source(15, pool=1 << 17)
    base = torch.linspace(-3.0, 3.0, size)
    std = torch.linspace(0.5, 2.0, size)
    out = src.addmul_(std.clone(), base)
    z = ((out - base) / std).double()
    n = z.numel()
    assert abs(z.mean()) < 6 / math.sqrt(n)
    assert abs(z.var() - 1) < 6 * math.sqrt(2 / min(n, 1 << 16))
    with pytest.raises(ValueError, match="base"):
        src.addmul_(std.clone(), base[:-1])
