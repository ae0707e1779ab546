"""Validation helpers for configs and arguments: each raises a one-line ``ConfigError`` that names
the field (``where``) and what a valid value is."""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A hardware description that cannot be simulated; the message says which field and why."""


def require(cond: bool, where: str, msg: str) -> None:
    """``ConfigError("{where}: {msg}")`` unless ``cond``."""
    if not cond:
        raise ConfigError(f"{where}: {msg}")


def is_real(value: Any) -> bool:
    """A finite ``int`` or ``float`` (``bool`` is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_bits(value: int | None, where: str, lo: int = 1, hi: int = 16) -> None:
    """``None`` (ideal) or an integer in ``[lo, hi]``."""
    if value is None:
        return
    require(is_int(value) and lo <= value <= hi, where,
            f"must be an integer in [{lo}, {hi}] or None (ideal), got {value!r}")


def check_positive(value: float, where: str) -> None:
    """A finite number ``> 0``."""
    require(is_real(value) and value > 0, where, f"must be a finite number > 0, got {value!r}")


def check_nonnegative(value: float, where: str) -> None:
    """A finite number ``>= 0``."""
    require(is_real(value) and value >= 0, where, f"must be a finite number >= 0, got {value!r}")


def check_finite(value: float, where: str) -> None:
    """A finite number of either sign."""
    require(is_real(value), where, f"must be a finite number, got {value!r}")


def check_rate(value: float, where: str) -> None:
    """A rate: a number in ``[0, 1]``."""
    ok = isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0
    require(ok, where, f"is a rate and must lie in [0, 1], got {value!r}")


def check_bounds(value: Any, where: str) -> None:
    """A pair ``(low, high)`` of finite numbers with ``0 <= low <= high``."""
    ok = isinstance(value, tuple) and len(value) == 2
    if ok:
        for v in value:
            check_finite(v, where)
    require(ok and 0.0 <= value[0] <= value[1], where,
            f"must be a pair (low, high) with 0 <= low <= high, got {value!r}")


def check_int(value: Any, where: str, lo: int) -> None:
    """An integer ``>= lo``."""
    if not (is_int(value) and value >= lo):
        raise ConfigError(f"{where}: must be an integer >= {lo}, got {value!r}")
