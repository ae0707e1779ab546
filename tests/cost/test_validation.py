"""The validation table of published chips and the leave-one-out machinery (analogue.cost.validation)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from analogue.cli import main
from analogue.config.chips import Chip
from analogue.cost import peak
from analogue.cost.chips_table import TableEntry, groups, table
from analogue.cost.validation import (
    AREA_GROUPS,
    BOUND,
    ENERGY_FACTORS,
    PRIOR_SIGMA,
    Components,
    fit,
    predict_area_mm2,
    predict_tops_per_W,
    validate,
    validate_components,
)

ENTRIES = table()
REFERENCES = (Path(__file__).resolve().parents[2] / "docs" / "references.md").read_text()


def _synthetic(n_chips: int, truth_e: np.ndarray, truth_a: np.ndarray, seed: int) -> Components:
    """Chips whose published figures are exactly the model with known factors."""
    rng = np.random.default_rng(seed)
    tops = rng.uniform(0.1, 50.0, n_chips)
    power = rng.uniform(0.01, 1.0, (n_chips, len(truth_e))) * tops[:, None]
    area = rng.uniform(0.1, 10.0, (n_chips, len(truth_a)))
    c = Components(keys=tuple(f"c{i}" for i in range(n_chips)),
                   groups=tuple(f"g{i}" for i in range(n_chips)), tops=tops, power_W=power,
                   area_mm2=area, published_tops=tops.copy(),
                   published_tops_per_W=np.zeros(n_chips), published_area_mm2=np.zeros(n_chips))
    pub_tw = predict_tops_per_W(c, truth_e)
    pub_a = predict_area_mm2(c, truth_a)
    return Components(**{**c.__dict__, "published_tops_per_W": pub_tw, "published_area_mm2": pub_a})


def test_fit_recovers_known_constants_of_a_synthetic_table() -> None:
    truth_e = np.array([0.5, 2.0, 1.5])
    truth_a = np.array([1.3, 0.7, 2.5])
    assert len(truth_e) == len(ENERGY_FACTORS) and len(truth_a) == len(AREA_GROUPS)
    c = _synthetic(12, truth_e, truth_a, seed=0)
    f = fit(c, prior_sigma=None)
    np.testing.assert_allclose(f["energy"], truth_e, rtol=1e-5)
    np.testing.assert_allclose(f["area"], truth_a, rtol=1e-5)


def test_leave_one_out_of_a_consistent_synthetic_table_predicts_every_chip() -> None:
    truth_e = np.array([0.8, 1.2, 3.0])
    c = _synthetic(10, truth_e, np.ones(3), seed=1)
    r = validate_components(c, prior_sigma=None)
    np.testing.assert_allclose(r.left_out["tops_per_W"], c.published_tops_per_W, rtol=1e-5)
    np.testing.assert_allclose(r.in_sample["tops_per_W"], c.published_tops_per_W, rtol=1e-5)
    assert r.summary["tops_per_W"]["left_out_worst"] < 1 + 1e-4
    np.testing.assert_allclose(list(r.factors["energy"].values()), truth_e, rtol=1e-5)


def test_fitted_factors_stay_within_their_bounds() -> None:
    # published 100x the model: every factor at its lower bound, not beyond
    c = _synthetic(8, np.ones(3), np.ones(3), seed=2)
    far = Components(**{**c.__dict__, "published_tops_per_W": c.published_tops_per_W * 100})
    f = fit(far, prior_sigma=None)
    np.testing.assert_allclose(f["energy"], 1.0 / BOUND, rtol=1e-6)
    # with the prior the factors move less far, and still not beyond their bounds
    g = fit(far)["energy"]
    assert np.all(g >= 1.0 / BOUND - 1e-9) and np.all(g < 1.0)


def test_prior_leaves_a_factor_at_one_when_the_chips_disagree_symmetrically() -> None:
    """Oracle by symmetry: two chips of one component group, one published a times the model, the
    other 1/a times: the log residuals cancel at f = 1, and so does the prior's gradient."""
    a = 3.0
    tops = np.array([1.0, 1.0])
    power = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    c = Components(keys=("p", "q"), groups=("p", "q"), tops=tops, power_W=power,
                   area_mm2=np.ones((2, 3)), published_tops=tops,
                   published_tops_per_W=np.array([a, 1.0 / a]),
                   published_area_mm2=np.full(2, np.nan))
    for sigma in (None, PRIOR_SIGMA):
        np.testing.assert_allclose(fit(c, prior_sigma=sigma)["energy"], 1.0, atol=1e-6)
    # one chip alone: without a prior the factor takes it exactly; the prior shrinks the step
    one = Components(**{**c.__dict__, "published_tops_per_W": np.array([1.05, np.nan])})
    assert fit(one, prior_sigma=None)["energy"][0] == pytest.approx(1 / 1.05, rel=1e-6)
    f = fit(one, prior_sigma=0.3)["energy"][0]
    assert 1 / 1.05 < f < 1.0


def test_table_covers_the_technologies_nodes_encodings_and_converters() -> None:
    assert len(groups(ENTRIES)) >= 12
    tech = {e.technology.split(" ")[0] for e in ENTRIES}
    assert {"PCM", "RRAM", "SRAM", "flash", "MRAM"} <= tech
    assert {"SRAM (charge)", "SRAM (current)"} <= {e.technology for e in ENTRIES}
    nodes = [e.node_nm for e in ENTRIES]
    assert min(nodes) <= 7 and max(nodes) >= 130
    assert {"pwm", "amplitude", "bit_serial", "pulse_count"} <= {
        e.chip.periphery.input_encoding for e in ENTRIES}
    assert {"sar", "flash", "ramp", "cco"} <= {e.chip.periphery.adc_kind for e in ENTRIES}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.key)
def test_entry_builds_round_trips_and_is_cited(entry: TableEntry) -> None:
    chip = entry.chip
    assert Chip.from_dict(json.loads(json.dumps(chip.to_dict()))) == chip
    assert chip.node_nm == entry.node_nm
    assert entry.tops_per_W is not None and entry.stated and entry.assumed
    # every entry's citation is a full reference in docs/references.md
    assert re.search(rf"\[{entry.citation}\]", REFERENCES), entry.citation
    r = peak(chip)
    assert r.tops > 0 and r.tops_per_W > 0 and r.area_mm2 > 0


def test_validation_report_on_the_published_table() -> None:
    r = validate()
    assert r.keys == tuple(e.key for e in ENTRIES)
    s = r.summary["tops_per_W"]
    assert s["n"] == len(ENTRIES)
    # the shipped component model (no fitted factor) against the published TOPS/W: this pins
    # the figures docs/cost.md quotes
    pub, mod = r.published["tops_per_W"], r.model["tops_per_W"]
    err = np.abs(np.log(mod / pub))
    assert np.median(np.abs(mod / pub - 1)) < 0.25 and np.all(err < np.log(10.0))
    # no chip off by 2x or more, as shipped and left out (issue 16's target; Hung and Yoon were
    # 5.9x and 2.1x before their entries took the abstracts' input reads and exact outputs)
    assert np.all(err < np.log(2.0)), dict(zip(r.keys, np.exp(err)))
    assert s["left_out_worst"] < 2.0
    # entries the audit fixed (Xue: inputs on the bit lines; Jung: the off state; Dong: one
    # conversion per weight)
    for key in ("xue-22nm-rram", "jung-28nm-mram", "dong-7nm-sram"):
        assert abs(np.log(mod[r.keys.index(key)] / pub[r.keys.index(key)])) < np.log(1.25), key
    # leave-one-out with the prior on the factors (docs/cost.md: 22 %, 24.6 % before the word
    # lines switched per input pulse; 27 % while bit-serial
    # inputs counted dac_bits reads instead of the accuracy path's dac_bits - 1)
    assert s["left_out_median"] < 0.25
    # TOPS has no fitted constant: left out = in-sample = model
    np.testing.assert_array_equal(r.left_out["tops"], r.model["tops"])
    # area: five chips publish one (HERMES, NeuRRAM, Valavi, Dong, Jia), more than the three area
    # groups, so the area factors are fitted (docs/cost.md: the area models are the weak part)
    assert r.summary["area_mm2"]["n"] == 7
    assert len({e.group for e in ENTRIES if e.area_mm2 is not None}) == 5
    assert r.factors["area"]["periphery"] != 1.0
    assert "left out" in r.table()


def test_cli_validate_prints_and_saves(tmp_path, capsys) -> None:
    assert main(["cost", "--validate", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "TOPS/W" in out and "left out" in out and "hermes" in out
    assert (tmp_path / "validation.png").stat().st_size > 0
    data = json.loads((tmp_path / "validation.json").read_text())
    assert data["keys"][0] == "hermes"


def test_differential_weights_read_half_the_conductance_range() -> None:
    """Oracle: a (G+, G-) pair holds the magnitude on one side, so the ohmic read energy of the
    range above g_min halves; everything else is unchanged."""
    from analogue.cost.model import array_energy, chip_params

    base = next(e.chip for e in ENTRIES if e.key == "ibm-14nm-34tile")
    uns = base.replace(**{"organisation.weight_mapping": "unsigned"})
    p_d, p_u = chip_params(base), chip_params(uns)
    # a unit line capacitance of 0 leaves the ohmic term alone in "crossbar"
    for p in (p_d, p_u):
        p["c_wire_fF_per_cell"] = np.float64(0.0)
    e_d, e_u = array_energy(p_d, p_d["rows"], p_d["cols"]), array_energy(p_u, p_u["rows"], p_u["cols"])
    assert p_d["g_min_uS"] == 0.0
    assert e_d["crossbar"] == pytest.approx(0.5 * e_u["crossbar"], rel=1e-12)
    assert e_d["adc"] == pytest.approx(e_u["adc"], rel=1e-12)


def test_differential_mapping_needs_pairs_of_cells() -> None:
    from analogue.config import ConfigError

    chip = next(e.chip for e in ENTRIES if e.key == "hermes")
    with pytest.raises(ConfigError, match="weight_mapping.*even cells_per_weight"):
        chip.replace(**{"organisation.weight_mapping": "differential"})
    with pytest.raises(ConfigError, match="weight_mapping"):
        chip.replace(**{"organisation.weight_mapping": "diff"})


def test_line_capacitance_from_the_cell_pitch() -> None:
    """``c_wire_fF_per_cell=None``: 0.2 fF/um times sqrt(cell area) (Dong 2020's 8T cell: 1.3x
    TSMC's published 0.027 um2 7 nm 6T cell), and the sweep follows the node (the default SRAM
    cell, from the published 6T cells by node)."""
    from analogue.config import ConfigError
    from analogue.cost import sweep
    from analogue.cost.model import chip_params

    chip = next(e.chip for e in ENTRIES if e.key == "dong-7nm-sram")
    assert chip.electrical.c_wire_fF_per_cell is None
    p = chip_params(chip)
    assert p["c_wire_fF_per_cell"] == pytest.approx(0.2 * np.sqrt(1.3 * 0.027), rel=1e-12)
    chip = chip.replace(cell_area_um2=None)
    r = sweep(chip, node_nm=[7.0, 28.0])
    loop = [peak(chip.replace(node_nm=n)).tops_per_W for n in (7.0, 28.0)]
    np.testing.assert_allclose(r["tops_per_W"], loop, rtol=1e-12)
    with pytest.raises(ConfigError, match="c_wire_fF_per_cell=None"):
        sweep(chip, c_wire_fF_per_cell=[None, 0.1])


def test_off_state_keeps_the_on_off_ratio_below_the_technology_full_scale() -> None:
    """Oracle: the technology's off state at its own full scale; below it, the same on/off ratio
    (NeuRRAM's 40 uS window: 2.4 uS, next to the 2.5 uS of its AnalogConfig preset); never above
    the full scale (an MTJ string at a sixteenth of the on-conductance); sweep == scalar."""
    from analogue.config.technology import DEVICES
    from analogue.cost import sweep
    from analogue.cost.model import chip_params, off_state_uS

    rram = DEVICES["rram"]
    assert off_state_uS(rram["g_min_uS"], rram["g_max_uS"], rram["g_max_uS"]) == rram["g_min_uS"]
    assert off_state_uS(rram["g_min_uS"], rram["g_max_uS"], 400.0) == rram["g_min_uS"]
    assert off_state_uS(rram["g_min_uS"], rram["g_max_uS"], 40.0) == pytest.approx(
        40.0 * rram["g_min_uS"] / rram["g_max_uS"], rel=1e-12)
    jung = next(e.chip for e in ENTRIES if e.key == "jung-28nm-mram")
    p = chip_params(jung)
    assert p["g_min_uS"] < p["g_max_uS"]
    assert p["g_max_uS"] / p["g_min_uS"] == pytest.approx(
        DEVICES["mram"]["g_max_uS"] / DEVICES["mram"]["g_min_uS"], rel=1e-12)
    assert off_state_uS(0.0, 25.0, 10.0) == 0.0  # PCM: no off-state current
    r = sweep(jung, device=["mram", "rram"], g_max_uS=[20.0, 44.0, 700.0])
    loop = [peak(jung.replace(device=d, g_max_uS=g)).tops_per_W
            for d in ("mram", "rram") for g in (20.0, 44.0, 700.0)]
    np.testing.assert_allclose(r["tops_per_W"], loop, rtol=1e-12)


def test_analog_slice_combining_converts_once_per_weight() -> None:
    """Oracle: summing a weight's cells before the ADC divides the conversions (ADC, sample-and-hold)
    by cells_per_weight and drops the slices' shift-and-add; the array read is unchanged."""
    from analogue.config import ConfigError
    from analogue.cost.model import array_energy, chip_params

    base = next(e.chip for e in ENTRIES if e.key == "dong-7nm-sram")
    assert base.organisation.slice_combining == "analog"
    dig = base.replace(**{"organisation.slice_combining": "digital"})
    p_a, p_d = chip_params(base), chip_params(dig)
    cpw = base.cells_per_weight
    e_a, e_d = array_energy(p_a, 64, 64), array_energy(p_d, 64, 64)
    assert e_a["crossbar"] == e_d["crossbar"] and e_a["dac"] == e_d["dac"]
    assert e_a["adc"] == pytest.approx(e_d["adc"] / cpw, rel=1e-12)
    assert e_a["sample_hold"] == pytest.approx(e_d["sample_hold"] / cpw, rel=1e-12)
    assert e_d["shift_add"] > 0 and e_a["shift_add"] == 0  # one read per MVM: nothing to combine
    assert Chip.from_dict(json.loads(json.dumps(base.to_dict()))) == base
    assert peak(base).area_breakdown_mm2["adc"] < peak(dig).area_breakdown_mm2["adc"]
    with pytest.raises(ConfigError, match="slice_combining"):
        base.replace(**{"organisation.slice_combining": "charge"})
