"""LAMB against a step computed by hand from You et al., ICLR 2020, Algorithm 2."""

import math

import pytest
import torch

from analogue.train import LAMB


def _hand_lamb(x, grads, lr, b1, b2, eps, wd, clamp):
    """Plain-Python LAMB on a list of floats (the oracle)."""
    m = [0.0] * len(x)
    v = [0.0] * len(x)
    for t, g in enumerate(grads, start=1):
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        u = [(mi / (1 - b1**t)) / (math.sqrt(vi / (1 - b2**t)) + eps) + wd * xi for mi, vi, xi in zip(m, v, x)]
        wn = math.sqrt(sum(xi * xi for xi in x))
        if clamp is not None:
            wn = min(wn, clamp)
        un = math.sqrt(sum(ui * ui for ui in u))
        ratio = wn / un if wn > 0 and un > 0 else 1.0
        x = [xi - lr * ratio * ui for xi, ui in zip(x, u)]
    return x


@pytest.mark.parametrize("wd, clamp", [(0.0, None), (0.01, None), (0.1, 1.5)])
def test_lamb_matches_hand_computed_steps(wd, clamp):
    x0 = [1.0, -2.0, 0.5]
    grads = [[0.5, 0.5, -1.0], [0.1, -0.3, 0.2], [2.0, 0.0, -0.5]]
    p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = LAMB([p], lr=0.1, betas=(0.9, 0.999), eps=1e-6, weight_decay=wd, trust_clamp=clamp)
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    expected = _hand_lamb(x0, grads, 0.1, 0.9, 0.999, 1e-6, wd, clamp)
    assert torch.allclose(p.detach(), torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_trust_ratio_makes_the_step_a_fraction_of_the_weight_norm():
    # every layer moves by lr * ||w|| whatever the size of its gradient
    for scale in (1e-4, 1.0, 1e4):
        p = torch.nn.Parameter(torch.randn(100, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
        w0 = p.detach().clone()
        opt = LAMB([p], lr=0.01, trust_clamp=None)
        p.grad = scale * torch.randn(100, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        opt.step()
        assert math.isclose(float((p.detach() - w0).norm()), 0.01 * float(w0.norm()), rel_tol=1e-9)


def test_zero_weights_use_a_trust_ratio_of_one():
    p = torch.nn.Parameter(torch.zeros(4))
    opt = LAMB([p], lr=0.5)
    p.grad = torch.tensor([1.0, -1.0, 2.0, 0.0])
    opt.step()
    # first step: m_hat = g, v_hat = g^2 -> u = sign(g) (up to eps), ratio 1
    assert torch.allclose(p.detach(), torch.tensor([-0.5, 0.5, -0.5, 0.0]), atol=1e-5)


def test_lamb_trains_and_state_round_trips():
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    w_true = torch.randn(8, 1)
    y = x @ w_true
    model = torch.nn.Linear(8, 1)
    opt = LAMB(model.parameters(), lr=0.05)
    with torch.no_grad():
        loss0 = float(torch.nn.functional.mse_loss(model(x), y))
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        assert float(torch.nn.functional.mse_loss(model(x), y)) < 0.01 * loss0
    opt2 = LAMB(model.parameters(), lr=0.05)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


@pytest.mark.parametrize("kw, field", [({"lr": 0.0}, "lr"), ({"betas": (1.0, 0.9)}, "betas"),
                                       ({"eps": 0.0}, "eps"), ({"weight_decay": -1.0}, "weight_decay"),
                                       ({"trust_clamp": 0.0}, "trust_clamp")])
def test_bad_arguments_name_the_field(kw, field):
    with pytest.raises(ValueError, match=f"LAMB.{field}"):
        LAMB([torch.nn.Parameter(torch.zeros(1))], **kw)
