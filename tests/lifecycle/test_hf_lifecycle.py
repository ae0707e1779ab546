"""Hugging Face models through the whole lifecycle with the calls used for a CNN: convert_,
calibrate_ on tokenizer-style dicts, accuracy_over_time, program_, drift_, save, and load into a
fresh digital model in a new process that drifts on exactly as the original does."""

from __future__ import annotations

import copy

import pytest
import torch

import analogue as an

transformers = pytest.importorskip("transformers")

HOUR, DAY = 3600.0, 86_400.0

# both processes build the models from this one source
MODELS_SRC = '''
import torch
import transformers
import analogue as an

transformers.logging.set_verbosity_error()

def build(kind):
    torch.manual_seed(0)
    if kind == "gpt2":
        cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=32,
                                      bos_token_id=0, eos_token_id=0)
        return transformers.GPT2LMHeadModel(cfg).eval()
    cfg = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=32, num_labels=3)
    return transformers.BertForSequenceClassification(cfg).eval()

def reseed(model):
    for layer in an.analog_layers(model).values():
        layer.reseed(layer.noise_seed)
'''
_ns: dict = {}
exec(MODELS_SRC, _ns)  # noqa: S102 -- the test's own source, shared with the child process
build, reseed = _ns["build"], _ns["reseed"]

N_ANALOG = {"gpt2": 2 * 4 + 1, "bert": 2 * 6 + 2}  # c_attn, c_proj, c_fc, mlp.c_proj + lm_head;
# q, k, v, attention output, intermediate, output + pooler, classifier


def _tokens(n: int, length: int, seed: int) -> dict[str, torch.Tensor]:
    """What a tokenizer returns: ids and an attention mask (the last sequence padded)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 64, (n, length), generator=g)
    mask = torch.ones(n, length, dtype=torch.long)
    mask[-1, length // 2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gpt2", "bert"])
def test_hf_model_lifecycle_continues_in_a_fresh_process(kind, tmp_path, run_child):
    model = build(kind)
    calib = [_tokens(6, 12, 1), _tokens(6, 12, 2)]
    test = _tokens(8, 12, 3)
    with torch.no_grad():  # labels: the digital model's own top-1 (its accuracy is 1 by definition)
        labels = model(**test).logits.argmax(-1)
    data = [(test, labels)]

    # an ideal array reproduces the digital model exactly, through the same evaluation call
    ideal = an.convert_(copy.deepcopy(model), an.presets.ideal())
    point = an.analysis.accuracy_over_time(ideal, data, (HOUR,), repeats=1, compensation=("none",),
                                           progress=False).point(HOUR, "none")
    assert point.mean == 1.0

    an.convert_(model, an.presets.pcm())
    assert len(an.analog_layers(model)) == N_ANALOG[kind]
    if kind == "gpt2":
        assert model.lm_head.weight is model.transformer.wte.weight  # tied weights stay tied
    an.calibrate_(model, calib, progress=False)
    ranges = {n: float(layer.out_bound) for n, layer in an.analog_layers(model).items()}
    assert all(0.0 < r < 10.0 for r in ranges.values())  # calibrated from the dicts, not the default
    res = an.analysis.accuracy_over_time(model, data, (HOUR, DAY), repeats=2, progress=False)
    for t in (HOUR, DAY):
        p = res.point(t, "global")
        assert 0.0 <= p.mean <= 1.0 and p.n == 2

    an.program_(model, seed=7)
    an.drift_(model, HOUR, compensation="global")
    out = tmp_path / "saved"
    model.save_pretrained(out)  # the digital rest, the user's way
    an.save(model, out)
    torch.save(test, tmp_path / "test.pt")
    with torch.no_grad():
        reseed(model)
        y_hour = model(**test).logits
        an.drift_(model, DAY, compensation="global")
        reseed(model)
        y_day = model(**test).logits
    assert torch.isfinite(y_day).all()

    cls = type(model).__name__
    child = MODELS_SRC + f'''
torch.set_num_threads(1)
model = transformers.{cls}.from_pretrained({str(out)!r}).eval()
fresh = build({kind!r})
assert type(model) is type(fresh)
an.load({str(out)!r}, model)
test = torch.load({str(tmp_path / "test.pt")!r}, weights_only=True)
with torch.no_grad():
    y_hour = model(**test).logits
    an.drift_(model, {DAY!r}, compensation="global")
    reseed(model)
    y_day = model(**test).logits
tied = {kind == "gpt2"} and model.lm_head.weight is model.transformer.wte.weight
torch.save({{"hour": y_hour, "day": y_day, "n": len(an.analog_layers(model)), "tied": tied,
            "ranges": {{n: float(l.out_bound) for n, l in an.analog_layers(model).items()}}}},
           {str(tmp_path / "y.pt")!r})
'''
    run_child(child)
    got = torch.load(tmp_path / "y.pt", weights_only=True)
    assert got["n"] == N_ANALOG[kind]
    assert got["tied"] is (kind == "gpt2")
    assert got["ranges"] == ranges
    assert torch.equal(got["hour"], y_hour)
    assert torch.equal(got["day"], y_day)  # the same devices drift on in the new process
