"""Files written atomically: a temporary file in the target's folder (``.NAME.*.tmp``), flushed,
``fsync``-ed and moved over the target with ``os.replace`` (atomic on POSIX), so a crash never
leaves a half-written file; and the SHA-256 of a file, read in chunks."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def _mkstemp(directory: Path, name: str) -> tuple[int, str]:
    """An open temporary file next to ``directory / name`` (``.NAME.*.tmp``)."""
    return tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")


def stale_temp_files(directory: str | os.PathLike[str], name: str) -> Iterator[Path]:
    """Temporary files of atomic writes of ``directory / name`` that a kill left behind."""
    return Path(directory).glob(f".{name}.*.tmp")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; the parent folders are made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp(path.parent, path.name)
    try:
        # mkstemp makes the file private (0600); keep the mode of the file replaced, else 0644
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_temp_file(directory: Path, name: str, write: Callable[[Path], None]) -> Path:
    """A temporary file next to ``directory / name``, written by ``write(path)`` (a writer that
    streams to a path, e.g. ``safetensors``), made 0644 and flushed to disk. The caller moves it
    into place with ``os.replace`` (then ``fsync_dir``), or deletes it."""
    fd, tmp = _mkstemp(directory, name)
    os.close(fd)
    path = Path(tmp)
    try:
        write(path)
        os.chmod(path, 0o644)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (the renames into it) to disk, where the platform can."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory handles (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
