"""``analogue sensor``: a digits classifier whose first convolution runs in the image sensor.

The 8x8 digits are upscaled to a 32x32 scene (relative radiance in [0, 1]); the first layer, a
4x4 / stride-4 convolution of 8 features (one charge-sharing group per 4x4 pixel block), runs on
the pixels' charge with one ADC per output feature; the rest runs digitally. The table gives test
accuracy against the illuminance on the sensor plane and the exposure, next to a conventional
sensor (every pixel digitised at 10 bits, the same network digitally), and the energy per frame
of both pipelines (``analogue.cost.edge.frame_energy``). The model is trained once per process
and torch device. On a device (``device=``) the model, the data and the temporal-noise generators
live there; each sensor's programming and fixed pattern are drawn on the CPU (the same sensors on
every device) and moved.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from analogue.apps._device import as_device, data_to
from analogue.config import presets
from analogue.cost.edge import frame_energy
from analogue.data.digits import DigitsData, load_digits, train_classifier
from analogue.sensor import InSensorConfig, InSensorConv2d, capture

SIZE = 32
KERNEL = 4
FEATURES = 8
LUX = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0, 100.0)
"""Illuminance on the sensor plane, lux (a scene is ~ 4 N^2 / (reflectance x transmission)
brighter: f/2 and 50 % reflectance, ~ 30x)."""
EXPOSURE_S = 0.01
EXPOSURES_S = (1e-4, 1e-3, 1e-2, 1e-1)
EXPOSURE_LUX = 1.0


def upscale(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """8x8 digits to ``size x size`` scenes (bilinear), clipped to [0, 1]."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0.0, 1.0)


def sensor_model(seed: int = 0) -> nn.Sequential:
    """First layer (in-sensor): 4x4/4 conv, 8 features; then digital: 3x3 conv, pool, linear."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(1, FEATURES, KERNEL, stride=KERNEL), nn.ReLU(),
            nn.Conv2d(FEATURES, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
        )


def trained_model(seed: int = 0, epochs: int = 12,
                  device: torch.device | str = "cpu") -> tuple[nn.Sequential, DigitsData]:
    """The model trained on clean upscaled digits on ``device`` (cached per process and device)."""
    return _trained(seed, epochs, as_device(device))


@functools.lru_cache(maxsize=2)
def _trained(seed: int, epochs: int, device: torch.device) -> tuple[nn.Sequential, DigitsData]:
    d = load_digits(seed=0)
    data = data_to(DigitsData(upscale(d.x_train), d.y_train, upscale(d.x_test), d.y_test), device)
    model = train_classifier(sensor_model(seed).to(device), data, epochs=epochs, seed=seed)
    return model.eval(), data


def default_config() -> InSensorConfig:
    """Weights as RRAM conductances (NeuRRAM-class programming noise), 8-bit output ADCs."""
    return InSensorConfig(device=presets.rram_device())


def charge_sharing_config() -> InSensorConfig:
    """Weights as charge-sharing capacitor ratios: 5-bit signed ratios of unit capacitors with 1 %
    mismatch (sub-fF metal-fringe capacitors: Tripathi & Murmann, IEEE TCAS-I 61(8), 2014),
    8-bit output ADCs."""
    return InSensorConfig(ratio_bits=5, capacitor_mismatch_fraction=0.01)


@torch.no_grad()
def _accuracy(front: Callable[[torch.Tensor], torch.Tensor], back: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((back(front(x)).argmax(1) == y).float().mean())


def _programmed(conv: nn.Conv2d, cfg: InSensorConfig, seed: int) -> InSensorConv2d:
    """``conv`` in a sensor programmed from ``seed`` on the CPU, then moved to ``conv``'s device."""
    return InSensorConv2d(conv, cfg, (SIZE, SIZE)).cpu().program_(seed).to(conv.weight.device)


@torch.no_grad()
def accuracy_at(lux: float, exposure_s: float, cfg: InSensorConfig, repeats: int = 2,
                seed: int = 0, device: torch.device | str = "cpu") -> dict[str, float]:
    """Test accuracy (%) of the in-sensor and the conventional pipeline at one light level and
    exposure, mean over ``repeats`` sensor instances (fixed pattern, weights, noise); the
    in-sensor pipeline also with the weights as charge-sharing ratios (:func:`charge_sharing_config`)."""
    dev = as_device(device)
    model, data = trained_model(device=dev)
    conv, back = model[0], model[1:]
    ins, conv_acc, shared = [], [], []
    for r in range(repeats):
        cs = _programmed(conv, charge_sharing_config(), seed + r)
        cs.calibrate_(data.x_train[:256])
        g = torch.Generator(dev).manual_seed(2000 + seed + r)
        shared.append(_accuracy(functools.partial(cs, lux=lux, exposure_s=exposure_s, generator=g), back,
                                data.x_test, data.y_test))
        layer = _programmed(conv, cfg, seed + r)
        layer.calibrate_(data.x_train[:256])
        g = torch.Generator(dev).manual_seed(1000 + seed + r)
        front = functools.partial(layer, lux=lux, exposure_s=exposure_s, generator=g)
        ins.append(_accuracy(front, back, data.x_test, data.y_test))
        q = capture(data.x_test, cfg.pixel, lux=lux, exposure_s=exposure_s, gain=layer.gain,
                    offset_e=layer.offset_e, generator=g)
        lv = (1 << cfg.pixel_adc_bits) - 1
        q = torch.round(q.clamp(0.0, 1.0) * lv) / lv  # the conventional pixel ADC over [0, full scale]
        conv_acc.append(_accuracy(conv, back, q, data.y_test))
    return {"in-sensor %": 100 * sum(ins) / repeats,
            "in-sensor, charge sharing %": 100 * sum(shared) / repeats,
            "conventional %": 100 * sum(conv_acc) / repeats}


def run_sensor_study(*, lux: tuple[float, ...] = LUX, exposures_s: tuple[float, ...] = EXPOSURES_S,
                     repeats: int = 2, out: Path | None = None,
                     cfg: InSensorConfig | None = None, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Accuracy vs light and exposure, energy per frame; with ``out``, ``sensor.json`` and
    ``sensor.png``. ``device``: the torch device of the model, the data and the noise."""
    cfg = cfg or default_config()
    dev = as_device(device)
    model, data = trained_model(device=dev)
    clean = 100 * _accuracy(model[0], model[1:], data.x_test, data.y_test)
    by_lux = [{"lux": lx, "exposure ms": 1e3 * EXPOSURE_S, **accuracy_at(lx, EXPOSURE_S, cfg, repeats, device=dev)}
              for lx in lux]
    by_exp = [{"lux": EXPOSURE_LUX, "exposure ms": 1e3 * t, **accuracy_at(EXPOSURE_LUX, t, cfg, repeats, device=dev)}
              for t in exposures_s]
    fe = frame_energy(SIZE, SIZE, KERNEL, KERNEL, FEATURES, cfg)
    energy = [{"pipeline": "in-sensor", **{k: 1e12 * v for k, v in fe.in_sensor_J.items()},
               "pJ/frame": 1e12 * sum(fe.in_sensor_J.values()), "pJ/pixel": fe.in_sensor_pJ_per_pixel},
              {"pipeline": "conventional", **{k: 1e12 * v for k, v in fe.conventional_J.items()},
               "pJ/frame": 1e12 * sum(fe.conventional_J.values()), "pJ/pixel": fe.conventional_pJ_per_pixel}]
    result: dict[str, Any] = {"clean_accuracy_pct": clean, "by_lux": by_lux, "by_exposure": by_exp,
                              "energy": energy, "frame": fe.to_dict(), "config": cfg.to_dict()}
    if out is not None:
        from analogue._util.tables import save_json

        out.mkdir(parents=True, exist_ok=True)
        result["paths"] = {"json": str(out / "sensor.json"), "plot": str(out / "sensor.png")}
        _plot(result, Path(result["paths"]["plot"]))
        save_json(result["paths"]["json"], result)
    return result


def _plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analogue._util.tables import save_figure

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    lux = [r["lux"] for r in res["by_lux"]]
    for key in ("in-sensor %", "in-sensor, charge sharing %", "conventional %"):
        a.semilogx(lux, [r[key] for r in res["by_lux"]], marker="o", label=key.replace(" %", ""))
    a.axhline(res["clean_accuracy_pct"], color="grey", linestyle=":", label="clean, digital")
    a.set_xlabel("illuminance on the sensor (lux), 10 ms exposure")
    a.set_ylabel("test accuracy %")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    fe = res["frame"]
    e_in, e_conv = sum(fe["in_sensor_J"].values()), sum(fe["conventional_J"].values())
    b.semilogx(lux, [1e9 * e_in] * len(lux), marker="o", label="in-sensor")
    b.semilogx(lux, [1e9 * e_conv] * len(lux), marker="s", label="conventional + digital layer 1")
    b.set_xlabel("illuminance on the sensor (lux)")
    b.set_ylabel("energy per frame (nJ)")
    b.set_ylim(0, 1.2e9 * e_conv)
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.suptitle(f"32x32 digits, first conv in the sensor ({fe['pixels']} pixels)")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
