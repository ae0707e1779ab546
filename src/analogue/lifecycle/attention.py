"""``analog_attention_``: run a Hugging Face model's attention products ``Q K^T`` and ``A V`` on
arrays written per sequence (``nn.attention.AnalogSelfAttention`` for the BERT family,
``nn.attention.AnalogGPT2Attention`` for GPT-2), or back digitally.

Modules are replaced through the module tree (``setattr`` on their parent), never patched; the
projections (``query``/``key``/``value``, GPT-2's ``c_attn``/``c_proj``) move to the new module
unchanged, so ``convert_`` before
or after converts them as usual and ``state_dict`` keys stay the same.
"""

from __future__ import annotations

from torch import nn

from analogue._util.seeds import layer_seed
from analogue.config.attention import AttentionConfig
from analogue.nn.attention import ANALOG_ATTENTION, SUPPORTED_ATTENTION, analog_twin


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def attention_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The self-attention modules ``analog_attention_`` acts on (supported Hugging Face classes and
    the analog modules ``nn.attention.ANALOG_ATTENTION``), by qualified name. GPT-2
    cross-attention modules (``is_cross_attention``) are not among them: they stay digital."""
    return {name: m for name, m in model.named_modules()
            if isinstance(m, ANALOG_ATTENTION)
            or (type(m).__name__ in SUPPORTED_ATTENTION and not getattr(m, "is_cross_attention", False))}


def analog_attention_(model: nn.Module, cfg: AttentionConfig, seed: int = 0) -> nn.Module:
    """Give every self-attention module of ``model`` the attention configuration ``cfg``, in place.

    ``cfg.mode == "analog"``: each supported module (``nn.attention.SUPPORTED_ATTENTION``) becomes
    its analog twin (``nn.attention.analog_twin``: ``AnalogGPT2Attention`` for GPT-2,
    ``AnalogSelfAttention`` for the BERT family; module ``i`` seeded ``layer_seed(seed, i)``); one
    already analog gets the new config and seed. ``cfg.mode == "digital"``: every analog module
    goes back to the Hugging Face class it replaced. Returns ``model``. A model without a supported attention
    module fails naming the supported classes.
    """
    if not isinstance(cfg, AttentionConfig):
        raise TypeError(f"analog_attention_: cfg must be an an.AttentionConfig, got {type(cfg).__name__}")
    found = attention_modules(model)
    if not found:
        raise ValueError("analog_attention_: the model has no supported self-attention module "
                         f"(supported: {SUPPORTED_ATTENTION})")
    for i, (name, mod) in enumerate(found.items()):
        if cfg.analog:
            if isinstance(mod, ANALOG_ATTENTION):
                mod.attention_cfg = cfg
                mod.reseed(layer_seed(seed, i))
            else:
                _replace(model, name, analog_twin(mod, cfg, seed=layer_seed(seed, i)))
        elif isinstance(mod, ANALOG_ATTENTION):
            _replace(model, name, mod.to_hf())
    return model


__all__ = ["analog_attention_", "attention_modules"]
