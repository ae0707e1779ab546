"""The array-size study: r = 0 is the plain programmed model, IR drop costs accuracy as the wires
get worse, the largest-array choice, the cost columns, and compile's tile cap under IR drop."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import analogue as an
from analogue.analysis.arrays import (
    ArrayPoint,
    ArraySizeStudy,
    array_accuracy,
    largest_within,
    wire_pairs,
)
from analogue.compile.tiles import choose_tile, resize_arrays, worst_case_ir_drop
from analogue.cost.arrays import array_costs, array_size_study
from analogue.cost.reprogram import EnduranceWarning
from analogue.data.digits import load_digits, train_classifier
from analogue.physics import irdrop


@pytest.fixture(scope="module")
def tiny():
    """A 64-24-10 MLP on the flat digits (a few epochs), a 200-example test set."""
    data = load_digits(seed=0, flat=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))
    train_classifier(model, data, epochs=4, seed=0)
    return model, (data.x_test[:200], data.y_test[:200]), data.x_train[:128]


def _cfg():
    return an.presets.standard()


def _per_instance(model, x, y, reps):
    with torch.no_grad():
        out = model(x.repeat(reps, 1)).view(reps, len(y), -1)
    return [(out[i].argmax(-1) == y).double().mean().item() for i in range(reps)]


def test_r0_equals_the_plain_programmed_model(tiny) -> None:
    model, (x, y), calib = tiny
    points, digital = array_accuracy(model, (x, y), _cfg(), sizes=(8, 32), r_wire=(0.0,), instances=3,
                                     instances_per_pass=3, calibration_data=calib, seed=5, progress=False)
    assert digital == pytest.approx((model(x).argmax(-1) == y).double().mean().item(), abs=0)
    for p in points:
        plain = an.convert_(copy.deepcopy(model), _cfg().replace(**{"tile.rows": p.size, "tile.cols": p.size}),
                            seed=5)
        an.calibrate_(plain, calib, seed=5)
        an.program_(plain.eval(), seed=6, instances=3)
        assert list(p.samples) == _per_instance(plain, x, y, 3)
        assert p.n == 3 and p.mean == pytest.approx(sum(p.samples) / 3)


@pytest.mark.slow
def test_accuracy_falls_as_the_wires_get_worse(tiny) -> None:
    model, (x, y), calib = tiny
    rs = (0.0, 20.0, 200.0, 2000.0)
    points, digital = array_accuracy(model, (x, y), _cfg(), sizes=(64,), r_wire=rs, instances=2,
                                     calibration_data=calib, seed=0, progress=False)
    means = [p.mean for p in points]
    assert [p.r_row_ohm for p in points] == list(rs)
    assert all(a >= b for a, b in zip(means, means[1:])), means
    assert means[-1] < means[0] - 0.05, means  # the worst wires cost real accuracy


def test_largest_within_on_a_hand_made_table() -> None:
    def pt(size, r, mean):
        return ArrayPoint(size, r, r, mean, 0.0, mean, mean, 1)

    pts = [pt(64, 0.0, 0.95), pt(128, 0.0, 0.95), pt(256, 0.0, 0.949),
           pt(64, 1.0, 0.945), pt(128, 1.0, 0.93), pt(256, 1.0, 0.90),
           pt(64, 5.0, 0.80), pt(128, 5.0, 0.70)]
    assert largest_within(pts, 0.95, 0.01) == {"0 ohm": 256, "1 ohm": 64, "5 ohm": None}
    assert largest_within(pts, 0.95, 0.0) == {"0 ohm": 128, "1 ohm": None, "5 ohm": None}
    study = ArraySizeStudy(tuple(pts[:6]), 0.95, 0.02)
    assert study.largest_within() == {"0 ohm": 256, "1 ohm": 128}
    rows = study.table()
    assert [r["array"] for r in rows] == ["64x64", "128x128", "256x256"]
    assert rows[1]["acc % @ 1 ohm"] == "93.00 ± 0.00"
    with pytest.raises(ValueError, match="max_loss"):
        largest_within(pts, 0.95, -0.1)


def test_wire_pairs_and_bad_input(tiny) -> None:
    assert wire_pairs([0.5, (1.5, 5)]) == [(0.5, 0.5), (1.5, 5.0)]
    model, data, _ = tiny
    with pytest.raises(ValueError, match="r_wire"):
        wire_pairs([-1.0])
    with pytest.raises(ValueError, match="each size"):
        array_accuracy(model, data, _cfg(), sizes=(0,), progress=False)
    with pytest.raises(ValueError, match="calibration_data"):
        array_accuracy(model, data, _cfg().replace(**{"dac.range_policy": "calibrated"}), sizes=(8,),
                       progress=False)
    with pytest.raises(ValueError, match="digital model"):
        array_accuracy(an.convert_(copy.deepcopy(model), _cfg()), data, _cfg(), sizes=(8,), progress=False)


def test_cost_columns_are_estimate_cost_of_the_resized_chip(tiny) -> None:
    model, (x, y), calib = tiny
    chip = an.chips.hermes()
    res = array_size_study(model, (x, y), None, chip, sizes=(32, 128), r_wire=(0.0,), instances=1,
                           calibration_data=calib, progress=False)
    for size in (32, 128):
        resized = resize_arrays(chip, size, size)
        rep = an.estimate_cost(an.compile(model, x[:1], resized, build_model=False, progress=False))
        c = res.cost(size)
        assert (c.energy_J, c.latency_s, c.area_mm2) == (rep.energy_J, rep.latency_s, rep.area_mm2)
    assert res.cost(32).arrays_used > res.cost(128).arrays_used
    assert array_costs(model, x[:1], chip, sizes=(128,))[0] == res.cost(128)
    assert res.cost(128).reprogram_rounds == 1


def test_a_model_that_does_not_fit_a_size_is_costed_time_multiplexed(tiny) -> None:
    model, (x, _), _ = tiny
    chip = an.chips.hermes().replace(n_cores=1)  # one 256x256 array; each of the two layers takes one
    needs = an.compile(model, x[:1], resize_arrays(chip, 256, 256), build_model=False, progress=False,
                       reprogram=True)
    assert needs.reprogram_rounds > 1, "the test needs a size the model does not fit"
    with pytest.warns(EnduranceWarning, match="wears out"):  # a write per inference
        (c,) = array_costs(model, x[:1], chip, sizes=(256,))
    with pytest.warns(EnduranceWarning):
        rep = an.estimate_cost(needs)
    assert c.reprogram_rounds == needs.reprogram_rounds
    assert (c.energy_J, c.latency_s) == (rep.energy_J, rep.latency_s)
    # the writes cost: more than the same model on a chip it fits
    (fits,) = array_costs(model, x[:1], an.chips.hermes(), sizes=(256,))
    assert fits.reprogram_rounds == 1 and c.energy_J > fits.energy_J
    # read back from JSON, and an older file without the field reads as fitting
    d = ArraySizeStudy((), 1.0, 0.01, (c,)).to_dict()
    assert ArraySizeStudy.from_dict(d).costs == (c,)
    d["costs"][0].pop("reprogram_rounds")
    assert ArraySizeStudy.from_dict(d).costs[0].reprogram_rounds == 1


def test_resize_keeps_the_cross_points() -> None:
    chip = an.chips.hermes()  # 64 cores x one 256x256 array
    small = resize_arrays(chip, 64, 64)
    assert (small.n_cores, small.arrays_per_core, small.array_rows) == (64, 16, 64)
    big = resize_arrays(chip, 512, 512)
    assert (big.n_cores, big.arrays_per_core, big.array_cols) == (16, 1, 512)
    assert small.organisation.core_area_mm2 is None and big.array.dac == chip.array.dac
    # more, smaller arrays carry more periphery per cross-point: a larger chip
    assert an.cost.peak(small).area_mm2 > an.cost.peak(big).area_mm2


def _oracle_error(n: int, r: float, g_max_uS: float) -> float:
    """Worst-case IR drop of an all-g_max n x n array, from the one-call exact solve."""
    g = torch.full((n, n), g_max_uS * 1e-6, dtype=torch.float64)
    i = irdrop.solve(g, torch.ones(n, dtype=torch.float64), r, r)
    return float((1 - i / (n * g_max_uS * 1e-6)).max())


def test_compile_caps_the_tile_size_by_the_ir_drop_bound(tiny) -> None:
    model, (x, _), _ = tiny
    chip = an.chips.hermes().replace(**{"array.circuit.r_row_ohm": 0.2, "array.circuit.r_col_ohm": 0.2})
    e32, e64 = (100 * _oracle_error(n, 0.2, chip.g_max_uS) for n in (32, 64))
    assert worst_case_ir_drop(64, 64, 0.2, 0.2, chip.g_max_uS) == pytest.approx(e64 / 100, rel=1e-9)
    bound = (e32 + e64) / 2
    choice = choose_tile(chip, bound)
    assert (choice.rows, choice.cols, choice.capped) == (32, 32, True)
    assert choice.error_pct_fs == pytest.approx(e32, rel=1e-9)
    program = an.compile(model, x[:1], chip, max_ir_drop_pct_fs=bound, progress=False)
    assert (program.chip.array_rows, program.chip.array_cols) == (32, 32)
    assert program.chip.n_arrays * 32 * 32 == chip.n_arrays * 256 * 256
    assert any("capped from 256x256 to 32x32" in n for n in program.notes)
    assert program.model[0].cfg.tile.rows == 32  # the executable model runs on the capped tiles
    rep = an.estimate_cost(program)
    assert rep.energy_J == an.estimate_cost(
        an.compile(model, x[:1], resize_arrays(chip, 32, 32), build_model=False, progress=False)).energy_J
    ideal = an.chips.hermes()  # no wire resistance: the chip's arrays stand
    assert an.compile(model, x[:1], ideal, max_ir_drop_pct_fs=0.1, build_model=False,
                      progress=False).chip == ideal
    with pytest.raises(ValueError, match="even 1x1"):
        choose_tile(chip.replace(**{"array.circuit.r_row_ohm": 1e9}), 1e-3)


def test_calibrate_after_programming_calibrates_each_instance_through_its_wires(tiny) -> None:
    model, (x, y), calib = tiny
    cfg = _cfg()
    points, _ = array_accuracy(model, (x, y), cfg, sizes=(16,), r_wire=((20.0, 40.0),), instances=2,
                               calibration_data=calib, calibrate_when="after", seed=3, progress=False)
    wired = cfg.replace(**{"tile.rows": 16, "tile.cols": 16, "circuit.r_row_ohm": 20.0, "circuit.r_col_ohm": 40.0})
    expect = []
    for i in range(2):  # oracle: the lifecycle by hand, program then calibrate, one instance at a time
        m = an.convert_(copy.deepcopy(model), wired, seed=3)
        an.program_(m.eval(), seed=4 + i, instances=1)
        an.calibrate_(m, calib, seed=3)
        expect += _per_instance(m, x, y, 1)
    assert list(points[0].samples) == expect
    with pytest.raises(ValueError, match="calibrate_when"):
        array_accuracy(model, (x, y), cfg, sizes=(16,), calibrate_when="during", progress=False)


def test_paired_change_is_the_per_instance_difference() -> None:
    ideal = ArrayPoint(64, 0.0, 0.0, 0.9, 0.0, 0.9, 0.9, 3, samples=(0.90, 0.92, 0.88))
    wired = ArrayPoint(64, 1.5, 5.0, 0.9, 0.0, 0.9, 0.9, 3, samples=(0.91, 0.91, 0.86))
    study = ArraySizeStudy((ideal, wired), 0.95, 0.01)
    d = [0.01, -0.01, -0.02]
    mean = sum(d) / 3
    sem = (sum((v - mean) ** 2 for v in d) / 2 / 3) ** 0.5
    assert study.paired_change(64, "1.5/5 ohm") == pytest.approx((mean, sem), rel=1e-12)
    assert study.table()[0]["Δ pts @ 1.5/5 ohm"] == f"{100 * mean:+.2f} ± {100 * sem:.2f}"
    with pytest.raises(ValueError, match="instances"):
        ArraySizeStudy((ideal, ArrayPoint(64, 1.0, 1.0, 0.9, 0.0, 0.9, 0.9, 1, samples=(0.9,))),
                       0.95, 0.01).paired_change(64, "1 ohm")


def test_the_study_is_reachable_under_analysis() -> None:
    import analogue as an
    from analogue.cost.arrays import array_size_study

    assert an.analysis.array_size_study is array_size_study is an.array_size_study


def test_from_dict_round_trips_and_merged_joins_runs() -> None:
    import json

    from analogue.analysis.arrays import ArrayCost

    def pt(size, r, mean):
        return ArrayPoint(size, r, r, mean, 0.01, mean - 0.02, mean + 0.02, 2, samples=(mean - 0.005, mean + 0.005))

    def cost(size):
        return ArrayCost(size, 1e-6 / size, 1e-5, 100.0 / size, 4, 2, 2)

    small = ArraySizeStudy((pt(64, 0.0, 0.95), pt(64, 0.5, 0.94)), 0.95, 0.01, (cost(64),), "hermes", ("a",))
    large = ArraySizeStudy((pt(512, 0.0, 0.945), pt(512, 0.5, 0.80)), 0.95, 0.01, (cost(512),), "hermes", ("a",))
    back = ArraySizeStudy.from_dict(json.loads(json.dumps(small.to_dict())))
    assert back == small  # samples come back as tuples, largest_within is recomputed
    both = small.merged(large)
    assert both.sizes == [64, 512] and both.wires == ["0 ohm", "0.5 ohm"] and both.notes == ("a",)
    assert both.point(512, "0.5 ohm") == large.point(512, "0.5 ohm") and both.cost(64) == cost(64)
    assert both.largest_within() == {"0 ohm": 512, "0.5 ohm": 64}
    redo = ArraySizeStudy((pt(64, 0.5, 0.90),), 0.95, 0.01)
    assert small.merged(redo).point(64, "0.5 ohm").mean == 0.90  # the other run's point wins
    with pytest.raises(ValueError, match="digital accuracies differ"):
        small.merged(ArraySizeStudy((), 0.90, 0.01))
    with pytest.raises(ValueError, match="to_dict"):
        ArraySizeStudy.from_dict({"points": []})
