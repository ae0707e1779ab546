"""``analog_attention_``: run a Hugging Face model's attention products ``Q K^T`` and ``A V`` on
arrays written per sequence (``nn.attention.AnalogSelfAttention``), or back digitally.

Modules are replaced through the module tree (``setattr`` on their parent), never patched; the
projections (``query``/``key``/``value``) move to the new module unchanged, so ``convert_`` before
or after converts them as usual and ``state_dict`` keys stay the same.
"""

from __future__ import annotations

from torch import nn

from analogue._util.seeds import layer_seed
from analogue.config.attention import AttentionConfig
from analogue.nn.attention import SUPPORTED_ATTENTION, AnalogSelfAttention


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def attention_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The self-attention modules ``analog_attention_`` acts on (supported Hugging Face classes and
    ``AnalogSelfAttention``), by qualified name."""
    return {name: m for name, m in model.named_modules()
            if isinstance(m, AnalogSelfAttention) or type(m).__name__ in SUPPORTED_ATTENTION}


def analog_attention_(model: nn.Module, cfg: AttentionConfig, seed: int = 0) -> nn.Module:
    """Give every self-attention module of ``model`` the attention configuration ``cfg``, in place.

    ``cfg.mode == "analog"``: each supported module (``nn.attention.SUPPORTED_ATTENTION``) becomes
    an ``AnalogSelfAttention`` (module ``i`` seeded ``layer_seed(seed, i)``); one already analog
    gets the new config and seed. ``cfg.mode == "digital"``: every ``AnalogSelfAttention`` goes back
    to the Hugging Face class it replaced. Returns ``model``. A model without a supported attention
    module fails naming the supported classes.
    """
    if not isinstance(cfg, AttentionConfig):
        raise TypeError(f"analog_attention_: cfg must be an an.AttentionConfig, got {type(cfg).__name__}")
    found = attention_modules(model)
    if not found:
        raise ValueError("analog_attention_: the model has no supported self-attention module "
                         f"(supported: {SUPPORTED_ATTENTION}); GPT-2 style attention is not covered yet")
    for i, (name, mod) in enumerate(found.items()):
        if cfg.analog:
            if isinstance(mod, AnalogSelfAttention):
                mod.attention_cfg = cfg
                mod.reseed(layer_seed(seed, i))
            else:
                _replace(model, name, AnalogSelfAttention.from_hf(mod, cfg, seed=layer_seed(seed, i)))
        elif isinstance(mod, AnalogSelfAttention):
            _replace(model, name, mod.to_hf())
    return model


__all__ = ["analog_attention_", "attention_modules"]
