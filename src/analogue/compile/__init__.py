"""The programming stack: compile a PyTorch model onto a described analog/digital chip.

``an.compile(model, example_inputs, chip)`` traces the model (``torch.export``), assigns every
static-weight matrix product and convolution to the analog arrays (unless ``rules`` keep it
digital) and everything else to the chip's digital unit, places the weights on arrays and cores,
and returns an :class:`~analogue.compile.program.Program` with the placement, the per-layer table
and the converted, executable model.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from analogue._util.progress import Progress, bar
from analogue.compile.capture import CaptureError, OpNode, capture
from analogue.compile.placement import ChipCapacityError, layer_geometry, place
from analogue.compile.program import ANALOG, DIGITAL, Block, LayerPlan, Program

__all__ = [
    "ANALOG",
    "DIGITAL",
    "Block",
    "CaptureError",
    "ChipCapacityError",
    "LayerPlan",
    "OpNode",
    "Program",
    "analog_config_for",
    "capture",
    "compile",
    "layer_geometry",
]


def analog_config_for(chip: Any, cfg: Any = None) -> Any:
    """The ``AnalogConfig`` that simulates ``chip``'s arrays.

    Without ``cfg``: ``an.presets.standard()`` with the chip's tile size and DAC/ADC resolutions,
    and the device section of the preset named after ``chip.device`` when one exists (e.g.
    ``an.presets.pcm()`` for a PCM chip). With ``cfg``: that config, with only the tile size taken
    from the chip (so the simulated tiling matches the placement); its converters, noise and
    device are kept as given (e.g. ``an.presets.ideal()`` to check the program against PyTorch).
    """
    from analogue import presets

    tile = {"tile.rows": int(chip.array_rows), "tile.cols": int(chip.array_cols)}
    if cfg is not None:
        return cfg.replace(**tile)
    base = presets.standard()
    dev_preset = getattr(presets, str(chip.device), None)
    if callable(dev_preset) and chip.device not in ("ideal", "none", "standard", "quantized"):
        try:
            base = base.replace(device=dev_preset().device)
        except Exception:  # noqa: BLE001 -- a preset with another signature: keep the base device
            pass
    return base.replace(**tile, **{"dac.bits": int(chip.dac_bits), "adc.bits": int(chip.adc_bits)})


def _resolve_chip(chip: Any) -> Any:
    from analogue import chips

    if chip is None:
        return chips.hermes()
    if isinstance(chip, str):
        return chips.get(chip)
    if not isinstance(chip, chips.Chip):
        raise TypeError(
            f"compile: chip must be an an.chips.Chip or a preset name, got {type(chip).__name__}"
        )
    return chip


def _to_digital(model: nn.Module) -> nn.Module:
    """``model`` with its analog layers turned back into torch layers (in place; a bare analog
    layer gives its torch twin)."""
    from analogue.convert import to_digital_
    from analogue.nn import AnalogLayer

    return model.to_float() if isinstance(model, AnalogLayer) else to_digital_(model)


def _digital_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with analog layers turned back into torch layers (for tracing)."""
    from analogue.nn import AnalogLayer

    if any(isinstance(m, AnalogLayer) for m in model.modules()):
        return _to_digital(copy.deepcopy(model))
    return model


def _check_rows(example_inputs: Any) -> None:
    """Fail on an example whose first input has no rows (the per-inference counts would be 0)."""
    from torch.utils._pytree import tree_flatten

    from analogue.compile.capture import as_args

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
    chip: Any = None,
    *,
    rules: dict[str, Any] | None = None,
    replicate: bool = False,
    reprogram: bool = False,
    batch_size: int | None = None,
    build_model: bool = True,
    cfg: Any = None,
    seed: int = 0,
    progress: Progress = None,
) -> Program:
    """Compile ``model`` onto ``chip`` and return the :class:`Program`.

    ``example_inputs``: a tensor, a tuple of positional inputs, or a dict of keyword inputs (as
    for Hugging Face models); counts are divided by their batch (``batch_size``, default the
    first input's leading dimension) to give per-inference figures at batch 1.
    ``chip``: an ``an.chips.Chip`` or preset name (default ``an.chips.hermes()``).
    ``rules``: as for ``an.convert_`` -- exact module names or ``"re:<regex>"`` mapped to an
    ``AnalogConfig`` or ``None``; ``None`` keeps the layer digital (placed on the digital unit).
    ``replicate``: copy the throughput-bounding layers into spare arrays.
    ``reprogram``: when the weights do not fit, time-multiplex the arrays by reprogramming
    instead of raising :class:`ChipCapacityError`.
    ``build_model``: also build the executable model (a converted deep copy; the input model is
    not modified). ``cfg``: the ``AnalogConfig`` it simulates (see :func:`analog_config_for`;
    default derived from the chip); ``seed``: its noise seed. ``progress``: a bar over the stages
    (capture, placement, executable model; ``None``: on a terminal).
    """
    from analogue.convert import validate_rules

    if not isinstance(model, nn.Module):
        raise TypeError(f"compile: model must be a torch.nn.Module, got {type(model).__name__}")
    chip = _resolve_chip(chip)
    validate_rules(model, rules)
    _check_rows(example_inputs)
    with bar(3 if build_model else 2, "compile", progress, unit="stage") as stages:
        stages.set_postfix_str("capture")
        ops, batch = capture(_digital_copy(model), example_inputs, batch_size=batch_size)
        stages.update()
        stages.set_postfix_str("placement")
        program = _plan(ops, batch, chip, rules, replicate, reprogram)
        stages.update()
        if build_model:
            stages.set_postfix_str("executable model")
            program.model = _build_executable(model, chip, rules, cfg, seed, program)
            stages.update()
    return program


def _plan(ops: list[OpNode], batch: int, chip: Any, rules: dict[str, Any] | None, replicate: bool,
          reprogram: bool) -> Program:
    """Partition the captured ``ops`` into analog and digital and place them on ``chip``."""
    from analogue.convert import rule_for

    analog_names: set[str] = set()
    reasons: dict[str, str] = {}
    for op in ops:
        if not op.mappable:
            continue
        if not chip.is_analog:
            reasons[op.name] = f"chip {chip.name!r} has no arrays"
            continue
        matched, layer_cfg = rule_for(op.name, rules, True)
        if not matched and op.weight:
            matched, layer_cfg = rule_for(op.weight.rsplit(".", 1)[0], rules, True)
        if matched and layer_cfg is None:
            reasons[op.name] = "rules"
        else:
            analog_names.add(op.name)

    layers, placement, bits, rounds, notes = place(
        ops, analog_names, reasons, chip, replicate=replicate, reprogram=reprogram
    )
    if chip.cells_per_weight > 1:
        notes.append(
            f"weights span {chip.cells_per_weight} cells; the executable model simulates each"
            " weight as one differential conductance pair (no bit-slice effects)"
        )
    program = Program(
        chip=chip,
        layers=layers,
        model=None,
        placement=placement,
        activation_bits_moved=bits,
        reprogram_rounds=rounds,
        batch_size=batch,
        notes=notes,
    )
    return program


def _build_executable(
    model: nn.Module, chip: Any, rules: dict[str, Any] | None, cfg: Any, seed: int, program: Program
) -> nn.Module:
    """Deep-copy ``model`` and convert it with the chip's ``AnalogConfig`` through ``an.convert_``'s
    path (a bare layer becomes its twin)."""
    from analogue.convert import analog_layers, convert_tree
    from analogue.nn import AnalogLayer

    exe = _to_digital(copy.deepcopy(model))
    if not chip.is_analog:
        return exe
    exe = convert_tree(exe, analog_config_for(chip, cfg), rules=rules, seed=seed)
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
    return exe
