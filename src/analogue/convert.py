"""``convert_`` / ``to_digital_``: swap layers for their analog twins in place, and back."""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import nn

from .config import AnalogConfig
from .nn import ANALOG_TWINS, AnalogLayer

Rules = Mapping[str, "AnalogConfig | None"]


def rule_for(name: str, rules: Rules | None, default: AnalogConfig) -> tuple[bool, AnalogConfig | None]:
    """``(matched, config)`` for module ``name`` under ``rules``: exact names first, then ``re:``
    patterns (full match) in order; ``default`` when nothing matches. Shared by ``convert_`` and
    ``analogue.compile`` so both read rules the same way."""
    if not rules:
        return False, default
    if name in rules:
        return True, rules[name]
    for key, value in rules.items():
        if key.startswith("re:") and re.fullmatch(key[3:], name):
            return True, value
    return False, default


def validate_rules(model: nn.Module, rules: Rules | None) -> None:
    """Fail early on a rule that names no module, an invalid regex, or a value that is not a config."""
    if not rules:
        return
    names = {n for n, _ in model.named_modules()}
    for key, value in rules.items():
        if value is not None and not isinstance(value, AnalogConfig):
            raise TypeError(f"rules[{key!r}]: must be an AnalogConfig or None, got {type(value).__name__}")
        if key.startswith("re:"):
            try:
                pat = re.compile(key[3:])
            except re.error as exc:
                raise ValueError(f"rules[{key!r}]: invalid regular expression ({exc})") from None
            if not any(pat.fullmatch(n) for n in names):
                raise ValueError(f"rules[{key!r}]: the pattern matches no module of the model")
        elif key not in names:
            import difflib

            close = difflib.get_close_matches(key, sorted(names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"rules[{key!r}]: no module of that name in the model{hint}")


def convert_(model: nn.Module, cfg: AnalogConfig, rules: Rules | None = None, seed: int = 0) -> nn.Module:
    """Replace every ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` of ``model`` by its analog twin.

    ``rules`` maps exact module names or ``"re:<regex>"`` (full match) to the config for that
    layer; ``None`` keeps it digital. Layers already analog are re-configured only if a rule names
    them. Each layer's noise stream is seeded from ``seed`` and its position. Returns ``model``.
    """
    if not isinstance(cfg, AnalogConfig):
        raise TypeError(f"convert_: cfg must be an AnalogConfig (e.g. an.presets.standard()), got {type(cfg).__name__}")
    validate_rules(model, rules)
    if isinstance(model, tuple(ANALOG_TWINS.values())) or type(model).__name__ in ANALOG_TWINS and type(model) in (nn.Linear, nn.Conv1d, nn.Conv2d):
        raise ValueError("convert_: pass a container module; a bare layer cannot be replaced in place "
                         "(use AnalogLinear.from_float(layer, cfg) instead)")
    index = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            matched, layer_cfg = rule_for(full, rules, cfg)
            twin = ANALOG_TWINS.get(type(child).__name__) if type(child) in (nn.Linear, nn.Conv1d, nn.Conv2d) else None
            if twin is not None and layer_cfg is not None:
                new = twin.from_float(child, layer_cfg, seed=seed * 1_000_003 + index)
                new.layer_name = full
                setattr(module, child_name, new)
                index += 1
            elif isinstance(child, AnalogLayer) and matched:
                if layer_cfg is None:
                    setattr(module, child_name, child.to_float())
                else:
                    new = type(child).from_float(child.to_float(), layer_cfg, seed=seed * 1_000_003 + index)
                    new.layer_name = full
                    setattr(module, child_name, new)
                    index += 1
            elif (twin is None and isinstance(child, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Conv3d))
                  and layer_cfg is not None and matched):
                raise ValueError(f"{full}: {type(child).__name__} has no analog twin; "
                                 f"keep it digital with rules={{{full!r}: None}}")
    return model


def to_digital_(model: nn.Module) -> nn.Module:
    """Replace every analog layer by its plain torch twin (same weights); in place, returns ``model``."""
    for _name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, AnalogLayer):
                setattr(module, child_name, child.to_float())
    return model


def analog_layers(model: nn.Module) -> dict[str, AnalogLayer]:
    """Name -> analog layer, in module order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, AnalogLayer)}
