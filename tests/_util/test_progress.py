import io

import pytest

from analogue._util.progress import progress_enabled, track


def test_policy_follows_the_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert progress_enabled(None) is False
    monkeypatch.setattr("sys.stderr", Tty())
    assert progress_enabled(None) is True
    assert progress_enabled(False) is False


def test_track_yields_every_item_and_draws_only_when_asked(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert list(track(range(5), "x", progress=False)) == [0, 1, 2, 3, 4]
    assert err.getvalue() == ""
    assert list(track(range(5), "x", progress=True)) == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError, match="progress"):
        progress_enabled("yes")
