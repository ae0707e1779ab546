"""analogue._util.serial: the versioned frozen-dataclass plumbing behind the config classes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from analogue._util.serial import (
    Serialisable,
    check_version,
    record_from_dict,
    reject_unknown,
    replace_dotted,
    section_from_dict,
)
from analogue._util.validate import ConfigError


@dataclass(frozen=True)
class Inner:
    gain: float = 1.0
    pair: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class Outer(Serialisable):
    inner: Inner = field(default_factory=Inner)
    name: str = "x"
    version: int = 1

    def __post_init__(self) -> None:
        check_version(self.version, 1, "Outer.version")


def test_round_trip_nested_tuples_and_numeric_strings():
    o = Outer.from_dict({"inner": {"gain": "1e-3", "pair": ["0.5", 2]}, "name": "y"})
    assert o == Outer(Inner(1e-3, (0.5, 2)), "y")
    assert Outer.from_dict(o.to_dict()) == o


def test_unknown_key_names_the_path_and_the_closest_field():
    with pytest.raises(ConfigError, match=r"^Outer\.inner: unknown field 'gian'; did you mean 'gain'\?$"):
        Outer.from_dict({"inner": {"gian": 2.0}})
    with pytest.raises(ConfigError, match=r"valid fields: \['gain', 'pair'\]"):
        reject_unknown({"zzz": 1}, ["gain", "pair"], "Inner")


def test_dotted_replace_and_its_errors():
    o = Outer().replace(**{"inner.gain": "2", "name": "z"})
    assert o.inner.gain == 2.0 and o.name == "z"
    with pytest.raises(ConfigError, match=r"^Outer: unknown field 'iner'; did you mean 'inner'"):
        replace_dotted(Outer(), {"iner.gain": 1.0}, "Outer")
    with pytest.raises(ConfigError, match=r"^Outer\.inner: unknown field 'gains'"):
        Outer().replace(**{"inner.gains": 1.0})


def test_version_and_mapping_errors_are_one_line():
    with pytest.raises(ConfigError, match=r"^Outer\.version: this analogue reads version 1, got 2$"):
        Outer.from_dict({"version": 2})
    with pytest.raises(ConfigError, match=r"^Outer: expected a mapping, got list$"):
        section_from_dict(Outer, [], "Outer")


def test_yaml_round_trip(tmp_path):
    o = Outer(Inner(0.25, (0.0, 0.5)), "w")
    assert Outer.from_yaml(o.to_yaml(tmp_path / "o.yaml")) == o


def test_record_from_dict_keeps_values_and_checks_version():
    @dataclass
    class Rec:
        notes: list = field(default_factory=list)
        version: int = 3

    assert record_from_dict(Rec, {"notes": ["a"]}, "Rec", 3).notes == ["a"]
    with pytest.raises(ConfigError, match=r"^Rec: this analogue reads version 3, got 4$"):
        record_from_dict(Rec, {"version": 4}, "Rec", 3)
    with pytest.raises(ConfigError, match="did you mean 'notes'"):
        record_from_dict(Rec, {"note": []}, "Rec", 3)
