"""Two processes under torchrun (gloo, CPU) train an analog model with the Lightning callback:
the weights stay equal on both ranks, and with the default shared noise streams they equal one
process trained on the global batch (the weight noise of a step is the same draw on every rank
and in the one process; this model has no output noise)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_ddp_two_ranks_keep_equal_weights(tmp_path):
    out = tmp_path / "ddp.json"
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src"), "OMP_NUM_THREADS": "1",
           "PL_DISABLE_FORK": "1"}
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(port),
           str(HERE / "ddp_train.py"), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = json.loads(out.read_text())
    for mode in ("shared", "per_rank"):
        r = res[mode]
        assert r["steps"] == 4
        assert r["moved"] > 1e-3  # it trained
        assert r["max_rank_diff"] == 0.0  # bit-equal on both ranks
    # shared streams: the same as one process on the global batch (up to summation order)
    assert res["shared"]["max_diff_single"] < 1e-5
    # per-rank streams: each rank draws its own weight noise, so the average gradient differs
    assert res["per_rank"]["max_diff_single"] > 1e-4
