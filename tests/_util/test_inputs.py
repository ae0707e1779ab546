"""One input convention for every function that runs a model (analogue._util.inputs), end to end
with calibrate_, accuracy_over_time and sensitivity, on plain and Hugging Face models."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import analogue as an
from analogue._util.inputs import Batch, as_batch, batch_size, batches, logits, repeat, select
from analogue.analysis import accuracy_over_time, sensitivity


# -- the convention ----------------------------------------------------------------------------------
def test_batch_forms():
    x, y, t = torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), torch.randn(4, 3)
    assert as_batch(x) == Batch((x,), {}, None)
    b = as_batch((x, y))  # (inputs, classes)
    assert b.args == (x,) and b.labels is y
    b = as_batch((x, t))  # two positional inputs of the same rank
    assert b.args == (x, t) and b.labels is None
    b = as_batch(((x, t), y))  # positional inputs with labels
    assert b.args == (x, t) and b.labels is y
    assert as_batch((x, None)).args == (x,)
    d = {"input_ids": torch.zeros(4, 5, dtype=torch.long), "labels": y}
    b = as_batch(d)
    assert b.args == () and b.kwargs == d and b.labels is y
    assert batch_size(b) == 4 and batch_size(as_batch(torch.empty(0, 3))) == 0
    with pytest.raises(TypeError, match="a tensor, a tuple"):
        as_batch("text")


def test_data_forms():
    x, y = torch.randn(10, 3), torch.arange(10) % 3
    assert len(list(batches(x))) == 1
    assert len(list(batches((x, y)))) == 1 and len(list(batches([x, y]))) == 1
    assert len(list(batches([x, x, x], max_batches=2))) == 2
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    got = list(batches(loader))
    assert [len(b.labels) for b in got] == [4, 4, 2] and torch.equal(got[0].args[0], x[:4])
    assert len(list(batches(iter([x, x])))) == 2
    for bad in (None, "x", 3):
        with pytest.raises(TypeError, match="data must be"):
            list(batches(bad, where="f"))


def test_select_and_repeat_cut_every_batched_input():
    d = {"input_ids": torch.arange(12).view(4, 3), "attention_mask": torch.ones(4, 3), "labels": torch.arange(4)}
    b = select(as_batch(d), 1, 3)
    assert torch.equal(b.kwargs["input_ids"], d["input_ids"][1:3]) and torch.equal(b.labels, torch.arange(1, 3))
    r = repeat(b, 3)
    assert torch.equal(r.kwargs["input_ids"], d["input_ids"][1:3].repeat(3, 1))
    assert torch.equal(r.labels, b.labels)


def test_output_forms():
    t = torch.randn(2, 3)
    assert logits(t) is t
    assert logits({"loss": torch.tensor(1.0), "logits": t}) is t  # a ModelOutput with labels
    assert logits({"last_hidden_state": t}) is t
    assert logits((t, None)) is t
    assert logits({"a": 1}, output_fn=lambda o: t) is t
    with pytest.raises(TypeError, match="output_fn"):
        logits({"a": 1})
    with pytest.raises(TypeError, match="output_fn must return a tensor"):
        logits(t, output_fn=lambda o: "no")


# -- the same calls on plain and keyword / ModelOutput models ----------------------------------------
class _DictModel(nn.Module):
    """The same network, taking keyword inputs and returning a dict with a loss (as HF models do)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
        out = self.net(features)
        loss = torch.nn.functional.cross_entropy(out, labels) if labels is not None else None
        return {"loss": loss, "logits": out}


def _calibrated():
    return an.presets.quantized().replace(dac=an.DACConfig(bits=8, range_policy="calibrated"))


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def test_calibrate_takes_every_form_alike():
    cfg = _calibrated()  # noise-free: the forms must give identical ranges
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 3

    def ranges(model):
        return [(float(m.input_range), float(m.out_bound)) for m in an.analog_layers(model).values()]

    ref = ranges(an.calibrate_(an.convert_(_net(), cfg), x))
    assert ranges(an.calibrate_(an.convert_(_net(), cfg), (x, y))) == ref
    assert ranges(an.calibrate_(an.convert_(_net(), cfg), DataLoader(TensorDataset(x, y), batch_size=16))) == ref
    dict_model = an.convert_(_DictModel(_net()), cfg)
    assert ranges(an.calibrate_(dict_model, {"features": x})) == ref
    assert ranges(an.calibrate_(an.convert_(_DictModel(_net()), cfg),
                                [{"features": x[:25]}, {"features": x[25:]}])) == ref


def test_accuracy_over_time_takes_dicts_and_model_outputs():
    cfg = an.presets.pcm()
    x = torch.randn(60, 6, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    plain = an.convert_(_net(), cfg)
    keyed = an.convert_(_DictModel(_net()), cfg)
    kw = {"times_s": (3600.0,), "repeats": 2, "seed": 3, "progress": False}
    a = accuracy_over_time(plain, (x, y), **kw)
    b = accuracy_over_time(keyed, [{"features": x, "labels": y}], **kw)
    c = accuracy_over_time(keyed, {"features": x, "labels": y}, output_fn=lambda o: o["logits"], **kw)
    assert a.samples == b.samples == c.samples and a.baseline == b.baseline
    with torch.no_grad():
        an.unprogram_(plain)
        assert a.baseline == pytest.approx(float((plain.eval()(x).argmax(1) == y).double().mean()))
    with pytest.raises(ValueError, match="no labels"):
        accuracy_over_time(keyed, {"features": x}, **kw)


def test_sensitivity_takes_dicts_and_loaders():
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    kw = {"n_seeds": 2, "t_s": 3600.0, "progress": False}
    a = sensitivity(_net().eval(), (x, y), an.presets.pcm(), **kw)
    b = sensitivity(_DictModel(_net()).eval(), {"features": x, "labels": y}, an.presets.pcm(), **kw)
    assert [s.name for s in a.layers] == ["0", "2"] and [s.name for s in b.layers] == ["net.0", "net.2"]
    assert [s.metric_mean for s in a.layers] == [s.metric_mean for s in b.layers]
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    c = sensitivity(_net().eval(), loader, an.presets.ideal(), metric="loss", **kw)
    assert all(abs(s.degradation) < 1e-6 for s in c.layers)  # ideal tiles lose nothing, over 3 batches


# -- Hugging Face BERT built from a config (no downloads) ---------------------------------------------
@pytest.fixture(scope="module")
def bert():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=16, num_labels=3)
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(cfg).eval()


def _ranges(model):
    return [v for m in an.analog_layers(model).values() for v in (float(m.input_range), float(m.out_bound))]


def _tokens(n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 50, (n, 8), generator=g)
    mask = torch.ones(n, 8, dtype=torch.long)
    mask[:, 6:] = 0  # padding, as a tokenizer makes it
    return {"input_ids": ids, "attention_mask": mask}


def test_bert_calibrates_with_tokenizer_dicts_and_evaluates(bert):
    import copy

    cfg = _calibrated()
    model = an.convert_(copy.deepcopy(bert), cfg)
    names = set(an.analog_layers(model))
    assert {"classifier", "bert.encoder.layer.0.attention.self.query"} <= names
    before = {n: float(m.out_bound) for n, m in an.analog_layers(model).items()}
    an.calibrate_(model, _tokens(12, 0))
    one = _ranges(model)
    assert all(float(m.out_bound) != before[n] for n, m in an.analog_layers(model).items())
    # the same examples as a list of tokenizer outputs and as a DataLoader of dicts: the same ranges
    d = _tokens(12, 0)
    again = an.convert_(copy.deepcopy(bert), cfg)
    an.calibrate_(again, [{k: v[:5] for k, v in d.items()}, {k: v[5:] for k, v in d.items()}])
    assert _ranges(again) == pytest.approx(one, rel=1e-6)
    rows = [{k: v[i] for k, v in d.items()} for i in range(12)]
    loader = DataLoader(rows, batch_size=4)
    third = an.convert_(copy.deepcopy(bert), cfg)
    an.calibrate_(third, loader)
    assert _ranges(third) == pytest.approx(one, rel=1e-6)
    with torch.no_grad():
        out = model(**_tokens(4, 1))
    assert out.logits.shape == (4, 3) and torch.isfinite(out.logits).all()


def test_bert_accuracy_over_time_and_sensitivity_with_dicts(bert):
    import copy

    d = {**_tokens(16, 2), "labels": torch.arange(16) % 3}
    model = an.convert_(copy.deepcopy(bert), an.presets.pcm())
    an.calibrate_(model, d)
    res = accuracy_over_time(model, d, (3600.0,), repeats=2, progress=False)
    with torch.no_grad():
        work = copy.deepcopy(model).eval()
        an.unprogram_(work)
        expect = float((work(**d).logits.argmax(-1) == d["labels"]).double().mean())
    assert res.baseline == pytest.approx(expect)
    sens = sensitivity(copy.deepcopy(bert), d, an.presets.pcm(), n_seeds=2, layers=["classifier"],
                       progress=False)
    assert sens.baseline == pytest.approx(float((bert(**d).logits.argmax(-1) == d["labels"]).double().mean()))


def test_compile_example_inputs_follow_the_convention():
    from analogue.compile.capture import as_args, infer_batch_size

    x, y = torch.randn(4, 3), torch.arange(4)
    assert as_args(x) == ((x,), {})
    assert as_args((x, y)) == ((x,), {})  # a DataLoader's (inputs, labels): the labels are not inputs
    assert as_args([x, x]) == ((x, x), {})
    ids = {"input_ids": torch.zeros(2, 5, dtype=torch.long)}
    assert as_args(ids) == ((), ids)
    assert infer_batch_size((torch.empty(0, 3),), {}) == 0
    with pytest.raises(TypeError, match="example_inputs must be one batch"):
        as_args(3)
