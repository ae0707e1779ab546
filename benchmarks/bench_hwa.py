"""Hardware-aware training against digital training of the same model, side by side (CPU).

One training step (forward, backward, Adam step, weight clipping for HWA) on a fixed batch,
timed interleaved with the digital step of the same model:

- analog: the model converted with ``presets.pcm()`` (DAC/ADC quantisation, output noise in the
  forward; what every analog training step costs), no weight perturbation;
- HWA recipe: plus ``HWAOptions(device_noise_scale=3, clip_weights_sigma=2.5)`` (3x the PCM programming noise, resampled every batch; ``examples/digits_hwa.yaml``);
- HWA device 1 y: plus the whole PCM device model sampled every batch at 1 year
  (``HWAOptions(device_noise_scale=1, device_time_s=3.15e7, clip_weights_sigma=2.5)``).

Target (issue 4): HWA training at most 2x the wall time of digital training.

Run: python benchmarks/bench_hwa.py
"""

from __future__ import annotations

import copy
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from common import md_table, time_pair  # noqa: E402

import analogue as an  # noqa: E402
from analogue.data import digits_cnn  # noqa: E402
from analogue.data.models import mlp, small_resnet  # noqa: E402
from analogue.train import HWAOptions, clip_weights_, hwa_  # noqa: E402


def _step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, clip: float | None):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if clip is not None:
            clip_weights_(model, clip)

    return step


def main() -> None:
    torch.manual_seed(0)
    cases = [
        ("digits CNN, batch 64", digits_cnn(0), torch.rand(64, 1, 8, 8)),
        ("MLP 784-256-128-10, batch 256", mlp((784, 256, 128, 10)), torch.rand(256, 784)),
        ("small ResNet (16-32-64), 32x32, batch 32", small_resnet(10, 3, 16), torch.rand(32, 3, 32, 32)),
    ]
    variants = {
        "analog (no HWA)": None,
        "HWA recipe (3x PCM prog. noise)": HWAOptions(device_noise_scale=3.0, clip_weights_sigma=2.5),
        "HWA device 1 y": HWAOptions(device_noise_scale=1.0, device_time_s=3.15e7, clip_weights_sigma=2.5),
    }
    cfg = an.presets.pcm()
    rows = []
    for name, model, x in cases:
        y = torch.randint(0, 10, (len(x),))
        digital = _step_fn(copy.deepcopy(model), x, y, None)
        for vname, opts in variants.items():
            m = an.convert_(copy.deepcopy(model), cfg)
            if opts is not None:
                hwa_(m, opts)
            step = _step_fn(m, x, y, None if opts is None else opts.clip_weights_sigma)
            t_d, t_a = time_pair(digital, step, reps=10, warmup=2)
            rows.append({"model": name, "variant": vname, "digital ms": 1e3 * t_d,
                         "analog ms": 1e3 * t_a, "ratio": t_a / t_d})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; one training step, median of 10\n")
    print(md_table(rows))


if __name__ == "__main__":
    main()
