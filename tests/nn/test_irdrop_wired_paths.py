"""The fast paths of the ``WIRED`` read (``nn.readers``): the closed-form weight gradient
(``wired_vjp``) and the state the forward hands to the backward through the MVM trace.

Oracles: autograd through ``wired_blocks``' graph path (``physics.irdrop.fast_conductance`` under
autograd) and through plain-torch effective weights built here from ``fast_conductance``.
"""

from __future__ import annotations

import pytest
import torch

import analogue as an
from analogue.config import AnalogConfig
from analogue.nn import readers
from analogue.nn.linear import AnalogLinear
from analogue.physics.irdrop import fast_conductance

R_ROW, R_COL = 1.5, 5.0
ROWS, COLS = 64, 32


def _cfg(**extra) -> AnalogConfig:
    ideal = {"adc.bits": None, "adc.clip": False, "dac.bits": None, "noise.out_std_rel_fs": 0.0,
             "tile.rows": ROWS, "tile.cols": COLS, "circuit.r_row_ohm": R_ROW, "circuit.r_col_ohm": R_COL}
    return an.presets.standard().replace(**{**ideal, **extra})


def _w(*shape: int, seed: int = 0) -> torch.Tensor:
    w = torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    w[..., 0, 0] = 0.0  # the kink of max(w, 0): the gradient takes G-'s side there, like autograd
    return w


def _autograd_vjp(w_n: torch.Tensor, g_out: torch.Tensor, cfg: AnalogConfig) -> torch.Tensor:
    w = w_n.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(readers.wired_blocks(w, cfg), w, g_out)
    return g


@pytest.mark.parametrize("extra", [{}, {"mapping.g_min_uS": 2.0, "mapping.g_max_uS": 20.0},
                                   {"circuit.r_row_ohm": 0.0}, {"circuit.r_col_ohm": 0.0}])
def test_closed_form_vjp_equals_autograd(extra):
    cfg = _cfg(**extra)
    w_n = _w(3, 40, 64)  # two whole arrays of 32 columns
    g_out = torch.randn(3, 40, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ref = _autograd_vjp(w_n, g_out, cfg)
    torch.testing.assert_close(readers.wired_vjp(w_n, g_out, cfg), ref, rtol=1e-12, atol=1e-15)
    # from the forward's kept state: the same
    keep = readers.WiredState()
    with torch.no_grad():
        y = readers.wired_blocks(w_n, cfg, keep)
    assert keep.q is not None
    torch.testing.assert_close(y, readers.wired_blocks(w_n.clone().requires_grad_(True), cfg).detach(),
                               rtol=0, atol=1e-15)
    torch.testing.assert_close(readers.wired_vjp(w_n, g_out, cfg, keep), ref, rtol=1e-12, atol=1e-15)


def test_no_state_kept_without_a_closed_form():
    keep = readers.WiredState()
    with torch.no_grad():
        readers.wired_blocks(_w(2, 10, 40), _cfg(), keep)  # 40 columns: a partial second array
        assert keep.q is None
        readers.wired_blocks(_w(2, 10, 64), _cfg(**{"circuit.fast_iterations": 2}), keep)
        assert keep.q is None


def _layer(cfg: AnalogConfig) -> AnalogLinear:
    torch.manual_seed(0)
    return AnalogLinear(100, 64, cfg=cfg).double()


def _oracle_w_eff(W: torch.Tensor, cfg: AnalogConfig, perturb=None) -> torch.Tensor:
    """``(K, M)`` weights read through the wires, per row block (an even split) and array; the
    perturbation (if any) passed straight through (its value in the forward, identity backward)."""
    K, M = W.shape
    nb = -(-K // ROWS)
    r = -(-K // nb)
    mp, it = cfg.mapping, cfg.circuit.fast_iterations
    span = mp.g_max_uS - mp.g_min_uS
    blocks = []
    for k0 in range(0, K, r):
        wb = W[k0: k0 + r]
        s = wb.detach().abs().amax(0, keepdim=True)
        wn = wb / s
        if perturb is not None:
            wn = wn + (perturb(wn.detach(), None) - wn.detach())
        gp = (mp.g_min_uS + span * wn.clamp(min=0)) * 1e-6
        gn = (mp.g_min_uS + span * (-wn).clamp(min=0)) * 1e-6
        cols = [fast_conductance(gp[:, c0: c0 + COLS], R_ROW, R_COL, it)
                - fast_conductance(gn[:, c0: c0 + COLS], R_ROW, R_COL, it) for c0 in range(0, M, COLS)]
        blocks.append(torch.cat(cols, dim=1) / (span * 1e-6) * s)
    return torch.cat(blocks)


def _grads(lay: AnalogLinear, x: torch.Tensor, perturb=None) -> tuple[torch.Tensor, torch.Tensor]:
    lay.train()
    lay.zero_grad(set_to_none=True)
    lay(x).square().sum().backward()
    W = lay.weight.detach().clone().requires_grad_(True)
    (x @ _oracle_w_eff(W.t(), lay.cfg, perturb) + lay.bias.detach()).square().sum().backward()
    return lay.weight.grad, W.grad


def _shrink(w_n: torch.Tensor, layer) -> torch.Tensor:
    """A deterministic weight perturbation (``WeightPerturber``): ``0.8 w + 0.05``."""
    return w_n * 0.8 + 0.05


@pytest.mark.parametrize("iterations", [1, 2])
def test_layer_gradient_at_the_read_weights(iterations):
    """With a perturbation, the forward's kept state gives the Jacobian at the perturbed weights
    the array read (one iteration); the fallback (several iterations) takes it at the unperturbed
    ones."""
    lay = _layer(_cfg(**{"circuit.fast_iterations": iterations}))
    lay.set_weight_perturbation(_shrink)
    x = torch.randn(6, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    got, ref = _grads(lay, x, _shrink if iterations == 1 else None)
    if iterations == 2:  # the forward still reads perturbed weights: the oracle's value differs
        W = lay.weight.detach().clone().requires_grad_(True)
        w_read = _oracle_w_eff(W.t(), lay.cfg, _shrink).detach()
        w_jac = _oracle_w_eff(W.t(), lay.cfg)
        g_y = 2 * (x @ w_read + lay.bias.detach())
        (ref,) = torch.autograd.grad((x @ w_jac * g_y).sum(), W)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_trace_hand_over_equals_recomputation():
    """Without a perturbation the kept state and a recomputation give the same weight gradient."""
    lay = _layer(_cfg()).train()
    x = torch.randn(5, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    y = lay(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    kept = lay.weight.grad.clone()
    # the same gradient with no trace (recomputed at W / s): the ideal gradient through the read
    x_eff = x  # no DAC, no clipping: the codes are the inputs
    gw = (gy.t() @ x_eff)  # laid out as the weight (M, K)
    torch.testing.assert_close(readers.wire_weight_grad(lay, gw), kept, rtol=1e-12, atol=1e-14)


def test_in_place_weight_update_changes_the_eval_output():
    lay = _layer(_cfg()).eval()
    x = torch.randn(3, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        y0 = lay(x)
        lay.weight.mul_(0.5)
        y1 = lay(x)
    assert (y0 - y1).abs().max() > 1e-3


def test_convolution_fast_path_equals_the_autograd_path(monkeypatch):
    """A convolution's forward and gradients with the kept state and closed form equal those of
    the autograd path through the model (``_closed_form`` off: the code before the fast path)."""
    cfg = _cfg(**{"tile.rows": 32, "tile.cols": 8})
    torch.manual_seed(0)
    conv = an.AnalogConv2d(3, 16, 3, padding=1, cfg=cfg).double().train()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(7))

    def run():
        conv.zero_grad(set_to_none=True)
        xa = x.clone().requires_grad_(True)
        y = conv(xa)
        y.square().sum().backward()
        return y.detach(), xa.grad, conv.weight.grad

    fast = run()
    monkeypatch.setattr(readers, "_closed_form", lambda w_n, cfg: False)
    slow = run()
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-13)
