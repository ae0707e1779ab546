"""``analogue arrays``: end to end on a tiny model and data given as factories."""

from __future__ import annotations

import json

import pytest

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


SPREAD = FACTORIES.replace("torch.rand(60, 12, generator=g)", "torch.randn(400, 12, generator=g)")  # all 3 classes


def test_arrays_command_calibrate_when_reaches_the_study(tmp_path, capsys) -> None:
    """``--calibrate-when after`` gives the library's ``calibrate_when="after"`` study, point for
    point (the oracle: ``an.array_size_study`` called with the same arguments), and differs from
    ``"before"`` here (wires heavy enough that calibrating through them changes the ADC ranges)."""
    import importlib.util

    import analogue as an

    f = tmp_path / "factories.py"
    f.write_text(SPREAD)
    spec = importlib.util.spec_from_file_location("factories", f)
    fac = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fac)
    kw = dict(sizes=[16], r_wire=[(300.0, 300.0)], instances=2, max_loss=0.05, batch=1, seed=0)
    lib = {when: json.loads(json.dumps(an.array_size_study(
        fac.model(), fac.data(), None, an.chips.hermes(), calibration_data=fac.data(), calibrate_when=when,
        **kw).to_dict()["points"])) for when in ("before", "after")}
    assert lib["before"] != lib["after"]  # the option matters for this case
    for when in ("before", "after"):
        out = tmp_path / when
        rc = main(["arrays", "--model", f"{f}:model", "--data", f"{f}:data", "--sizes", "16", "--r-wire", "300",
                   "--instances", "2", "--max-loss", "0.05", "--calibrate-when", when, "--out", str(out),
                   "--no-progress"])
        assert rc == 0
        assert f"calibrated {when} programming" in capsys.readouterr().out
        assert json.loads((out / "arrays.json").read_text())["points"] == lib[when]


def test_arrays_command_rejects_an_unknown_calibration_order(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["arrays", "--calibrate-when", "during", "--out", str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--calibrate-when" in err and "'before', 'after'" in err
