"""Training config files: value checks, YAML 1.1 numbers, any Mapping, analog configs from YAML,
and no code execution from a config unless trusted."""

import collections.abc
import types

import pytest
import torch
import yaml

from analogue import presets
from analogue.apps import TrainConfig, run_training
from analogue.apps.training import build_model
from analogue.config import AnalogConfig, ConfigError

BASE = {"model": {"name": "mlp", "kwargs": {"sizes": [64, 10]}}, "data": {"name": "digits"},
        "analog": {"preset": None}, "epochs": 1}


def _yaml(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_lr_must_be_finite(tmp_path):
    for bad in (".inf", "-.inf", ".nan"):
        path = _yaml(tmp_path, f"epochs: 1\noptimizer: {{name: adam, lr: {bad}}}\n")
        with pytest.raises(ConfigError, match="optimizer.lr: must be a finite number"):
            TrainConfig.from_yaml(path)
    with pytest.raises(ConfigError, match="optimizer.weight_decay"):
        TrainConfig.from_dict({"optimizer": {"weight_decay": float("inf")}})


def test_yaml_1_1_numbers_written_as_strings_are_numbers(tmp_path):
    # YAML 1.1 (PyYAML) reads 1e-3 (no dot) as a string
    path = _yaml(tmp_path, "epochs: 1\noptimizer: {lr: 1e-3, weight_decay: 5e-4}\n"
                           "hwa: {weight_noise_rel: 2e-2, drift_scale_range: [9e-1, 1]}\n"
                           "analog: {preset: pcm, overrides: {noise.out_std_rel_fs: 1e-3}}\n")
    assert yaml.safe_load(path.read_text())["optimizer"]["lr"] == "1e-3"
    cfg = TrainConfig.from_yaml(path)
    assert cfg.optimizer.lr == 1e-3 and cfg.optimizer.weight_decay == 5e-4
    assert cfg.hwa.weight_noise_rel == 2e-2 and cfg.hwa.drift_scale_range == (0.9, 1.0)
    assert AnalogConfig.from_dict({"noise": {"out_std_rel_fs": "4e-3"}}).noise.out_std_rel_fs == 4e-3
    with pytest.raises(ConfigError, match="optimizer.lr"):
        TrainConfig.from_dict({"optimizer": {"lr": "fast"}})
    with pytest.raises(ConfigError, match="optimizer.lr"):
        TrainConfig.from_dict({"optimizer": {"lr": "inf"}})
    with pytest.raises(ConfigError, match="epochs"):  # integers stay integers
        TrainConfig.from_dict({"epochs": "3"})


def test_analog_digital_takes_one_name_as_a_string():
    cfg = TrainConfig.from_dict({"analog": {"preset": "standard", "digital": "conv1"}})
    assert cfg.analog.digital == ("conv1",)
    assert TrainConfig.from_dict({"analog": {"digital": ["a", "re:b.*"]}}).analog.digital == ("a", "re:b.*")
    with pytest.raises(ConfigError, match=r"analog.digital: must be a list of module names \(e.g."):
        TrainConfig.from_dict({"analog": {"digital": 5}})


class FrozenMapping(collections.abc.Mapping):
    """A read-only mapping that is not a dict (as OmegaConf's DictConfig is not)."""

    def __init__(self, data):
        self._d = {k: FrozenMapping(v) if isinstance(v, dict) else v for k, v in data.items()}

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)


def test_configs_accept_any_mapping():
    data = {"model": {"name": "mlp", "kwargs": {"sizes": [64, 10]}}, "optimizer": {"lr": 0.01},
            "analog": {"preset": "pcm", "overrides": {"adc.bits": 6}, "digital": ["0"]}, "epochs": 2}
    assert isinstance(FrozenMapping(data), collections.abc.Mapping) and not isinstance(FrozenMapping(data), dict)
    expected = TrainConfig.from_dict(data)
    assert TrainConfig.from_dict(FrozenMapping(data)) == expected
    assert TrainConfig.from_dict(types.MappingProxyType(data)) == expected
    assert TrainConfig.from_dict(FrozenMapping(data)).to_dict() == expected.to_dict()
    acfg = presets.pcm().to_dict()
    assert AnalogConfig.from_dict(FrozenMapping(acfg)) == presets.pcm()
    assert AnalogConfig.from_dict(types.MappingProxyType(acfg)) == presets.pcm()


def test_the_analog_config_can_be_a_yaml_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    presets.pcm().to_yaml("chip_a.yaml")
    cfg = TrainConfig.from_dict({"analog": {"preset": "chip_a.yaml", "overrides": {"adc.bits": 6}}})
    assert cfg.analog.build() == presets.pcm().replace(**{"adc.bits": 6})
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        TrainConfig.from_dict({"analog": {"preset": "nope.yaml"}})
    with pytest.raises(ConfigError, match="analog.kwargs"):
        TrainConfig.from_dict({"analog": {"preset": "chip_a.yaml", "kwargs": {"x": 1}}})
    # the run's fingerprint follows the file's contents
    before = cfg.sha256()
    presets.standard().to_yaml("chip_a.yaml")
    assert cfg.sha256() != before


def test_a_config_cannot_run_code_unless_trusted(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    cfg = TrainConfig.from_dict({**BASE, "model": {"name": "os:system", "kwargs": {"command": f"touch {marker}"}}})
    with pytest.raises(ConfigError, match=r"model.name: 'os:system' would import and run code.*--trust-code"):
        run_training(cfg, tmp_path / "out", progress=False)
    with pytest.raises(ConfigError, match="--trust-code"):
        build_model(cfg)
    assert not marker.exists() and not (tmp_path / "out").exists()
    # a module of the user's, trusted explicitly
    (tmp_path / "usermodels.py").write_text(
        "import torch\n\ndef net(width=10):\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, width))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    user = TrainConfig.from_dict({**BASE, "model": {"name": "usermodels:net"}})
    with pytest.raises(ConfigError, match="--trust-code"):
        build_model(user)
    assert isinstance(build_model(user, trust_code=True)[1], torch.nn.Linear)
    with pytest.raises(ConfigError, match="data.name.*--trust-code"):
        run_training(TrainConfig.from_dict({**BASE, "data": {"name": "usermodels:net"}}), None, progress=False)


def test_the_package_s_own_factories_need_no_trust():
    cfg = TrainConfig.from_dict({**BASE, "model": {"name": "analogue.data.models:mlp", "kwargs": {"sizes": [64, 10]}}})
    assert isinstance(build_model(cfg)[0], torch.nn.Linear)
    # another module of the package is not a model factory: writing files is not training
    cfg = TrainConfig.from_dict({**BASE, "model": {"name": "analogue._util.io:atomic_write_text"}})
    with pytest.raises(ConfigError, match="--trust-code"):
        build_model(cfg)
    with pytest.raises(ConfigError, match="not a function of analogue.data"):  # imported, not defined there
        TrainConfig.from_dict({**BASE, "model": {"name": "analogue.data.models:Tensor"}})
    with pytest.raises(ConfigError, match="'package.module:function'"):
        TrainConfig.from_dict({**BASE, "model": {"name": "os;rm:x"}})


def test_model_init_must_be_a_state_dict(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a checkpoint")
    cfg = TrainConfig.from_dict({**BASE, "model": {**BASE["model"], "init": str(junk)}})
    with pytest.raises(ConfigError, match="model.init: .*notes.txt' is not a state_dict saved with torch.save"):
        build_model(cfg)
    other = tmp_path / "other.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), other)
    cfg = TrainConfig.from_dict({**BASE, "model": {**BASE["model"], "init": str(other)}})
    with pytest.raises(ConfigError, match="model.init: .* does not fit 'mlp'"):
        build_model(cfg)
