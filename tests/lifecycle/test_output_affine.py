"""calibrate_outputs_: the per-output affine correction of programmed layers (digital periphery)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import analogue as an
from analogue.config import presets
from analogue.lifecycle.calibrate import AffineFit

YEAR = 31_536_000.0


def _deterministic_pcm() -> an.AnalogConfig:
    """PCM with programming noise and drift, 8-bit converters, no random term at read time (no
    output noise, no read noise): every forward of a programmed layer gives the same outputs."""
    return presets.pcm(read_noise=False).replace(**{"noise.out_std_rel_fs": 0.0})


def _programmed(cfg: an.AnalogConfig, x: torch.Tensor, t_s: float = YEAR, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[-1], 6))
    an.convert_(model, cfg, seed=seed)
    model.eval()
    an.calibrate_(model, x)
    an.program_(model, seed=seed)
    an.drift_(model, t_s, compensation="global")
    return model


def _lstsq(y: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column j, numpy's least-squares ``r[:, j] = a_j y[:, j] + b_j``."""
    a, b = [], []
    for j in range(y.shape[1]):
        design = np.stack([y[:, j], np.ones(len(y))], 1)
        (aj, bj), *_ = np.linalg.lstsq(design, r[:, j], rcond=None)
        a.append(aj)
        b.append(bj)
    return np.array(a), np.array(b)


def test_affine_fit_equals_numpy_lstsq_streamed() -> None:
    g = torch.Generator().manual_seed(1)
    y = torch.randn(2, 300, 5, generator=g, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.2, 1.0, 7.0])
    r = 0.7 * y + 0.3 + 0.1 * torch.randn(2, 300, 5, generator=g, dtype=torch.float64)
    fit = AffineFit()
    for lo, hi in ((0, 17), (17, 200), (200, 300)):  # streamed in uneven chunks
        fit.add(y[:, lo:hi], r[:, lo:hi])
    a, b = fit.solve()
    assert a.shape == b.shape == (2, 1, 5)
    for grp in range(2):
        a_np, b_np = _lstsq(y[grp].numpy(), r[grp].numpy())
        np.testing.assert_allclose(a[grp, 0].numpy(), a_np, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b[grp, 0].numpy(), b_np, rtol=1e-10, atol=1e-12)


def test_constant_column_keeps_unit_gain() -> None:
    fit = AffineFit()
    y = torch.ones(1, 10, 2, dtype=torch.float64)
    fit.add(y, 2.0 * y + 1.0)
    a, b = fit.solve()
    assert torch.equal(a, torch.ones(1, 1, 2, dtype=torch.float64))
    assert torch.allclose(b, torch.full((1, 1, 2), 2.0, dtype=torch.float64))


def test_layer_fit_equals_numpy_lstsq_on_the_layer_outputs() -> None:
    x = torch.randn(200, 12, generator=torch.Generator().manual_seed(2))
    model = _programmed(_deterministic_pcm(), x)
    layer = model[0]
    with torch.no_grad():
        y = (model(x) - layer.bias).double().numpy()  # the MVM outputs before the digital bias
    r = (x @ layer.weight.detach().t()).double().numpy()
    an.calibrate_outputs_(model, x)
    a_np, b_np = _lstsq(y, r)
    np.testing.assert_allclose(layer.prog_out_gain.flatten().double().numpy(), a_np, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.prog_out_offset.flatten().double().numpy(), b_np, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # the forward applies a y + b, then the bias
        corrected = model(x)
    expect = torch.from_numpy(a_np * y + b_np).float() + layer.bias.detach()
    torch.testing.assert_close(corrected, expect, rtol=1e-4, atol=1e-4)
    err_before = np.mean((y - r) ** 2)
    err_after = float(((corrected - layer.bias.detach()).double().numpy() - r).__pow__(2).mean())
    assert err_after < err_before


def test_known_column_gain_and_offset_are_removed_exactly() -> None:
    """Ideal arrays: a per-column gain error (the digital compensation factors off by ``g_j``) and
    a per-column offset (the last row, driven by a constant input, programmed off by ``d_j``):
    the outputs are exactly affine in the ideal ones, and the correction gives back ``x W^T``."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(64, 10, generator=gen)
    x[:, -1] = 1.0
    model = _programmed(presets.ideal(), x, t_s=0.0)
    layer = model[0]
    gain = torch.tensor([0.5, 0.8, 1.0, 1.3, 2.0, 0.9])
    layer.prog_comp.mul_(gain.view(1, 1, -1))
    layer.prog_w[0, -1, :] += torch.linspace(-0.2, 0.2, 6)
    ref = x @ layer.weight.detach().t() + layer.bias.detach()
    with torch.no_grad():
        assert (model(x) - ref).abs().max() > 0.05  # the error is there
        an.calibrate_outputs_(model, x)
        torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.prog_out_gain.flatten(), 1.0 / gain, rtol=1e-5, atol=1e-6)


def test_grouped_convolution_gain_per_group_and_channel() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2))
    x = torch.randn(8, 4, 7, 7)
    an.convert_(model, presets.ideal(), seed=0)
    model.eval()
    an.program_(model, seed=0)
    layer = model[0]
    ref = nn.functional.conv2d(x, layer.weight.detach(), layer.bias.detach(), groups=2)
    gain = torch.tensor([0.5, 0.8, 1.0, 1.3, 2.0, 0.9])  # (G=2) x (M=3) outputs, group-major
    b = layer.prog_comp.shape[0] // 2
    layer.prog_comp.mul_(gain.view(2, 1, 3).repeat_interleave(b, 0))
    with torch.no_grad():
        an.calibrate_outputs_(model, x)
        torch.testing.assert_close(model(x), ref, rtol=1e-4, atol=1e-4)
    assert layer.prog_out_gain.shape == (2, 1, 3)
    torch.testing.assert_close(layer.prog_out_gain.flatten(), 1.0 / gain, rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_and_program_clears() -> None:
    x = torch.randn(100, 12, generator=torch.Generator().manual_seed(5))
    cfg = _deterministic_pcm()
    model = _programmed(cfg, x)
    an.calibrate_outputs_(model, x)
    with torch.no_grad():
        y = model(x)
    state = model.state_dict()
    fresh = nn.Sequential(nn.Linear(12, 6))
    an.convert_(fresh, cfg, seed=0)
    fresh.load_state_dict(state)
    fresh.eval()
    for name in ("prog_out_gain", "prog_out_offset"):
        assert torch.equal(getattr(fresh[0], name), getattr(model[0], name))
    with torch.no_grad():
        assert torch.equal(fresh(x), y)
    an.program_(fresh, seed=1)
    assert fresh[0].prog_out_gain is None and fresh[0].prog_out_offset is None


def test_default_off_and_none_mode_are_bit_identical() -> None:
    x = torch.randn(100, 12, generator=torch.Generator().manual_seed(6))
    model = _programmed(_deterministic_pcm(), x)
    assert model[0].prog_out_gain is None and model[0].prog_out_offset is None  # off unless asked
    with torch.no_grad():
        before = model(x)
        an.calibrate_outputs_(model, x)
        assert not torch.equal(model(x), before)
        an.calibrate_outputs_(model, x, "none")
        assert model[0].prog_out_gain is None
        assert torch.equal(model(x), before)


def test_gradient_path_applies_the_same_correction() -> None:
    x = torch.randn(50, 12, generator=torch.Generator().manual_seed(7))
    model = _programmed(_deterministic_pcm(), x)
    an.calibrate_outputs_(model, x)
    with torch.no_grad():
        y = model(x)
    xr = x.clone().requires_grad_(True)
    y_grad = model(xr)
    torch.testing.assert_close(y_grad.detach(), y)
    y_grad.sum().backward()
    assert xr.grad is not None and torch.isfinite(xr.grad).all()


def test_bad_use_fails_early() -> None:
    x = torch.randn(20, 12)
    model = nn.Sequential(nn.Linear(12, 6))
    an.convert_(model, presets.pcm())
    with pytest.raises(ValueError, match="mode must be one of"):
        an.calibrate_outputs_(model, x, "gain")
    with pytest.raises(RuntimeError, match="not programmed"):
        an.calibrate_outputs_(model, x)
    an.program_(model, seed=0, instances=2)
    with pytest.raises(ValueError, match="instances=1"):
        an.calibrate_outputs_(model, x)
    with pytest.raises(ValueError, match="no analog layers"):
        an.calibrate_outputs_(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2))


def test_save_and_load_carry_the_correction(tmp_path) -> None:
    x = torch.randn(50, 12, generator=torch.Generator().manual_seed(8))
    model = _programmed(_deterministic_pcm(), x)
    an.calibrate_outputs_(model, x)
    with torch.no_grad():
        y = model(x)
    an.save(model, tmp_path / "m")
    loaded = an.load(tmp_path / "m", nn.Sequential(nn.Linear(12, 6))).eval()
    assert torch.equal(loaded[0].prog_out_offset, model[0].prog_out_offset)
    with torch.no_grad():
        assert torch.equal(loaded(x), y)
