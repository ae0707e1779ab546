"""Analog layers on the inputs and states that used to fail or pass silently: NaN/Inf weights, zero
ranges, binary (1-bit) converters, empty batches."""

import pytest
import torch
from torch import nn

import analogue as an
from analogue.physics import periphery

type_map = {nn.Linear: an.AnalogLinear, nn.Conv1d: an.AnalogConv1d, nn.Conv2d: an.AnalogConv2d}

KINDS = [
    (lambda: nn.Linear(12, 5), (3, 12)),
    (lambda: nn.Linear(300, 7), (2, 300)),  # two row tiles
    (lambda: nn.Conv1d(4, 6, 3, padding=1), (2, 4, 9)),
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 7, 7)),
]


def _analog(make, cfg, seed=0):
    torch.manual_seed(seed)
    ref = make()
    return ref, type_map[type(ref)].from_float(ref, cfg)


# -- NaN/Inf weights: reported naming their own layer ---------------------------------------------

def _two_layer_model(cfg, bad: str, value: float):
    torch.manual_seed(0)
    model = an.convert_(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)), cfg)
    with torch.no_grad():
        model.get_submodule(bad).weight[1, 2] = value
    return model


@pytest.mark.parametrize("policy", ["dynamic", "dynamic_tile", "fixed", "learned"])
@pytest.mark.parametrize("bad", ["0", "2"])  # the first layer used to be reported as the next one's input
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("mode", ["train", "eval", "eval-no-grad"])
def test_a_non_finite_weight_is_reported_naming_its_layer(policy, bad, value, mode):
    cfg = an.presets.standard().replace(**{"dac.range_policy": policy, "tile.rows": 4})
    model = _two_layer_model(cfg, bad, value)
    model.train(mode == "train")
    with torch.set_grad_enabled(mode != "eval-no-grad"):
        with pytest.raises(ValueError, match=rf"^{bad}: weight contains NaN or Inf; .*learning rate"):
            model(torch.randn(3, 8))


@pytest.mark.parametrize("make, shape", KINDS[2:])
@pytest.mark.parametrize("policy", ["dynamic", "fixed"])
@pytest.mark.parametrize("grad", [True, False])
def test_a_non_finite_conv_weight_is_reported(make, shape, policy, grad):
    _, layer = _analog(make, an.presets.standard().replace(**{"dac.range_policy": policy}))
    layer.layer_name = "features.3"
    with torch.no_grad():
        layer.weight.view(-1)[5] = float("nan")
    with torch.set_grad_enabled(grad), pytest.raises(ValueError, match="^features.3: weight contains NaN"):
        layer(torch.randn(shape))


@pytest.mark.parametrize("cfg", [an.presets.sram(), an.presets.standard()])
def test_a_non_finite_weight_is_reported_with_slicing_and_a_perturbation(cfg):
    _, layer = _analog(lambda: nn.Linear(12, 5), cfg)
    layer.set_weight_perturbation(lambda w_n, _layer: w_n * 0.9)  # the normalised read path
    with torch.no_grad():
        layer.weight[0, 0] = float("nan")
    for training in (True, False):
        layer.train(training)
        with pytest.raises(ValueError, match="weight contains NaN"):
            layer(torch.randn(2, 12))


def test_a_non_finite_input_is_still_reported_as_the_input():
    model = _two_layer_model(an.presets.standard(), "0", 0.5)
    x = torch.randn(3, 8)
    x[1, 1] = float("nan")
    with pytest.raises(ValueError, match="^0: input contains NaN or Inf"):
        model(x)


def test_finite_extreme_weights_pass_the_check():
    # the check must not overflow on its own: weights near the dtype's maximum are finite
    _, layer = _analog(lambda: nn.Linear(6, 3, bias=False), an.presets.ideal())
    with torch.no_grad():
        layer.weight.fill_(1e-3)
        layer.weight[0, 0] = 3e38
    y = layer(torch.full((2, 6), 1e-10))
    assert torch.isfinite(y).all()


# -- zero ranges: zero outputs, never an overflow -------------------------------------------------

@pytest.mark.parametrize("policy", ["dynamic", "calibrated"])
@pytest.mark.parametrize("zero", ["layer", "data"])
def test_an_all_zero_layer_or_data_after_calibration_gives_zero_outputs(policy, zero):
    # a zero-initialised layer (LoRA B, a zero conv) or all-zero calibration data calibrates to a
    # zero ADC range; with output noise on, every forward used to fail with "value cannot be
    # converted to type float without overflow"
    torch.manual_seed(0)
    cfg = an.presets.standard().replace(**{"dac.range_policy": policy})
    model = an.convert_(nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 4)), cfg)
    if zero == "layer":
        with torch.no_grad():
            model[0].weight.zero_()
    an.calibrate_(model, torch.zeros(16, 8) if zero == "data" else torch.randn(16, 8))
    assert float(model[0].out_bound) < 1e-30
    x = torch.randn(5, 8)
    for train in (False, True):
        model.train(train)
        assert torch.isfinite(model(x)).all()
        y0 = model[0](x)  # reads 0 (its noise too): the digital bias alone
        torch.testing.assert_close(y0.detach(), model[0].bias.detach().expand(5, 6), rtol=0, atol=0)


@pytest.mark.parametrize("make, shape", KINDS)
@pytest.mark.parametrize("bound", [0.0, 1e-45, 1.1754944e-38, 1e-37])
@pytest.mark.parametrize("adc_bits", [8, 1])
def test_a_zero_adc_range_reads_zero(make, shape, bound, adc_bits):
    cfg = an.presets.standard().replace(**{"adc.bits": adc_bits})  # (output noise on)
    ref, layer = _analog(make, cfg)
    layer.bias = None
    layer.out_bound.fill_(bound)
    x = torch.randn(shape, requires_grad=True)
    for train in (True, False):
        layer.train(train)
        y = layer(x)
        assert torch.isfinite(y).all()
        assert y.abs().max() <= 1e-30  # exactly 0 where the gain into ADC steps would overflow
        y.sum().backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("make, shape", KINDS)
@pytest.mark.parametrize("policy", ["calibrated", "learned"])
def test_a_zero_input_range_gives_zero_outputs(make, shape, policy):
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0, "dac.range_policy": policy})
    ref, layer = _analog(make, cfg)
    layer.bias = None
    with torch.no_grad():
        layer.input_range.zero_()
    x = torch.randn(shape, requires_grad=True)
    for train in (True, False):
        layer.train(train)
        y = layer(x)
        assert torch.isfinite(y).all() and y.abs().max() <= 1e-30
        y.square().sum().backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()
        if policy == "learned":
            assert torch.isfinite(layer.input_range.grad).all()


def test_a_zero_bound_in_the_pure_adc_reads_zero():
    y = torch.tensor([-3.0, 0.0, 2.0])
    for bits in (1, 4, 8):
        assert torch.equal(periphery.adc(y, 0.0, bits), torch.zeros(3))
        assert torch.equal(periphery.adc(y, torch.tensor(0.0), bits), torch.zeros(3))


# -- binary (1-bit) converters --------------------------------------------------------------------

def test_binary_converters_are_sign_converters_at_full_scale():
    assert periphery.levels(1) == 1 and periphery.levels(2) == 1 and periphery.levels(8) == 127
    x = torch.tensor([-2.0, -1e-6, 0.0, 1e-6, 0.3, 5.0])
    torch.testing.assert_close(periphery.dac(x, 2.0, 1), torch.tensor([-1.0, -1.0, 0.0, 1.0, 1.0, 1.0]))
    torch.testing.assert_close(periphery.adc(x, 3.0, 1), torch.tensor([-3.0, -3.0, 0.0, 3.0, 3.0, 3.0]))
    # 2 bits stays ternary with its threshold at half scale
    torch.testing.assert_close(periphery.dac(x, 2.0, 2), torch.tensor([-1.0, -0.0, 0.0, 0.0, 0.0, 1.0]))


@pytest.mark.parametrize("policy", ["dynamic", "fixed"])
@pytest.mark.parametrize("make, shape", KINDS)
def test_a_binary_dac_applies_the_sign_of_each_input(policy, make, shape):
    # oracle: the torch layer on sign(x) times the full scale (per vector for a dynamic range:
    # here every input of a vector has the same magnitude, so the per-patch range is the same too)
    cfg = an.presets.ideal(rows=128).replace(**{"dac.bits": 1, "dac.range_policy": policy,
                                                "dac.input_range": 0.5})
    ref, layer = _analog(make, cfg)
    ref, layer = ref.double(), layer.double()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    x = x.sign() * 0.5 if policy == "dynamic" else x
    for train in (True, False):
        layer.train(train)
        y = layer(x.clone().requires_grad_(train))
        torch.testing.assert_close(y.detach(), ref(x.sign() * 0.5).detach(), rtol=1e-12, atol=1e-12)


def test_a_binary_adc_reads_the_sign_of_each_column_sum():
    cfg = an.presets.ideal().replace(**{"adc.bits": 1, "adc.clip": True, "adc.out_bound": 4.0})
    ref, layer = _analog(lambda: nn.Linear(10, 6, bias=False), cfg)
    ref, layer = ref.double(), layer.double()
    with torch.no_grad():
        layer.weight[2].zero_()  # an all-zero column reads 0
    x = torch.randn(5, 10, dtype=torch.float64)
    xs = x.abs().amax(dim=1, keepdim=True)  # dynamic input range
    ws = layer.weight.detach().abs().amax(dim=1).clamp_min(torch.finfo(torch.float64).tiny)  # per column
    expect = torch.sign((x / xs) @ (layer.weight.detach().t() / ws)) * 4.0 * ws * xs
    torch.testing.assert_close(layer(x).detach(), expect, rtol=1e-12, atol=0)
    assert (layer(x)[:, 2] == 0).all()


def test_binary_converters_train():
    cfg = an.presets.standard().replace(**{"dac.bits": 1, "adc.bits": 1, "dac.range_policy": "learned"})
    _, layer = _analog(lambda: nn.Linear(12, 5), cfg)
    x = torch.randn(4, 12, requires_grad=True)
    layer(x).square().sum().backward()
    for g in (x.grad, layer.weight.grad, layer.input_range.grad):
        assert g is not None and torch.isfinite(g).all()
    assert layer.weight.grad.abs().sum() > 0


# -- empty batches ------------------------------------------------------------------------------

@pytest.mark.parametrize("make, shape", KINDS)
@pytest.mark.parametrize("policy", ["dynamic", "dynamic_tile", "fixed", "learned"])
@pytest.mark.parametrize("grad", [True, False])
def test_an_empty_batch_gives_an_empty_output(make, shape, policy, grad):
    cfg = an.presets.standard().replace(**{"dac.range_policy": policy, "tile.rows": 16})
    ref, layer = _analog(make, cfg)
    empty = torch.randn((0,) + shape[1:], requires_grad=grad)
    for train in (True, False):
        layer.train(train)
        layer.zero_grad(set_to_none=True)
        with torch.set_grad_enabled(grad):
            y = layer(empty)
        assert y.shape == ref(empty).shape and y.dtype == empty.dtype
        if grad:
            y.sum().backward()
            assert empty.grad.shape == empty.shape
            assert torch.equal(layer.weight.grad, torch.zeros_like(layer.weight))
            empty.grad = None


def test_an_empty_batch_on_a_programmed_layer():
    _, layer = _analog(lambda: nn.Linear(12, 5), an.presets.pcm())
    an.program_(layer)
    layer.eval()
    with torch.no_grad():
        assert layer(torch.randn(0, 12)).shape == (0, 5)
    assert an.convert_(nn.Sequential(nn.Linear(3, 2)), an.presets.standard())(torch.randn(0, 3)).shape == (0, 2)
