"""analogue._util.io: atomic writes, temporary files and file hashes."""

from __future__ import annotations

import hashlib
import os

import pytest

from analogue._util.io import (
    atomic_write_bytes,
    atomic_write_text,
    file_sha256,
    stale_temp_files,
    write_temp_file,
)


def test_atomic_write_keeps_mode_and_leaves_no_temp_file(tmp_path):
    p = atomic_write_text(tmp_path / "sub" / "a.txt", "one")
    assert p.read_text() == "one" and (p.stat().st_mode & 0o777) == 0o644
    os.chmod(p, 0o600)
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two" and (p.stat().st_mode & 0o777) == 0o600
    assert list(stale_temp_files(p.parent, "a.txt")) == []


def test_failed_write_removes_its_temp_file(tmp_path):
    def boom(path):
        path.write_bytes(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_temp_file(tmp_path, "x.bin", boom)
    assert list(stale_temp_files(tmp_path, "x.bin")) == []


def test_temp_file_and_hash(tmp_path):
    tmp = write_temp_file(tmp_path, "x.bin", lambda path: path.write_bytes(b"abc" * 1000))
    assert list(stale_temp_files(tmp_path, "x.bin")) == [tmp]
    assert file_sha256(tmp) == hashlib.sha256(b"abc" * 1000).hexdigest()
