"""Device models against the PCM table of docs/references.md section 2, and their pure-function contracts.

Statistical checks use fixed seeds and bounds of 5 standard errors derived from the sample size.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from analogue import presets
from analogue.config import (
    Aging,
    ConfigError,
    DeviceConfig,
    Drift,
    Faults,
    Levels,
    ProgrammingNoise,
    ReadNoise,
    Relaxation,
    Temperature,
)
from analogue.physics import devices as D

G_MAX = 25.0
# docs/references.md section 2: g, sigma_prog uS, mu_nu, sigma_nu, drift factors at mu_nu (1 h, 1 d, 1 y)
PCM_TABLE = [
    (0.01, 0.283, 0.0958, 0.0450, (0.608, 0.449, 0.255)),
    (0.10, 0.448, 0.0601, 0.0229, (0.732, 0.605, 0.424)),
    (0.50, 0.953, 0.0490, 0.0080, (0.775, 0.664, 0.497)),
    (1.00, 1.055, 0.0490, 0.0080, (0.775, 0.664, 0.497)),
]
HOUR, DAY, YEAR = 3600.0, 86_400.0, 365 * 86_400.0
N = 200_000


def _pcm(**off: bool) -> DeviceConfig:
    return presets.pcm_device(**{k: False for k in off} if off else {})


def _clamped_normal_moments(mu: float, sd: float) -> tuple[float, float]:
    """Mean and std of max(N(mu, sd), 0)."""
    a = mu / sd
    m1 = mu * stats.norm.cdf(a) + sd * stats.norm.pdf(a)
    m2 = (mu * mu + sd * sd) * stats.norm.cdf(a) + mu * sd * stats.norm.pdf(a)
    return m1, math.sqrt(m2 - m1 * m1)


def _folded_normal_moments(mu: float, sd: float) -> tuple[float, float]:
    """Mean and std of |N(mu, sd)|."""
    m1 = sd * math.sqrt(2 / math.pi) * math.exp(-mu * mu / (2 * sd * sd)) + mu * (
        1 - 2 * stats.norm.cdf(-mu / sd)
    )
    return m1, math.sqrt(mu * mu + sd * sd - m1 * m1)


def _assert_mean_std(x: torch.Tensor, mean: float, std: float, k: float = 5.0) -> None:
    n = x.numel()
    x = x.double()
    assert abs(float(x.mean()) - mean) < k * std / math.sqrt(n), (float(x.mean()), mean)
    # std of the sample std ~ std / sqrt(2 n) for near-normal data; kurtosis margin x2
    assert abs(float(x.std()) - std) < 2 * k * std / math.sqrt(2 * n), (float(x.std()), std)


# -- the table, as formulas ---------------------------------------------------------------------
@pytest.mark.parametrize("g, sigma, mu, sd, factors", PCM_TABLE)
def test_pcm_formulas_reproduce_the_table(g, sigma, mu, sd, factors):
    dev = _pcm()
    gt = torch.tensor([g], dtype=torch.float64)
    assert float(D.programming_std_uS(gt, dev.programming, G_MAX)) == pytest.approx(sigma, abs=5e-4)
    m, s = D.drift_exponent_stats(gt, dev.drift)
    assert float(m) == pytest.approx(mu, abs=5e-5)
    assert float(s) == pytest.approx(sd, abs=5e-5)
    for t, f in zip((HOUR, DAY, YEAR), factors):
        assert float(D.drift_factor(t, m, dev.drift.t0_s)) == pytest.approx(f, abs=5e-4)


def test_programming_noise_scales_with_g_max():
    dev = _pcm()
    g = torch.tensor([0.5])
    assert float(D.programming_std_uS(g, dev.programming, 50.0)) == pytest.approx(
        2 * 0.9527, abs=1e-3
    )


# -- the table, sampled -------------------------------------------------------------------------
@pytest.mark.parametrize("g, sigma, mu, sd, factors", PCM_TABLE)
def test_pcm_programming_noise_sampled(g, sigma, mu, sd, factors):
    dev = _pcm(drift=True, read_noise=True, temperature=True)
    target = torch.full((N,), g * G_MAX, dtype=torch.float64)
    prog = D.program_devices(target, dev, G_MAX, 0.0, torch.Generator().manual_seed(1))
    assert prog.nu is None and prog.stuck is None
    exact_sigma = float(
        D.programming_std_uS(torch.tensor(g, dtype=torch.float64), dev.programming, G_MAX)
    )
    mean, std = _clamped_normal_moments(
        g * G_MAX, exact_sigma
    )  # clamp at G >= 0 matters at g = 0.01
    _assert_mean_std(prog.g_uS, mean, std)
    assert float(prog.g_uS.min()) >= 0.0
    assert exact_sigma == pytest.approx(sigma, abs=5e-4)


@pytest.mark.parametrize("g, sigma, mu, sd, factors", PCM_TABLE)
def test_pcm_drift_exponents_sampled(g, sigma, mu, sd, factors):
    dev = _pcm(programming_noise=True, read_noise=True, temperature=True)
    target = torch.full((N,), g * G_MAX, dtype=torch.float64)
    prog = D.program_devices(target, dev, G_MAX, 0.0, torch.Generator().manual_seed(2))
    m, s = D.drift_exponent_stats(torch.tensor(g, dtype=torch.float64), dev.drift)
    fm, fs = _folded_normal_moments(float(m), float(s))
    _assert_mean_std(prog.nu, fm, fs)
    assert float(m) == pytest.approx(mu, abs=5e-5) and float(s) == pytest.approx(sd, abs=5e-5)
    # drift of the sampled devices: G(t) / G_prog = ((t + t0) / t0) ** -nu, exactly, per device
    for t, f in zip((HOUR, DAY, YEAR), factors):
        ratio = D.devices_at(prog, target, t, 300.0, dev, G_MAX, 0.0) / prog.g_uS
        expect = torch.exp(-prog.nu * math.log((t + 20.0) / 20.0))
        torch.testing.assert_close(ratio, expect, rtol=1e-12, atol=0)
        # the geometric-mean drift is the table's factor at the (folded) mean exponent
        geo = float(torch.exp(torch.log(ratio).mean()))
        assert geo == pytest.approx(
            f ** (fm / mu), rel=5 * fs * math.log((t + 20) / 20) / math.sqrt(N) + 5e-4
        )


@pytest.mark.parametrize("g", [0.01, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("t", [HOUR, YEAR])
def test_pcm_accumulated_read_noise_sampled(g, t):
    dev = _pcm(programming_noise=True, drift=True, temperature=True)
    target = torch.full((N,), g * G_MAX, dtype=torch.float64)
    prog = D.program_devices(target, dev, G_MAX, 0.0, torch.Generator())
    z = torch.randn(N, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    got = D.devices_at(prog, target, t, 300.0, dev, G_MAX, 0.0, z_flicker=z) / (g * G_MAX)
    q_s = min(0.0088 / max(g**0.65, 1e-3), 0.2)
    rel = q_s * math.sqrt(math.log((t + 20.0 + 250e-9) / (2 * 250e-9)))
    mean, std = _clamped_normal_moments(1.0, rel)  # clamp at G >= 0 matters for small g
    _assert_mean_std(got, mean, std)
    assert float(
        D.flicker_std_rel(torch.tensor(g, dtype=torch.float64), t, dev.read_noise, 20.0)
    ) == pytest.approx(rel, rel=1e-12)


# -- other effects ------------------------------------------------------------------------------
def test_levels_round_targets_to_the_grid():
    w = torch.linspace(-1, 1, 101)
    gp, gn = D.device_targets(w, 40.0, 2.5, Levels(per_device=8))
    for g in (gp, gn):
        steps = (g - 2.5) / 37.5 * 7
        torch.testing.assert_close(steps, steps.round(), rtol=0, atol=1e-5)
    wq = (gp - gn) / 37.5
    assert float((wq - w).abs().max()) <= 0.5 / 7 + 1e-6
    # analog device: exact
    gp, gn = D.device_targets(w, 25.0, 0.0, Levels())
    torch.testing.assert_close((gp - gn) / 25.0, w)


@pytest.mark.parametrize("on, off", [(0.01, 0.0), (0.0, 0.05), (0.02, 0.03)])
def test_fault_rates_sampled(on, off):
    codes = D.sample_faults((N,), on, off, torch.Generator().manual_seed(4))
    for code, rate in ((D.STUCK_ON, on), (D.STUCK_OFF, off)):
        frac = float((codes == code).double().mean())
        assert abs(frac - rate) <= 5 * math.sqrt(max(rate * (1 - rate), 1e-12) / N)


def test_stuck_devices_hold_their_value_and_do_not_drift():
    dev = presets.pcm_device(faults=Faults(stuck_on_rate=0.1, stuck_off_rate=0.1))
    target = torch.full((50_000,), 10.0)
    prog = D.program_devices(target, dev, G_MAX, 0.0, torch.Generator().manual_seed(5))
    z = torch.randn(50_000)
    later = D.devices_at(prog, target, YEAR, 300.0, dev, G_MAX, 0.0, z_flicker=z)
    assert bool((later[prog.stuck == D.STUCK_ON] == G_MAX).all())
    assert bool((later[prog.stuck == D.STUCK_OFF] == 0.0).all())
    assert float(later[prog.stuck == 0].mean()) < 10.0 * 0.7  # healthy devices drifted


def test_rates_outside_unit_interval_fail():
    with pytest.raises(ConfigError, match="stuck_on_rate"):
        Faults(stuck_on_rate=1.5)
    with pytest.raises(ConfigError, match="stuck_off_rate"):
        Faults(stuck_off_rate=-0.1)
    with pytest.raises(ConfigError, match="must not exceed 1"):
        Faults(stuck_on_rate=0.6, stuck_off_rate=0.6)
    with pytest.raises(ValueError, match="rate"):
        D.sample_faults((4,), 2.0, 0.0, torch.Generator())


def test_arrhenius_acceleration_and_temperature_coefficient():
    temp = Temperature(reference_k=300.0, drift_activation_eV=0.3, g_coeff_per_k=0.005)
    assert D.arrhenius_factor(300.0, temp) == 1.0
    hot = D.arrhenius_factor(358.15, temp)
    assert hot == pytest.approx(math.exp(0.3 / 8.617333262e-5 * (1 / 300 - 1 / 358.15)), rel=1e-12)
    assert hot > 1.0 > D.arrhenius_factor(250.0, temp)
    dev = DeviceConfig(drift=Drift(nu_mean_at_g1=0.05, nu_mean_bounds=(0.0, 1.0)), temperature=temp)
    target = torch.full((10,), 20.0)
    prog = D.program_devices(target, dev, G_MAX, 0.0, torch.Generator())
    at_hot = D.devices_at(prog, target, DAY, 358.15, dev, G_MAX, 0.0)
    expect = 20.0 * (((DAY * hot) + 20) / 20) ** -0.05 * (1 + 0.005 * 58.15)
    torch.testing.assert_close(at_hot, torch.full((10,), expect), rtol=1e-5, atol=0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1h", True])
def test_bad_times_fail(bad):
    with pytest.raises(ValueError, match="time"):
        D.check_time(bad)


@pytest.mark.parametrize("bad", [0.0, -273.0, float("nan"), float("inf")])
def test_bad_temperatures_fail(bad):
    with pytest.raises(ValueError, match="kelvin"):
        D.check_temperature(bad)


def test_aging_shrinks_the_reachable_range():
    aging = Aging(range_loss_per_decade=0.1, onset_cycles=1e3)
    assert D.aging_range_fraction(1, aging) == 1.0
    assert D.aging_range_fraction(1e5, aging) == pytest.approx(0.8)
    gp, gn = D.device_targets(torch.tensor([1.0, -0.5, 0.9]), G_MAX, 0.0, Levels(), 0.8)
    torch.testing.assert_close(gp, torch.tensor([20.0, 0.0, 20.0]))
    torch.testing.assert_close(gn, torch.tensor([0.0, 12.5, 0.0]))
    with pytest.raises(ValueError, match="no conductance range"):
        D.aging_range_fraction(1e14, aging)


def test_relaxation_grows_then_saturates():
    dev = DeviceConfig(relaxation=Relaxation(std_uS=1.5, tau_s=100.0))
    assert D.relaxation_std_uS(0.0, dev) == 0.0
    assert D.relaxation_std_uS(100.0, dev) == pytest.approx(1.5 * math.sqrt(1 - math.exp(-1)))
    assert D.relaxation_std_uS(YEAR, dev) == pytest.approx(1.5)
    target = torch.full((N,), 20.0, dtype=torch.float64)
    prog = D.program_devices(target, dev, 40.0, 2.5, torch.Generator())
    z = torch.randn(N, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    _assert_mean_std(D.devices_at(prog, target, YEAR, 300.0, dev, 40.0, 2.5, z_relax=z), 20.0, 1.5)
    with pytest.raises(ValueError, match="z_relax"):
        D.devices_at(prog, target, YEAR, 300.0, dev, 40.0, 2.5)


def test_pure_functions_do_not_modify_inputs():
    dev = _pcm()
    target = torch.full((1000,), 12.5)
    keep = target.clone()
    prog = D.program_devices(target, dev, G_MAX, 0.0, torch.Generator().manual_seed(7))
    g_keep, nu_keep = prog.g_uS.clone(), prog.nu.clone()
    D.devices_at(prog, target, YEAR, 330.0, dev, G_MAX, 0.0, z_flicker=torch.randn(1000))
    assert (
        torch.equal(target, keep)
        and torch.equal(prog.g_uS, g_keep)
        and torch.equal(prog.nu, nu_keep)
    )


def test_device_config_validation_and_round_trip():
    from analogue import AnalogConfig

    for make in (presets.pcm, presets.rram, presets.sram, presets.flash):
        cfg = make()
        assert AnalogConfig.from_dict(cfg.to_dict()) == cfg
    assert DeviceConfig().is_ideal and not presets.pcm_device().is_ideal
    with pytest.raises(ConfigError, match="std_poly_frac_gmax"):
        ProgrammingNoise(std_poly_frac_gmax=(-0.1,))
    with pytest.raises(ConfigError, match="nu_mean_bounds"):
        Drift(nu_mean_bounds=(0.1, 0.05))
    with pytest.raises(ConfigError, match="per_read_std_frac"):
        ReadNoise(per_read_std_frac=-1.0)
    with pytest.raises(ConfigError, match="per_device"):
        Levels(per_device=1)
    with pytest.raises(ConfigError, match="unknown field 'drfit'; did you mean 'drift'"):
        AnalogConfig.from_dict({"device": {"drfit": {}}})
    with pytest.raises(ConfigError, match="range_loss_per_decade"):
        Aging(range_loss_per_decade=2.0)


@pytest.mark.parametrize(
    "make, feature",
    [
        (presets.sram, "drift"),
        (presets.sram, "programming_noise"),
        (presets.sram, "temperature"),
        (presets.rram, "drift"),
        (presets.rram, "temperature"),
        (presets.flash, "relaxation"),
        (presets.pcm, "relaxation"),
    ],
)
def test_presets_refuse_features_they_cannot_model(make, feature):
    with pytest.raises(ConfigError, match=f"cannot model {feature}"):
        make(**{feature: True})
    make(**{feature: False})  # turning it off is always fine


def test_presets_switch_features_off():
    dev = presets.pcm_device(drift=False, read_noise=False)
    assert not dev.drift.active and not dev.read_noise.active and dev.programming.active
    assert presets.pcm_device(programming_noise=False).programming == ProgrammingNoise()
