import json

import pytest

from analogue.cli import main


@pytest.mark.slow
def test_demo_command_writes_results(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "digital (float32)" in out and "worst < 1 %" in out
    res = json.loads((tmp_path / "results.json").read_text())
    acc = {r["model"]: r["test accuracy %"] for r in res["accuracy_table"]}
    assert acc["digital (float32)"] > 85
    assert acc["analog standard() + ADC calibration"] > acc["digital (float32)"] - 10
    assert (tmp_path / "demo.png").stat().st_size > 1000


def test_cli_reports_errors_early(capsys):
    assert main(["demo", "--out", "/dev/null/x", "--epochs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "analogue demo: error" in err and "/dev/null/x" in err
