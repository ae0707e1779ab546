"""Pixel physics against Poisson statistics and exact cases; the zero-noise in-sensor conv
against torch's conv2d; the frame-energy arithmetic by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from analogue._util.validate import ConfigError
from analogue.cost import edge
from analogue.sensor import (
    InSensorConfig,
    InSensorConv2d,
    PixelConfig,
    capture,
    physics,
    program_weights,
)

N = 40_000


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_photon_conversion_from_first_principles():
    # 1 lux of 555 nm light = 1/683 W/m2; photon energy h c / lambda = 3.579e-19 J
    photons = (1 / 683) / (6.62607015e-34 * 299_792_458 / 555e-9) / 1e12
    assert physics.photons_per_lux_s_um2() == pytest.approx(photons, rel=1e-12)
    assert physics.photons_per_lux_s_um2() == pytest.approx(4090, rel=1e-3)
    m = physics.mean_photoelectrons(torch.ones(1), 2.0, 0.01, 3.0, 0.5)
    assert float(m) == pytest.approx(photons * 2.0 * 0.01 * 9.0 * 0.5, rel=1e-6)


@pytest.mark.parametrize("mu", [4.0, 100.0, 2500.0])
def test_shot_noise_variance_equals_mean(mu):
    q = physics.expose(torch.full((N,), mu), dark_current_e_per_s=0.0, exposure_s=1.0, full_well_e=1e9,
                       read_noise_e=0.0, generator=_gen(1))
    # 5 standard errors: mean se = sqrt(mu / N); sample-variance se = sqrt((mu + 2 mu^2) / N) (Poisson)
    assert abs(float(q.mean()) - mu) < 5 * math.sqrt(mu / N)
    assert abs(float(q.var()) - mu) < 5 * math.sqrt((mu + 2 * mu**2) / N)
    assert torch.equal(q, q.round())  # whole electrons


def test_saturation_at_full_well():
    q = physics.expose(torch.full((1000,), 5e4), dark_current_e_per_s=10.0, exposure_s=0.1,
                       full_well_e=1e4, read_noise_e=3.0, generator=_gen(2))
    assert torch.all(q == 1e4)
    below = physics.expose(torch.full((1000,), 10.0), dark_current_e_per_s=0.0, exposure_s=0.1,
                           full_well_e=1e4, read_noise_e=0.0, generator=_gen(2))
    assert float(below.max()) < 1e4


@pytest.mark.parametrize("t_s", [0.01, 0.1, 1.0])
def test_dark_current_scales_with_integration_time(t_s):
    dark = 50.0
    q = physics.expose(torch.zeros(N), dark_current_e_per_s=dark, exposure_s=t_s, full_well_e=1e9,
                       read_noise_e=0.0, generator=_gen(3))
    mu = dark * t_s
    assert abs(float(q.mean()) - mu) < 5 * math.sqrt(mu / N)
    assert abs(float(q.var()) - mu) < 5 * math.sqrt((mu + 2 * mu**2) / N)


def test_fixed_pattern_statistics_and_determinism():
    gain, off = physics.fixed_pattern((200, 200), 0.02, 3.0, _gen(4))
    n = gain.numel()
    # sample std of a normal: se ~ sigma / sqrt(2 n)
    assert abs(float(gain.std()) - 0.02) < 5 * 0.02 / math.sqrt(2 * n)
    assert abs(float(gain.mean()) - 1.0) < 5 * 0.02 / math.sqrt(n)
    assert abs(float(off.std()) - 3.0) < 5 * 3.0 / math.sqrt(2 * n)
    g2, o2 = physics.fixed_pattern((200, 200), 0.02, 3.0, _gen(4))
    assert torch.equal(gain, g2) and torch.equal(off, o2)
    # PRNU: the fixed pattern's spread grows with the signal (a gain), DSNU does not
    mean = torch.full((200, 200), 1000.0)
    q = physics.expose(mean, dark_current_e_per_s=0.0, exposure_s=1.0, full_well_e=1e9, read_noise_e=0.0,
                       gain=gain, offset_e=off)
    assert float(q.std()) == pytest.approx(math.sqrt((1000 * 0.02) ** 2 + 9.0), rel=0.05)


def test_capture_without_noise_returns_the_scene():
    pixel = PixelConfig(dark_current_e_per_s=0.0)
    scene = torch.rand(2, 1, 8, 8, generator=_gen(5))
    assert torch.allclose(capture(scene, pixel, lux=1.0, exposure_s=0.01), scene, atol=1e-6)
    with pytest.raises(ValueError, match="lux"):
        capture(scene, pixel, lux=0.0, exposure_s=0.01)


def test_zero_noise_sensor_conv_equals_conv2d():
    conv = nn.Conv2d(1, 4, 4, stride=4)
    x = torch.rand(3, 1, 16, 16, generator=_gen(6))
    layer = InSensorConv2d(conv, InSensorConfig(adc_bits=None), (16, 16)).program_(None)
    assert torch.allclose(layer(x), F.conv2d(x, conv.weight, conv.bias, stride=4), atol=1e-6)
    # through the exposure with every effect off, too
    pix = PixelConfig(dark_current_e_per_s=0.0, read_noise_e=0.0, prnu_fraction=0.0, dsnu_e=0.0)
    layer = InSensorConv2d(conv, InSensorConfig(pixel=pix, adc_bits=None), (16, 16)).program_(None)
    assert torch.allclose(layer(x, lux=1.0, exposure_s=0.01), F.conv2d(x, conv.weight, conv.bias, stride=4),
                          atol=1e-5)


def test_output_adc_quantises_within_half_a_step():
    conv = nn.Conv2d(1, 2, 4, stride=4, bias=False)
    x = torch.rand(8, 1, 16, 16, generator=_gen(7))
    layer = InSensorConv2d(conv, InSensorConfig(adc_bits=6), (16, 16)).program_(None).calibrate_(x)
    exact = F.conv2d(x, conv.weight, stride=4)
    step = layer.bound / 31
    assert torch.all((layer(x) - exact).abs() <= step / 2 + 1e-6)


def test_held_weights_ratio_levels_and_programming_noise():
    w = torch.tensor([[1.0, -0.5, 0.26, 0.0]])
    q = program_weights(w, InSensorConfig(ratio_bits=3), None)  # 3 levels per side: 0, 1/3, 2/3, 1
    assert torch.allclose(q, torch.tensor([[1.0, -2 / 3, 1 / 3, 0.0]]))
    from analogue.config import presets

    big = torch.full((N,), 0.5)
    big[0] = 1.0
    held = program_weights(big, InSensorConfig(device=presets.rram_device()), _gen(8))
    std = 0.5 / 40.0  # the preset's programming noise, in units of the largest weight
    err = (held[1:] - 0.5)
    # the positive device: N(0, std); the negative (target 0) device: clamp(N(0, std), 0)
    assert abs(float(err.mean()) + std / math.sqrt(2 * math.pi)) < 5 * std / math.sqrt(N)


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="PixelConfig.full_well_e"):
        PixelConfig(full_well_e=0.0)
    with pytest.raises(ConfigError, match="InSensorConfig.adc_bits"):
        InSensorConfig(adc_bits=40)
    assert InSensorConfig.from_dict(InSensorConfig().to_dict()) == InSensorConfig()


def test_frame_energy_by_hand():
    cfg = InSensorConfig(adc_bits=8, pixel_adc_bits=10, node_nm=65.0)
    fe = edge.frame_energy(8, 8, 4, 4, 2, cfg)
    assert (fe.pixels, fe.outputs, fe.macs) == (64, 8, 128)
    read = 64 * 1e-6 * 1e-6 * 2.8
    assert fe.in_sensor_J["pixel read"] == pytest.approx(read)
    assert fe.in_sensor_J["charge MACs"] == pytest.approx(128 * 0.5 * 128 * 1e-15 * 1.0)
    assert fe.in_sensor_J["ADCs"] == pytest.approx(8 * edge.adc_conversion_J(8, 65.0))
    assert fe.conventional_J["ADCs"] == pytest.approx(64 * edge.adc_conversion_J(10, 65.0))
    assert fe.saving == pytest.approx(sum(fe.conventional_J.values()) / sum(fe.in_sensor_J.values()))
    with pytest.raises(ValueError, match="kernel"):
        edge.frame_energy(2, 2, 4, 4, 1, cfg)


def test_sensor_validation_table_has_three_chips():
    rows = edge.sensor_validation_rows()
    assert len(rows) >= 3
    for r in rows:
        low, high, pub = (r["model pJ/px (bias duty-cycled)"], r["model pJ/px (bias always on)"],
                          r["published pJ/px"])
        assert low < high
        assert r["published within bounds"] == (low <= pub <= high)
        assert r["error (bounds' geometric mean)"] == pytest.approx(math.sqrt(low * high) / pub - 1)
        assert r["error (duty-cycled bound)"] == pytest.approx(low / pub - 1)
    # at least three from the solid-state circuits venues the issue names (Sensors does not count)
    assert sum(any(v in r["venue"] for v in ("ISSCC", "JSSC", "VLSI")) for r in rows) >= 3
    young = next(c for c in edge.SENSOR_CHIPS if c["chip"].startswith("Young"))
    # published: QVGA, 0.13 um CIS process, 99 pJ/pixel (JSSC 54(11), 2019); the frame rate is assumed
    assert (young["width"], young["height"], young["node_nm"], young["published_pJ_per_pixel"]) == (320, 240, 130.0, 99.0)
    assert "fps" in young["assumed"] and "published_pJ_per_pixel" not in young["assumed"]
    # Hsu et al.'s published figure is its power over frame rate and active pixels
    assert edge.SENSOR_CHIPS[2]["published_pJ_per_pixel"] == pytest.approx(134.5e-6 / (250 * 126 * 126) * 1e12,
                                                                          rel=0.01)


def test_every_sensor_chip_builds_and_its_row_is_its_own_prediction():
    """Each entry's row is frame_energy of that entry's own organisation (an independent rebuild),
    and every assumed field names a real field of the entry."""
    rows = edge.sensor_validation_rows()
    assert len(rows) == len(edge.SENSOR_CHIPS)
    for c, r in zip(edge.SENSOR_CHIPS, rows):
        assert set(c["assumed"]) <= set(c), c["chip"]
        cfg = InSensorConfig(adc_bits=c["adc_bits"], pixel_adc_bits=c["pixel_adc_bits"], node_nm=c["node_nm"],
                             ratio_bits=c.get("weight_bits"))
        geo = (c["height"], c["width"], c["kernel"], c["stride"], c["features"], cfg)
        low = edge.frame_energy(*geo, supply_V=c["supply_V"])
        high = edge.frame_energy(*geo, bias_on_s=1.0 / (c["fps"] * c["height"]), supply_V=c["supply_V"])
        assert r["chip"] == c["chip"]
        assert r["model pJ/px (bias duty-cycled)"] == pytest.approx(low.in_sensor_pJ_per_pixel)
        assert r["model pJ/px (bias always on)"] == pytest.approx(high.in_sensor_pJ_per_pixel)
        # by hand: the pixel-read term of the duty-cycled bound is 1 uA x 1 us x the pixel supply
        assert low.in_sensor_J["pixel read"] / low.pixels == pytest.approx(1e-12 * c["supply_V"])
        assert r["published pJ/px"] == pytest.approx(c["published_pJ_per_pixel"])


def test_lefebvre_isscc2021_entry_is_its_published_organisation():
    c = next(c for c in edge.SENSOR_CHIPS if c["chip"].startswith("Lefebvre"))
    # published (ISSCC 2021, 7.7): 65 nm, QQVGA, ternary (1.5-bit) weights, 2.5 pJ/pixel/frame/filter
    assert (c["node_nm"], c["width"], c["height"], c["published_pJ_per_pixel"]) == (65.0, 160, 120, 2.5)
    assert c["features"] == 1 and c["weight_bits"] == 2 and c["venue"] == "ISSCC"
    for published in ("node_nm", "width", "height", "published_pJ_per_pixel", "weight_bits", "features"):
        assert published not in c["assumed"]
    assert {"fps", "supply_V", "kernel", "stride"} <= set(c["assumed"])
    row = next(r for r in edge.sensor_validation_rows() if r["chip"] == c["chip"])
    # 3x3/3 on 160x120: 53x40 outputs, 9 two-bit charge MACs each, one 8-bit conversion each
    fe = edge.frame_energy(120, 160, 3, 3, 1, InSensorConfig(adc_bits=8, pixel_adc_bits=8, node_nm=65.0,
                                                             ratio_bits=2), supply_V=2.5)
    assert (fe.outputs, fe.macs) == (53 * 40, 53 * 40 * 9)
    assert fe.in_sensor_J["charge MACs"] == pytest.approx(fe.macs * 0.5 * 2 * edge.K.SAR_C_UNIT_F)
    assert row["model pJ/px (bias duty-cycled)"] == pytest.approx(fe.in_sensor_pJ_per_pixel)
