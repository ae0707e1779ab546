"""Digital baselines by roofline: a hand-computed oracle (memory-bound at batch 1, compute-bound
at a large batch, the knee at the ridge point), monotonic in the batch, and the plain-word
comparison for every case."""

from __future__ import annotations

import json
import math

import pytest

from analogue import chips
from analogue.compile.program import Block, CompiledModel, LayerPlan
from analogue.config import ConfigError
from analogue.cost import CostReport, estimate_cost
from analogue.cost.baselines import (
    BASELINES,
    Baseline,
    baseline_estimate,
    compare_sentence,
    default_baselines,
    format_ratio,
    layer_work,
    roofline_time_s,
)

# a toy processor: 1 Tops/s int8, 0.5 Tops/s fp16, 100 GB/s, ridge 10 ops/byte at int8
TOY = Baseline(name="toy", kind="gpu", peak_int8_ops_per_s=1e12, peak_fp16_ops_per_s=5e11,
               memory_bytes_per_s=1e11, max_power_W=100.0, idle_power_W=10.0,
               launch_latency_s=1e-6)
ROWS, COLS = 100, 90  # one linear layer: 100 inputs, 90 outputs
OPS = 2 * ROWS * COLS  # 18,000 ops per inference
W_BYTES = ROWS * COLS  # 9,000 weight bytes (int8), read once per batch
A_BYTES = ROWS + COLS  # 190 activation bytes per inference


def _program(rows: int = ROWS, cols: int = COLS) -> CompiledModel:
    chip = chips.hermes()
    block = Block(core=0, array=0, round=0, replica=0, group=0, row0=0, col0=0, n_rows=rows,
                  n_cols=cols, arr_row0=0, arr_col0=0)
    lp = LayerPlan(name="fc", op="linear", placement="analog", weight_shape=(cols, rows),
                   rows=rows, cols=cols, groups=1, mvms_per_inference=1, macs=rows * cols,
                   digital_ops=cols, arrays=1, cells=rows * cols, utilization=0.1, replication=1,
                   cores=(0,), stage=0, input_elems=rows, output_elems=cols)
    return CompiledModel(chip=chip, layers=[lp], model=None, placement={"fc": [block]},
                         activation_bits_moved=0)


def test_layer_work_counts_ops_weights_and_activations() -> None:
    w = layer_work(_program())
    assert w["ops"].tolist() == [OPS]
    assert w["weight_bytes"].tolist() == [W_BYTES]
    assert w["activation_bytes"].tolist() == [A_BYTES]
    w16 = layer_work(_program(), "fp16")
    assert w16["weight_bytes"].tolist() == [2 * W_BYTES]


def test_memory_bound_at_batch_1_by_hand() -> None:
    g = baseline_estimate(_program(), TOY, batch=1)
    t_mem = (W_BYTES + A_BYTES) / 1e11  # 91.9 ns, against 18 ns of compute
    assert g["memory_bound_layers"] == 1 and g["compute_bound_layers"] == 0
    assert g["latency_s"] == pytest.approx(t_mem + 1e-6, rel=1e-12)
    assert g["energy_J"] == pytest.approx(t_mem * 100.0 + 1e-6 * 10.0, rel=1e-12)
    assert g["utilization"] == pytest.approx(OPS / (t_mem + 1e-6) / 1e12, rel=1e-12)
    assert g["ridge_ops_per_byte"] == pytest.approx(10.0)


def test_compute_bound_at_large_batch_by_hand() -> None:
    b = 1000
    g = baseline_estimate(_program(), TOY, batch=b)
    t_comp = OPS * b / 1e12  # 18 us, against 1.99 us of memory traffic
    assert (W_BYTES + A_BYTES * b) / 1e11 < t_comp
    assert g["compute_bound_layers"] == 1 and g["memory_bound_layers"] == 0
    assert g["latency_s"] == pytest.approx(t_comp + 1e-6, rel=1e-12)
    assert g["energy_J"] == pytest.approx((t_comp * 100.0 + 1e-6 * 10.0) / b, rel=1e-12)


def test_the_knee_is_at_the_ridge_point() -> None:
    # compute = memory where OPS B / P = (W + A B) / BW, i.e. B* = W / (BW OPS / P - A)
    b_star = W_BYTES / (1e11 * OPS / 1e12 - A_BYTES)
    assert 5 < b_star < 6
    intensity = OPS * b_star / (W_BYTES + A_BYTES * b_star)
    assert intensity == pytest.approx(TOY.ridge_ops_per_byte("int8"), rel=1e-12)
    t_knee = roofline_time_s(OPS * b_star, W_BYTES + A_BYTES * b_star, 1e12, 1e11)
    assert float(t_knee) == pytest.approx(OPS * b_star / 1e12, rel=1e-12)
    assert baseline_estimate(_program(), TOY, batch=5)["memory_bound_layers"] == 1
    assert baseline_estimate(_program(), TOY, batch=6)["compute_bound_layers"] == 1


def test_precision_and_achievable_fractions() -> None:
    g16 = baseline_estimate(_program(), TOY, batch=1, precision="fp16")
    assert g16["latency_s"] == pytest.approx(2 * (W_BYTES + A_BYTES) / 1e11 + 1e-6, rel=1e-12)
    half = TOY.replace(achievable_bandwidth_fraction=0.5, achievable_compute_fraction=0.5)
    g = baseline_estimate(_program(), half, batch=1)
    assert g["latency_s"] == pytest.approx((W_BYTES + A_BYTES) / 0.5e11 + 1e-6, rel=1e-12)
    assert half.ridge_ops_per_byte("int8") == pytest.approx(10.0)
    with pytest.raises(ConfigError, match="precision"):
        baseline_estimate(_program(), TOY, precision="fp8")


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_monotonic_in_batch(name: str) -> None:
    prog = _program(512, 512)
    b = BASELINES[name]()
    batches = [1, 2, 4, 16, 64, 256, 1024, 4096]
    est = [baseline_estimate(prog, b, batch=n) for n in batches]
    lat = [g["latency_s"] for g in est]
    e = [g["energy_J"] for g in est]
    thr = [n / g["latency_s"] for n, g in zip(batches, est)]
    util = [g["utilization"] for g in est]
    assert all(a < c for a, c in zip(lat, lat[1:]))  # a larger batch takes longer
    assert all(a >= c for a, c in zip(e, e[1:]))  # and costs less per inference
    assert all(a <= c for a, c in zip(thr, thr[1:]))  # throughput rises
    assert all(a <= c for a, c in zip(util, util[1:]))
    assert util[-1] <= b.achievable_compute_fraction + 1e-12


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((1e-6, 4.8e-3, 660e-6, 1e-3), "X is 660x faster and uses 4.8x more energy per inference "
                                       "than Y"),
        ((2e-3, 1e-4, 1e-3, 1.25e-4), "X is 2x slower and uses 1.2x less energy per inference "
                                      "than Y"),
        ((1e-6, 1e-5, 2e-6, 1e-6), "X is 2x faster and uses 10x more energy per inference than Y"),
        ((3e-3, 1e-6, 1e-6, 1.5e-3), "X is 3,000x slower and uses 1,500x less energy per "
                                     "inference than Y"),
        ((1e-3, 5e-3, 1.001e-3, 1e-3), "X is about as fast as Y and uses 5x more energy per "
                                       "inference"),
        ((1e-3, 1.002e-3, 5e-3, 1e-3), "X is 5x faster than Y and uses about the same energy per "
                                       "inference"),
    ],
)
def test_plain_words(args: tuple[float, ...], expected: str) -> None:
    assert compare_sentence("X", *args, ref="Y") == expected


def test_format_ratio() -> None:
    assert [format_ratio(x) for x in (1.0, 4.84, 12.3, 657.0, 1234.0, 98765.0)] == [
        "1", "4.8", "12", "660", "1,200", "99,000"]
    with pytest.raises(ConfigError, match="latency_s"):
        compare_sentence("X", 0.0, 1.0, 1.0, 1.0)


def test_baselines_validate_and_round_trip() -> None:
    for b in default_baselines():
        assert Baseline.from_dict(json.loads(json.dumps(b.to_dict()))) == b
        assert b.ridge_ops_per_byte("int8") > 1.0
    assert {b.kind for b in default_baselines()} == {"gpu", "cpu", "npu"}
    for bad, match in [({"kind": "tpu"}, "kind"), ({"idle_power_W": 500.0}, "idle_power_W"),
                       ({"achievable_compute_fraction": 0.0}, "achievable_compute_fraction"),
                       ({"memory_bytes_per_s": -1.0}, "memory_bytes_per_s"),
                       ({"assumed": ("idle_W",)}, "assumed")]:
        with pytest.raises(ConfigError, match=match):
            TOY.replace(**bad)


def test_estimate_cost_reports_every_baseline_in_words() -> None:
    prog = _program(256, 256)
    r = estimate_cost(prog, batch=4)
    assert len(r.baselines) == 3
    for b in default_baselines():
        g = r.baselines[b.name]
        ref = baseline_estimate(prog, b, batch=4)
        assert g["latency_s"] == ref["latency_s"] and g["energy_J"] == ref["energy_J"]
        assert g["energy_ratio"] == pytest.approx(ref["energy_J"] / r.energy_J)
        assert g["speedup"] == pytest.approx(ref["latency_s"] / r.latency_s)
        assert g["sentence"] == compare_sentence(b.label("int8"), ref["latency_s"],
                                                 ref["energy_J"], r.latency_s, r.energy_J,
                                                 ref=prog.chip.name)
        assert g["sentence"] in r.table()
    back = CostReport.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.baselines == r.baselines
    only = estimate_cost(prog, baselines=[TOY], precision="fp16")
    assert list(only.baselines) == ["toy"]
    assert only.baselines["toy"]["precision"] == "fp16"
    assert math.isfinite(only.baselines["toy"]["energy_ratio"])


def test_training_compares_three_times_the_forward() -> None:
    from analogue.cost import estimate_training

    prog = _program(256, 256)
    fwd = estimate_cost(prog, batch=2)
    tr = estimate_training(prog, batch=2)
    for name, g in fwd.baselines.items():
        t = tr.baselines[name]
        assert t["latency_s"] == pytest.approx(3 * g["latency_s"], rel=1e-12)
        assert t["energy_J"] == pytest.approx(3 * g["energy_J"], rel=1e-12)
        assert t["energy_ratio"] == pytest.approx(t["energy_J"] / tr.energy_J, rel=1e-12)
        assert t["sentence"].endswith("energy per training sample than hermes")
        assert t["sentence"] in tr.table()
