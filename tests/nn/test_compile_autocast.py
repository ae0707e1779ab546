"""Analog layers inside ``torch.compile`` and ``torch.autocast`` (design convention 4): the oracle
is the same model run eagerly in float32 with the same noise seeds."""

import copy

import pytest
import torch
from torch import nn

import analogue as an
from analogue.train import HWAOptions, hwa_, reseed_noise_


def _model(cfg):
    torch.manual_seed(0)
    digital = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 5),
    )
    # the last Linear stays digital: the compiled graph holds more than glue
    return an.convert_(digital, cfg, rules={"6": None})


def _run(model, x, y, seed, train):
    reseed_noise_(model, seed)
    model.zero_grad(set_to_none=True)
    out = model(x)
    if train:
        nn.functional.cross_entropy(out, y).backward()
    params = getattr(model, "_orig_mod", model).named_parameters()  # a compiled model's names are prefixed
    return out.detach(), {n: p.grad.clone() for n, p in params if p.grad is not None}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")  # inside torch's dynamo
@pytest.mark.parametrize("train", [False, True])
def test_torch_compile_runs_the_tiles_eagerly_with_the_same_result(train):
    eager = _model(an.presets.pcm())
    hwa_(eager, HWAOptions(device_noise_scale=2.0))
    compiled_model = copy.deepcopy(eager)
    compiled = torch.compile(compiled_model)
    eager.train(train)
    compiled_model.train(train)
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 5, (8,))
    with torch.set_grad_enabled(train):
        for seed in (3, 4):  # two calls: the noise streams advance alike
            out_e, grads_e = _run(eager, x, y, seed, train)
            out_c, grads_c = _run(compiled, x, y, seed, train)
            torch.testing.assert_close(out_c, out_e, rtol=1e-5, atol=1e-6)
            assert grads_c.keys() == grads_e.keys() and (len(grads_e) == 6) == train
            for name in grads_e:
                torch.testing.assert_close(grads_c[name], grads_e[name], rtol=1e-5, atol=1e-6)
    # a different seed gives a different noisy output: the comparison above is not vacuous
    assert not torch.equal(_run(compiled, x, y, 5, False)[0], out_e)


@pytest.mark.parametrize("layer, shape", [
    (lambda cfg: an.AnalogLinear(12, 6, cfg=cfg), (4, 12)),
    (lambda cfg: an.AnalogConv2d(3, 4, 3, padding=1, cfg=cfg), (2, 3, 6, 6)),
])
def test_autocast_simulates_in_float32(layer, shape):
    torch.manual_seed(1)
    ana = layer(an.presets.standard())
    ana.train()
    x = torch.randn(shape)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x16 = x.to(torch.bfloat16).requires_grad_()
        ana.reseed(7)
        y = ana(x16)
        y.square().sum().backward()  # backward inside autocast as well
    assert y.dtype == torch.float32
    got_w, got_x = ana.weight.grad.clone(), x16.grad
    assert got_x.dtype == torch.bfloat16
    ana.zero_grad(set_to_none=True)
    x32 = x16.detach().float().requires_grad_()
    ana.reseed(7)
    ref = ana(x32)
    ref.square().sum().backward()
    assert torch.equal(y, ref)
    assert torch.equal(got_w, ana.weight.grad)
    assert torch.equal(got_x, x32.grad.to(torch.bfloat16))


def test_input_dtype_mismatch_names_the_layer_and_the_fix():
    model = an.convert_(nn.Sequential(nn.Linear(8, 4)), an.presets.standard())
    with pytest.raises(TypeError, match=r"^0: input dtype torch.float64 differs .*x.to\(torch.float32\)"):
        model(torch.randn(2, 8, dtype=torch.float64))
    with pytest.raises(TypeError, match="^0: expected a tensor input, got list"):
        model[0]([1.0] * 8)
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(TypeError, match="^0: input dtype torch.int64"):
        model(torch.ones(2, 8, dtype=torch.int64))  # autocast casts floating inputs only
    # a float64 model takes float64 inputs
    assert model.double()(torch.randn(2, 8, dtype=torch.float64)).dtype == torch.float64
