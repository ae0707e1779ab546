"""The hardware description: small frozen dataclasses, one per physical concern.

Units live in field names. Every class validates itself in ``__post_init__`` with a message
that names the field and the fix. ``AnalogConfig`` composes them and round-trips through
``to_dict``/``from_dict`` (JSON- and YAML-safe) and YAML files.

Normalised units used throughout the analog path (after Rasch et al., Nat. Commun. 2023):
inputs are scaled so the DAC full scale is 1, weights so the largest conductance difference
``g_max_uS - g_min_uS`` is 1. A column current is then a sum of products in ``[-rows, rows]``
and the ADC range ``ADCConfig.out_bound`` is given in these units (10 in Rasch et al.).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIG_VERSION = 1

RANGE_POLICIES = ("dynamic", "fixed", "calibrated", "learned")
SCALE_POLICIES = ("column", "tile")


class ConfigError(ValueError):
    """A hardware description that cannot be simulated; the message says which field and why."""


def _check(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {msg}")


def _check_bits(value: int | None, where: str, lo: int = 1, hi: int = 16) -> None:
    if value is None:
        return
    _check(
        isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi,
        where,
        f"must be an integer in [{lo}, {hi}] or None (ideal), got {value!r}",
    )


def _check_pos(value: float, where: str, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    _check(ok, where, f"must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _check_rate(value: float, where: str) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0
    _check(ok, where, f"is a rate and must lie in [0, 1], got {value!r}")


@dataclass(frozen=True)
class TileConfig:
    """One crossbar array: ``rows`` word lines (inputs) by ``cols`` bit lines (outputs)."""

    rows: int = 256
    cols: int = 256

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            v = getattr(self, name)
            _check(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1 << 16,
                f"TileConfig.{name}",
                f"must be an integer in [1, 65536], got {v!r}",
            )


@dataclass(frozen=True)
class DACConfig:
    """Input digital-to-analog conversion.

    ``bits``: signed resolution (``2**(bits-1) - 1`` levels per side); ``None`` is ideal.
    ``range_policy``: how the full-scale input is chosen --
      ``dynamic``    per input vector, its absolute maximum (``noise management``);
      ``fixed``      ``input_range`` as given;
      ``calibrated`` a per-layer value measured from data by ``an.calibrate_``;
      ``learned``    a per-layer trainable range, initialised at ``input_range``.
    ``input_range``: full-scale input in the layer's input units (fixed/initial value).
    """

    bits: int | None = 8
    range_policy: str = "dynamic"
    input_range: float = 1.0

    def __post_init__(self) -> None:
        _check_bits(self.bits, "DACConfig.bits")
        _check(
            self.range_policy in RANGE_POLICIES,
            "DACConfig.range_policy",
            f"must be one of {RANGE_POLICIES}, got {self.range_policy!r}",
        )
        _check_pos(self.input_range, "DACConfig.input_range")


@dataclass(frozen=True)
class ADCConfig:
    """Output analog-to-digital conversion, one conversion per tile column per input vector.

    ``bits``: signed resolution over ``[-out_bound, out_bound]``; ``None`` is ideal.
    ``out_bound``: full-scale output in normalised units (full-scale input x full-scale weight).
    ``clip``: saturate at the bound (a real ADC does); ``False`` only with ``bits=None``.
    """

    bits: int | None = 8
    out_bound: float = 10.0
    clip: bool = True

    def __post_init__(self) -> None:
        _check_bits(self.bits, "ADCConfig.bits")
        _check_pos(self.out_bound, "ADCConfig.out_bound")
        _check(
            self.clip or self.bits is None,
            "ADCConfig.clip",
            "a quantising ADC always saturates; set clip=True or bits=None",
        )


@dataclass(frozen=True)
class MappingConfig:
    """Weights to a differential conductance pair ``G+ - G-``.

    Each weight ``w`` goes to ``G+ = g_min + (g_max - g_min) * max(w, 0) / s`` and
    ``G- = g_min + (g_max - g_min) * max(-w, 0) / s``, where the scale ``s`` is the absolute
    maximum of the weights per tile column (``scale="column"``) or per tile (``"tile"``), applied
    back digitally after the ADC.
    """

    g_max_uS: float = 25.0
    g_min_uS: float = 0.0
    scale: str = "column"

    def __post_init__(self) -> None:
        _check_pos(self.g_max_uS, "MappingConfig.g_max_uS")
        _check_pos(self.g_min_uS, "MappingConfig.g_min_uS", allow_zero=True)
        _check(
            self.g_min_uS < self.g_max_uS,
            "MappingConfig.g_min_uS",
            f"must be below g_max_uS={self.g_max_uS}, got {self.g_min_uS}",
        )
        _check(
            self.scale in SCALE_POLICIES,
            "MappingConfig.scale",
            f"must be one of {SCALE_POLICIES}, got {self.scale!r}",
        )


@dataclass(frozen=True)
class NoiseConfig:
    """Additive Gaussian noise on each column's output before its ADC.

    ``out_std_rel_fs``: standard deviation relative to the configured ADC full scale
    ``ADCConfig.out_bound`` (Rasch et al. 2023: 0.04 at a bound of 10, i.e. 0.004). The noise is
    a property of the array, so a calibrated ADC range does not change its absolute size.
    """

    out_std_rel_fs: float = 0.0

    def __post_init__(self) -> None:
        _check_pos(self.out_std_rel_fs, "NoiseConfig.out_std_rel_fs", allow_zero=True)


@dataclass(frozen=True)
class DeviceConfig:
    """The memory cell's non-idealities (programming, drift, read noise, faults, temperature).

    The ideal device has none of them.
    """

    kind: str = "ideal"

    def __post_init__(self) -> None:
        _check(isinstance(self.kind, str), "DeviceConfig.kind", "must be a string")


_SECTIONS: dict[str, type] = {
    "tile": TileConfig,
    "dac": DACConfig,
    "adc": ADCConfig,
    "mapping": MappingConfig,
    "noise": NoiseConfig,
    "device": DeviceConfig,
}


@dataclass(frozen=True)
class AnalogConfig:
    """The complete description of how a layer runs on analog tiles."""

    tile: TileConfig = field(default_factory=TileConfig)
    dac: DACConfig = field(default_factory=DACConfig)
    adc: ADCConfig = field(default_factory=ADCConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            v = getattr(self, name)
            _check(
                isinstance(v, cls),
                f"AnalogConfig.{name}",
                f"must be a {cls.__name__}, got {type(v).__name__}",
            )
        _check(
            self.version == CONFIG_VERSION,
            "AnalogConfig.version",
            f"this analogue reads version {CONFIG_VERSION}, got {self.version!r}",
        )

    # -- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict of builtins (JSON- and YAML-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalogConfig:
        """Inverse of ``to_dict``; unknown keys fail with the closest valid name."""
        if not isinstance(data, dict):
            raise ConfigError(f"AnalogConfig: expected a mapping, got {type(data).__name__}")
        _reject_unknown(data, [*_SECTIONS, "version"], "AnalogConfig")
        kwargs: dict[str, Any] = {}
        for name, sub in data.items():
            if name == "version":
                kwargs[name] = sub
                continue
            kwargs[name] = section_from_dict(_SECTIONS[name], sub, f"AnalogConfig.{name}")
        return cls(**kwargs)

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write to a YAML file atomically (a crash never leaves a half-written file)."""
        import yaml

        return atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> AnalogConfig:
        import yaml

        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh))

    def replace(self, **changes: Any) -> AnalogConfig:
        """``dataclasses.replace`` that also accepts dotted paths: ``replace(**{"adc.bits": 6})``."""
        nested: dict[str, dict[str, Any]] = {}
        flat: dict[str, Any] = {}
        for key, value in changes.items():
            if "." in key:
                sec, sub = key.split(".", 1)
                _reject_unknown({sec: None}, list(_SECTIONS), "AnalogConfig")
                nested.setdefault(sec, {})[sub] = value
            else:
                flat[key] = value
        for sec, subs in nested.items():
            cls_ = _SECTIONS[sec]
            _reject_unknown(subs, [f.name for f in fields(cls_)], f"AnalogConfig.{sec}")
            flat[sec] = dataclasses.replace(getattr(self, sec), **subs)
        _reject_unknown(flat, [*_SECTIONS, "version"], "AnalogConfig")
        return dataclasses.replace(self, **flat)


def section_from_dict(cls: type, data: Any, where: str) -> Any:
    """Build one config dataclass from a dict, recursing into nested dataclass fields."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    _reject_unknown(data, list(known), where)
    kwargs = {}
    for k, v in data.items():
        sub_cls = _nested_dataclass(cls, k)
        kwargs[k] = section_from_dict(sub_cls, v, f"{where}.{k}") if sub_cls else v
        if isinstance(kwargs[k], list):
            kwargs[k] = tuple(kwargs[k])
    return cls(**kwargs)


def _nested_dataclass(cls: type, name: str) -> type | None:
    import typing

    hints = typing.get_type_hints(cls)
    t = hints.get(name)
    return t if isinstance(t, type) and dataclasses.is_dataclass(t) else None


def _reject_unknown(data: dict[str, Any], known: list[str], where: str) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid fields: {known}"
            raise ConfigError(f"{where}: unknown field {key!r}{hint}")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace`` (atomic on POSIX)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
