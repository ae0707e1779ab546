import pytest
import torch
from torch import nn

import analogue as an
from analogue.lifecycle.calibrate import partial_sums


def _layer(policy="calibrated", rows=64):
    torch.manual_seed(0)
    cfg = an.presets.quantized(rows=rows).replace(dac=an.DACConfig(bits=8, range_policy=policy))
    return an.AnalogLinear(200, 16, cfg=cfg)


def test_input_range_is_the_requested_quantile():
    layer = _layer()
    x = torch.randn(300, 200)
    an.calibrate_(layer, x, input_quantile=1.0, adc=False)
    assert torch.isclose(layer.input_range, x.abs().max())
    an.calibrate_(layer, x, input_quantile=0.99, adc=False)
    assert torch.isclose(layer.input_range, torch.quantile(x.abs().flatten(), 0.99), rtol=1e-4)


def test_adc_range_covers_the_partial_sums():
    layer = _layer()
    x = torch.randn(300, 200)
    an.calibrate_(layer, x, input_quantile=1.0, adc_quantile=1.0, adc_margin=1.2)
    p = partial_sums(layer, x.unsqueeze(0))
    assert p.shape == (4, 300, 16)  # 200 rows on 64-row tiles: 4 row blocks
    assert torch.isclose(layer.out_bound, 1.2 * p.abs().max())


def test_calibration_improves_a_clipping_layer():
    torch.manual_seed(0)
    ref = nn.Linear(512, 32)
    ana = an.AnalogLinear.from_float(ref, an.presets.quantized(rows=512).replace(**{"adc.out_bound": 1.0}))
    x = torch.randn(400, 512)
    with torch.no_grad():
        before = (ana(x) - ref(x)).norm() / ref(x).norm()
        an.calibrate_(ana, [(x[:200], None), (x[200:300], None)])
        after = (ana(x) - ref(x)).norm() / ref(x).norm()
    assert after < 0.1 * before


def test_calibration_visits_layers_and_restores_mode():
    model = an.convert_(nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 3)), an.presets.standard())
    model.train()
    an.calibrate_(model, torch.randn(50, 10))
    assert model.training
    assert all(float(m.out_bound) != 10.0 for m in an.analog_layers(model).values())


def test_bad_calibration_input():
    with pytest.raises(ValueError, match="no analog layers"):
        an.calibrate_(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2))
    layer = _layer()
    with pytest.raises(ValueError, match="input_quantile"):
        an.calibrate_(layer, torch.randn(3, 200), input_quantile=0.0)
    with pytest.raises(ValueError, match="adc_margin"):
        an.calibrate_(layer, torch.randn(3, 200), adc_margin=0.5)
    with pytest.raises(ValueError, match="no batches"):
        an.calibrate_(layer, [])


# -- bounded-memory statistics ---------------------------------------------------------------------
import math  # noqa: E402

import torch.nn.functional as F  # noqa: E402

from analogue.lifecycle.calibrate import Reservoir, TopValues, _quantile, sample_inputs  # noqa: E402


def _rank_error(n_vectors, delta=1e-9):
    """Hoeffding's bound on the rank error of a quantile from ``n_vectors`` sampled vectors."""
    return math.sqrt(math.log(2 / delta) / (2 * n_vectors))


def _rank(values, v):
    """Fractions of ``values`` below and at most ``v`` (the ranks ``v`` can stand for)."""
    return float((values < v).double().mean()), float((values <= v).double().mean())


def test_quantile_has_no_size_limit():
    # 2^24 + 4 values: the float32 sampling indices of the old quantile ran past the end (IndexError)
    # and torch.quantile refuses inputs above 2^24 elements
    g = torch.Generator().manual_seed(0)
    v = torch.rand((1 << 24) + 4, generator=g)
    s = v.sort().values
    for q in (0.5, 0.9999, 1.0):
        pos = q * (v.numel() - 1)
        lo = math.floor(pos)
        expect = s[lo] + (pos - lo) * (s[min(lo + 1, v.numel() - 1)] - s[lo])
        assert torch.isclose(_quantile(v, q), expect, rtol=1e-6)
    small = torch.randn(1000, generator=g)
    for q in (0.0, 0.3, 0.99):
        assert torch.isclose(_quantile(small, q), torch.quantile(small, q), rtol=1e-6)


def test_reservoir_is_uniform_bounded_and_exact_while_it_fits():
    g = torch.Generator().manual_seed(0)
    r = Reservoir(100, g)
    r.add(torch.arange(60.0))
    r.add(torch.arange(60.0, 100.0))
    assert r.complete and torch.equal(r.items.sort().values, torch.arange(100.0))
    for i in range(1, 200):  # 20 000 items in all
        r.add(torch.arange(100.0 * i, 100.0 * (i + 1)))
        assert r.items.numel() == 100
    assert not r.complete and r.seen == 20_000
    assert len(set(r.items.tolist())) == 100  # without replacement
    # uniform: the mean of 100 of 0..19999 drawn without replacement (sd ~ 577): within 6 sd
    assert abs(float(r.items.mean()) - 9999.5) < 6 * 5773.5 / math.sqrt(100)


def test_top_values_give_exact_upper_quantiles_of_a_long_stream():
    g = torch.Generator().manual_seed(0)
    stream = [torch.randn(5000, generator=g) for _ in range(40)]
    top = TopValues(300)
    for v in stream:
        top.add(v)
        assert top.top.numel() <= 300
    every = torch.cat(stream)
    for q in (0.999, 0.9999, 1.0):  # at most 201 values at or above: the 300 kept hold them
        assert torch.isclose(top.quantile(q), torch.quantile(every.double(), q).float(), rtol=1e-6)
    assert top.quantile(0.99) is None  # 2001 values at or above the 0.99-quantile: not all kept
    big = TopValues(1000)  # one add far larger than the capacity (the threshold cut), with ties
    v = torch.cat([torch.rand(300_000, generator=g), torch.ones(400)])
    big.add(v)
    assert torch.equal(big.top.sort().values, v.topk(1000).values.sort().values)


def test_calibration_memory_is_bounded_whatever_the_data_size():
    layer = _layer()
    sizes = []
    for n_batches in (10, 60):
        with sample_inputs([layer], max_elements=4000) as store, torch.no_grad():
            for i in range(n_batches):
                layer(torch.randn(64, 200, generator=torch.Generator().manual_seed(i)))
        sizes.append(store[layer].numel())
        assert store[layer].seen == 64 * n_batches
    assert sizes == [4000 + 4000 // 200 * 200] * 2  # the 4000 largest and 20 vectors of 200 inputs


def test_calibration_is_exact_while_the_data_fit_and_reproducible():
    layer = _layer()
    x = torch.randn(300, 200, generator=torch.Generator().manual_seed(1))
    an.calibrate_(layer, [x[:100], x[100:250], x[250:]], input_quantile=0.99, adc_quantile=0.999)
    r, b = layer.input_range.clone(), layer.out_bound.clone()
    assert torch.isclose(r, torch.quantile(x.abs().flatten(), 0.99), rtol=1e-5)
    p = partial_sums(layer, x.unsqueeze(0)).abs().flatten()
    assert torch.isclose(b, 1.1 * torch.quantile(p, 0.999), rtol=1e-5)
    an.calibrate_(layer, x, input_quantile=0.99, adc_quantile=0.999)
    assert torch.isclose(layer.input_range, r, rtol=1e-6) and torch.isclose(layer.out_bound, b, rtol=1e-6)


def test_sampled_calibration_is_within_the_rank_bound():
    torch.manual_seed(0)
    cfg = an.presets.quantized(rows=8).replace(dac=an.DACConfig(bits=8, range_policy="calibrated"))
    layer = an.AnalogLinear(8, 4, cfg=cfg)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(40_000, 8, generator=g) * torch.rand(40_000, 1, generator=g)  # vectors differ
    batches = list(x.split(4000))
    an.calibrate_(layer, batches, input_quantile=0.9, adc_quantile=0.95, adc_margin=1.0,
                  max_batches=10, max_elements=16_000)  # 2000 of 40 000 vectors kept
    eps = _rank_error(2000) + 1 / 16_000
    lo, hi = _rank(x.abs().flatten(), layer.input_range)
    assert lo - eps <= 0.9 <= hi + eps
    p = partial_sums(layer, x.unsqueeze(0)).abs().flatten()  # with the calibrated input range
    lo, hi = _rank(p, layer.out_bound)
    assert lo - eps <= 0.95 <= hi + eps
    # the same data, the same seed: the same sample
    before = layer.input_range.clone(), layer.out_bound.clone()
    an.calibrate_(layer, batches, input_quantile=0.9, adc_quantile=0.95, adc_margin=1.0,
                  max_batches=10, max_elements=16_000)
    assert torch.equal(layer.input_range, before[0]) and torch.equal(layer.out_bound, before[1])


def test_conv_calibration_past_2_24_elements():
    # Conv2d(3, 64, 3) on 512x3x32x32: 460 800 patches, 29.5 M partial sums (IndexError before)
    torch.manual_seed(0)
    cfg = an.presets.quantized(rows=64).replace(dac=an.DACConfig(bits=8, range_policy="calibrated"))
    conv = an.AnalogConv2d(3, 64, 3, cfg=cfg)
    x = torch.randn(512, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    an.calibrate_(conv, x)
    patches = F.unfold(x, 3).transpose(1, 2).reshape(1, -1, 27)
    # the input range: exact over all 12.4 M inputs (the 1244 values above the quantile are kept);
    # the oracle in float64 (torch.quantile places the quantile in the input's precision)
    expect = torch.quantile(patches.abs().flatten().double(), 0.9999).float()
    assert torch.isclose(conv.input_range, expect, rtol=1e-6)
    # the ADC range: from (2^20 // 27) of the 460 800 vectors, exact over their partial sums
    eps = _rank_error((1 << 20) // 27) + 1 / 29_491_200
    p = partial_sums(conv, patches).abs().flatten()
    lo, hi = _rank(p, conv.out_bound / 1.1)
    assert lo - eps <= 0.9999 <= hi + eps


# -- zero ranges, empty data, bad arguments --------------------------------------------------------
def _mlp(cfg, zero_first=False):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    if zero_first:
        nn.init.zeros_(m[0].weight)
    return m


@pytest.mark.parametrize("policy", ["calibrated", "dynamic"])
def test_zero_layer_and_zero_data_give_zero_ranges(policy):
    cfg = an.presets.standard().replace(dac=an.DACConfig(bits=8, range_policy=policy))
    model = an.convert_(_mlp(cfg, zero_first=True), cfg)
    an.calibrate_(model, torch.randn(16, 8))
    first = an.analog_layers(model)["0"]
    assert float(first.out_bound) == 0.0  # not clamped to a tiny value
    model = an.convert_(_mlp(cfg), cfg)
    an.calibrate_(model, torch.zeros(16, 8))
    first = an.analog_layers(model)["0"]
    assert float(first.out_bound) == 0.0
    if first.input_range is not None:
        assert float(first.input_range) == 0.0


@pytest.mark.parametrize("zero", ["layer", "data"])
def test_forward_after_calibrating_a_zero_layer_or_zero_data(zero):
    cfg = an.presets.standard().replace(dac=an.DACConfig(bits=8, range_policy="calibrated"))
    plain = _mlp(cfg, zero_first=zero == "layer")
    model = an.convert_(_mlp(cfg, zero_first=zero == "layer"), cfg)
    an.calibrate_(model, torch.randn(16, 8) if zero == "layer" else torch.zeros(16, 8))
    x = torch.randn(5, 8)
    with torch.no_grad():
        y = model(x)
        first = model[0](x)
    assert torch.isfinite(y).all()
    # the zero-range layer gives its bias alone (its MVM outputs are zero)
    assert torch.equal(first, plain[0].bias.expand(5, 8))


def test_empty_data_says_so():
    layer = _layer()
    with pytest.raises(ValueError, match="no samples"):
        an.calibrate_(layer, torch.empty(0, 200))
    with pytest.raises(ValueError, match="no samples"):
        an.calibrate_(layer, [torch.empty(0, 200), torch.empty(0, 200)])
    x = torch.randn(50, 200)
    an.calibrate_(layer, [torch.empty(0, 200), x], input_quantile=1.0)  # empty batches are skipped
    assert torch.isclose(layer.input_range, x.abs().max())


@pytest.mark.parametrize("kwargs, field", [
    ({"adc_margin": float("nan")}, "adc_margin"), ({"adc_margin": float("inf")}, "adc_margin"),
    ({"input_quantile": float("nan")}, "input_quantile"), ({"adc_quantile": float("nan")}, "adc_quantile"),
    ({"adc_quantile": 1.5}, "adc_quantile"), ({"max_batches": 0}, "max_batches"),
    ({"max_batches": True}, "max_batches"), ({"max_batches": 2.5}, "max_batches"),
    ({"max_elements": 10}, "max_elements"),
])
def test_bad_calibration_arguments_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"calibrate_: {field}"):
        an.calibrate_(_layer(), torch.randn(3, 200), **kwargs)



@pytest.mark.parametrize("k_cycle", [1, 3])
def test_bit_serial_calibration_covers_every_read_cycle(k_cycle):
    """With bit-serial inputs each conversion sees one digit plane's sums: the calibrated range is
    their largest (oracle: the planes by integer shifts and the sums by plain matmuls), and the
    calibrated layer with an ideal, clipping ADC then gives the unclipped result on the data."""
    torch.manual_seed(0)
    cfg = an.presets.quantized(dac_bits=7, rows=64).replace(
        **{"adc.bits": None, "adc.clip": True, "dac.bits_per_cycle": k_cycle})
    layer = an.AnalogLinear(100, 12, cfg=cfg, dtype=torch.float64)
    x = torch.rand(200, 100, dtype=torch.float64) * torch.randn(200, 100, dtype=torch.float64)
    an.calibrate_(layer, x, adc_quantile=1.0, adc_margin=1.0)
    w = layer.weight.detach().t()  # (K, M)
    ld = 63
    scale = x.abs().amax(dim=1, keepdim=True)
    codes = torch.round(x / scale * ld).to(torch.int64)
    mag, sign = codes.abs(), codes.sign()
    top, y = torch.zeros(()), torch.zeros(200, 12, dtype=torch.float64)
    for j in range(math.ceil(6 / k_cycle)):
        plane = ((mag >> (k_cycle * j)) & ((1 << k_cycle) - 1)) * sign
        for b in range(2):  # 100 rows on 64-row tiles: 2 blocks of 50, each column scaled to its largest |w|
            wb = w[50 * b: 50 * (b + 1)]
            s = wb.abs().amax(dim=0)
            p = plane[:, 50 * b: 50 * (b + 1)].to(torch.float64) / ((1 << k_cycle) - 1) @ (wb / s)
            top = torch.maximum(top, p.abs().max())
            y += p * s * ((1 << k_cycle) - 1) * 2 ** (k_cycle * j) / ld
    assert torch.isclose(layer.out_bound.double(), top, rtol=1e-6)
    with torch.no_grad():
        assert torch.allclose(layer(x) - layer.bias, y * scale, rtol=1e-9, atol=1e-9)
