"""Which torch modules have an analog twin, and why the others stay digital.

A module converts when its class is exactly one of the twin-able classes: ``nn.Linear``,
``nn.Conv1d``, ``nn.Conv2d`` and Hugging Face's ``transformers.pytorch_utils.Conv1D`` (GPT-2's
``x @ W + b`` layer). Subclasses do not: a subclass may override ``forward`` or be read directly
by its owner (``nn.MultiheadAttention`` passes ``out_proj.weight`` to
``F.multi_head_attention_forward``; the ``out_proj`` forward never runs), so a twin in its place
could be bypassed without a word. ``transformers`` is an optional dependency: ``Conv1D`` is matched
only when ``transformers.pytorch_utils`` has been imported (a model holding a ``Conv1D`` has
imported it).

Twins hold the converted module's own ``weight`` and ``bias`` Parameters (:func:`share_params`):
gradients reach the original Parameters, ``state_dict`` keys stay the same and tied weights
(GPT-2's ``lm_head.weight`` is ``transformer.wte.weight``) stay tied.
"""

from __future__ import annotations

import functools
import sys

from torch import nn

from analogue.nn.layer import AnalogLayer


@functools.cache
def _torch_twins() -> dict[type, type[AnalogLayer]]:
    from analogue.nn.conv import AnalogConv1d, AnalogConv2d  # (they import share_params from here)
    from analogue.nn.linear import AnalogLinear

    return {nn.Linear: AnalogLinear, nn.Conv1d: AnalogConv1d, nn.Conv2d: AnalogConv2d}


def hf_conv1d_class() -> type | None:
    """``transformers.pytorch_utils.Conv1D`` when transformers has been imported, else ``None``."""
    module = sys.modules.get("transformers.pytorch_utils")
    return getattr(module, "Conv1D", None) if module is not None else None


def twin_for(module: nn.Module) -> type[AnalogLayer] | None:
    """The analog class that replaces ``module`` (its class exactly twin-able), else ``None``."""
    cls = type(module)
    twin = _torch_twins().get(cls)
    if twin is None and cls is hf_conv1d_class():
        from analogue.nn.linear import AnalogHFConv1D

        twin = AnalogHFConv1D
    return twin


def digital_reason(module: nn.Module, parent: nn.Module | None = None) -> str | None:
    """Why ``module`` (a child of ``parent``) holds weights but has no analog twin; ``None`` for a
    twin-able or analog module, or one without weight matrices (norms, activations, containers)."""
    if isinstance(module, AnalogLayer) or twin_for(module) is not None:
        return None
    name = type(module).__name__
    if isinstance(module, nn.Linear) and isinstance(parent, nn.MultiheadAttention):
        return ("MultiheadAttention's out_proj: F.multi_head_attention_forward reads its weight directly "
                "(its forward never runs)")
    if isinstance(module, nn.MultiheadAttention):
        return "its projections run inside F.multi_head_attention_forward on in_proj_weight (no layer forward to replace)"
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "a table lookup, not a matrix-vector product"
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return "transposed convolutions are not supported on tiles"
    if isinstance(module, nn.Conv3d):
        return "3-d convolutions have no analog twin"
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
        return "a recurrent layer: its gates run as fused ops on weight_ih/weight_hh (no analog twin)"
    hf = hf_conv1d_class()
    for base in (nn.Linear, nn.Conv1d, nn.Conv2d, hf):
        if base is not None and isinstance(module, base):
            return (f"a subclass of {base.__name__}: it may override forward or be read directly by its owner; "
                    f"only {base.__name__} itself converts")
    if any(p.dim() >= 2 for p in module.parameters(recurse=False)):
        return f"{name} has weight matrices but no analog twin"
    return None


def share_params(src: nn.Module, dst: nn.Module) -> nn.Module:
    """Make ``dst`` hold ``src``'s ``weight`` and ``bias`` Parameter objects (not copies) and take
    its train/eval mode."""
    dst.weight = src.weight
    dst.bias = src.bias
    return dst.train(src.training)
