import pytest
import torch
from torch import nn

import analogue as an
from analogue.lifecycle import partial_sums


def _layer(policy="calibrated", rows=64):
    torch.manual_seed(0)
    cfg = an.presets.quantized(rows=rows).replace(dac=an.DACConfig(bits=8, range_policy=policy))
    return an.AnalogLinear(200, 16, cfg=cfg)


def test_input_range_is_the_requested_quantile():
    layer = _layer()
    x = torch.randn(300, 200)
    an.calibrate_(layer, x, input_quantile=1.0, adc=False)
    assert torch.isclose(layer.input_range, x.abs().max())
    an.calibrate_(layer, x, input_quantile=0.99, adc=False)
    assert torch.isclose(layer.input_range, torch.quantile(x.abs().flatten(), 0.99), rtol=1e-4)


def test_adc_range_covers_the_partial_sums():
    layer = _layer()
    x = torch.randn(300, 200)
    an.calibrate_(layer, x, input_quantile=1.0, adc_quantile=1.0, adc_margin=1.2)
    p = partial_sums(layer, x.unsqueeze(0))
    assert p.shape == (4, 300, 16)  # 200 rows on 64-row tiles: 4 row blocks
    assert torch.isclose(layer.out_bound, 1.2 * p.abs().max())


def test_calibration_improves_a_clipping_layer():
    torch.manual_seed(0)
    ref = nn.Linear(512, 32)
    ana = an.AnalogLinear.from_float(ref, an.presets.quantized(rows=512).replace(**{"adc.out_bound": 1.0}))
    x = torch.randn(400, 512)
    with torch.no_grad():
        before = (ana(x) - ref(x)).norm() / ref(x).norm()
        an.calibrate_(ana, [(x[:200], None), (x[200:300], None)])
        after = (ana(x) - ref(x)).norm() / ref(x).norm()
    assert after < 0.1 * before


def test_calibration_visits_layers_and_restores_mode():
    model = an.convert_(nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 3)), an.presets.standard())
    model.train()
    an.calibrate_(model, torch.randn(50, 10))
    assert model.training
    assert all(float(m.out_bound) != 10.0 for m in an.analog_layers(model).values())


def test_bad_calibration_input():
    with pytest.raises(ValueError, match="no analog layers"):
        an.calibrate_(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2))
    layer = _layer()
    with pytest.raises(ValueError, match="input_quantile"):
        an.calibrate_(layer, torch.randn(3, 200), input_quantile=0.0)
    with pytest.raises(ValueError, match="adc_margin"):
        an.calibrate_(layer, torch.randn(3, 200), adc_margin=0.5)
    with pytest.raises(ValueError, match="no batches"):
        an.calibrate_(layer, [])
