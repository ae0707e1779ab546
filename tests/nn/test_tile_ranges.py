"""``DACConfig(range_policy="dynamic_tile")``: one dynamic input range per vector and row tile.

Oracles (the torch twin with ideal converters is in test_layers.py): the per-tile DAC written
out by hand in plain PyTorch: a row block's inputs are scaled by that block's own absolute maximum, quantised, multiplied
with the block's weights, and the block's sum is scaled back before the digital accumulation.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import analogue as an
from analogue.physics.mapping import block_rows


def _cfg(bits=8, rows=16, adc_bits=None, noise=0.0):
    return an.presets.standard().replace(
        tile=an.TileConfig(rows=rows, cols=8),
        dac=an.DACConfig(bits=bits, range_policy="dynamic_tile"),
        adc=an.ADCConfig(bits=adc_bits, out_bound=10.0, clip=adc_bits is not None),
        noise=an.NoiseConfig(out_std_rel_fs=noise),
    )


def _per_tile_dac(x, r, bits=8):
    """``(N, K)`` -> the DAC's outputs in input units with one range per block of ``r`` inputs
    (the blocks as ``mapping.block_rows`` splits them)."""
    n, k = x.shape
    nb = -(-k // r)
    r = -(-k // nb)  # even split
    out = torch.empty_like(x)
    lv = 2 ** (bits - 1) - 1
    for b in range(nb):
        xb = x[:, b * r:(b + 1) * r]
        s = xb.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
        out[:, b * r:(b + 1) * r] = torch.round(xb / s * lv) * s / lv  # an all-zero slice stays 0
    return out


@pytest.mark.parametrize("k", [48, 45, 17])  # even blocks, a padded last block, 2 blocks of 9/8
def test_linear_quantises_each_tile_with_its_own_range(k):
    torch.manual_seed(1)
    ref = nn.Linear(k, 5).double()
    ana = an.AnalogLinear.from_float(ref, _cfg(rows=16))
    x = torch.randn(9, k, dtype=torch.float64)
    x[:, :3] *= 50.0  # one tile's inputs far larger: a shared range would crush the others
    expect = F.linear(_per_tile_dac(x, 16), ref.weight, ref.bias)
    ana.train()
    xg = x.clone().requires_grad_()
    y = ana(xg)
    assert torch.allclose(y, expect, rtol=1e-10, atol=1e-10)
    # the straight-through weight gradient is x_eff^T g with the per-tile x_eff
    g = torch.randn_like(y)
    (y * g).sum().backward()
    assert torch.allclose(ana.weight.grad, g.t() @ _per_tile_dac(x, 16), rtol=1e-10, atol=1e-10)
    # the per-vector DAC quantises the other tiles' small inputs with the large tile's range:
    # with the first tile's weights at zero, its error is many times the per-tile error
    with torch.no_grad():
        ref.weight[:, :block_rows(k, 16)] = 0.0
        exact = F.linear(x, ref.weight, ref.bias)
        err_tile = (an.AnalogLinear.from_float(ref, _cfg(rows=16))(x) - exact).abs().mean()
        shared = an.AnalogLinear.from_float(ref, _cfg(rows=16).replace(dac=an.DACConfig(bits=8)))
        assert (shared(x) - exact).abs().mean() > 10 * err_tile


def test_conv_quantises_each_tile_of_a_patch_with_its_own_range():
    torch.manual_seed(2)
    ref = nn.Conv2d(5, 4, 3, padding=1).double()
    ana = an.AnalogConv2d.from_float(ref, _cfg(rows=16))  # K = 45: blocks of 15 rows
    x = torch.randn(2, 5, 6, 6, dtype=torch.float64)
    # patches in the layer's row order (kernel row, kernel column, channel)
    cols = F.unfold(x, 3, padding=1).view(2, 5, 3, 3, 36).permute(0, 4, 2, 3, 1).reshape(72, 45)
    wmat = ref.weight.permute(0, 2, 3, 1).reshape(4, 45)
    expect = (_per_tile_dac(cols, 16) @ wmat.t() + ref.bias).view(2, 6, 6, 4).permute(0, 3, 1, 2)
    for train in (False, True):
        ana.train(train)
        with torch.set_grad_enabled(train):
            assert torch.allclose(ana(x), expect, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("make, shape", [
    (lambda cfg: an.AnalogLinear(200, 30, cfg=cfg), (16, 200)),
    (lambda cfg: an.AnalogConv2d(3, 6, 3, padding=1, cfg=cfg), (2, 3, 8, 8)),
])
def test_within_one_tile_it_is_the_per_vector_range(make, shape):
    x = torch.randn(shape)
    tile = make(an.presets.standard().replace(dac=an.DACConfig(range_policy="dynamic_tile"))).eval()
    vec = make(an.presets.standard()).eval()
    vec.load_state_dict(tile.state_dict())
    with torch.no_grad():
        assert torch.equal(tile(x), vec(x))  # same noise seed, same ranges


def test_chunked_and_training_paths_equal_the_one_shot_inference():
    torch.manual_seed(3)
    x = torch.randn(64, 300)
    quiet = an.AnalogLinear(300, 40, cfg=_cfg(rows=64, adc_bits=8)).eval()
    with torch.no_grad():
        one_shot = quiet(x)
        quiet.max_chunk_elems = 700  # chunks of blocks and of vectors (the noise is drawn per chunk)
        assert torch.allclose(quiet(x), one_shot, rtol=1e-6, atol=1e-6)
    noisy = an.AnalogLinear(300, 40, cfg=_cfg(rows=64, adc_bits=8, noise=0.004)).eval()
    with torch.no_grad():
        noisy.reseed(5)
        inference = noisy(x)
    noisy.train()
    noisy.reseed(5)
    assert torch.equal(noisy(x.requires_grad_()).detach(), inference)
    assert not torch.allclose(inference, one_shot, atol=1e-3)  # the noise is on


def test_config_round_trip_and_bad_value():
    cfg = _cfg()
    assert an.AnalogConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="DACConfig.range_policy"):
        an.DACConfig(range_policy="dynamic_tiles")
