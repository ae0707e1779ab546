"""``analogue cost``: tables, plots, JSON."""

from __future__ import annotations

import json

from analogue.cli import main


def test_cost_command_prints_and_saves(tmp_path, capsys) -> None:
    rc = main(["cost", "--chip", "neurram", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "claims check" in out and "neurram-3b_out_1b_in" in out and "TOPS/W" in out
    for name in ("energy_breakdown.png", "tops_per_W_vs_adc_bits.png", "cost.json"):
        assert (tmp_path / name).stat().st_size > 0
    data = json.loads((tmp_path / "cost.json").read_text())
    assert data["peak"]["chip"] == "neurram-3b_out_1b_in"


def test_cost_command_with_a_model(tmp_path, capsys) -> None:
    rc = main(["cost", "--chip", "hermes", "--model", "analogue.data.models:mlp",
               "--input-shape", "1,784", "--training", "--batch", "2", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "inference cost on hermes (batch 2)" in out and "training cost" in out
    data = json.loads((tmp_path / "cost.json").read_text())
    assert data["inference"]["batch"] == 2 and data["training"]["kind"] == "training"


def test_cost_command_reports_bad_input(capsys) -> None:
    assert main(["cost", "--chip", "hermez"]) == 2
    assert "did you mean 'hermes'" in capsys.readouterr().err
    assert main(["cost", "--model", "analogue.data.models:mlp"]) == 2
    assert "--input-shape" in capsys.readouterr().err
