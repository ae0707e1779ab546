"""Fixtures for the compiler tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_chip():
    from analogue import chips

    return chips.Chip(name="tiny", organisation=chips.Organisation(n_cores=2, arrays_per_core=2),
                      array=chips.array_config("pcm", rows=256, cols=256))
