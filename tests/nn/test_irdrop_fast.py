"""IR drop in unprogrammed layers and in training: the fast model (``nn.readers`` ``WIRED`` reads),
and its drop factors held between reads (``WIRED_HELD`` reads, ``CircuitConfig.fast_refresh_reads``).

Oracles: plain-torch matmuls with the effective weights computed here from
``physics.irdrop.fast_conductance`` (independently of ``nn.readers``), autograd through that
oracle for the gradients, the layer with ideal wires for the default, and the exact solve for
programmed Monte Carlo instances.
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
from analogue.physics.irdrop import effective_conductance, fast_conductance
from analogue.train import HWAOptions, hwa_

R_ROW, R_COL = 1.5, 5.0
ROWS, COLS = 64, 32  # tiles: 100 inputs -> 2 row blocks of 50; 70 outputs -> 3 column arrays


def _cfg(**extra) -> AnalogConfig:
    ideal = {"adc.bits": None, "adc.clip": False, "dac.bits": None, "noise.out_std_rel_fs": 0.0,
             "tile.rows": ROWS, "tile.cols": COLS}
    return an.presets.standard().replace(**{**ideal, **extra})


def _oracle_w_eff(W: torch.Tensor, g_max_uS: float = 25.0, g_min_uS: float = 0.0,
                  iterations: int = 1) -> torch.Tensor:
    """``(K, M)`` weights as read through the wires: per row block (an even split of K) and per
    physical array of COLS columns, G+/G- from the column-normalised weights (scales constant)."""
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
        cols = [fast_conductance(gp[:, c0: c0 + COLS], R_ROW, R_COL, iterations)
                - fast_conductance(gn[:, c0: c0 + COLS], R_ROW, R_COL, iterations)
                for c0 in range(0, M, COLS)]
        blocks.append(torch.cat(cols, dim=1) / (span * 1e-6) * s)
    return torch.cat(blocks)


def _layer(cfg: AnalogConfig) -> AnalogLinear:
    torch.manual_seed(0)
    return AnalogLinear(100, 70, cfg=cfg).double()


def test_forward_equals_oracle_matmul():
    cfg = _cfg(**{"circuit.r_row_ohm": R_ROW, "circuit.r_col_ohm": R_COL})
    lay = _layer(cfg).eval()
    x = torch.randn(5, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = lay(x)
    W = lay.weight.detach().t()
    ref = x @ _oracle_w_eff(W) + lay.bias.detach()
    ideal = x @ W + lay.bias.detach()
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-12)
    assert (y - ideal).abs().max() > 1e-3  # the wires matter here


def test_forward_oracle_conductance_range_and_iterations():
    cfg = _cfg(**{"circuit.r_row_ohm": R_ROW, "circuit.r_col_ohm": R_COL, "mapping.g_min_uS": 2.0,
                  "mapping.g_max_uS": 20.0, "circuit.fast_iterations": 3})
    lay = _layer(cfg).eval()
    x = torch.randn(4, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = lay(x)
    ref = x @ _oracle_w_eff(lay.weight.detach().t(), 20.0, 2.0, 3) + lay.bias.detach()
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-12)


def test_training_gradients_flow_through_the_model():
    cfg = _cfg(**{"circuit.r_row_ohm": R_ROW, "circuit.r_col_ohm": R_COL})
    lay = _layer(cfg).train()
    x = torch.randn(6, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    xa = x.clone().requires_grad_(True)
    lay(xa).square().sum().backward()
    W = lay.weight.detach().clone().requires_grad_(True)
    b = lay.bias.detach()
    xo = x.clone().requires_grad_(True)
    (xo @ _oracle_w_eff(W.t()) + b).square().sum().backward()
    torch.testing.assert_close(lay.weight.grad, W.grad, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(xa.grad, xo.grad, rtol=1e-10, atol=1e-10)
    # the Jacobian matters: a straight-through gradient would differ
    W2 = lay.weight.detach().clone().requires_grad_(True)
    w_eff = _oracle_w_eff(W2.t()).detach()
    g_y = 2 * (x @ w_eff + b)
    ste = (x.t() @ g_y).t()
    assert (ste - W.grad).abs().max() > 1e-3 * W.grad.abs().max()


def test_default_off_bit_identical_and_per_um_config():
    base = _cfg()
    lay = _layer(base)
    assert not base.circuit.ir_drop
    x = torch.randn(7, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        y0 = lay.eval()(x)
    W = lay.weight.detach().t()
    torch.testing.assert_close(y0, x @ W + lay.bias.detach(), rtol=0, atol=1e-12)
    assert readers.choose_read(lay, lambda n: None).kind is readers.ReadKind.EXACT
    lay.cfg = _cfg(**{"circuit.r_col_ohm": 1.0})
    assert readers.choose_read(lay, lambda n: None).kind is readers.ReadKind.WIRED
    # the same circuit per um with the cell pitch
    seg = _cfg(**{"circuit.r_row_ohm": 1.5, "circuit.r_col_ohm": 5.0})
    per_um = _cfg(**{"circuit.r_row_ohm_per_um": 15.0, "circuit.r_col_ohm_per_um": 50.0,
                     "circuit.cell_pitch_um": 0.1})
    assert per_um.circuit.row_segment_ohm == pytest.approx(1.5)
    assert per_um.circuit.col_segment_ohm == pytest.approx(5.0)
    a, b = _layer(seg).eval(), _layer(per_um).eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=1e-12, atol=1e-14)


def test_default_off_layer_matches_a_fresh_preset_layer():
    """Default-off forward and training step: the same as a layer whose config never had a
    circuit field set (bit for bit, with the preset's real converters)."""
    cfg = an.presets.standard()
    explicit = cfg.replace(**{"circuit.r_row_ohm": 0.0, "circuit.r_col_ohm_per_um": 0.0})
    torch.manual_seed(0)
    a = AnalogLinear(300, 40, cfg=cfg)
    b = copy.deepcopy(a)
    b.cfg = explicit
    x = torch.randn(8, 300, generator=torch.Generator().manual_seed(5))
    ya, yb = a(x), b(x)
    assert torch.equal(ya, yb)
    ya.sum().backward()
    yb.sum().backward()
    assert torch.equal(a.weight.grad, b.weight.grad)


def test_circuit_config_validation():
    with pytest.raises(ValueError, match="r_row_ohm_per_um"):
        _cfg(**{"circuit.r_row_ohm": 1.0, "circuit.r_row_ohm_per_um": 1.0, "circuit.cell_pitch_um": 0.1})
    with pytest.raises(ValueError, match="cell_pitch_um"):
        _cfg(**{"circuit.r_col_ohm_per_um": 10.0})
    with pytest.raises(ValueError, match="fast_iterations"):
        _cfg(**{"circuit.fast_iterations": 0})
    c = _cfg(**{"circuit.r_col_ohm_per_um": 10.0, "circuit.cell_pitch_um": 0.2}).circuit
    assert c.ir_drop and c.row_segment_ohm == 0.0 and c.col_segment_ohm == pytest.approx(2.0)
    assert AnalogConfig.from_dict(_cfg(**{"circuit.r_col_ohm_per_um": 10.0,
                                          "circuit.cell_pitch_um": 0.2}).to_dict()).circuit == c


def test_monte_carlo_instances_read_their_own_exact_weights():
    """Programmed with 3 instances and IR drop on: every instance's read weights are the exact
    effective weights of that instance's own G+/G- conductances."""
    cfg = an.presets.pcm(rows=16, cols=8, programming_noise=True, drift=False, read_noise=False,
                         relaxation=False, temperature=False).replace(
        **{"circuit.r_row_ohm": R_ROW, "circuit.r_col_ohm": R_COL, "adc.bits": None, "adc.clip": False,
           "dac.bits": None, "noise.out_std_rel_fs": 0.0})
    torch.manual_seed(0)
    lay = AnalogLinear(16, 8, cfg=cfg).double()
    an.program_(lay, seed=3, instances=3)
    span = (cfg.mapping.g_max_uS - cfg.mapping.g_min_uS) * 1e-6
    w = lay.prog_w
    assert w.shape[0] == 3
    for i in range(3):
        exact = (effective_conductance(lay.prog_g_pos[i] * 1e-6, R_ROW, R_COL)
                 - effective_conductance(lay.prog_g_neg[i] * 1e-6, R_ROW, R_COL)) / span
        torch.testing.assert_close(w[i], exact, rtol=0, atol=1e-12)
    assert not torch.allclose(w[0], w[1])  # distinct instances
    # the forward: instance i of the batch reads instance i's exact weights
    lay.eval()
    x = torch.randn(4, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        y = lay(x.repeat(3, 1)).view(3, 4, 8)
    for i in range(3):
        ref = x @ (w[i] * lay.prog_scales[0]) + lay.bias.detach()
        torch.testing.assert_close(y[i], ref, rtol=0, atol=1e-12)


# Held drop factors (``nn.readers.HeldDrop``, ``CircuitConfig.fast_refresh_reads``): eval reads of
# an unchanged weight reuse the fast model's drop factors; training reads hold them for a number of
# reads. Oracles: the same plain-torch effective weights, autograd through them, and the layer with
# ideal wires for the perturbed weights.

IN, OUT = 100, 64


def _wired(**extra) -> AnalogConfig:
    return _cfg(**{"circuit.r_row_ohm": R_ROW, "circuit.r_col_ohm": R_COL, **extra})


def _held_layer(cfg: AnalogConfig) -> AnalogLinear:
    """Whole arrays (64 outputs: two of COLS), where the held read applies."""
    torch.manual_seed(0)
    return AnalogLinear(IN, OUT, cfg=cfg).double()


def _xh(seed: int, n: int = 5) -> torch.Tensor:
    return torch.randn(n, IN, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_eval_reads_reuse_the_factors_and_equal_the_fast_model():
    lay = _held_layer(_wired(**{"mapping.g_min_uS": 2.0, "mapping.g_max_uS": 20.0})).eval()
    assert readers.choose_read(lay, lambda n: None).kind is readers.ReadKind.WIRED_HELD
    x = _xh(1)
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
    with torch.no_grad():  # a new tensor behind the parameter, its version count 0 again: recomputed
        lay.weight.data = lay.weight.data.clone().mul_(0.5)
        y3 = lay(x)
    torch.testing.assert_close(y3, x @ _oracle_w_eff(lay.weight.detach().t(), 20.0, 2.0) + lay.bias.detach(),
                               rtol=0, atol=1e-12)
    lay.cfg = _cfg(**{"circuit.r_col_ohm": 2.0})  # another config: recomputed
    with torch.no_grad():
        lay(x)
    assert lay.__dict__["_held_drop"].key[0].r_col_ohm == 2.0


def test_eval_weight_gradient_is_the_fast_models():
    lay = _held_layer(_wired()).eval()
    x = _xh(2)
    lay(x).square().sum().backward()
    W = lay.weight.detach().clone().requires_grad_(True)
    (x @ _oracle_w_eff(W.t()) + lay.bias.detach()).square().sum().backward()
    torch.testing.assert_close(lay.weight.grad, W.grad, rtol=1e-10, atol=1e-10)


def test_training_holds_the_factors_for_the_refresh_count():
    lay = _held_layer(_wired(**{"circuit.fast_refresh_reads": 3})).train()
    x = _xh(3)

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
    wired = _held_layer(_wired(**{"circuit.fast_refresh_reads": 4}))
    plain = _held_layer(_wired(**{"circuit.r_row_ohm": 0.0, "circuit.r_col_ohm": 0.0}))
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


def test_eval_factors_are_not_reused_by_training_nor_the_reverse():
    lay = _held_layer(_wired(**{"circuit.fast_refresh_reads": 4})).eval()
    with torch.no_grad():
        lay(_xh(6))
    eval_held = lay.__dict__["_held_drop"]
    lay.train()(_xh(6)).sum().backward()  # a training read: its own factors, with the gradient's
    train_held = lay.__dict__["_held_drop"]
    assert train_held is not eval_held and train_held.gain_param is not None and train_held.version is None
    with torch.no_grad():
        lay.eval()(_xh(6))
    assert lay.__dict__["_held_drop"] is not train_held


def test_every_read_model_is_the_default_in_training():
    lay = _held_layer(_wired()).train()
    assert lay.cfg.circuit.fast_refresh_reads == 1
    assert readers.choose_read(lay, lambda n: None).kind is readers.ReadKind.WIRED
    assert readers.choose_read(lay.eval(), lambda n: None).kind is readers.ReadKind.WIRED_HELD


def test_held_factors_are_not_state():
    lay = _held_layer(_wired()).eval()
    with torch.no_grad():
        lay(_xh(4))
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
