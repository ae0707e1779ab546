"""Fixtures shared by the app tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def transformer_app_kwargs(monkeypatch) -> dict:
    """What ``analogue transformer`` hands to ``apps.transformers.run_transformers``: the app is
    replaced by a stub that records its keywords (in the returned dict) and stops the command with
    a RuntimeError, so the CLI exits with 2 and "stop here" on stderr."""
    import analogue.apps.transformers as app

    seen: dict = {}

    def fake(**kw):
        seen.update(kw)
        raise RuntimeError("stop here")

    monkeypatch.setattr(app, "run_transformers", fake)
    return seen
