"""The analog layer's typed extension points and its one-per-call choice of weight reader."""

import pytest
import torch

import analogue as an
from analogue.nn import readers
from analogue.physics.crossbar import WeightUnits
from analogue.train.hwa import HWAOptions, WeightPerturbation


def _layer(cfg=None):
    torch.manual_seed(0)
    return an.AnalogLinear(12, 5, cfg=cfg or an.presets.ideal(rows=8))


def _kind(layer):
    return readers.choose_read(layer, lambda numel: None).kind


def test_weight_perturbation_is_set_through_the_method_only():
    layer = _layer()
    with pytest.raises(AttributeError):
        layer.weight_perturbation = lambda w_n, _layer: w_n
    with pytest.raises(TypeError, match="callable"):
        layer.set_weight_perturbation(0.5)
    pert = WeightPerturbation(HWAOptions(weight_noise_rel=0.1), seed=1)
    assert isinstance(pert, readers.WeightUnitPerturber)
    layer.set_weight_perturbation(pert)
    assert layer.weight_perturbation is pert
    layer.set_weight_perturbation(None)
    assert layer.weight_perturbation is None


def test_the_reader_is_chosen_once_and_says_what_it_reads():
    layer = _layer()
    read = readers.choose_read(layer, lambda numel: None)
    assert read.kind is readers.ReadKind.EXACT and read.units is WeightUnits.WEIGHT and read.is_exact
    layer.set_weight_perturbation(WeightPerturbation(HWAOptions(weight_noise_rel=0.1), seed=1))
    assert _kind(layer) is readers.ReadKind.PERTURBED
    layer.eval()
    assert _kind(layer) is readers.ReadKind.EXACT  # perturbations act in training mode only
    layer.train()
    layer.set_weight_perturbation(lambda w_n, _layer: w_n * 0.9)  # no weight-unit form
    read = readers.choose_read(layer, lambda numel: None)
    assert read.kind is readers.ReadKind.PERTURBED_BLOCKS and read.units is WeightUnits.NORMALISED
    sliced = _layer(an.presets.sram())
    assert sliced.cfg.device.slicing.active and _kind(sliced) is readers.ReadKind.SLICED
    pcm = _layer(an.presets.pcm()).eval()
    an.program_(pcm, seed=0)
    read = readers.choose_read(pcm, lambda numel: None)
    assert read.kind is readers.ReadKind.PROGRAMMED and not read.checks_weights


def test_set_backward_replaces_the_input_gradient():
    layer = _layer()
    x = torch.randn(3, 12, requires_grad=True)
    layer(x).sum().backward()
    exact = x.grad.clone()
    calls = []

    def doubled(g, trace):
        calls.append(g.shape)
        return 2 * torch.bmm(g, trace.w_eff.transpose(1, 2))

    layer.set_backward(doubled)
    assert layer.input_gradient is doubled
    x.grad = None
    layer(x).sum().backward()
    assert calls and torch.allclose(x.grad, 2 * exact)
    layer.set_backward(None)
    x.grad = None
    layer(x).sum().backward()
    assert torch.equal(x.grad, exact)
    with pytest.raises(TypeError, match="callable"):
        layer.set_backward("exact")


def test_set_input_capture_records_what_the_tiles_apply():
    layer = _layer()
    conv = an.AnalogConv2d(2, 3, 3, cfg=an.presets.ideal())
    x, xc = torch.randn(4, 12), torch.randn(1, 2, 5, 5)
    seen, seen_conv = [], []
    layer.set_input_capture(seen)
    conv.set_input_capture(seen_conv)
    assert layer.capturing_inputs
    with torch.no_grad():
        layer(x)
        conv(xc)
    layer.set_input_capture(None)
    conv.set_input_capture(None)
    assert not layer.capturing_inputs
    with torch.no_grad():
        layer(x)
    assert len(seen) == 1 and torch.equal(seen[0], x.reshape(1, 4, 12))
    assert len(seen_conv) == 1 and seen_conv[0].shape == (1, 9, 18)  # the im2col patches
