"""In-memory training beyond MLPs: convolutions (im2col rows as update vectors) and linear layers
with (batch, seq, features) inputs, against plain-torch gradients."""

import copy
import math

import pytest
import torch
from torch import nn

import analogue as an
from analogue.config import pulsed as pc
from analogue.train import inmemory as im
from analogue.train.inmemory.optimizers import update_rows

pytestmark = pytest.mark.usefixtures("one_thread")

Z = 5.0


class _Seq(nn.Module):
    """Linear layers on (batch, seq, features), as in a transformer block."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 5), nn.Linear(5, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x))).mean(dim=1)


def _cnn2d(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, stride=2), nn.ReLU(),
                         nn.Conv2d(3, 4, (2, 3), padding=(1, 0), dilation=(1, 2), padding_mode="reflect",
                                   bias=False),
                         nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))


def _cnn1d(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(2, 3, 3, padding="same", padding_mode="circular"), nn.ReLU(),
                         nn.Conv1d(3, 2, 2, stride=2), nn.Flatten(), nn.LazyLinear(3))


def _models():
    g = torch.Generator().manual_seed(3)
    x2 = torch.rand(6, 2, 7, 9, generator=g)
    x1 = torch.rand(6, 2, 10, generator=g)
    xs = torch.rand(6, 4, 6, generator=g)
    out = []
    for make, x in ((_cnn2d, x2), (_cnn1d, x1), (lambda seed=0: (torch.manual_seed(seed), _Seq())[1], xs)):
        m = make()
        m(x)  # materialise lazy layers
        out.append((an.convert_(m, an.presets.ideal()), x))
    return out


def _grads(model, x, y):
    """dL/dW of the plain-torch twin (exact), per analog layer, for the current weights."""
    twin = copy.deepcopy(model)
    an.to_digital_(twin)
    for p in twin.parameters():
        p.requires_grad_(True)
    nn.functional.cross_entropy(twin(x), y).backward()
    names = list(an.analog_layers(model))
    return [twin.get_submodule(n).weight.grad for n in names]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["conv2d", "conv1d", "linear-3d"])
def test_update_rows_give_the_torch_weight_gradient(which):
    model, x = _models()[which]
    y = torch.arange(x.shape[0]) % 3
    grads = _grads(model, x, y)
    for (name, layer), gk in zip(an.analog_layers(model).items(), grads):
        captured: dict = {}
        h = layer.register_forward_hook(lambda m, a, o, c=captured: c.update(x=a[0].detach(), out=o))
        out = model(x)
        h.remove()
        d = torch.autograd.grad(nn.functional.cross_entropy(out, y), captured["out"])[0]
        xr, dr = update_rows(layer, captured["x"], d)
        assert torch.allclose((dr.t() @ xr).view(gk.shape), gk, atol=1e-6), name


@pytest.mark.parametrize("which", [0, 1, 2], ids=["conv2d", "conv1d", "linear-3d"])
def test_mixed_precision_on_convolutions_follows_exact_sgd(which):
    """weight / scale + chi is the exact SGD trajectory for an ideal device (oracle: plain torch
    gradients of the same weights)."""
    model, x0 = _models()[which]
    dev = pc.ConstantStepDevice(n_states=100)
    ws, lr = 2.0, 0.3
    opt = im.MixedPrecision(model, dev, lr=lr, weight_scale=ws)
    layers = list(an.analog_layers(model).values())
    target = [layer.weight.detach().clone() / ws for layer in layers]
    g = torch.Generator().manual_seed(2)
    for _ in range(4):
        x = x0 + 0.1 * torch.randn(x0.shape, generator=g)
        y = torch.randint(0, 3, (x.shape[0],), generator=g)
        grads = _grads(model, x, y)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
        for t, gk in zip(target, grads):
            t.sub_(lr / ws * gk)
    for layer, t in zip(layers, target):
        chi = opt.state[layer.weight]["chi"].view(t.shape)
        assert torch.allclose(layer.weight.detach() / ws + chi, t, atol=1e-5)
        assert chi.abs().max() < dev.dw_nominal + 1e-6


def test_analog_sgd_conv_update_is_minus_lr_times_gradient_in_expectation():
    model, x = _models()[0]
    dev = pc.ConstantStepDevice(n_states=4000)  # symmetric, no variability, no noise
    y = torch.arange(x.shape[0]) % 3
    lr, reps = 0.05, 60
    grads = _grads(model, x, y)
    layers = list(an.analog_layers(model).values())
    opt = im.AnalogSGD(model, dev, lr=lr, seed=0, weight_scale=1.0)
    w0 = [layer.weight.detach().clone() for layer in layers]
    deltas = []
    for _ in range(reps):
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        deltas.append([layer.weight.detach() - w for layer, w in zip(layers, w0)])
        for layer, w in zip(layers, w0):  # back to the start: re-program the array
            opt.array(layer.weight).program_(w.reshape(w.shape[0], -1).clone())
            opt._write_back(layer.weight)
    for k, gk in enumerate(grads):
        dk = torch.stack([d[k] for d in deltas]).double()
        # the sample's standard error, at least the Poisson one of the expected pulse count (an
        # element expecting ~1 pulse in all the repetitions may see none: a sample std of 0)
        se = torch.maximum(dk.std(0), (lr * gk.abs() * dev.dw_nominal).sqrt()) / math.sqrt(reps)
        assert ((dk.mean(0) + lr * gk).abs() <= Z * se + 1e-7).all()
        assert dk.mean(0).abs().sum() > 0


def test_tikitaka_state_has_the_array_shape_of_a_conv_and_transfers():
    model, x = _models()[0]
    opt = im.TikiTaka(model, pc.SoftBoundsDevice(n_states=100), lr=0.5, columns_per_transfer=3)
    conv = model[0]
    st = opt.state[conv.weight]
    assert st["h"].shape == (3, 2 * 3 * 3) and st["chopper"].shape == (18,)
    y = torch.arange(x.shape[0]) % 3
    a0 = st["fast"]["w"].clone()
    for _ in range(3):
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
    assert opt.stats["transfer_reads"] == 3 * 3 * 3  # three layers, three columns, three steps
    assert int(st["next_col"]) == 9 and not torch.equal(st["fast"]["w"], a0)
    assert (st["h"][:, :9] != 0).any() and (st["h"][:, 9:] == 0).all()  # read columns 0-8 only


def test_digital_parameters_follow_requires_grad_and_nothing_is_patched():
    model, _ = _models()[0]
    opt = im.AnalogSGD(model, pc.ideal_device(), lr=0.1)
    managed = {id(m.weight) for m in an.analog_layers(model).values()}
    assert not managed & {id(p) for p in im.digital_parameters(model)}
    assert all("_inmemory_managed" not in vars(m) for m in model.modules())
    opt.close()
    assert managed <= {id(p) for p in im.digital_parameters(model)}
