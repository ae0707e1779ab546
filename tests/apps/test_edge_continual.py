"""Continual-learning metrics on hand-made matrices, the energy arithmetic by hand, a tiny stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analogue.apps.continual import continual_metrics, make_stream, run_stream
from analogue.cost import components as C
from analogue.cost import edge


def test_metrics_on_a_hand_made_matrix():
    R = np.array([[0.9, 0.1, 0.2],
                  [0.6, 0.8, 0.3],
                  [0.5, 0.7, 0.95]])
    b = np.array([0.1, 0.15, 0.25])
    m = continual_metrics(R, b)
    assert m["average_accuracy"] == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    assert m["backward_transfer"] == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)
    # forgetting: task 0 max(0.9, 0.6) - 0.5 = 0.4; task 1 max(0.1, 0.8) - 0.7 = 0.1
    assert m["forgetting"] == pytest.approx((0.4 + 0.1) / 2)
    assert m["forward_transfer"] == pytest.approx(((0.1 - 0.15) + (0.3 - 0.25)) / 2)
    assert np.isnan(continual_metrics(R)["forward_transfer"])


def test_metrics_no_forgetting_and_bad_shape():
    R = np.array([[1.0, 0.0], [1.0, 1.0]])
    m = continual_metrics(R)
    assert m["forgetting"] == 0.0 and m["backward_transfer"] == 0.0 and m["average_accuracy"] == 1.0
    with pytest.raises(ValueError, match="square"):
        continual_metrics(np.ones((2, 3)))


def test_pulsed_update_energy_by_hand():
    e = edge.pulsed_update_energy_J(pulses=1000, rows=4, cols=3, pulse_slots=5, pulse_J=2e-12, node_nm=45.0,
                                    c_wire_fF_per_cell=0.2, v_write_V=1.0)
    assert e["device pulses"] == pytest.approx(2e-9)
    assert e["drivers"] == pytest.approx(7 * 5 * float(C.flipflop_energy_J(45.0)))
    assert e["lines"] == pytest.approx(2 * 5 * 12 * 0.2e-15)
    assert edge.updates_per_Wh(3.6e-6) == pytest.approx(1e9)
    # the digital baseline: 3 x forward MACs x batch x the CPU's MAC energy
    assert edge.digital_update_energy_J(100, 4) == pytest.approx(1200 * edge.cpu_mac_energy_J())


def test_budget_caps_pulses():
    shapes = [(4, 3)]
    per_slot = sum(edge.pulsed_update_energy_J(12, 4, 3, 1, 2e-12, 45.0).values())
    assert edge.max_pulses_for_budget(10.5 * per_slot, shapes, 2e-12, 45.0) == 10
    assert edge.max_pulses_for_budget(0.1 * per_slot, shapes, 2e-12, 45.0) == 1
    with pytest.raises(ValueError, match="budget"):
        edge.max_pulses_for_budget(0.0, shapes, 2e-12, 45.0)


def test_streams_shapes():
    split = make_stream("split")
    assert len(split) == 5 and all(set(t["y_train"].tolist()) == set(t["classes"].tolist()) for t in split)
    perm = make_stream("permuted", n_permuted=3)
    assert len(perm) == 3 and not np.array_equal(perm[0]["x_test"].numpy(), perm[1]["x_test"].numpy())
    rot = make_stream("rotated")
    assert len(rot) == 4
    x0, x1 = rot[0]["x_test"].view(-1, 8, 8), rot[1]["x_test"].view(-1, 8, 8)
    assert torch.equal(x1[:, 0, :], x0[:, :, 7])  # 90 degrees anticlockwise: the first row was the last column
    with pytest.raises(ValueError, match="stream"):
        make_stream("rotated-by-magic")


def test_tiny_stream_runs():
    tasks = make_stream("split")[:2]
    for t in tasks:
        t["x_train"], t["y_train"] = t["x_train"][:64], t["y_train"][:64]
    analog = run_stream(tasks, "analog", epochs=1)
    frozen = run_stream(tasks, "frozen", epochs=1)
    digital = run_stream(tasks, "digital", epochs=1)
    assert np.asarray(analog["R"]).shape == (2, 2)
    assert analog["updates"] == 8 and frozen["updates"] == 4
    # the frozen model is not updated after the first task: its accuracies change only by the
    # analog read noise of a fresh evaluation (standard preset), well under 5 points here
    assert frozen["R"][1] == pytest.approx(frozen["R"][0], abs=0.05)
    assert analog["energy_per_update_J"] > analog["energy_breakdown_J"]["device pulses"] > 0
    assert digital["energy_per_update_J"] > analog["energy_per_update_J"]
    tiki = run_stream(tasks, "analog", algorithm="tikitaka", epochs=1, budget_J=50e-9)
    assert tiki["updates"] == 8 and tiki["pulses_per_update"] > 0
    assert tiki["max_pulses"] == edge.budget_slots(50e-9, [(64, 128), (128, 10)], 130.0)
    assert tiki["update_energy_J"]["max"] <= 50e-9 * (1 + 1e-12)


def test_budget_terms_by_hand():
    shapes = [(4, 3), (3, 2)]
    e = edge.update_energy_J(100, shapes, 5, 2e-12, 45.0, c_wire_fF_per_cell=0.2)
    ff = float(C.flipflop_energy_J(45.0))
    assert e["device pulses"] == pytest.approx(2e-10)
    assert e["drivers"] == pytest.approx((7 + 5) * 5 * ff)
    assert e["lines"] == pytest.approx(2 * 5 * (12 + 6) * 0.2e-15)
    periphery = e["drivers"] + e["lines"]
    budget = periphery + 37.5 * 2e-12
    assert edge.pulses_for_budget(budget, shapes, 5, 2e-12, 45.0, c_wire_fF_per_cell=0.2) == 37
    with pytest.raises(ValueError, match="periphery"):
        edge.pulses_for_budget(0.5 * periphery, shapes, 5, 2e-12, 45.0, c_wire_fF_per_cell=0.2)
    per_slot = periphery / 5
    assert edge.budget_slots(1.0, shapes, 45.0, c_wire_fF_per_cell=0.2) == 31  # plenty: all slots
    assert edge.budget_slots(2 * 7.5 * per_slot, shapes, 45.0, c_wire_fF_per_cell=0.2) == 7


def test_share_of_the_pulse_budget_is_never_exceeded():
    from analogue.train.inmemory.optimizers import InMemoryOptimizer as Opt

    g = torch.Generator().manual_seed(0)
    params = [torch.zeros(8, 5), torch.zeros(5, 3)]
    assert Opt._share({"pulse_budget": None, "params": params}, 40) is None
    for budget in (0, 3, 17, 40, 1000):
        group = {"pulse_budget": budget, "params": params}
        n = torch.randint(-31, 32, (8, 5), generator=g).float()
        share = budget * 40 // 55
        assert Opt._share(group, 40) == share
        m = Opt._scaled_to(n, share)
        assert float(m.abs().sum()) == min(share, float(n.abs().sum()))  # the whole share, never more
        assert torch.all(m.abs() <= n.abs()) and torch.all(m * n >= 0)  # never larger, never flipped
        assert torch.equal(m, torch.trunc(m))  # whole pulses
        if float(n.abs().sum()) <= share:
            assert torch.equal(m, n)
    # many single pulses and a small share: the share is still spent (largest remainders), not
    # floored away; proportions kept where they are large
    k = torch.tensor([[1, 1, 1, 1], [1, 1, 6, 0]])
    out = Opt._counts_within(k, 6)
    assert int(out.sum()) == 6 and torch.all(out <= k) and int(out[1, 2]) == 3


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["mixed", "tikitaka"])
def test_budget_bounds_the_energy_each_update_spends(algorithm):
    """With a budget the energy of every pulsed update, as the cost model charges it, stays within
    it, the reported figure is the cost model's (update_energy_J of the pulses applied), and the
    budget binds (the same run without it spends more)."""
    tasks = make_stream("split")[:2]
    for t in tasks:
        t["x_train"], t["y_train"] = t["x_train"][:64], t["y_train"][:64]
    free = run_stream(tasks, "analog", algorithm=algorithm, epochs=1)
    budget = 0.25 * free["update_energy_J"]["max"]
    capped = run_stream(tasks, "analog", algorithm=algorithm, epochs=1, budget_J=budget)
    shapes, pulse_J = [(64, 128), (128, 10)], 2e-12
    assert free["update_energy_J"]["max"] > budget
    assert capped["update_energy_J"]["max"] <= budget * (1 + 1e-12)
    assert capped["pulses_per_update"] < free["pulses_per_update"]
    slots = edge.budget_slots(budget, shapes, 130.0)
    assert capped["max_pulses"] == slots
    assert capped["pulse_budget"] == edge.pulses_for_budget(budget, shapes, slots, pulse_J, 130.0)
    charged = edge.update_energy_J(capped["pulses_per_update"], shapes, slots, pulse_J, 130.0)
    e = capped["energy_breakdown_J"]
    for k, v in charged.items():
        assert e[k] == pytest.approx(v, rel=1e-12)
    assert capped["update_energy_J"]["mean"] == pytest.approx(sum(charged.values()), rel=1e-9)


@pytest.mark.slow
def test_li2022_comparison_rows():
    from analogue.apps.continual import LI2022_PUBLISHED, li2022_comparison

    c = li2022_comparison(seeds=(0, 1), epochs=1)
    pub, ours = c["rows"]
    assert (pub["in memory %"], pub["software %"]) == (94.9, 97.0)
    assert pub["gap (points)"] == pytest.approx(2.1)
    a, d = np.array(c["in_memory_pct"]), np.array(c["software_pct"])
    assert ours["in memory %"] == pytest.approx(a.mean()) and ours["software %"] == pytest.approx(d.mean())
    assert ours["gap (points)"] == pytest.approx((d - a).mean())
    assert ours["gap sd"] == pytest.approx(np.std(d - a, ddof=1))
    assert c["test_samples"] == sum(len(t["y_test"]) for t in make_stream("split"))
    p = d.mean() / 100
    assert c["accuracy_se_points"] == pytest.approx(100 * np.sqrt(p * (1 - p) / c["test_samples"]))
    assert LI2022_PUBLISHED["software_pct"] > LI2022_PUBLISHED["chip_pct"]
    with pytest.raises(ValueError, match="seeds"):
        li2022_comparison(seeds=(0,))
