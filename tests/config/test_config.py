import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analogue as an
from analogue.config import ConfigError


def test_defaults_and_presets_are_valid():
    for cfg in (an.AnalogConfig(), an.presets.ideal(), an.presets.standard(), an.presets.quantized()):
        assert an.AnalogConfig.from_dict(cfg.to_dict()) == cfg


def test_standard_preset_matches_issue():
    cfg = an.presets.standard()
    assert (cfg.tile.rows, cfg.tile.cols) == (256, 256)
    assert cfg.dac.bits == 8 and cfg.adc.bits == 8
    assert cfg.noise.out_std_rel_fs > 0


def test_ideal_preset_is_all_off():
    cfg = an.presets.ideal()
    assert cfg.dac.bits is None and cfg.adc.bits is None and not cfg.adc.clip
    assert cfg.noise.out_std_rel_fs == 0


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: an.TileConfig(rows=0), "TileConfig.rows"),
        (lambda: an.TileConfig(cols=2.5), "TileConfig.cols"),
        (lambda: an.DACConfig(bits=0), "DACConfig.bits"),
        (lambda: an.DACConfig(bits=True), "DACConfig.bits"),
        (lambda: an.DACConfig(range_policy="auto"), "DACConfig.range_policy"),
        (lambda: an.DACConfig(input_range=-1.0), "DACConfig.input_range"),
        (lambda: an.ADCConfig(bits=17), "ADCConfig.bits"),
        (lambda: an.ADCConfig(out_bound=float("nan")), "ADCConfig.out_bound"),
        (lambda: an.ADCConfig(bits=8, clip=False), "ADCConfig.clip"),
        (lambda: an.MappingConfig(g_max_uS=0.0), "MappingConfig.g_max_uS"),
        (lambda: an.MappingConfig(g_min_uS=30.0), "MappingConfig.g_min_uS"),
        (lambda: an.MappingConfig(scale="row"), "MappingConfig.scale"),
        (lambda: an.NoiseConfig(out_std_rel_fs=-0.1), "NoiseConfig.out_std_rel_fs"),
        (lambda: an.AnalogConfig(tile=an.DACConfig()), "AnalogConfig.tile"),
        (lambda: an.AnalogConfig(version=99), "AnalogConfig.version"),
    ],
)
def test_invalid_fields_name_the_field(build, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        build()


def test_unknown_key_suggests_closest():
    d = an.presets.standard().to_dict()
    d["adc"]["bitz"] = 6
    with pytest.raises(ConfigError, match="did you mean 'bits'"):
        an.AnalogConfig.from_dict(d)
    with pytest.raises(ConfigError, match="did you mean 'noise'"):
        an.AnalogConfig.from_dict({"nosie": {}})


def test_yaml_round_trip_is_atomic_and_safe(tmp_path):
    cfg = an.presets.standard().replace(**{"adc.bits": 6, "tile.rows": 128})
    assert cfg.adc.bits == 6 and cfg.tile.rows == 128
    path = cfg.to_yaml(tmp_path / "hw.yaml")
    assert an.AnalogConfig.from_yaml(path) == cfg
    assert [p.name for p in tmp_path.iterdir()] == ["hw.yaml"]  # no temporary file left behind
    (tmp_path / "evil.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    # safe_load refuses python objects; the refusal is one line naming the tag and the fix
    with pytest.raises(an.ConfigError, match=r"tag:yaml.org,2002:python/object/apply:os.system.*refused"):
        an.AnalogConfig.from_yaml(tmp_path / "evil.yaml")


def test_configs_are_frozen():
    cfg = an.presets.standard()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.adc.bits = 4  # type: ignore[misc]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 4096), cols=st.integers(1, 4096),
    dac_bits=st.one_of(st.none(), st.integers(1, 16)), adc_bits=st.one_of(st.none(), st.integers(1, 16)),
    policy=st.sampled_from(["dynamic", "fixed", "calibrated", "learned"]),
    bound=st.floats(0.01, 1e3), g_max=st.floats(1.0, 200.0), frac=st.floats(0.0, 0.9),
    noise=st.floats(0.0, 0.5), scale=st.sampled_from(["column", "tile"]),
)
def test_round_trip_property(rows, cols, dac_bits, adc_bits, policy, bound, g_max, frac, noise, scale):
    cfg = an.AnalogConfig(
        tile=an.TileConfig(rows, cols), dac=an.DACConfig(dac_bits, policy, 2.0),
        adc=an.ADCConfig(adc_bits, bound, True),
        mapping=an.MappingConfig(g_max, g_max * frac, scale), noise=an.NoiseConfig(noise),
    )
    assert an.AnalogConfig.from_dict(cfg.to_dict()) == cfg
