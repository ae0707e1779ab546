"""The README's "Line resistance" figures: the array-size study (``an.array_size_study``) for the
digits CNN and a small BERT classifier, on HERMES resized to each array size (same cross-points).

    PYTHONPATH=src python benchmarks/array_study.py [--out docs/img] [--which digits bert]

Writes ``array_study_<model>.png``, ``array_study_<model>.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import analogue as an
from analogue._util.tables import save_json

R_WIRE = (0.0, (1.5, 5.0))


def digits(out: Path, instances: int) -> None:
    from analogue.data.digits import digits_cnn, load_digits, train_classifier

    data = load_digits(seed=0)
    model = digits_cnn(seed=0)
    train_classifier(model, data, epochs=8, seed=0)
    t = time.perf_counter()
    res = an.array_size_study(model, data, None, an.chips.hermes(), sizes=(64, 128, 256, 512, 1024),
                              r_wire=R_WIRE, instances=instances, calibration_data=data.x_train[:512])
    print(f"\ndigits CNN ({time.perf_counter() - t:.0f} s)\n{res.summary()}")
    save_json(out / "array_study_digits.json", res.to_dict())
    res.plot(out / "array_study_digits.png", title="digits CNN on PCM (HERMES arrays)")


def bert_task(n: int, seed: int, vocab: int = 32, length: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences; label 1 when more than half the tokens are from the lower half of the
    vocabulary (a counting task that needs attention over the whole sequence)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (n, length), generator=g)
    return ids, ((ids < vocab // 2).sum(1) > length // 2).long()


class Classifier(torch.nn.Module):
    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=input_ids).logits


def bert(out: Path, instances: int) -> None:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=16, num_labels=2,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation="eager")
    model = Classifier(BertForSequenceClassification(cfg))
    x, y = bert_task(4096, 0)
    xt, yt = bert_task(512, 1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _epoch in range(4):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
    model.eval()
    t = time.perf_counter()
    res = an.array_size_study(model, (xt, yt), None, an.chips.hermes(), sizes=(32, 64, 128),
                              r_wire=R_WIRE, instances=instances, calibration_data=x[:256])
    print(f"\nBERT classifier ({time.perf_counter() - t:.0f} s)\n{res.summary()}")
    save_json(out / "array_study_bert.json", res.to_dict())
    res.plot(out / "array_study_bert.png", title="2-layer BERT (hidden 64) on PCM (HERMES arrays)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/img")
    ap.add_argument("--which", nargs="+", default=["digits", "bert"])
    ap.add_argument("--instances", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.which:
        {"digits": digits, "bert": bert}[name](out, args.instances)
