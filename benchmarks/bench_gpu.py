"""HWA training on a torch device: analogue against digital training and aihwkit-lightning.

What ``benchmarks/gpu.sh`` runs on a GPU (a few minutes on one H100-class card); ``--smoke`` runs
the same code at tiny sizes on the CPU (proves the script runs; its timings mean nothing).

1. ``models``: one training step (forward, backward, AdamW step, weight clipping for HWA) of
   - a GPT-2-small-class model (``transformers`` ``GPT2Config(n_layer=12, n_embd=768, n_head=12)``,
     sequence 256, batch 16, next-token loss). Its ``Conv1D`` projections are swapped for the
     equivalent ``nn.Linear`` first (aihwkit-lightning converts ``nn.Linear`` only), in every variant;
   - ResNet-18 (``analogue.data.models.resnet18_like``, 224x224 images, batch 128; no torchvision),
   as digital, analog (``presets.pcm()``, no perturbation) and HWA (``bench_hwa.py``'s recipe: 3x
   the PCM programming noise, 2.5 sigma clipping), fastest of ``--reps`` steps; float32 weights.
2. ``peer``: the same models converted by aihwkit-lightning (``bench_peers.py``'s configuration:
   the same periphery, additive weight noise and clipping per channel); its Triton mode when the
   environment sets ``AIHWKIT_USE_TRITON=1`` (``gpu.sh`` runs this part twice). Skipped with a
   message when aihwkit-lightning is not installed.
3. ``sweep``: aihwkit-lightning's own speed test: square layers 128..4608, batch 512, float16 on a
   GPU, forward + backward + AdamW step, ``nn.Linear`` against analogue's HWA layer (and
   aihwkit-lightning's when installed).

Writes ``results_<part>.json`` and ``results_<part>.md`` under ``--out`` (default ``$OUT`` when set,
else ``benchmarks/results``) and prints the table.

Run: python benchmarks/bench_gpu.py --device cuda [--parts models peer sweep] | --smoke
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from common import add_device_argument, md_table, resolve_device, synchronize  # noqa: E402

import analogue as an  # noqa: E402
from analogue.data.models import resnet18_like  # noqa: E402
from analogue.train import HWAOptions, clip_weights_, hwa_  # noqa: E402

HWA = HWAOptions(device_noise_scale=3.0, clip_weights_sigma=2.5)
SWEEP_SIZES = (128, 256, 512, 1024, 2048, 4096, 4608)


def hf_conv1d_to_linear_(model: torch.nn.Module) -> torch.nn.Module:
    """Swap every ``transformers`` ``Conv1D`` (``y = x W + b``, ``W`` stored ``(nx, nf)``) for the
    equivalent ``nn.Linear``, in place."""
    from transformers.pytorch_utils import Conv1D

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                nx, nf = child.weight.shape
                lin = torch.nn.Linear(nx, nf, device=child.weight.device, dtype=child.weight.dtype)
                with torch.no_grad():
                    lin.weight.copy_(child.weight.t())
                    lin.bias.copy_(child.bias)
                setattr(parent, name, lin)
    return model


def gpt2(smoke: bool) -> tuple[torch.nn.Module, int, int, int]:
    """``(model, batch, sequence, vocabulary)`` of the GPT-2-small-class case."""
    from transformers import GPT2Config, GPT2LMHeadModel

    if smoke:
        cfg = GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=16, vocab_size=128,
                         bos_token_id=0, eos_token_id=0)
        batch, seq = 2, 16
    else:
        cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=256)
        batch, seq = 16, 256
    torch.manual_seed(0)
    return hf_conv1d_to_linear_(GPT2LMHeadModel(cfg)), batch, seq, cfg.vocab_size


def _timed(step, device: torch.device, reps: int, warmup: int = 2) -> float:
    """Fastest of ``reps`` runs of ``step`` in seconds (the device synchronised around each)."""
    for _ in range(warmup):
        step()
    synchronize(device)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def _train_step(model: torch.nn.Module, batch: tuple, loss_fn, opt, clip: float | None):
    model.train()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model, batch).backward()
        opt.step()
        if clip is not None:
            clip_weights_(model, clip)

    return step


def _cases(device: torch.device, smoke: bool) -> list[tuple[str, torch.nn.Module, tuple, object]]:
    model, b, seq, vocab = gpt2(smoke)
    ids = torch.randint(0, vocab, (b, seq), device=device)

    def lm_loss(m, batch):
        return m(input_ids=batch[0], labels=batch[0]).loss

    size, nb = (32, 2) if smoke else (224, 128)
    rn = resnet18_like(10 if smoke else 1000)
    imgs = torch.randn(nb, 3, size, size, device=device)
    labels = torch.randint(0, 10 if smoke else 1000, (nb,), device=device)

    def ce_loss(m, batch):
        return F.cross_entropy(m(batch[0]), batch[1])

    return [(f"GPT-2 {'smoke' if smoke else 'small'} b{b} seq{seq}", model.to(device), (ids,), lm_loss),
            (f"ResNet-18 {size}x{size} b{nb}", rn.to(device), (imgs, labels), ce_loss)]


def run_models(device: torch.device, smoke: bool, reps: int) -> list[dict]:
    rows = []
    for name, model, batch, loss_fn in _cases(device, smoke):
        dig = copy.deepcopy(model)
        t_dig = _timed(_train_step(dig, batch, loss_fn, torch.optim.AdamW(dig.parameters(), 1e-4), None),
                       device, reps)
        ana = an.convert_(copy.deepcopy(model), an.presets.pcm())
        t_ana = _timed(_train_step(ana, batch, loss_fn, torch.optim.AdamW(ana.parameters(), 1e-4), None),
                       device, reps)
        hw = hwa_(an.convert_(copy.deepcopy(model), an.presets.pcm()), HWA)
        t_hwa = _timed(_train_step(hw, batch, loss_fn, torch.optim.AdamW(hw.parameters(), 1e-4),
                                   HWA.clip_weights_sigma), device, reps)
        rows.append({"model": name, "digital ms": 1e3 * t_dig, "analog ms": 1e3 * t_ana, "HWA ms": 1e3 * t_hwa,
                     "HWA / digital": t_hwa / t_dig})
        del dig, ana, hw
    return rows


def run_peer(device: torch.device, smoke: bool, reps: int) -> list[dict]:
    try:
        from aihwkit_lightning.nn.conversion import convert_to_analog
        from aihwkit_lightning.optim import AnalogOptimizer
        from bench_peers import _lightning_config
    except ImportError:
        print("aihwkit-lightning is not installed: peer part skipped")
        return []
    mode = "triton" if os.environ.get("AIHWKIT_USE_TRITON") == "1" else "torch"
    rows = []
    for name, model, batch, loss_fn in _cases(device, smoke):
        peer = convert_to_analog(copy.deepcopy(model), _lightning_config(True)).to(device)
        opt = AnalogOptimizer(torch.optim.AdamW, peer.analog_layers, peer.parameters(), lr=1e-4)
        t = _timed(_train_step(peer, batch, loss_fn, opt, None), device, reps)
        rows.append({"model": name, f"aihwkit-lightning HWA ({mode}) ms": 1e3 * t})
    return rows


def run_sweep(device: torch.device, smoke: bool, reps: int, dtype: torch.dtype) -> list[dict]:
    sizes, batch = ((32, 64), 16) if smoke else (SWEEP_SIZES, 512)
    try:
        from aihwkit_lightning.nn import AnalogLinear as LightLinear
        from aihwkit_lightning.optim import AnalogOptimizer
        from bench_peers import _lightning_config
    except ImportError:
        LightLinear = None
        print("aihwkit-lightning is not installed: the sweep compares with nn.Linear only")
    mode = "triton" if os.environ.get("AIHWKIT_USE_TRITON") == "1" else "torch"
    rows = []
    for n in sizes:
        torch.manual_seed(0)
        x = torch.randn(batch, n, device=device, dtype=dtype)

        def loss_fn(m, b):
            return m(b[0]).float().square().mean()

        ref = torch.nn.Linear(n, n, device=device, dtype=dtype)
        t_ref = _timed(_train_step(ref, (x,), loss_fn, torch.optim.AdamW(ref.parameters(), 1e-4), None),
                       device, reps)
        ours = torch.nn.Sequential(an.AnalogLinear(n, n, cfg=an.presets.pcm(), device=device, dtype=dtype))
        hwa_(ours, HWA)
        t_ours = _timed(_train_step(ours, (x,), loss_fn, torch.optim.AdamW(ours.parameters(), 1e-4),
                                    HWA.clip_weights_sigma), device, reps)
        row = {"size": n, "nn.Linear ms": 1e3 * t_ref, "analogue HWA ms": 1e3 * t_ours,
               "analogue / nn.Linear": t_ours / t_ref}
        if LightLinear is not None:
            peer = LightLinear(n, n, rpu_config=_lightning_config(True), device=device, dtype=dtype)
            opt = AnalogOptimizer(torch.optim.AdamW, [peer], peer.parameters(), lr=1e-4)
            t_peer = _timed(_train_step(peer, (x,), loss_fn, opt, None), device, reps)
            row[f"lightning ({mode}) ms"] = 1e3 * t_peer
            row["lightning / analogue"] = t_peer / t_ours
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(ap)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: proves the script runs")
    ap.add_argument("--parts", nargs="+", default=["models", "peer", "sweep"], choices=["models", "peer", "sweep"])
    ap.add_argument("--reps", type=int, default=10, help="timed steps per case (the fastest is reported)")
    ap.add_argument("--sweep-dtype", default=None, choices=["float16", "bfloat16", "float32"],
                    help="dtype of the layer sweep (default: float16 on a GPU, float32 on the CPU)")
    ap.add_argument("--out", default=os.environ.get("OUT") or str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    device = resolve_device("cpu" if args.smoke else args.device)
    reps = 1 if args.smoke else args.reps
    dtype = getattr(torch, args.sweep_dtype or ("float32" if device.type == "cpu" else "float16"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    head = f"torch {torch.__version__}, device {device} ({name}){', SMOKE sizes' if args.smoke else ''}"
    print(head)
    for part in args.parts:
        if part == "models":
            rows = run_models(device, args.smoke, reps)
        elif part == "peer":
            rows = run_peer(device, args.smoke, reps)
        else:
            rows = run_sweep(device, args.smoke, reps, dtype)
        if not rows:
            continue
        suffix = f"{part}{'_triton' if os.environ.get('AIHWKIT_USE_TRITON') == '1' else ''}"
        table = md_table(rows)
        print(f"\n## {part} ({head})\n\n{table}")
        (out / f"results_{suffix}.json").write_text(json.dumps({"header": head, "rows": rows}, indent=1))
        (out / f"results_{suffix}.md").write_text(f"{head}\n\n{table}\n")


if __name__ == "__main__":
    main()
