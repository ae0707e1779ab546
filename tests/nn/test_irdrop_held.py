"""Held IR-drop factors (``nn.readers.HeldDrop``, ``CircuitConfig.fast_refresh_reads``): eval reads
of an unchanged weight reuse the fast model's drop factors; training reads hold them for a number
of reads.

Oracles: plain-torch matmuls with effective weights built here from
``physics.irdrop.fast_conductance`` (independently of ``nn.readers``), autograd through them,
and the layer with ideal wires for the perturbed weights.
"""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import analogue as an
from analogue.config import AnalogConfig
from analogue.nn import readers
from analogue.nn.linear import AnalogLinear
from analogue.physics.irdrop import fast_conductance
from analogue.train import HWAOptions, hwa_

R_ROW, R_COL = 1.5, 5.0
ROWS, COLS = 64, 32  # 100 inputs -> 2 row blocks of 50; 64 outputs -> 2 whole arrays
IN, OUT = 100, 64


def _cfg(**extra) -> AnalogConfig:
    ideal = {"adc.bits": None, "adc.clip": False, "dac.bits": None, "noise.out_std_rel_fs": 0.0,
             "tile.rows": ROWS, "tile.cols": COLS, "circuit.r_row_ohm": R_ROW, "circuit.r_col_ohm": R_COL}
    return an.presets.standard().replace(**{**ideal, **extra})


def _oracle_w_eff(W: torch.Tensor, g_max_uS: float = 25.0, g_min_uS: float = 0.0) -> torch.Tensor:
    """``(K, M)`` weights as read through the wires (the fast model, one step): per row block (an
    even split of K) and per array of COLS columns, G+/G- from the column-normalised weights."""
    K, M = W.shape
    nb = -(-K // ROWS)
    r = -(-K // nb)
    span = g_max_uS - g_min_uS
    blocks = []
    for k0 in range(0, K, r):
        wb = W[k0: k0 + r]
        s = wb.detach().abs().amax(0, keepdim=True)
        wn = wb / s
        gp = (g_min_uS + span * wn.clamp(min=0)) * 1e-6
        gn = (g_min_uS + span * (-wn).clamp(min=0)) * 1e-6
        cols = [fast_conductance(gp[:, c0: c0 + COLS], R_ROW, R_COL)
                - fast_conductance(gn[:, c0: c0 + COLS], R_ROW, R_COL) for c0 in range(0, M, COLS)]
        blocks.append(torch.cat(cols, dim=1) / (span * 1e-6) * s)
    return torch.cat(blocks)


def _layer(cfg: AnalogConfig) -> AnalogLinear:
    torch.manual_seed(0)
    return AnalogLinear(IN, OUT, cfg=cfg).double()


def _x(seed: int, n: int = 5) -> torch.Tensor:
    return torch.randn(n, IN, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_eval_reads_reuse_the_factors_and_equal_the_fast_model():
    lay = _layer(_cfg(**{"mapping.g_min_uS": 2.0, "mapping.g_max_uS": 20.0})).eval()
    assert readers.choose_read(lay, lambda n: None).kind is readers.ReadKind.WIRED_HELD
    x = _x(1)
    with torch.no_grad():
        y0 = lay(x)
        held = lay.__dict__["_held_drop"]
        y1 = lay(x)
    assert lay.__dict__["_held_drop"] is held and held.gain_param is None  # reused; no training factor
    ref = x @ _oracle_w_eff(lay.weight.detach().t(), 20.0, 2.0) + lay.bias.detach()
    torch.testing.assert_close(y0, ref, rtol=0, atol=1e-12)
    assert torch.equal(y0, y1)
    assert (ref - (x @ lay.weight.detach().t() + lay.bias.detach())).abs().max() > 1e-3  # wires matter
    with torch.no_grad():  # an in-place change of the weight: recomputed
        lay.weight.mul_(-0.5)
        y2 = lay(x)
    assert lay.__dict__["_held_drop"] is not held
    torch.testing.assert_close(y2, x @ _oracle_w_eff(lay.weight.detach().t(), 20.0, 2.0) + lay.bias.detach(),
                               rtol=0, atol=1e-12)
    lay.cfg = _cfg(**{"circuit.r_col_ohm": 2.0})  # another config: recomputed
    with torch.no_grad():
        lay(x)
    assert lay.__dict__["_held_drop"].key[0].r_col_ohm == 2.0


def test_eval_weight_gradient_is_the_fast_models():
    lay = _layer(_cfg()).eval()
    x = _x(2)
    lay(x).square().sum().backward()
    W = lay.weight.detach().clone().requires_grad_(True)
    (x @ _oracle_w_eff(W.t()) + lay.bias.detach()).square().sum().backward()
    torch.testing.assert_close(lay.weight.grad, W.grad, rtol=1e-10, atol=1e-10)


def test_training_holds_the_factors_for_the_refresh_count():
    lay = _layer(_cfg(**{"circuit.fast_refresh_reads": 3})).train()
    x = _x(3)

    def oracle(W_now: torch.Tensor, W_refresh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Output and weight gradient of ``x @ (W gain)^T`` at the gain of ``W_refresh``."""
        gain = (_oracle_w_eff(W_refresh.t()) / W_refresh.t()).detach()
        W = W_now.clone().requires_grad_(True)
        y = x @ (W.t() * gain) + lay.bias.detach()
        y.square().sum().backward()
        return y.detach(), W.grad

    refreshes = [lay.weight.detach().clone()]  # the weights at each refresh (reads 0 and 3)
    for read in range(5):
        lay.weight.grad = None
        y = lay(x)
        y.square().sum().backward()
        if read == 3:
            refreshes.append(lay.weight.detach().clone())
        W_refresh = refreshes[-1]
        y_ref, g_ref = oracle(lay.weight.detach(), W_refresh)
        torch.testing.assert_close(y.detach(), y_ref, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(lay.weight.grad, g_ref, rtol=1e-10, atol=1e-12)
        if read == 0:  # the first read is the fast model itself
            torch.testing.assert_close(y.detach(), x @ _oracle_w_eff(refreshes[0].t()) + lay.bias.detach(),
                                       rtol=0, atol=1e-12)
        with torch.no_grad():  # an optimiser-sized change of every weight
            lay.weight.mul_(1.0 + 0.01 * (read + 1))
    # held reads differ from the fast model at the current weights, by a little
    y_fast = x @ _oracle_w_eff(lay.weight.detach().t()) + lay.bias.detach()
    with torch.no_grad():
        y_held = lay(x)
    assert 0 < (y_held - y_fast).abs().max() < 1e-2 * y_fast.abs().max()


def test_training_with_a_weight_perturbation_reads_the_perturbed_weights_through_the_gain():
    wired = _layer(_cfg(**{"circuit.fast_refresh_reads": 4}))
    plain = _layer(_cfg(**{"circuit.r_row_ohm": 0.0, "circuit.r_col_ohm": 0.0}))
    for lay in (wired, plain):
        hwa_(lay, HWAOptions(weight_noise_rel=0.05), seed=7)
        lay.train()
    rw = readers.choose_read(wired, lambda n: None)
    rp = readers.choose_read(plain, lambda n: None)
    assert rw.kind is readers.ReadKind.WIRED_HELD and rp.kind is readers.ReadKind.PERTURBED
    nb = 2
    (ww, sw), (wp, sp) = rw.read(0, nb), rp.read(0, nb)
    assert torch.equal(sw, sp)
    gain = rw.wired.gain
    torch.testing.assert_close(ww, wp * gain, rtol=1e-12, atol=0)
    assert not torch.equal(wp, readers.choose_read(plain.eval(), lambda n: None).read(0, nb)[0])  # perturbed


def test_every_read_model_is_the_default_in_training():
    lay = _layer(_cfg()).train()
    assert lay.cfg.circuit.fast_refresh_reads == 1
    assert readers.choose_read(lay, lambda n: None).kind is readers.ReadKind.WIRED
    assert readers.choose_read(lay.eval(), lambda n: None).kind is readers.ReadKind.WIRED_HELD


def test_held_factors_are_not_state():
    lay = _layer(_cfg()).eval()
    with torch.no_grad():
        lay(_x(4))
    assert "_held_drop" in lay.__dict__
    assert "_held_drop" not in copy.deepcopy(lay).__dict__
    assert "_held_drop" not in pickle.loads(pickle.dumps(lay)).__dict__
    assert not any("held" in k for k in lay.state_dict())
    lay.release_buffers()
    assert "_held_drop" not in lay.__dict__


def test_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="fast_refresh_reads"):
        _cfg(**{"circuit.fast_refresh_reads": 0})
    with pytest.raises(ValueError, match="fast_refresh_reads"):
        _cfg(**{"circuit.fast_refresh_reads": True})
    with pytest.raises(ValueError, match="fast_iterations"):
        _cfg(**{"circuit.fast_refresh_reads": 8, "circuit.fast_iterations": 2})
    cfg = _cfg(**{"circuit.fast_refresh_reads": 16})
    assert AnalogConfig.from_dict(cfg.to_dict()) == cfg
