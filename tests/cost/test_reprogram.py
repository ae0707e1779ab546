"""Time-multiplexed programs: write passes amortised exactly, the lifetime formula, and the wear
warning (flash at a high write rate wears out; SRAM does not)."""

from __future__ import annotations

import json
import math
import warnings

import pytest

from analogue import chips
from analogue.compile.program import Block, CompiledModel, LayerPlan
from analogue.config import ConfigError
from analogue.config.chips import Chip
from analogue.config.technology import DEVICES, ENDURANCE_CYCLES
from analogue.cost import CostReport, EnduranceWarning, estimate_cost, write_schedule
from analogue.cost.reprogram import lifetime_days, writes_per_cell_per_day, writes_per_cell_per_pass


def _program(chip: Chip, rounds: int = 2, same_array: bool = True) -> CompiledModel:
    """``rounds`` full-array layers, one per round, all on array 0 of core 0 (or each on its own
    array)."""
    n, m = chip.array_rows, chip.array_cols
    layers, placement = [], {}
    for r in range(rounds):
        name = f"fc{r}"
        placement[name] = [Block(core=0, array=0 if same_array else r, round=r, replica=0, group=0,
                                 row0=0, col0=0, n_rows=n, n_cols=m, arr_row0=0, arr_col0=0)]
        cols = m // chip.cells_per_weight
        layers.append(LayerPlan(name=name, op="linear", placement="analog", weight_shape=(cols, n),
                                rows=n, cols=cols, groups=1, mvms_per_inference=1, macs=n * cols,
                                digital_ops=cols, arrays=1, cells=n * m, utilization=1.0,
                                replication=1, cores=(0,), stage=r, input_elems=n,
                                output_elems=cols, round=r))
    return CompiledModel(chip=chip, layers=layers, model=None, placement=placement,
                         activation_bits_moved=0, reprogram_rounds=rounds)


def test_amortisation_is_exact_by_hand() -> None:
    chip = chips.hermes()  # PCM, 256 x 256 arrays
    dev = DEVICES["pcm"]
    s = write_schedule(_program(chip), inferences_per_s=10.0, inferences_per_write=100)
    cells = 2 * 256 * 256
    assert s.cells_written == cells
    assert s.energy_per_write_J == pytest.approx(cells * dev["program_J"], rel=1e-15)
    assert s.latency_per_write_s == pytest.approx(2 * 256 * dev["program_row_s"], rel=1e-15)
    assert s.energy_per_inference_J == pytest.approx(cells * dev["program_J"] / 100, rel=1e-15)
    assert s.latency_per_inference_s == pytest.approx(2 * 256 * dev["program_row_s"] / 100,
                                                      rel=1e-15)
    # both rounds use array 0: each of its cells is rewritten twice per pass
    assert s.writes_per_cell_per_pass == 2
    assert s.writes_per_cell_per_day == pytest.approx(2 * 10.0 * 86_400 / 100)
    assert s.lifetime_days == pytest.approx(1e8 / 17_280)
    assert not s.wears_out
    apart = write_schedule(_program(chip, same_array=False), 10.0, 100)
    assert apart.writes_per_cell_per_pass == 1
    assert apart.lifetime_days == pytest.approx(2 * s.lifetime_days)


def test_estimate_cost_amortises_over_inferences_per_write() -> None:
    chip = chips.hermes()
    prog = _program(chip)
    dev = DEVICES["pcm"]
    e_w, t_w = 2 * 256 * 256 * dev["program_J"], 2 * 256 * dev["program_row_s"]
    per_batch = estimate_cost(prog, batch=8, inferences_per_s=1.0)
    assert per_batch.energy_breakdown_J["program"] == pytest.approx(e_w / 8, rel=1e-12)
    per_64 = estimate_cost(prog, batch=8, inferences_per_write=64, inferences_per_s=1.0)
    assert per_64.energy_breakdown_J["program"] == pytest.approx(e_w / 64, rel=1e-12)
    # the batch carries 8/64 of a write pass instead of a whole one
    assert per_batch.latency_s - per_64.latency_s == pytest.approx(t_w * (1 - 8 / 64), rel=1e-9)
    rp = per_64.reprogram
    assert rp["energy_per_write_J"] == pytest.approx(e_w) and rp["inferences_per_write"] == 64
    assert rp["latency_per_inference_s"] == pytest.approx(t_w / 64)
    back = CostReport.from_dict(json.loads(json.dumps(per_64.to_dict())))
    assert back.reprogram == rp
    assert back.sentences() == per_64.sentences()
    words = per_64.sentences()
    assert len(words) == 3 + 2  # three baselines, the write pass and the wear
    assert words[3].startswith(f"each write pass rewrites {2 * 256 * 256:,} pcm cells in 2 rounds")
    assert "over 64 inferences per write" in words[3]
    assert estimate_cost(_program(chip, rounds=1)).reprogram == {}
    with pytest.raises(ConfigError, match="inferences_per_write"):
        estimate_cost(prog, inferences_per_write=0, inferences_per_s=1.0)
    with pytest.raises(ConfigError, match="service_life_years"):
        estimate_cost(prog, service_life_years=0.0)


def test_lifetime_formula() -> None:
    assert writes_per_cell_per_day(3, 2.0, 4) == pytest.approx(3 * 2.0 * 86_400 / 4)
    assert lifetime_days(1e8, 1e4) == pytest.approx(1e4)
    assert lifetime_days(1e5, 2.0) == pytest.approx(5e4)
    assert math.isinf(lifetime_days(math.inf, 1e9))
    assert math.isinf(lifetime_days(1e5, 0.0))
    assert writes_per_cell_per_pass(_program(chips.hermes(), rounds=1)) == 0
    assert writes_per_cell_per_pass(_program(chips.hermes(), rounds=3)) == 3


def test_endurance_table_covers_every_device() -> None:
    assert set(ENDURANCE_CYCLES) == set(DEVICES)
    assert ENDURANCE_CYCLES["flash"] < ENDURANCE_CYCLES["rram"] < ENDURANCE_CYCLES["pcm"] \
        < ENDURANCE_CYCLES["mram"] < ENDURANCE_CYCLES["sram"]


def test_flash_at_a_high_write_rate_wears_out() -> None:
    prog = _program(chips.mythic_m1076())  # NOR flash, 1e5 cycles
    with pytest.warns(EnduranceWarning, match="wears out the flash arrays"):
        s = write_schedule(prog, inferences_per_s=1000.0, inferences_per_write=1)
    assert s.wears_out
    assert s.writes_per_cell_per_day == pytest.approx(2 * 1000.0 * 86_400)
    assert s.lifetime_days == pytest.approx(1e5 / (2 * 1000.0 * 86_400))
    assert "WARNING" in s.sentences()[-1]
    with pytest.warns(EnduranceWarning):
        r = estimate_cost(prog, inferences_per_s=1000.0)
    assert r.reprogram["wears_out"] and any("WARNING" in n for n in r.notes)
    # writing rarely enough keeps it within the service life: 1e5 cycles over 5 years
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        slow = write_schedule(prog, inferences_per_s=1.0, inferences_per_write=10_000)
    assert not slow.wears_out


def test_sram_never_wears_out() -> None:
    prog = _program(chips.sram_cim())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = write_schedule(prog, inferences_per_s=1e6, inferences_per_write=1)
        r = estimate_cost(prog, inferences_per_s=1e6)
    assert math.isinf(s.lifetime_days) and not s.wears_out
    assert not r.reprogram["wears_out"]
    assert "does not wear out" in s.sentences()[1]
    # strict JSON: unlimited endurance and lifetime are null, in the schedule and the report
    d = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert d["lifetime_days"] is None and d["endurance_cycles"] is None
    assert d["writes_per_cell_per_day"] == pytest.approx(s.writes_per_cell_per_day)
    assert json.loads(json.dumps(r.to_dict(), allow_nan=False))["reprogram"]["lifetime_days"] is None
    # an SRAM rewrite is not free: every placed cell costs an SRAM bit write (0.16 pJ)
    assert s.energy_per_write_J == pytest.approx(s.cells_written * 10e-12 / 64) and s.energy_per_write_J > 0


def test_write_schedule_checks_its_arguments() -> None:
    prog = _program(chips.hermes())
    for kw, match in [({"inferences_per_s": 0.0}, "inferences_per_s"),
                      ({"inferences_per_s": 1.0, "inferences_per_write": -1},
                       "inferences_per_write"),
                      ({"inferences_per_s": 1.0, "service_life_years": 0.0},
                       "service_life_years")]:
        with pytest.raises(ConfigError, match=match):
            write_schedule(prog, **kw)
