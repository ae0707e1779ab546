"""Converter errors on programmed layers: the forward against a hand-computed oracle built from
the programmed buffers, per-instance sampling, seeds, chunking, and saving."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import analogue as an
from analogue.nn import programmed
from analogue.physics.periphery import levels

pytestmark = pytest.mark.usefixtures("one_thread")

ROWS = 16


def _cfg(**errors):
    """8-bit converters, no noise, 16-row tiles (so 40 inputs span three row blocks)."""
    cfg = an.presets.quantized(dac_bits=6, adc_bits=7, rows=ROWS, cols=256)
    return cfg.replace(**errors)


def _layer(cfg, k=40, m=9, seed=0):
    torch.manual_seed(seed)
    return an.AnalogLinear(k, m, cfg=cfg, dtype=torch.float64)


def _oracle(layer, x):
    """The programmed forward computed by hand from the buffers (one group, dynamic input range)."""
    cfg = layer.cfg
    ld, la, bound = levels(cfg.dac.bits), levels(cfg.adc.bits), float(layer.out_bound)
    reps = programmed.n_instances(layer)
    n = x.shape[0] // reps
    b = layer.prog_scales.shape[0]
    k = x.shape[1]
    r, m = layer.prog_w.shape[1], layer.prog_scales.shape[-1]
    out = torch.zeros(x.shape[0], m, dtype=x.dtype)
    for i in range(reps):
        xi = x[i * n:(i + 1) * n]
        scale = xi.abs().amax(dim=1, keepdim=True)
        codes = torch.round(xi / scale * ld)
        codes = torch.nn.functional.pad(codes, (0, b * r - k))
        y = torch.zeros(n, m, dtype=x.dtype)
        for blk in range(b):
            j = i * b + blk
            c = codes[:, blk * r:(blk + 1) * r]
            if layer.prog_dac_inl is not None:
                c = c + layer.prog_dac_inl[j].gather(0, (c + ld).long())
            u = (c @ layer.prog_w[j]) * (la / (ld * bound))
            if layer.prog_adc_gain is not None:
                u = u * layer.prog_adc_gain[j]
            if layer.prog_adc_offset is not None:
                u = u + layer.prog_adc_offset[j]
            q = torch.round(u.clamp(-la, la))
            if layer.prog_adc_inl is not None:
                q = q + layer.prog_adc_inl[j].gather(0, (q + la).long())
            y += q * (bound / la) * layer.prog_scales[blk] * layer.prog_comp[j]
        out[i * n:(i + 1) * n] = y * scale + layer.bias
    return out


ALL = {"adc.offset_std_lsb": 0.8, "adc.gain_std_rel": 0.03, "adc.inl_std_lsb": 0.6,
       "adc.dnl_std_lsb": 0.2, "dac.inl_std_lsb": 0.7}


@pytest.mark.parametrize("errors", [
    {},
    {"adc.offset_std_lsb": 0.8},
    {"adc.gain_std_rel": 0.03},
    {"adc.inl_std_lsb": 0.6, "adc.dnl_std_lsb": 0.2},
    {"dac.inl_std_lsb": 0.7},
    ALL,
], ids=["ideal", "offset", "gain", "inl-dnl", "dac-inl", "all"])
def test_programmed_forward_equals_the_hand_oracle(errors):
    layer = _layer(_cfg(**errors))
    an.program_(layer, seed=3)
    layer.eval()
    x = torch.randn(11, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = layer(x)
    torch.testing.assert_close(y, _oracle(layer, x), rtol=1e-12, atol=1e-12)
    # only the configured errors are held
    on = {"adc.offset_std_lsb": "prog_adc_offset", "adc.gain_std_rel": "prog_adc_gain",
          "adc.inl_std_lsb": "prog_adc_inl", "adc.dnl_std_lsb": "prog_adc_inl", "dac.inl_std_lsb": "prog_dac_inl"}
    held = {buf for key, buf in on.items() if key in errors}
    for buf in set(on.values()):
        assert (getattr(layer, buf) is not None) == (buf in held), buf
    if errors:  # and they change the output
        ideal = _layer(_cfg())
        an.program_(ideal, seed=3)
        with torch.no_grad():
            assert not torch.equal(ideal.eval()(x), y)


def test_offset_alone_shifts_each_column_by_its_offset_in_lsb_on_average():
    """With inputs that dither the rounding, the mean output shift of column c is
    ``offset_c * LSB * scale_c`` times the input range: the offsets, read back."""
    cfg = _cfg(**{"adc.offset_std_lsb": 1.5})
    layer, ideal = _layer(cfg, k=16, m=64), _layer(_cfg(), k=16, m=64)
    an.program_(layer, seed=5)
    an.program_(ideal, seed=5)
    assert torch.equal(layer.prog_w, ideal.prog_w)  # the converters' streams leave the devices alone
    x = torch.randn(4000, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x[:, 0] = 10.0  # a fixed input range, so the rescale is the same for every vector
    with torch.no_grad():
        diff = layer.eval()(x) - ideal.eval()(x)
    lsb = float(layer.out_bound) / levels(cfg.adc.bits)
    read = diff.mean(0) / (lsb * layer.prog_scales[0, 0] * 10.0)
    # per vector, round(u + o) - round(u) is one of the two integers next to o (std <= 0.5 LSB);
    # its mean is o when u's fraction is uniform: 6 standard errors plus 0.02 LSB of non-uniformity
    torch.testing.assert_close(read, layer.prog_adc_offset[0, 0], rtol=0, atol=6 * 0.5 / math.sqrt(4000) + 0.02)


def test_a_programmed_convolution_reads_through_the_same_converters():
    """A 1x1 convolution of a 1x1 image is the linear layer of its channels: the same oracle."""
    torch.manual_seed(0)
    conv = an.AnalogConv2d.from_float(nn.Conv2d(40, 9, 1, dtype=torch.float64), _cfg(**ALL))
    an.program_(conv, seed=2, instances=2)
    x = torch.randn(2 * 6, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        y = conv.eval()(x.view(12, 40, 1, 1)).view(12, 9)
    torch.testing.assert_close(y, _oracle(conv, x), rtol=1e-12, atol=1e-12)


def test_same_seed_same_instance_other_seed_other_instance():
    def buffers(seed):
        layer = _layer(_cfg(**ALL))
        an.program_(layer, seed=seed)
        return [getattr(layer, n) for n in programmed.CONVERTER_BUFFERS]

    a, b, c = buffers(4), buffers(4), buffers(5)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert all(not torch.equal(u, v) for u, v in zip(a, c))


def test_monte_carlo_instances_hold_independent_converters_and_each_reads_its_own():
    reps = 4
    layer = _layer(_cfg(**ALL), m=30)
    an.program_(layer, seed=6, instances=reps)
    b = layer.prog_scales.shape[0]
    off = layer.prog_adc_offset.view(reps, b, -1)
    assert layer.prog_adc_inl.shape[0] == layer.prog_dac_inl.shape[0] == reps * b
    for i in range(1, reps):
        assert not torch.equal(off[0], off[i])
    flat = off.reshape(reps, -1)
    corr = torch.corrcoef(flat)
    # independent instances: off-diagonal correlations within 6 standard errors of 0
    assert float((corr - torch.eye(reps, dtype=corr.dtype)).abs().max()) < 6 / math.sqrt(flat.shape[1])
    x = torch.randn(5, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = layer.eval()(x.repeat(reps, 1))
    torch.testing.assert_close(y, _oracle(layer, x.repeat(reps, 1)), rtol=1e-12, atol=1e-12)


def test_chunked_forward_equals_the_one_shot_forward():
    layer = _layer(_cfg(**ALL), k=64, m=20)
    an.program_(layer, seed=7, instances=2)
    x = torch.randn(2 * 30, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    layer.eval()
    with torch.no_grad():
        one = layer(x).clone()
        layer.max_chunk_elems = 200  # partial sums and DAC outputs in chunks of blocks and vectors
        chunked = layer(x)
    torch.testing.assert_close(chunked, one, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(one, _oracle(layer, x), rtol=1e-12, atol=1e-12)


def test_training_mode_and_unprogrammed_layers_read_ideal_converters():
    cfg = _cfg(**ALL)
    x = torch.randn(6, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    noisy, ideal = _layer(cfg), _layer(_cfg())
    with torch.no_grad():
        assert torch.equal(noisy(x), ideal(x))  # unprogrammed: no converter instance exists
        an.program_(noisy, seed=1)
        assert noisy.prog_adc_offset is not None
        assert torch.equal(noisy.train()(x), ideal.train()(x))  # training reads the weight
        assert not torch.equal(noisy.eval()(x), ideal.eval()(x))


def test_converter_state_survives_state_dict_and_save_load(tmp_path):
    cfg = _cfg(**ALL)
    model = nn.Sequential(nn.Linear(40, 9, dtype=torch.float64))
    an.convert_(model, cfg, seed=1)
    an.program_(model, seed=8, instances=2)
    model.eval()
    x = torch.randn(2 * 4, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        y = model(x)
    an.save(model, tmp_path / "m")
    fresh = nn.Sequential(nn.Linear(40, 9, dtype=torch.float64))  # digital: load converts it
    an.load(tmp_path / "m", fresh)
    for name in programmed.CONVERTER_BUFFERS:
        assert torch.equal(getattr(fresh[0], name), getattr(model[0], name)), name
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), y)
    other = _layer(cfg, m=9)
    other.load_state_dict(model[0].state_dict())
    with torch.no_grad():
        assert torch.equal(other.eval()(x), y)


def test_drift_compensation_runs_through_the_converters():
    layer = _layer(_cfg(**ALL))
    an.program_(layer, seed=9)
    gains = programmed.compensate_layer(layer, mode="column")
    assert gains.shape == layer.prog_comp.shape and bool(torch.isfinite(gains).all())
