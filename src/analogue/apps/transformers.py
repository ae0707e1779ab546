"""Transformers on analog hardware: a real pretrained sentence encoder and a GPT-2-class language
model, digital vs analog, before and after hardware-aware (HWA) fine-tuning, plus compile and
cost on chip presets. ``analogue transformer`` prints the tables.

Encoder (all-MiniLM-L6-v2, ``analogue.data.pretrained.minilm``): for each hardware setting a copy
of the model is converted, calibrated on generated sentences (``calibrate_``), and for device
presets programmed (``program_``), drifted (``drift_``) and globally drift-compensated
(``compensate_drift_``). Quality is measured on the 80 hand-graded sentence pairs of
``analogue.data.sentence_pairs``: the mean cosine of each sentence's analog embedding to its
digital embedding, and the Spearman correlation of the pairs' analog cosines with the digital
model's pair cosines (and with the gold grades).

HWA fine-tuning distils the digital teacher into the converted student: on generated sentences
(``analogue.data.text``), loss ``1 - cos`` of the pooled embeddings plus ``1 - cos`` of every
token's last hidden state, with the weight perturbation of ``train.hwa`` (the device model's
noise aged to the deployment time), per-column weight clipping after each step
(``clip_weights_``) and a warmed-up cosine learning-rate schedule (``warmup_cosine``). ``apps.training``'s loop is not reused: it trains classifiers on
``(x_train, y_train)`` tensors with cross-entropy or logit distillation; here the inputs are
tokenizer dicts and the losses are embedding and next-token losses, so the loop below is the
plain ``zero_grad / loss / backward / step / clip`` of that loop with another loss.

On a torch device (``run_transformers(device=)``) the models, the token batches and the text ids
live there; every helper takes the device from its model's parameters. The batch orders and the
generated text are drawn on the CPU, so they are the same on every device; the scores are
gathered on the CPU.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue.apps._device import as_device
from analogue.compile import compile as compile_model
from analogue.config import AnalogConfig, chips, presets
from analogue.cost.estimate import estimate_cost
from analogue.data.pretrained import embed, mean_pool, minilm, small_gpt2, tokenize
from analogue.data.sentence_pairs import SENTENCE_PAIRS
from analogue.data.text import WordVocab, generate_sentences, lm_tokens
from analogue.lifecycle.calibrate import OUTPUT_CORRECTIONS, calibrate_, calibrate_outputs_
from analogue.lifecycle.convert import convert_, to_digital_
from analogue.lifecycle.devices import compensate_drift_, drift_, program_
from analogue.nn.int8 import quantize_int8_
from analogue.train.hwa import HWAOptions, clip_weights_, hwa_, reseed_noise_

HOUR, DAY, YEAR = 3600.0, 86_400.0, 365.25 * 86_400.0


def _on_model(model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """``batch`` (token tensors) on ``model``'s device (itself on the CPU: nothing moves)."""
    dev = next(model.parameters()).device
    return {k: v.to(dev) for k, v in batch.items()}


@dataclass(frozen=True)
class Setting:
    """One hardware setting of the tables: a preset and, for a device preset, the time after
    programming at which the model is read (``None``: not programmed; the core's converters and
    output noise only). ``digital``: module names or ``"re:<regex>"`` patterns (``convert_``'s
    rules) of layers kept on the digital unit, int8 (a hybrid placement; ``()``: all analog).
    ``correction``: the per-output correction fitted on the calibration data after the global
    drift compensation (``calibrate_outputs_``'s mode: ``"none"``, or ``"affine"``, a gain and an
    offset per column; a device setting only)."""

    name: str
    cfg: Callable[[], AnalogConfig]
    t_s: float | None = None
    digital: tuple[str, ...] = ()
    correction: str = "none"

    def __post_init__(self) -> None:
        if isinstance(self.digital, str) or not all(isinstance(d, str) and d for d in self.digital):
            raise ValueError(f"Setting.digital: a tuple of module names or 're:' patterns, got {self.digital!r}")
        object.__setattr__(self, "digital", tuple(self.digital))
        if self.correction not in OUTPUT_CORRECTIONS:
            raise ValueError(f"Setting.correction: one of {OUTPUT_CORRECTIONS}, got {self.correction!r}")
        if self.correction != "none" and self.t_s is None:
            raise ValueError("Setting.correction: an output correction needs a programmed device; give t_s")


def unit_cell(cfg: AnalogConfig, n_devices: int) -> AnalogConfig:
    """``cfg`` with each weight held by ``n_devices`` devices of its kind programmed to the same
    target and read together (as IBM HERMES's unit cell of four PCM devices): the conductances add,
    so every device-to-device random term averages over the ``n_devices``. Modelled by dividing the
    standard deviation of each per-device term -- programming noise, device-to-device gain
    variability, the drift exponent's spread, the read noise (1/f and per read) -- by
    ``sqrt(n_devices)``; the means (hence the drift's decay) and the
    periphery (converters, output noise) are unchanged. An approximation for the drift: the mean
    of ``n`` log-normal decays is not exactly a log-normal of ``1/sqrt(n)`` the spread (first order
    in ``sigma_nu ln(t/t0)``, 0.64 at 1 year near ``g = 0``)."""
    if isinstance(n_devices, bool) or not isinstance(n_devices, int) or n_devices < 1:
        raise ValueError(f"unit_cell: n_devices must be an int >= 1, got {n_devices!r}")
    k = math.sqrt(n_devices)
    d = cfg.device
    prog = replace(d.programming, std_poly_frac_gmax=tuple(c / k for c in d.programming.std_poly_frac_gmax))
    dr = replace(d.drift, nu_std_at_g1=d.drift.nu_std_at_g1 / k, nu_std_per_ln_g=d.drift.nu_std_per_ln_g / k,
                 nu_std_bounds=(d.drift.nu_std_bounds[0] / k, d.drift.nu_std_bounds[1] / k))
    rn = replace(d.read_noise, flicker_coeff=d.read_noise.flicker_coeff / k, flicker_max=d.read_noise.flicker_max / k,
                 per_read_std_frac=d.read_noise.per_read_std_frac / k)
    var = replace(d.variability, gain_std_rel=d.variability.gain_std_rel / k)
    return replace(cfg, device=replace(d, programming=prog, variability=var, drift=dr, read_noise=rn))


def output_noise_scaled(cfg: AnalogConfig, factor: float) -> AnalogConfig:
    """``cfg`` with its output noise times ``factor`` (for HWA training: the drift compensation
    multiplies the output noise by its gain, about 2 for pcm() at 1 year, see
    :func:`compensation_gain`)."""
    if not factor >= 0:
        raise ValueError(f"output_noise_scaled: factor must be >= 0, got {factor!r}")
    return replace(cfg, noise=replace(cfg.noise, out_std_rel_fs=cfg.noise.out_std_rel_fs * factor))


def compensation_gain(model: nn.Module, calib: Any, setting: Setting, seed: int = 0) -> float:
    """Mean drift-compensation gain of a copy of ``model`` deployed as ``setting``: the factor by
    which the digital periphery multiplies every output, output noise included."""
    deployed = deploy_(copy.deepcopy(model), setting, calib, seed)
    gains = [b.flatten() for n, b in deployed.named_buffers() if n.endswith("prog_comp")]
    if not gains:
        raise ValueError("compensation_gain: the setting programs no device (give t_s and a device preset)")
    return float(torch.cat(gains).float().mean())


def default_settings() -> tuple[Setting, ...]:
    """standard(); pcm() at 1 hour, 1 day, 1 year; rram() at 1 day."""
    return (Setting("standard()", presets.standard),
            Setting("pcm() 1 h", presets.pcm, HOUR), Setting("pcm() 1 d", presets.pcm, DAY),
            Setting("pcm() 1 y", presets.pcm, YEAR), Setting("rram() 1 d", presets.rram, DAY))


def affine_settings() -> tuple[Setting, ...]:
    """pcm() at 1 hour, 1 day, 1 year with the per-output affine correction on top of the global
    compensation (``Setting.correction="affine"``): rows of their own."""
    return tuple(Setting(f"pcm() {label}, affine", presets.pcm, t, correction="affine")
                 for label, t in (("1 h", HOUR), ("1 d", DAY), ("1 y", YEAR)))


def variant_settings(digital: Sequence[str] = (), devices_per_weight: int = 1) -> tuple[Setting, ...]:
    """Rows of their own beside the all-analog ones, at pcm() 1 d and 1 y: with the ``digital``
    layers on the digital unit (hybrid placement, ``Setting.digital``), and with
    ``devices_per_weight`` devices per weight (:func:`unit_cell`; 1: no such rows)."""
    out: list[Setting] = []
    if devices_per_weight != 1:
        for label, t in (("1 d", DAY), ("1 y", YEAR)):
            out.append(Setting(f"pcm() {label}, {devices_per_weight} devices/weight",
                               lambda n=devices_per_weight: unit_cell(presets.pcm(), n), t))
    if digital:
        for label, t in (("1 d", DAY), ("1 y", YEAR)):
            out.append(Setting(f"pcm() {label}, {len(digital)} digital", presets.pcm, t, tuple(digital)))
    return tuple(out)


def deploy_(model: nn.Module, setting: Setting, calib: Any, seed: int = 0) -> nn.Module:
    """Convert ``model`` (in place) as ``setting`` says (its ``digital`` layers int8 on the digital
    unit), calibrate it on ``calib``, and for a device preset program, drift to ``setting.t_s``,
    compensate drift globally and fit ``setting.correction`` on ``calib``; eval mode."""
    rules = {d: None for d in setting.digital} or None
    convert_(model, setting.cfg(), rules=rules, seed=seed)
    if rules:
        quantize_int8_(model, [n for n, m in model.named_modules() if type(m) in (nn.Linear, nn.Conv1d, nn.Conv2d)])
    model.eval()
    calibrate_(model, calib)
    if setting.t_s is not None:
        program_(model, seed=seed)
        drift_(model, setting.t_s)
        compensate_drift_(model, "global")
        if setting.correction != "none":
            calibrate_outputs_(model, calib, setting.correction)
    return model


def spearman(a: Tensor, b: Tensor) -> float:
    """Spearman rank correlation (average ranks for ties) of two 1-D tensors."""
    def rank(v: Tensor) -> Tensor:
        v = v.double()
        order = v.argsort()
        r = torch.empty_like(v)
        r[order] = torch.arange(len(v), dtype=v.dtype)
        for u in v.unique():  # ties: average rank
            m = v == u
            if int(m.sum()) > 1:
                r[m] = r[m].mean()
        return r
    ra, rb = rank(a.flatten()), rank(b.flatten())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


class PairSet:
    """The sentence pairs, tokenized once, and the digital model's embeddings of them."""

    def __init__(self, teacher: nn.Module, tokenizer: Any,
                 pairs: Sequence[tuple[str, str, float]] = SENTENCE_PAIRS) -> None:
        self.tokenizer = tokenizer
        self.a = [p[0] for p in pairs]
        self.b = [p[1] for p in pairs]
        self.gold = torch.tensor([float(p[2]) for p in pairs])
        self.ea, self.eb = embed(teacher, tokenizer, self.a).cpu(), embed(teacher, tokenizer, self.b).cpu()
        self.digital_cos = (self.ea * self.eb).sum(1)

    def quality(self, model: nn.Module) -> dict[str, float]:
        """``cos_to_digital`` (mean over both sentences of every pair), ``spearman_vs_digital``,
        ``spearman_vs_gold`` of ``model``'s pair cosines."""
        xa, xb = embed(model, self.tokenizer, self.a).cpu(), embed(model, self.tokenizer, self.b).cpu()
        cos = 0.5 * float((xa * self.ea).sum(1).mean() + (xb * self.eb).sum(1).mean())
        pair = (xa * xb).sum(1)
        return {"cos_to_digital": cos, "spearman_vs_digital": spearman(pair, self.digital_cos),
                "spearman_vs_gold": spearman(pair, self.gold)}


def calibration_batch(tokenizer: Any, n: int = 64, seed: int = 10_007) -> dict[str, Tensor]:
    """Tokenized generated sentences (not the evaluation pairs) for ``calibrate_``."""
    return tokenize(tokenizer, generate_sentences(n, seed=seed))


QUALITY = ("cos_to_digital", "spearman_vs_digital", "spearman_vs_gold")
"""The scores of :meth:`PairSet.quality`, the columns of the encoder tables."""


def mean_std_rows(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of every score of ``runs`` (one dict per programming instance) and, for more than
    one, its sample standard deviation (``n - 1``) as ``<score>_std``."""
    out: dict[str, float] = {}
    for k in QUALITY:
        v = torch.tensor([r[k] for r in runs], dtype=torch.float64)
        out[k] = float(v.mean())
        if len(runs) > 1:
            out[f"{k}_std"] = float(v.std())
    return out


def encoder_table(weights: nn.Module, pairs: PairSet, settings: Sequence[Setting] | None = None,
                  seed: int = 0, instances: int = 1) -> list[dict[str, Any]]:
    """One row per setting (plus ``digital``): embedding quality of a converted copy of the
    digital model ``weights`` (``weights`` is left as it is). ``instances``: programming
    instances per setting, deployed with seeds ``seed, seed + 1, ...`` (programming and output
    noise); with more than one, each score is their mean and ``<score>_std`` their standard
    deviation (:func:`mean_std_rows`)."""
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ValueError(f"encoder_table: instances must be a positive integer, got {instances!r}")
    rows = [{"setting": "digital", **mean_std_rows([pairs.quality(weights)] * instances)}]
    calib = _on_model(weights, calibration_batch(pairs.tokenizer))
    for s in settings or default_settings():
        runs = [pairs.quality(deploy_(copy.deepcopy(weights), s, calib, seed + i)) for i in range(instances)]
        rows.append({"setting": s.name, **mean_std_rows(runs)})
    return rows


# -- HWA fine-tuning of the encoder ----------------------------------------------------------------
def encoder_hwa_options(t_s: float = YEAR) -> HWAOptions:
    """The HWA recipe for a PCM encoder read ``t_s`` after programming: the device model's
    programming noise, drift and read noise aged to ``t_s`` (globally compensated), and columns
    clipped to 3 standard deviations after each step."""
    return HWAOptions(device_noise_scale=1.0, device_time_s=t_s, clip_weights_sigma=3.0)


def distill_loss(student_hidden: Tensor, teacher_hidden: Tensor, mask: Tensor) -> Tensor:
    """``1 - cos`` of the mean-pooled embeddings plus the mean over real tokens of ``1 - cos`` of
    every token's hidden state."""
    pooled = 1.0 - (mean_pool(student_hidden, mask) * mean_pool(teacher_hidden, mask)).sum(-1).mean()
    tok = 1.0 - F.cosine_similarity(student_hidden, teacher_hidden, dim=-1)
    m = mask.to(tok.dtype)
    return pooled + (tok * m).sum() / m.sum()


SCHEDULES = ("warmup_cosine", "constant")
"""Learning-rate schedules of :func:`hwa_finetune_encoder`."""


def warmup_cosine(step: int, steps: int, warmup_steps: int) -> float:
    """Learning-rate factor of step ``step`` (0-based) of ``steps``: half a cosine from 1 at step 0
    down to 0 at step ``steps``, times a linear warm-up ``(step + 1) / warmup_steps`` over the first
    ``warmup_steps`` steps."""
    if not 0 < warmup_steps <= steps:
        raise ValueError(f"warmup_cosine: need 0 < warmup_steps <= steps, got {warmup_steps} and {steps}")
    return min(1.0, (step + 1) / warmup_steps) * 0.5 * (1.0 + math.cos(math.pi * step / steps))


def hwa_finetune_encoder(teacher: nn.Module, tokenizer: Any, cfg: AnalogConfig | None = None, *,
                         steps: int = 300, batch_size: int = 16, lr: float = 2e-4,
                         schedule: str = "warmup_cosine", options: HWAOptions | None = None, seed: int = 0,
                         on_step: Callable[[int, float], None] | None = None) -> tuple[nn.Module, list[float]]:
    """Distil ``teacher`` into an analog copy (``cfg``, default ``pcm()``) under ``options``
    (default ``encoder_hwa_options()``) for ``steps`` AdamW steps on generated sentences, the
    learning rate ``lr`` following ``schedule`` (``warmup_cosine``: :func:`warmup_cosine` with a
    tenth of the steps as warm-up; ``constant``); returns the fine-tuned model converted back to
    digital (its weights are what a chip is programmed with) and the loss per step. ``teacher`` is
    left as it is."""
    if schedule not in SCHEDULES:
        raise ValueError(f"hwa_finetune_encoder: schedule must be one of {SCHEDULES}, got {schedule!r}")
    options = options or encoder_hwa_options()
    student = copy.deepcopy(teacher)
    convert_(student, cfg or presets.pcm(), seed=seed)
    calibrate_(student.eval(), _on_model(student, calibration_batch(tokenizer)))
    hwa_(student, options, seed=seed)
    reseed_noise_(student, seed)
    if options.clip_weights_sigma is not None:
        clip_weights_(student, options.clip_weights_sigma)
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    warmup = max(1, steps // 10)
    text = generate_sentences(steps * batch_size, seed=seed + 1)
    teacher.eval()
    student.train()
    losses = []
    for step in range(steps):
        batch = _on_model(student, tokenize(tokenizer, text[step * batch_size:(step + 1) * batch_size]))
        with torch.no_grad():
            target = teacher(**batch).last_hidden_state
        if schedule == "warmup_cosine":
            for group in opt.param_groups:
                group["lr"] = lr * warmup_cosine(step, steps, warmup)
        opt.zero_grad(set_to_none=True)
        loss = distill_loss(student(**batch).last_hidden_state, target, batch["attention_mask"])
        loss.backward()
        opt.step()
        if options.clip_weights_sigma is not None:
            clip_weights_(student, options.clip_weights_sigma)
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
    return to_digital_(student.eval()), losses


# -- compile and cost --------------------------------------------------------------------------------
def cost_rows(model: nn.Module, tokenizer: Any, chip_names: Sequence[str] = ("hermes", "mythic_m1076"),
              n_tokens: int = 32) -> list[dict[str, Any]]:
    """Compile ``model`` (digital) on each chip preset for one sentence of ``n_tokens`` tokens
    and estimate its cost per inference."""
    ids = torch.full((1, n_tokens), 1000, dtype=torch.long)
    example = _on_model(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    rows = []
    for name in chip_names:
        chip = chips.get(name)
        prog = compile_model(model, example, chip=chip, reprogram=True)
        rep = estimate_cost(prog)
        rows.append({"chip": chip.name, "analog_layers": len(prog.analog_layers),
                     "MACs": rep.macs, "energy_uJ": rep.energy_J * 1e6, "latency_us": rep.latency_s * 1e6,
                     "TOPS_per_W": rep.tops_per_W, "area_mm2": rep.area_mm2})
    return rows


# -- GPT-2-class causal LM ---------------------------------------------------------------------------
def lm_loss(model: nn.Module, ids: Tensor) -> Tensor:
    """Mean next-token cross-entropy (nats) of ``model`` on ``ids`` ``(B, T)``."""
    logits = model(input_ids=ids).logits
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))


@torch.no_grad()
def perplexity(model: nn.Module, ids: Tensor, batch_size: int = 64) -> float:
    """``exp`` of the mean next-token cross-entropy over ``ids`` (the model's current mode)."""
    tot = 0.0
    for i in range(0, len(ids), batch_size):
        b = ids[i:i + batch_size]
        tot += float(lm_loss(model, b)) * len(b)
    return math.exp(tot / len(ids))


def train_lm(model: nn.Module, ids: Tensor, steps: int, batch_size: int = 32, lr: float = 1e-3,
             options: HWAOptions | None = None, seed: int = 0) -> list[float]:
    """``steps`` AdamW steps of next-token training on random batches of ``ids``; with
    ``options`` (an analog model) the HWA clipping after each step. Returns the losses."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(ids), (batch_size,), generator=g)
        opt.zero_grad(set_to_none=True)
        loss = lm_loss(model, ids[idx])
        loss.backward()
        opt.step()
        if options is not None and options.clip_weights_sigma is not None:
            clip_weights_(model, options.clip_weights_sigma)
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def lm_table(digital_steps: int = 300, hwa_steps: int = 150, seed: int = 0, seq_len: int = 32,
             times_s: Sequence[float] = (DAY, YEAR), device: torch.device | str = "cpu") -> dict[str, Any]:
    """Train ``small_gpt2`` on generated text digitally, then HWA fine-tune a PCM copy; perplexity
    on held-out generated text of the digital model, the digital model on PCM, and the HWA model
    on PCM (programmed, drifted, compensated) at each of ``times_s``. ``device``: the torch device
    of the models and the text."""
    dev = as_device(device)
    vocab = WordVocab.of_grammar()
    train_ids = lm_tokens(2048, seq_len, seed=seed).to(dev)
    test_ids = lm_tokens(128, seq_len, seed=seed + 99_991).to(dev)
    model = small_gpt2(len(vocab), n_positions=seq_len, seed=seed).to(dev)
    t0 = time.perf_counter()
    train_lm(model, train_ids, digital_steps, seed=seed)
    t_digital = time.perf_counter() - t0
    options = HWAOptions(device_noise_scale=1.0, device_time_s=max(times_s), clip_weights_sigma=3.0)
    student = copy.deepcopy(model)
    convert_(student, presets.pcm(), seed=seed)
    calibrate_(student.eval(), train_ids[:64])
    hwa_(student, options, seed=seed)
    clip_weights_(student, 3.0)
    t0 = time.perf_counter()
    train_lm(student, train_ids, hwa_steps, lr=3e-4, options=options, seed=seed + 1)
    t_hwa = time.perf_counter() - t0
    to_digital_(student)
    rows = [{"model": "digital", **{f"t={_t(t)}": perplexity(model, test_ids) for t in times_s}}]
    for label, weights in (("analog (digital weights)", model), ("analog (HWA fine-tuned)", student)):
        row: dict[str, Any] = {"model": label}
        for t in times_s:
            m = deploy_(copy.deepcopy(weights), Setting("pcm()", presets.pcm, t), train_ids[:64], seed)
            row[f"t={_t(t)}"] = perplexity(m, test_ids)
        rows.append(row)
    return {"rows": rows, "digital_s_per_step": t_digital / max(digital_steps, 1),
            "hwa_s_per_step": t_hwa / max(hwa_steps, 1), "vocab": len(vocab)}


def _t(t_s: float) -> str:
    return {HOUR: "1 h", DAY: "1 d", YEAR: "1 y"}.get(t_s, f"{t_s:g} s")


# -- the whole study -----------------------------------------------------------------------------------
def run_transformers(*, steps: int = 300, batch_size: int = 16, lr: float = 2e-4, lm_steps: int = 300,
                     lm_hwa_steps: int = 150, seed: int = 0, cost: bool = True, lm: bool = True,
                     on_step: Callable[[int, float], None] | None = None,
                     device: torch.device | str = "cpu", digital: Sequence[str] = (),
                     devices_per_weight: int = 1, correction: str = "affine",
                     instances: int = 1) -> dict[str, Any]:
    """The encoder table before and after HWA fine-tuning (``steps`` steps; 0: skip), the cost
    table (``cost``) and the language-model table (``lm``); timings in seconds. ``device``: the
    torch device of the models and their inputs. ``digital``, ``devices_per_weight``: extra rows
    of :func:`variant_settings` (the all-analog rows stay as they are). ``correction``:
    ``"affine"`` adds the rows of :func:`affine_settings`, ``"none"`` leaves them out.
    ``instances``: programming instances per encoder row (:func:`encoder_table`)."""
    if correction not in OUTPUT_CORRECTIONS:
        raise ValueError(f"run_transformers: correction must be one of {OUTPUT_CORRECTIONS}, got {correction!r}")
    dev = as_device(device)
    teacher, tok = minilm()
    teacher = teacher.to(dev)
    pairs = PairSet(teacher, tok)
    settings = default_settings() + (affine_settings() if correction == "affine" else ()) \
        + variant_settings(digital, devices_per_weight)
    out: dict[str, Any] = {"before": encoder_table(teacher, pairs, settings, seed=seed, instances=instances)}
    if steps > 0:
        t0 = time.perf_counter()
        tuned, losses = hwa_finetune_encoder(teacher, tok, steps=steps, batch_size=batch_size, lr=lr,
                                             seed=seed, on_step=on_step)
        out["hwa_seconds"] = time.perf_counter() - t0
        out["hwa_losses"] = losses
        out["after"] = encoder_table(tuned, pairs, settings, seed=seed, instances=instances)
    if cost:
        out["cost"] = cost_rows(teacher, tok)
    if lm:
        out["lm"] = lm_table(lm_steps, lm_hwa_steps, seed=seed, device=dev)
    return out


__all__ = ["DAY", "HOUR", "QUALITY", "YEAR", "PairSet", "SCHEDULES", "Setting", "affine_settings", "calibration_batch", "compensation_gain",
           "cost_rows", "default_settings", "deploy_", "distill_loss", "encoder_hwa_options", "encoder_table", "hwa_finetune_encoder",
           "lm_loss", "lm_table", "mean_std_rows", "model_bytes", "output_noise_scaled", "perplexity", "run_transformers",
           "spearman", "train_lm", "unit_cell", "variant_settings", "warmup_cosine"]


def model_bytes(model: nn.Module) -> int:
    """Bytes of the distinct storages behind ``model``'s parameters and buffers (a tensor sharing
    storage with another, like a tied embedding, counts once)."""
    seen: dict[int, int] = {}
    for t in (*model.parameters(), *model.buffers()):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())
