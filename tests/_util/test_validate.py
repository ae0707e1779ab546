"""analogue._util.validate: one-line errors naming the field (or argument) and the fix."""

from __future__ import annotations

import math

import pytest

from analogue._util import validate as v
from analogue.config import ConfigError


def test_config_error_is_the_config_modules_and_a_value_error():
    assert v.ConfigError is ConfigError and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, True, "1"])
def test_positive_field_message(bad):
    with pytest.raises(ConfigError, match=rf"^A\.x: must be a finite number > 0, got {re_repr(bad)}$"):
        v.check_positive(bad, "A.x")


def test_argument_messages_name_the_argument_and_the_fix():
    with pytest.raises(ConfigError, match=r"^f: n must be an integer >= 2, got 1$"):
        v.check_int(1, "f", 2, "n")
    with pytest.raises(ConfigError, match=r"^f: q must lie in \(0, 1\] \(e\.g\. 0\.9\), got 0$"):
        v.check_positive_fraction(0, "f", "q", "e.g. 0.9")
    with pytest.raises(ConfigError, match=r"^f: a must be a fraction in \[0, 1\], got 1\.5$"):
        v.check_fraction(1.5, "f", "a")
    with pytest.raises(ConfigError, match=r"^f: m must be a finite number >= 1 \(headroom\), got 0\.5$"):
        v.check_at_least(0.5, "f", 1, "m", "headroom")


def test_valid_values_pass():
    v.check_int(3, "f", 0)
    v.check_bits(None, "b")
    v.check_bits(8, "b")
    v.check_nonnegative(0.0, "x")
    v.check_fraction(1, "x")
    v.check_bounds((0.0, 1.0), "x")
    assert v.kwargs_mapping({"a": (1, {"b": 2})}, "k") == {"a": [1, {"b": 2}]}
    with pytest.raises(ConfigError, match="must be a mapping of keyword arguments, got list"):
        v.kwargs_mapping([], "k")


def re_repr(x: object) -> str:
    import re

    return re.escape(repr(x))
