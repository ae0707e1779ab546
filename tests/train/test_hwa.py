"""Hardware-aware training: the injected perturbations against their definitions and the
reference PCM statistics (docs/references.md section 2), and the straight-through backward."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

import analogue as an
from analogue.config import ConfigError, ProgrammingNoise
from analogue.train import (
    HWAOptions,
    clip_weights_,
    distillation_loss,
    hardware_aware,
    hwa_,
    remove_hwa_,
    reseed_noise_,
)
from analogue.train.hwa import WeightPerturbation, device_weights, programming_std


def _ideal_with(device=None):
    cfg = an.presets.ideal()
    return cfg if device is None else cfg.replace(device=device)


def _pcm_device(**off):
    kw = {"programming_noise": None, "drift": False, "read_noise": False, "temperature": False}
    kw.update(off)
    return an.presets.pcm_device(**kw)


def _layer(cfg, k=64, m=256, seed=0):
    torch.manual_seed(seed)
    return an.AnalogLinear(k, m, bias=False, cfg=cfg)


@pytest.mark.parametrize("kw, field", [
    ({"weight_noise_rel": -0.1}, "weight_noise_rel"),
    ({"device_noise_scale": float("nan")}, "device_noise_scale"),
    ({"drift_scale_range": (1.0, 0.5)}, "drift_scale_range"),
    ({"clip_weights_sigma": 0.0}, "clip_weights_sigma"),
    ({"distill_T": 0.0}, "distill_T"),
    ({"distill_alpha": 1.5}, "distill_alpha"),
])
def test_options_validate_naming_the_field(kw, field):
    with pytest.raises(ConfigError, match=f"HWAOptions.{field}"):
        HWAOptions(**kw)


def test_hwa_needs_analog_layers():
    with pytest.raises(ValueError, match="convert_"):
        hwa_(torch.nn.Sequential(torch.nn.Linear(2, 2)), HWAOptions(weight_noise_rel=0.1))


def test_eval_mode_is_not_perturbed_and_context_manager_removes():
    model = an.convert_(torch.nn.Sequential(torch.nn.Linear(16, 8)), an.presets.ideal())
    ref = model[0].to_float()
    x = torch.randn(32, 16)
    with hardware_aware(model, HWAOptions(weight_noise_rel=0.2)):
        assert model[0].weight_perturbation is not None
        model.eval()
        assert torch.allclose(model(x), ref(x), atol=1e-5)
        model.train()
        assert not torch.allclose(model(x), ref(x), atol=1e-2)
    assert model[0].weight_perturbation is None


def test_additive_noise_has_the_requested_std_relative_to_the_column_max():
    rel = 0.05
    layer = _layer(_ideal_with())
    model = torch.nn.Sequential(layer)
    hwa_(model, HWAOptions(weight_noise_rel=rel), seed=3)
    model.train()
    x = torch.eye(64)  # one-hot inputs read the array row by row
    with torch.no_grad():
        y = model(x)  # (64, 256) = perturbed W^T
    w_t = layer.weight.detach().t()
    col_max = w_t.abs().amax(dim=0, keepdim=True)
    z = (y - w_t) / col_max  # standard normal times rel
    n = z.numel()
    # the sample std of n normals is within 5 standard errors (sqrt(1/(2n))) of the truth
    assert abs(float(z.std()) / rel - 1) < 5 / math.sqrt(2 * n)
    assert abs(float(z.mean())) < 5 * rel / math.sqrt(n)


def test_multiplicative_and_drift_scale_follow_their_definitions():
    w = torch.full((1, 200, 500), 0.5)
    pert = WeightPerturbation(HWAOptions(weight_noise_prop=0.1), seed=0)
    out = pert(w, _layer(_ideal_with()))
    rel = (out - w) / w
    assert abs(float(rel.std()) / 0.1 - 1) < 5 / math.sqrt(2 * w.numel())
    pert = WeightPerturbation(HWAOptions(drift_scale_range=(0.6, 0.9)), seed=0)
    factors = []
    for _ in range(50):
        ratio = pert(w, _layer(_ideal_with())) / w
        assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio))  # one factor per layer and batch
        factors.append(float(ratio.flatten()[0]))
    assert min(factors) >= 0.6 - 1e-6 and max(factors) <= 0.9 + 1e-6
    assert max(factors) - min(factors) > 0.1  # resampled every batch


def test_programming_std_reproduces_the_reference_pcm_table():
    # docs/references.md section 2: sigma_prog at g = 0.01, 0.1, 0.5, 1 (uS) for G+; G- sits at g = 0
    cfg = an.presets.pcm()
    g = torch.tensor([0.01, 0.10, 0.50, 1.00])
    s_ref = torch.tensor([0.283, 0.448, 0.953, 1.055])
    s0 = 0.26348
    expected = torch.sqrt(s_ref**2 + s0**2) / 25.0  # normalised units (span 25 uS)
    assert torch.allclose(programming_std(g, cfg), expected, rtol=2e-3)
    assert torch.allclose(programming_std(-g, cfg), expected, rtol=2e-3)  # the pair is symmetric


def test_device_noise_scale_samples_the_programming_noise():
    cfg = _ideal_with(_pcm_device())
    w = torch.full((1, 300, 400), 0.5)
    pert = WeightPerturbation(HWAOptions(device_noise_scale=2.0), seed=1)
    dev = pert(w, _layer(cfg)) - w
    sigma = 2.0 * math.sqrt(0.953**2 + 0.26348**2) / 25.0
    assert abs(float(dev.std()) / sigma - 1) < 5 / math.sqrt(2 * w.numel())


def test_device_noise_needs_a_device_model():
    model = an.convert_(torch.nn.Sequential(torch.nn.Linear(4, 4)), an.presets.standard())
    hwa_(model, HWAOptions(device_noise_scale=1.0))
    with pytest.raises(ValueError, match="programming noise"):
        model.train()(torch.randn(2, 4))


def test_device_sample_at_one_year_has_the_reference_drift_dispersion():
    # drift only, g = 1: nu = |N(0.049, 0.008)|; after global compensation the weights spread by
    # the std/mean of ((t + t0)/t0)^-nu, a log-normal with s = 0.008 * ln((t + t0)/t0)
    cfg = _ideal_with(_pcm_device(programming_noise=False, drift=None))
    w = torch.ones(1, 400, 500)
    t = 31_536_000.0
    out = device_weights(w, cfg, t, torch.Generator().manual_seed(0))
    s = 0.008 * math.log((t + 20.0) / 20.0)
    expected = math.sqrt(math.exp(s * s) - 1)
    assert abs(float(out.mean()) - 1.0) < 1e-4  # global compensation undoes the mean drift
    assert abs(float(out.std()) / expected - 1) < 0.03
    hwa = WeightPerturbation(HWAOptions(device_noise_scale=1.0, device_time_s=t), seed=0)
    assert abs(float(hwa(w, _layer(cfg)).std()) / expected - 1) < 0.03


def test_backward_uses_the_perturbed_weights():
    layer = _layer(_ideal_with(), k=32, m=16)
    hwa_(torch.nn.Sequential(layer), HWAOptions(weight_noise_rel=0.3))
    layer.train()
    x = torch.eye(32, requires_grad=True)
    y = layer(x)  # rows of the perturbed W^T
    g = torch.randn_like(y)
    (y * g).sum().backward()
    assert torch.allclose(x.grad, g @ y.detach().t(), atol=1e-5)
    assert not torch.allclose(x.grad, g @ layer.weight.detach(), atol=1e-3)
    # the weight gradient is the straight-through x^T g
    assert torch.allclose(layer.weight.grad, g.t() @ x.detach(), atol=1e-5)


def test_reseed_reproduces_the_noise_and_streams_advance():
    model = an.convert_(torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)),
                        an.presets.standard())
    hwa_(model, HWAOptions(weight_noise_rel=0.1))
    model.train()
    x = torch.randn(5, 16)
    reseed_noise_(model, 7)
    with torch.no_grad():
        a1, a2 = model(x), model(x)
        reseed_noise_(model, 7)
        b1 = model(x)
    assert torch.equal(a1, b1)
    assert not torch.equal(a1, a2)


def test_clip_weights_per_output_channel():
    torch.manual_seed(0)
    model = an.convert_(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.Linear(8, 5)),
                        an.presets.standard())
    with torch.no_grad():
        model[0].weight[2, 0, 0, 0] = 10.0  # an outlier in output channel 2
    before = model[0].weight.detach().clone().view(8, -1)
    bound = before.std(dim=1, unbiased=False, keepdim=True) * 2.0
    clip_weights_(model, 2.0)
    after = model[0].weight.detach().view(8, -1)
    torch.testing.assert_close(after, before.clamp(-bound, bound), rtol=1e-5, atol=1e-7)
    assert float(after[2].abs().max()) < 10.0
    with pytest.raises(ValueError, match="sigma"):
        clip_weights_(model, -1.0)


@pytest.mark.parametrize(("nx", "nf"), [(12, 7), (9, 9)])
def test_clip_weights_of_hf_conv1d_is_per_output_column(nx, nf):
    """A Hugging Face Conv1D stores its weight (inputs, outputs): clipping it equals clipping the
    AnalogLinear holding the transposed weight (statistics per output, not per input row); the
    square case catches a layout guessed from the shape."""
    cfg = an.presets.standard()
    hf = an.AnalogHFConv1D(nf, nx, bias=False, cfg=cfg)
    lin = an.AnalogLinear(nx, nf, bias=False, cfg=cfg)
    g = torch.Generator().manual_seed(1)
    w = torch.randn(nx, nf, generator=g) * torch.linspace(0.1, 2.0, nf)  # column scales differ
    w[3, 2] = 25.0  # an outlier in output column 2
    with torch.no_grad():
        hf.weight.copy_(w)
        lin.weight.copy_(w.t())
    clip_weights_(hf, 1.5)
    clip_weights_(lin, 1.5)
    torch.testing.assert_close(hf.weight.detach().t(), lin.weight.detach(), rtol=1e-6, atol=0.0)
    bound = w.std(dim=0, unbiased=False) * 1.5  # the oracle: per column of the (in, out) weight
    torch.testing.assert_close(hf.weight.detach(), torch.maximum(torch.minimum(w, bound), -bound),
                               rtol=1e-5, atol=1e-7)
    assert float(hf.weight.detach()[3, 2]) < 25.0


def test_distillation_loss_against_its_formula():
    torch.manual_seed(0)
    s, t = torch.randn(6, 10), torch.randn(6, 10)
    y = torch.randint(0, 10, (6,))
    assert torch.equal(distillation_loss(s, t, y, T=2.0, alpha=0.0), F.cross_entropy(s, y))
    T, a = 3.0, 0.4
    p_t = F.softmax(t / T, dim=1)
    kl = (p_t * (p_t.log() - F.log_softmax(s / T, dim=1))).sum(dim=1).mean()
    expected = (1 - a) * F.cross_entropy(s, y) + a * T * T * kl
    assert torch.allclose(distillation_loss(s, t, y, T=T, alpha=a), expected, atol=1e-6)
    assert float(distillation_loss(s, s, y, T=T, alpha=1.0)) == pytest.approx(0.0, abs=1e-6)


def test_hwa_works_with_every_torch_optimizer():
    for opt_cls in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop):
        model = an.convert_(torch.nn.Sequential(torch.nn.Linear(8, 4)), an.presets.standard())
        hwa_(model, HWAOptions(weight_noise_rel=0.05))
        opt = opt_cls(model.parameters(), lr=0.01)
        w0 = model[0].weight.detach().clone()
        F.mse_loss(model.train()(torch.randn(16, 8)), torch.randn(16, 4)).backward()
        opt.step()
        assert not torch.equal(model[0].weight, w0)
    remove_hwa_(model)
    assert model[0].weight_perturbation is None


def test_programming_std_equals_the_device_model_with_g_min():
    from analogue.physics import devices

    cfg = an.presets.pcm().replace(**{"mapping.g_min_uS": 2.0})
    mp, prog = cfg.mapping, cfg.device.programming
    w = torch.linspace(-1, 1, 101, dtype=torch.float64)
    span = mp.g_max_uS - mp.g_min_uS
    s_on = devices.programming_std_uS(w.abs() * span / mp.g_max_uS + mp.g_min_uS / mp.g_max_uS, prog, mp.g_max_uS)
    s_off = devices.programming_std_uS(torch.full((), mp.g_min_uS / mp.g_max_uS, dtype=torch.float64), prog,
                                       mp.g_max_uS)
    expected = 1.5 * torch.sqrt(s_on**2 + s_off**2) / span
    torch.testing.assert_close(programming_std(w, cfg, 1.5), expected)
    torch.testing.assert_close(programming_std(w, cfg, 1.5, extra_var=0.01), torch.sqrt(expected**2 + 0.01))


@pytest.mark.parametrize("opts", [
    HWAOptions(device_noise_scale=3.0),
    HWAOptions(device_noise_scale=1.0, weight_noise_rel=0.02, drift_scale_range=(0.8, 0.9)),
    HWAOptions(weight_noise_rel=0.05),
])
@pytest.mark.parametrize("g_min", [0.0, 2.5])
@pytest.mark.parametrize("poly", [None, (0.02,), (0.0, 0.05), (0.01, -0.02, 0.03)])
def test_weight_unit_perturbation_equals_the_normalised_one(opts, g_min, poly):
    # perturb_weights works on the weights in weight units (no normalised copy, no multiply
    # back); with the same seed and a contiguous layout it draws the same samples as the
    # normalised path, so blocks + s * std(|w| / s) * z == (w / s + std(w / s) * z) * s, for the
    # PCM polynomial, a constant, a linear one that reaches zero (clamped) and another quadratic
    cfg = _ideal_with(_pcm_device()).replace(**{"mapping.g_min_uS": g_min})
    if poly is not None:
        cfg = cfg.replace(device=dataclasses.replace(cfg.device, programming=ProgrammingNoise(poly)))
    layer = _layer(cfg)
    torch.manual_seed(1)
    blocks = torch.randn(3, 64, 256) * 0.1
    s = blocks.abs().amax(dim=1, keepdim=True)
    a = WeightPerturbation(opts, seed=5)
    b = WeightPerturbation(opts, seed=5)
    assert a.supports_weight_units(cfg)
    got = a.perturb_weights(blocks, s, layer)
    want = b(blocks / s, layer) * s
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got, blocks, atol=1e-4)


def test_device_noise_in_training_reads_has_the_programming_std():
    # through the layer (a Linear's blocks are a transposed view of its weight): each read of the
    # perturbed array deviates from W^T by s * sigma(|w| / s), sigma the PCM programming std
    cfg = _ideal_with(_pcm_device())
    layer = _layer(cfg)
    model = torch.nn.Sequential(layer)
    hwa_(model, HWAOptions(device_noise_scale=2.0), seed=3)
    model.train()
    with torch.no_grad():
        y = model(torch.eye(64))  # (64, 256) = perturbed W^T
    w_t = layer.weight.detach().t()
    s = w_t.abs().amax(dim=0, keepdim=True)
    sigma = programming_std(w_t / s, cfg, 2.0) * s
    z = (y - w_t) / sigma
    n = z.numel()
    assert abs(float(z.std()) - 1) < 5 / math.sqrt(2 * n)
    assert abs(float(z.mean())) < 5 / math.sqrt(n)
