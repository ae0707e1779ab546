"""Random input into every loader of user files: config (dict and YAML), CompiledModel and checkpoint.
Each outcome is a parsed object or a ConfigError/ValueError/TypeError naming the problem in
one line, never another exception type (KeyError, AttributeError, IndexError, ...)."""

import io
import json

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analogue import presets
from analogue.apps import TrainConfig
from analogue.apps.training import load_checkpoint
from analogue.compile import CompiledModel
from analogue.config import AnalogConfig

EXPECTED = (ValueError, TypeError)  # ConfigError is a ValueError
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


def _mutated(base: dict, keys: list[str]) -> st.SearchStrategy:
    """``base`` with some of ``keys`` (dotted) replaced by random values, or random keys added:
    inputs that get past the first checks."""
    def build(changes):
        out = json.loads(json.dumps(base))
        for key, value in changes:
            node = out
            *path, last = key.split(".")
            for p in path:
                if not isinstance(node.get(p), dict):
                    node[p] = {}
                node = node[p]
            node[last] = value
        return out

    return st.lists(st.tuples(st.sampled_from(keys), json_values), max_size=3).map(build)


def _one_line(exc: BaseException) -> None:
    assert isinstance(exc, EXPECTED), f"{type(exc).__name__}: {exc}"
    assert str(exc).strip() and "\n" not in str(exc).strip(), repr(exc)


TRAIN = {"model": {"name": "mlp", "kwargs": {"sizes": [64, 10]}}, "data": {"name": "digits"},
         "analog": {"preset": "pcm"}, "optimizer": {"lr": 0.01}, "epochs": 1}
TRAIN_KEYS = ["model", "model.name", "model.kwargs", "model.init", "data", "data.name", "data.batch_size",
              "pretrain", "pretrain.epochs", "pretrain.optimizer", "analog", "analog.preset", "analog.kwargs",
              "analog.overrides", "analog.digital", "analog.calibrate", "hwa", "hwa.drift_scale_range",
              "hwa.distill_alpha", "hwa.clip_weights_sigma", "optimizer", "optimizer.lr",
              "optimizer.schedule", "optimizer.kwargs", "epochs", "seed", "version", "extra"]


@SETTINGS
@given(st.one_of(json_values, _mutated(TRAIN, TRAIN_KEYS)))
def test_train_config_from_dict(data):
    try:
        cfg = TrainConfig.from_dict(data)
    except EXPECTED as exc:
        _one_line(exc)
    else:
        assert isinstance(cfg, TrainConfig)


@SETTINGS
@given(st.one_of(json_values, _mutated(presets.pcm().to_dict(),
                                       ["tile.rows", "dac.bits", "dac.range_policy", "adc", "adc.out_bound",
                                        "mapping.g_max_uS", "device.drift.nu_mean_bounds", "device.kind",
                                        "device.programming.std_poly_frac_gmax", "device.levels", "noise",
                                        "version", "device.faults.stuck_on_rate"])))
def test_analog_config_from_dict(data):
    try:
        cfg = AnalogConfig.from_dict(data)
    except EXPECTED as exc:
        _one_line(exc)
    else:
        assert isinstance(cfg, AnalogConfig)


@SETTINGS
@given(st.one_of(st.binary(max_size=200),
                 st.text(max_size=200).map(lambda t: t.encode("utf-8")),
                 json_values.map(lambda v: json.dumps(v).encode()),  # JSON is YAML
                 _mutated(TRAIN, TRAIN_KEYS).map(lambda v: json.dumps(v).encode())))
def test_train_config_from_yaml_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("yaml") / "run.yaml"
    path.write_bytes(blob)
    try:
        cfg = TrainConfig.from_yaml(path)
    except EXPECTED as exc:
        _one_line(exc)
    else:
        assert isinstance(cfg, TrainConfig)


_PROGRAM = None


def _program_dict() -> dict:
    global _PROGRAM
    if _PROGRAM is None:
        import analogue as an
        from analogue.data.models import mlp

        _PROGRAM = an.compile(mlp((16, 8, 4)), torch.randn(1, 16), "hermes", build_model=False).to_dict()
    return _PROGRAM


PROGRAM_KEYS = ["version", "chip", "chip.name", "chip.n_cores", "chip.organisation.n_cores", "chip.array.tile",
                "chip.digital", "layers", "placement",
                "activation_bits_moved", "reprogram_rounds", "batch_size", "notes", "extra"]


@SETTINGS
@given(st.one_of(st.text(max_size=100), json_values.map(json.dumps),
                 st.data()))
def test_program_from_json(source):
    if not isinstance(source, str):  # st.data(): a valid program, mutated
        base = _program_dict()
        source = json.dumps(source.draw(_mutated(base, PROGRAM_KEYS)))
    try:
        prog = CompiledModel.from_json(source)
    except FileNotFoundError as exc:  # a string that reads as a path (ends with .json, has a /)
        assert source.strip().endswith(".json") or "/" in source, repr(exc)
    except EXPECTED as exc:
        _one_line(exc)
    else:
        assert isinstance(prog, CompiledModel)


@SETTINGS
@given(st.data())
def test_program_layers_from_dict(data):
    base = _program_dict()
    layer = data.draw(_mutated(base["layers"][0], list(base["layers"][0]) + ["extra"]))
    prog = {**base, "layers": [layer, *base["layers"][1:]]}
    try:
        CompiledModel.from_dict(prog)
    except EXPECTED as exc:
        _one_line(exc)


@SETTINGS
@given(st.one_of(st.binary(max_size=400), json_values, st.data()))
def test_checkpoint_loader(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, st.DataObject):  # a real torch file with flipped bytes
        buf = io.BytesIO()
        torch.save({"version": 2, "epoch": 1, "model": {"w": torch.arange(8.0)}, "sha256": "0"}, buf)
        blob = bytearray(buf.getvalue())
        for pos in content.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=3)):
            blob[pos] ^= 0xFF
        path.write_bytes(bytes(blob))
    else:
        buf = io.BytesIO()
        torch.save(content, buf)
        path.write_bytes(buf.getvalue())
    try:
        load_checkpoint(path)
    except EXPECTED as exc:
        _one_line(exc)
    else:
        raise AssertionError("none of these is a valid checkpoint")
