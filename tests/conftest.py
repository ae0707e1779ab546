"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for the module: bit-for-bit comparisons (across processes, or with a
    resumed run) need one summation order."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def run_child(tmp_path: Path) -> Callable[[str], None]:
    """Run a Python script in a fresh process on this checkout's sources, one thread, offline;
    fails the test with the child's stderr if it fails."""

    def run(script: str) -> None:
        path = tmp_path / "child.py"
        path.write_text(script)
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "MKL_DYNAMIC": "FALSE", "TRANSFORMERS_VERBOSITY": "error",
               "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]

    return run
