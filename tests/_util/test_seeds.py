"""analogue._util.seeds: the seed formulas, values fixed (results depend on them bit for bit)."""

from __future__ import annotations

from analogue._util.seeds import SEED_STRIDE, derive_seed, layer_seed, seed_limit


def test_layer_seed_is_the_documented_formula():
    assert SEED_STRIDE == 1_000_003
    assert layer_seed(7, 0) == 7_000_021
    assert layer_seed(-3, 5) == -3 * 1_000_003 + 5
    assert seed_limit(2) == ((1 << 63) - 2) // 1_000_003
    assert seed_limit(0) == seed_limit(1)


def test_derive_seed_values_are_fixed():
    s = 0x2545F4914F6CDD1D
    for p in (3, 1):
        s = (s * 1_000_003 + p + 0x9E3779B97F4A7C15) % (1 << 63)
    assert derive_seed(3, 1) == s
    assert derive_seed() == 0x2545F4914F6CDD1D
    assert derive_seed(1, 3) != derive_seed(3, 1)
    assert 0 <= derive_seed(-5, 10**20) < 1 << 63
