"""Safety of a training run folder: checkpoints tied to their run and checksummed, one writer at a
time, history.json consistent with the checkpoint, no temporary files left by killed writes."""

import json
import shutil

import pytest
import torch

from analogue.apps import TrainConfig, run_training
from analogue.apps.training import CHECKPOINT, HISTORY, LOCK, load_checkpoint, lock_run_folder
from analogue.config import ConfigError

TINY = {
    "model": {"name": "digits_cnn"},
    "data": {"name": "digits", "batch_size": 512},
    "pretrain": {"epochs": 1, "optimizer": {"name": "adam", "lr": 3.0e-3}},
    "analog": {"preset": "standard"},
    "optimizer": {"name": "adam", "lr": 1.0e-3},
    "epochs": 2,
    "seed": 3,
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A run of TINY stopped after its first epoch (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("stopped")
    run_training(TrainConfig.from_dict(TINY), out, progress=False, stop_after=1)
    return out


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("change, named", [({"seed": 4}, "seed: 4 there, 3 here"),
                                           ({"epochs": 12}, "epochs: 12 there, 2 here")])
def test_a_checkpoint_of_another_run_is_refused(stopped, tmp_path, change, named):
    other = tmp_path / "other"
    run_training(TrainConfig.from_dict({**TINY, **change}), other, progress=False, stop_after=1)
    mine = _copy(stopped, tmp_path / "mine")
    shutil.copy(other / CHECKPOINT, mine / CHECKPOINT)  # config.yaml still matches TINY
    with pytest.raises(ConfigError, match=f"another run \\({named}\\).*--force"):
        run_training(TrainConfig.from_dict(TINY), mine, resume=True, progress=False)


def _tensor_offset(blob: bytes, t: torch.Tensor) -> int:
    raw = t.contiguous().view(torch.uint8).numpy().tobytes()
    pos = blob.find(raw[:256])
    assert pos > 0
    return pos


def test_a_bit_flipped_or_truncated_checkpoint_is_refused(stopped, tmp_path):
    run = _copy(stopped, tmp_path / "run")
    path = run / CHECKPOINT
    blob = path.read_bytes()
    weight = load_checkpoint(path)["model"]["0.weight"]
    flipped = bytearray(blob)
    flipped[_tensor_offset(blob, weight) + 17] ^= 0x04  # one bit of one stored weight
    path.write_bytes(bytes(flipped))
    assert torch.load(path, weights_only=True)["model"]["0.weight"].ne(weight).sum() == 1  # loads "fine"
    with pytest.raises(ValueError, match="do not match its SHA-256"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="SHA-256"):
        run_training(TrainConfig.from_dict(TINY), run, resume=True, progress=False)
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="not a readable checkpoint.*--force"):
        run_training(TrainConfig.from_dict(TINY), run, resume=True, progress=False)


def test_two_runs_cannot_write_one_folder(stopped, tmp_path):
    run = _copy(stopped, tmp_path / "run")
    cfg = TrainConfig.from_dict(TINY)
    with lock_run_folder(run):  # another run holds the folder
        with pytest.raises(RuntimeError, match="in use by another run"):
            run_training(cfg, run, resume=True, progress=False)
        with pytest.raises(RuntimeError, match="in use by another run"):
            run_training(cfg, run, force=True, progress=False)
        assert load_checkpoint(run / CHECKPOINT)["epoch"] == 1  # untouched
    res = run_training(cfg, run, resume=True, progress=False)  # released: goes on
    assert res.completed_epochs == cfg.total_epochs
    assert not (run / LOCK).exists()


def test_history_is_rewritten_from_the_checkpoint(tmp_path):
    """A kill between the last checkpoint and history.json (before model.pt) left the history
    one epoch short for good; resume now rewrites it from the checkpoint."""
    cfg = TrainConfig.from_dict(TINY)
    full = run_training(cfg, tmp_path, progress=False)
    rows = json.loads((tmp_path / HISTORY).read_text())
    assert len(rows) == cfg.total_epochs
    (tmp_path / HISTORY).write_text(json.dumps(rows[:-1]))
    (tmp_path / "model.pt").unlink()
    resumed = run_training(cfg, tmp_path, resume=True, progress=False)
    assert json.loads((tmp_path / HISTORY).read_text()) == rows == load_checkpoint(tmp_path / CHECKPOINT)["history"]
    assert resumed.history == full.history
    assert (tmp_path / "model.pt").is_file()


def test_stale_temp_files_of_killed_writes_are_removed(stopped, tmp_path):
    run = _copy(stopped, tmp_path / "run")
    stale = [run / ".checkpoint.pt.k1ll3d.tmp", run / ".history.json.x.tmp", run / ".model.pt.y.tmp"]
    for p in stale:
        p.write_bytes(b"half a write")
    mine = run / ".notes.tmp"  # not ours: kept
    mine.write_text("mine")
    run_training(TrainConfig.from_dict(TINY), run, resume=True, progress=False, stop_after=1)
    assert not any(p.exists() for p in stale)
    assert mine.read_text() == "mine"
