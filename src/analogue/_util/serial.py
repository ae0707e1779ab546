"""Frozen config dataclasses to and from plain data: nested dicts of builtins (JSON- and
YAML-safe) and YAML files.

``Serialisable`` gives a frozen dataclass ``to_dict``/``from_dict``/``replace``/``to_yaml``/
``from_yaml``; the functions below do the work and serve classes that need their own variant:

- ``section_from_dict``: any ``Mapping`` into the dataclass, recursing into nested dataclass
  fields; sequences become tuples; a string holding a finite number in a ``float`` field becomes
  that number (YAML 1.1 reads ``1e-3`` as a string).
- ``reject_unknown``: an unknown key fails naming the field path and the closest valid name.
- ``replace_dotted``: ``dataclasses.replace`` that also takes ``"section.field"`` keys.
- ``check_version``: a document of another version fails in one line.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from analogue._util.io import atomic_write_text
from analogue._util.validate import ConfigError

T = TypeVar("T", bound="Serialisable")


def reject_unknown(data: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    """``ConfigError`` naming ``where``, the first key of ``data`` not in ``known`` and the closest
    valid name (or all of them when none is close)."""
    known = list(known)
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid fields: {known}"
            raise ConfigError(f"{where}: unknown field {key!r}{hint}")


def field_names(cls: Any) -> list[str]:
    """The field names of a dataclass (class or instance), in order."""
    return [f.name for f in dataclasses.fields(cls)]


def check_version(got: Any, expected: int, where: str, what: str = "version") -> None:
    """``ConfigError("{where}: this analogue reads {what} {expected}, got {got!r}")`` unless equal."""
    if got != expected:
        raise ConfigError(f"{where}: this analogue reads {what} {expected}, got {got!r}")


def section_from_dict(cls: type, data: Any, where: str) -> Any:
    """Build one config dataclass from a mapping (any ``Mapping``), recursing into nested
    dataclass fields. Sequences become tuples; a string holding a finite number in a ``float``
    field becomes that number (YAML 1.1 reads ``1e-3`` as a string)."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    reject_unknown(data, field_names(cls), where)
    hints = type_hints(cls)
    kwargs = {}
    for k, v in data.items():
        sub_cls = nested_dataclass(cls, k)
        if sub_cls:
            kwargs[k] = section_from_dict(sub_cls, v, f"{where}.{k}")
            continue
        if isinstance(v, Sequence) and not isinstance(v, (str, bytes)):
            v = tuple(v)
        kwargs[k] = numeric_strings(v, hints.get(k))
    return cls(**kwargs)


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, once per class (it parses every annotation: slow)."""
    return typing.get_type_hints(cls)


def nested_dataclass(cls: type, name: str) -> type | None:
    """The dataclass type of field ``name`` of ``cls``, or ``None`` when it is not one."""
    t = type_hints(cls).get(name)
    return t if isinstance(t, type) and dataclasses.is_dataclass(t) else None


def replace_dotted(obj: Any, changes: Mapping[str, Any], where: str) -> Any:
    """``dataclasses.replace(obj, **changes)`` that also accepts ``"section.field"`` keys for the
    fields of a nested dataclass section (``replace_dotted(cfg, {"adc.bits": 6}, ...)``).
    Unknown names fail naming the path; numeric strings become numbers as in
    ``section_from_dict``."""
    names = field_names(obj)
    sections = [n for n in names if nested_dataclass(type(obj), n)]
    nested: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for key, value in changes.items():
        if "." in key:
            sec, sub = key.split(".", 1)
            reject_unknown({sec: None}, sections, where)
            nested.setdefault(sec, {})[sub] = value
        else:
            flat[key] = value
    for sec, subs in nested.items():
        cls_ = nested_dataclass(type(obj), sec)
        reject_unknown(subs, field_names(cls_), f"{where}.{sec}")
        hints = type_hints(cls_)
        subs = {k: numeric_strings(v, hints.get(k)) for k, v in subs.items()}
        flat[sec] = dataclasses.replace(getattr(obj, sec), **subs)
    reject_unknown(flat, names, where)
    return dataclasses.replace(obj, **flat)


def _float_field(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


def _float_tuple_field(hint: Any) -> bool:
    for h in (hint, *typing.get_args(hint)):
        if typing.get_origin(h) is tuple:
            elems = [a for a in typing.get_args(h) if a is not Ellipsis]
            return bool(elems) and all(a is float for a in elems)
    return False


def numeric_strings(value: Any, hint: Any) -> Any:
    """``value`` with strings that hold a finite number turned into floats where ``hint`` (the
    field's type) wants floats; anything else unchanged (validation then names it)."""
    if isinstance(value, str) and _float_field(hint):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if isinstance(value, tuple) and _float_tuple_field(hint):
        return tuple(numeric_strings(v, float) for v in value)
    return value


def read_yaml(path: str | os.PathLike[str], where: str) -> Any:
    """The YAML document in ``path`` (``yaml.safe_load``: no tags that build Python objects).
    A missing file is a ``FileNotFoundError``; malformed YAML, a Python tag or an empty file a
    one-line ``ConfigError`` naming the file, line and column."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{where}: no such file {str(p)!r}")
    try:
        with open(p, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a YAML text file ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        fix = ("; Python tags such as !!python/object are refused, write plain values"
               if isinstance(exc, yaml.constructor.ConstructorError) else "")
        raise ConfigError(f"{p}: not valid YAML for {where}: {problem}{at}{fix}") from None
    if data is None:
        raise ConfigError(f"{p}: the file is empty")
    return data


def write_yaml(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """``data`` as a YAML file (keys in their order), written atomically."""
    import yaml

    return atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


class Serialisable:
    """Mixin for frozen config dataclasses: ``to_dict``/``from_dict`` (nested sections, tuples,
    numeric strings, unknown keys named with the closest valid one), dotted ``replace`` and YAML
    files. ``serial_name`` names the class in messages; a ``version`` field, if any, is checked by
    the class itself (``check_version`` in its ``__post_init__``)."""

    serial_name: ClassVar[str] = ""
    """The name in error messages (default: the class name)."""

    @classmethod
    def _serial_where(cls) -> str:
        return cls.serial_name or cls.__name__

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict of builtins (JSON- and YAML-safe)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """Inverse of ``to_dict`` (any ``Mapping``, e.g. an OmegaConf ``DictConfig``); unknown keys
        fail with the closest valid name."""
        return section_from_dict(cls, data, cls._serial_where())

    def replace(self: T, **changes: Any) -> T:
        """``dataclasses.replace`` that also accepts dotted paths: ``replace(**{"adc.bits": 6})``."""
        return replace_dotted(self, changes, self._serial_where())

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write to a YAML file atomically (a crash never leaves a half-written file)."""
        return write_yaml(path, self.to_dict())

    @classmethod
    def from_yaml(cls: type[T], path: str | os.PathLike[str]) -> T:
        """From a YAML file written by ``to_yaml`` (or by hand; same fields)."""
        return cls.from_dict(read_yaml(path, cls._serial_where()))


def record_from_dict(cls: type, data: Any, where: str, version: int | None = None) -> Any:
    """A flat record dataclass (a report) from any ``Mapping``, values taken as given: unknown
    keys fail naming the closest valid one; with ``version``, a ``version`` entry other than it
    fails in one line (a missing one is taken as current)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    reject_unknown(data, field_names(cls), where)
    if version is not None:
        check_version(data.get("version", version), version, where)
    return cls(**data)
