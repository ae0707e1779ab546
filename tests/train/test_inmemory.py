"""In-memory training: device configs, the pulsed array, the optimizers and the analog backward."""

import copy
import io
import math

import pytest
import torch
from torch import nn

import analogue as an
from analogue.config import ConfigError
from analogue.config import pulsed as pc
from analogue.train import inmemory as im
from analogue.train.inmemory.arrays import PulsedArray

Z = 5.0


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def one_thread():
    """Small matmuls run faster on one thread than on two shared ones; restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _mlp(seed=0, cfg=None, bias=True):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(8, 6, bias=bias), nn.ReLU(), nn.Linear(6, 3, bias=bias))
    return an.convert_(m, cfg or an.presets.ideal())


# -- configs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [pc.ideal_device, pc.rpu_constant_step, pc.rram_asymmetric, pc.pcm_like])
def test_device_presets_round_trip(factory):
    dev = factory()
    assert pc.device_from_dict(dev.to_dict()) == dev
    assert dev.dw_nominal > 0


@pytest.mark.parametrize("cls,field,value,match", [
    (pc.ConstantStepDevice, "n_states", 1, "n_states"),
    (pc.ConstantStepDevice, "w_min", 0.5, "w_min"),
    (pc.ConstantStepDevice, "asym_up_down", 1.0, "asym_up_down"),
    (pc.SoftBoundsDevice, "c2c_std_rel", -0.1, "c2c_std_rel"),
    (pc.SoftBoundsDevice, "n_states", 3, "raise n_states"),
    (pc.PCMLikeDevice, "reset_threshold_rel", 1.5, "reset_threshold_rel"),
])
def test_device_config_validation_names_the_field(cls, field, value, match):
    with pytest.raises(ConfigError, match=match):
        cls(**{field: value})


def test_device_from_dict_rejects_unknown_kind_and_fields():
    with pytest.raises(ConfigError, match="unknown kind"):
        pc.device_from_dict({"kind": "memristor"})
    with pytest.raises(ConfigError, match="did you mean 'n_states'"):
        pc.device_from_dict({"kind": "soft_bounds", "n_state": 10})


def test_backward_config_validates_and_copies_the_forward():
    with pytest.raises(ConfigError, match="BackwardConfig"):
        pc.BackwardConfig(adc_bits=0)
    with pytest.raises(ConfigError, match="out_std_rel_fs"):
        pc.BackwardConfig(out_std_rel_fs=-1.0)
    b = pc.BackwardConfig.like_forward(an.presets.standard())
    assert (b.dac_bits, b.adc_bits, b.out_bound, b.out_std_rel_fs) == (8, 8, 10.0, 0.004)


# -- the pulsed array ----------------------------------------------------------------------------------
def test_device_to_device_parameters_have_the_configured_spread():
    dev = pc.SoftBoundsDevice(n_states=500, asym_up_down=0.1, d2d_step_std_rel=0.3, d2d_asym_std=0.05,
                              d2d_bound_std_rel=0.2)
    arr = PulsedArray.sample(dev, (200, 200), _gen(), torch.zeros(1))
    t = arr.tensors
    n = 200 * 200
    step = (t["step_up"] + t["step_down"]) / 2
    asym = (t["step_up"] - t["step_down"]) / (t["step_up"] + t["step_down"])
    # log-normal factors of mean 1 and log-std 0.3 / 0.2; imbalance mean 0.1, std 0.05
    assert abs(float(step.mean()) / dev.dw_nominal - 1) < Z * math.sqrt(math.exp(0.09) - 1) / math.sqrt(n)
    assert abs(float(torch.log(t["w_max"]).std()) - 0.2) < Z * 0.2 / math.sqrt(2 * n)
    assert abs(float(asym.mean()) - 0.1) < Z * 0.05 / math.sqrt(n)
    assert abs(float(asym.std()) - 0.05) < 0.002
    # symmetry points scatter around (s_up - s_down) / (s_up / w_max + s_down / |w_min|)
    sp = arr.symmetry_point()
    assert float(sp.mean()) > 0.05 and float(sp.std()) > 0.02


def test_program_clips_to_each_device_and_pcm_pairs_hold_one_sign():
    dev = pc.ConstantStepDevice(d2d_bound_std_rel=0.3)
    arr = PulsedArray.sample(dev, (50, 40), _gen(), torch.zeros(1))
    arr.program_(torch.full((50, 40), 5.0))
    assert torch.equal(arr.weight(), arr.tensors["w_max"])
    pcm = PulsedArray.sample(pc.pcm_like(), (10, 10), _gen(), torch.zeros(1))
    w = torch.linspace(-0.5, 0.5, 100).reshape(10, 10)
    pcm.program_(w)
    assert torch.allclose(pcm.weight(), w) and ((pcm.tensors["g_plus"] == 0) | (pcm.tensors["g_minus"] == 0)).all()


# -- optimizers ----------------------------------------------------------------------------------------
def _grads(model, x, y):
    """dL/dW of the plain-torch twin (exact), for the model's current weights."""
    twin = copy.deepcopy(model)
    an.to_digital_(twin)
    for p in twin.parameters():
        p.requires_grad_(True)
    nn.functional.cross_entropy(twin(x), y).backward()
    return [m.weight.grad for m in twin if isinstance(m, nn.Linear)]


def test_analog_sgd_update_is_minus_lr_times_gradient_in_expectation(one_thread):
    dev = pc.ConstantStepDevice(n_states=4000)  # symmetric, no variability, no noise
    g = _gen(1)
    x, y = torch.rand(16, 8, generator=g), torch.randint(0, 3, (16,), generator=g)
    lr, reps = 0.05, 150
    model = _mlp()
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
            opt.array(layer.weight).program_(w.clone())
            opt._write_back(layer.weight)
    for k, gk in enumerate(grads):
        dk = torch.stack([d[k] for d in deltas]).double()
        se = dk.std(0) / math.sqrt(reps)
        assert ((dk.mean(0) + lr * gk).abs() <= Z * se + 1e-7).all()


def test_weights_change_only_by_device_steps_and_biases_by_the_digital_optimizer():
    dev = pc.ConstantStepDevice(n_states=200)
    model = _mlp(cfg=an.presets.standard())
    opt = im.AnalogSGD(model, dev, lr=0.5, weight_scale=1.0, backward=pc.BackwardConfig())
    digital = list(im.digital_parameters(model))
    assert {id(p) for p in digital} == {id(m.bias) for m in an.analog_layers(model).values()}
    dig = torch.optim.SGD(digital, lr=0.1)
    layers = list(an.analog_layers(model).values())
    assert all(not layer.weight.requires_grad for layer in layers)
    w0 = [layer.weight.detach().clone() for layer in layers]
    b0 = [layer.bias.detach().clone() for layer in layers]
    x, y = torch.rand(32, 8), torch.randint(0, 3, (32,))
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    dig.step()
    for layer, w, b in zip(layers, w0, b0):
        steps = (layer.weight.detach() - w) / dev.dw_nominal
        assert torch.allclose(steps, steps.round(), atol=1e-3) and steps.abs().sum() > 0
        assert not torch.equal(layer.bias.detach(), b)
    assert opt.stats["device_pulses"] > 0 and opt.stats["array_updates"] == 2


def test_no_step_without_a_backward_and_eval_forwards_are_not_captured():
    model = _mlp()
    opt = im.AnalogSGD(model, pc.ideal_device(), lr=0.1)
    w0 = [p.detach().clone() for p in model.parameters()]
    model.eval()
    with torch.no_grad():
        model(torch.rand(4, 8))
    opt.step()
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), w0))
    model.train()
    model(torch.rand(4, 8))  # forward only: no error signal reached the arrays
    opt.step()
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), w0))


def test_first_layer_without_bias_still_receives_its_error():
    model = _mlp(bias=False)
    opt = im.AnalogSGD(model, pc.ConstantStepDevice(n_states=100), lr=1.0, weight_scale=1.0)
    first = model[0]
    w0 = first.weight.detach().clone()
    nn.functional.cross_entropy(model(torch.rand(16, 8)), torch.randint(0, 3, (16,))).backward()
    opt.step()
    assert not torch.equal(first.weight.detach(), w0)


def test_mixed_precision_keeps_the_exact_gradient_sum_digitally():
    """weight / scale + chi is the exact SGD trajectory for an ideal device (chi holds the rest)."""
    dev = pc.ConstantStepDevice(n_states=100)
    model = _mlp()
    ws, lr = 2.0, 0.3
    opt = im.MixedPrecision(model, dev, lr=lr, weight_scale=ws)
    layers = list(an.analog_layers(model).values())
    target = [layer.weight.detach().clone() / ws for layer in layers]
    g = _gen(2)
    for _ in range(5):
        x, y = torch.rand(8, 8, generator=g), torch.randint(0, 3, (8,), generator=g)
        grads = _grads(model, x, y)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
        for t, gk in zip(target, grads):
            t.sub_(lr / ws * gk)
    for layer, t in zip(layers, target):
        chi = opt.state[layer.weight]["chi"]
        assert torch.allclose(layer.weight.detach() / ws + chi, t, atol=1e-5)
        assert chi.abs().max() < dev.dw_nominal + 1e-6  # the rest is below one step


def test_tikitaka_updates_the_fast_array_and_transfers_columns_in_turn():
    dev = pc.SoftBoundsDevice(n_states=200, asym_up_down=0.2, d2d_asym_std=0.1)
    model = _mlp()
    opt = im.TikiTaka(model, dev, lr=1.0, transfer_lr=5.0, transfer_every=2, columns_per_transfer=3,
                      chop_every=1, weight_scale=1.0)
    first = model[0]
    st = opt.state[first.weight]
    fast = opt.array(first.weight, "fast")
    # zero shift: the fast array starts at, and is read against, each device's symmetry point
    assert torch.allclose(fast.weight(), fast.symmetry_point()) and torch.equal(st["fast_ref"], fast.weight())
    w0 = first.weight.detach().clone()
    x, y = torch.rand(16, 8), torch.randint(0, 3, (16,))
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert torch.equal(first.weight.detach(), w0)  # step 1: no transfer yet
    assert not torch.allclose(opt.array(first.weight, "fast").weight(), fast.symmetry_point())
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()  # step 2: columns 0..2 read and moved through H
    changed = (first.weight.detach() != w0).any(dim=0)
    assert changed[:3].any() and not changed[3:].any()
    assert torch.equal(st["chopper"][:3], -torch.ones(3)) and torch.equal(st["chopper"][3:], torch.ones(5))
    assert int(st["next_col"]) == 3 and opt.stats["transfer_reads"] == 6  # 3 columns x 2 layers


def test_optimizer_state_round_trips_through_torch_save():
    dev = pc.rram_asymmetric()
    model = _mlp()
    opt = im.TikiTaka(model, dev, lr=0.5, seed=3)
    nn.functional.cross_entropy(model(torch.rand(8, 8)), torch.randint(0, 3, (8,))).backward()
    opt.step()
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    model2 = _mlp(seed=1)
    opt2 = im.TikiTaka(model2, dev, lr=0.5, seed=4)
    opt2.load_state_dict(saved["opt"])
    for a, b in zip(an.analog_layers(model).values(), an.analog_layers(model2).values()):
        assert torch.equal(a.weight, b.weight)  # the weights are the loaded arrays' states
        for key in ("array", "fast"):
            for name, t in opt.state[a.weight][key].items():
                assert torch.equal(t, opt2.state[b.weight][key][name])


def test_close_restores_the_layers():
    model = _mlp()
    opt = im.AnalogSGD(model, pc.ideal_device(), lr=0.1, backward=pc.BackwardConfig())
    layer = model[0]
    assert isinstance(layer.input_gradient, im.TransposedRead)
    opt.close()
    assert layer.weight.requires_grad and not isinstance(layer.input_gradient, im.TransposedRead)
    assert len(list(im.digital_parameters(model))) == 4


def test_bad_models_and_arguments_fail_early():
    conv = an.convert_(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), an.presets.ideal())
    with pytest.raises(TypeError, match="groups=2"):
        im.AnalogSGD(conv, pc.ideal_device(), lr=0.1)
    with pytest.raises(ValueError, match="no analog layers"):
        im.AnalogSGD(nn.Sequential(nn.Linear(2, 2)), pc.ideal_device(), lr=0.1)
    with pytest.raises(ValueError, match="sampling"):
        im.AnalogSGD(_mlp(), pc.ideal_device(), lr=0.1, sampling="exact")
    with pytest.raises(ValueError, match="lr"):
        im.AnalogSGD(_mlp(), pc.ideal_device(), lr=-1.0)
    with pytest.raises(ValueError, match="chop_every"):
        im.TikiTaka(_mlp(), pc.ideal_device(), lr=0.1, chop_every=0)
    model = _mlp()
    opt = im.AnalogSGD(model, pc.ideal_device(), lr=0.1)
    out = model(torch.rand(2, 8))
    (out * float("nan")).sum().backward()
    with pytest.raises(ValueError, match="NaN or Inf"):
        opt.step()


# -- the analog backward ---------------------------------------------------------------------------
def test_transposed_read_backward_equals_exact_when_ideal_and_differs_when_not():
    torch.manual_seed(0)
    x = torch.rand(32, 8)
    y = torch.randint(0, 3, (32,))

    def input_grad(backward):
        m = _mlp(cfg=an.presets.standard())
        if backward is not None:
            im.attach_analog_backward_(m, backward)
        for layer in an.analog_layers(m).values():
            layer.reseed(0)
        xi = x.clone().requires_grad_()
        nn.functional.cross_entropy(m(xi), y).backward()
        return xi.grad

    exact = input_grad(None)
    ideal = input_grad(pc.BackwardConfig(dac_bits=None, adc_bits=None, out_bound=1e9, out_std_rel_fs=0.0))
    assert torch.allclose(exact, ideal, rtol=1e-4, atol=1e-7)
    analog = input_grad(pc.BackwardConfig(dac_bits=6, adc_bits=6, out_bound=10.0, out_std_rel_fs=0.01))
    rel = float((analog - exact).norm() / exact.norm())
    assert 1e-3 < rel < 0.5


# -- end to end --------------------------------------------------------------------------------------
def test_inmemory_demo_writes_results_and_energy(tmp_path, one_thread):
    from analogue.apps.inmemory_study import run_inmemory_demo

    res = run_inmemory_demo(["sgd"], epochs=1, out=tmp_path, log=lambda *a: None)
    assert (tmp_path / "inmemory.json").exists() and (tmp_path / "inmemory.png").exists()
    assert [r["algorithm"] for r in res["summary"]] == ["digital", "sgd"]
    energy = res["runs"]["sgd"]["energy"]
    assert energy is not None and energy["energy_per_sample_J"] > energy["update_energy_per_sample_J"] > 0
    with pytest.raises(ValueError, match="unknown device"):
        run_inmemory_demo(["sgd"], epochs=1, device="flash")


@pytest.mark.slow
def test_tikitaka_reaches_94_percent_on_digits_and_plain_sgd_falls_short(one_thread):
    from analogue.apps.inmemory_study import train_digits

    tt = train_digits("tikitaka", epochs=10, seed=0)
    sgd = train_digits("sgd", epochs=10, seed=0)
    assert tt["accuracy"][-1] >= 0.94
    assert tt["accuracy"][-1] - sgd["accuracy"][-1] >= 0.05
