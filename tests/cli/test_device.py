"""``--device`` on every command that runs a model: parsed into a ``torch.device`` that reaches the
model; a name torch does not know, ``meta`` and a device this machine lacks fail in one line; the
pulsed device preset of ``train --in-memory`` is ``--pulsed-device`` (``--device PRESET`` there maps
with a warning)."""

import pytest
import torch

from analogue.cli import build_parser, main
from analogue.cli.device import resolve_device

MODEL_COMMANDS = {  # every command that runs a model, with the arguments it needs to parse
    "demo": [],
    "drift": [],
    "train": ["cfg.yaml"],
    "hwa-table": [],
    "map": ["analogue.data.models:mlp", "--input-shape", "1,784"],
    "cost": [],
    "arrays": [],
    "attention": [],
    "inmemory-beyond": [],
    "sweep": ["spec.yaml"],
    "transformer": [],
    "sensor": [],
    "continual": [],
}


@pytest.mark.parametrize("command", list(MODEL_COMMANDS))
def test_every_model_command_parses_device(command):
    parser = build_parser()
    args = parser.parse_args([command, *MODEL_COMMANDS[command]])
    assert args.device == "cpu"  # the default: a GPU only when named
    args = parser.parse_args([command, *MODEL_COMMANDS[command], "--device", "cuda:1"])
    assert args.device == "cuda:1"


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="'gpu7' is not a torch device; use cpu, cuda"):
        resolve_device("gpu7")
    with pytest.raises(ValueError, match="meta tensors hold no data"):
        resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda is not available on this machine"):
            resolve_device("cuda")


@pytest.mark.parametrize("command", list(MODEL_COMMANDS))
@pytest.mark.parametrize("device", ["meta", "bogus"])
def test_a_bad_device_is_one_line(command, device, capsys):
    argv = [command, *MODEL_COMMANDS[command], "--device", device]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"analogue {command}: error: --device"), err


def test_map_runs_the_model_on_the_device(monkeypatch, capsys):
    seen = {}

    def fake_compile(model, x, chip, **kw):
        seen["x"], seen["w"] = x.device, next(model.parameters()).device
        raise RuntimeError("stop here")

    import sys

    monkeypatch.setattr(sys.modules["analogue.compile"], "compile", fake_compile)
    assert main(["map", "analogue.data.models:mlp", "--input-shape", "1,784", "--device", "cpu"]) == 2
    assert seen == {"x": torch.device("cpu"), "w": torch.device("cpu")}
    capsys.readouterr()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("command", list(MODEL_COMMANDS))
def test_an_absent_gpu_is_one_line_naming_the_fix(command, capsys):
    assert main([command, *MODEL_COMMANDS[command], "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"analogue {command}: error: --device: cuda is not available"), err
    assert "use --device cpu" in err[0]


# command line -> (module, app function, its torch-device keyword)
APPS = {
    "demo": ([], "analogue.apps.demo", "run_demo", "device"),
    "drift": ([], "analogue.apps.drift_study", "run_drift_demo", "device"),
    "train": (["docs/examples/digits_hwa.yaml"], "analogue.apps.training", "run_training", "device"),
    "train --in-memory": (["--in-memory"], "analogue.cli.train", "run_inmemory_demo", "torch_device"),
    "hwa-table": ([], "analogue.apps.hwa_table", "run_hwa_table", "device"),
    "attention": ([], "analogue.apps.attention_study", "attention_study", "device"),
    "inmemory-beyond": ([], "analogue.apps.inmemory_beyond", "beyond_mlp_table", "torch_device"),
    "sweep": (["spec.yaml"], "analogue.apps.sweep", "run_sweep", "device"),  # the device's name (Ray)
    "transformer": ([], "analogue.apps.transformers", "run_transformers", "device"),
    "sensor": ([], "analogue.apps.sensor", "run_sensor_study", "device"),
    "continual": ([], "analogue.apps.continual", "run_continual_study", "torch_device"),
}


@pytest.mark.parametrize("line", list(APPS))
def test_every_app_receives_the_device(line, monkeypatch, capsys, tmp_path):
    """As on a GPU machine (``cuda:0`` available): the command hands ``cuda:0`` to its app."""
    import importlib

    extra, module, name, keyword = APPS[line]
    monkeypatch.setattr("analogue.cli.device._available", lambda dev: True)
    seen = {}

    def app(*a, **k):
        seen.update(k)
        raise RuntimeError("stop here")

    monkeypatch.setattr(importlib.import_module(module), name, app)
    argv = [line.split()[0], *extra, "--device", "cuda:0"]
    if line.startswith(("demo", "drift", "hwa-table", "train", "sweep", "sensor", "continual")):
        argv += ["--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "stop here" in capsys.readouterr().err
    assert torch.device(seen[keyword]) == torch.device("cuda:0")


@pytest.mark.slow  # trains the digits CNN for an epoch
def test_arrays_runs_the_model_and_data_on_the_device(monkeypatch, capsys, tmp_path):
    import analogue.cost.arrays

    seen = {}

    def study(model, data, cfg, chip, **kw):
        seen["w"] = {p.device for p in model.parameters()}
        seen["data"] = {data.x_train.device, data.y_test.device, kw["calibration_data"].device}
        raise RuntimeError("stop here")

    monkeypatch.setattr(analogue.cost.arrays, "array_size_study", study)
    assert main(["arrays", "--epochs", "1", "--out", str(tmp_path), "--device", "cpu", "--no-progress"]) == 2
    assert seen == {"w": {torch.device("cpu")}, "data": {torch.device("cpu")}}
    capsys.readouterr()


def test_tensors_to_moves_nested_tensors():
    from analogue.cli.arrays import tensors_to

    x = torch.ones(2, 3)
    out = tensors_to({"a": [x, (x, 3)], "labels": x.long()}, torch.device("meta"))
    assert out["a"][0].device.type == "meta" and out["a"][1][1] == 3 and out["labels"].dtype == torch.long
    assert x.device.type == "cpu"


def test_in_memory_pulsed_device_is_renamed(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("analogue.cli.train.run_inmemory", lambda args: calls.append(args) or 0)
    assert main(["train", "--in-memory", "--pulsed-device", "pcm"]) == 0
    assert calls[-1].pulsed_device == "pcm" and calls[-1].torch_device == torch.device("cpu")
    assert main(["train", "--in-memory", "--device", "pcm"]) == 0  # the old spelling: mapped
    assert calls[-1].pulsed_device == "pcm" and calls[-1].torch_device == torch.device("cpu")
    assert "--device pcm is deprecated" in capsys.readouterr().err
    assert main(["train", "cfg.yaml", "--device", "rram"]) == 2  # not in-memory: the fix, in one line
    assert "a pulsed device preset is --pulsed-device rram" in capsys.readouterr().err



def test_continual_pulsed_device_is_renamed(monkeypatch, capsys):
    import analogue.apps.continual

    calls = []

    def study(**kw):
        calls.append(kw)
        raise RuntimeError("stop here")

    monkeypatch.setattr(analogue.apps.continual, "run_continual_study", study)
    assert main(["continual", "--pulsed-device", "pcm"]) == 2
    assert calls[-1]["device"] == "pcm" and calls[-1]["torch_device"] == torch.device("cpu")
    assert "deprecated" not in capsys.readouterr().err
    assert main(["continual", "--device", "pcm"]) == 2  # the old spelling: mapped, with a warning
    assert calls[-1]["device"] == "pcm" and calls[-1]["torch_device"] == torch.device("cpu")
    err = capsys.readouterr().err
    assert "continual: warning: --device pcm is deprecated" in err and "use --pulsed-device pcm" in err
    assert main(["continual"]) == 2
    assert calls[-1]["device"] == "rram"  # the default preset, as before
    capsys.readouterr()
    with pytest.raises(SystemExit):  # argparse: the choices, in one line
        main(["continual", "--pulsed-device", "bogus"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pulsed-device" in err[0] and len(calls) == 3
