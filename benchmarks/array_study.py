"""The README's "Line resistance" figures: the array-size study (``an.array_size_study``) for the
digits CNN and a 2-layer BERT classifier (hidden 256, feed-forward 1024: layers larger than the
small arrays), on HERMES resized to each array size (same cross-points).

    PYTHONPATH=src python benchmarks/array_study.py [--out docs/img] [--which digits bert]
        [--instances 2] [--sizes 64 128 256 512] [--bert-weights PATH] [--device cuda]

The README's figures: ``--which digits --instances 8 --sizes 64 128 256 512 1024`` and ``--which bert
--instances 2 --sizes 64 128 256`` (the BERT's wires run as two processes, ``--r-wire 0 1.5/5`` and
``--r-wire 0.5``, merged: the same seeds, so the same devices), then ``--which bert --instances 2
--sizes 512 1024 --bert-weights bert.pt --out OTHER`` (the same trained weights) joined to it with
``--merge docs/img/array_study_bert.json OTHER/array_study_bert.json --which bert``.

    PYTHONPATH=src python benchmarks/array_study.py --merge A.json B.json ... --which bert [--out docs/img]

joins studies run separately (``ArraySizeStudy.merged``: later files win on a shared point) and
writes the joined JSON, plot and table for the one model in ``--which``.

Writes ``array_study_<model>.png``, ``array_study_<model>.json`` and prints the tables.

``--device``: the study (the converted copies, their exact IR-drop set-up, calibration and
evaluation, and the example input the cost model's ``an.compile`` captures) runs there, each timing
ending with the device synchronised. The models are still trained on the CPU (the same weights on
any device) and then moved; the tables, JSON and plot are written from the CPU.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from common import add_device_argument, resolve_device, synchronize

import analogue as an
from analogue._util.tables import save_json
from analogue.apps._device import data_to

CPU = torch.device("cpu")

R_WIRE = (0.0, 0.5, (1.5, 5.0))


def digits(out: Path, instances: int, sizes: tuple[int, ...], weights: str | None, dev: torch.device = CPU) -> None:
    from analogue.data.digits import digits_cnn, load_digits, train_classifier

    data = load_digits(seed=0)
    model = digits_cnn(seed=0)
    train_classifier(model, data, epochs=8, seed=0)
    model, data = model.to(dev), data_to(data, dev)
    t = time.perf_counter()
    res = an.array_size_study(model, data, None, an.chips.hermes(), sizes=sizes,
                              r_wire=R_WIRE, instances=instances, calibration_data=data.x_train[:512])
    synchronize(dev)
    print(f"\ndigits CNN ({time.perf_counter() - t:.0f} s)\n{res.summary()}")
    save_json(out / "array_study_digits.json", res.to_dict())
    res.plot(out / "array_study_digits.png", title=TITLES["digits"])


VOCAB, LENGTH = 64, 32


def bert_task(n: int, seed: int, vocab: int = VOCAB, length: int = LENGTH) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences; label 1 when more than half the tokens are from the lower half of the
    vocabulary (a counting task over the whole sequence; sequences near the threshold are hard,
    so a briefly trained model stays below 100 %)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (n, length), generator=g)
    return ids, ((ids < vocab // 2).sum(1) > length // 2).long()


class Classifier(torch.nn.Module):
    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=input_ids).logits


def build_bert() -> Classifier:
    """A 2-layer BERT classifier (hidden 256, intermediate 1024, 4 heads) from a ``BertConfig``:
    its layers (256 x 256 attention projections, 256 x 1024 and 1024 x 256 feed-forward) exceed
    the smaller array sizes in both dimensions."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=1024, max_position_embeddings=LENGTH, num_labels=2,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation="eager")
    return Classifier(BertForSequenceClassification(cfg))


def train_bert(model: Classifier, n: int = 4096, epochs: int = 2, seed: int = 0) -> Classifier:
    x, y = bert_task(n, seed)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    model.train()
    for _epoch in range(epochs):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
    return model.eval()


def bert(out: Path, instances: int, sizes: tuple[int, ...], weights: str | None, dev: torch.device = CPU) -> None:
    model = build_bert()
    if weights and Path(weights).exists():
        model.load_state_dict(torch.load(weights, weights_only=True))
        model.eval()
    else:
        train_bert(model)
        if weights:
            torch.save(model.state_dict(), weights)
    model = model.to(dev)
    x, _ = bert_task(4096, 0)
    xt, yt = bert_task(512, 1)
    x, xt, yt = x.to(dev), xt.to(dev), yt.to(dev)
    t = time.perf_counter()
    res = an.array_size_study(model, (xt, yt), None, an.chips.hermes(), sizes=sizes, r_wire=R_WIRE,
                              instances=instances, calibration_data=x[:256])
    synchronize(dev)
    print(f"\nBERT classifier ({time.perf_counter() - t:.0f} s)\n{res.summary()}")
    save_json(out / "array_study_bert.json", res.to_dict())
    res.plot(out / "array_study_bert.png", title=TITLES["bert"])


TITLES = {"digits": "digits CNN on PCM (HERMES arrays)",
          "bert": "2-layer BERT (hidden 256, FFN 1024) on PCM (HERMES)"}


def merge(out: Path, which: list[str], files: list[str]) -> None:
    import json

    from analogue.analysis.arrays import ArraySizeStudy

    if len(which) != 1:
        raise SystemExit("--merge joins the files of one model: give --which digits or --which bert")
    name = which[0]
    studies = [ArraySizeStudy.from_dict(json.loads(Path(f).read_text())) for f in files]
    res = studies[0]
    for s in studies[1:]:
        res = res.merged(s)
    print(res.summary())
    save_json(out / f"array_study_{name}.json", res.to_dict())
    res.plot(out / f"array_study_{name}.png", title=TITLES[name])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/img")
    ap.add_argument("--which", nargs="+", default=["digits", "bert"])
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--r-wire", nargs="+", default=None, help="ohm per segment: 0.5 or row/col, e.g. 1.5/5")
    ap.add_argument("--bert-weights", default=None, help="load the trained BERT from here (train and save it when absent)")
    ap.add_argument("--merge", nargs="+", default=None,
                    help="join these array_study_<model>.json files (one model: --which) instead of running")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    add_device_argument(ap)
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    if args.r_wire:
        R_WIRE = tuple(tuple(float(v) for v in w.split("/")) if "/" in w else float(w) for w in args.r_wire)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        merge(out, args.which, args.merge)
        raise SystemExit(0)
    for name in args.which:
        {"digits": digits, "bert": bert}[name](out, args.instances, tuple(args.sizes), args.bert_weights, dev)
