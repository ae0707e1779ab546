"""convert_ on Hugging Face models built from small configs (no downloads): GPT-2 (Conv1D layers,
lm_head tied to the token embedding) and BERT; and convert_ and compile make the same layers analog."""

import copy
import logging

import pytest
import torch

import analogue as an

transformers = pytest.importorskip("transformers")
from transformers.pytorch_utils import Conv1D  # noqa: E402

GPT2_CONV1D = {f"transformer.h.{i}.{p}" for i in range(2) for p in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}


def _gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=100, n_positions=32,
                                  bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(cfg).eval()


def _bert():
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=32, num_labels=3)
    return transformers.BertForSequenceClassification(cfg).eval()


def _ids():
    return torch.randint(0, 100, (2, 8), generator=torch.Generator().manual_seed(1))


def _check_like_digital(model, inputs, logits_of, expected_analog):
    """convert_ with ideal converters: the expected layers analog, outputs and gradients equal the
    digital model's, the gradients land on the original Parameter objects, state_dict keys kept."""
    digital = copy.deepcopy(model)
    params = dict(model.named_parameters())
    keys = set(model.state_dict())
    an.convert_(model, an.presets.ideal())
    assert set(an.analog_layers(model)) == expected_analog
    assert keys <= set(model.state_dict())  # only the analog buffers are new
    assert {k for k in model.state_dict() if k.endswith((".weight", ".bias"))} == \
        {k for k in keys if k.endswith((".weight", ".bias"))}
    assert dict(model.named_parameters()).keys() == params.keys()
    assert all(p is params[n] for n, p in model.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(logits_of(model(**inputs)), logits_of(digital(**inputs)), rtol=1e-5, atol=1e-5)
    logits_of(model(**inputs)).square().mean().backward()
    logits_of(digital(**inputs)).square().mean().backward()
    ref_grads = dict(digital.named_parameters())
    for n, p in params.items():
        assert p.grad is not None, n
        torch.testing.assert_close(p.grad, ref_grads[n].grad, rtol=1e-4, atol=1e-6, msg=n)


def test_gpt2_every_conv1d_and_lm_head_analog_tied_weights_stay_tied():
    model = _gpt2()
    assert model.lm_head.weight is model.transformer.wte.weight
    _check_like_digital(model, {"input_ids": _ids()}, lambda out: out.logits, GPT2_CONV1D | {"lm_head"})
    for name in GPT2_CONV1D:
        layer = model.get_submodule(name)
        assert isinstance(layer, an.AnalogHFConv1D) and layer.layer_name == name
        assert layer.weight.shape == (layer.nx, layer.nf)  # stored (in, out) as Conv1D
    assert isinstance(model.lm_head, an.AnalogLinear)
    assert model.lm_head.weight is model.transformer.wte.weight
    an.to_digital_(model)
    assert type(model.transformer.h[0].attn.c_attn) is Conv1D
    assert model.lm_head.weight is model.transformer.wte.weight


def test_bert_every_linear_analog():
    model = _bert()
    expected = {n for n, m in model.named_modules() if type(m) is torch.nn.Linear}
    assert len(expected) == 2 * 6 + 2  # q, k, v, attention output, intermediate, output; pooler, classifier
    _check_like_digital(model, {"input_ids": _ids()}, lambda out: out.logits, expected)


def test_gpt2_conversion_report_and_log(caplog):
    model = _gpt2()
    ids = _ids()
    with caplog.at_level(logging.INFO, logger="analogue.lifecycle.convert"):
        an.convert_(model, an.presets.ideal(), rules={"lm_head": None}, example_inputs=ids)
    rep = an.conversion_report(model, {"lm_head": None}, example_inputs=ids)
    assert set(rep.analog) == GPT2_CONV1D
    digital = {d.name: d for d in rep.digital}
    assert set(digital) == {"transformer.wte", "transformer.wpe", "lm_head"}
    assert digital["lm_head"].reason == "kept digital by rules['lm_head']"
    assert digital["transformer.wte"].kind == "Embedding" and "table lookup" in digital["transformer.wte"].reason
    # MACs per token: 12 d^2 per block (c_attn 3 d^2, c_proj d^2, c_fc 4 d^2, c_proj 4 d^2); lm_head d * vocab
    tokens, d = ids.numel(), 64
    assert rep.analog_macs == tokens * 2 * 12 * d * d
    assert rep.total_macs == rep.analog_macs + tokens * d * 100
    assert rep.mac_share == pytest.approx(24 * d / (24 * d + 100))
    (record,) = [r for r in caplog.records if r.name == "analogue.lifecycle.convert"]
    assert record.levelno == logging.INFO and record.getMessage() == f"convert_: {rep.summary()}"
    assert "8 layer(s) analog (" in record.getMessage() and "% of the MACs" in record.getMessage()
    # without inputs the share is of the parameters, and says so
    plain = an.conversion_report(model)
    assert plain.mac_share is None and "of the model's parameters" in plain.summary()
    conv_weights = sum(model.get_submodule(n).weight.numel() for n in GPT2_CONV1D)
    assert plain.analog_weight_elems == conv_weights
    assert plain.total_param_elems == sum(p.numel() for p in model.parameters())


def test_gpt2_report_names_the_tied_weights():
    model = an.convert_(_gpt2(), an.presets.ideal())
    rep = an.conversion_report(model)
    assert rep.tied == (("transformer.wte", "lm_head"),)
    assert "transformer.wte = lm_head" in rep.summary()


@pytest.mark.parametrize("make", [_gpt2, _bert], ids=["gpt2", "bert"])
def test_convert_and_compile_make_the_same_layers_analog(make):
    model = make()
    ids = _ids()
    prog = an.compile(model, {"input_ids": ids}, cfg=an.presets.ideal())
    converted = an.convert_(make(), an.presets.ideal())
    placed = {lp.name for lp in prog.analog_layers}
    assert placed == set(an.analog_layers(prog.model)) == set(an.analog_layers(converted))
    assert not any("run digitally" in n for n in prog.notes)
    with torch.no_grad():
        torch.testing.assert_close(prog.model(input_ids=ids).logits, converted(input_ids=ids).logits,
                                   rtol=1e-5, atol=1e-5)
