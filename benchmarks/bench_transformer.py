"""The GPT-2-class causal LM of ``analogue.apps.transformers`` (4 layers, 256 wide, word vocabulary
of the generated text): memory and training-step time, analog and HWA against digital (CPU).

- model memory: bytes of the distinct storages behind parameters and buffers
  (``apps.transformers.model_bytes``), digital vs converted with ``presets.pcm()`` (target:
  <= 1.3x; the converted model holds no second copy of its weights);
- training-step peak memory: the peak resident memory one training step (forward, backward,
  AdamW step, HWA weight clipping) adds on top of the model and optimizer state, in a fresh
  process (``common.peak_rss_delta_mb``), digital vs HWA (target: <= 1.5x);
- step time: median of interleaved steps, digital vs analog (pcm(), no perturbation) vs HWA
  (pcm() device model sampled at 1 year every batch, clipping at 3 sigma);
- bf16: the converted model in bfloat16, one forward and backward (finite gradients).

- HWA step time against aihwkit-lightning on the same model, side by side in one run: the digital
  model, analogue's HWA model (as above), a copy with GPT-2's ``Conv1D`` projections swapped for
  the equivalent ``nn.Linear`` (``bench_gpu.hf_conv1d_to_linear_``: aihwkit-lightning converts
  ``nn.Linear`` only) digital, and that copy converted by aihwkit-lightning for HWA
  (``bench_peers._lightning_config``: the same periphery as ``presets.pcm()``, 8-bit DAC with a
  per-vector dynamic range, 256-row tiles, output noise 0.4 % of an ADC range of 10, 8-bit ADC;
  its HWA is additive per-channel weight noise of 6 % and 2.5 sigma per-channel clipping, applied
  by its ``AnalogOptimizer`` after every step), all four interleaved per repeat, medians. Skipped
  with a message when aihwkit-lightning is not installed (``make bench-peers`` installs it).

Run: python benchmarks/bench_transformer.py [--batch 16] [--seq 32] [--reps 5] [--peer-reps 7]
[--device cuda]: models (the aihwkit-lightning peer's too), tokens and steps on that device, each
timed step ending with it synchronised; the training-step peak memory (resident memory of a fresh
CPU process) is measured on the CPU only and skipped on another device.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import (
    add_device_argument,
    md_table,
    on_device,
    peak_rss_delta_mb,
    resolve_device,
    time_pair,
)

import analogue as an
from analogue.apps.transformers import lm_loss, model_bytes
from analogue.data.pretrained import small_gpt2
from analogue.data.text import WordVocab, lm_tokens
from analogue.train import HWAOptions, clip_weights_, hwa_

HWA = HWAOptions(device_noise_scale=1.0, device_time_s=3.15e7, clip_weights_sigma=3.0)

SETUP = """
import copy, torch, analogue as an
from analogue.apps.transformers import lm_loss
from analogue.data.pretrained import small_gpt2
from analogue.data.text import WordVocab, lm_tokens
from analogue.train import HWAOptions, clip_weights_, hwa_
ids = lm_tokens({batch}, {seq}, seed=0)
model = small_gpt2(len(WordVocab.of_grammar()), n_positions={seq})
kind = "{kind}"
opts = HWAOptions(device_noise_scale=1.0, device_time_s=3.15e7, clip_weights_sigma=3.0)
if kind != "digital":
    an.convert_(model, an.presets.pcm())
    an.calibrate_(model.eval(), ids)
    if kind == "hwa":
        hwa_(model, opts)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
def step():
    opt.zero_grad(set_to_none=True)
    lm_loss(model, ids).backward()
    opt.step()
    if kind == "hwa":
        clip_weights_(model, 3.0)
step()  # optimizer state exists before the measurement
"""


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, ids: torch.Tensor, clip: bool):
    def run() -> None:
        opt.zero_grad(set_to_none=True)
        lm_loss(model, ids).backward()
        opt.step()
        if clip:
            clip_weights_(model, 3.0)
    return on_device(run, ids.device)


def time_interleaved(fns: dict[str, Callable[[], object]], reps: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each of ``fns``, run in turn within every repeat so machine noise hits
    them alike (``common.time_pair`` for more than two)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def peer_rows(digital: torch.nn.Module, hwa: torch.nn.Module, ids: torch.Tensor, reps: int) -> list[dict]:
    """HWA step time of analogue and aihwkit-lightning on the same model against digital (see the
    module docstring); ``[]`` when aihwkit-lightning is not installed."""
    try:
        from aihwkit_lightning.nn.conversion import convert_to_analog
        from aihwkit_lightning.optim import AnalogOptimizer
        from bench_gpu import hf_conv1d_to_linear_
        from bench_peers import _lightning_config
    except ImportError:
        print("\naihwkit-lightning is not installed (make bench-peers installs it): its step is skipped")
        return []
    lin = hf_conv1d_to_linear_(copy.deepcopy(digital)).to(ids.device)
    peer = convert_to_analog(copy.deepcopy(lin), _lightning_config(True)).to(ids.device)
    models = {"digital": digital, "analogue HWA": hwa, "digital (nn.Linear copy)": lin,
              "aihwkit-lightning HWA": peer}
    steps = {}
    for name, m in models.items():
        m.train()
        if name == "aihwkit-lightning HWA":
            opt = AnalogOptimizer(torch.optim.AdamW, m.analog_layers, m.parameters(), lr=1e-4)
        else:
            opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        steps[name] = _step(m, opt, ids, name == "analogue HWA")
    t = time_interleaved(steps, reps=reps, warmup=1)
    base = {"digital": "digital", "analogue HWA": "digital", "digital (nn.Linear copy)": "digital (nn.Linear copy)",
            "aihwkit-lightning HWA": "digital (nn.Linear copy)"}
    n_peer = sum(1 for _ in peer.analog_layers())
    print(f"\naihwkit-lightning: {n_peer} analog layers in its converted copy")
    return [{"step": k, "ms": v * 1e3, "vs digital": v / t[base[k]]} for k, v in t.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--peer-reps", type=int, default=7)
    add_device_argument(ap)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    vocab = len(WordVocab.of_grammar())
    ids = lm_tokens(args.batch, args.seq, seed=0).to(dev)
    digital = small_gpt2(vocab, n_positions=args.seq).to(dev)
    analog = copy.deepcopy(digital)
    an.convert_(analog, an.presets.pcm())
    an.calibrate_(analog.eval(), ids)
    mem = [{"model": "digital", "MiB": model_bytes(digital) / 2**20, "ratio": 1.0},
           {"model": "converted pcm()", "MiB": model_bytes(analog) / 2**20,
            "ratio": model_bytes(analog) / model_bytes(digital)}]
    print(f"GPT-2-class LM: {sum(p.numel() for p in digital.parameters()) / 1e6:.2f} M parameters, "
          f"batch {args.batch} x {args.seq} tokens, {torch.get_num_threads()} threads")
    print("\nModel memory (distinct parameter and buffer storages)\n" + md_table(mem))

    if dev.type == "cpu":
        peaks = {k: peak_rss_delta_mb(SETUP.format(batch=args.batch, seq=args.seq, kind=k), "step()")
                 for k in ("digital", "analog", "hwa")}
        rows = [{"step": k, "peak_MiB": v, "ratio": v / peaks["digital"]} for k, v in peaks.items()]
        print("\nTraining-step peak memory (added on top of model and optimizer state)\n" + md_table(rows))

    hwa = copy.deepcopy(analog)
    hwa_(hwa, HWA)
    models = {"analog": (analog, False), "hwa": (hwa, True)}
    d_opt = torch.optim.AdamW(digital.train().parameters(), lr=1e-4)
    times = []
    for name, (m, clip) in models.items():
        m.train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        td, ta = time_pair(_step(digital, d_opt, ids, False), _step(m, opt, ids, clip), reps=args.reps, warmup=1)
        times.append({"step": name, "digital_ms": td * 1e3, "ms": ta * 1e3, "ratio": ta / td})
    print("\nTraining-step time (median of interleaved steps)\n" + md_table(times))
    rows = peer_rows(digital, hwa, ids, args.peer_reps)
    if rows:
        print("\nHWA step, analogue and aihwkit-lightning on the same model (median of "
              f"{args.peer_reps} interleaved repeats; each against its own digital model)\n" + md_table(rows))

    bf = copy.deepcopy(analog).to(torch.bfloat16).train()
    loss = lm_loss(bf, ids)
    loss.backward()
    finite = all(bool(torch.isfinite(p.grad).all()) for p in bf.parameters() if p.grad is not None)
    print(f"\nbf16 converted model: loss {float(loss.detach()):.3f}, gradients finite: {finite}")


if __name__ == "__main__":
    main()
