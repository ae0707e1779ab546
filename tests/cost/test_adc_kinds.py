"""Energy per conversion of every ADC kind against the survey envelope (docs/references.md
section 5) at several resolutions, sample rates and nodes (docs/cost.md, "Converters against
the survey")."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analogue.cost import components as C

KINDS = ("sar", "flash", "ramp", "cco")
BITS = (1, 3, 4, 6, 8, 10)
RATES_HZ = (1e6, 1e7, 1e8, 1e9)
NODES = (7.0, 14.0, 40.0, 65.0, 130.0)
#: Walden figure of merit, energy per conversion step ``E / 2**bits``: the band docs/cost.md
#: states for the model's kinds, 0.2 fJ (about the survey's best designs) to 1 pJ per step.
WALDEN_J = (0.2e-15, 1e-12)


def _grid() -> tuple[np.ndarray, ...]:
    pts = np.array(list(itertools.product(range(len(KINDS)), BITS, RATES_HZ, NODES)), float)
    kind = np.array([C.ADC_KIND_CODE[KINDS[int(i)]] for i in pts[:, 0]])
    bits, fs, node = pts[:, 1], pts[:, 2], pts[:, 3]
    return kind, bits, fs, node, C.node_vdd_V(node)


def test_no_kind_beats_the_survey_envelope() -> None:
    kind, bits, fs, node, vdd = _grid()
    e = C.adc_energy_J(kind, bits, fs, node, vdd)
    assert np.all(e >= C.adc_envelope_energy_J(bits, fs) * (1 - 1e-12))


def test_every_kind_lies_within_the_stated_walden_band() -> None:
    kind, bits, fs, node, vdd = _grid()
    step = C.adc_energy_J(kind, bits, fs, node, vdd) / 2.0**bits
    lo, hi = WALDEN_J
    bad = [(k, b, f, n, s) for k, b, f, n, s in zip(kind, bits, fs, node, step)
           if not lo <= s <= hi]
    assert not bad, bad[:5]


@pytest.mark.parametrize("kind", ["flash", "ramp", "cco"])
def test_counting_and_parallel_kinds_cost_more_than_a_sar_at_eight_bits(kind: str) -> None:
    """At 8 bits and up to 100 MS/s a SAR (bits decisions) is the cheapest kind; flash (255
    comparators), ramp (256 steps) and CCO (128 oscillator periods on average) cost more at every
    node. (At GS/s the envelope binds the SAR and a flash can be cheaper, as in the survey; the
    model does not check that a counting converter can reach such a rate.)"""
    for node, fs in itertools.product(NODES, RATES_HZ[:3]):
        vdd = C.node_vdd_V(node)
        sar = C.adc_energy_J(C.ADC_KIND_CODE["sar"], 8, fs, node, vdd)
        other = C.adc_energy_J(C.ADC_KIND_CODE[kind], 8, fs, node, vdd)
        assert other > sar, (kind, node, fs)


def test_sar_sits_on_the_envelope_times_its_overhead_when_the_envelope_binds() -> None:
    """Above ~8 bits at GS/s rates the envelope dominates a SAR's switching floor: the model is
    then the envelope times ISAAC's measured overhead (1.56 / 0.92), exactly."""
    for bits, fs in ((8, 1.28e9), (10, 1e9), (10, 1e8)):
        e = C.adc_energy_J(C.ADC_KIND_CODE["sar"], bits, fs, 32.0, 0.9)
        env = C.adc_envelope_energy_J(bits, fs)
        assert e == pytest.approx(1.56 / 0.92 * env, rel=1e-9)
