"""The edge-camera claim: a hand-built YOLOv3-tiny backbone's shapes and the computed claims row."""

from __future__ import annotations

import pytest
import torch

from analogue.apps.claims import edge_camera_claim
from analogue.apps.edge import CLAIM_FPS, camera_cost, yolov3_tiny_backbone


def test_yolov3_tiny_shapes_and_size():
    m = yolov3_tiny_backbone().eval()
    with torch.no_grad():
        y = m(torch.zeros(1, 3, 416, 416))
    assert y.shape == (1, 255, 13, 13)  # the 13x13 grid of YOLOv3-tiny at 416
    convs = [p.numel() for n, p in m.named_parameters() if p.dim() == 4]
    # main path of yolov3-tiny.cfg: 3x3 16..1024, 1x1 256, 3x3 512, 1x1 255
    expected = (3 * 16 + 16 * 32 + 32 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512 * 1024) * 9 \
        + 1024 * 256 + 256 * 512 * 9 + 512 * 255
    assert sum(convs) == expected


@pytest.mark.slow
def test_camera_claim_row_is_computed():
    c = edge_camera_claim()
    best = c["best"]
    assert c["holds"] == (best["fps"] > CLAIM_FPS)
    assert best["fps"] >= best["fps_single_frame"] > 0  # pipelining never slows a stream down
    assert best["mJ_per_frame"] > 0
    assert "unverified" in c["published"]
    r = camera_cost("resnet18@224")
    assert r["GMACs"] == pytest.approx(1.814, rel=0.01)  # ResNet-18 at 224: 1.81 GMACs (He et al. 2016)
