"""``analogue arrays``: end to end on a tiny model and data given as factories."""

from __future__ import annotations

import json

from analogue.cli import main

FACTORIES = '''
import torch
from torch import nn


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(60, 12, generator=g)
    return x, model()(x).argmax(-1)  # the digital model scores 100 %
'''


def test_arrays_command_end_to_end(tmp_path, capsys) -> None:
    f = tmp_path / "factories.py"
    f.write_text(FACTORIES)
    out = tmp_path / "out"
    rc = main(["arrays", "--model", f"{f}:model", "--data", f"{f}:data", "--sizes", "4", "16",
               "--r-wire", "0", "1.5/5", "--instances", "2", "--max-loss", "0.05", "--out", str(out),
               "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "acc % @ 0 ohm" in text and "acc % @ 1.5/5 ohm" in text and "energy uJ" in text
    assert "largest array within 5 points" in text
    res = json.loads((out / "arrays.json").read_text())
    assert res["digital_accuracy"] == 1.0 and len(res["points"]) == 4 and len(res["costs"]) == 2
    assert res["largest_within"]["0 ohm"] == 16
    assert (out / "arrays.png").stat().st_size > 0


def test_arrays_command_reports_bad_input(tmp_path, capsys) -> None:
    assert main(["arrays", "--model", "analogue.data.models:mlp", "--out", str(tmp_path)]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["arrays", "--chip", "gpu_a100", "--out", str(tmp_path)]) == 2
    assert "no arrays" in capsys.readouterr().err
