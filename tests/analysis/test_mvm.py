import pytest

import analogue as an
from analogue.analysis import mvm_error, mvm_error_table


def test_ideal_is_exact():
    e = mvm_error(an.presets.ideal(), 300, 40, n_vectors=200)
    assert e.worst < 1e-5 and e.rel_l2 < 1e-5 and e.meets_1pct


def test_calibrated_8bit_meets_one_percent_and_noise_costs():
    q = mvm_error(an.presets.quantized(), 256, 256, n_vectors=300, calibrate=True)
    # analytic bound: half an ADC step (1/254 of full scale) plus the DAC's contribution
    assert q.meets_1pct and q.worst < 0.01
    assert q.mean < 1 / 254
    noisy = mvm_error(an.presets.standard(), 256, 256, n_vectors=300, calibrate=True)
    assert noisy.rms > q.rms


def test_uncalibrated_range_clips():
    e = mvm_error(an.presets.quantized(), 256, 256, n_vectors=300)
    assert e.worst > 0.05  # column sums exceed the default bound of 10


def test_fewer_bits_more_error():
    errs = [mvm_error(an.presets.quantized(b, b), 128, 64, 200, calibrate=True).rms for b in (4, 6, 8)]
    assert errs[0] > errs[1] > errs[2]


def test_table_and_bad_args():
    rows = mvm_error_table({"q": an.presets.quantized()}, 64, 16, 50)
    assert [r["calibrated"] for r in rows] == [False, True]
    with pytest.raises(ValueError, match="rows"):
        mvm_error(an.presets.ideal(), 0, 4)
    with pytest.raises(ValueError, match="weight_dist"):
        mvm_error(an.presets.ideal(), 4, 4, weight_dist="cauchy")
