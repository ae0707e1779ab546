"""``AnalogSelfAttention`` and ``AnalogGPT2Attention``: Hugging Face self-attention modules (BERT
family, GPT-2) whose ``Q K^T`` and ``A V`` products run on arrays written per sequence
(``physics.attention.dynamic_mvm``).

It takes the place of a ``BertSelfAttention`` in the module tree (``an.analog_attention_``) with
the same children (``query``, ``key``, ``value``, ``dropout``: the projections stay what they are,
digital or analog twins) and the same forward signature and outputs, so ``state_dict`` keys and the
rest of the model are unchanged. The softmax, the mask and the scaling stay digital. Per call and
head, ``K^T`` is written into a ``d_head x seq`` array and ``V`` into a ``seq x d_head`` array.

``AnalogGPT2Attention`` does the same for a ``GPT2Attention`` (children ``c_attn``, ``c_proj``,
``attn_dropout``, ``resid_dropout``; the causal mask stays digital). With a Hugging Face key/value
cache (``use_cache=True``, generation) the keys and values stay in that digital cache and every call
writes the keys and values it attends over, the whole prefix, into fresh arrays: decoding ``n``
tokens writes ``n`` times (``cost.attention`` counts one write per full-sequence pass).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from analogue.config.attention import AttentionConfig
from analogue.physics.attention import dynamic_mvm

#: The Hugging Face BERT-family self-attention classes ``AnalogSelfAttention`` replaces (eager
#: layout: ``query``, ``key``, ``value`` projections, heads of ``attention_head_size``, ``scaling``).
SUPPORTED_BERT_ATTENTION = ("BertSelfAttention", "RobertaSelfAttention", "ElectraSelfAttention",
                            "XLMRobertaSelfAttention", "CamembertSelfAttention")
#: The GPT-2 attention classes ``AnalogGPT2Attention`` replaces (self-attention only: a module with
#: ``is_cross_attention`` stays digital).
SUPPORTED_GPT2_ATTENTION = ("GPT2Attention",)
#: Every Hugging Face attention class ``an.analog_attention_`` replaces.
SUPPORTED_ATTENTION = SUPPORTED_BERT_ATTENTION + SUPPORTED_GPT2_ATTENTION


class _DynamicProducts(nn.Module):
    """What both analog attention modules share: the config, the noise generator and the two
    products on arrays written per call."""

    attention_cfg: AttentionConfig
    generator: torch.Generator
    seed: int

    def _init_products(self, cfg: AttentionConfig, seed: int) -> None:
        if not isinstance(cfg, AttentionConfig):
            raise TypeError(f"{type(self).__name__}: cfg must be an AttentionConfig, got {type(cfg).__name__}")
        self.attention_cfg = cfg
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the write and output noise from ``seed``."""
        self.seed = int(seed)
        self.generator.manual_seed(self.seed)

    def _describe(self, heads: int, d_head: int) -> str:
        c = self.attention_cfg
        if not c.analog:
            return "mode=digital"
        s, v = c.scores, c.values
        return (f"mode=analog, heads={heads}, d_head={d_head}, "
                f"scores: dac_bits={s.dac.bits}, adc_bits={s.adc.bits}, device={s.device.kind}; "
                f"values: dac_bits={v.dac.bits}, adc_bits={v.adc.bits}, device={v.device.kind}")

    #: Name of the child projection whose input is the layer's token sequence (cost estimates read
    #: the tokens per inference from its compiled layer).
    projection: str = "query"

    @property
    def heads_and_dim(self) -> tuple[int, int]:
        """``(heads, d_head)`` of this attention module."""
        raise NotImplementedError

    def _matmul(self, a: Tensor, b: Tensor, which: str) -> Tensor:
        """``a @ b`` over leading dims ``(B, H)``: exact, or on arrays holding ``b``."""
        if not self.attention_cfg.analog:
            return torch.matmul(a, b)
        lead = a.shape[:-2]
        cfg = getattr(self.attention_cfg, which)
        y = dynamic_mvm(a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:]), cfg, self.generator)
        return y.view(*lead, *y.shape[-2:])


class AnalogSelfAttention(_DynamicProducts):
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
        self._init_products(cfg, seed)
        self.config = config
        self.num_attention_heads = int(num_attention_heads)
        self.attention_head_size = int(attention_head_size)
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.scaling = float(scaling)
        self.is_causal = bool(is_causal)
        self.is_decoder = bool(getattr(config, "is_decoder", False))
        self.layer_idx = layer_idx
        self.digital_class = digital_class
        self.query, self.key, self.value, self.dropout = query, key, value, dropout

    @classmethod
    def from_hf(cls, module: nn.Module, cfg: AttentionConfig, seed: int = 0) -> AnalogSelfAttention:
        """The analog twin of a Hugging Face self-attention ``module`` (its children are reused,
        the module itself is left as it was)."""
        name = type(module).__name__
        if name not in SUPPORTED_BERT_ATTENTION:
            raise TypeError(f"AnalogSelfAttention: {name} is not a supported attention module; "
                            f"supported: {SUPPORTED_BERT_ATTENTION}")
        new = cls(module.config, cfg, num_attention_heads=module.num_attention_heads,
                   attention_head_size=module.attention_head_size, scaling=module.scaling,
                   is_causal=getattr(module, "is_causal", False), layer_idx=getattr(module, "layer_idx", None),
                   digital_class=type(module), query=module.query, key=module.key, value=module.value,
                   dropout=module.dropout, seed=seed)
        return new.train(module.training)

    def to_hf(self) -> nn.Module:
        """A fresh module of ``digital_class`` holding this module's children, so on their device and
        in their dtype (it is built on the meta device: no weights are allocated on the default
        device or drawn from the global random stream)."""
        with torch.device("meta"):
            out = self.digital_class(self.config, is_causal=self.is_causal, layer_idx=self.layer_idx)
        out.query, out.key, out.value, out.dropout = self.query, self.key, self.value, self.dropout
        return out.train(self.training)

    @property
    def heads_and_dim(self) -> tuple[int, int]:
        return self.num_attention_heads, self.attention_head_size

    def extra_repr(self) -> str:
        return self._describe(self.num_attention_heads, self.attention_head_size)

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



class AnalogGPT2Attention(_DynamicProducts):
    """GPT-2 self-attention with analog ``Q K^T`` and ``A V`` (see the module docstring).

    Built by ``from_hf(module, cfg, seed)`` from a ``GPT2Attention`` (not a cross-attention one);
    ``to_hf()`` gives one back holding the same children. The forward has ``GPT2Attention``'s
    signature and outputs; the causal mask, the scaling (``module.scaling``, which includes
    ``scale_attn_by_inverse_layer_idx``) and the softmax stay digital, as in the eager attention
    (``reorder_and_upcast_attn`` computes the scores in float32). ``cfg.mode == "digital"``
    computes the eager products exactly. Random draws come from the module's own generator.
    """

    def __init__(self, config: Any, cfg: AttentionConfig, *, layer_idx: int | None, digital_class: type[nn.Module],
                 c_attn: nn.Module, c_proj: nn.Module, attn_dropout: nn.Module, resid_dropout: nn.Module,
                 seed: int = 0) -> None:
        super().__init__()
        self._init_products(cfg, seed)
        self.config = config
        self.embed_dim = int(config.hidden_size)
        self.num_heads = int(config.num_attention_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.split_size = self.embed_dim
        self.layer_idx = layer_idx
        self.scaling = self.head_dim ** -0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scaling /= float(layer_idx + 1)
        self.reorder_and_upcast_attn = bool(config.reorder_and_upcast_attn)
        self.is_cross_attention = False
        self.is_causal = True
        self.digital_class = digital_class
        self.c_attn, self.c_proj = c_attn, c_proj
        self.attn_dropout, self.resid_dropout = attn_dropout, resid_dropout

    @classmethod
    def from_hf(cls, module: nn.Module, cfg: AttentionConfig, seed: int = 0) -> AnalogGPT2Attention:
        """The analog twin of a ``GPT2Attention`` ``module`` (its children are reused, the module
        itself is left as it was)."""
        name = type(module).__name__
        if name not in SUPPORTED_GPT2_ATTENTION:
            raise TypeError(f"AnalogGPT2Attention: {name} is not a supported attention module; "
                            f"supported: {SUPPORTED_GPT2_ATTENTION}")
        if getattr(module, "is_cross_attention", False):
            raise TypeError("AnalogGPT2Attention: cross-attention (is_cross_attention=True) is not supported; "
                            "only GPT-2 self-attention runs on arrays written per sequence")
        new = cls(module.config, cfg, layer_idx=module.layer_idx, digital_class=type(module), c_attn=module.c_attn,
                  c_proj=module.c_proj, attn_dropout=module.attn_dropout, resid_dropout=module.resid_dropout,
                  seed=seed)
        if new.scaling != module.scaling:
            raise ValueError(f"AnalogGPT2Attention: scaling {new.scaling} differs from the module's "
                             f"{module.scaling}; this transformers version is not supported")
        return new.train(module.training)

    def to_hf(self) -> nn.Module:
        """A ``digital_class`` module holding this module's children (built on the meta device, so
        no weights are allocated or drawn from the global random stream)."""
        with torch.device("meta"):
            out = self.digital_class(self.config, is_cross_attention=False, layer_idx=self.layer_idx)
        out.c_attn, out.c_proj = self.c_attn, self.c_proj
        out.attn_dropout, out.resid_dropout = self.attn_dropout, self.resid_dropout
        return out.train(self.training)

    projection = "c_attn"

    @property
    def heads_and_dim(self) -> tuple[int, int]:
        return self.num_heads, self.head_dim

    def extra_repr(self) -> str:
        return self._describe(self.num_heads, self.head_dim)

    def forward(self, hidden_states: Tensor, cache: Any = None, attention_mask: Tensor | None = None,
                encoder_hidden_states: Tensor | None = None, encoder_attention_mask: Tensor | None = None,
                output_attentions: bool | None = False, **kwargs: Any) -> tuple[Tensor, Tensor]:
        """As ``GPT2Attention.forward`` for self-attention (eager attention)."""
        if cache is None:
            cache = kwargs.pop("past_key_values", None)
        if encoder_hidden_states is not None:
            raise ValueError("AnalogGPT2Attention: encoder_hidden_states given to a self-attention module; "
                             "cross-attention stays digital")
        q, k, v = self.c_attn(hidden_states).split(self.split_size, dim=2)
        shape = (*q.shape[:-1], -1, self.head_dim)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        if cache is not None:  # keys and values of the whole prefix, kept digitally by the cache
            k, v = getattr(cache, "self_attention_cache", cache).update(k, v, self.layer_idx, kwargs=kwargs)
        qs, ks = (q.float(), k.float()) if self.reorder_and_upcast_attn else (q, k)
        scores = self._matmul(qs, ks.transpose(2, 3), "scores") * self.scaling
        if attention_mask is None:  # causal, the last q_len of k_len positions
            q_len, k_len = scores.shape[-2:]
            pos = torch.arange(k_len, device=scores.device)
            attention_mask = pos[None, :] <= pos[k_len - q_len:, None]
        if attention_mask.dtype == torch.bool:  # True = attend (sdpa-style masks)
            attention_mask = torch.zeros_like(attention_mask, dtype=scores.dtype).masked_fill_(
                ~attention_mask, torch.finfo(scores.dtype).min)
        probs = nn.functional.softmax(scores + attention_mask, dim=-1).type(v.dtype)
        probs = nn.functional.dropout(probs, p=self.attn_dropout.p if self.training else 0.0, training=self.training)
        out = self._matmul(probs, v, "values").transpose(1, 2)
        out = self.c_proj(out.reshape(*out.shape[:-2], -1).contiguous())
        return self.resid_dropout(out), probs


def analog_twin(module: nn.Module, cfg: AttentionConfig, seed: int = 0) -> nn.Module:
    """The analog attention module for a supported Hugging Face attention ``module``
    (``SUPPORTED_ATTENTION``): ``AnalogGPT2Attention`` for GPT-2, ``AnalogSelfAttention`` for the
    BERT family."""
    if type(module).__name__ in SUPPORTED_GPT2_ATTENTION:
        return AnalogGPT2Attention.from_hf(module, cfg, seed=seed)
    return AnalogSelfAttention.from_hf(module, cfg, seed=seed)


#: The analog attention module classes (what ``analog_attention_`` turns back to digital).
ANALOG_ATTENTION = (AnalogSelfAttention, AnalogGPT2Attention)

__all__ = ["ANALOG_ATTENTION", "SUPPORTED_ATTENTION", "SUPPORTED_BERT_ATTENTION", "SUPPORTED_GPT2_ATTENTION",
           "AnalogGPT2Attention", "AnalogSelfAttention", "analog_twin"]
