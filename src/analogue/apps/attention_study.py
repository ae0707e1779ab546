"""Digital against analog attention on one model: a tiny BERT classifier (2 layers, 2 heads of 16,
built from a config, no download) trained digitally on the majority task of
``apps.inmemory_beyond.majority_task``, then evaluated with its ``Q K^T`` and ``A V`` products
digital and on arrays written per sequence (``an.analog_attention_``) under several array
configurations: test accuracy, the logits' error against digital attention, and what the
per-inference writes cost (``cost.attention.attention_cost``) for this model and for a BERT-base
sized one (12 layers, 12 heads of 64, 128 tokens).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from analogue.apps._device import as_device, data_to
from analogue.apps.inmemory_beyond import majority_task
from analogue.config import AnalogConfig, presets
from analogue.config.array import ADCConfig, DACConfig
from analogue.config.attention import AttentionConfig
from analogue.cost.attention import attention_cost
from analogue.data.digits import DigitsData
from analogue.lifecycle.attention import analog_attention_

SEQ, VOCAB, LAYERS, HEADS, D_HEAD = 12, 4, 2, 2, 16
BERT_BASE = {"seq": 128, "d_head": 64, "heads": 12, "layers": 12}
RATE_PER_S = 10.0
"""Inferences per second the lifetimes are stated at."""


def attention_configs() -> dict[str, AttentionConfig]:
    """The attention choices compared, by label (the analog ones put both products on ``cfg``)."""
    ideal = AnalogConfig(dac=DACConfig(bits=None), adc=ADCConfig(bits=None, clip=False))

    def both(cfg: AnalogConfig) -> AttentionConfig:
        return AttentionConfig(mode="analog", scores=cfg, values=cfg)

    return {"digital": AttentionConfig(), "analog, ideal converters and device": both(ideal),
            "analog, standard() (8-bit, output noise)": both(presets.standard()),
            "analog, pcm() (write noise)": both(presets.pcm()),
            "analog, rram() (8 levels, write noise)": both(presets.rram())}


def tiny_bert_classifier(seed: int = 0) -> nn.Module:
    """A ``BertForSequenceClassification`` with eager attention, random weights (needs transformers)."""
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(vocab_size=VOCAB, hidden_size=HEADS * D_HEAD, num_hidden_layers=LAYERS,
                     num_attention_heads=HEADS, intermediate_size=64, max_position_embeddings=SEQ,
                     type_vocab_size=1, num_labels=VOCAB, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, attn_implementation="eager")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertForSequenceClassification(cfg)


def train_digital(model: nn.Module, data: DigitsData, *, epochs: int = 6, batch_size: int = 32,
                  lr: float = 3e-3, seed: int = 0) -> nn.Module:
    """Adam on the cross-entropy of ``model(input_ids).logits``; returns the model in eval mode."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for xb, yb in data.batches(batch_size, gen):
            loss = nn.functional.cross_entropy(model(input_ids=xb).logits, yb)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    return model.eval()


def _lifetime(n: float) -> str:
    return "unlimited" if n == float("inf") else f"{n:.3g}"


@torch.no_grad()
def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([model(input_ids=xb).logits for xb in x.split(250)])


def attention_study(seed: int = 0, epochs: int = 6,
                    device: torch.device | str = "cpu") -> dict[str, list[dict[str, Any]]]:
    """Two tables: ``accuracy`` (per attention choice: test accuracy, logits error, cost per
    inference of this model) and ``cost`` (per device: BERT-base sized attention, analog writes
    against the digital unit). ``device``: the torch device of the tiny BERT and its data."""
    dev = as_device(device)
    data = data_to(majority_task(seed=seed), dev)
    model = train_digital(tiny_bert_classifier(seed).to(dev), data, epochs=epochs, seed=seed)
    ref = _logits(model, data.x_test)
    dims = {"seq": SEQ, "d_head": D_HEAD, "heads": HEADS, "layers": LAYERS}
    acc_rows = []
    for label, cfg in attention_configs().items():
        analog_attention_(model, cfg, seed=seed)
        out = _logits(model, data.x_test)
        row: dict[str, Any] = {"attention": label,
                               "test accuracy %": round(100 * float((out.argmax(1) == data.y_test).float().mean()), 2),
                               "logits error vs digital %": round(100 * float((out - ref).norm() / ref.norm()), 3)}
        if cfg.analog:
            c = attention_cost(**dims, device_kind=cfg.scores.device.kind, adc_bits=cfg.scores.adc.bits or 8,
                               inferences_per_s=RATE_PER_S)
            row.update({"energy nJ": round(1e9 * c.analog_energy_J, 4), "write time us": round(1e6 * c.write_time_s, 3),
                        "lifetime (inferences)": _lifetime(c.lifetime_inferences)})
        else:
            c = attention_cost(**dims, device_kind="ideal")
            row.update({"energy nJ": round(1e9 * c.digital_energy_J, 4), "write time us": 0.0,
                        "lifetime (inferences)": "unlimited"})
        acc_rows.append(row)
    analog_attention_(model, AttentionConfig())
    cost_rows = []
    for kind in ("pcm", "rram", "mram", "sram"):
        c = attention_cost(**BERT_BASE, device_kind=kind, inferences_per_s=RATE_PER_S)
        days = c.lifetime_days
        cost_rows.append({"device": kind, "cells written": c.cells_written,
                          "write uJ": round(1e6 * c.write_energy_J, 3),
                          "ADC uJ": round(1e6 * c.convert_energy_J, 3),
                          "digital attention uJ": round(1e6 * c.digital_energy_J, 3),
                          "write time ms": round(1e3 * c.write_time_s, 4),
                          f"lifetime at {RATE_PER_S:g}/s": "unlimited" if days is None or days == float("inf")
                          else f"{days:.3g} days"})
    return {"accuracy": acc_rows, "cost": cost_rows}


__all__ = ["attention_configs", "attention_study", "tiny_bert_classifier", "train_digital"]
