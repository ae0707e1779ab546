"""Bit-serial inputs (``DACConfig.bits_per_cycle``): one ADC conversion per read cycle, shifted
and added digitally. Oracles: the amplitude path with ideal converters, and an independent
plain-torch loop over row blocks, weight slices and input bit planes (integer bit arithmetic)
built from the programmed buffers, with per-column (per-slice) converter errors."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

import analogue as an
from analogue.config.device import ReadNoise
from analogue.physics.periphery import levels

pytestmark = pytest.mark.usefixtures("one_thread")

ROWS = 16
ERRORS = {"adc.offset_std_lsb": 0.8, "adc.gain_std_rel": 0.03, "adc.inl_std_lsb": 0.6,
          "adc.dnl_std_lsb": 0.2}


def _cfg(k_cycle=None, dac_bits=6, adc_bits=5, out_bound=6.1, **changes):
    cfg = an.presets.quantized(dac_bits=dac_bits, adc_bits=adc_bits, rows=ROWS, cols=256)
    return cfg.replace(**{"dac.bits_per_cycle": k_cycle, "adc.out_bound": out_bound, **changes})


def _sram(k_cycle=None, **changes):
    """1-bit SRAM cells (4-bit weights: 3 slice columns per output), 6-bit bit-serial inputs."""
    cfg = an.presets.sram(rows=ROWS, cols=256, weight_bits=4).replace(
        **{"noise.out_std_rel_fs": 0.0, "dac.bits": 6, "adc.bits": 4, "adc.out_bound": 4.3})
    return cfg.replace(**{"dac.bits_per_cycle": k_cycle, **changes})


def _layer(cfg, k=40, m=9, seed=0):
    torch.manual_seed(seed)
    return an.AnalogLinear(k, m, cfg=cfg, dtype=torch.float64)


def _oracle(layer, x, k_cycle, inst=0):
    """The programmed forward by hand: for every row block, weight slice column and input cycle,
    ``digit @ w`` into the column's ADC (gain, offset, quantise, INL), then shift-and-add."""
    cfg = layer.cfg
    ld, la, bound = levels(cfg.dac.bits), levels(cfg.adc.bits), float(layer.out_bound)
    n, k = x.shape
    b, r, ms = layer.prog_scales.shape[0], layer.prog_w.shape[1], layer.prog_w.shape[2]
    s = cfg.device.slicing.n_slices
    scale = x.abs().amax(dim=1, keepdim=True)
    codes = torch.nn.functional.pad(torch.round(x / scale * ld), (0, b * r - k))
    if k_cycle is None:  # one read: the code itself, worth 1/L of full scale
        cycles = [(codes, 1.0 / ld, 1.0 / ld)]
    else:  # sign-magnitude digits, least significant first: integer shifts and masks
        mag, sign = codes.abs().to(torch.int64), codes.sign()
        base = 1 << k_cycle
        cycles = [(((mag >> (k_cycle * j)) & (base - 1)).to(x.dtype) * sign, 1.0 / (base - 1),
                   (1 << (k_cycle * j)) / ld) for j in range(math.ceil((ld.bit_length()) / k_cycle))]
    y = torch.zeros(n, ms, dtype=x.dtype)
    for blk in range(b):
        j = inst * b + blk  # this instance's arrays and converters
        for digits, unit, weight in cycles:
            u = (digits[:, blk * r:(blk + 1) * r] * unit) @ layer.prog_w[j] * (la / bound)
            if layer.prog_adc_gain is not None:
                u = u * layer.prog_adc_gain[j]
            if layer.prog_adc_offset is not None:
                u = u + layer.prog_adc_offset[j]
            q = torch.round(u.clamp(-la, la))
            if layer.prog_adc_inl is not None:
                q = q + layer.prog_adc_inl[j].gather(0, (q + la).long())
            y += q * (bound / la) * (weight / unit) * layer.prog_scales[blk] * layer.prog_comp[j]
    out = y.view(n, ms // s, s).sum(-1) * scale
    return out if layer.bias is None else out + layer.bias


def _x(n=24, k=40, seed=1):
    return torch.randn(n, k, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("policy", ["dynamic", "dynamic_tile", "fixed"])
@pytest.mark.parametrize("k_cycle", [1, 2, 3])
def test_ideal_converters_bit_serial_equals_the_amplitude_path(policy, k_cycle):
    """No ADC quantisation, no noise: shift-and-add of the cycles is the amplitude MVM."""
    ideal = {"adc.bits": None, "adc.clip": False, "dac.range_policy": policy, "dac.input_range": 2.0}
    amp, ser = _layer(_cfg(**ideal)), _layer(_cfg(k_cycle, **ideal))
    x = _x()
    for mode in ("train", "eval", "programmed"):
        if mode == "programmed":
            an.program_(amp, seed=0)
            an.program_(ser, seed=0)
        amp.train(mode == "train")
        ser.train(mode == "train")
        with torch.no_grad():
            torch.testing.assert_close(ser(x), amp(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("policy", ["dynamic", "fixed"])
def test_ideal_bit_serial_convolution_equals_the_amplitude_convolution(policy):
    """Convolutions (DAC codes computed from the image: ``Inputs.CODES`` with a fixed range), in
    inference and training, outputs and gradients."""
    ideal = {"adc.bits": None, "adc.clip": False, "dac.range_policy": policy, "dac.input_range": 2.5}
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, dtype=torch.float64)
    amp = an.AnalogConv2d.from_float(conv, _cfg(**ideal))
    ser = an.AnalogConv2d.from_float(conv, _cfg(1, **ideal))
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(ser.eval()(x), amp.eval()(x), rtol=1e-12, atol=1e-12)
    grads = []
    for layer in (amp, ser):
        xi = x.clone().requires_grad_(True)
        y = layer.train()(xi)
        y.backward(torch.ones_like(y))
        grads.append((y.detach(), xi.grad, layer.weight.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("errors", [{}, {"adc.offset_std_lsb": 0.8}, ERRORS], ids=["ideal", "offset", "all"])
@pytest.mark.parametrize("k_cycle", [None, 1, 2, 5])
def test_coarse_adc_programmed_forward_equals_the_plane_loop_oracle(errors, k_cycle):
    layer = _layer(_cfg(k_cycle, **errors))
    an.program_(layer, seed=3)
    x = _x()
    with torch.no_grad():
        y = layer.eval()(x)
    torch.testing.assert_close(y, _oracle(layer, x, k_cycle), rtol=1e-12, atol=1e-12)


def test_coarse_adc_makes_bit_serial_differ_from_amplitude_and_from_the_exact_product():
    amp, ser = _layer(_cfg()), _layer(_cfg(1))
    x = _x(200)
    with torch.no_grad():
        exact = x @ amp.weight.t() + amp.bias
        e_amp = (amp(x) - exact).pow(2).mean().sqrt()
        e_ser = (ser(x) - exact).pow(2).mean().sqrt()
        assert float((ser(x) - amp(x)).abs().max()) > 0
    assert float(e_ser) != float(e_amp)


@pytest.mark.parametrize("k_cycle", [None, 1, 2])
@pytest.mark.parametrize("errors", [{}, ERRORS], ids=["ideal", "all"])
def test_sliced_weights_with_per_slice_adcs_equal_the_oracle(k_cycle, errors):
    """SRAM preset: 1-bit cells, one column (and one ADC conversion, with its own static errors)
    per weight bit, times the input's read cycles."""
    layer = _layer(_sram(k_cycle, **errors), k=40, m=7)
    an.program_(layer, seed=4)
    s = layer.cfg.device.slicing.n_slices
    assert s == 3
    if errors:  # one ADC per slice column: M * S columns of errors per row block
        assert layer.prog_adc_offset.shape == (3, 1, 7 * s)
        assert layer.prog_adc_inl.shape[-1] == 7 * s
    x = _x(k=40)
    with torch.no_grad():
        y = layer.eval()(x)
    torch.testing.assert_close(y, _oracle(layer, x, k_cycle), rtol=1e-12, atol=1e-12)


def test_per_slice_offsets_act_on_their_own_slice_column():
    """A programmed instance's ADC offsets move output ``m`` by ``sum_s round(offset[m, s]) x LSB
    x scale[m, s]`` (each slice column's own offset, at its own significance) times the input
    range: the ADC is per slice column and per cycle (whose significances sum to 1). Two inputs,
    1-bit slices and 1-bit cycles with an ADC of 1 LSB per unit: every ADC input is an integer in
    [-2, 2], so an offset ``o`` shifts the code by exactly ``round(o)``, never into clipping."""
    cfg = _sram(1, **{"adc.out_bound": 7.0})
    ideal, shifted = _layer(cfg, k=2, m=5), _layer(cfg.replace(**{"adc.offset_std_lsb": 1.0}), k=2, m=5)
    an.program_(ideal, seed=2)
    an.program_(shifted, seed=2)
    assert torch.equal(ideal.prog_w, shifted.prog_w)
    off = shifted.prog_adc_offset  # (1, 1, 5 * 3)
    assert off.shape == (1, 1, 15) and float(off.abs().max()) < 4.5
    assert len(set(torch.round(off).flatten().tolist())) > 2  # the slices' offsets differ
    x = _x(8, k=2)
    with torch.no_grad():
        diff = shifted.eval()(x) - ideal.eval()(x)
    per_slice = (torch.round(off) * shifted.prog_scales).view(1, 5, 3).sum(-1)
    torch.testing.assert_close(diff, per_slice * x.abs().amax(1, keepdim=True), rtol=1e-12, atol=1e-12)


def test_training_gradients_are_the_amplitude_paths():
    """The backward is the same straight-through product: for the same output gradient, a
    bit-serial layer's gradients equal the amplitude layer's, while the forward differs."""
    amp, ser = _layer(_cfg()), _layer(_cfg(1))
    x = _x(16)
    g = torch.randn(16, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    outs, grads = [], []
    for layer in (amp, ser):
        xi = x.clone().requires_grad_(True)
        y = layer.train()(xi)
        y.backward(g)
        outs.append(y.detach())
        grads.append((xi.grad, layer.weight.grad, layer.bias.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
    assert not torch.equal(outs[0], outs[1])


def test_output_noise_is_drawn_per_cycle():
    """With ideal ADCs, the output noise of each cycle is weighted by its significance:
    1 bit per cycle of an 8-bit DAC gives a noise variance ``sum_j (2**j / 127)**2`` times the
    amplitude path's (0.3386), each from 20000 samples (relative std of a variance estimate:
    sqrt(2/n) = 1 %; bound 6 %)."""
    std = 0.05
    noisy = {"adc.bits": None, "adc.clip": False, "noise.out_std_rel_fs": std, "dac.range_policy": "fixed"}
    var = []
    for k_cycle in (None, 1):
        layer = _layer(_cfg(k_cycle, dac_bits=8, out_bound=1.0, **noisy), k=8, m=50).eval()
        x = torch.full((400, 8), 0.5, dtype=torch.float64)
        with torch.no_grad():
            clean = _layer(_cfg(k_cycle, dac_bits=8, out_bound=1.0, **{**noisy, "noise.out_std_rel_fs": 0.0}),
                           k=8, m=50).eval()(x)
            var.append(float((layer(x) - clean).var() / layer.weight.abs().amax(1).pow(2).mean()))
    expected = sum((2.0**j / 127) ** 2 for j in range(7))
    assert var[1] / var[0] == pytest.approx(expected, rel=0.06)


def test_chunked_monte_carlo_forward_equals_the_one_shot_forward_and_the_oracle():
    layer = _layer(_cfg(1, **ERRORS), k=64, m=20)
    an.program_(layer, seed=7, instances=2)
    x = _x(30, k=64, seed=4)
    layer.eval()
    with torch.no_grad():
        one = layer(x.repeat(2, 1)).clone()
        layer.max_chunk_elems = 200  # partial sums in chunks of blocks and vectors
        chunked = layer(x.repeat(2, 1))
    torch.testing.assert_close(chunked, one, rtol=1e-12, atol=1e-12)
    for i in range(2):  # each Monte Carlo instance reads its own converters
        torch.testing.assert_close(one[i * 30:(i + 1) * 30], _oracle(layer, x, 1, inst=i), rtol=1e-12, atol=1e-12)
    assert not torch.equal(one[:30], one[30:])


def test_per_read_noise_is_fresh_in_every_cycle():
    """Inputs at full scale (every magnitude bit set) and ideal converters: with one weight-noise
    sample shared by the 7 cycles the error would equal the amplitude path's (the significances
    sum to 1); with a fresh read per cycle its variance is ``sum_j (2**j / 127)**2 = 0.3386`` of
    it. 40 columns x 50 forwards = 2000 samples each (relative std of a variance estimate about
    3 %; bound 15 %)."""
    noisy = {"adc.bits": None, "adc.clip": False, "dac.bits": 8}
    x = torch.ones(1, 32, dtype=torch.float64)
    var = []
    for k_cycle in (None, 1):
        cfg = _cfg(k_cycle, **noisy)
        cfg = cfg.replace(device=replace(cfg.device, read_noise=ReadNoise(per_read_std_frac=0.02)))
        layer = _layer(cfg, k=32, m=40)
        an.program_(layer, seed=1)
        layer.eval()
        with torch.no_grad():
            w = layer.prog_w.sum(1) * layer.prog_scales.squeeze(1)  # (B, M): the noise-free column sums
            clean = w.sum(0) + layer.bias
            errs = torch.stack([(layer(x)[0] - clean) / layer.prog_scales[0, 0] for _ in range(50)])
        var.append(float(errs.var()))
    expected = sum((2.0**j / 127) ** 2 for j in range(7))
    assert var[1] / var[0] == pytest.approx(expected, rel=0.15)


def test_fresh_reads_reads_every_block_once_per_time():
    from analogue.nn.programmed import fresh_reads

    calls = []

    def read(b0, b1):
        calls.append((b0, b1))
        idx = torch.arange(b0, b1, dtype=torch.float64)
        return idx.view(-1, 1, 1).expand(-1, 2, 3), idx.view(-1, 1, 1).expand(-1, 1, 3)

    rt = fresh_reads(read, 4, 3)
    w, s = rt(0, 12)
    assert w[:, 0, 0].tolist() == [0, 1, 2, 3] * 3 and s.shape == (12, 1, 3)
    assert calls == [(0, 4), (0, 4), (0, 4)]
    calls.clear()
    w, _ = rt(3, 9)
    assert w[:, 0, 0].tolist() == [3, 0, 1, 2, 3, 0] and calls == [(3, 4), (0, 4), (0, 1)]


def test_cycles_as_groups_equal_cycles_as_vectors():
    """With per-read noise the cycles run as extra groups (a fresh read each); with a negligible
    noise (1e-9) that layout gives the vector layout's result: Monte Carlo instances, per-tile
    ranges, ADC offsets and chunking included."""
    base = _cfg(1, dac_bits=8, adc_bits=6, **{"adc.offset_std_lsb": 0.5, "dac.range_policy": "dynamic_tile"})
    fresh = base.replace(device=replace(base.device, read_noise=ReadNoise(per_read_std_frac=1e-9)))
    shared, grouped = _layer(base), _layer(fresh)
    an.program_(shared, seed=1, instances=3)
    an.program_(grouped, seed=1, instances=3)
    x = _x(10).repeat(3, 1)
    with torch.no_grad():
        ref = shared.eval()(x)
        one = grouped.eval()(x).clone()
        grouped.max_chunk_elems = 100
        chunked = grouped(x)
    torch.testing.assert_close(one, ref, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(chunked, ref, rtol=1e-7, atol=1e-7)
    assert not torch.equal(ref[:10], ref[10:20])


@pytest.mark.parametrize("k_cycle", [1, 2])
def test_drift_probes_read_bit_serially(k_cycle):
    """Drift-compensation probes read as the layer reads: each read cycle's digit plane of the
    probe codes through the ADC on its own, then shift-and-add (oracle: the planes by integer
    shifts, each cycle's sums by a plain matmul, quantised by hand). With ideal converters this
    equals the amplitude reading (linearity)."""
    from analogue.nn.programmed import probe_inputs, probe_readings

    def programmed(cfg):
        layer = _layer(cfg)
        an.program_(layer, seed=5)
        return layer

    ideal = {"adc.bits": None, "adc.clip": False}
    y_amp = probe_readings(programmed(_cfg(None, **ideal)))
    y_ser = probe_readings(programmed(_cfg(k_cycle, **ideal)))
    torch.testing.assert_close(y_ser[0], y_amp[0], rtol=0, atol=0)
    torch.testing.assert_close(y_ser[1], y_amp[1], rtol=1e-12, atol=1e-12)

    layer = programmed(_cfg(k_cycle, out_bound=1.7))
    expected, measured = probe_readings(layer)
    ld, la, bound = levels(layer.cfg.dac.bits), levels(layer.cfg.adc.bits), float(layer.out_bound)
    codes = torch.round(probe_inputs(layer) * ld).to(torch.int64)
    mag, sign, base = codes.abs(), codes.sign(), 1 << k_cycle
    oracle = torch.zeros_like(measured)
    for j in range(math.ceil(math.log2(ld + 1) / k_cycle)):
        plane = ((mag >> (k_cycle * j)) & (base - 1)) * sign
        p = torch.bmm(plane.to(torch.float64) / (base - 1), layer.prog_w)
        q = torch.round((p * la / bound).clamp(-la, la)) * bound / la
        oracle += q * (base - 1) * 2 ** (k_cycle * j) / ld
    torch.testing.assert_close(measured, oracle, rtol=1e-12, atol=1e-12)
    amplitude = torch.round((torch.bmm(probe_inputs(layer), layer.prog_w) * la / bound).clamp(-la, la))
    assert not torch.allclose(measured, amplitude * bound / la)  # the amplitude reading differs
