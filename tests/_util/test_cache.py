"""The on-disk result cache: a hit returns what the miss computed, any key change recomputes, a
bad entry is recomputed, ``off`` computes every time, and the edge-camera claim goes through it."""

from __future__ import annotations

import json

import pytest

from analogue._util import cache


@pytest.fixture
def calls() -> list[int]:
    return []


def _compute(calls: list[int], value: object):
    def f() -> object:
        calls.append(1)
        return value
    return f


def test_hit_returns_the_computed_value(tmp_path, monkeypatch, calls):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    v = {"fps": 136.25, "name": "resnet18@224", "rows": [1, 2]}
    assert cache.cached_json("demo", {"a": 1}, _compute(calls, v)) == v
    assert cache.cached_json("demo", {"a": 1}, _compute(calls, {"other": 0})) == v  # from disk
    assert len(calls) == 1
    assert cache.cached_json("demo", {"a": 2}, _compute(calls, {"other": 0})) == {"other": 0}
    assert cache.cached_json("other-ns", {"a": 1}, _compute(calls, 5)) == 5
    assert len(calls) == 3
    files = list((tmp_path / "demo").glob("*.json"))
    assert len(files) == 2
    entry = json.loads(files[0].read_text())
    assert entry["key"]["source"] == cache.source_fingerprint() and len(entry["key"]["source"]) == 64


def test_bad_entry_is_recomputed_and_off_computes_always(tmp_path, monkeypatch, calls):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    cache.cached_json("demo", {"k": "x"}, _compute(calls, [1.5]))
    (f,) = (tmp_path / "demo").glob("*.json")
    f.write_text("{not json")
    assert cache.cached_json("demo", {"k": "x"}, _compute(calls, [2.5])) == [2.5]
    assert json.loads(f.read_text())["value"] == [2.5]  # rewritten
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    assert cache.cache_dir() is None
    for _ in range(2):
        assert cache.cached_json("demo", {"k": "x"}, _compute(calls, (3, 4))) == [3, 4]  # JSON form
    assert len(calls) == 4
    with pytest.raises(ValueError, match="namespace"):
        cache.cached_json("../escape", {}, _compute(calls, 0))


def test_default_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "analogue"


def test_camera_cost_reads_the_cache(tmp_path, monkeypatch):
    """A stored entry under the claim's key is what ``camera_cost`` returns (no compile), so the
    claims row costs a file read once computed; the key holds the chip preset."""
    from analogue.apps import edge
    from analogue.config import chips

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    edge.camera_cost.cache_clear()
    marker = {"model": "resnet18@224", "fps": -1.0}
    key = {"model": "resnet18@224", "batch": 16, "chip": chips.mythic_m1076().to_dict()}
    assert cache.cached_json("edge-camera", key, lambda: marker) == marker
    try:
        assert edge.camera_cost("resnet18@224") == marker
        with pytest.raises(ValueError, match="unknown model"):
            edge.camera_cost("vgg@1080p")
    finally:
        edge.camera_cost.cache_clear()
