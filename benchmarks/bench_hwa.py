"""Hardware-aware training against digital training of the same model, side by side (CPU).

One training step (forward, backward, Adam step, weight clipping for HWA) on a fixed batch,
timed interleaved with the digital step of the same model:

- analog: the model converted with ``presets.pcm()`` (DAC/ADC quantisation, output noise in the
  forward; what every analog training step costs), no weight perturbation;
- HWA recipe: plus ``HWAOptions(device_noise_scale=3, clip_weights_sigma=2.5, distill_alpha=0.5,
  distill_T=2)`` (3x the PCM programming noise, resampled every batch, and distillation from the
  digital model's outputs, which the training loop computes once per run;
  ``docs/examples/digits_hwa.yaml``);
- HWA device 1 y: plus the whole PCM device model sampled every batch at 1 year
  (``HWAOptions(device_noise_scale=1, device_time_s=3.15e7, clip_weights_sigma=2.5)``).

Target (issue 4): HWA training at most 2x the wall time of digital training.

Run: python benchmarks/bench_hwa.py [--device cuda]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from common import add_device_argument, md_table, on_device, resolve_device

import analogue as an
from analogue.apps.training import teacher_logits
from analogue.data import digits_cnn
from analogue.data.models import mlp, small_resnet
from analogue.train import HWAOptions, clip_weights_, distillation_loss, hwa_


def _step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, opts: HWAOptions | None,
             teacher_out: torch.Tensor | None = None):
    """One training step as ``analogue train`` runs it: the distillation term (when ``opts`` asks
    for it) uses the teacher's outputs, computed once per run by the loop."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    clip = None if opts is None else opts.clip_weights_sigma
    distill = opts is not None and opts.distill_alpha > 0

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        out = model(x)
        if distill:
            loss = distillation_loss(out, teacher_out, y, opts.distill_T, opts.distill_alpha)
        else:
            loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        if clip is not None:
            clip_weights_(model, clip)

    return step


def _time_min(fns: list, reps: int = 15, warmup: int = 2) -> list[float]:
    """Fastest of ``reps`` interleaved runs of each function (robust to a loaded machine)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    best = [float("inf")] * len(fns)
    for _ in range(reps):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(ap)
    dev = resolve_device(ap.parse_args().device)
    torch.manual_seed(0)
    cases = [
        ("digits CNN, batch 64", digits_cnn(0), torch.rand(64, 1, 8, 8)),
        ("MLP 784-256-128-10, batch 256", mlp((784, 256, 128, 10)), torch.rand(256, 784)),
        # the same MLP at a larger batch: the analog layers' per-call work amortises
        ("MLP 784-256-128-10, batch 1024", mlp((784, 256, 128, 10)), torch.rand(1024, 784)),
        ("small ResNet (16-32-64), 32x32, batch 32", small_resnet(10, 3, 16), torch.rand(32, 3, 32, 32)),
    ]
    variants = {
        "analog (no HWA)": None,
        "HWA recipe (3x PCM prog. noise, distillation)": HWAOptions(
            device_noise_scale=3.0, clip_weights_sigma=2.5, distill_alpha=0.5, distill_T=2.0),
        "HWA device 1 y": HWAOptions(device_noise_scale=1.0, device_time_s=3.15e7, clip_weights_sigma=2.5),
    }
    cfg = an.presets.pcm()
    rows = []
    for name, model, x in cases:
        model, x = model.to(dev), x.to(dev)
        y = torch.randint(0, 10, (len(x),), device=dev)
        steps = [_step_fn(copy.deepcopy(model), x, y, None)]
        teacher_out = teacher_logits(model, x, len(x))
        for opts in variants.values():
            m = an.convert_(copy.deepcopy(model), cfg)
            if opts is not None:
                hwa_(m, opts)
            steps.append(_step_fn(m, x, y, opts, teacher_out))
        t_d, t_a, *t_hwa = _time_min([on_device(step, dev) for step in steps])
        for vname, t in zip(variants, [t_a, *t_hwa]):
            rows.append({"model": name, "variant": vname, "digital ms": 1e3 * t_d, "variant ms": 1e3 * t,
                         "vs digital": t / t_d, "vs analog": t / t_a})
    print(f"torch {torch.__version__}, {dev}, {torch.get_num_threads()} threads; one training step, fastest of 15 interleaved runs\n")
    print(md_table(rows))


if __name__ == "__main__":
    main()
