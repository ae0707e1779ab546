"""Component models against their published oracles (docs/references.md section 5 and the sources
named in analogue.cost.constants)."""

from __future__ import annotations

import numpy as np
import pytest

from analogue.cost import components as C
from analogue.cost import constants as K


@pytest.mark.parametrize("bits, pj", [(8, 0.64), (6, 0.04), (10, 10.2)])
def test_adc_envelope_reproduces_reference_examples(bits: int, pj: float) -> None:
    assert C.adc_envelope_energy_J(bits, 1e9) * 1e12 == pytest.approx(pj, rel=0.03)


def test_sar_kind_reproduces_isaac_adc() -> None:
    # ISAAC's 8-bit ADC: 2 mW at 1.28 GS/s = 1.56 pJ per conversion (docs/references.md section 5)
    e = C.adc_energy_J(C.ADC_KIND_CODE["sar"], 8, 1.28e9, 32.0, 0.9)
    assert e * 1e12 == pytest.approx(1.56, rel=0.03)


def test_sar_area_reproduces_isaac() -> None:
    assert C.adc_area_mm2(C.ADC_KIND_CODE["sar"], 8, 32.0) == pytest.approx(0.0012, rel=1e-6)


def test_adc_energy_grows_with_bits_for_every_kind() -> None:
    bits = np.arange(1, 15)
    for kind in C.ADC_KIND_CODE.values():
        e = C.adc_energy_J(kind, bits, 10e6, 14.0, 0.8)
        assert np.all(np.diff(e) > 0), kind
        assert np.all(e >= C.adc_envelope_energy_J(bits, 10e6))


def test_counting_converters_cost_two_to_the_bits() -> None:
    e6 = C.adc_energy_J(C.ADC_KIND_CODE["cco"], 6, 1e7, 14.0, 0.8)
    e8 = C.adc_energy_J(C.ADC_KIND_CODE["cco"], 8, 1e7, 14.0, 0.8)
    assert e8 / e6 == pytest.approx(4.0, rel=1e-9)
    assert e8 == pytest.approx(0.5 * 256 * K.CCO_C_PER_PERIOD_F * 0.8**2)


def test_crossbar_read_is_v2_g_t() -> None:
    e = C.crossbar_read_energy_J(256, 128, 10.0, 0.2, 100e-9, input_activity=1.0)
    assert e == pytest.approx(256 * 128 * 10e-6 * 0.2**2 * 100e-9)
    lines = C.line_charge_energy_J(256, 128, 0.2, 0.2, 0.8, pulses=3)
    assert lines == pytest.approx(256 * 128 * 0.2e-15 * (3 * 0.04 + 0.64))


def test_node_scaling_anchors_and_monotone() -> None:
    assert C.node_energy_scale(45.0) == pytest.approx((1.0 / 0.9) ** 2)  # 45 nm runs at 1.0 V
    assert C.node_energy_scale(45.0, 0.9) == pytest.approx(1.0)
    nodes = np.array([180, 130, 90, 65, 45, 28, 22, 14, 7, 5], dtype=float)
    assert np.all(np.diff(C.node_energy_scale(nodes)) < 0)
    # Stillmaker & Baas 2017: ~0.2-0.3x at 14 nm, ~0.1x at 7 nm against 45 nm
    assert 0.15 < C.node_energy_scale(14.0) / C.node_energy_scale(45.0) < 0.35
    assert 0.05 < C.node_energy_scale(7.0) / C.node_energy_scale(45.0) < 0.15


def test_horowitz_table_points() -> None:
    assert C.add_energy_J(8, 45.0) / C.node_energy_scale(45.0) * 1e12 == pytest.approx(0.03)
    assert C.mult_energy_J(32, 45.0) / C.node_energy_scale(45.0) * 1e12 == pytest.approx(3.1, rel=0.05)
    sram = lambda kb: C.sram_energy_per_bit_J(kb * 1024, 45.0) / C.node_energy_scale(45.0) * 64e12
    assert sram(8) == pytest.approx(10.0)
    assert sram(32) == pytest.approx(20.0, rel=0.15)
    assert sram(1024) == pytest.approx(100.0, rel=0.15)


def test_wire_energy_matches_keckler() -> None:
    # Keckler et al. 2011: ~0.1 pJ/bit/mm at 40 nm (0.9 V)
    assert C.wire_energy_per_bit_mm_J(0.9) * 1e12 == pytest.approx(0.1, rel=0.25)


def test_components_broadcast_over_design_points() -> None:
    bits = np.array([4, 6, 8])
    nodes = np.array([[14.0], [28.0]])
    e = C.adc_energy_J(C.ADC_KIND_CODE["sar"], bits, 1e8, nodes, 0.8)
    assert e.shape == (2, 3)
    assert np.all(e[0] <= e[1])
