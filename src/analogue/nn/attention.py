"""``AnalogSelfAttention``: a Hugging Face (BERT-family) self-attention module whose ``Q K^T`` and
``A V`` products run on arrays written per sequence (``physics.attention.dynamic_mvm``).

It takes the place of a ``BertSelfAttention`` in the module tree (``an.analog_attention_``) with
the same children (``query``, ``key``, ``value``, ``dropout``: the projections stay what they are,
digital or analog twins) and the same forward signature and outputs, so ``state_dict`` keys and the
rest of the model are unchanged. The softmax, the mask and the scaling stay digital. Per call and
head, ``K^T`` is written into a ``d_head x seq`` array and ``V`` into a ``seq x d_head`` array.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from analogue.config.attention import AttentionConfig
from analogue.physics.attention import dynamic_mvm

#: The Hugging Face self-attention classes this module replaces (BERT's eager layout: ``query``,
#: ``key``, ``value`` projections, heads of ``attention_head_size``, ``scaling``).
SUPPORTED_ATTENTION = ("BertSelfAttention", "RobertaSelfAttention", "ElectraSelfAttention",
                       "XLMRobertaSelfAttention", "CamembertSelfAttention")


class AnalogSelfAttention(nn.Module):
    """BERT-style self-attention with analog ``Q K^T`` and ``A V`` (see the module docstring).

    Built by ``from_hf(module, cfg, seed)``; ``digital_class`` is the class it replaced
    (``to_hf()`` builds one back). ``cfg.mode == "digital"`` computes the eager products exactly.
    Random draws (write noise, output noise) come from the module's own generator, seeded from
    ``seed`` and reset by ``reseed(seed)``.
    """

    def __init__(self, config: Any, cfg: AttentionConfig, *, num_attention_heads: int, attention_head_size: int,
                 scaling: float, is_causal: bool, layer_idx: int | None, digital_class: type[nn.Module],
                 query: nn.Module, key: nn.Module, value: nn.Module, dropout: nn.Module, seed: int = 0) -> None:
        super().__init__()
        if not isinstance(cfg, AttentionConfig):
            raise TypeError(f"AnalogSelfAttention: cfg must be an AttentionConfig, got {type(cfg).__name__}")
        self.config = config
        self.attention_cfg = cfg
        self.num_attention_heads = int(num_attention_heads)
        self.attention_head_size = int(attention_head_size)
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.scaling = float(scaling)
        self.is_causal = bool(is_causal)
        self.is_decoder = bool(getattr(config, "is_decoder", False))
        self.layer_idx = layer_idx
        self.digital_class = digital_class
        self.query, self.key, self.value, self.dropout = query, key, value, dropout
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    @classmethod
    def from_hf(cls, module: nn.Module, cfg: AttentionConfig, seed: int = 0) -> AnalogSelfAttention:
        """The analog twin of a Hugging Face self-attention ``module`` (its children are reused,
        the module itself is left as it was)."""
        name = type(module).__name__
        if name not in SUPPORTED_ATTENTION:
            raise TypeError(f"AnalogSelfAttention: {name} is not a supported attention module; "
                            f"supported: {SUPPORTED_ATTENTION}")
        new = cls(module.config, cfg, num_attention_heads=module.num_attention_heads,
                   attention_head_size=module.attention_head_size, scaling=module.scaling,
                   is_causal=getattr(module, "is_causal", False), layer_idx=getattr(module, "layer_idx", None),
                   digital_class=type(module), query=module.query, key=module.key, value=module.value,
                   dropout=module.dropout, seed=seed)
        return new.train(module.training)

    def to_hf(self) -> nn.Module:
        """A fresh module of ``digital_class`` holding this module's children."""
        out = self.digital_class(self.config, is_causal=self.is_causal, layer_idx=self.layer_idx)
        out.query, out.key, out.value, out.dropout = self.query, self.key, self.value, self.dropout
        return out.train(self.training)

    def reseed(self, seed: int) -> None:
        """Restart the write and output noise from ``seed``."""
        self.seed = int(seed)
        self.generator.manual_seed(self.seed)

    def extra_repr(self) -> str:
        c = self.attention_cfg
        if not c.analog:
            return "mode=digital"
        s, v = c.scores, c.values
        return (f"mode=analog, heads={self.num_attention_heads}, d_head={self.attention_head_size}, "
                f"scores: dac_bits={s.dac.bits}, adc_bits={s.adc.bits}, device={s.device.kind}; "
                f"values: dac_bits={v.dac.bits}, adc_bits={v.adc.bits}, device={v.device.kind}")

    def _matmul(self, a: Tensor, b: Tensor, which: str) -> Tensor:
        """``a @ b`` over leading dims ``(B, H)``: exact, or on arrays holding ``b``."""
        if not self.attention_cfg.analog:
            return torch.matmul(a, b)
        lead = a.shape[:-2]
        cfg = getattr(self.attention_cfg, which)
        y = dynamic_mvm(a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:]), cfg, self.generator)
        return y.view(*lead, *y.shape[-2:])

    def forward(self, hidden_states: Tensor, attention_mask: Tensor | None = None, *args: Any,
                **kwargs: Any) -> tuple[Tensor, Tensor]:
        """As ``BertSelfAttention.forward`` (eager attention; a key/value cache is refused)."""
        cache = kwargs.get("cache", kwargs.get("past_key_values", args[0] if args else None))
        if cache is not None:
            raise NotImplementedError("AnalogSelfAttention: a key/value cache (decoding) is not supported; "
                                      "analog attention covers encoders")
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.attention_head_size)
        q = self.query(hidden_states).view(*hidden_shape).transpose(1, 2)
        k = self.key(hidden_states).view(*hidden_shape).transpose(1, 2)
        v = self.value(hidden_states).view(*hidden_shape).transpose(1, 2)
        scores = self._matmul(q, k.transpose(2, 3), "scores") * self.scaling
        if attention_mask is not None:
            if attention_mask.dtype == torch.bool:  # True = attend (sdpa-style masks)
                attention_mask = torch.zeros_like(attention_mask, dtype=scores.dtype).masked_fill_(
                    ~attention_mask, torch.finfo(scores.dtype).min)
            scores = scores + attention_mask
        probs = nn.functional.softmax(scores, dim=-1)
        probs = nn.functional.dropout(probs, p=self.dropout.p if self.training else 0.0, training=self.training)
        out = self._matmul(probs, v, "values").transpose(1, 2).contiguous()
        return out.reshape(*input_shape, -1).contiguous(), probs


__all__ = ["SUPPORTED_ATTENTION", "AnalogSelfAttention"]
