import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analogue.physics import crossbar, mapping, periphery


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), g_max=st.floats(1.0, 100.0), frac=st.floats(0.0, 0.9))
def test_conductance_round_trip(seed, g_max, frac):
    g_min = g_max * frac
    w = torch.rand(64, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    gp, gn = mapping.weight_to_conductance(w, g_max, g_min)
    assert torch.all(gp >= g_min - 1e-9) and torch.all(gp <= g_max + 1e-6)
    assert torch.all(gn >= g_min - 1e-9) and torch.all(gn <= g_max + 1e-6)
    assert torch.all((gp - g_min) * (gn - g_min) <= 1e-9)  # one side of the pair at g_min
    assert torch.allclose(mapping.conductance_to_weight(gp, gn, g_max, g_min), w, atol=1e-5)


def test_blocks_reproduce_the_matmul():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 300, 7, generator=g, dtype=torch.float64)
    x = torch.randn(2, 5, 300, generator=g, dtype=torch.float64)
    wb, xb = mapping.to_blocks(w, 128), mapping.inputs_to_blocks(x, 128)
    assert wb.shape == (2 * 3, 100, 7) and xb.shape == (6, 5, 100)  # 300 rows split evenly
    y = torch.bmm(xb, wb).view(2, 3, 5, 7).sum(1)
    assert torch.allclose(y, x @ w, atol=1e-12)


def test_tile_scale_is_the_max_of_column_scales_per_tile():
    w = torch.randn(3, 16, 10)
    col = mapping.weight_scales(w, 4, "column")
    tile = mapping.weight_scales(w, 4, "tile")
    assert col.shape == tile.shape == (3, 1, 10)
    for t0 in range(0, 10, 4):
        expect = col[..., t0 : t0 + 4].amax(-1, keepdim=True)
        assert torch.equal(tile[..., t0 : t0 + 4], expect.expand_as(tile[..., t0 : t0 + 4]))


def test_dac_error_bounded_by_half_step_and_on_grid():
    x = torch.linspace(-3, 3, 10_001)
    for bits in (2, 4, 8):
        lv = periphery.levels(bits)
        q = periphery.dac(x, 2.0, bits)
        assert torch.all(q.abs() <= 1)
        inside = x.abs() <= 2.0
        assert (q[inside] * 2.0 - x[inside]).abs().max() <= 2.0 / lv / 2 + 1e-6
        assert torch.allclose(q * lv, torch.round(q * lv), atol=1e-5)


def test_quantiser_sqnr_floor():
    # uniform full-range signal, step 1/L with L = 2**(b-1) - 1 levels per side:
    # SQNR = (1/3) / (step^2 / 12) = (2 L)^2, i.e. 20 log10(2 L) dB (~6.02 b dB)
    x = torch.rand(400_000, generator=torch.Generator().manual_seed(1)).double() * 2 - 1
    for bits in (4, 6, 8, 10):
        err = periphery.dac(x, 1.0, bits) - x
        sqnr_db = 10 * math.log10(x.pow(2).mean() / err.pow(2).mean())
        assert abs(sqnr_db - 20 * math.log10(2 * periphery.levels(bits))) < 0.1, (bits, sqnr_db)


def test_adc_clips_and_quantises():
    y = torch.tensor([-20.0, -10.0, -0.01, 0.0, 3.3, 25.0])
    q = periphery.adc(y, 10.0, 8)
    assert q[0] == -10 and q[-1] == 10
    assert (q - y.clamp(-10, 10)).abs().max() <= 10 / periphery.levels(8) / 2 + 1e-6
    assert torch.equal(periphery.adc(y, 10.0, None, clip=False), y)


def test_chunked_crossbar_equals_one_shot():
    g = torch.Generator().manual_seed(3)
    xb = torch.randn(8, 33, 16, generator=g, dtype=torch.float64)
    w = torch.randn(8, 16, 9, generator=g, dtype=torch.float64)
    s = torch.rand(8, 1, 9, generator=g, dtype=torch.float64) + 0.5
    read = lambda b0, b1: (w[b0:b1], s[b0:b1])  # noqa: E731
    kw = dict(readout=crossbar.Readout(adc_bits=6, out_bound=8.0, clip=True, noise_std=0.0), source=None)
    for groups in (1, 2, 4):
        full = crossbar.tiled_mvm(xb, read, groups=groups, **kw)
        for budget in (9, 33 * 9, 2 * 33 * 9 + 1):
            chunked = crossbar.tiled_mvm(xb, read, groups=groups, max_partial_elems=budget, **kw)
            assert torch.allclose(full, chunked, atol=1e-12), (groups, budget)
        oracle = periphery.digital_accumulate(periphery.adc(torch.bmm(xb, w), 8.0, 6), s, groups)
        assert torch.allclose(full, oracle, atol=1e-12)


def test_output_noise_from_a_generator_or_the_fast_source():
    from analogue.physics.noise import GaussianSource

    y = torch.zeros(400_000)
    for src in (torch.Generator().manual_seed(0), GaussianSource(torch.Generator().manual_seed(0))):
        z = periphery.output_noise(y, 0.3, src)
        assert torch.equal(y, torch.zeros_like(y))  # pure: the input is not modified
        assert abs(z.mean()) < 6 * 0.3 / math.sqrt(z.numel())
        assert abs(z.std() - 0.3) < 6 * 0.3 * math.sqrt(0.5 / z.numel())
    assert periphery.output_noise(y, 0.0, torch.Generator()) is y
