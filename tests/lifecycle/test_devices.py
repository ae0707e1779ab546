"""program_ / drift_ / compensation on models: explicit, reproducible, tracking the true drift."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from torch import nn

import analogue as an
from analogue.config import Aging, Faults
from analogue.physics import mapping

HOUR, DAY, WEEK, MONTH, YEAR = 3600.0, 86_400.0, 604_800.0, 2_592_000.0, 31_536_000.0


def _quiet(cfg: an.AnalogConfig) -> an.AnalogConfig:
    """Converters and output noise off: only the device remains."""
    return cfg.replace(
        **{"adc.bits": None, "adc.clip": False, "dac.bits": None, "noise.out_std_rel_fs": 0.0}
    )


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(40, 300), nn.ReLU(), nn.Linear(300, 10))


def _held(layer: an.AnalogLayer, instance: int = 0) -> torch.Tensor:
    """The (K, M) weights a programmed linear layer holds now, rebuilt from its buffers."""
    g, k, m = layer.matrix_shape
    b = layer.prog_scales.shape[0]
    w = (
        layer.prog_w[instance * b : (instance + 1) * b]
        * layer.prog_scales
        * layer.prog_comp[instance * b : (instance + 1) * b]
    )
    return w.view(g, -1, m)[0, :k]


def test_ideal_device_programs_exactly():
    model = an.convert_(_mlp(), an.presets.ideal())
    x = torch.randn(8, 40)
    with torch.no_grad():
        ref = model.eval()(x)
        an.program_(model, seed=3)
        torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)
        an.drift_(model, YEAR, 350.0, compensation="column")
        torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)


def test_drift_before_program_fails_clearly():
    model = an.convert_(_mlp(), an.presets.pcm())
    with pytest.raises(RuntimeError, match=r"not programmed; call an.program_"):
        an.drift_(model, DAY)
    with pytest.raises(RuntimeError, match="program_"):
        an.compensate_drift_(model)
    with pytest.raises(ValueError, match="no analog layers"):
        an.program_(_mlp())


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_times_and_temperatures_fail(bad):
    model = an.program_(an.convert_(_mlp(), an.presets.pcm()))
    with pytest.raises(ValueError, match="t_s"):
        an.drift_(model, bad)
    with pytest.raises(ValueError, match="kelvin"):
        an.drift_(model, DAY, temperature_k=bad if bad != -1.0 else 0.0)
    with pytest.raises(ValueError, match="compensation"):
        an.drift_(model, DAY, compensation="per-tile")
    with pytest.raises(ValueError, match="recalibrate_every_s needs"):
        an.drift_(model, DAY, recalibrate_every_s=HOUR)
    with pytest.raises(ValueError, match="instances"):
        an.program_(model, instances=0)


def test_programming_is_reproducible_and_explicit():
    cfg = _quiet(an.presets.pcm())
    a = an.convert_(_mlp(), cfg).eval()
    b = copy.deepcopy(a)
    an.program_(a, seed=7)
    an.program_(b, seed=7)
    x = torch.randn(16, 40)
    with torch.no_grad():
        for t in (0.0, HOUR, YEAR):
            an.drift_(a, t)
            an.drift_(b, t)
            assert torch.equal(a(x), b(x))
        an.program_(b, seed=8)
        an.drift_(b, YEAR)
        assert not torch.equal(a(x), b(x))
        # the forward itself never resamples: reading twice gives the same result
        assert torch.equal(a(x), a(x))


def test_drift_is_repeatable_at_several_times():
    model = an.program_(an.convert_(_mlp(), _quiet(an.presets.pcm())).eval(), seed=1)
    x = torch.randn(16, 40)
    with torch.no_grad():
        y_hour = an.drift_(model, HOUR)(x)
        y_year = an.drift_(model, YEAR)(x)
        assert torch.equal(an.drift_(model, HOUR)(x), y_hour)
        # drift only shrinks the outputs: a year later they are smaller on average
        assert float(y_year[:, :].abs().mean()) < float(y_hour.abs().mean())
    assert an.nn.programmed.device_time(model[0]) == (HOUR, 300.0)


def test_training_mode_reads_the_trainable_weight():
    cfg = _quiet(an.presets.pcm())
    model = an.convert_(_mlp(), cfg)
    ref = copy.deepcopy(model)
    an.program_(model, seed=2)
    x = torch.randn(16, 40)
    model.train(), ref.train()
    torch.testing.assert_close(model(x), ref(x))
    model.eval(), ref.eval()
    with torch.no_grad():
        assert float((model(x) - ref(x)).abs().max()) > 1e-3  # programming noise
        # backprop through a programmed eval-mode layer uses the weights it holds
    y = model(x).sum()
    y.backward()
    assert model[0].weight.grad is not None


def test_weight_changes_need_reprogramming():
    model = an.program_(an.convert_(_mlp(), _quiet(an.presets.pcm())).eval(), seed=4)
    x = torch.randn(16, 40)
    with torch.no_grad():
        before = model(x)
        model[2].weight.mul_(2.0)
        assert torch.equal(model(x), before)  # the array still holds the old weights
        an.program_(model, seed=4)
        assert float((model(x) - before).abs().max()) > 0.1


def test_state_dict_round_trip_into_a_fresh_model():
    cfg = _quiet(an.presets.pcm())
    model = an.program_(an.convert_(_mlp(), cfg).eval(), seed=5)
    an.drift_(model, DAY, compensation="global")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    fresh = an.convert_(_mlp(seed=9), cfg).eval()
    fresh.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    x = torch.randn(16, 40)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
        an.drift_(fresh, YEAR)
        an.drift_(model, YEAR)
        assert torch.equal(fresh(x), model(x))  # the same instance continues to drift
    # an unprogrammed state unprograms
    model.load_state_dict(an.convert_(_mlp(), cfg).state_dict())
    assert model[0].prog_w is None
    # deepcopy and dtype moves carry the state
    double = copy.deepcopy(fresh).double()
    assert double[0].prog_w.dtype == torch.float64 and double[0].prog_seed.dtype == torch.int64


def test_monte_carlo_instances_are_vectorised_exactly():
    cfg = _quiet(an.presets.pcm())
    model = an.convert_(_mlp(), cfg).eval()
    an.program_(model, seed=11, instances=3)
    an.drift_(model, WEEK, compensation="global")
    x = torch.randn(5, 40)
    with torch.no_grad():
        y = model(x.repeat(3, 1)).view(3, 5, 10)
        for r in range(3):
            h = torch.relu(x @ _held(model[0], r) + model[0].bias)
            expect = h @ _held(model[2], r) + model[2].bias
            torch.testing.assert_close(y[r], expect, rtol=1e-4, atol=1e-4)
        assert float((y[0] - y[1]).abs().max()) > 1e-3  # independent instances
        with pytest.raises(ValueError, match="copies of the data"):
            model(x)
    with pytest.raises(RuntimeError, match="evaluation only"):
        model(x.repeat(3, 1))  # gradients enabled


def _true_drift(layer: an.AnalogLayer, reps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares drift of the weights the arrays hold now against the programmed targets:
    per instance ``(R,)`` and per array column ``(R*B, 1, M)``."""
    w0 = layer.prog_target.repeat(reps, 1, 1)
    wt = layer.prog_w
    col = (w0 * wt).sum(1, keepdim=True) / (w0 * w0).sum(1, keepdim=True)
    glob = (w0 * wt).view(reps, -1).sum(1) / (w0 * w0).view(reps, -1).sum(1)
    return glob, col


def test_compensation_tracks_the_true_drift():
    """Default mapping, output noise and 8-bit converters on (docs/references.md section 2 pitfall):
    from 1 h to 1 y the factors stay within 5 % of the weights' true least-squares drift."""
    cfg = an.presets.pcm()
    assert cfg.noise.out_std_rel_fs > 0 and cfg.mapping.scale == "column"
    torch.manual_seed(0)
    layer = an.AnalogLinear(512, 128, bias=False, cfg=cfg).eval()
    an.program_(layer, seed=1, instances=2)
    x = torch.rand(64, 512)
    exact = x @ layer.weight.detach().t()
    for t in (HOUR, DAY, WEEK, MONTH, YEAR):
        an.drift_(layer, t, compensation="global")
        glob, col = _true_drift(layer, 2)
        est = 1.0 / layer.prog_comp.view(2, -1)[:, 0]
        assert float(glob.max()) < 0.8  # the weights really drifted
        assert bool(((est / glob - 1).abs() < 0.05).all()), (t, est, glob)
        with torch.no_grad():
            err_comp = float((layer(x.repeat(2, 1))[:64] - exact).norm() / exact.norm())
        an.drift_(layer, t, compensation="column")
        est_col = 1.0 / layer.prog_comp
        assert bool(((est_col / col - 1).abs() < 0.05).all()), t
        an.drift_(layer, t, compensation="none")
        with torch.no_grad():
            err_none = float((layer(x.repeat(2, 1))[:64] - exact).norm() / exact.norm())
        assert err_comp < 0.5 * err_none  # and it restores the outputs


def test_compensation_tracks_drift_when_weights_do_not_fill_the_range():
    """The incumbent's pitfall: weights far below the conductance range (tile-wise scale and
    one outlier). The global factor must still follow the drift, not stay near 1."""
    cfg = an.presets.pcm().replace(**{"mapping.scale": "tile"})
    layer = an.AnalogLinear(256, 128, bias=False, cfg=cfg).eval()
    with torch.no_grad():
        layer.weight.copy_(torch.randn(128, 256, generator=torch.Generator().manual_seed(0)) * 0.01)
        layer.weight[0, 0] = 1.0
    an.program_(layer, seed=2)
    for t in (HOUR, YEAR):
        an.drift_(layer, t, compensation="global")
        glob, _ = _true_drift(layer, 1)
        est = 1.0 / float(layer.prog_comp.flatten()[0])
        assert est == pytest.approx(float(glob), rel=0.05)
        assert est < 0.85


def test_periodic_recalibration_uses_the_last_calibration():
    layer = an.AnalogLinear(256, 64, bias=False, cfg=an.presets.pcm()).eval()
    an.program_(layer, seed=3)
    an.drift_(layer, DAY, compensation="global")
    at_day = layer.prog_comp.clone()
    an.drift_(layer, 1.9 * DAY, compensation="global")
    at_now = layer.prog_comp.clone()
    an.drift_(layer, 1.9 * DAY, compensation="global", recalibrate_every_s=DAY)
    torch.testing.assert_close(layer.prog_comp, at_day, rtol=2e-3, atol=0)
    assert float((at_now / at_day - 1).abs().min()) > 0.005
    assert an.nn.programmed.device_time(layer)[0] == pytest.approx(1.9 * DAY)
    # compensation=None keeps the factors the chip has; "none" removes them
    an.drift_(layer, YEAR)
    torch.testing.assert_close(layer.prog_comp, at_day, rtol=2e-3, atol=0)
    an.drift_(layer, YEAR, compensation="none")
    assert bool((layer.prog_comp == 1).all())


def test_temperature_accelerates_drift():
    layer = an.AnalogLinear(
        128, 32, bias=False, cfg=_quiet(an.presets.pcm(read_noise=False))
    ).eval()
    an.program_(layer, seed=0)
    an.drift_(layer, DAY)
    cold = float(_true_drift(layer, 1)[0])
    an.drift_(layer, DAY, temperature_k=358.15)
    hot = float(_true_drift(layer, 1)[0])
    # Arrhenius-accelerated time and the conductance temperature coefficient, from the config
    temp = layer.cfg.device.temperature
    accel = math.exp(temp.drift_activation_eV / 8.617333262e-5 * (1 / 300 - 1 / 358.15))
    assert accel > 5
    assert hot / (1 + temp.g_coeff_per_k * 58.15) < cold


def test_faults_and_aging_on_a_layer():
    cfg = _quiet(an.presets.pcm(faults=Faults(stuck_on_rate=0.01, stuck_off_rate=0.02)))
    cfg = cfg.replace(**{"device.aging": Aging(range_loss_per_decade=0.2, onset_cycles=10)})
    layer = an.AnalogLinear(256, 256, bias=False, cfg=cfg).eval()
    an.program_(layer, seed=0)
    stuck = layer.prog_stuck
    n = stuck.numel()
    for code, rate in ((2, 0.01), (1, 0.02)):
        frac = float((stuck == code).double().mean())
        assert abs(frac - rate) < 5 * math.sqrt(rate / n)
    assert int(layer.prog_cycles) == 1
    an.program_(layer, seed=0, cycles=1000)  # two decades past onset: 60 % of the range left
    healthy = layer.prog_stuck == 0
    g_top = torch.stack([layer.prog_g_pos, layer.prog_g_neg])[healthy]
    assert float(g_top.max()) < 0.6 * 25.0 + 6 * 1.06  # capped target plus programming noise
    an.program_(layer, seed=0)
    assert int(layer.prog_cycles) == 1001


def test_calibrate_after_programming_reads_the_array():
    model = an.convert_(_mlp(), an.presets.pcm()).eval()
    an.program_(model, seed=0)
    an.drift_(model, MONTH)
    before = float(model[0].out_bound)
    an.calibrate_(model, torch.randn(64, 40))
    assert float(model[0].out_bound) != before
    assert mapping.n_row_blocks(300, 256) == model[2].prog_scales.shape[0]


def test_rram_levels_then_relaxation_on_a_layer():
    cfg = _quiet(an.presets.rram(programming_noise=False)).replace(**{"mapping.g_min_uS": 10.0})
    layer = an.AnalogLinear(256, 256, bias=False, cfg=cfg).eval()
    an.program_(layer, seed=0)
    w0 = layer.prog_w
    torch.testing.assert_close(w0 * 7, torch.round(layer.prog_target * 7), rtol=0, atol=1e-5)
    an.drift_(layer, DAY)
    # both devices of a pair relax by 1.5 uS over a 30 uS range (from 10 uS: G >= 0 never binds)
    dev = (layer.prog_w - w0).flatten()
    expect = math.sqrt(2) * 1.5 * math.sqrt(1 - math.exp(-DAY / 100.0)) / 30.0
    assert float(dev.mean()) == pytest.approx(0.0, abs=5 * expect / math.sqrt(dev.numel()))
    assert float(dev.std()) == pytest.approx(expect, rel=10 / math.sqrt(2 * dev.numel()))


# -- refusals: what cannot be programmed or drifted -----------------------------------------------
@pytest.mark.parametrize(("layer", "value"), [(0, float("nan")), (2, float("inf"))])
def test_program_refuses_non_finite_weights_naming_the_layer(layer, value):
    model = an.convert_(_mlp(), _quiet(an.presets.pcm()))
    with torch.no_grad():
        model[layer].weight[3, 5] = value
    with pytest.raises(ValueError, match=rf"^{layer}: weight has 1 NaN/Inf entries of \d+; .*before an\.program_"):
        an.program_(model, seed=0)
    # checked before any layer is programmed: the model is left as it was
    assert model[0].prog_w is None and model[2].prog_w is None


def test_program_seed_must_fit_the_int64_seed_buffer():
    model = an.convert_(_mlp(), _quiet(an.presets.pcm()))
    lim = an.lifecycle.devices.seed_limit(2)
    assert lim == ((1 << 63) - 2) // 1_000_003
    for bad in (2**70, lim + 1, -lim - 1):
        with pytest.raises(ValueError, match=r"^program_: seed must lie in \[-\d+, \d+\]"):
            an.program_(model, seed=bad)
    assert model[0].prog_w is None
    for good in (lim, -lim):
        an.program_(model, seed=good)
        assert int(model[2].prog_seed) == good * 1_000_003 + 1
    import numpy as np

    an.program_(model, seed=np.int64(7))  # integer types other than int are integers too
    assert int(model[0].prog_seed) == 7 * 1_000_003
    with pytest.raises(TypeError, match="seed must be an integer"):
        an.program_(model, seed=1.5)


def test_drift_refuses_absurd_times_and_stays_finite_up_to_the_limit():
    from analogue.nn.programmed import MAX_DEVICE_TIME_S

    model = an.program_(an.convert_(_mlp(), an.presets.pcm()), seed=0)
    for bad in (1e308, MAX_DEVICE_TIME_S * 1.01):
        with pytest.raises(ValueError, match=r"^drift_: t_s: .* past the longest device time"):
            an.drift_(model, bad)
    with pytest.raises(ValueError, match=r"^drift_: recalibrate_every_s: .* past"):
        an.drift_(model, DAY, compensation="global", recalibrate_every_s=1e300)
    assert an.nn.programmed.device_time(model[0]) == (0.0, 300.0)  # nothing moved
    for temp in (None, 1000.0):  # hot: drift runs 3e3 times faster (Arrhenius, 0.3 eV)
        an.drift_(model, MAX_DEVICE_TIME_S, temp)
        for layer in (model[0], model[2]):
            assert bool(torch.isfinite(layer.prog_w).all())


def test_a_state_programmed_under_another_config_is_refused():
    model = an.program_(an.convert_(_mlp(), an.presets.quantized()).eval(), seed=1)
    state = model.state_dict()
    other = an.convert_(_mlp(), an.presets.pcm()).eval()
    with pytest.raises(ValueError, match=r"^0: cannot load a state programmed with another config "
                                         r"\(device\.kind: 'ideal' programmed vs 'pcm' now; .*an\.load"):
        other.load_state_dict(state)
    # the same config loads, and its record travels with the state
    same = an.convert_(_mlp(seed=3), an.presets.quantized()).eval()
    same.load_state_dict(state)
    assert torch.equal(same[2].prog_cfg, model[2].prog_cfg)
    # a layer whose config was swapped after programming cannot drift
    same[2].cfg = an.presets.quantized(adc_bits=6)
    with pytest.raises(ValueError, match=r"^2: cannot drift_ .*adc\.bits: 8 programmed vs 6 now"):
        an.drift_(same, DAY)
    assert an.nn.programmed.device_time(same[0])[0] == 0.0  # checked before any layer moved


def test_a_state_without_config_record_loads_with_a_warning(caplog):
    cfg = _quiet(an.presets.pcm())
    model = an.program_(an.convert_(_mlp(), cfg).eval(), seed=1)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("prog_cfg")}
    fresh = an.convert_(_mlp(), cfg).eval()
    with caplog.at_level("WARNING", logger="analogue.nn.programmed"):
        fresh.load_state_dict(state)
    assert "0: the programmed state carries no record of its config" in caplog.text
    x = torch.randn(4, 40)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_program_and_drift_show_progress_on_request(capsys):
    model = an.convert_(_mlp(), _quiet(an.presets.pcm()))
    an.program_(model, seed=0, progress=True)
    an.drift_(model, DAY, progress=True)
    err = capsys.readouterr().err
    assert "program_" in err and "drift_" in err and "layer" in err
    an.program_(model, seed=0, progress=False)
    an.drift_(model, DAY, progress=False)
    assert capsys.readouterr().err == ""
