"""Int8 digital stand-ins: fake quantisation against its definition."""

import pytest
import torch

import analogue as an
from analogue.nn.int8 import Int8Conv1d, Int8Conv2d, Int8Linear, fake_quant_int8, quantize_int8_


def test_fake_quant_per_channel_grid_and_error_bound():
    torch.manual_seed(0)
    w = torch.randn(8, 20) * torch.logspace(-2, 1, 8).unsqueeze(1)
    q = fake_quant_int8(w, dim=0)
    scale = w.abs().amax(dim=1, keepdim=True) / 127
    steps = q / scale
    assert torch.allclose(steps, steps.round(), atol=1e-4)  # on the int8 grid of its own channel
    assert (steps.abs() <= 127 + 1e-4).all()
    assert ((q - w).abs() <= scale / 2 + 1e-7).all()  # round to nearest
    assert torch.allclose(q.abs().amax(dim=1), w.abs().amax(dim=1))  # each channel's max is exact
    x = torch.randn(100)
    qx = fake_quant_int8(x)
    assert ((qx - x).abs() <= x.abs().max() / 254 + 1e-7).all()


def test_int8_layers_match_float_within_the_quantisation_error_and_train():
    torch.manual_seed(0)
    for ref, x in ((torch.nn.Linear(32, 16), torch.randn(4, 32)),
                   (torch.nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), torch.randn(2, 3, 8, 8)),
                   (torch.nn.Conv1d(3, 8, 3, groups=1), torch.randn(2, 3, 10))):
        q = {torch.nn.Linear: Int8Linear, torch.nn.Conv2d: Int8Conv2d, torch.nn.Conv1d: Int8Conv1d}[type(ref)]
        layer = q.from_float(ref)
        assert layer.state_dict().keys() == ref.state_dict().keys()
        y, y_ref = layer(x), ref(x)
        assert float((y - y_ref).detach().norm() / y_ref.detach().norm()) < 0.02
        y.sum().backward()  # straight-through rounding: gradients reach the float weights
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
        back = layer.to_float()
        assert type(back) is type(ref) and torch.equal(back.weight, ref.weight)


def test_quantize_named_layers_only():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    an.convert_(model, an.presets.standard(), rules={"0": None})
    quantize_int8_(model, ["0"])
    assert isinstance(model[0], Int8Linear) and isinstance(model[2], an.AnalogLinear)
    with pytest.raises(ValueError, match="no module named"):
        quantize_int8_(model, ["5"])
    with pytest.raises(ValueError, match="only plain"):
        quantize_int8_(model, ["2"])
    # an int8 layer is not converted to analog by convert_ (it stays on the digital unit)
    an.convert_(model, an.presets.standard())
    assert isinstance(model[0], Int8Linear)
