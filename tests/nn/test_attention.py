"""Analog attention: Q K^T and A V on arrays written per sequence.

Oracles: the eager digital attention (a Hugging Face BertModel with digital attention) and
``x @ w``; the write noise against the device's programming-noise formula with bounds from the
sample size."""

import math

import pytest
import torch

import analogue as an
from analogue.config import ADCConfig, AnalogConfig, DACConfig, NoiseConfig
from analogue.config.attention import AttentionConfig
from analogue.config.device import DeviceConfig, ProgrammingNoise
from analogue.lifecycle.attention import analog_attention_, attention_modules
from analogue.nn.attention import AnalogGPT2Attention, AnalogSelfAttention
from analogue.physics.attention import dynamic_mvm, write_dynamic
from analogue.physics.devices import programming_std_uS

transformers = pytest.importorskip("transformers")

Z = 5.0
IDEAL = AnalogConfig(dac=DACConfig(bits=None), adc=ADCConfig(bits=None, clip=False))


def _bert(seed=0):
    torch.manual_seed(seed)
    c = transformers.BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=48, max_position_embeddings=24, attn_implementation="eager")
    return transformers.BertModel(c).eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 40, (3, 20), generator=g)
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 13:] = 0
    return ids, mask


def test_dynamic_mvm_with_ideal_parts_is_the_matmul_over_several_row_tiles():
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(5, 7, 300, generator=g), torch.randn(5, 300, 9, generator=g)
    cfg = IDEAL.replace(**{"tile.rows": 128})  # three row blocks
    y = dynamic_mvm(x, w, cfg, torch.Generator().manual_seed(0))
    assert torch.allclose(y, x @ w, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("rows", [256, 8])
def test_ideal_analog_attention_equals_eager_attention(rows):
    model = _bert()
    ids, mask = _inputs()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).last_hidden_state
        ideal = IDEAL.replace(**{"tile.rows": rows})
        analog_attention_(model, AttentionConfig(mode="analog", scores=ideal, values=ideal))
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert all(isinstance(m, AnalogSelfAttention) for m in attention_modules(model).values())
    assert torch.allclose(out, ref, atol=2e-5)


def test_converters_and_write_noise_change_the_output_and_the_seed_reproduces_it():
    model = _bert()
    ids, mask = _inputs()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).last_hidden_state
        cfg = AttentionConfig(mode="analog", scores=an.presets.pcm(), values=an.presets.pcm())
        analog_attention_(model, cfg, seed=3)
        a = model(input_ids=ids, attention_mask=mask).last_hidden_state
        b = model(input_ids=ids, attention_mask=mask).last_hidden_state  # new writes, new noise
        analog_attention_(model, cfg, seed=3)
        c = model(input_ids=ids, attention_mask=mask).last_hidden_state
    err = float((a - ref).norm() / ref.norm())
    assert 1e-5 < err < 0.05
    assert not torch.equal(a, b) and torch.equal(a, c)


def test_digital_mode_restores_the_hf_module_and_state_dict_keys_stay():
    model = _bert()
    ids, mask = _inputs()
    keys = list(model.state_dict())
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).last_hidden_state
        analog_attention_(model, AttentionConfig(mode="analog"))
        assert list(model.state_dict()) == keys
        analog_attention_(model, AttentionConfig())
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert all(type(m).__name__ == "BertSelfAttention" for m in attention_modules(model).values())
    assert torch.equal(out, ref) and list(model.state_dict()) == keys


def test_to_hf_builds_the_bert_module_on_its_childrens_device_and_dtype_without_drawing():
    """A model on the meta device comes back on the meta device (nothing is allocated on the default
    device); a bfloat16 model keeps its dtype; the global random stream is not drawn from."""
    with torch.device("meta"):
        meta = _bert()
    analog_attention_(meta, AttentionConfig(mode="analog"))
    analog_attention_(meta, AttentionConfig())
    assert all(type(m).__name__ == "BertSelfAttention" for m in attention_modules(meta).values())
    assert all(t.is_meta for t in meta.state_dict().values())
    model = _bert().to(torch.bfloat16)
    ref = {k: v.clone() for k, v in model.state_dict().items()}
    analog_attention_(model, AttentionConfig(mode="analog"))
    state = torch.get_rng_state()
    analog_attention_(model, AttentionConfig())
    assert torch.equal(torch.get_rng_state(), state)
    sd = model.state_dict()
    assert list(sd) == list(ref) and all(torch.equal(sd[k], ref[k]) and sd[k].dtype == ref[k].dtype for k in ref)


def test_converted_projections_stay_analog_under_analog_attention():
    model = _bert()
    an.convert_(model, an.presets.ideal())
    analog_attention_(model, AttentionConfig(mode="analog"))
    att = model.encoder.layer[0].attention.self
    assert isinstance(att.query, an.AnalogLinear) and isinstance(att, AnalogSelfAttention)


def test_write_noise_per_element_follows_the_programming_noise_formula():
    """Read weight of a differential pair written to w: mean w, std sqrt(s(G+)^2 + s(G-)^2) / span
    with s the device's polynomial (g_min high enough that the G >= 0 clamp never acts)."""
    prog = ProgrammingNoise(std_poly_frac_gmax=(0.01, 0.03, -0.01))
    dev = DeviceConfig(kind="pcm", programming=prog)
    g_max, g_min, n = 25.0, 5.0, 20_000
    span = g_max - g_min
    w = torch.tensor([-1.0, -0.4, 0.0, 0.3, 0.8, 1.0])
    reads = write_dynamic(w.expand(n, -1).contiguous(), dev, g_max, g_min, torch.Generator().manual_seed(0))
    g_pos = g_min + span * w.clamp_min(0)
    g_neg = g_min + span * (-w).clamp_min(0)
    sigma = (programming_std_uS(g_pos / g_max, prog, g_max) ** 2
             + programming_std_uS(g_neg / g_max, prog, g_max) ** 2).sqrt() / span
    mean, std = reads.mean(0), reads.std(0)
    assert ((mean - w).abs() <= Z * sigma / math.sqrt(n)).all()
    assert ((std - sigma).abs() <= Z * sigma / math.sqrt(2 * (n - 1))).all()


def test_dynamic_mvm_noise_scales_with_the_output_noise_setting():
    g = torch.Generator().manual_seed(0)
    x, w = torch.rand(1, 4000, 16, generator=g), torch.randn(1, 16, 1, generator=g)
    cfg = IDEAL.replace(noise=NoiseConfig(out_std_rel_fs=0.01), adc=ADCConfig(bits=None, out_bound=10.0, clip=False))
    y = dynamic_mvm(x, w, cfg, torch.Generator().manual_seed(1))
    # noise of std 0.01 * 10 in normalised units, times the input and weight scales per vector
    x_scale = x.abs().amax(-1, keepdim=True)
    z = ((y - x @ w) / (x_scale * w.abs().max())).flatten()
    n = z.numel()
    assert abs(float(z.std()) - 0.1) <= Z * 0.1 / math.sqrt(2 * (n - 1))


def test_attention_config_validates_and_round_trips():
    cfg = AttentionConfig(mode="analog", scores=an.presets.pcm(), values=an.presets.rram())
    assert AttentionConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(an.ConfigError, match="mode"):
        AttentionConfig(mode="hybrid")
    with pytest.raises(an.ConfigError, match="range_policy"):
        AttentionConfig(scores=AnalogConfig(dac=DACConfig(range_policy="calibrated")))
    with pytest.raises(an.ConfigError, match="did you mean 'scores'"):
        AttentionConfig.from_dict({"score": {}})


def test_models_without_supported_attention_fail_early():
    with pytest.raises(ValueError, match="no supported self-attention"):
        analog_attention_(torch.nn.Sequential(torch.nn.Linear(2, 2)), AttentionConfig(mode="analog"))
    with pytest.raises(TypeError, match="AttentionConfig"):
        analog_attention_(_bert(), an.presets.pcm())


def test_deepcopy_keeps_the_noise_stream():
    import copy

    model = _bert()
    ids, mask = _inputs()
    analog_attention_(model, AttentionConfig(mode="analog", scores=an.presets.pcm(), values=an.presets.pcm()))
    twin = copy.deepcopy(model)
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=mask).last_hidden_state
        b = twin(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.equal(a, b)


# --- GPT-2 ------------------------------------------------------------------------------------

def _gpt2(seed=0, attn="eager", **kw):
    torch.manual_seed(seed)
    c = transformers.GPT2Config(vocab_size=40, n_embd=32, n_layer=2, n_head=4, n_positions=24, bos_token_id=0,
                                eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                attn_implementation=attn, **kw)
    return transformers.GPT2LMHeadModel(c).eval()


def _gpt2_inputs():
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 40, (3, 20), generator=g)
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, :6] = 0  # left padding
    return ids, mask


@pytest.mark.parametrize("rows", [256, 8])
@pytest.mark.parametrize("kw", [{}, {"scale_attn_by_inverse_layer_idx": True, "reorder_and_upcast_attn": True}])
def test_ideal_analog_gpt2_attention_equals_eager_gpt2(rows, kw):
    model = _gpt2(**kw)
    ids, mask = _gpt2_inputs()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        ideal = IDEAL.replace(**{"tile.rows": rows})
        analog_attention_(model, AttentionConfig(mode="analog", scores=ideal, values=ideal))
        out = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    mods = attention_modules(model)
    assert len(mods) == 2 and all(isinstance(m, AnalogGPT2Attention) for m in mods.values())
    assert torch.allclose(out[mask.bool()], ref[mask.bool()], atol=2e-5)


def test_gpt2_without_mask_and_with_a_key_value_cache_equals_eager():
    """No attention mask (the module applies the causal mask, as sdpa's ``is_causal``; the
    oracle is the eager module given the causal mask), and greedy generation with the
    Hugging Face cache (the whole prefix written per step) against the digital model."""
    model = _gpt2()
    ids = _gpt2_inputs()[0][:, :8]
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
        gen_ref = model.generate(ids, max_new_tokens=6, do_sample=False, use_cache=True, pad_token_id=0)
        analog_attention_(model, AttentionConfig(mode="analog", scores=IDEAL, values=IDEAL))
        out = model(input_ids=ids).logits  # config.use_cache is True: a cache is built and filled
        att = model.transformer.h[0].attn
        h = torch.randn(3, 8, 32, generator=torch.Generator().manual_seed(0))
        y_none, _ = att(h, attention_mask=None)
        gen = model.generate(ids, max_new_tokens=6, do_sample=False, use_cache=True, pad_token_id=0)
        gen_nc = model.generate(ids, max_new_tokens=6, do_sample=False, use_cache=False, pad_token_id=0)
        analog_attention_(model, AttentionConfig())
        causal = torch.full((8, 8), torch.finfo(torch.float32).min).triu(1)[None, None]
        y_ref, _ = model.transformer.h[0].attn(h, attention_mask=causal)
    assert torch.allclose(out, ref, atol=2e-5)
    assert torch.allclose(y_none, y_ref, atol=2e-5)
    assert torch.equal(gen, gen_ref) and torch.equal(gen_nc, gen_ref)


@pytest.mark.parametrize("padded", [True, False])
def test_ideal_analog_gpt2_attention_equals_an_sdpa_gpt2(padded):
    """Under sdpa the model passes a boolean mask or none (causal implied): both are handled."""
    model = _gpt2(attn="sdpa")
    ids, mask = _gpt2_inputs()
    mask = mask if padded else None
    keep = mask.bool() if padded else slice(None)
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        analog_attention_(model, AttentionConfig(mode="analog", scores=IDEAL, values=IDEAL))
        out = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    assert torch.allclose(out[keep], ref[keep], atol=2e-5)


def test_gpt2_digital_mode_restores_the_hf_module_and_state_dict_keys_stay():
    model = _gpt2()
    ids, mask = _gpt2_inputs()
    keys = list(model.state_dict())
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        analog_attention_(model, AttentionConfig(mode="analog"))
        assert list(model.state_dict()) == keys
        analog_attention_(model, AttentionConfig())
        out = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    mods = attention_modules(model)
    assert all(type(m).__name__ == "GPT2Attention" for m in mods.values())
    assert not any(t.is_meta for t in model.state_dict().values())
    assert torch.equal(out, ref) and list(model.state_dict()) == keys


def test_gpt2_noise_changes_the_output_and_the_seed_reproduces_it():
    model = _gpt2()
    ids, mask = _gpt2_inputs()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    cfg = AttentionConfig(mode="analog", scores=an.presets.pcm(), values=an.presets.pcm())
    analog_attention_(model, cfg, seed=3)
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        analog_attention_(model, cfg, seed=3)
        c = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    err = float((a - ref)[mask.bool()].norm() / ref[mask.bool()].norm())
    assert 1e-5 < err < 0.05 and torch.equal(a, c)


def test_converted_gpt2_projections_stay_analog_under_analog_attention():
    model = _gpt2()
    ids, mask = _gpt2_inputs()
    an.convert_(model, an.presets.ideal())
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        analog_attention_(model, AttentionConfig(mode="analog", scores=IDEAL, values=IDEAL))
        out = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    att = model.transformer.h[0].attn
    assert isinstance(att, AnalogGPT2Attention) and type(att.c_attn).__name__ == "AnalogHFConv1D"
    assert torch.allclose(out[mask.bool()], ref[mask.bool()], atol=2e-5)


def test_gpt2_cross_attention_stays_digital_and_is_refused_directly():
    model = _gpt2(add_cross_attention=True)
    analog_attention_(model, AttentionConfig(mode="analog"))
    block = model.transformer.h[0]
    assert isinstance(block.attn, AnalogGPT2Attention)
    assert type(block.crossattention).__name__ == "GPT2Attention"
    with pytest.raises(TypeError, match="cross-attention"):
        AnalogGPT2Attention.from_hf(block.crossattention, AttentionConfig(mode="analog"))


def test_training_through_ideal_analog_attention_gives_the_eager_gradients():
    """Gradients flow through the dynamic arrays (the scales of K^T and V are activations):
    with ideal converters and device they equal the eager model's."""
    ids, mask = _inputs()
    ref, model = _bert(), _bert()
    ideal = IDEAL.replace(**{"tile.rows": 8})
    analog_attention_(model, AttentionConfig(mode="analog", scores=ideal, values=ideal))
    for m in (ref, model):  # eval mode: no dropout, so both see the same computation
        m(input_ids=ids, attention_mask=mask).last_hidden_state.square().mean().backward()
    g_ref = ref.encoder.layer[0].attention.self.query.weight.grad
    g = model.encoder.layer[0].attention.self.query.weight.grad
    assert g is not None and g.abs().sum() > 0
    assert torch.allclose(g, g_ref, rtol=1e-3, atol=1e-6)
