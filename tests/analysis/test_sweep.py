"""Sweeps on Ray: the spec, the points and their keys, the Pareto front, and a small sweep on a
local Ray with 2 CPUs -- a failing point recorded, a rerun that runs only the missing points."""

from __future__ import annotations

import json

import pytest

from analogue.analysis.sweeps import (
    SweepResult,
    SweepSpec,
    pareto_front,
    point_key,
    read_rows,
    sweep,
)
from analogue.config import ConfigError


def test_pareto_front_of_a_hand_made_table():
    rows = [
        {"name": "a", "accuracy": 0.90, "energy_J": 1.0},
        {"name": "b", "accuracy": 0.95, "energy_J": 2.0},
        {"name": "c", "accuracy": 0.93, "energy_J": 3.0},   # dominated by b
        {"name": "d", "accuracy": 0.97, "energy_J": 5.0},
        {"name": "e", "accuracy": 0.90, "energy_J": 1.5},   # dominated by a (same accuracy, more energy)
        {"name": "f", "accuracy": 0.80, "energy_J": 0.5},
        {"name": "g", "status": "error", "error": "boom"},  # failed: no numbers
        {"name": "h", "accuracy": 0.97, "energy_J": 5.0},   # ties d: only the first is kept
    ]
    assert [r["name"] for r in pareto_front(rows)] == ["f", "a", "b", "d"]
    assert pareto_front([]) == []


def test_spec_points_keys_and_errors():
    spec = SweepSpec(model="digits_mlp", axes={"device": ["pcm", "rram"], "array.adc.bits": [4, 6, 8]})
    pts = spec.points()
    assert len(pts) == 6 and pts[0] == {"device": "pcm", "array.adc.bits": 4}
    assert pts[-1] == {"device": "rram", "array.adc.bits": 8}
    keys = [point_key(spec, p) for p in pts]
    assert len(set(keys)) == 6 and keys == [point_key(spec, p) for p in spec.points()]
    assert point_key(SweepSpec(model="digits_mlp", axes=spec.axes, repeats=9), pts[0]) != keys[0]
    rnd = SweepSpec(model="digits_mlp", axes=spec.axes, mode="random", samples=4, seed=3)
    sample = rnd.points()
    assert len(sample) == 4 and all(p in pts for p in sample)
    assert len({json.dumps(p, sort_keys=True) for p in sample}) == 4 and sample == rnd.points()
    with pytest.raises(ConfigError, match="unknown field 'axis'.*'axes'"):
        SweepSpec.from_dict({"model": "digits_mlp", "axis": {}})
    with pytest.raises(ConfigError, match="'bitz'.*'bits'"):
        SweepSpec(model="digits_mlp", axes={"array.adc.bitz": [4]})
    with pytest.raises(ConfigError, match="sweep.axes.device"):
        SweepSpec(model="digits_mlp", axes={"device": []})
    with pytest.raises(ConfigError, match="samples"):
        SweepSpec(model="digits_mlp", mode="random")


def test_spec_from_yaml_refuses_python_tags(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("model: digits_mlp\naxes:\n  adc_bits: [4, 8]\n  t_s: [60, 86400]\n")
    assert SweepSpec.from_yaml(path).grid_size() == 4
    path.write_text("model: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="Python tags"):
        SweepSpec.from_yaml(path)


# -- on Ray ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("pyarrow")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny():
    from analogue.apps.sweep import digits_mlp

    return digits_mlp(epochs=3)


@pytest.mark.slow  # Ray's start and its workers' imports: ~10-20 s on a loaded 2-core machine
def test_sweep_on_ray_records_failures_and_resumes(ray_local, tiny, tmp_path):
    from analogue.apps.sweep import measure_point

    model, data = tiny
    axes = {"device": ["pcm"], "adc_bits": [4, -1]}  # -1 bits: an invalid point
    spec = SweepSpec(model="digits_mlp", axes=axes, repeats=2, t_s=3600.0)
    res = sweep(spec, measure_point, (spec, model, data, "cpu"), out=tmp_path, progress=False)
    assert (res.executed, res.skipped) == (2, 0)
    ok, bad = res.rows
    assert ok["status"] == "ok" and ok["error"] == ""
    assert bad["status"] == "error" and "ADCConfig.bits" in bad["error"] and "-1" in bad["error"]
    # the Ray task computed what the measure computes in this process (same seeds)
    here = measure_point((spec, model, data, "cpu"), {"device": "pcm", "adc_bits": 4})
    assert ok["accuracy"] == pytest.approx(here["accuracy"], abs=0) and ok["energy_J"] == here["energy_J"]
    assert 0.5 < ok["accuracy"] <= 1.0 and ok["energy_J"] > 0

    grown = SweepSpec(model="digits_mlp", axes={"device": ["pcm"], "adc_bits": [4, -1, 8]}, repeats=2, t_s=3600.0)
    res2 = sweep(grown, measure_point, (grown, model, data, "cpu"), out=tmp_path, progress=False)
    assert (res2.executed, res2.skipped) == (1, 2)  # only adc_bits=8 ran; the failed point is not retried
    assert [r["adc_bits"] for r in res2.rows] == [4, -1, 8]
    res3 = sweep(grown, measure_point, (grown, model, data, "cpu"), out=tmp_path, rerun="failed", progress=False)
    assert (res3.executed, res3.skipped) == (1, 2)  # the failed point again
    table = read_rows(tmp_path)
    assert len(table) == 3 and {r["key"] for r in table} == {point_key(grown, p) for p in grown.points()}
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "points").num_rows == 3  # the part files read as one table
    front = res2.pareto()
    assert front and all(r["status"] == "ok" for r in front)
    assert "accuracy %" in res2.report() and "failed points" in res2.report()
    assert res2.plot(tmp_path / "pareto.png").stat().st_size > 0


@pytest.mark.slow
def test_cli_sweep(ray_local, tmp_path, capsys):
    from analogue.cli import main

    path = tmp_path / "sweep.yaml"
    path.write_text("model: digits_mlp\nmodel_kwargs: {epochs: 2}\nrepeats: 2\n"
                    "axes:\n  device: [pcm]\n  array.tile.rows: [64, 128]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "ran 2 point(s)" in text
    assert (tmp_path / "out" / "pareto.png").is_file() and (tmp_path / "out" / "pareto.json").is_file()
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert "ran 0 point(s), 2 done already" in capsys.readouterr().out
    path.write_text("model: digits_mlp\nrepeat: 2\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "unknown field 'repeat'" in capsys.readouterr().err


def test_sweep_result_without_rows(tmp_path):
    res = SweepResult((), 0, 0, tmp_path, ("adc_bits",))
    assert res.pareto() == [] and res.failed == []


def test_the_sweep_function_does_not_shadow_its_module():
    """``analogue.analysis.sweep`` is the function; its module is ``analogue.analysis.sweeps`` (an
    import of the module by its dotted name gives the module, not the function)."""
    import importlib
    import inspect

    import analogue.analysis.sweeps as module
    from analogue.analysis import sweep as function

    assert inspect.ismodule(module) and inspect.isfunction(function)
    assert function is module.sweep is importlib.import_module("analogue.analysis.sweeps").sweep
