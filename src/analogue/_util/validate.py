"""Validation helpers for configs and arguments: each raises a one-line ``ConfigError`` (a
``ValueError``) that names the field and what a valid value is.

The message reads ``"{where}: must be ..., got {value!r}"`` for a config field (``where`` the
field path, e.g. ``"ADCConfig.bits"``) and ``"{where}: {name} must be ..., got {value!r}"`` for a
function argument (``where`` the function, ``name`` the argument). ``fix``, where given, is
appended in parentheses (``"e.g. 0.5"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


def _fail(where: str, name: str | None, must: str, value: Any, fix: str | None) -> ConfigError:
    subject = f"{where}: {name}" if name else f"{where}:"
    hint = f" ({fix})" if fix else ""
    return ConfigError(f"{subject} must {must}{hint}, got {value!r}")


def check_int(value: Any, where: str, lo: int, name: str | None = None, fix: str | None = None) -> None:
    """An integer ``>= lo``."""
    if not (is_int(value) and value >= lo):
        raise _fail(where, name, f"be an integer >= {lo}", value, fix)


def check_bits(value: int | None, where: str, lo: int = 1, hi: int = 16) -> None:
    """``None`` (ideal) or an integer in ``[lo, hi]``."""
    if value is None:
        return
    if not (is_int(value) and lo <= value <= hi):
        raise _fail(where, None, f"be an integer in [{lo}, {hi}] or None (ideal)", value, None)


def check_finite(value: float, where: str, name: str | None = None, fix: str | None = None) -> None:
    """A finite number of either sign."""
    if not is_real(value):
        raise _fail(where, name, "be a finite number", value, fix)


def check_positive(value: float, where: str, name: str | None = None, fix: str | None = None) -> None:
    """A finite number ``> 0``."""
    if not (is_real(value) and value > 0):
        raise _fail(where, name, "be a finite number > 0", value, fix)


def check_at_least(value: float, where: str, lo: float, name: str | None = None,
                   fix: str | None = None) -> None:
    """A finite number ``>= lo``."""
    if not (is_real(value) and value >= lo):
        raise _fail(where, name, f"be a finite number >= {lo:g}", value, fix)


def check_nonnegative(value: float, where: str, name: str | None = None, fix: str | None = None) -> None:
    """A finite number ``>= 0``."""
    check_at_least(value, where, 0, name, fix)


def check_fraction(value: float, where: str, name: str | None = None, fix: str | None = None) -> None:
    """A number in ``[0, 1]``."""
    if not (is_real(value) and 0.0 <= value <= 1.0):
        raise _fail(where, name, "be a fraction in [0, 1]", value, fix)


def check_positive_fraction(value: float, where: str, name: str | None = None, fix: str | None = None) -> None:
    """A fraction in ``(0, 1]`` (a quantile, a utilisation)."""
    if not (is_real(value) and 0.0 < value <= 1.0):
        raise _fail(where, name, "lie in (0, 1]", value, fix)


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


def plain(value: Any) -> Any:
    """Nested mappings and sequences as plain dicts and lists (any ``Mapping`` accepted)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    return value


def kwargs_mapping(value: Any, where: str) -> dict[str, Any]:
    """Keyword arguments given as any ``Mapping``, as a plain dict (``plain``)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping of keyword arguments, got {type(value).__name__}")
    return plain(value)
