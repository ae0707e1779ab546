"""Static converter errors (physics.periphery): the sampled per-column parameters against their
configured statistics, the code transfer against loop oracles, and the config fields."""

from __future__ import annotations

import math

import pytest
import torch

from analogue.config import ADCConfig, AnalogConfig, ConfigError, DACConfig
from analogue.physics.periphery import (
    ColumnADCs,
    bow_profile,
    levels,
    nonideal_adc_,
    nonideal_dac,
    quantise_,
    random_walk_inl,
    sample_column_adcs,
    sample_dac_inl,
)


def _gens(seed: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed * 10 + i) for i in range(4)]


def _std_bound(n: int) -> float:
    """Six standard errors of a sample std's relative error, ``1 / sqrt(2 (n - 1))``."""
    return 6.0 / math.sqrt(2.0 * (n - 1))


# -- shapes of the transfer curves --------------------------------------------------------------
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_bow_profile_is_odd_zero_at_centre_and_ends_with_unit_peak(bits):
    p = bow_profile(bits, torch.float64)
    lv = levels(bits)
    assert p.shape == (2 * lv + 1,)
    torch.testing.assert_close(p, -p.flip(0), rtol=0, atol=1e-15)
    assert p[lv] == 0 and abs(float(p[0])) < 1e-15 and abs(float(p[-1])) < 1e-15
    x = 1 / math.sqrt(3)  # the continuous curve's peak: exactly 1
    assert 1.5 * math.sqrt(3) * (x - x**3) == pytest.approx(1.0, abs=1e-15)
    assert float(p.abs().max()) <= 1.0 + 1e-12
    if bits == 8:  # codes are dense enough to reach the peak within 1e-3
        assert float(p.max()) == pytest.approx(1.0, abs=1e-3)
        assert int(p.argmax()) - lv == round(lv / math.sqrt(3))


def test_random_walk_inl_end_points_and_dnl_statistics():
    bits, sigma, n, cols = 6, 0.3, 40, 100
    lv = levels(bits)
    inl = random_walk_inl(n, bits, cols, sigma, torch.Generator().manual_seed(1), torch.float64)
    assert inl.shape == (n, 2 * lv + 1, cols)
    assert float(inl[:, 0].abs().max()) < 1e-12 and float(inl[:, -1].abs().max()) < 1e-12
    dnl = inl.diff(dim=1)  # (n, 2L, cols): each column's code widths minus 1 LSB
    # per code, the DNL across the n * cols independent columns has std sigma * sqrt(1 - 1/(2L))
    expected = sigma * math.sqrt(1.0 - 1.0 / (2 * lv))
    per_code = dnl.permute(1, 0, 2).reshape(2 * lv, -1)
    std = per_code.std(dim=1)
    bound = _std_bound(per_code.shape[1])
    assert float((std / expected - 1).abs().max()) < bound
    # the mean DNL of a column is exactly 0 (end points fixed); per code the mean is 0 within 6 se
    assert float(dnl.sum(dim=1).abs().max()) < 1e-10
    se = expected / math.sqrt(per_code.shape[1])
    assert float(per_code.mean(dim=1).abs().max()) < 6 * se


def test_sampled_column_errors_match_the_configured_statistics():
    n, cols, bits = 64, 256, 8
    adcs = sample_column_adcs(n, cols, bits, offset_std_lsb=0.7, gain_std_rel=0.02, inl_std_lsb=0.5,
                              dnl_std_lsb=0.0, generators=_gens(3), dtype=torch.float64)
    m = n * cols
    bound = _std_bound(m)
    assert adcs.offset.shape == adcs.gain.shape == (n, 1, cols)
    assert adcs.inl.shape == (n, 2 * levels(bits) + 1, cols)
    assert float(adcs.offset.std()) / 0.7 - 1 == pytest.approx(0, abs=bound)
    assert abs(float(adcs.offset.mean())) < 6 * 0.7 / math.sqrt(m)
    assert float((adcs.gain - 1).std()) / 0.02 - 1 == pytest.approx(0, abs=bound)
    assert abs(float(adcs.gain.mean()) - 1) < 6 * 0.02 / math.sqrt(m)
    # the INL is a * bow with a ~ N(0, 0.5^2) per column: the amplitude at the profile's peak code
    prof = bow_profile(bits, torch.float64)
    amp = adcs.inl[:, int(prof.argmax())] / prof.max()
    assert float(amp.std()) / 0.5 - 1 == pytest.approx(0, abs=bound)
    torch.testing.assert_close(adcs.inl, amp.unsqueeze(1) * prof.view(1, -1, 1))
    # columns are independent: the correlation of neighbouring columns' offsets is 0 within 6 se
    a, b = adcs.offset[..., :-1].flatten(), adcs.offset[..., 1:].flatten()
    assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 6 / math.sqrt(a.numel())


def test_each_error_has_its_own_stream_and_all_off_is_none():
    kw = dict(inl_std_lsb=0.0, dnl_std_lsb=0.0, dtype=torch.float64)
    only_offset = sample_column_adcs(4, 8, 6, offset_std_lsb=1.0, gain_std_rel=0.0, generators=_gens(5), **kw)
    both = sample_column_adcs(4, 8, 6, offset_std_lsb=1.0, gain_std_rel=0.01, generators=_gens(5), **kw)
    assert only_offset.gain is None and only_offset.inl is None
    assert torch.equal(only_offset.offset, both.offset)  # switching gain on leaves offsets alone
    other = sample_column_adcs(4, 8, 6, offset_std_lsb=1.0, gain_std_rel=0.0, generators=_gens(6), **kw)
    assert not torch.equal(only_offset.offset, other.offset)
    assert sample_column_adcs(4, 8, 6, offset_std_lsb=0.0, gain_std_rel=0.0, generators=_gens(5), **kw) is None


# -- the transfer against loop oracles ----------------------------------------------------------
def test_nonideal_adc_matches_a_loop_oracle():
    bits, lv = 4, levels(4)
    g = torch.Generator().manual_seed(2)
    steps = torch.randn(3, 5, 4, generator=g, dtype=torch.float64) * 6  # some beyond +-L: clipped
    adcs = sample_column_adcs(3, 4, bits, offset_std_lsb=0.8, gain_std_rel=0.05, inl_std_lsb=0.4,
                              dnl_std_lsb=0.2, generators=_gens(7), dtype=torch.float64)
    got = nonideal_adc_(steps.clone(), bits, adcs)
    want = torch.empty_like(steps)
    for b in range(3):
        for n in range(5):
            for c in range(4):
                v = float(steps[b, n, c]) * float(adcs.gain[b, 0, c]) + float(adcs.offset[b, 0, c])
                k = int(round(min(max(v, -lv), lv)))  # no exact .5 ties in random doubles
                want[b, n, c] = k + float(adcs.inl[b, k + lv, c])
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    # every error off: the ideal quantiser
    ideal = nonideal_adc_(steps.clone(), bits, ColumnADCs())
    assert torch.equal(ideal, quantise_(steps.clone(), bits))


def test_nonideal_dac_matches_a_loop_oracle_and_keeps_zero_at_zero():
    bits, lv = 5, levels(5)
    inl = sample_dac_inl(2, 6, bits, 0.5, torch.Generator().manual_seed(4), torch.float64)
    assert inl.shape == (2, 2 * lv + 1, 6)
    assert float(inl[:, lv].abs().max()) == 0.0  # code 0: an idle word line stays idle
    codes = torch.randint(-lv, lv + 1, (2, 7, 6), generator=torch.Generator().manual_seed(5)).double()
    got = nonideal_dac(codes, bits, inl)
    want = codes.clone()
    for b in range(2):
        for n in range(7):
            for r in range(6):
                want[b, n, r] += inl[b, int(codes[b, n, r]) + lv, r]
    assert torch.equal(got, want)


# -- config -------------------------------------------------------------------------------------
def test_converter_fields_default_off_round_trip_and_old_dicts_load():
    cfg = AnalogConfig()
    assert not cfg.adc.nonideal and cfg.dac.inl_std_lsb == 0.0
    on = cfg.replace(**{"adc.offset_std_lsb": 0.5, "adc.gain_std_rel": 0.01, "adc.inl_std_lsb": 0.3,
                        "adc.dnl_std_lsb": 0.1, "dac.inl_std_lsb": 0.2})
    assert on.adc.nonideal
    assert AnalogConfig.from_dict(on.to_dict()) == on
    assert on.to_dict()["version"] == cfg.to_dict()["version"]
    old = cfg.to_dict()  # a dict written before the fields existed loads to the same config
    for key in ("offset_std_lsb", "gain_std_rel", "inl_std_lsb", "dnl_std_lsb"):
        del old["adc"][key]
    del old["dac"]["inl_std_lsb"]
    assert AnalogConfig.from_dict(old) == cfg


@pytest.mark.parametrize("kwargs, match", [
    (dict(offset_std_lsb=-0.1), "offset_std_lsb"),
    (dict(gain_std_rel=float("nan")), "gain_std_rel"),
    (dict(gain_std_rel=0.6), "gain_std_rel"),
    (dict(dnl_std_lsb=float("inf")), "dnl_std_lsb"),
    (dict(bits=None, clip=False, offset_std_lsb=0.5), "bits"),
    (dict(bits=1, inl_std_lsb=0.5), "inl_std_lsb"),
    (dict(bits=1, dnl_std_lsb=0.5), "dnl_std_lsb"),
])
def test_adc_error_fields_are_validated(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ADCConfig(**kwargs)


def test_dac_inl_is_validated_and_a_sign_adc_may_have_an_offset():
    with pytest.raises(ConfigError, match="inl_std_lsb"):
        DACConfig(inl_std_lsb=-1.0)
    with pytest.raises(ConfigError, match="inl_std_lsb"):
        DACConfig(bits=1, inl_std_lsb=0.5)
    with pytest.raises(ConfigError, match="inl_std_lsb"):
        DACConfig(bits=None, inl_std_lsb=0.5)
    assert ADCConfig(bits=1, offset_std_lsb=0.2, gain_std_rel=0.1).nonideal  # a comparator's offset
