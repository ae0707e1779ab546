"""Peak figures of the presets against the published ones (docs/references.md section 4), physical
directions of the design knobs (property tests), and the vectorised sweep."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analogue import chips
from analogue.apps.claims import PUBLISHED, brief_claims, claims_table
from analogue.config import ConfigError
from analogue.config.chips import Chip
from analogue.cost import PeakReport, constants, peak, sweep, sweep_points

VALIDATED = [
    chips.hermes(),
    chips.hermes(four_phase=True),
    chips.mythic_m1076(),
    chips.neurram("3b_out_1b_in"),
    chips.neurram("8b_out_6b_in"),
]


@pytest.mark.parametrize("chip", VALIDATED, ids=lambda c: c.name)
def test_presets_land_within_25_percent_of_published(chip: Chip) -> None:
    tops, tops_per_W = PUBLISHED[chip.name]
    r = peak(chip)
    assert r.tops == pytest.approx(tops, rel=0.25)
    assert r.tops_per_W == pytest.approx(tops_per_W, rel=0.25)


@pytest.mark.parametrize("chip", VALIDATED, ids=lambda c: c.name)
def test_power_is_the_sum_of_its_components(chip: Chip) -> None:
    """No overall factor: the chip's power is exactly arrays x the component energies / time."""
    r = peak(chip)
    per_mvm = sum(r.energy_per_mvm_J.values())
    assert r.power_W == pytest.approx(chip.n_arrays * per_mvm / r.mvm_latency_s, rel=1e-12)
    assert r.tops == pytest.approx(2 * chip.n_arrays * chip.weights_per_array
                                   / chip.mvm_latency_s / 1e12, rel=1e-12)


def test_gpu_reference_is_its_datasheet() -> None:
    r = peak(chips.gpu_a100())
    assert r.tops == pytest.approx(312.0)
    assert r.power_W == pytest.approx(400.0)
    assert r.energy_per_mac_pJ == pytest.approx(2 * 400 / 312e12 * 1e12)


def test_four_phase_costs_four_times_the_energy_per_op() -> None:
    one, four = peak(chips.hermes()), peak(chips.hermes(four_phase=True))
    assert one.tops / four.tops == pytest.approx(4.0)
    assert one.tops_per_W / four.tops_per_W == pytest.approx(4.0, rel=0.05)


def test_report_round_trip_and_table() -> None:
    r = peak(chips.neurram())
    assert PeakReport.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    text = r.table()
    assert "TOPS/W" in text and "adc" in text
    with pytest.raises(ConfigError, match="unknown field 'bogus'"):
        PeakReport.from_dict({**r.to_dict(), "bogus": 1})
    with pytest.raises(ConfigError, match="input_activity"):
        peak(chips.hermes(), input_activity=1.5)


def test_claims_check_numbers() -> None:
    b = brief_claims()
    assert b["tmacs_per_256x256_array_at_10ns"] == pytest.approx(6.5536)
    assert b["gpu_a100_pJ_per_MAC"] == pytest.approx(2.564, rel=1e-3)
    # analog presets land at 0.04-0.7 pJ/MAC: a 4-70x gain over the GPU, not 1000x
    assert 3 < b["gpu_over_hermes_energy_ratio"] < 100
    assert b["gpu_over_best_preset_energy_ratio"] < 1000
    assert "hermes" in claims_table()


# -- physical directions -----------------------------------------------------------------------
ANALOG = [*VALIDATED, chips.sram_cim()]


@settings(max_examples=40, deadline=None)
@given(idx=st.integers(0, len(ANALOG) - 1), b=st.integers(1, 13))
def test_more_adc_bits_never_help(idx: int, b: int) -> None:
    chip = ANALOG[idx]
    lo, hi = peak(chip.replace(adc_bits=b)), peak(chip.replace(adc_bits=b + 1))
    assert hi.energy_per_mvm_J["adc"] > lo.energy_per_mvm_J["adc"]
    assert hi.tops_per_W < lo.tops_per_W
    assert hi.tops <= lo.tops


@settings(max_examples=30, deadline=None)
@given(idx=st.integers(0, len(ANALOG) - 1), k=st.integers(5, 10))
def test_larger_arrays_amortise_the_periphery(idx: int, k: int) -> None:
    chip = ANALOG[idx].replace(core_area_mm2=None)  # a published core area would stay fixed
    small, big = chip.replace(array_rows=2**k), chip.replace(array_rows=2 ** (k + 1))
    ps, pb = peak(small), peak(big)
    assert pb.tops > ps.tops
    # ADC energy per MAC halves: each conversion now sums twice the rows
    assert pb.energy_per_mvm_J["adc"] / pb.macs_per_mvm < ps.energy_per_mvm_J["adc"] / ps.macs_per_mvm
    assert pb.area_mm2 > ps.area_mm2


@settings(max_examples=30, deadline=None)
@given(idx=st.integers(0, len(ANALOG) - 1),
       nodes=st.sampled_from([(65.0, 40.0), (40.0, 28.0), (28.0, 14.0), (14.0, 7.0), (130.0, 65.0)]))
def test_smaller_nodes_cut_digital_energy_and_area(idx: int, nodes: tuple[float, float]) -> None:
    chip = ANALOG[idx].replace(core_area_mm2=None)
    old = chip.replace(node_nm=nodes[0], **{"digital.node_nm": nodes[0]})
    new = chip.replace(node_nm=nodes[1], **{"digital.node_nm": nodes[1]})
    po, pn = peak(old), peak(new)
    for comp in ("digital", "accumulate", "shift_add", "sram", "dac"):
        assert pn.energy_per_mvm_J[comp] <= po.energy_per_mvm_J[comp]
    # dynamic energy falls; leakage per function may rise at small nodes for slow MVMs
    dyn = lambda r: sum(v for k, v in r.energy_per_mvm_J.items() if k != "leakage")
    assert dyn(pn) <= dyn(po)
    assert pn.area_mm2 < po.area_mm2


def test_device_conductance_drives_array_energy() -> None:
    """Higher-conductance devices draw more read current: RRAM (10-167 uS) > PCM (0-25 uS) >
    flash (sub-threshold) in crossbar energy, all else equal."""
    base = chips.hermes().replace(g_max_uS=None)
    e = {d: peak(base.replace(device=d)).energy_per_mvm_J["crossbar"] for d in
         ("rram", "pcm", "flash", "mram")}
    assert e["mram"] > e["rram"] > e["pcm"] > e["flash"]
    assert peak(base.replace(device="rram")).tops_per_W < peak(base).tops_per_W


def test_more_input_phases_cost_time_and_energy() -> None:
    base = chips.mythic_m1076()
    p1, p2 = peak(base), peak(base.replace(input_phases=2))
    assert p2.tops == pytest.approx(p1.tops / 2)
    assert p2.tops_per_W < p1.tops_per_W


# -- sweep ---------------------------------------------------------------------------------------
def test_sweep_matches_pointwise_peak() -> None:
    base = chips.neurram()
    r = sweep(base, adc_bits=[2, 5, 8], array_rows=[128, 256], device=["rram", "pcm"],
              adc_kind=["sar", "ramp"])
    assert len(r["tops"]) == 3 * 2 * 2 * 2
    for i in range(len(r["tops"])):
        chip = base.replace(adc_bits=int(r["adc_bits"][i]), array_rows=int(r["array_rows"][i]),
                            device=r["device"][i], adc_kind=r["adc_kind"][i])
        p = peak(chip)
        assert r["tops"][i] == pytest.approx(p.tops, rel=1e-12)
        assert r["tops_per_W"][i] == pytest.approx(p.tops_per_W, rel=1e-12)
        assert r["area_mm2"][i] == pytest.approx(p.area_mm2, rel=1e-12)


def test_sweep_over_node_matches_peak() -> None:
    base = chips.sram_cim()
    r = sweep(base, node_nm=[7.0, 22.0, 65.0])
    for i, n in enumerate([7.0, 22.0, 65.0]):
        assert r["tops_per_W"][i] == pytest.approx(peak(base.replace(node_nm=n)).tops_per_W)


def test_sweep_points_matches_peak() -> None:
    r = sweep_points(VALIDATED)
    assert np.allclose(r["tops_per_W"], [peak(c).tops_per_W for c in VALIDATED], rtol=1e-12)


def test_sweep_rejects_bad_axes() -> None:
    with pytest.raises(ConfigError, match="did you mean 'adc_bits'"):
        sweep(chips.hermes(), adc_bit=[4])
    with pytest.raises(ConfigError, match="empty"):
        sweep(chips.hermes(), adc_bits=[])
    with pytest.raises(ConfigError, match="Chip.array: ADCConfig.bits"):
        sweep(chips.hermes(), adc_bits=[0])
    with pytest.raises(ConfigError, match="at least one axis"):
        sweep(chips.hermes())


def test_constants_name_their_source() -> None:
    import inspect

    from analogue.config import technology

    # every upper-case constant block is preceded by a comment naming a source
    for module, names in ((constants, ("NODE_VDD_V", "ADD8_PJ_45", "WIRE_F_PER_MM", "LEAKAGE_W_PER_MM2",
                                       "ADC_FOM_A", "SAR_OVERHEAD", "CCO_C_PER_PERIOD_F", "GPUS")),
                          (technology, ("DEVICES",))):
        src = inspect.getsource(module)
        for name in names:
            head = src[: src.index(f"\n{name}")]
            comment = head[head.rfind("\n\n"):]
            assert any(ch.isdigit() for ch in comment) and ("#" in comment), name


def test_sweep_device_and_node_together() -> None:
    base = chips.hermes().replace(core_area_mm2=None)
    r = sweep(base, device=["pcm", "sram"], node_nm=[7.0, 28.0])
    for i in range(4):
        p = peak(base.replace(device=r["device"][i], node_nm=float(r["node_nm"][i])))
        assert r["area_mm2"][i] == pytest.approx(p.area_mm2, rel=1e-12)
        assert r["tops_per_W"][i] == pytest.approx(p.tops_per_W, rel=1e-12)


@pytest.mark.parametrize("order", ["device_first", "g_max_first"])
def test_sweep_device_and_full_scale_in_either_order(order) -> None:
    """A device axis brings its conductance window and a g_max_uS axis overrides it (None: the
    swept device's), whichever axis comes first: each point equals the scalar peak of
    ``Chip.replace(device=..., g_max_uS=...)``."""
    base = chips.hermes()
    axes = {"device": ["pcm", "rram"], "g_max_uS": [5.0, None, 40.0]}
    if order == "g_max_first":
        axes = dict(reversed(list(axes.items())))
    r = sweep(base, **axes)
    assert list(r)[:2] == list(axes)
    for i, values in enumerate(itertools.product(*axes.values())):  # the grid, first axis slowest
        chip = base.replace(**dict(zip(axes, values)))
        p = peak(chip)
        assert r["device"][i] == chip.device
        assert r["g_max_uS"][i] == pytest.approx(chip.g_max_uS, rel=1e-12)
        assert r["tops_per_W"][i] == pytest.approx(p.tops_per_W, rel=1e-12)
        assert r["area_mm2"][i] == pytest.approx(p.area_mm2, rel=1e-12)
