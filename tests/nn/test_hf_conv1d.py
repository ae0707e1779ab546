"""AnalogHFConv1D: the twin of Hugging Face's Conv1D (weight stored (in, out)) against the twin of
the equivalent nn.Linear (weight (out, in)) and against Conv1D itself."""

import copy

import pytest
import torch
from torch import nn

import analogue as an

pytest.importorskip("transformers")
from transformers.pytorch_utils import Conv1D  # noqa: E402


def _pair(nf=24, nx=40):
    torch.manual_seed(0)
    conv = Conv1D(nf, nx)
    with torch.no_grad():
        conv.bias.normal_()
    lin = nn.Linear(nx, nf)
    with torch.no_grad():
        lin.weight.copy_(conv.weight.t())
        lin.bias.copy_(conv.bias)
    return conv, lin


@pytest.mark.parametrize("preset", ["ideal", "standard", "quantized"])
def test_conv1d_twin_equals_linear_twin_forward_and_gradients(preset):
    # same matrix on the array, same noise seed: the same simulated outputs and gradients
    cfg = getattr(an.presets, preset)().replace(**{"tile.rows": 16})  # several row tiles
    conv, lin = _pair()
    a = an.AnalogHFConv1D.from_float(conv, cfg, seed=5)
    b = an.AnalogLinear.from_float(lin, cfg, seed=5)
    x = torch.randn(3, 7, 40, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    ya, yb = a(x), b(x2)
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(a.weight.grad, b.weight.grad.t(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.bias.grad, b.bias.grad)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-5, atol=1e-5)


def test_conv1d_twin_holds_the_original_parameters_and_round_trips():
    conv, _ = _pair()
    ref_out = conv(torch.ones(2, 40))
    twin = an.AnalogHFConv1D.from_float(conv, an.presets.ideal())
    assert twin.weight is conv.weight and twin.bias is conv.bias
    assert twin.weight.shape == (40, 24) and twin.matrix_shape == (1, 40, 24)
    assert {"weight", "bias"} <= set(twin.state_dict())
    x = torch.randn(5, 40)
    torch.testing.assert_close(twin(x), conv(x), rtol=1e-5, atol=1e-5)
    twin(x).sum().backward()
    assert conv.weight.grad is not None  # the gradient reached the original Parameter
    back = twin.to_float()
    assert type(back) is Conv1D and back.weight is conv.weight and back.bias is conv.bias
    torch.testing.assert_close(back(torch.ones(2, 40)), ref_out)
    dup = copy.deepcopy(twin)
    assert dup.weight is not twin.weight and torch.equal(dup.weight, twin.weight)


def test_conv1d_twin_names_the_layer_on_a_wrong_input():
    twin = an.AnalogHFConv1D(8, 4)
    twin.layer_name = "h.0.attn.c_attn"
    with pytest.raises(ValueError, match=r"h\.0\.attn\.c_attn: expected input \(\.\.\., 4\)"):
        twin(torch.randn(2, 5))
