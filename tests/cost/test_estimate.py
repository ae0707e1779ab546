"""Cost of compiled programs: hand-built Programs (exact oracles from the peak model) and an
end-to-end compile -> estimate."""

from __future__ import annotations

import json

import pytest
import torch

import analogue as an
from analogue import chips
from analogue.compile.program import Block, CompiledModel, LayerPlan
from analogue.config import ConfigError
from analogue.config.chips import Chip
from analogue.cost import (
    CostReport,
    EnduranceWarning,
    constants,
    estimate_cost,
    estimate_training,
    gpu_estimate,
    peak,
)


def _analog(name: str, rows: int, cols: int, mvms: int, chip: Chip, stage: int = 0,
            replication: int = 1, cores: tuple[int, ...] = (0,)) -> tuple[LayerPlan, list[Block]]:
    cpw = chip.cells_per_weight
    blocks = [Block(core=cores[r % len(cores)], array=0, round=0, replica=r, group=0, row0=0,
                    col0=0, n_rows=rows, n_cols=cols * cpw, arr_row0=0, arr_col0=0)
              for r in range(replication)]
    lp = LayerPlan(name=name, op="linear", placement="analog", weight_shape=(cols, rows),
                   rows=rows, cols=cols, groups=1, mvms_per_inference=mvms,
                   macs=rows * cols * mvms, digital_ops=mvms * cols, arrays=replication,
                   cells=rows * cols * cpw * replication,
                   utilization=rows * cols * cpw / (chip.array_rows * chip.array_cols),
                   replication=replication, cores=cores, stage=stage,
                   input_elems=rows * mvms, output_elems=cols * mvms)
    return lp, blocks


def _digital(name: str, ops: int, stage: int) -> LayerPlan:
    return LayerPlan(name=name, op="relu", placement="digital", weight_shape=(), rows=0, cols=0,
                     groups=1, mvms_per_inference=0, macs=0, digital_ops=ops, arrays=0, cells=0,
                     utilization=0.0, replication=1, cores=(), stage=stage, input_elems=ops,
                     output_elems=ops)


def _program(chip: Chip, specs: list[tuple[LayerPlan, list[Block]]], extra: list[LayerPlan] = (),
             bits: int = 0, rounds: int = 1) -> CompiledModel:
    return CompiledModel(chip=chip, layers=[lp for lp, _ in specs] + list(extra), model=None,
                   placement={lp.name: b for lp, b in specs}, activation_bits_moved=bits,
                   reprogram_rounds=rounds)


ARRAY_SIDE = ("crossbar", "dac", "adc", "sample_hold")


@pytest.mark.parametrize("chip", [chips.hermes(), chips.mythic_m1076(), chips.neurram()],
                         ids=lambda c: c.name)
def test_one_full_array_mvm_costs_what_peak_says(chip: Chip) -> None:
    cols = chip.array_cols // chip.cells_per_weight
    prog = _program(chip, [_analog("fc", chip.array_rows, cols, 1, chip)])
    r = estimate_cost(prog)
    pk = peak(chip)
    for comp in ARRAY_SIDE:
        assert r.energy_breakdown_J[comp] == pytest.approx(pk.energy_per_mvm_J[comp], rel=1e-12)
    assert r.latency_s == pytest.approx(chip.mvm_latency_s + cols / chip.digital.ops_per_s)
    e_op = peak(chip.replace()).energy_per_mvm_J["digital"] / (cols * chip.digital.post_ops_per_output) \
        if chip.digital.post_ops_per_output else None
    if e_op is not None:
        assert r.energy_breakdown_J["digital"] == pytest.approx(cols * e_op, rel=1e-12)


def test_energy_scales_with_vectors_and_replication_buys_time() -> None:
    chip = chips.hermes()
    one = estimate_cost(_program(chip, [_analog("fc", 256, 256, 100, chip)]))
    two = estimate_cost(_program(chip, [_analog("fc", 256, 256, 200, chip)]))
    rep = estimate_cost(_program(chip, [_analog("fc", 256, 256, 200, chip, replication=2,
                                                cores=(0, 1))]))
    for comp in ARRAY_SIDE:
        assert two.energy_breakdown_J[comp] == pytest.approx(2 * one.energy_breakdown_J[comp])
        assert rep.energy_breakdown_J[comp] == pytest.approx(two.energy_breakdown_J[comp])
    assert two.layer_latency_s["fc"] > rep.layer_latency_s["fc"]
    dig = chip.digital.ops_per_s
    assert rep.layer_latency_s["fc"] == pytest.approx(100 * chip.mvm_latency_s + 200 * 256 / dig)


def test_partial_arrays_cost_less() -> None:
    chip = chips.hermes()
    full = estimate_cost(_program(chip, [_analog("fc", 256, 256, 1, chip)]))
    part = estimate_cost(_program(chip, [_analog("fc", 64, 32, 1, chip)]))
    assert part.energy_breakdown_J["crossbar"] == pytest.approx(
        full.energy_breakdown_J["crossbar"] * 64 * 32 / 256**2, rel=0.05)
    assert part.energy_breakdown_J["adc"] == pytest.approx(full.energy_breakdown_J["adc"] / 8)


def test_pipeline_latency_and_batch_throughput() -> None:
    chip = chips.hermes()
    a, b = _analog("a", 256, 256, 10, chip, stage=0), _analog("b", 256, 256, 30, chip, stage=1)
    relu = _digital("relu", 2560, stage=0)
    prog = _program(chip, [a, b], [relu], bits=4096)
    r1, r8 = estimate_cost(prog, batch=1), estimate_cost(prog, batch=8)
    t_a, t_b = 10 * chip.mvm_latency_s, 30 * chip.mvm_latency_s
    dig = chip.digital.ops_per_s
    stage0 = t_a + (2560 + 10 * 256) / dig
    stage1 = t_b + 30 * 256 / dig
    assert r1.latency_s == pytest.approx(stage0 + stage1)
    assert r8.latency_s == pytest.approx(stage0 + stage1 + 7 * max(stage0, stage1))
    assert r8.throughput_per_s > r1.throughput_per_s
    # energy per inference: same array and digital work, less idle leakage per inference
    assert r8.energy_breakdown_J["adc"] == pytest.approx(r1.energy_breakdown_J["adc"])
    assert r8.energy_breakdown_J["leakage"] < r1.energy_breakdown_J["leakage"]
    assert r1.energy_breakdown_J["noc"] > 0
    assert r1.energy_J == pytest.approx(sum(r1.energy_breakdown_J.values()))
    assert sum(r1.layer_energy_J.values()) <= r1.energy_J


def test_reprogramming_adds_write_energy_and_time() -> None:
    chip = chips.hermes()
    spec = [_analog("fc", 256, 256, 1, chip)]
    r1 = estimate_cost(_program(chip, spec))
    # PCM rewritten at every inference wears out within days: the report warns
    with pytest.warns(EnduranceWarning, match="wears out the pcm arrays"):
        r2 = estimate_cost(_program(chip, spec, rounds=2))
    dev = constants.DEVICES["pcm"]
    assert r2.energy_breakdown_J["program"] == pytest.approx(256 * 256 * dev["program_J"])
    assert r2.latency_s == pytest.approx(r1.latency_s + 2 * 256 * dev["program_row_s"])
    assert r2.notes


def test_gpu_estimate_is_datasheet_work() -> None:
    chip = chips.hermes()
    prog = _program(chip, [_analog("fc", 256, 256, 10, chip)], [_digital("relu", 1000, 0)])
    g = gpu_estimate(prog)
    ops = 2 * 256 * 256 * 10 + 1000
    assert g["ops"] == ops
    assert g["energy_J"] == pytest.approx(ops * 400.0 / 312e12)
    assert g["latency_s"] == pytest.approx(ops / 312e12)
    r = estimate_cost(prog)
    assert r.gpu["energy_ratio"] == pytest.approx(g["energy_J"] / r.energy_J)
    with pytest.raises(ConfigError, match="utilization"):
        gpu_estimate(prog, utilization=0.0)


def test_training_adds_backward_and_update() -> None:
    chip = chips.neurram()
    prog = _program(chip, [_analog("fc", 256, 128, 4, chip)])
    inf = estimate_cost(prog)
    tr = estimate_training(prog, pulses_per_update=10)
    dev = constants.DEVICES["rram"]
    assert tr.energy_breakdown_J["update"] == pytest.approx(256 * 256 * 10 * dev["pulse_J"])
    assert tr.energy_breakdown_J["adc"] == pytest.approx(2 * inf.energy_breakdown_J["adc"])
    assert tr.energy_J > 2 * (inf.energy_J - inf.energy_breakdown_J["leakage"])
    assert tr.gpu["ops"] == pytest.approx(3 * gpu_estimate(prog)["ops"])
    assert tr.kind == "training" and tr.macs == 3 * inf.macs


def test_report_round_trip_table_and_errors() -> None:
    chip = chips.hermes()
    r = estimate_cost(_program(chip, [_analog("fc", 256, 256, 3, chip)]))
    again = CostReport.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again == r
    text = r.table()
    for word in ("energy", "latency", "TOPS/W", "adc", "fc", "gpu-a100"):
        assert word in text
    with pytest.raises(ConfigError, match="unknown field 'joules'"):
        CostReport.from_dict({**r.to_dict(), "joules": 1})
    with pytest.raises(ConfigError, match="batch"):
        estimate_cost(_program(chip, [_analog("fc", 8, 8, 1, chip)]), batch=0)
    with pytest.raises(ConfigError, match="CompiledModel"):
        estimate_cost(object())
    digital = _program(chips.gpu_a100(), [], [_digital("x", 10, 0)])
    with pytest.raises(ConfigError, match="no analog arrays"):
        estimate_cost(digital)


def test_more_adc_bits_cost_more_for_a_program() -> None:
    base = chips.hermes()
    e = []
    for bits in (4, 6, 8, 10):
        chip = base.replace(adc_bits=bits)
        e.append(estimate_cost(_program(chip, [_analog("fc", 256, 256, 50, chip)])).energy_J)
    assert e == sorted(e) and e[0] < e[-1]


def test_end_to_end_compile_then_estimate() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(8 * 8 * 8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10),
    )
    for chip in (chips.hermes(), chips.sram_cim()):
        prog = an.compile(model, (torch.randn(1, 3, 8, 8),), chip=chip, build_model=False)
        r = an.estimate_cost(prog, batch=2)
        assert isinstance(r, an.CostReport)
        assert r.macs == prog.analog_macs + prog.digital_macs
        assert set(r.layer_energy_J) == {lp.name for lp in prog.layers}
        assert r.energy_J > 0 and r.latency_s > 0 and r.tops_per_W > 0
        assert r.gpu["energy_J"] > 0
        # every analog layer's array-side energy is positive
        for lp in prog.analog_layers:
            assert r.layer_energy_J[lp.name] > 0


@pytest.mark.parametrize("kwargs", [{"input_activity": float("nan")}, {"input_activity": -1.0},
                                    {"input_activity": 2.0}, {"weight_activity": float("inf")},
                                    {"input_activity": "0.5"}, {"weight_activity": True}])
def test_activities_are_checked(kwargs) -> None:
    chip = chips.hermes()
    prog = _program(chip, [_analog("fc", 64, 64, 1, chip)])
    field = next(iter(kwargs))
    with pytest.raises(ConfigError, match=f"estimate_cost: {field} must be a fraction"):
        estimate_cost(prog, **kwargs)
    r0, r1 = estimate_cost(prog, input_activity=0.0), estimate_cost(prog, input_activity=1.0)
    assert 0 < r0.energy_J < r1.energy_J  # the bounds are valid and the drive costs energy


def test_a_program_that_does_no_work_is_refused():
    from torch import nn

    program = an.compile(nn.Sequential(nn.Flatten()), torch.randn(2, 4))
    with pytest.raises(ConfigError, match="does no work"):
        an.estimate_cost(program)
