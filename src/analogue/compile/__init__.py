"""The programming stack: compile a PyTorch model onto a described analog/digital chip.

``an.compile(model, example_inputs, chip)`` traces the model (``torch.export``), assigns every
static-weight matrix product and convolution to the analog arrays (unless ``rules`` keep it
digital) and everything else to the chip's digital unit, places the weights on arrays and cores,
and returns a :class:`~analogue.compile.program.CompiledModel` with the placement, the per-layer
table and the executable model.

A converted model (one with analog layers) is compiled as it is: its analog layers go on the
arrays, its calibration, programmed state and per-layer configs stay, and the executable model is
a deep copy that gives the same outputs. A digital model is converted with the chip's array
config (``chip.array``) as a convenience. ``Program``, the old name of ``CompiledModel``, is a
deprecated alias.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from analogue._util.progress import Progress, bar
from analogue.compile.capture import CaptureError, OpNode, as_args, capture
from analogue.compile.placement import ChipCapacityError, layer_geometry, place
from analogue.compile.program import (
    ANALOG,
    DIGITAL,
    Block,
    CompiledModel,
    LayerPlan,
    deprecated_program,
)
from analogue.compile.tiles import choose_tile, resize_arrays
from analogue.config import AnalogConfig, chips
from analogue.config.chips import Chip
from analogue.lifecycle.convert import (
    analog_layers,
    convert_tree,
    rule_for,
    to_digital_,
    validate_rules,
)
from analogue.nn import AnalogLayer

__all__ = [
    "ANALOG",
    "DIGITAL",
    "Block",
    "CaptureError",
    "ChipCapacityError",
    "LayerPlan",
    "CompiledModel",
    "OpNode",
    "analog_config_for",
    "capture",
    "compile",
    "layer_geometry",
]


def analog_config_for(chip: Chip, cfg: AnalogConfig | None = None) -> AnalogConfig:
    """The ``AnalogConfig`` that simulates ``chip``'s arrays when a digital model is compiled.

    Without ``cfg``: the chip's own, ``chip.array`` (its tile, converters, device and
    conductance). With ``cfg``: that config, with only the tile size taken from the chip (so the
    simulated tiling matches the placement); its converters, noise and device are kept as given
    (e.g. ``an.presets.ideal()`` to check the compiled model against PyTorch).
    """
    if cfg is None:
        return chip.array
    return cfg.replace(**{"tile.rows": chip.array_rows, "tile.cols": chip.array_cols})


def __getattr__(name: str) -> Any:
    if name == "Program":
        return deprecated_program()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _resolve_chip(chip: Chip | str | None) -> Chip:
    if chip is None:
        return chips.hermes()
    if isinstance(chip, str):
        return chips.get(chip)
    if not isinstance(chip, Chip):
        raise TypeError(
            f"compile: chip must be an an.chips.Chip or a preset name, got {type(chip).__name__}"
        )
    return chip


def _to_digital(model: nn.Module) -> nn.Module:
    """``model`` with its analog layers turned back into torch layers (in place; a bare analog
    layer gives its torch twin)."""
    return model.to_float() if isinstance(model, AnalogLayer) else to_digital_(model)


def _is_converted(model: nn.Module) -> bool:
    return any(isinstance(m, AnalogLayer) for m in model.modules())


def _digital_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with analog layers turned back into torch layers (for tracing)."""
    return _to_digital(copy.deepcopy(model)) if _is_converted(model) else model


def _check_converted(model: nn.Module, chip: Chip, rules: dict[str, Any] | None,
                     cfg: AnalogConfig | None) -> None:
    """A converted model is compiled as it is: it fits the chip's arrays, and ``rules``/``cfg``
    (which say how to convert a digital model) are refused rather than ignored."""
    for what, given in (("rules", rules), ("cfg", cfg)):
        if given is not None:
            raise ValueError(
                f"compile: {what} converts a digital model, but this model is converted already"
                " (its layers' configs and placement stand); convert the digital model with them,"
                " or compile this one without them"
            )
    layers = {"": model} if isinstance(model, AnalogLayer) else analog_layers(model)
    for name, layer in layers.items():
        tile = layer.cfg.tile
        if not chip.is_analog or tile.rows > chip.array_rows or tile.cols > chip.array_cols:
            arrays = (f"{chip.array_rows}x{chip.array_cols} arrays" if chip.is_analog
                      else "no arrays")
            raise ValueError(
                f"compile: layer {name or type(layer).__name__!r} runs on {tile.rows}x{tile.cols}"
                f" tiles but chip {chip.name!r} has {arrays}; convert the model with the chip's"
                " array config (an.convert_(model, chip.array)) or compile it for a chip whose"
                " arrays hold its tiles"
            )


def _check_rows(example_inputs: Any) -> None:
    """Fail on an example whose first input has no rows (the per-inference counts would be 0)."""
    leaves, _ = tree_flatten(as_args(example_inputs))
    first = next((t for t in leaves if isinstance(t, torch.Tensor)), None)
    if first is not None and first.dim() >= 1 and first.shape[0] == 0:
        raise ValueError(
            f"compile: example_inputs has 0 rows (first input of shape {tuple(first.shape)}); "
            "pass at least one example (counts are per inference)"
        )


def compile(  # noqa: A001 -- the public name is an.compile
    model: nn.Module,
    example_inputs: Any,
    chip: Chip | str | None = None,
    *,
    rules: dict[str, Any] | None = None,
    replicate: bool = False,
    reprogram: bool = False,
    batch_size: int | None = None,
    build_model: bool = True,
    cfg: AnalogConfig | None = None,
    seed: int = 0,
    max_ir_drop_pct_fs: float | None = None,
    progress: Progress = None,
) -> CompiledModel:
    """Compile ``model`` onto ``chip`` and return the :class:`CompiledModel`.

    ``model``: a digital model, or one converted already (``an.convert_``, then perhaps
    ``an.calibrate_``, ``an.program_``, ``an.drift_``), which is compiled as it is: its analog
    layers are placed on the arrays, everything else on the digital unit, and the executable model
    is a deep copy of it (calibration, programmed state, per-layer configs and noise streams
    included: it gives the same outputs). Its tiles must fit the chip's arrays.
    ``example_inputs``: a tensor, a tuple of positional inputs, or a dict of keyword inputs (as
    for Hugging Face models); counts are divided by their batch (``batch_size``, default the
    first input's leading dimension) to give per-inference figures at batch 1.
    ``chip``: an ``an.chips.Chip`` or preset name (default ``an.chips.hermes()``).
    ``rules`` (digital models): as for ``an.convert_`` -- exact module names or ``"re:<regex>"``
    mapped to an ``AnalogConfig`` or ``None``; ``None`` keeps the layer digital (placed on the
    digital unit).
    ``replicate``: copy the throughput-bounding layers into spare arrays.
    ``reprogram``: when the weights do not fit, time-multiplex the arrays by reprogramming
    instead of raising :class:`ChipCapacityError`.
    ``build_model``: also build the executable model (a deep copy; the input model is not
    modified); a digital model is converted with ``cfg`` (see :func:`analog_config_for`; default
    the chip's ``chip.array``) and noise seed ``seed``. ``progress``: a bar over the stages
    (capture, placement, executable model; ``None``: on a terminal).
    ``max_ir_drop_pct_fs``: the largest worst-case IR-drop error an array may have, % of full
    scale (``compile.tiles.choose_tile`` with the wires of ``chip.array.circuit``); a larger chip
    array is halved until it passes and the model is compiled for ``resize_arrays(chip, ...)``
    (same cross-points, smaller arrays), the choice in the program's notes. ``None``: the chip's
    arrays as they are.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"compile: model must be a torch.nn.Module, got {type(model).__name__}")
    chip = _resolve_chip(chip)
    tile_note = None
    if max_ir_drop_pct_fs is not None:
        choice = choose_tile(chip, max_ir_drop_pct_fs)
        chip = resize_arrays(chip, choice.rows, choice.cols) if choice.capped else chip
        tile_note = choice.note()
    converted = _is_converted(model)
    if converted:
        _check_converted(model, chip, rules, cfg)
    validate_rules(model, rules)
    _check_rows(example_inputs)
    with bar(3 if build_model else 2, "compile", progress, unit="stage") as stages:
        stages.set_postfix_str("capture")
        ops, batch = capture(_digital_copy(model), example_inputs, batch_size=batch_size)
        stages.update()
        stages.set_postfix_str("placement")
        if converted:
            on_arrays = _converted_analog(model)
        else:
            on_arrays = _analog_by_rules(rules)
        program = _plan(ops, batch, chip, on_arrays, replicate, reprogram)
        if tile_note is not None:
            program.notes.append(tile_note)
        stages.update()
        if build_model:
            stages.set_postfix_str("executable model")
            if converted:
                program.model = copy.deepcopy(model)
            else:
                program.model = _build_executable(model, chip, rules, cfg, seed)
            _note_digital_in_executable(program)
            stages.update()
    return program


def _analog_by_rules(rules: dict[str, Any] | None) -> Callable[[OpNode], tuple[bool, str]]:
    """Where a digital model's op runs: on the arrays unless ``rules`` keep it digital."""

    def on_arrays(op: OpNode) -> tuple[bool, str]:
        matched, layer_cfg = rule_for(op.name, rules, True)
        if not matched and op.weight:
            matched, layer_cfg = rule_for(op.weight.rsplit(".", 1)[0], rules, True)
        return (False, "rules") if matched and layer_cfg is None else (True, "")

    return on_arrays


def _converted_analog(model: nn.Module) -> Callable[[OpNode], tuple[bool, str]]:
    """Where a converted model's op runs: on the arrays when its module is an analog layer."""
    if isinstance(model, AnalogLayer):  # a bare layer: its one op is named after its weight
        return lambda op: (True, "")
    names = set(analog_layers(model))

    def on_arrays(op: OpNode) -> tuple[bool, str]:
        owner = op.weight.rsplit(".", 1)[0] if op.weight else ""
        if op.name in names or owner in names:
            return True, ""
        return False, "digital in the converted model"

    return on_arrays


def _plan(ops: list[OpNode], batch: int, chip: Chip,
          on_arrays: Callable[[OpNode], tuple[bool, str]], replicate: bool,
          reprogram: bool) -> CompiledModel:
    """Partition the captured ``ops`` into analog (``on_arrays``) and digital and place them on
    ``chip``."""
    analog_names: set[str] = set()
    reasons: dict[str, str] = {}
    for op in ops:
        if not op.mappable:
            continue
        if not chip.is_analog:
            reasons[op.name] = f"chip {chip.name!r} has no arrays"
            continue
        analog, reason = on_arrays(op)
        if analog:
            analog_names.add(op.name)
        else:
            reasons[op.name] = reason

    layers, placement, bits, rounds, notes = place(
        ops, analog_names, reasons, chip, replicate=replicate, reprogram=reprogram
    )
    if chip.cells_per_weight > 1:
        notes.append(
            f"weights span {chip.cells_per_weight} cells; the executable model simulates each"
            " weight as one differential conductance pair (no bit-slice effects)"
        )
    return CompiledModel(
        chip=chip,
        layers=layers,
        model=None,
        placement=placement,
        activation_bits_moved=bits,
        reprogram_rounds=rounds,
        batch_size=batch,
        notes=notes,
    )


def _build_executable(model: nn.Module, chip: Chip, rules: dict[str, Any] | None,
                      cfg: AnalogConfig | None, seed: int) -> nn.Module:
    """A deep copy of the digital ``model`` converted with the chip's ``AnalogConfig`` through
    ``an.convert_``'s path (a bare layer becomes its twin)."""
    exe = copy.deepcopy(model)
    if not chip.is_analog:
        return exe
    return convert_tree(exe, analog_config_for(chip, cfg), rules=rules, seed=seed)


def _note_digital_in_executable(program: CompiledModel) -> None:
    """Note the analog-placed ops that the executable model runs digitally (ops that are not
    convertible modules, e.g. a raw parameter in a matmul)."""
    exe = program.model
    if exe is None or not program.chip.is_analog:
        return
    converted = set(analog_layers(exe))
    if isinstance(exe, AnalogLayer):  # a bare layer: its op is named after its weight
        converted |= {lp.name for lp in program.analog_layers if lp.module == ""}
    missing = [lp.name for lp in program.analog_layers if lp.name not in converted]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        program.notes.append(
            f"{len(missing)} analog-placed op(s) are not nn.Linear/Conv1d/Conv2d or transformers Conv1D"
            f" modules and run digitally in the executable model: {shown}"
        )
