"""The edge-camera claim: "analog flash for real-time edge inference (>1000 frames/s)".

Camera-resolution backbones built by hand (no downloads) are compiled onto the Mythic M1076
preset (``analogue.config.chips.mythic_m1076``) and costed with ``analogue.cost.estimate_cost``:
frames per second (steady-state pipelined throughput and one frame alone) and energy per frame.
The claims row (:func:`camera_claim`) says whether >1000 frames/s holds, for which model and
resolution, and how it compares with a published Mythic figure (none with a named detector,
resolution and power was found in the sources read for this table: "unverified").
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from analogue.compile import compile as an_compile
from analogue.config import chips
from analogue.cost import estimate_cost
from analogue.data.models import resnet18_like

CLAIM_FPS = 1000.0
PUBLISHED_MYTHIC: dict[str, Any] | None = None
"""A published Mythic frame rate for a named detector at a named resolution and power; ``None``
when no such source is known here (the claims row then says "unverified")."""


def yolov3_tiny_backbone(num_outputs: int = 255) -> nn.Sequential:
    """The layer shapes of YOLOv3-tiny's main path (Redmon & Farhadi, "YOLOv3: an incremental
    improvement", 2018, yolov3-tiny.cfg): 3x3 convolutions of 16..1024 channels with batch norm
    and leaky ReLU, five 2x2/2 max-pools and one 2x2/1, then 1x1-256, 3x3-512 and the 1x1
    detection head (255 = 3 anchors x 85). The second (upsampled) head is left out."""
    layers: list[nn.Module] = []
    c = 3
    for i, w in enumerate((16, 32, 64, 128, 256, 512)):
        layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.LeakyReLU(0.1)]
        layers.append(nn.MaxPool2d(2, 2) if i < 5 else nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(2, 1)))
        c = w
    for w, k in ((1024, 3), (256, 1), (512, 3)):
        layers += [nn.Conv2d(c, w, k, padding=k // 2, bias=False), nn.BatchNorm2d(w), nn.LeakyReLU(0.1)]
        c = w
    layers.append(nn.Conv2d(c, num_outputs, 1))
    return nn.Sequential(*layers)


MODELS = {
    "resnet18@224": (lambda: resnet18_like(1000), 224),
    "yolov3-tiny@416": (yolov3_tiny_backbone, 416),
}


@functools.lru_cache(maxsize=4)
def camera_cost(name: str, batch: int = 16) -> dict[str, Any]:
    """One model of :data:`MODELS` on the M1076 (throughput-bounding layers replicated into spare
    tiles): frames per second in steady state over ``batch`` frames and for one frame alone,
    energy per frame, average power, MACs.

    Computed by the compiler and the cost model (about 2.5 s for both models on a quiet 2-core
    CPU), once per process."""
    if name not in MODELS:
        raise ValueError(f"camera_cost: unknown model {name!r}; use one of {sorted(MODELS)}")
    return _camera_cost(name, batch)


def _camera_cost(name: str, batch: int) -> dict[str, Any]:
    build, size = MODELS[name]
    model = build().eval()
    chip = chips.mythic_m1076()
    prog = an_compile(model, torch.zeros(1, 3, size, size), chip=chip, build_model=False, replicate=True)
    steady = estimate_cost(prog, batch=batch)
    single = estimate_cost(prog, batch=1)
    return {"model": name, "resolution": f"{size}x{size}", "chip": chip.name, "GMACs": steady.macs / 1e9,
            "fps": steady.throughput_per_s, "fps_single_frame": 1.0 / single.latency_s,
            "mJ_per_frame": 1e3 * steady.energy_J, "W": steady.energy_J * steady.throughput_per_s,
            "tiles_used": int(getattr(prog, "arrays_used", 0))}


def camera_rows() -> list[dict[str, Any]]:
    """:func:`camera_cost` of every model."""
    return [camera_cost(n) for n in MODELS]


def camera_claim() -> dict[str, Any]:
    """The claims row for ">1000 FPS for edge cameras": the best frame rate over :data:`MODELS`,
    whether it holds, and the published comparison (or "unverified")."""
    rows = camera_rows()
    best = max(rows, key=lambda r: r["fps"])
    holds = best["fps"] > CLAIM_FPS
    pub = "unverified: no published Mythic frame rate for a named detector, resolution and power " \
          "in the sources read" if PUBLISHED_MYTHIC is None else str(PUBLISHED_MYTHIC)
    return {"claim": ">1000 FPS for edge cameras (analog flash)", "holds": holds, "best": best,
            "rows": rows, "published": pub,
            "sentence": (f"{'holds' if holds else 'does not hold'} in the model: best {best['fps']:.3g} "
                         f"frames/s ({best['model']}, {best['resolution']}, {best['mJ_per_frame']:.3g} "
                         f"mJ/frame, {best['W']:.2g} W) on the Mythic M1076 preset; published: {pub}")}
