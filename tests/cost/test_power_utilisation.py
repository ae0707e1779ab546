"""Why the Mythic preset runs ResNet-18 at about 0.1 W against the published 3-4 W typical
(docs/cost.md, "Power on a workload"): the chip's power at every array busy is the published
figure; a compiled ResNet-18 keeps the arrays busy a few per cent of the time, and its power
lies on the line from the leakage floor to the peak, at its utilisation."""

from __future__ import annotations

import pytest
import torch

import analogue as an
from analogue import chips
from analogue.cost.model import chip_params, evaluate
from analogue.cost.plots import plot_power_vs_throughput
from analogue.data.models import resnet18_like


def test_mythic_power_is_leakage_plus_utilisation_times_peak(tmp_path) -> None:
    chip = chips.mythic_m1076()
    pk = an.cost.peak(chip)
    leak_W = float(evaluate(chip_params(chip))["leakage_W"])
    # every array busy: the published 3-4 W typical (25 TOPS)
    assert 3.0 * 0.75 <= pk.power_W <= 4.0 * 1.25
    torch.manual_seed(0)
    model = resnet18_like(num_classes=1000).eval()
    program = an.compile(model, torch.randn(1, 3, 224, 224), chip, replicate=True)
    r = an.estimate_cost(program, batch=256)
    power_W = r.energy_J * r.throughput_per_s
    util = r.tops / pk.tops
    assert util < 0.05  # a few per cent of the array-time
    line_W = leak_W + util * (pk.power_W - leak_W)
    # the workload's energy per op is not the peak's (partial arrays, digital work, SRAM): 25 %
    assert power_W == pytest.approx(line_W, rel=0.25)
    assert power_W < 0.05 * pk.power_W
    out = plot_power_vs_throughput({"resnet18": (r.tops, power_W)}, pk.tops, pk.power_W, leak_W,
                                   tmp_path / "p.png", published_W=(3.0, 4.0))
    assert out.stat().st_size > 0
