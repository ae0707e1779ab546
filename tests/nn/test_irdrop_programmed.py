"""IR drop on programmed layers: the forward against the exact solve of the G+ and G- arrays
(``physics.crossbar.solve``, computed here from the programmed conductances), r = 0 bit for bit,
the sign of the effect, drift, and saving."""

from __future__ import annotations

import pytest
import torch

import analogue as an
from analogue.config import AnalogConfig, CircuitConfig, ConfigError
from analogue.nn import programmed
from analogue.physics import crossbar
from analogue.physics.devices import drift_factor
from analogue.physics.periphery import levels

pytestmark = pytest.mark.usefixtures("one_thread")

ROWS, COLS = 32, 16
R_ROW, R_COL = 20.0, 60.0  # large for a 32x16 array, so the effect is far above the ADC's LSB
V_READ = 0.2


def _cfg(dac_bits, adc_bits, r_row=R_ROW, r_col=R_COL, base=None):
    cfg = base or an.presets.quantized(rows=ROWS, cols=COLS)
    return cfg.replace(**{"dac.bits": dac_bits, "adc.bits": adc_bits, "adc.clip": adc_bits is not None,
                          "adc.out_bound": 40.0, "circuit.r_row_ohm": r_row,
                          "circuit.r_col_ohm": r_col, "circuit.v_read_V": V_READ})


def _layer(cfg, seed=0, nonneg=False):
    torch.manual_seed(seed)
    layer = an.AnalogLinear(ROWS, COLS, cfg=cfg, dtype=torch.float64)
    if nonneg:
        with torch.no_grad():
            layer.weight.abs_()
            layer.bias.zero_()
    return layer.eval()


def _solve_oracle(layer, x):
    """The exact solve of both arrays from the programmed conductances, rescaled to the layer's
    output units (one tile, one instance, dynamic input range)."""
    cfg = layer.cfg
    scale = x.abs().amax(dim=1, keepdim=True)
    xn = x / scale
    if cfg.dac.bits is not None:
        ld = levels(cfg.dac.bits)
        xn = torch.round(xn * ld) / ld
    v = xn * V_READ  # the DAC's voltages
    gp, gn = layer.prog_g_pos[0] * 1e-6, layer.prog_g_neg[0] * 1e-6
    i = (crossbar.solve(gp, v, R_ROW, R_COL) - crossbar.solve(gn, v, R_ROW, R_COL))
    y = i / (V_READ * (cfg.mapping.g_max_uS - cfg.mapping.g_min_uS) * 1e-6)  # normalised
    return y * layer.prog_scales[0] * scale + layer.bias


@pytest.mark.parametrize("bits", [(None, None), (12, 12)], ids=["ideal-converters", "12-bit"])
def test_programmed_forward_equals_the_exact_solve(bits):
    layer = _layer(_cfg(*bits))
    an.program_(layer, seed=1)
    x = torch.randn(20, ROWS, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = layer(x)
    oracle = _solve_oracle(layer, x)
    # the ADC's quantisation: half an LSB of out_bound, in output units, per vector and column
    lsb = 0.0 if bits[1] is None else float(layer.out_bound) / levels(bits[1])
    tol = (0.5 * lsb + 1e-9) * layer.prog_scales[0] * x.abs().amax(dim=1, keepdim=True)
    assert ((y - oracle).abs() <= tol).all()
    # and the effect is there: far from the ideal programmed output
    ideal = _layer(_cfg(*bits, r_row=0.0, r_col=0.0))
    an.program_(ideal, seed=1)
    with torch.no_grad():
        y0 = ideal(x)
    assert ((y - y0).abs().amax() > 20 * tol.amax())


def test_zero_wire_resistance_is_the_ideal_programmed_layer_bit_for_bit():
    base = an.presets.pcm(rows=ROWS, cols=COLS, read_noise=False).replace(
        **{"noise.out_std_rel_fs": 0.0})
    a = _layer(base)
    b = _layer(base.replace(**{"circuit.r_row_ohm": 0.0, "circuit.r_col_ohm": 0.0,
                               "circuit.v_read_V": 0.3}))
    for layer in (a, b):
        an.program_(layer, seed=4)
    assert torch.equal(a.prog_w, b.prog_w)
    x = torch.randn(8, ROWS, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_ir_drop_lowers_outputs_for_nonnegative_inputs_and_weights():
    x = torch.rand(16, ROWS, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    outs = []
    for r_row, r_col in ((0.0, 0.0), (R_ROW, R_COL)):
        layer = _layer(_cfg(None, None, r_row, r_col), nonneg=True)
        an.program_(layer, seed=7)
        with torch.no_grad():
            outs.append(layer(x))
    y0, y = outs
    assert (y0 > 0).all()
    assert (y < y0).all() and (y > 0).all()


def test_drift_recomputes_the_effective_weights():
    base = an.presets.pcm(rows=ROWS, cols=COLS, read_noise=False, relaxation=False,
                          temperature=False, programming_noise=True, drift=True)
    layer = _layer(_cfg(None, None, base=base.replace(**{"noise.out_std_rel_fs": 0.0})))
    an.program_(layer, seed=8)
    w0 = layer.prog_w.clone()
    t = 3.15e7
    an.drift_(layer, t)
    d = layer.cfg.device.drift
    gp = drift_factor(t, layer.prog_nu_pos, d.t0_s) * layer.prog_g_pos
    gn = drift_factor(t, layer.prog_nu_neg, d.t0_s) * layer.prog_g_neg
    expected = programmed.ir_drop_weights(gp, gn, layer.cfg)
    assert not torch.allclose(layer.prog_w, w0, rtol=0, atol=1e-3)
    torch.testing.assert_close(layer.prog_w, expected, rtol=1e-12, atol=1e-12)
    # the effective weights of the drifted arrays, from the exact solve array by array
    eff = (crossbar.effective_conductance(gp[0] * 1e-6, R_ROW, R_COL)
           - crossbar.effective_conductance(gn[0] * 1e-6, R_ROW, R_COL)) * 1e6 / 25.0
    torch.testing.assert_close(layer.prog_w[0], eff, rtol=1e-10, atol=1e-12)


def test_columns_are_cut_into_physical_arrays():
    cfg = _cfg(None, None).replace(**{"tile.cols": 8})  # 16 outputs: two 32x8 arrays side by side
    layer = _layer(cfg)
    an.program_(layer, seed=9)
    gp, gn = layer.prog_g_pos[0] * 1e-6, layer.prog_g_neg[0] * 1e-6
    for c0 in (0, 8):
        eff = (crossbar.effective_conductance(gp[:, c0:c0 + 8], R_ROW, R_COL)
               - crossbar.effective_conductance(gn[:, c0:c0 + 8], R_ROW, R_COL)) * 1e6 / 25.0
        torch.testing.assert_close(layer.prog_w[0][:, c0:c0 + 8], eff, rtol=1e-10, atol=1e-12)


def test_save_load_carries_the_circuit(tmp_path):
    cfg = _cfg(12, 12)
    model = torch.nn.Sequential(torch.nn.Linear(ROWS, COLS, dtype=torch.float64))
    an.convert_(model, cfg, seed=1)
    an.program_(model, seed=10)
    x = torch.randn(4, ROWS, dtype=torch.float64, generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        y = model.eval()(x)
    an.save(model, tmp_path / "m")
    fresh = torch.nn.Sequential(torch.nn.Linear(ROWS, COLS, dtype=torch.float64))
    an.load(tmp_path / "m", fresh)
    assert fresh[0].cfg.circuit == CircuitConfig(r_row_ohm=R_ROW, r_col_ohm=R_COL, v_read_V=V_READ)
    assert torch.equal(fresh[0].prog_w, model[0].prog_w)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), y)
    an.drift_(fresh, 0.0)  # recomputed from the loaded conductances: the same effective weights
    torch.testing.assert_close(fresh[0].prog_w, model[0].prog_w, rtol=0, atol=0)


def test_circuit_config_round_trip_and_validation():
    cfg = AnalogConfig().replace(**{"circuit.r_row_ohm": 1.5, "circuit.r_col_ohm": 5.0})
    d = cfg.to_dict()
    assert AnalogConfig.from_dict(d) == cfg and cfg.circuit.ir_drop
    d.pop("circuit")
    assert AnalogConfig.from_dict(d).circuit == CircuitConfig() and not CircuitConfig().ir_drop
    for bad in ({"r_row_ohm": -1.0}, {"r_col_ohm": float("nan")}, {"v_read_V": 0.0}):
        with pytest.raises(ConfigError):
            CircuitConfig(**bad)
