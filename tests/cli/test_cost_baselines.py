"""``analogue cost`` prints the baselines in plain words and a time-multiplexed program's write
schedule, with the wear warning."""

from __future__ import annotations

import json

import pytest

from analogue.cli import main
from analogue.cost import EnduranceWarning

BIG_MLP = ["--model", "analogue.data.models:mlp", "--kwargs", '{"sizes": [2048, 2048, 2048, 10]}',
           "--input-shape", "1,2048", "--reprogram"]


def test_cost_prints_baselines_and_write_schedule(tmp_path, capsys) -> None:
    with pytest.warns(EnduranceWarning):
        rc = main(["cost", "--chip", "hermes", *BIG_MLP, "--inferences-per-write", "1",
                   "--inferences-per-s", "1000", "--no-progress", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    for kind in ("the GPU (", "the CPU (", "the edge NPU ("):
        assert kind in out
    assert "energy per inference than hermes" in out
    assert "per write" in out and "WARNING: this schedule wears out the pcm arrays" in out
    data = json.loads((tmp_path / "cost.json").read_text())
    rp = data["inference"]["reprogram"]
    assert rp["rounds"] == 3 and rp["inferences_per_write"] == 1 and rp["wears_out"]
    assert len(data["inference"]["baselines"]) == 3


def test_cost_writing_rarely_does_not_warn(capsys) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", EnduranceWarning)
        rc = main(["cost", "--chip", "hermes", *BIG_MLP, "--inferences-per-write", "100000",
                   "--inferences-per-s", "1", "--precision", "fp16", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "fp16)" in out and "the arrays last" in out and "WARNING" not in out
