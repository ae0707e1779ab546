"""The in-sensor study end to end (small): accuracy falls at low light, holds at normal light."""

from __future__ import annotations

import pytest

from analogue.apps.sensor import run_sensor_study
from analogue.cli import COMMANDS


@pytest.mark.slow
def test_sensor_study_light_levels(tmp_path):
    res = run_sensor_study(lux=(0.003, 1.0), exposures_s=(1e-4,), repeats=1, out=tmp_path)
    clean = res["clean_accuracy_pct"]
    dark, bright = res["by_lux"]
    assert clean > 90
    assert bright["in-sensor %"] > clean - 4 and bright["conventional %"] > clean - 4
    assert dark["in-sensor %"] < 50  # ~2 photo-electrons per full-scale pixel
    assert res["by_exposure"][0]["in-sensor %"] < bright["in-sensor %"]
    assert res["frame"]["saving"] > 1
    assert (tmp_path / "sensor.png").exists() and (tmp_path / "sensor.json").exists()
    assert "sensor" in COMMANDS
