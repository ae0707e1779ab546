"""``analogue.analysis.evaluate``: one evaluator for every data form of the input convention, every
output kind, and the tensor call forms the training helpers always took (same numbers)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import analogue as an
from analogue.analysis import evaluate
from analogue.apps import training as loop
from analogue.data import digits_cnn, evaluate_accuracy, load_digits


def _digits_model():
    data = load_digits(seed=0)
    model = an.convert_(digits_cnn(0), an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0}))
    an.calibrate_(model, data.x_train[:256])
    return model, data


def _old_evaluate(model, x, y, batch_size=512):
    """``train.loop.evaluate`` as it was (tensors only): the oracle for the tensor call forms."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = model(x[i:i + batch_size])
            loss += float(F.cross_entropy(out, y[i:i + batch_size], reduction="sum"))
            correct += int((out.argmax(dim=1) == y[i:i + batch_size]).sum())
    return {"loss": loss / len(x), "accuracy": correct / len(x)}


@pytest.mark.parametrize("batch_size", [512, 100, 7])
def test_tensor_call_forms_give_what_they_gave(batch_size):
    model, data = _digits_model()
    x, y = data.x_test, data.y_test
    expected = _old_evaluate(model, x, y, batch_size)
    model.train()
    assert loop.evaluate(model, x, y, batch_size) == expected
    assert model.training  # the mode is restored
    assert evaluate(model, (x, y), batch_size=batch_size) == expected
    assert evaluate(model, data, batch_size=batch_size) == expected  # x_test / y_test
    assert evaluate_accuracy(model, x, y, batch_size) == expected["accuracy"]
    assert not model.training  # evaluate_accuracy leaves the model in eval mode, as it always did
    assert loop.evaluate is evaluate  # one evaluator, two names


def test_dataloader_of_pairs_equals_the_tensor_form():
    model, data = _digits_model()
    x, y = data.x_test, data.y_test
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=False)
    got = evaluate(model, loader)
    want = evaluate(model, x, y, 64)
    assert got["accuracy"] == want["accuracy"]
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-12)
    # a list of pairs and a generator, too; sub-batching inside a batch changes nothing either
    assert evaluate(model, [(x[:100], y[:100]), (x[100:], y[100:])], batch_size=64)["accuracy"] == want["accuracy"]
    assert evaluate(model, ((x[i:i + 50], y[i:i + 50]) for i in range(0, len(x), 50)))["accuracy"] == want["accuracy"]


class _Dict(nn.Module):
    def __init__(self, kind):
        super().__init__()
        torch.manual_seed(0)
        self.net, self.kind = nn.Linear(5, 4), kind

    def forward(self, x):
        z = self.net(x)
        if self.kind == "dict":
            return {"hidden": x, "logits": z}
        if self.kind == "tuple":
            return (z, x)
        from transformers.modeling_outputs import SequenceClassifierOutput

        return SequenceClassifierOutput(logits=z)


@pytest.mark.parametrize("kind", ["dict", "tuple", "model_output"])
def test_models_returning_dicts_tuples_and_model_outputs(kind):
    if kind == "model_output":
        pytest.importorskip("transformers")
    model = _Dict(kind)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(40, 5, generator=g), torch.randint(0, 4, (40,), generator=g)
    with torch.no_grad():
        z = model.net(x)
    want = {"loss": float(F.cross_entropy(z, y, reduction="sum")) / 40,
            "accuracy": int((z.argmax(1) == y).sum()) / 40}
    got = evaluate(model, x, y)
    assert got["accuracy"] == want["accuracy"]
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-6)
    # output_fn picks another tensor: the hidden input (5 classes) instead of the logits
    pick = (lambda o: o["hidden"]) if kind == "dict" else (lambda o: o[1]) if kind == "tuple" else None
    if pick is not None:
        acc = evaluate(model, x, y, output_fn=pick)["accuracy"]
        assert acc == int((x.argmax(1) == y).sum()) / 40


def test_bert_classifier_on_tokenizer_batches_equals_a_hand_computed_loss_and_accuracy():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=32, num_labels=3)
    model = transformers.BertForSequenceClassification(cfg).train()  # dropout on: evaluate must turn it off
    g = torch.Generator().manual_seed(3)
    batches = []
    for n in (6, 5, 7):
        ids = torch.randint(1, 64, (n, 12), generator=g)
        mask = torch.ones(n, 12, dtype=torch.long)
        mask[-1, 6:] = 0
        enc = transformers.BatchEncoding({"input_ids": ids, "attention_mask": mask})  # a tokenizer's output
        batches.append((enc, torch.randint(0, 3, (n,), generator=g)))
    model.eval()
    loss, correct, n_all = 0.0, 0, 0
    with torch.no_grad():
        for enc, labels in batches:
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            loss += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(-1) == labels).sum())
            n_all += len(labels)
    model.train()
    got = evaluate(model, batches, batch_size=4)
    assert model.training
    assert got["accuracy"] == correct / n_all
    assert got["loss"] == pytest.approx(loss / n_all, rel=1e-5)
    # the labels inside the dict (as a tokenizer pipeline with labels gives them): the same numbers
    with_labels = [{**enc, "labels": labels} for enc, labels in batches]
    got2 = evaluate(model, with_labels)
    assert got2["accuracy"] == correct / n_all
    assert got2["loss"] == pytest.approx(loss / n_all, rel=1e-5)
    # and the analog model takes the same call
    analog = an.convert_(model, an.presets.standard())
    an.calibrate_(analog, [enc for enc, _ in batches])
    res = evaluate(analog, batches)
    assert 0.0 <= res["accuracy"] <= 1.0 and torch.isfinite(torch.tensor(res["loss"]))


def test_token_labels_ignore_minus_100():
    # (N, T, C) logits and (N, T) labels: padded tokens (-100) are left out of loss and accuracy
    class Tok(nn.Module):
        def forward(self, x):
            return x

    g = torch.Generator().manual_seed(4)
    z = torch.randn(3, 5, 7, generator=g)
    y = torch.randint(0, 7, (3, 5), generator=g)
    y[0, 3:] = -100
    valid = y != -100
    res = evaluate(Tok(), z, y)
    assert res["accuracy"] == int(((z.argmax(-1) == y) & valid).sum()) / int(valid.sum())
    want = float(F.cross_entropy(z[valid], y[valid], reduction="sum")) / int(valid.sum())
    assert res["loss"] == pytest.approx(want, rel=1e-6)


def test_teacher_logits_takes_the_convention_and_gives_what_it_gave():
    model, data = _digits_model()
    x = data.x_train[:300]
    with torch.no_grad():
        old = torch.cat([model.eval()(x[i:i + 64]) for i in range(0, len(x), 64)])
    model.train()
    torch.testing.assert_close(loop.teacher_logits(model, x, 64), old, rtol=0, atol=0)
    assert model.training
    loader = DataLoader(TensorDataset(x, data.y_train[:300]), batch_size=50)
    torch.testing.assert_close(loop.teacher_logits(model, loader, 64), old)
    hf = _Dict("dict")
    torch.testing.assert_close(loop.teacher_logits(hf, torch.ones(3, 5), 2), hf.net(torch.ones(3, 5)).detach())


def test_convert_for_training_calibrates_from_the_convention():
    from analogue.apps import TrainConfig

    cfg = TrainConfig.from_dict({"model": {"name": "digits_cnn"}, "data": {"name": "digits"},
                                 "analog": {"preset": "standard"}, "epochs": 1})
    data = load_digits(seed=0)
    a = loop.convert_for_training(digits_cnn(0), cfg, data)  # the first 512 training inputs
    b = loop.convert_for_training(digits_cnn(0), cfg,
                                  DataLoader(TensorDataset(data.x_train[:512], data.y_train[:512]),
                                             batch_size=512))
    for (na, la), (nb, lb) in zip(an.analog_layers(a).items(), an.analog_layers(b).items()):
        assert na == nb
        torch.testing.assert_close(la.state_dict(), lb.state_dict(), rtol=0, atol=0)


@pytest.mark.parametrize("bad, match", [
    ((torch.zeros(3, 5),), "no labels"),
    ((torch.zeros(3, 5), torch.zeros(2, dtype=torch.long)), "3 inputs but 2 labels"),
    ([], "no labelled examples"),
])
def test_bad_data_is_refused_with_the_fix(bad, match):
    with pytest.raises(ValueError, match=match):
        evaluate(_Dict("tuple"), [bad] if isinstance(bad, tuple) and len(bad) == 1 else bad)


def test_bad_arguments_are_refused():
    x, y = torch.zeros(3, 5), torch.zeros(3, dtype=torch.long)
    with pytest.raises(TypeError, match="batch_size=... by keyword"):
        evaluate(_Dict("tuple"), [(x, y)], 64)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        evaluate(_Dict("tuple"), (x, y), batch_size=0)
    with pytest.raises(TypeError, match="one batch of inputs"):
        evaluate(_Dict("tuple"), [x], y)
