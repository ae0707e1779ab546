"""The command line: every user error is one line on stderr with exit code 2 (a traceback only
with --debug), Ctrl-C exits 130; --version; chips from YAML; the user's modules from the working
directory; token-id inputs for cost; --no-progress on every long command; --trust-code."""

import sys

import pytest
import torch
import yaml

import analogue
from analogue import cli
from analogue.apps.training import CHECKPOINT
from analogue.cli import main
from analogue.config import chips

TINY = {"model": {"name": "mlp", "kwargs": {"sizes": [64, 10]}}, "data": {"name": "digits", "batch_size": 512},
        "analog": {"preset": None}, "epochs": 2}


def _one_line_error(capsys, argv, code=2):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"analogue {argv[0]}: ")
    return lines[0]


@pytest.fixture
def flat_digits(monkeypatch):
    """TINY's MLP takes flat 64-pixel digits."""
    from analogue.data import digits

    real = digits.load_digits
    monkeypatch.setattr(digits, "load_digits", lambda **kw: real(flat=True, **kw))


def test_malformed_yaml_and_python_tags_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 1\nmodel: {name: [digits_cnn\n")
    line = _one_line_error(capsys, ["train", str(bad), "--out", str(tmp_path / "o")])
    assert "bad.yaml: not valid YAML" in line and "line 3" in line
    evil = tmp_path / "evil.yaml"
    evil.write_text("epochs: !!python/object/apply:os.system ['echo hi']\n")
    line = _one_line_error(capsys, ["train", str(evil), "--out", str(tmp_path / "o")])
    assert "python/object/apply:os.system" in line and "refused" in line
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "bin.yaml" in _one_line_error(capsys, ["train", str(binary), "--out", str(tmp_path / "o")])


def test_a_bad_input_shape_is_one_line(capsys):
    for shape in ("1,3,x", "1,,4", "1,-4", "a"):
        line = _one_line_error(capsys, ["map", "analogue.data.models:mlp", "--input-shape", shape])
        assert f"--input-shape {shape!r}" in line
    line = _one_line_error(capsys, ["cost", "--model", "analogue.data.models:mlp", "--input-shape", "1,3,x"])
    assert "--input-shape" in line
    line = _one_line_error(capsys, ["map", "analogue.data.models:mlp", "--input-shape", "1,4", "--kwargs", "{sizes"])
    assert "--kwargs" in line and "not JSON" in line


def test_a_truncated_checkpoint_is_one_line(tmp_path, capsys, flat_digits):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress", "--stop-after", "1"]) == 0
    capsys.readouterr()
    blob = (out / CHECKPOINT).read_bytes()
    (out / CHECKPOINT).write_bytes(blob[: len(blob) // 3])
    line = _one_line_error(capsys, ["train", str(cfg), "--out", str(out), "--no-progress", "--resume"])
    assert "checkpoint.pt: not a readable checkpoint" in line and "--force" in line
    with pytest.raises(ValueError, match="not a readable checkpoint"):  # --debug: the exception itself
        main(["--debug", "train", str(cfg), "--out", str(out), "--no-progress", "--resume"])
    with pytest.raises(ValueError, match="not a readable checkpoint"):  # also after the command
        main(["train", str(cfg), "--out", str(out), "--no-progress", "--resume", "--debug"])


def test_model_init_naming_a_non_checkpoint_is_one_line(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "model": {**TINY["model"], "init": str(notes)}}))
    line = _one_line_error(capsys, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"])
    assert "model.init" in line and "not a state_dict" in line


def test_argument_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs-typo", "3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "unrecognized arguments" in err


def test_ctrl_c_exits_130_in_one_line(monkeypatch, capsys):
    def interrupted(_args):
        raise KeyboardInterrupt

    help_text, add, _ = cli.COMMANDS["cost"]
    monkeypatch.setitem(cli.COMMANDS, "cost", (help_text, add, interrupted))
    assert _one_line_error(capsys, ["cost"], code=130) == "analogue cost: interrupted"
    with pytest.raises(KeyboardInterrupt):
        main(["--debug", "cost"])


def test_torch_errors_from_the_model_are_one_line(capfd):
    # a model that cannot take the example input: torch's RuntimeError, one line, exit 2 (capfd:
    # nothing else on the real stderr either, such as the tracer's logged traceback)
    line = _one_line_error(capfd, ["map", "analogue.data.models:mlp", "--input-shape", "1,5",
                                    "--kwargs", '{"sizes": [4, 2]}'])
    assert "--debug" in line


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"analogue {analogue.__version__}"


def test_chips_from_yaml_files(tmp_path, capsys):
    small = chips.hermes().replace(n_cores=2, name="my_chip")
    path = small.to_yaml(tmp_path / "my_chip.yaml")
    assert chips.Chip.from_yaml(path) == small
    assert main(["map", "analogue.data.models:mlp", "--input-shape", "1,64", "--kwargs",
                 '{"sizes": [64, 32, 10]}', "--chip", str(path)]) == 0
    assert "my_chip" in capsys.readouterr().out
    assert main(["cost", "--chip", str(path)]) == 0
    assert "my_chip" in capsys.readouterr().out
    line = _one_line_error(capsys, ["cost", "--chip", str(tmp_path / "missing.yaml")])
    assert "missing.yaml" in line
    (tmp_path / "typo.yaml").write_text("n_corez: 3\n")
    assert "did you mean 'n_cores'" in _one_line_error(capsys, ["cost", "--chip", str(tmp_path / "typo.yaml")])


def test_user_models_from_the_working_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_nets.py").write_text(
        "import torch\n\ndef net():\n    return torch.nn.Sequential(torch.nn.Linear(16, 8))\n")
    monkeypatch.chdir(tmp_path)
    before = list(sys.path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert main(["map", "my_nets:net", "--input-shape", "1,16", "--no-progress"]) == 0
    assert "Program on hermes" in capsys.readouterr().out
    assert str(tmp_path) not in sys.path  # restored
    sys.path[:] = before


def test_cost_takes_token_ids(capsys):
    kwargs = ('{"vocab_size": 50, "hidden_size": 32, "num_layers": 1, "num_heads": 2,'
              ' "intermediate_size": 64}')
    assert main(["cost", "--model", "analogue.data.models:tiny_transformer_encoder", "--input-shape", "1,16",
                 "--input-dtype", "int64", "--int-high", "50", "--kwargs", kwargs, "--no-progress"]) == 0
    assert "encoder.layer.0.attention" in capsys.readouterr().out
    # float inputs into an embedding: torch's error, one line
    line = _one_line_error(capsys, ["cost", "--model", "analogue.data.models:tiny_transformer_encoder",
                                    "--input-shape", "1,16", "--kwargs", kwargs])
    assert "analogue cost: error:" in line


@pytest.mark.parametrize("command", ["demo", "drift", "train", "hwa-table", "map", "cost"])
def test_every_long_command_takes_no_progress(command):
    args = cli.build_parser().parse_args([command, "--no-progress"] + (["m:f", "--input-shape", "1"] if command == "map" else []))
    assert args.no_progress is True


def test_train_trust_code(tmp_path, monkeypatch, capsys, flat_digits):
    (tmp_path / "my_models.py").write_text(
        "import torch\n\ndef net():\n    return torch.nn.Linear(64, 10)\n")
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "model": {"name": "my_models:net"}, "epochs": 1}))
    line = _one_line_error(capsys, ["train", str(cfg), "--out", str(tmp_path / "a"), "--no-progress"])
    assert "--trust-code" in line and "my_models:net" in line
    assert not (tmp_path / "a").exists()
    assert main(["train", str(cfg), "--out", str(tmp_path / "b"), "--no-progress", "--trust-code"]) == 0
    saved = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert set(saved) == {"weight", "bias"}
