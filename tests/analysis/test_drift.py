"""accuracy_over_time: Monte Carlo statistics, the expected decay, compensation, bad input."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from scipy import stats
from torch import nn

import analogue as an
from analogue.analysis.drift import accuracy_over_time, format_time
from analogue.data.digits import load_digits, train_classifier

HOUR, YEAR = 3600.0, 31_536_000.0


@pytest.fixture(scope="module")
def digits_mlp():
    data = load_digits(seed=0, flat=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    train_classifier(model, data, epochs=12, seed=0)
    return an.convert_(model, an.presets.pcm()), data


@pytest.fixture(scope="module")
def result(digits_mlp):
    model, data = digits_mlp
    return accuracy_over_time(
        model,
        data,
        (HOUR, YEAR),
        repeats=8,
        compensation=("none", "global"),
        seed=0,
        instances_per_pass=4,
    )


def test_statistics_are_computed_from_the_samples(result):
    assert len(result.points) == 4
    for p in result.points:
        acc = torch.tensor(
            result.samples[p.compensation][[HOUR, YEAR].index(p.t_s)], dtype=torch.float64
        )
        assert p.n == 8 == len(acc)
        assert p.mean == pytest.approx(float(acc.mean()))
        assert p.std == pytest.approx(float(acc.std()))
        half = stats.t.ppf(0.975, 7) * p.std / math.sqrt(8)
        assert (p.ci_low, p.ci_high) == pytest.approx((p.mean - half, p.mean + half))
        assert 0.0 <= float(acc.min()) and float(acc.max()) <= 1.0


def test_accuracy_decays_without_compensation_and_holds_with_it(result):
    none_h, none_y = result.point(HOUR, "none"), result.point(YEAR, "none")
    glob_y = result.point(YEAR, "global")
    assert none_y.mean < none_h.mean  # decay over time
    assert glob_y.mean > none_y.mean  # compensation wins it back
    assert result.baseline > 0.9
    assert result.baseline - glob_y.mean < result.baseline - none_y.mean


def test_the_model_is_left_untouched(digits_mlp):
    model, data = digits_mlp
    before = copy.deepcopy(model.state_dict())
    accuracy_over_time(model, (data.x_test[:50], data.y_test[:50]), (HOUR,), repeats=2)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_results_are_reproducible_for_a_seed(digits_mlp):
    model, data = digits_mlp
    sub = (data.x_test[:100], data.y_test[:100])
    a = accuracy_over_time(model, sub, (YEAR,), repeats=3, seed=5)
    b = accuracy_over_time(model, sub, (YEAR,), repeats=3, seed=5)
    assert a.samples == b.samples


def test_table_json_and_plot(result, tmp_path):
    rows = result.table()
    assert [r["time"] for r in rows] == ["1 h", "1 y"]
    assert set(rows[0]) == {"time", "none mean %", "none 95% CI", "global mean %", "global 95% CI"}
    import json

    json.dumps(result.to_dict())
    path = result.plot(tmp_path / "drift.png")
    assert path.exists() and path.stat().st_size > 1000
    assert format_time(86_400.0) == "1 d" and format_time(5.0) == "5 s"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"times_s": (-1.0,)}, "time"),
        ({"times_s": (float("nan"),)}, "time"),
        ({"times_s": ()}, "empty"),
        ({"repeats": 0}, "repeats"),
        ({"compensation": ("drift",)}, "compensation"),
        ({"temperature_k": -5.0}, "kelvin"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_bad_input_fails(digits_mlp, kwargs, match):
    model, data = digits_mlp
    with pytest.raises(ValueError, match=match):
        accuracy_over_time(model, data, **kwargs)


@pytest.mark.slow
def test_drift_command_end_to_end(tmp_path, capsys):
    from analogue.cli import main

    assert main(["drift", "--epochs", "3", "--repeats", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 y" in out and "global mean %" in out
    assert (tmp_path / "drift.json").exists() and (tmp_path / "drift.png").exists()


def test_periodic_recalibration_in_evaluation(digits_mlp):
    model, data = digits_mlp
    sub = (data.x_test[:100], data.y_test[:100])
    res = accuracy_over_time(model, sub, (0.5 * HOUR, YEAR), repeats=2, compensation=("global",),
                             recalibrate_every_s=HOUR)
    assert [p.compensation for p in res.points] == ["global", "global"]
    assert all(0.0 <= p.mean <= 1.0 for p in res.points)
