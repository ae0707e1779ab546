"""``convert_`` / ``to_digital_``: swap layers for their analog twins in place, and back.

Which modules have a twin, and why the others stay digital: :mod:`analogue.nn.twins`. Twins hold
the original ``weight``/``bias`` Parameters, so gradients reach them, ``state_dict`` keys do not
change and tied weights stay tied. ``an.compile`` builds its executable model through the same
path (:func:`convert_tree`).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from analogue._util import inputs
from analogue._util.seeds import layer_seed
from analogue.config import AnalogConfig
from analogue.nn import AnalogLayer
from analogue.nn.twins import digital_reason, hf_conv1d_class, twin_for

logger = logging.getLogger(__name__)

Rules = Mapping[str, "AnalogConfig | None"]

_BY_CFG = "cfg"
"""``layer.converted_by`` of a twin configured by ``convert_``'s ``cfg`` (else ``"rules[<key>]"``)."""


def rule_key(name: str, rules: Rules | None) -> str | None:
    """The key of ``rules`` that applies to module ``name``: its exact name first, then the first
    ``re:`` pattern (full match) in order; ``None`` when none does."""
    if not rules:
        return None
    if name in rules:
        return name
    for key in rules:
        if key.startswith("re:") and re.fullmatch(key[3:], name):
            return key
    return None


def rule_for(name: str, rules: Rules | None, default: AnalogConfig) -> tuple[bool, AnalogConfig | None]:
    """``(matched, config)`` for module ``name`` under ``rules`` (see :func:`rule_key`);
    ``default`` when nothing matches. Shared by ``convert_`` and ``analogue.compile`` so both
    read rules the same way."""
    key = rule_key(name, rules)
    return (False, default) if key is None else (True, rules[key])


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


def _children(model: nn.Module) -> Iterator[tuple[str, nn.Module, str, nn.Module]]:
    """``(name, parent, attribute, child)`` for every child slot of every module, in module order
    (a module registered in two places appears twice, under both names)."""
    for parent_name, parent in list(model.named_modules()):
        for attr, child in list(parent._modules.items()):  # (named_children() yields a module once)
            if child is None:
                continue
            yield (f"{parent_name}.{attr}" if parent_name else attr), parent, attr, child


def convert_tree(model: nn.Module, cfg: AnalogConfig, rules: Rules | None = None, seed: int = 0) -> nn.Module:
    """:func:`convert_` without the report; ``model`` may be a bare layer, and the converted root
    is returned (the twin itself for a bare layer). The one conversion path of ``convert_`` and
    ``an.compile``."""
    if not isinstance(cfg, AnalogConfig):
        raise TypeError(f"convert_: cfg must be an AnalogConfig (e.g. an.presets.standard()), got {type(cfg).__name__}")
    validate_rules(model, rules)
    slots = [("", None, "", model), *_children(model)]
    plans: dict[int, tuple[str, AnalogConfig | None, str | None]] = {}  # id(child) -> (name, cfg, rule key)
    position: dict[int, int] = {}  # id(child) -> index among twin-able/analog modules (noise seeds)
    for name, parent, _attr, child in slots:
        if id(child) in plans or id(child) in position:
            continue
        key = rule_key(name, rules)
        layer_cfg = cfg if key is None else rules[key]  # type: ignore[index]
        if isinstance(child, AnalogLayer) or twin_for(child) is not None:
            position[id(child)] = len(position)
            if isinstance(child, AnalogLayer):
                if key is None:
                    if getattr(child, "converted_by", None) == _BY_CFG and child.cfg != cfg:
                        raise ValueError(
                            f"convert_: {name or child.layer_name} is already analog with another config (this "
                            f"model was converted before); reconfigure analog layers with rules={{{name!r}: cfg}} "
                            "(or a 're:' pattern), or start over with an.to_digital_(model) before convert_"
                        )
                    continue
                if layer_cfg is not None and layer_cfg == child.cfg:
                    continue  # the same config again: keep the layer (and its calibration)
            elif layer_cfg is None:
                continue
            plans[id(child)] = (name, layer_cfg, key)
            continue
        reason = digital_reason(child, parent)
        if reason is not None and key is not None and layer_cfg is not None:
            raise ValueError(f"{name or type(child).__name__}: {type(child).__name__} has no analog twin ({reason}); "
                             f"keep it digital with rules={{{name!r}: None}}")

    made: dict[int, nn.Module] = {}
    for _name, parent, attr, child in slots:
        plan = plans.get(id(child))
        if plan is None:
            continue
        if id(child) not in made:
            name, layer_cfg, key = plan
            plain = child.to_float() if isinstance(child, AnalogLayer) else child
            if layer_cfg is None:
                made[id(child)] = plain
            else:
                new = twin_for(plain).from_float(plain, layer_cfg, seed=layer_seed(seed, position[id(child)]))
                if name:
                    new.layer_name = name
                new.converted_by = _BY_CFG if key is None else f"rules[{key!r}]"
                made[id(child)] = new
        if parent is None:
            model = made[id(child)]
        else:
            setattr(parent, attr, made[id(child)])
    return model


def convert_(model: nn.Module, cfg: AnalogConfig, rules: Rules | None = None, seed: int = 0, *,
             example_inputs: Any = None) -> nn.Module:
    """Replace every ``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d`` and Hugging Face ``Conv1D`` of
    ``model`` by its analog twin; in place, returns ``model``.

    The twins hold the layers' own ``weight`` and ``bias`` Parameters: gradients reach them,
    ``state_dict`` keys are unchanged, tied weights stay tied (GPT-2's ``lm_head``). Only those
    exact classes convert; subclasses, ``Conv3d``, transposed convolutions, recurrent layers,
    embeddings and ``MultiheadAttention`` stay digital (:func:`conversion_report` says why).

    ``rules`` maps exact module names or ``"re:<regex>"`` (full match) to the config for that
    layer; ``None`` keeps it digital. Each layer's noise stream is seeded from ``seed`` and its
    position among the convertible layers.

    Converting again: analog layers keep their config unless this call's ``rules`` name them (a
    named layer with another config is rebuilt uncalibrated and unprogrammed, with the same
    Parameters; ``None`` makes it digital). The same ``cfg`` again is a no-op; another ``cfg``
    raises ``ValueError`` for a layer the earlier call configured with its ``cfg``: reconfigure
    through ``rules``, or start over with :func:`to_digital_`.

    Logs (``logging``, INFO) the :func:`conversion_report`: the layers converted, their share of
    the MACs (one no-grad forward on ``example_inputs``: a tensor, a tuple of positional inputs or a
    dict of keyword inputs) or, without inputs, of the parameters, and what stayed digital and
    why. Warns when no layer is analog.
    """
    if isinstance(model, AnalogLayer) or twin_for(model) is not None:
        raise ValueError("convert_: pass a container module; a bare layer cannot be replaced in place "
                         "(use AnalogLinear.from_float(layer, cfg) instead)")
    convert_tree(model, cfg, rules, seed)
    report = conversion_report(model, rules, example_inputs=example_inputs)
    logger.info("convert_: %s", report.summary())
    if not report.analog:
        warnings.warn(f"convert_: no layer is analog; {report._nothing_analog_fix()}", stacklevel=2)
    return model


def to_digital_(model: nn.Module) -> nn.Module:
    """Replace every analog layer by its plain torch twin holding the same weight and bias
    Parameters; in place, returns ``model``."""
    plain: dict[int, nn.Module] = {}  # a layer registered in two places stays one module
    for _name, parent, attr, child in _children(model):
        if isinstance(child, AnalogLayer):
            setattr(parent, attr, plain.setdefault(id(child), child.to_float()))
    return model


def analog_layers(model: nn.Module) -> dict[str, AnalogLayer]:
    """Name -> analog layer, in module order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, AnalogLayer)}


# -- what convert_ did ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DigitalLayer:
    """A module with weights that is not analog, and why."""

    name: str
    kind: str  # its class name
    reason: str


@dataclass(frozen=True)
class ConversionReport:
    """Which layers of a model are analog, which weight layers are not and why, and their share
    of the work (:func:`conversion_report`).

    ``analog_macs``/``total_macs``: multiply-accumulates of the analog layers / of every layer
    counted (matrix products and convolutions with a weight: linear, convolution, ``Conv1D``,
    recurrent and ``MultiheadAttention`` projections; products of two activations, such as
    attention scores, are not counted) in one forward on the example inputs; ``None`` without
    inputs. ``analog_weight_elems``/``total_param_elems``: elements of the weights the analog
    layers hold / of all the model's parameters (each shared Parameter once).
    ``tied``: groups of module names that hold one weight Parameter, one of them analog.
    """

    analog: tuple[str, ...]
    digital: tuple[DigitalLayer, ...]
    analog_macs: int | None
    total_macs: int | None
    analog_weight_elems: int
    total_param_elems: int
    tied: tuple[tuple[str, ...], ...] = ()

    @property
    def mac_share(self) -> float | None:
        """The analog layers' share of the counted MACs (``None`` without inputs or MACs)."""
        if not self.total_macs or self.analog_macs is None:
            return None
        return self.analog_macs / self.total_macs

    @property
    def param_share(self) -> float:
        """The analog layers' weights as a share of the model's parameter elements."""
        return self.analog_weight_elems / self.total_param_elems if self.total_param_elems else 0.0

    def summary(self, names_per_reason: int = 3) -> str:
        """One line: the analog layers and their share, what stayed digital (grouped by reason)."""
        share = self.mac_share
        if share is not None:
            what = f"{100 * share:.1f} % of the MACs on the example inputs"
        else:
            what = (f"their weights are {100 * self.param_share:.1f} % of the model's parameters; "
                    "pass example_inputs= for the share of the MACs")
        line = f"{len(self.analog)} layer(s) analog ({what})"
        if self.tied:
            line += "; tied weights kept shared: " + ", ".join(" = ".join(g) for g in self.tied)
        if not self.digital:
            return line + "; no weight layer left digital"
        return line + "; left digital: " + self._digital_by_reason(names_per_reason)

    def _digital_by_reason(self, names_per_reason: int) -> str:
        by_reason: dict[str, list[str]] = {}
        for d in self.digital:
            by_reason.setdefault(f"{d.kind}: {d.reason}", []).append(d.name or "(model)")
        parts = []
        for reason, names in by_reason.items():
            shown = ", ".join(names[:names_per_reason])
            if len(names) > names_per_reason:
                shown += f" and {len(names) - names_per_reason} more"
            parts.append(f"{shown} ({reason})")
        return "; ".join(parts)

    def _nothing_analog_fix(self) -> str:
        """What to do when no layer is analog (the warning of ``convert_``)."""
        if any(d.reason.startswith("kept digital by rules") for d in self.digital):
            return "rules keep every convertible layer digital; remove the rules that map them to None"
        if self.digital:
            return ("the model's weight layers have no analog twin: " + self._digital_by_reason(3)
                    + "; only nn.Linear, nn.Conv1d, nn.Conv2d and transformers Conv1D convert")
        return "the model has no nn.Linear, nn.Conv1d, nn.Conv2d or transformers Conv1D layer to convert"

    def __str__(self) -> str:
        return self.summary()


def conversion_report(model: nn.Module, rules: Rules | None = None, *, example_inputs: Any = None) -> ConversionReport:
    """What is analog in ``model`` and what is not, and why (``rules``: those of the conversion,
    to tell a layer they keep digital from one not converted).

    ``example_inputs`` (a tensor, a tuple of positional inputs or a dict of keyword inputs): count
    the MACs in one forward, run with ``torch.no_grad`` in eval mode on the plain torch layers
    (the analog layers are swapped for their digital twins, sharing the Parameters, and put back:
    no noise is drawn, nothing in the model changes). Without it the shares are of parameters.
    """
    analog: list[str] = []
    digital: list[DigitalLayer] = []
    seen: set[int] = set()
    for name, parent, _attr, child in [("", None, "", model), *_children(model)]:
        if id(child) in seen:
            continue
        seen.add(id(child))
        if isinstance(child, AnalogLayer):
            analog.append(name)
            continue
        kind = type(child).__name__
        if twin_for(child) is not None:
            key = rule_key(name, rules)
            reason = (f"kept digital by rules[{key!r}]" if key is not None and rules[key] is None  # type: ignore[index]
                      else "not converted (an.convert_ converts it)")
            digital.append(DigitalLayer(name, kind, reason))
            continue
        reason = digital_reason(child, parent)
        if reason is not None:
            digital.append(DigitalLayer(name, kind, reason))

    layers = analog_layers(model)
    weights = {id(m.weight): m.weight for m in layers.values()}
    owners: dict[int, list[str]] = {}
    for name, mod in model.named_modules(remove_duplicate=False):
        for pname, p in mod.named_parameters(recurse=False, remove_duplicate=False):
            if id(p) in weights and pname == "weight":
                owners.setdefault(id(p), []).append(name)
    tied = tuple(tuple(dict.fromkeys(names)) for names in owners.values() if len(set(names)) > 1)
    analog_macs = total_macs = None
    if example_inputs is not None:
        macs = count_weight_macs(model, example_inputs)
        total_macs = sum(macs.values())
        analog_macs = sum(v for k, v in macs.items() if k in layers)
    return ConversionReport(
        analog=tuple(analog),
        digital=tuple(digital),
        analog_macs=analog_macs,
        total_macs=total_macs,
        analog_weight_elems=sum(w.numel() for w in weights.values()),
        total_param_elems=sum(p.numel() for p in model.parameters()),
        tied=tied,
    )


# -- MACs -------------------------------------------------------------------------------------------------
def _call_inputs(args: tuple[Any, ...], kwargs: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    """The inputs of a forward call by position, the missing ones from ``kwargs`` by ``names``."""
    vals = list(args)
    for n in names[len(vals):]:
        vals.append(kwargs.get(n))
    return vals


def _module_macs(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> int:
    """MACs of one call of a weight layer (0 for one it does not count)."""
    hf = hf_conv1d_class()
    if isinstance(mod, nn.Linear):
        return out.numel() * mod.in_features
    if hf is not None and isinstance(mod, hf):
        return out.numel() * mod.weight.shape[0]
    if isinstance(mod, nn.modules.conv._ConvNd):
        per = mod.weight[0].numel()  # in/groups * kernel (conv), out/groups * kernel (transposed)
        return (args[0].numel() if mod.transposed else out.numel()) * per
    if isinstance(mod, (nn.RNNBase, nn.RNNCellBase)):
        (x,) = _call_inputs(args, kwargs, ("input",))[:1]
        steps = x.data.shape[0] if isinstance(x, nn.utils.rnn.PackedSequence) else x.numel() // mod.input_size
        return steps * sum(p.numel() for n, p in mod.named_parameters() if n.startswith("weight_"))
    if isinstance(mod, nn.MultiheadAttention):
        q, k, v = _call_inputs(args, kwargs, ("query", "key", "value"))[:3]
        e = mod.embed_dim
        return (2 * q.numel() // e * e * e + k.numel() // mod.kdim * mod.kdim * e
                + v.numel() // mod.vdim * mod.vdim * e)
    return 0


def count_weight_macs(model: nn.Module, example_inputs: Any) -> dict[str, int]:
    """MACs per module name of every weight layer (analog layers as their digital twins) in one
    ``torch.no_grad`` eval-mode forward on ``example_inputs``; the model is left as it was."""
    batch = inputs.as_batch(example_inputs, "example_inputs")
    swapped = [(parent, attr, child) for _n, parent, attr, child in _children(model) if isinstance(child, AnalogLayer)]
    if isinstance(model, AnalogLayer):
        model = model.to_float()
    modes = [(m, m.training) for m in model.modules()]
    counts: dict[str, int] = {}
    hooks = []
    try:
        for parent, attr, child in swapped:
            setattr(parent, attr, child.to_float())
        for name, mod in model.named_modules():
            def hook(m: nn.Module, a: tuple[Any, ...], kw: dict[str, Any], out: Any, name: str = name) -> None:
                counts[name] = counts.get(name, 0) + _module_macs(m, a, kw, out)
            hooks.append(mod.register_forward_hook(hook, with_kwargs=True))
        model.eval()
        with torch.no_grad():
            inputs.call(model, batch)
    finally:
        for h in hooks:
            h.remove()
        for parent, attr, child in swapped:
            setattr(parent, attr, child)
        for m, mode in modes:
            m.training = mode
    return {k: v for k, v in counts.items() if v}
