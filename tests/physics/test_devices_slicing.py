"""Bit slicing: shift-and-add of the slices is the weight rounded to ``weight_bits``."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import analogue as an
from analogue.config import BitSlicing, ConfigError
from analogue.physics.mapping import block_rows
from analogue.physics.periphery import levels
from analogue.physics.slicing import bit_slice, slice_significance, unslice


def _quantised(w_n: torch.Tensor, bits: int) -> torch.Tensor:
    lv = levels(bits)
    return torch.round(w_n * lv) / lv


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(2, 12), per_slice=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_shift_and_add_recovers_the_quantised_weight(bits, per_slice, seed):
    cfg = BitSlicing(weight_bits=bits, bits_per_slice=per_slice)
    g = torch.Generator().manual_seed(seed)
    w_n = torch.rand(3, 7, 5, generator=g, dtype=torch.float64) * 2 - 1
    scales = torch.rand(3, 1, 5, generator=g, dtype=torch.float64) + 0.5
    sliced, s = bit_slice(w_n, scales, cfg)
    assert sliced.shape == (3, 7, 5 * cfg.n_slices) and s.shape == (3, 1, 5 * cfg.n_slices)
    assert float(sliced.abs().max()) <= 1.0
    base = (1 << per_slice) - 1
    torch.testing.assert_close(sliced * base, torch.round(sliced * base), rtol=0, atol=1e-9)
    torch.testing.assert_close(unslice(sliced, s, cfg.n_slices), _quantised(w_n, bits) * scales)


def test_slices_and_significance():
    cfg = BitSlicing(weight_bits=4, bits_per_slice=1)
    assert cfg.n_slices == 3
    torch.testing.assert_close(slice_significance(cfg), torch.tensor([1 / 7, 2 / 7, 4 / 7]))
    w = torch.tensor([[[5 / 7, -3 / 7]]])
    sliced, _ = bit_slice(w, torch.ones(1, 1, 2), cfg)
    torch.testing.assert_close(sliced, torch.tensor([[[1.0, 0.0, 1.0, -1.0, -1.0, 0.0]]]))
    with pytest.raises(ConfigError, match="weight_bits"):
        BitSlicing(weight_bits=1)


def test_sram_layer_equals_torch_with_quantised_weights():
    """Oracle: converters and noise off, a bit-sliced layer is x @ round(W / s * L) * s / L."""
    cfg = an.presets.sram(weight_bits=6).replace(
        **{"adc.bits": None, "adc.clip": False, "dac.bits": None, "noise.out_std_rel_fs": 0.0}
    )
    torch.manual_seed(0)
    lin = an.AnalogLinear(300, 20, bias=True, cfg=cfg)
    x = torch.randn(16, 300)
    w = lin.weight.detach()
    out = torch.zeros(16, 20)
    r = block_rows(300, 256)
    for b0 in range(0, 300, r):  # per row block, column abs-max scale
        wb = w[:, b0 : b0 + r]
        s = wb.abs().amax(dim=1, keepdim=True)
        out += x[:, b0 : b0 + r] @ (_quantised(wb / s, 6) * s).t()
    expect = out + lin.bias.detach()
    for mode in ("train", "eval", "programmed"):
        if mode == "programmed":
            an.program_(lin, seed=0)
        lin.train(mode == "train")
        with torch.no_grad():
            torch.testing.assert_close(lin(x), expect, rtol=1e-5, atol=1e-5)
    assert lin.prog_w.shape[-1] == 20 * 5  # 5 magnitude bits, one column each


def test_sram_slices_see_their_own_adc():
    """With a coarse ADC each slice column is digitised on its own: the result differs from
    digitising the summed column, and stays within one LSB per slice of the exact product."""
    cfg = an.presets.sram(weight_bits=4).replace(
        **{"noise.out_std_rel_fs": 0.0, "dac.bits": None, "adc.bits": 4, "adc.out_bound": 8.0}
    )
    torch.manual_seed(1)
    lin = an.AnalogLinear(64, 8, bias=False, cfg=cfg).eval()
    x = torch.rand(32, 64)
    with torch.no_grad():
        y = lin(x)
        w = lin.weight
        s = w.abs().amax(dim=1, keepdim=True)
        exact = x @ (_quantised(w / s, 4) * s).t()
    lsb = 8.0 / levels(4)
    xs = x.abs().amax(dim=1, keepdim=True)
    bound = xs * s.t() * lsb / 2 * (1 / 7 + 2 / 7 + 4 / 7)
    assert bool(((y - exact).abs() <= bound + 1e-5).all())
    assert float((y - exact).abs().max()) > 0
