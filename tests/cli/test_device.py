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


def test_cpu_only_commands_refuse_an_accelerator_clearly(monkeypatch, capsys):
    monkeypatch.setattr("analogue.cli.device._available", lambda dev: True)  # as on a GPU machine
    for command in ("demo", "drift", "hwa-table", "train"):
        assert main([command, *MODEL_COMMANDS[command], "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert f"--device cuda: analogue {command} runs on the CPU only so far" in err, err


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

