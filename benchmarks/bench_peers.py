"""analogue against peer simulators, side by side in one run (CPU): IBM aihwkit-lightning and aihwkit.

aihwkit-lightning is IBM's performance-focused hardware-aware-training toolkit (pure PyTorch on
CPU; its Triton kernels need a GPU); aihwkit is IBM's full toolkit (a C++ build) with two tiles,
``TorchInferenceRPUConfig`` (PyTorch) and ``InferenceRPUConfig`` (its C++ simulator). All simulate
the same periphery here: 8-bit DAC with a per-vector dynamic input range, 256x256 tiles, output
noise of 0.4 % of an ADC range of 10, and an 8-bit ADC per tile. Cases:

- one training step (forward, backward, Adam, weight clipping for HWA), fastest of 15 interleaved,
  as ``bench_hwa.py`` times it, of the digital model, of each simulator's plain analog model, and
  of each simulator's HWA model. analogue's HWA is ``bench_hwa.py``'s recipe (3x the PCM
  programming noise, 2.5 sigma per-channel clipping, distillation); the peers' is additive weight
  noise (6 % of the maximum; per channel in aihwkit-lightning) and 2.5 sigma Gaussian clipping
  (per channel in aihwkit-lightning), without distillation (their training loops have none);
- the forward of a 1024x1024 linear layer at batch 256 (inference, no programming), median of 30
  interleaved runs, against ``nn.Linear``.

Each peer is skipped with a message when it is not installed. ``make bench-peers`` installs
aihwkit-lightning (pure Python) and runs this; aihwkit needs a C++ build (benchmarks/README.md
says how it was built for the figures there).

Run: python benchmarks/bench_peers.py [--device cuda]

``--device``: the training-step and forward cases run there, analogue's models and the peers'
converted models alike, each timing ending with the device synchronised (a peer whose converted
model cannot move there, e.g. aihwkit's C++ tile from a CPU-only build, is skipped with a message).
The agreement tables (numerics against aihwkit's tiles and its PCM noise model) stay on the CPU.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from bench_hwa import _step_fn, _time_min  # noqa: E402
from common import add_device_argument, md_table, on_device, resolve_device, time_pair  # noqa: E402

import analogue as an  # noqa: E402
from analogue.apps.training import teacher_logits  # noqa: E402
from analogue.data import digits_cnn  # noqa: E402
from analogue.data.models import mlp, small_resnet  # noqa: E402
from analogue.train import HWAOptions, hwa_  # noqa: E402


def _lightning_config(hwa: bool):
    from aihwkit_lightning.simulator.configs import TorchInferenceRPUConfig
    from aihwkit_lightning.simulator.parameters.enums import (
        WeightClipType,
        WeightNoiseInjectionType,
    )

    c = TorchInferenceRPUConfig()
    c.forward.inp_res = 254  # 8-bit DAC: 2^8 - 2 steps over [-1, 1]
    c.forward.out_res = 254  # 8-bit ADC
    c.forward.out_bound = 10.0
    c.forward.out_noise = 0.04  # in input-range units: 0.4 % of the ADC range, as presets.pcm()
    c.mapping.max_input_size = 256
    c.pre_post.input_range.enable = True
    c.pre_post.input_range.dynamic = True  # per-vector abs-max, as presets.pcm()
    if hwa:
        c.modifier.noise_type = WeightNoiseInjectionType.ADD_NORMAL_PER_CHANNEL
        c.modifier.std_dev = 0.06
        c.clip.type = WeightClipType.LAYER_GAUSSIAN_PER_CHANNEL
        c.clip.sigma = 2.5
    return c


def _aihwkit_config(cls_name: str, hwa: bool, out_noise: float = 0.04):
    from aihwkit.simulator import configs
    from aihwkit.simulator.parameters.enums import (
        BoundManagementType,
        NoiseManagementType,
        WeightClipType,
        WeightModifierType,
        WeightNoiseType,
    )

    c = getattr(configs, cls_name)()
    f = c.forward
    f.inp_res = f.out_res = 1 / 254  # 8-bit DAC and ADC
    f.out_bound = 10.0
    f.out_noise = out_noise
    f.bound_management = BoundManagementType.NONE
    f.noise_management = NoiseManagementType.ABS_MAX  # per-vector (per-tile) dynamic input range
    f.w_noise, f.w_noise_type = 0.0, WeightNoiseType.NONE
    c.mapping.max_input_size = c.mapping.max_output_size = 256
    c.mapping.weight_scaling_omega, c.mapping.weight_scaling_columnwise = 1.0, True  # per-column scales
    c.mapping.digital_bias = True
    c.modifier.type = WeightModifierType.ADD_NORMAL if hwa else WeightModifierType.NONE
    c.clip.type = WeightClipType.LAYER_GAUSSIAN if hwa else WeightClipType.NONE
    if hwa:  # 1.2.0 has no per-channel variants of these two
        c.modifier.std_dev, c.clip.sigma = 0.06, 2.5
    return c


def _peers() -> dict[str, tuple]:
    """name -> (convert(model, hwa), optimizer(model)) for each installed peer."""
    peers: dict[str, tuple] = {}
    try:
        from aihwkit_lightning.nn.conversion import convert_to_analog as light
        from aihwkit_lightning.optim import AnalogOptimizer as LightOpt

        peers["aihwkit-lightning"] = (
            lambda m, hwa: light(m, _lightning_config(hwa)),
            lambda m: LightOpt(torch.optim.Adam, m.analog_layers, m.parameters(), lr=1e-4))
    except ImportError:
        print("aihwkit-lightning is not installed (make bench-peers installs it): skipped")
    try:
        from aihwkit.nn.conversion import convert_to_analog as kit
        from aihwkit.optim import AnalogOptimizer as KitOpt

        for cls_name, label in (("TorchInferenceRPUConfig", "torch tile"), ("InferenceRPUConfig", "C++ tile")):
            peers[f"aihwkit ({label})"] = (
                lambda m, hwa, c=cls_name: kit(m, _aihwkit_config(c, hwa)),
                lambda m: KitOpt(torch.optim.Adam, m.parameters(), lr=1e-4))
    except ImportError:
        print("aihwkit is not installed (a C++ build; see benchmarks/README.md): skipped")
    return peers


def _peer_step(model: torch.nn.Module, make_opt, x: torch.Tensor, y: torch.Tensor):
    opt = make_opt(model)
    model.train()

    def step() -> None:  # the peers' optimizers clip the analog weights after every step
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def agreement() -> list[dict]:
    """analogue's ``standard()`` periphery against aihwkit's two tiles on the same linear layers
    (inference, no programming): the largest output difference in ADC steps with output noise
    off, and the output noise (in ADC steps, 20 draws per output) with it on. Layers over several
    row tiles also with ``range_policy="dynamic_tile"`` (aihwkit's per-tile input ranges)."""
    from aihwkit.nn.conversion import convert_to_analog as kit

    rows = []
    torch.manual_seed(0)
    for k, m in ((200, 100), (256, 300), (600, 100), (1000, 300)):
        lin, x = torch.nn.Linear(k, m), torch.randn(512, k)
        # one ADC step in output units, per vector and column (the layer's full scale / 127)
        step = (10.0 / 127) * lin.weight.detach().abs().amax(1) * x.abs().amax(1, keepdim=True)
        policies = ("dynamic",) if k <= 256 else ("dynamic", "dynamic_tile")
        for policy in policies:
            cfg = an.presets.standard().replace(dac=an.DACConfig(bits=8, range_policy=policy))
            ours = an.AnalogLinear.from_float(lin, cfg.replace(noise=an.NoiseConfig(out_std_rel_fs=0.0))).eval()
            noisy = an.AnalogLinear.from_float(lin, cfg).eval()
            with torch.no_grad():
                y = ours(x)
                noise_ours = torch.stack([(noisy(x) - y) / step for _ in range(20)]).std()
                for cls_name, label in (("TorchInferenceRPUConfig", "torch tile"),
                                        ("InferenceRPUConfig", "C++ tile")):
                    peer = kit(torch.nn.Sequential(copy.deepcopy(lin)), _aihwkit_config(cls_name, False, 0.0)).eval()
                    diff = (peer(x) - y).abs() / step
                    peer_noisy = kit(torch.nn.Sequential(copy.deepcopy(lin)), _aihwkit_config(cls_name, False)).eval()
                    noise_peer = torch.stack([(peer_noisy(x) - y) / step for _ in range(20)]).std()
                    rows.append({"layer": f"{k}->{m} ({-(-k // 256)} row tile{'s' if k > 256 else ''})",
                                 "range_policy": policy, "aihwkit": label,
                                 "max diff (ADC steps)": float(diff.max()),
                                 "outputs differing (fraction)": float((diff > 0.5).float().mean()),
                                 "noise std analogue": float(noise_ours), "noise std aihwkit": float(noise_peer)})
    return rows


def device_agreement(n: int = 200_000) -> list[dict]:
    """``presets.pcm()``'s device model against aihwkit's ``PCMLikeNoiseModel`` (the same published
    PCM model): mean and standard deviation of ``n`` devices programmed to each target conductance,
    read at several times after programming (drift, 1/f read noise), in uS."""
    from aihwkit.inference.noise.pcm import PCMLikeNoiseModel

    from analogue.physics.devices import devices_at, program_devices

    dev, g_max = an.presets.pcm().device, 25.0
    peer = PCMLikeNoiseModel(g_max=g_max)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)  # aihwkit draws from torch's global generator
    rows = []
    for g in (0.05, 0.25, 0.5, 1.0):
        target = torch.full((n,), g * g_max, dtype=torch.float64)
        ours = program_devices(target, dev, g_max, 0.0, gen)
        z = torch.randn(n, generator=gen, dtype=torch.float64)
        g_prog = peer.apply_programming_noise_to_conductance(target)
        nu = peer.generate_drift_coefficients(target)
        for t_s, label in ((0.0, "programmed (t0)"), (3600.0, "1 h"), (86400.0, "1 d"), (3.15e7, "1 y")):
            a = devices_at(ours, target, t_s, dev.temperature.reference_k, dev, g_max, 0.0, z_flicker=z)
            b = peer.apply_drift_noise_to_conductance(g_prog, nu, t_s)
            rows.append({"G target uS": g * g_max, "read at": label,
                         "mean analogue": float(a.mean()), "mean aihwkit": float(b.mean()),
                         "std analogue": float(a.std()), "std aihwkit": float(b.std())})
    return rows


def _peer_model(convert, model: torch.nn.Module, hwa: bool, peer: str, dev: torch.device):
    """The peer's converted ``model`` on ``dev``; ``None`` (with a message) when it cannot run there."""
    out = convert(model, hwa)
    if dev.type == "cpu":
        return out
    try:
        return out.to(dev)
    except Exception as e:  # noqa: BLE001 -- a peer build without that device
        print(f"{peer}: its converted model cannot move to {dev} ({type(e).__name__}: {e}): skipped")
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(ap)
    dev = resolve_device(ap.parse_args().device)
    try:
        print("agreement with aihwkit (standard() periphery, noise off / on)\n")
        print(md_table(agreement()) + "\n")
        print(f"PCM device model against aihwkit's PCMLikeNoiseModel ({200_000} devices per target)\n")
        print(md_table(device_agreement()) + "\n")
    except ImportError:
        pass
    peers = _peers()
    if not peers:
        return
    torch.manual_seed(0)
    opts = HWAOptions(device_noise_scale=3.0, clip_weights_sigma=2.5, distill_alpha=0.5, distill_T=2.0)
    cases = [
        ("digits CNN, batch 64", digits_cnn(0), torch.rand(64, 1, 8, 8)),
        ("MLP 784-256-128-10, batch 256", mlp((784, 256, 128, 10)), torch.rand(256, 784)),
        ("MLP 784-256-128-10, batch 1024", mlp((784, 256, 128, 10)), torch.rand(1024, 784)),
        ("small ResNet (16-32-64), 32x32, batch 32", small_resnet(10, 3, 16), torch.rand(32, 3, 32, 32)),
    ]
    rows = []
    for name, model, x in cases:
        y = torch.randint(0, 10, (len(x),)).to(dev)
        model, x = model.to(dev), x.to(dev)
        plain = an.convert_(copy.deepcopy(model), an.presets.pcm())
        hwa = hwa_(an.convert_(copy.deepcopy(model), an.presets.pcm()), opts)
        steps = {
            "digital": _step_fn(copy.deepcopy(model), x, y, None),
            "analogue analog": _step_fn(plain, x, y, None),
            "analogue HWA": _step_fn(hwa, x, y, opts, teacher_logits(model, x, len(x))),
        }
        for peer, (convert, make_opt) in peers.items():
            for hwa_on, label in ((False, "analog"), (True, "HWA")):
                pm = _peer_model(convert, copy.deepcopy(model), hwa_on, peer, dev)
                if pm is not None:
                    steps[f"{peer} {label}"] = _peer_step(pm, make_opt, x, y)
        times = dict(zip(steps, _time_min([on_device(s, dev) for s in steps.values()])))
        t_d = times.pop("digital")
        rows.append({"model": name, "digital ms": 1e3 * t_d, **{k: t / t_d for k, t in times.items()}})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; training step time as a "
          "multiple of the digital step (fastest of 15 interleaved runs)\n")
    print(md_table(rows))

    lin = torch.nn.Linear(1024, 1024).to(dev)
    x = torch.randn(256, 1024).to(dev)
    sims = {"analogue": an.AnalogLinear.from_float(lin, an.presets.standard()).eval()}
    for peer, (convert, _) in peers.items():
        pm = _peer_model(convert, torch.nn.Sequential(copy.deepcopy(lin)), False, peer, dev)
        if pm is not None:
            sims[peer] = pm.eval()
    rows = []
    with torch.no_grad():
        for name, sim in sims.items():
            t_ref, t_sim = time_pair(on_device(lambda: lin(x), dev), on_device(lambda s=sim: s(x), dev))
            rows.append({"simulator": name, "torch ms": 1e3 * t_ref, "simulator ms": 1e3 * t_sim,
                         "ratio": t_sim / t_ref})
    print("\nlinear 1024x1024, batch 256, inference forward (4x4 tiles, weights mapped on every call), "
          "median of 30 interleaved runs\n")
    print(md_table(rows))


if __name__ == "__main__":
    main()
