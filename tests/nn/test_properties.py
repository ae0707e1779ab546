"""Property-based: random configs through validation and a forward, random tensors through every
layer kind. Every outcome is a correct result or a ConfigError/ValueError/TypeError naming the
problem -- never IndexError, ZeroDivisionError, an overflow, or a NaN output from finite inputs."""

import math
import re

import pytest
import torch

import analogue as an
from analogue.config import ConfigError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PRESETS = {
    "ideal": an.presets.ideal,
    "standard": an.presets.standard,
    "quantized": an.presets.quantized,
    "pcm": an.presets.pcm,
    "rram": an.presets.rram,
    "sram": an.presets.sram,
    "flash": an.presets.flash,
}
POLICIES = ["dynamic", "dynamic_tile", "fixed", "calibrated", "learned"]
ODD_FLOATS = [0.0, -1.0, float("nan"), float("inf"), 1e-30, 1e30]


@st.composite
def config_changes(draw, valid_only: bool = False):
    """A preset name and dotted-field changes (invalid values too unless ``valid_only``)."""
    bits = st.one_of(st.sampled_from([None, 1, 2]), st.integers(1, 12))  # the edges often
    pos = st.floats(1e-3, 1e3)
    if not valid_only:  # invalid values about one time in four
        bits = st.one_of(bits, bits, bits, st.sampled_from([0, -1, 17, 2.5, True, "8"]))
        pos = st.one_of(pos, pos, pos, st.sampled_from(ODD_FLOATS))
    changes = {
        "tile.rows": draw(st.integers(1, 40) if valid_only else st.sampled_from([1, 3, 8, 40, 0, -2])),
        "tile.cols": draw(st.integers(1, 40)),
        "dac.bits": draw(bits),
        "dac.range_policy": draw(st.sampled_from(POLICIES if valid_only else POLICIES + ["max"])),
        "dac.input_range": draw(pos),
        "adc.bits": draw(bits),
        "adc.out_bound": draw(pos),
        "noise.out_std_rel_fs": draw(st.sampled_from([0.0, 0.01])),
        "mapping.scale": draw(st.sampled_from(["column", "tile"])),
    }
    keep = draw(st.sets(st.sampled_from(sorted(changes))))
    changes = {k: v for k, v in changes.items() if k in keep}
    if changes.get("adc.bits") is not None:
        changes["adc.clip"] = True  # a quantising ADC saturates (checked in test_config)
    return draw(st.sampled_from(sorted(PRESETS))), changes


@SETTINGS
@given(config_changes())
def test_random_configs_validate_or_name_the_field(spec):
    name, changes = spec
    try:
        cfg = PRESETS[name]().replace(**changes)
    except ConfigError as e:
        # one line naming the section and field, and a changed field at that
        assert "\n" not in str(e) and re.match(r"^[A-Za-z]+\.[a-z_]+: ", str(e)), str(e)
        assert any(str(e).split(":")[0].endswith("." + f.split(".")[-1]) for f in changes), str(e)
        return
    layer = an.AnalogLinear(6, 3, cfg=cfg)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            y = layer(torch.randn(4, 6))
        assert y.shape == (4, 3) and torch.isfinite(y).all()


def _layer(draw, cfg):
    """A random analog layer of every kind and an input shape for it (batch first)."""
    kind = draw(st.sampled_from(["linear", "conv1d", "conv2d"]))
    bias = draw(st.booleans())
    if kind == "linear":
        k, m = draw(st.integers(1, 50)), draw(st.integers(1, 9))
        return an.AnalogLinear(k, m, bias=bias, cfg=cfg), (k,)
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 4)), groups * draw(st.integers(1, 3))
    ks, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from([0, 1, "same"] if stride == 1 else [0, 1]))
    if kind == "conv1d":
        length = draw(st.integers(ks, 9))
        return an.AnalogConv1d(cin, cout, ks, stride, padding, groups=groups, bias=bias, cfg=cfg), (cin, length)
    h, w = draw(st.integers(ks, 7)), draw(st.integers(ks, 7))
    return an.AnalogConv2d(cin, cout, ks, stride, padding, groups=groups, bias=bias, cfg=cfg), (cin, h, w)


def _input(draw, feature_shape, channels_last_ok):
    """A random tensor: empty or not, a scale from 0 to 1e30, maybe a NaN/Inf, maybe an odd layout."""
    batch = draw(st.sampled_from([0, 1, 3]))
    magnitude = draw(st.sampled_from([0.0, 1e-30, 1.0, 1e30]))
    seed = draw(st.integers(0, 2**16))
    x = torch.randn((batch,) + feature_shape, generator=torch.Generator().manual_seed(seed)) * magnitude
    bad = None
    if x.numel() and draw(st.booleans()):
        bad = draw(st.sampled_from([float("nan"), float("inf"), -float("inf")]))
        x.view(-1)[draw(st.integers(0, x.numel() - 1))] = bad
    layout = draw(st.sampled_from(["contiguous", "strided", "transposed"] + ["channels_last"] * channels_last_ok))
    if layout == "strided":  # every other element of a buffer twice the size
        x = torch.stack([x, torch.full_like(x, 7.0)], dim=-1)[..., 0]
    elif layout == "transposed" and x.dim() >= 2:
        x = x.transpose(0, -1).contiguous().transpose(0, -1)
    elif layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    return x, bad


@SETTINGS
@given(st.data())
def test_random_tensors_through_every_layer_kind(data):
    draw = data.draw
    name, changes = draw(config_changes(valid_only=True))
    cfg = PRESETS[name]().replace(**changes)
    torch.manual_seed(draw(st.integers(0, 100)))
    layer, feature_shape = _layer(draw, cfg)
    layer.layer_name = "net.block"
    mode = draw(st.sampled_from(["train", "eval", "programmed"]))
    if mode == "programmed":
        an.program_(layer, seed=1)
    layer.train(mode == "train")
    x, bad = _input(draw, feature_shape, isinstance(layer, an.AnalogConv2d))
    grad = draw(st.booleans()) and mode != "programmed"
    if grad:
        x.requires_grad_(True)
    try:
        y = layer(x)
    except (ConfigError, ValueError, TypeError) as e:
        msg = str(e)
        assert msg.startswith("net.block: ") and "\n" not in msg, msg
        assert bad is not None and "NaN or Inf" in msg, msg  # the only error these inputs deserve
        return
    assert bad is None, "a NaN/Inf input passed silently"
    digital = layer.to_float()
    with torch.no_grad():
        y_ref = digital(x.detach())
    assert y.shape == y_ref.shape and y.dtype == x.dtype
    assert not torch.isnan(y).any(), "NaN output from finite inputs"
    ideal = (cfg.dac.bits is None and cfg.adc.bits is None and not cfg.adc.clip
             and cfg.noise.out_std_rel_fs == 0 and cfg.device.kind == "ideal" and mode != "programmed"
             and not cfg.device.slicing.active and cfg.dac.range_policy in ("dynamic", "dynamic_tile"))
    if ideal and x.numel():  # an exact simulation: the torch twin is the oracle
        peak = x.detach().abs().max().item() * layer.weight.detach().abs().max().item()
        tol = 1e-4 * max(peak * math.prod(layer.matrix_shape[1:2]), 1e-30)
        torch.testing.assert_close(y.detach(), y_ref, rtol=1e-4, atol=tol)
    if grad and x.numel():  # the straight-through gradients of a finite output stay NaN-free
        y.sum().backward()
        assert not torch.isnan(x.grad).any() and not torch.isnan(layer.weight.grad).any()
