"""Fixtures for the compiler tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_chip():
    from analogue import chips

    return chips.Chip(name="tiny", n_cores=2, arrays_per_core=2, array_rows=256, array_cols=256)
