"""Bit planes of bit-serial inputs: exact reconstruction against integer bit arithmetic, digit
ranges, signs, significance, and the DAC config's validation."""

from __future__ import annotations

import pytest
import torch

from analogue._util.validate import ConfigError
from analogue.config import AnalogConfig, DACConfig
from analogue.physics.periphery import bit_plane_significance, input_bit_planes, levels

CASES = [(bits, k) for bits in (2, 3, 4, 6, 8, 9, 12, 16) for k in range(1, bits) if k <= 5 or k == bits - 1]


def _int_digits(codes: torch.Tensor, bits: int, k: int) -> torch.Tensor:
    """Independent oracle: Python integer division of each magnitude by ``2**k``, sign reapplied."""
    n = -(-(bits - 1) // k)
    rows = []
    for c in codes.tolist():
        mag, digits = abs(int(c)), []
        for _ in range(n):
            mag, d = divmod(mag, 1 << k)
            digits.append(d if c >= 0 else -d)
        assert mag == 0
        rows.append(digits)
    return torch.tensor(rows, dtype=torch.int64).t()


@pytest.mark.parametrize(("bits", "k"), CASES)
def test_planes_are_the_sign_magnitude_digits_and_rebuild_every_code(bits, k):
    lv = levels(bits)
    codes = torch.arange(-lv, lv + 1, dtype=torch.float32 if bits <= 12 else torch.float64)
    planes = input_bit_planes(codes, bits, k)
    n = -(-(bits - 1) // k)
    assert planes.shape == (n, 2 * lv + 1)
    assert torch.equal(planes.to(torch.int64), _int_digits(codes, bits, k))
    assert bool((planes.abs() <= (1 << k) - 1).all())
    assert bool((planes * codes.sign() >= 0).all())  # every cycle carries the input's sign
    weights = torch.pow(2.0, k * torch.arange(n, dtype=torch.float64))
    assert torch.equal((planes.double() * weights.view(-1, 1)).sum(0), codes.double())
    sig = bit_plane_significance(bits, k, torch.float64)
    rebuilt = (planes.double() / ((1 << k) - 1) * sig.view(-1, 1)).sum(0)
    torch.testing.assert_close(rebuilt, codes.double() / lv, rtol=0, atol=1e-15)


def test_plane_dimension_and_batched_shapes():
    torch.manual_seed(0)
    codes = torch.randint(-127, 128, (3, 5, 11)).float()
    for dim in (0, 1, 2, 3, -1):
        planes = input_bit_planes(codes, 8, 2, dim=dim)
        assert planes.shape[dim] == 4
        assert torch.equal(planes.movedim(dim, 0), input_bit_planes(codes, 8, 2, dim=0))
    assert input_bit_planes(codes, 8, 1).dtype == codes.dtype
    assert torch.equal(codes, codes.round())  # input untouched


def test_significance_of_one_bit_per_cycle_is_binary():
    sig = bit_plane_significance(8, 1, torch.float64)
    torch.testing.assert_close(sig, torch.pow(2.0, torch.arange(7.0, dtype=torch.float64)) / 127)
    assert float(sig.sum()) == pytest.approx(1.0)


def test_dac_config_validates_bit_serial_fields():
    assert DACConfig(bits=8, bits_per_cycle=1).cycles == 7
    assert DACConfig(bits=8, bits_per_cycle=3).cycles == 3
    assert DACConfig(bits=8, bits_per_cycle=7).cycles == 1
    assert DACConfig(bits=8).cycles == 1
    for bad in ({"bits": None, "bits_per_cycle": 1}, {"bits": 1, "bits_per_cycle": 1},
                {"bits": 8, "bits_per_cycle": 8}, {"bits": 8, "bits_per_cycle": 0},
                {"bits": 8, "bits_per_cycle": 1, "inl_std_lsb": 0.5}):
        with pytest.raises(ConfigError, match="DACConfig"):
            DACConfig(**bad)
    cfg = AnalogConfig().replace(**{"dac.bits_per_cycle": 2})
    assert AnalogConfig.from_dict(cfg.to_dict()) == cfg
    assert AnalogConfig.from_dict(AnalogConfig().to_dict()).dac.bits_per_cycle is None


def test_sram_preset_and_chip_accuracy_array_read_inputs_as_the_periphery_does():
    from analogue.config import chips, presets

    assert presets.sram().dac.bits_per_cycle is None  # default: amplitude, every figure stands
    assert presets.sram(bits_per_cycle=1).dac.bits_per_cycle == 1
    sram = chips.sram_cim()
    assert sram.periphery.input_encoding == "bit_serial"
    arr = chips.accuracy_array(sram)
    assert arr.dac.bits_per_cycle == 1 and arr.dac.cycles == sram.array.dac.bits - 1
    assert arr.replace(**{"dac.bits_per_cycle": None}) == sram.array  # nothing else changes
    assert chips.accuracy_array(sram, bits_per_cycle=2).dac.bits_per_cycle == 2
    serial2 = sram.replace(array=sram.array.replace(**{"dac.bits_per_cycle": 3}))
    assert chips.accuracy_array(serial2).dac.bits_per_cycle == 3  # the array's own choice stands
    for chip in (chips.hermes(), chips.neurram("8b_out_6b_in"), serial2.replace(input_encoding="amplitude")):
        assert chip.periphery.input_encoding != "bit_serial"
        assert chips.accuracy_array(chip).dac.bits_per_cycle is None
