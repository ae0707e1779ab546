"""The training loop: checkpoints, exact resumption, output-folder safety, config files, CLI."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from analogue.apps import TrainConfig, run_training
from analogue.apps.hwa_table import digits_hwa_config
from analogue.apps.training import CHECKPOINT, load_checkpoint
from analogue.cli import main
from analogue.config import ConfigError

REPO = Path(__file__).resolve().parents[2]

# small but complete: digital pretraining, conversion with learned input ranges, HWA noise,
# distillation, weight clipping, LAMB with a cosine schedule
SMALL = {
    "model": {"name": "digits_cnn"},
    "data": {"name": "digits", "batch_size": 256},
    "pretrain": {"epochs": 1, "optimizer": {"name": "adam", "lr": 3.0e-3}},
    "analog": {"preset": "standard", "overrides": {"dac.range_policy": "learned"}},
    "hwa": {"weight_noise_rel": 0.03, "clip_weights_sigma": 3.0, "distill_alpha": 0.5,
            "drift_scale_range": [0.9, 1.0]},
    "optimizer": {"name": "lamb", "lr": 0.01, "schedule": "cosine"},
    "epochs": 2,
    "seed": 3,
}


# bit-for-bit comparisons need a fixed summation order: with several threads the BLAS may pick
# its thread count by load and so change the low bits between two runs
pytestmark = pytest.mark.usefixtures("one_thread")


# subprocesses likewise run on one thread
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MKL_DYNAMIC": "FALSE"}


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    cfg = TrainConfig.from_dict(SMALL)
    out = tmp_path_factory.mktemp("full")
    return cfg, run_training(cfg, out, progress=False, force=True)


@pytest.mark.parametrize("k", [1, 2])
def test_resume_after_any_epoch_is_bit_identical(uninterrupted, tmp_path, k):
    cfg, full = uninterrupted
    part = run_training(cfg, tmp_path, progress=False, stop_after=k)
    assert part.completed_epochs == k
    assert load_checkpoint(tmp_path / CHECKPOINT)["epoch"] == k
    resumed = run_training(cfg, tmp_path, resume=True, progress=False)
    assert resumed.completed_epochs == cfg.total_epochs
    assert _same_state(full.model.state_dict(), resumed.model.state_dict())
    drop = lambda h: [{k2: v for k2, v in r.items() if k2 != "seconds"} for r in h]
    assert drop(full.history) == drop(resumed.history)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert _same_state(saved, full.model.state_dict())


def test_the_loop_leaves_the_global_rng_alone(tmp_path):
    cfg = TrainConfig.from_dict({**SMALL, "pretrain": {"epochs": 0}, "epochs": 1})
    state = torch.get_rng_state()
    run_training(cfg, None, progress=False)
    assert torch.equal(state, torch.get_rng_state())


def test_output_folder_is_never_overwritten_silently(uninterrupted, tmp_path):
    cfg, _ = uninterrupted
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--resume"):
        run_training(cfg, tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="no run"):
        run_training(cfg, tmp_path, resume=True, progress=False)
    run_training(cfg, tmp_path, progress=False, force=True, stop_after=1)
    other = TrainConfig.from_dict({**SMALL, "seed": 4})
    with pytest.raises(ConfigError, match="differs"):
        run_training(other, tmp_path, resume=True, progress=False)


def test_unknown_keys_name_the_closest_field():
    with pytest.raises(ConfigError, match="'epochs'"):
        TrainConfig.from_dict({**SMALL, "epoch": 3})
    with pytest.raises(ConfigError, match="weight_noise_rel"):
        TrainConfig.from_dict({**SMALL, "hwa": {"weight_noise": 0.1}})
    with pytest.raises(ConfigError, match="optimizer.name"):
        TrainConfig.from_dict({**SMALL, "optimizer": {"name": "adamm"}})
    with pytest.raises(ConfigError, match="did you mean 'pcm'"):
        TrainConfig.from_dict({**SMALL, "analog": {"preset": "pcn"}})
    with pytest.raises(ConfigError, match="model.name"):
        TrainConfig.from_dict({**SMALL, "model": {"name": "digit_cnn"}})
    with pytest.raises(ConfigError, match="analog.overrides.*did you mean 'bits'"):
        TrainConfig.from_dict({**SMALL, "analog": {"preset": "pcm", "overrides": {"adc.bit": 6}}})


def test_config_round_trips_and_the_example_is_the_table_recipe(tmp_path):
    cfg = TrainConfig.from_dict(SMALL)
    cfg.to_yaml(tmp_path / "c.yaml")
    assert TrainConfig.from_yaml(tmp_path / "c.yaml") == cfg
    assert TrainConfig.from_yaml(REPO / "docs" / "examples" / "digits_hwa.yaml") == digits_hwa_config()


def test_cli_train_and_resume(tmp_path, capsys):
    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(yaml.safe_dump({**SMALL, "epochs": 1}))
    out = tmp_path / "out"
    assert main(["train", str(cfg_path), "--out", str(out), "--no-progress", "--stop-after", "1"]) == 0
    assert "--resume" in capsys.readouterr().out
    assert main(["train", str(cfg_path), "--out", str(out), "--no-progress", "--resume"]) == 0
    assert (out / "model.pt").is_file() and (out / "history.json").is_file()
    assert main(["train", str(cfg_path), "--out", str(out), "--no-progress"]) == 2  # not empty
    assert main(["train"]) == 2
    assert "CONFIG.yaml" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 1\nhwa: {weight_noise_rel: -1}\n")
    assert main(["train", str(bad), "--out", str(tmp_path / "o2")]) == 2
    assert "weight_noise_rel" in capsys.readouterr().err


@pytest.mark.slow
def test_a_killed_training_process_resumes_exactly(tmp_path):
    """Kill a real `analogue train` process (SIGKILL) after its second checkpoint, resume, and
    compare the final weights bit for bit with an uninterrupted run."""
    cfg = {**SMALL, "epochs": 4}
    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "analogue.cli", "train", str(cfg_path), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **ONE_THREAD}
    subprocess.run(cmd + ["--out", str(tmp_path / "full")], check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            ck = killed / CHECKPOINT
            if ck.is_file() and load_checkpoint(ck)["epoch"] >= 2:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    epoch_at_kill = load_checkpoint(killed / CHECKPOINT)["epoch"]
    assert 2 <= epoch_at_kill < 5
    subprocess.run(cmd + ["--out", str(killed), "--resume"], check=True, env=env, capture_output=True)
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)
    b = torch.load(killed / "model.pt", weights_only=True)
    assert _same_state(a, b)
