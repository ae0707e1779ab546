"""A small on-disk cache for slow, deterministic results (JSON).

A result is stored under a key that names everything it depends on; the key always includes the
fingerprint of the package's source (every ``.py`` file of ``analogue``), the package version and
the torch version, so any change to the code recomputes it. Where: ``$ANALOGUE_CACHE_DIR``, else
``$XDG_CACHE_HOME/analogue``, else ``~/.cache/analogue``; ``ANALOGUE_CACHE_DIR=off`` (or empty)
turns the cache off. Writes are atomic; an unreadable or mismatched entry is recomputed, and a
folder that cannot be written only costs the time (the result is still returned).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from analogue._util.io import atomic_write_text
from analogue._util.version import __version__

CACHE_ENV = "ANALOGUE_CACHE_DIR"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when ``$ANALOGUE_CACHE_DIR`` is ``off`` or empty."""
    v = os.environ.get(CACHE_ENV)
    if v is not None:
        v = v.strip()
        return None if v in ("", "off", "OFF", "0") else Path(v)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "analogue"


@functools.lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """SHA-256 over the paths and bytes of every ``.py`` file of the package (computed once per
    process)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE_ROOT.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE_ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _full_key(key: Mapping[str, Any]) -> dict[str, Any]:
    import torch

    full = {"key": dict(key), "analogue": __version__, "torch": torch.__version__, "source": source_fingerprint()}
    return json.loads(json.dumps(full, sort_keys=True, default=str))  # the form it has on disk


def cached_json(namespace: str, key: Mapping[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()``, read from the cache when an entry of ``namespace`` with the same ``key``
    (plus the package fingerprint) exists, else computed and stored. ``compute`` must return
    JSON-serialisable data whose JSON round trip is the value itself (dicts, lists, str, numbers,
    bools, None)."""
    if not namespace or not namespace.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"cached_json: namespace must be a plain name (letters, digits, - and _), got {namespace!r}")
    folder = cache_dir()
    if folder is None:
        return json.loads(json.dumps(compute()))
    full = _full_key(key)
    digest = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:32]
    path = folder / namespace / f"{digest}.json"
    try:
        entry = json.loads(path.read_text())
        if isinstance(entry, dict) and entry.get("key") == full and "value" in entry:
            return entry["value"]
    except (OSError, ValueError):
        pass
    text = json.dumps({"key": full, "value": compute()}, sort_keys=True)
    try:
        atomic_write_text(path, text)
    except OSError:
        pass
    return json.loads(text)["value"]  # the same form as a cache hit
