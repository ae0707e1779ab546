"""No host sync in the forward or backward of an analog layer (training and inference).

A ``TorchDispatchMode`` records the ops that read a tensor's value back to the host
(``aten._local_scalar_dense``: what ``.item()``, ``float(t)``, ``int(t)`` and ``bool(t)`` call;
``aten.is_nonzero``, ``aten.item``) around a forward and backward of every layer kind, under every
preset, in training mode (with an HWA weight perturbation) and eval mode, programmed and not. On an
accelerator each of those would make the host wait for the device.

The NaN/Inf check of inputs and weights takes one of two paths (``AnalogLayer.device_side_checks``):
on CUDA a device-side assert (``aten._assert_async``, recorded separately and required: the check
must still run); on CPU a read of the 0-d check value from host memory (``Tensor.tolist``: no
dispatcher op, no device to wait for; 70x cheaper than the assert there). Both paths run here: the
``checks`` fixture also runs every case with CPU added to ``device_side_checks``, so the accelerator's
path is what is recorded (and its errors still name the layer: on CPU the assert raises at once).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import analogue as an
from analogue.config import AnalogConfig, presets
from analogue.config.array import ADCConfig, CircuitConfig, DACConfig
from analogue.config.device import ReadNoise
from analogue.nn import AnalogConv1d, AnalogConv2d, AnalogHFConv1D, AnalogLayer, AnalogLinear
from analogue.nn.int8 import Int8Conv1d, Int8Conv2d, Int8Linear
from analogue.train.hwa import HWAOptions, hwa_

_SYNCS = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.is_nonzero.default,
          torch.ops.aten.item.default}
_ASSERT = torch.ops.aten._assert_async


class SyncRecorder(TorchDispatchMode):
    """Records the host-reading ops (``syncs``) and the device-side asserts (``asserts``) run
    under it."""

    def __init__(self) -> None:
        super().__init__()
        self.syncs: list[str] = []
        self.asserts = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in _SYNCS:
            self.syncs.append(str(func))
        elif func.overloadpacket is _ASSERT:
            self.asserts += 1
        return func(*args, **(kwargs or {}))


def _dataclass_replace(cfg: AnalogConfig, **sections) -> AnalogConfig:
    from dataclasses import replace
    return replace(cfg, **sections)


PRESETS = {
    "ideal": presets.ideal(rows=16, cols=16),
    "standard": presets.standard(),
    "quantized": presets.quantized(rows=16, cols=16),
    "pcm": presets.pcm(rows=16, cols=16),
    "rram": presets.rram(rows=16, cols=16),
    "sram": presets.sram(rows=16, cols=16),
    "flash": presets.flash(rows=16, cols=16),
    # what no preset turns on: learned / fixed / per-tile input ranges, converter errors,
    # per-read noise, wire resistance
    "learned_range": _dataclass_replace(presets.standard(), dac=DACConfig(bits=8, range_policy="learned")),
    "fixed_range": _dataclass_replace(presets.quantized(rows=16, cols=16),
                                      dac=DACConfig(bits=6, range_policy="fixed", inl_std_lsb=0.3)),
    "dynamic_tile": _dataclass_replace(presets.quantized(rows=16, cols=16),
                                       dac=DACConfig(bits=8, range_policy="dynamic_tile")),
    "nonideal_converters": _dataclass_replace(
        presets.pcm(rows=16, cols=16),
        adc=ADCConfig(bits=8, out_bound=10.0, offset_std_lsb=0.5, gain_std_rel=0.01, inl_std_lsb=0.3,
                      dnl_std_lsb=0.2),
        device=_dataclass_replace(presets.pcm().device, read_noise=ReadNoise(per_read_std_frac=0.01))),
    "bit_serial": _dataclass_replace(presets.quantized(rows=16, cols=16), dac=DACConfig(bits=8, bits_per_cycle=2)),
    "ir_drop": _dataclass_replace(presets.standard(), tile=presets.ideal(rows=16, cols=16).tile,
                                  circuit=CircuitConfig(r_row_ohm=1.0, r_col_ohm=1.0)),
    "ir_drop_held": _dataclass_replace(presets.standard(), tile=presets.ideal(rows=16, cols=16).tile,
                                       circuit=CircuitConfig(r_row_ohm=1.0, r_col_ohm=1.0, fast_refresh_reads=4)),
}


def _layers(cfg: AnalogConfig):
    torch.manual_seed(0)
    yield AnalogLinear(40, 20, cfg=cfg), torch.randn(8, 40)
    yield AnalogHFConv1D(20, 40, cfg=cfg), torch.randn(2, 4, 40)
    yield AnalogConv1d(4, 6, 3, padding=1, cfg=cfg), torch.randn(2, 4, 10)
    yield AnalogConv2d(4, 6, 3, padding=1, groups=2, cfg=cfg), torch.randn(2, 4, 6, 6)


def _hwa(name: str) -> HWAOptions:
    if name in ("pcm", "rram", "flash", "nonideal_converters"):  # the device model's own noise
        return HWAOptions(device_noise_scale=1.0, drift_scale_range=(0.9, 1.0))
    return HWAOptions(weight_noise_rel=0.02, weight_noise_prop=0.01 if name == "standard" else 0.0)


def _record(model: torch.nn.Module, x: torch.Tensor) -> SyncRecorder:
    xx = x.clone().requires_grad_(True)
    with SyncRecorder() as rec:
        model(xx).square().sum().backward()
        with torch.no_grad():
            model(x)
    return rec


@pytest.fixture(params=["host", "device"])
def checks(request, monkeypatch):
    """The NaN/Inf check's path: the CPU's host read, or the accelerator's device-side assert."""
    if request.param == "device":
        monkeypatch.setattr(AnalogLayer, "device_side_checks", ("cpu", "cuda"))
    return request.param


@pytest.mark.parametrize("preset", [pytest.param(p, marks=pytest.mark.slow) if p == "ir_drop" else p
                                    for p in PRESETS])
def test_no_host_sync_in_forward_and_backward(preset, checks):
    cfg = PRESETS[preset]
    for layer, x in _layers(cfg):
        model = torch.nn.Sequential(layer)
        hwa_(model, _hwa(preset), seed=0)
        for programmed in (False, True):
            if programmed:
                an.program_(model, seed=1)
            for training in (True, False):
                model.train(training)
                rec = _record(model, x)
                where = f"{type(layer).__name__}, {preset}, programmed={programmed}, train={training}"
                assert rec.syncs == [], where
                if checks == "device":
                    assert rec.asserts >= 1, where  # the NaN/Inf check still runs (device-side)
                else:
                    assert rec.asserts == 0, where


def test_no_host_sync_with_monte_carlo_instances_and_drift(checks):
    model = torch.nn.Sequential(AnalogLinear(40, 20, cfg=presets.pcm(rows=16, cols=16)))
    an.program_(model, seed=3, instances=3)
    an.drift_(model, 3600.0)
    model.eval()
    with SyncRecorder() as rec, torch.no_grad():
        model(torch.randn(3 * 5, 40))
    assert rec.syncs == []


def test_no_host_sync_with_the_transposed_read_backward():
    """In-memory training's analog backward (``TransposedRead``) runs in the layer's backward."""
    from analogue.config.pulsed import BackwardConfig
    from analogue.train.inmemory import attach_analog_backward_

    model = torch.nn.Sequential(AnalogLinear(40, 20, cfg=presets.quantized(rows=16, cols=16)))
    attach_analog_backward_(model, BackwardConfig(), seed=0)
    rec = _record(model, torch.randn(8, 40))
    assert rec.syncs == []


def test_no_host_sync_in_int8_twins():
    torch.manual_seed(0)
    for layer, x in ((Int8Linear(8, 4), torch.randn(3, 8)), (Int8Conv1d(2, 3, 3), torch.randn(2, 2, 7)),
                     (Int8Conv2d(2, 3, 3), torch.randn(2, 2, 5, 5))):
        rec = _record(layer, x)
        assert rec.syncs == [], type(layer).__name__


def test_the_adc_range_follows_writes_outside_the_boundaries():
    """The host's copy of ``out_bound``: an in-place write or a replaced buffer is read back (the
    output then equals a layer built with that range)."""
    torch.manual_seed(0)
    layer = AnalogLinear(16, 8, cfg=presets.quantized(rows=16, cols=16))
    ref = AnalogLinear(16, 8, cfg=_dataclass_replace(presets.quantized(rows=16, cols=16),
                                                     adc=ADCConfig(bits=8, out_bound=2.5)))
    ref.load_state_dict(layer.state_dict() | {"out_bound": torch.tensor(2.5)})
    x = torch.randn(4, 16)
    with torch.no_grad():
        layer.out_bound.fill_(2.5)
        assert layer._recorded_out_bound() == layer.out_bound_value() == 2.5  # the accelerators' record, CPU's read
        torch.testing.assert_close(layer(x), ref(x), rtol=0, atol=0)
        layer.out_bound = torch.tensor(4.0)
        assert layer._recorded_out_bound() == 4.0
    half = AnalogLinear(4, 4, cfg=_dataclass_replace(presets.standard(), adc=ADCConfig(out_bound=0.1))).half()
    assert half._recorded_out_bound() == float(half.out_bound)  # the cast value, not 0.1
    loaded = AnalogLinear(16, 8, cfg=presets.quantized(rows=16, cols=16))
    loaded.load_state_dict(ref.state_dict())
    assert loaded._recorded_out_bound() == 2.5


def test_the_adc_range_is_recorded_at_its_write_boundaries():
    """Construction, ``.to()``/casts, ``load_state_dict`` and ``calibrate_`` record the range on the
    host: reading it back then dispatches nothing (what a CUDA forward does)."""
    from analogue.lifecycle.calibrate import calibrate_

    torch.manual_seed(0)
    layer = AnalogLinear(16, 8, cfg=presets.quantized(rows=16, cols=16))
    checks = [lambda: layer, lambda: layer.double(), lambda: layer.load_state_dict(layer.state_dict()),
              lambda: calibrate_(layer, torch.randn(32, 16, dtype=torch.float64))]
    for write in checks:
        write()
        with SyncRecorder() as rec:
            value = layer._recorded_out_bound()
        assert rec.syncs == [] and value == float(layer.out_bound)


def test_a_non_finite_input_or_weight_still_names_the_layer(checks):
    layer = AnalogLinear(8, 4)
    layer.layer_name = "block.fc"
    x = torch.randn(2, 8)
    x[0, 3] = float("nan")
    with pytest.raises(ValueError, match="^block.fc: input contains NaN"):
        layer(x)
    with torch.no_grad():
        layer.weight[1, 1] = float("inf")
    with pytest.raises(ValueError, match="^block.fc: weight contains NaN"):
        layer(torch.randn(2, 8).requires_grad_(True))
