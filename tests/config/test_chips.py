"""The Chip description: validation, presets, serialisation, derived timing."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from analogue import chips, presets
from analogue.config import ConfigError
from analogue.config.chips import (
    ADC_KINDS,
    INPUT_ENCODINGS,
    Chip,
    DigitalUnit,
    Periphery,
    array_config,
)

PRESET_NAMES = [
    "hermes",
    "hermes-4phase",
    "mythic_m1076",
    "neurram",
    "neurram-8b_out_6b_in",
    "sram_cim",
    "gpu_a100",
]


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_presets_round_trip_through_json_and_yaml(name: str) -> None:
    chip = chips.get(name)
    assert Chip.from_dict(json.loads(json.dumps(chip.to_dict()))) == chip
    assert Chip.from_dict(yaml.safe_load(yaml.safe_dump(chip.to_dict()))) == chip


def test_hermes_organisation_and_timing() -> None:
    h = chips.hermes()
    assert (h.n_cores, h.array_rows, h.array_cols, h.node_nm) == (64, 256, 256, 14.0)
    assert h.weight_capacity == 64 * 256 * 256
    assert h.adcs_per_array == 256
    assert h.mvm_latency_s == pytest.approx(130e-9)
    assert chips.hermes(four_phase=True).mvm_latency_s == pytest.approx(4 * 130e-9)


def test_derived_timing_follows_encoding_and_adc() -> None:
    base = Chip(array=array_config("pcm", dac_bits=8, adc_bits=8),
                periphery=Periphery(mvm_time_s=None, clock_hz=1e9, t_read_s=10e-9))
    # PWM: 128-cycle window, then a SAR conversion of 8 clocks per column sharing the ADC
    pwm = base.replace(input_encoding="pwm", adc_kind="sar", columns_per_adc=4)
    assert pwm.mvm_latency_s == pytest.approx(128e-9 + 4 * 8e-9)
    # bit-serial: sign-magnitude, the sign as the pulse polarity: 7 magnitude-bit reads, each
    # converted (CCO adds no time of its own)
    ser = base.replace(input_encoding="bit_serial", adc_kind="cco")
    assert ser.mvm_latency_s == pytest.approx(7 * 10e-9)
    assert ser.conversions_per_mvm == 7 * 256
    # 3 magnitude bits per read: ceil(7 / 3) = 3 reads
    ser3 = ser.replace(**{"array.dac.bits_per_cycle": 3})
    assert ser3.mvm_latency_s == pytest.approx(3 * 10e-9)
    # ramp converter: 2**bits clocks; two phases double it
    ramp = base.replace(input_encoding="amplitude", adc_kind="ramp", input_phases=2)
    assert ramp.mvm_latency_s == pytest.approx(2 * (10e-9 + 256e-9))
    # pulse count: 2**(bits-1) clock cycles of pulses, one conversion
    pc = base.replace(input_encoding="pulse_count", adc_kind="flash", dac_bits=4)
    assert pc.mvm_latency_s == pytest.approx(8e-9 + 1e-9)


def test_cells_per_weight_reduce_capacity() -> None:
    n = chips.neurram()
    assert n.weights_per_array == 256 * 128
    assert chips.sram_cim().weights_per_array == 256 * 32


@pytest.mark.parametrize(
    "change, field",
    [
        ({"adc_kind": "sigma-delta"}, "periphery.adc_kind"),
        ({"device": "memristor"}, "array.device.kind"),
        ({"input_encoding": "thermometer"}, "periphery.input_encoding"),
        ({"array_rows": 0}, "array: TileConfig.rows"),
        ({"clock_hz": -1.0}, "periphery.clock_hz"),
        ({"columns_per_adc": 300}, "periphery.columns_per_adc"),
        ({"cells_per_weight": 512}, "organisation.cells_per_weight"),
        ({"arrays_per_core": 0}, "array.device.kind"),
        ({"mvm_time_s": float("nan")}, "periphery.mvm_time_s"),
        ({"gated_cells": 1}, "electrical.gated_cells"),
        ({"periphery.adc_kind": "sigma-delta"}, "periphery.adc_kind"),
        ({"array.adc.bits": None}, "array.adc.bits"),
    ],
)
def test_bad_fields_fail_naming_the_field(change: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"Chip.{field}"):
        chips.hermes().replace(**change)


def test_unknown_keys_suggest_the_closest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'adc_bits'"):
        Chip.from_dict({"adc_bit": 8})
    with pytest.raises(ConfigError, match="did you mean 'node_nm'"):
        chips.hermes().replace(node_mn=7)
    with pytest.raises(ConfigError, match="Chip.digital"):
        Chip.from_dict({"digital": {"ops_per_sec": 1.0}})


def test_replace_reaches_the_digital_unit() -> None:
    h = chips.hermes().replace(**{"digital.node_nm": 7.0})
    assert h.digital.node_nm == 7.0 and h.node_nm == 14.0
    with pytest.raises(ConfigError, match="DigitalUnit.ops_per_s"):
        DigitalUnit(ops_per_s=0.0)


def test_device_config_object_reduces_to_its_kind() -> None:
    @dataclass(frozen=True)
    class FakeDevice:
        kind: str = "rram"

    assert Chip().replace(device=FakeDevice()).device == "rram"


def test_unknown_preset_and_operating_point() -> None:
    with pytest.raises(ConfigError, match="did you mean 'hermes'"):
        chips.get("hermess")
    with pytest.raises(ConfigError, match="operating_point"):
        chips.neurram("4b_out_4b_in")


def test_all_digital_reference() -> None:
    g = chips.gpu_a100()
    assert not g.is_analog and g.n_arrays == 0 and g.weight_capacity == 0


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 4096),
    cols=st.integers(8, 4096),
    adc_bits=st.integers(1, 16),
    dac_bits=st.integers(1, 16),
    kind=st.sampled_from(ADC_KINDS),
    enc=st.sampled_from(INPUT_ENCODINGS),
    node=st.floats(3.0, 180.0),
    mvm=st.one_of(st.none(), st.floats(1e-9, 1e-3)),
)
def test_random_chips_round_trip(rows, cols, adc_bits, dac_bits, kind, enc, node, mvm) -> None:
    chip = Chip().replace(array_rows=rows, array_cols=cols, adc_bits=adc_bits, dac_bits=dac_bits,
                          adc_kind=kind, input_encoding=enc, node_nm=node, mvm_time_s=mvm)
    assert Chip.from_dict(json.loads(json.dumps(chip.to_dict()))) == chip
    assert chip.mvm_latency_s > 0


def test_numpy_scalars_become_builtins() -> None:
    import numpy as np

    chip = chips.hermes().replace(adc_bits=np.int64(6), clock_hz=np.float64(5e8))
    assert type(chip.adc_bits) is int and type(chip.periphery.clock_hz) is float
    json.dumps(chip.to_dict())
    with pytest.raises(ConfigError, match="Chip.array: ADCConfig.bits"):
        chips.hermes().replace(adc_bits=np.float64(6.0))


# -- the array's AnalogConfig is the one source; version-1 files still read ----------------------
NEURRAM_V1 = {  # chips.neurram().to_dict() of chip format version 1 (32 flat fields)
    "name": "neurram-3b_out_1b_in", "node_nm": 130.0, "n_cores": 48, "arrays_per_core": 1,
    "array_rows": 256, "array_cols": 256, "device": "rram", "weight_bits": 4, "cells_per_weight": 2,
    "dac_bits": 1, "input_encoding": "pulse_count", "adc_bits": 3, "adc_kind": "sar",
    "columns_per_adc": 1, "clock_hz": 2700000.0, "mvm_time_s": None, "input_phases": 1,
    "sram_bytes_per_core": 0,
    "digital": {"ops_per_s": 1e9, "node_nm": 130.0, "pJ_per_op": None, "area_mm2": None, "op_bits": 8},
    "t_read_s": 5e-09, "v_read_V": 0.1, "read_supply_V": None, "bias_uW_per_column": 3.0,
    "post_ops_per_output": 0.0, "gated_cells": True, "g_max_uS": 40.0, "cell_area_um2": None,
    "c_wire_fF_per_cell": 1.0, "supply_V": 1.2, "noc_pJ_per_bit_mm": 0.0, "core_area_mm2": None,
    "version": 1,
}


def test_version_1_flat_chips_still_read(tmp_path) -> None:
    # version 1 had no built converter resolution (periphery.adc_max_bits): the operating one
    v1_neurram = chips.neurram().replace(adc_max_bits=None)
    assert Chip.from_dict(NEURRAM_V1) == v1_neurram
    unversioned = {k: v for k, v in NEURRAM_V1.items() if k != "version"}
    assert Chip.from_dict(unversioned) == v1_neurram
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(NEURRAM_V1))
    assert Chip.from_yaml(path) == v1_neurram
    assert chips.neurram().to_dict()["version"] == chips.CHIP_VERSION == 2
    with pytest.raises(ConfigError, match="Chip.version"):
        Chip.from_dict({**chips.neurram().to_dict(), "version": 3})


def test_the_array_config_is_the_one_source_of_tile_bits_device_and_g_max() -> None:
    n = chips.neurram("8b_out_6b_in")
    assert (n.array_rows, n.array_cols) == (n.array.tile.rows, n.array.tile.cols) == (256, 256)
    assert (n.dac_bits, n.adc_bits) == (n.array.dac.bits, n.array.adc.bits) == (6, 8)
    assert n.device == n.array.device.kind == "rram" and n.g_max_uS == n.array.mapping.g_max_uS == 40.0
    assert n.array.device == presets.rram_device()  # the technology's device model
    wider = n.replace(**{"array.tile.cols": 512, "array.adc.bits": 6})
    assert (wider.array_cols, wider.adc_bits) == (512, 6)
    with pytest.raises(ConfigError, match="Chip.array.adc.bits"):
        n.replace(**{"array.adc.bits": None})  # a chip's ADC has a resolution


def test_switching_the_device_takes_its_model_and_conductance() -> None:
    from analogue.cost.constants import DEVICES

    h = chips.hermes()
    r = h.replace(device="rram")
    assert r.device == "rram" and r.array.device == presets.rram_device()
    assert r.g_max_uS == DEVICES["rram"]["g_max_uS"]
    assert h.replace(device="rram", g_max_uS=50.0).g_max_uS == 50.0
    assert chips.neurram().replace(g_max_uS=None).g_max_uS == DEVICES["rram"]["g_max_uS"]
    mram = h.replace(device="mram")
    assert mram.array.device.kind == "mram" and mram.array.device.is_ideal  # no published model


def test_replace_takes_section_paths_and_flat_names() -> None:
    h = chips.hermes()
    a = h.replace(**{"periphery.adc_kind": "sar", "electrical.supply_V": 0.9, "organisation.n_cores": 8})
    b = h.replace(adc_kind="sar", supply_V=0.9, n_cores=8)
    assert a == b and a.periphery.adc_kind == "sar" and a.n_cores == 8
    with pytest.raises(ConfigError, match="did you mean 'supply_V'"):
        h.replace(suply_V=0.9)
    with pytest.raises(ConfigError, match="Chip.periphery"):
        h.replace(**{"periphery.adc_knd": "sar"})



@pytest.mark.parametrize("dac_bits, k", [(8, None), (8, 1), (8, 2), (6, 5), (2, 1)])
def test_bit_serial_cost_counts_the_accuracy_paths_cycles(dac_bits, k) -> None:
    """The cost model's reads and conversions per MVM are the read cycles the accuracy path runs
    (``accuracy_array``'s ``dac.cycles``: the planes of ``input_bit_planes``)."""
    from analogue.physics.periphery import input_bit_planes

    chip = Chip(array=array_config("pcm", dac_bits=dac_bits, adc_bits=8),
                periphery=Periphery(input_encoding="bit_serial", mvm_time_s=None))
    chip = chip.replace(**{"array.dac.bits_per_cycle": k})
    arr = chips.accuracy_array(chip)
    planes = input_bit_planes(torch.arange(-3.0, 4.0), dac_bits, arr.dac.bits_per_cycle)
    assert chip.timing["reads"] == chip.timing["convs"] == arr.dac.cycles == planes.shape[0]
