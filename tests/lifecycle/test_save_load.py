"""an.save / an.load: an analog model continued in a fresh process, and every refusal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import analogue as an
from analogue.config import ConfigError
from analogue.lifecycle.saving import SAVED_JSON, SAVED_TENSORS

DAY = 86_400.0

# the model both processes build: one source, executed here and in the child
CNN_SRC = '''
import torch
from torch import nn
import analogue as an

def build_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 6 * 6, 16), nn.ReLU(), nn.Linear(16, 10))

def reseed(model):
    for layer in an.analog_layers(model).values():
        layer.reseed(layer.noise_seed)
'''
_ns: dict = {}
exec(CNN_SRC, _ns)  # noqa: S102 -- the test's own source, shared with the child process
build_cnn, reseed = _ns["build_cnn"], _ns["reseed"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _mixed_rules() -> dict:
    """Three configs, one layer left digital: calibrated and dynamic DACs, noisy PCM devices."""
    pcm = an.presets.pcm()
    return {"0": pcm.replace(**{"dac.range_policy": "calibrated"}), "5": None,
            "7": an.presets.quantized(dac_bits=6, adc_bits=7)}


def _analog_cnn() -> nn.Sequential:
    model = build_cnn()
    an.convert_(model, an.presets.pcm(), rules=_mixed_rules(), seed=4)
    with torch.no_grad():  # analog weights that differ from a fresh model's: load restores them
        for layer in an.analog_layers(model).values():
            layer.weight.mul_(1.25)
    torch.manual_seed(1)
    an.calibrate_(model, torch.randn(32, 3, 8, 8))
    an.program_(model, seed=9)
    an.drift_(model, 3600.0, compensation="global")
    return model


def test_saved_cnn_continues_in_a_fresh_process(tmp_path, run_child):
    model = _analog_cnn().eval()
    out = tmp_path / "saved"
    assert an.save(model, out) == out
    assert sorted(os.listdir(out)) == [SAVED_JSON, SAVED_TENSORS]  # no temporary files remain
    x = torch.randn(6, 3, 8, 8)
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        reseed(model)
        y_now = model(x)
        an.drift_(model, DAY)
        reseed(model)
        y_day = model(x)
    child = CNN_SRC + f'''
torch.set_num_threads(1)
model = build_cnn()
assert an.load({str(out)!r}, model) is model
model.eval()
x = torch.load({str(tmp_path / "x.pt")!r}, weights_only=True)
with torch.no_grad():
    y_now = model(x)
    an.drift_(model, {DAY!r})
    reseed(model)
    y_day = model(x)
torch.save({{"now": y_now, "day": y_day, "digital": type(model[5]).__name__,
            "cfg7": model[7].cfg.to_dict(), "range0": model[0].input_range}},
           {str(tmp_path / "y.pt")!r})
'''
    run_child(child)
    got = torch.load(tmp_path / "y.pt", weights_only=True)
    assert torch.equal(got["now"], y_now)
    assert torch.equal(got["day"], y_day)  # the same instance drifts on in the new process
    assert got["digital"] == "Linear"  # a layer saved digital stays digital
    assert got["cfg7"] == model[7].cfg.to_dict()
    assert torch.equal(got["range0"], model[0].input_range)


@pytest.mark.slow
def test_saved_bert_loads_next_to_its_save_pretrained_files(tmp_path, run_child):
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=32)
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    out = tmp_path / "bert"
    model.save_pretrained(out)  # the digital weights, the user's way
    an.convert_(model, an.presets.pcm())
    ids = torch.randint(0, 100, (4, 12))
    an.calibrate_(model, ids)
    an.program_(model, seed=5)
    an.drift_(model, 3600.0, compensation="column")
    an.save(model, out)
    files = set(os.listdir(out))
    assert {SAVED_JSON, SAVED_TENSORS, "config.json", "model.safetensors"} <= files
    torch.save(ids, tmp_path / "ids.pt")
    with torch.no_grad():
        reseed(model)
        y_now = model(ids).last_hidden_state
        an.drift_(model, DAY)
        reseed(model)
        y_day = model(ids).last_hidden_state
    child = CNN_SRC + f'''
import transformers
torch.set_num_threads(1)
model = transformers.BertModel.from_pretrained({str(out)!r}).eval()
an.load({str(out)!r}, model)
ids = torch.load({str(tmp_path / "ids.pt")!r}, weights_only=True)
with torch.no_grad():
    y_now = model(ids).last_hidden_state
    an.drift_(model, {DAY!r})
    reseed(model)
    y_day = model(ids).last_hidden_state
torch.save({{"now": y_now, "day": y_day, "n": len(an.analog_layers(model))}}, {str(tmp_path / "y.pt")!r})
'''
    run_child(child)
    got = torch.load(tmp_path / "y.pt", weights_only=True)
    assert got["n"] == len(an.analog_layers(model)) == 2 * 6 + 1  # q, k, v, o, up, down + pooler
    assert torch.equal(got["now"], y_now)
    assert torch.equal(got["day"], y_day)


# -- saving: what is refused, and atomicity -------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = _analog_cnn()
    out = tmp_path_factory.mktemp("saved")
    an.save(model, out)
    return model, out


def _copy(saved_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    dst.mkdir()
    for name in (SAVED_JSON, SAVED_TENSORS):
        (dst / name).write_bytes((saved_dir / name).read_bytes())
    return dst


def test_save_refuses_to_overwrite_unless_asked(saved, tmp_path):
    model, src = saved
    out = _copy(src, tmp_path)
    before = (out / SAVED_TENSORS).read_bytes()
    other = an.program_(_analog_cnn(), seed=10)
    with pytest.raises(FileExistsError, match=r"already holds a saved analog model .*overwrite=True"):
        an.save(other, out)
    assert (out / SAVED_TENSORS).read_bytes() == before
    an.save(other, out, overwrite=True)
    fresh = an.load(out, build_cnn())
    assert torch.equal(fresh[0].prog_w, other[0].prog_w)
    assert not torch.equal(fresh[0].prog_w, model[0].prog_w)
    assert sorted(os.listdir(out)) == [SAVED_JSON, SAVED_TENSORS]


def test_a_failed_save_leaves_the_previous_save_and_no_temporary_files(saved, tmp_path, monkeypatch):
    _, src = saved
    out = _copy(src, tmp_path)
    before = {n: (out / n).read_bytes() for n in (SAVED_JSON, SAVED_TENSORS)}

    def broken(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        an.save(_analog_cnn(), out, overwrite=True)
    assert {n: (out / n).read_bytes() for n in before} == before
    assert sorted(os.listdir(out)) == [SAVED_JSON, SAVED_TENSORS]


def test_save_refuses_what_load_could_not_rebuild(tmp_path):
    with pytest.raises(ValueError, match=r"^an.save: the model has no analog layers; call an.convert_"):
        an.save(build_cnn(), tmp_path / "a")
    with pytest.raises(ValueError, match=r"^an.save: pass the model that contains the analog layers"):
        an.save(an.AnalogLinear(4, 4), tmp_path / "b")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="pass a directory"):
        an.save(_analog_cnn(), tmp_path / "file")
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        an.save(_analog_cnn(), tmp_path / "c", overwrite="yes")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


# -- loading: every mismatch fails before the model changes ----------------------------------------
def _edit_json(path: Path, edit) -> None:
    doc = json.loads((path / SAVED_JSON).read_text())
    edit(doc)
    (path / SAVED_JSON).write_text(json.dumps(doc))


def _rewrite_tensors(path: Path, edit, sync_keys: bool) -> None:
    """Change the tensor file and record its new checksum (and, with ``sync_keys``, its tensor
    names): a consistent save of a different state."""
    import hashlib

    tensors = dict(load_file(path / SAVED_TENSORS))
    edit(tensors)
    save_file(tensors, path / SAVED_TENSORS)
    digest = hashlib.sha256((path / SAVED_TENSORS).read_bytes()).hexdigest()

    def update(doc):
        doc["tensors"]["sha256"] = digest
        if sync_keys:
            for name, entry in doc["layers"].items():
                entry["keys"] = [k[len(name) + 1:] for k in tensors if k.startswith(f"{name}.")]

    _edit_json(path, update)


def _assert_untouched(model: nn.Module) -> None:
    assert not an.analog_layers(model)
    ref = build_cnn()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values()))


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda d: d.__setitem__("format_version", 2), ValueError,
         r"written in format 2, this analogue reads format 1; load it with the analogue version "
         r"that saved it \(0.1.0\) or newer"),
        (lambda d: d.update(format_version=3, versions=[]), ValueError, r"written in format 3"),
        (lambda d: d.__setitem__("format_version", "1"), ValueError, r"format_version must be a positive integer"),
        (lambda d: d.__setitem__("format", "other"), ValueError, r"not an analogue save"),
        (lambda d: d["configs"][0]["adc"].__setitem__("bits", 99), ConfigError,
         r"configs\[0\] \(layer 0\): ADCConfig.bits: must be an integer in \[1, 16\].*save the model again"),
        (lambda d: d["configs"][1]["dac"].__setitem__("bitz", 8), ConfigError,
         r"configs\[1\] \(layer 2\).*bitz"),
        (lambda d: d["layers"]["7"].__setitem__("config", 9), ValueError,
         r"layers\['7'\]: needs type, config"),
        (lambda d: d["layers"]["0"].__setitem__("type", "AnalogLinear"), ValueError,
         r"^0: saved as AnalogLinear but became AnalogConv2d on conversion; .*left digital"),
        (lambda d: d["configs"][1]["noise"].__setitem__("out_std_rel_fs", 0.01), ValueError,
         r"^2: cannot load a state programmed with another config \(noise.out_std_rel_fs: 0.004 "
         r"programmed vs 0.01 now\)"),
    ],
)
def test_load_refuses_a_damaged_or_foreign_description(saved, tmp_path, edit, error, match):
    out = _copy(saved[1], tmp_path)
    _edit_json(out, edit)
    model = build_cnn()
    with pytest.raises(error, match=match):
        an.load(out, model)
    _assert_untouched(model)


@pytest.mark.parametrize(
    ("edit", "sync_keys", "match"),
    [
        (lambda t: t.pop("7.prog_w"), False, r"lacks tensor '7.prog_w' of a saved layer \(1 missing\)"),
        (lambda t: t.__setitem__("5.weight", torch.zeros(16, 288)), False,
         r"holds tensor '5.weight' of no saved layer"),
        (lambda t: t.__setitem__("7.prog_w", torch.zeros(3, 3)), True, r"^7: the programmed state's prog_w is \(3, 3\), this layer's geometry needs \(1, 16, 10\)"),
        (lambda t: t.pop("0.prog_clock"), True, r"^0: the programmed state lacks prog_clock; load a complete state"),
        (lambda t: t.__setitem__("2.bias", torch.zeros(3)), True, r"^2: the saved bias is \(3,\), the layer's \(8,\); save the model again"),
        (lambda t: t.pop("0.input_range"), True, r"^0: the saved state lacks 'input_range' for this layer's config"),
    ],
)
def test_load_refuses_inconsistent_tensors(saved, tmp_path, edit, sync_keys, match):
    out = _copy(saved[1], tmp_path)
    _rewrite_tensors(out, edit, sync_keys)
    model = build_cnn()
    with pytest.raises(ValueError, match=match):
        an.load(out, model)
    _assert_untouched(model)


def test_load_refuses_damaged_or_mismatched_files(saved, tmp_path):
    out = _copy(saved[1], tmp_path)
    data = bytearray((out / SAVED_TENSORS).read_bytes())
    data[-5] ^= 0x10  # one flipped bit
    (out / SAVED_TENSORS).write_bytes(bytes(data))
    model = build_cnn()
    with pytest.raises(ValueError, match=r"does not match the checksum in analogue.json"):
        an.load(out, model)
    _assert_untouched(model)
    # an interrupted overwrite: the new tensors renamed into place, the old JSON still there
    other = tmp_path / "other"
    an.save(an.program_(_analog_cnn(), seed=3), other)
    (out / SAVED_TENSORS).write_bytes((other / SAVED_TENSORS).read_bytes())
    _edit_json(out, lambda d: None)
    with pytest.raises(ValueError, match="checksum"):
        an.load(out, model)
    (out / SAVED_TENSORS).unlink()
    with pytest.raises(FileNotFoundError, match=r"analogue.safetensors not found .*copy both files"):
        an.load(out, model)
    (out / SAVED_JSON).write_text("{not json")
    with pytest.raises(ValueError, match=r"analogue.json: not valid JSON .*save the model again"):
        an.load(out, model)
    (out / SAVED_JSON).write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"not an analogue save"):
        an.load(out, model)
    with pytest.raises(FileNotFoundError, match=r"analogue.json not found; save the model with an.save"):
        an.load(tmp_path / "nowhere", model)
    _assert_untouched(model)


def test_load_refuses_a_model_of_another_architecture(saved):
    _, out = saved
    wider = build_cnn()
    wider[7] = nn.Linear(16, 12)
    with pytest.raises(ValueError, match=r"^7: the model's weight is \(12, 16\), the saved one \(10, 16\); "
                                         r"pass a model of the saved architecture"):
        an.load(out, wider)
    assert not an.analog_layers(wider)
    shorter = nn.Sequential(*list(build_cnn())[:6])
    with pytest.raises(ValueError, match=r"^7: the saved analog layer names no module of the model"):
        an.load(out, shorter)
    renamed = nn.Sequential()
    for name, mod in build_cnn().named_children():
        renamed.add_module(f"l{name}" if name == "7" else name, mod)
    with pytest.raises(ValueError, match=r"names no module of the model \(did you mean 'l7'\?\)"):
        an.load(out, renamed)
    no_weight = build_cnn()
    no_weight[2] = nn.ReLU()
    with pytest.raises(ValueError, match=r"^2: the model's ReLU has no weight"):
        an.load(out, no_weight)
    double = build_cnn().double()
    with pytest.raises(ValueError, match=r"^0: the model's weight is torch.float64, the saved one "
                                         r"torch.float32; cast the model"):
        an.load(out, double)
    assert not an.analog_layers(double)
    analog = an.convert_(build_cnn(), an.presets.standard())
    with pytest.raises(ValueError, match=r"^an.load: the model has analog layers already \('0' and 3 more\); "
                                         r"pass a fresh digital model"):
        an.load(out, analog)
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        an.load(out, {"weight": torch.zeros(1)})


def test_loaded_model_matches_in_process_and_keeps_the_mode(saved):
    model, out = saved
    fresh = build_cnn().train()
    an.load(out, fresh)
    assert fresh.training
    for name, layer in an.analog_layers(model).items():
        other = an.analog_layers(fresh)[name]
        assert other.cfg == layer.cfg and other.noise_seed == layer.noise_seed
        assert other.layer_name == name
        for key, value in layer.state_dict().items():
            assert torch.equal(other.state_dict()[key], value), (name, key)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        model.eval(), fresh.eval()
        reseed(model)
        assert torch.equal(fresh(x), model(x))


def test_random_bytes_in_either_file_fail_with_a_value_error(saved, tmp_path_factory):
    """Whatever the files hold, load fails with a one-line ValueError (ConfigError included) and
    leaves the model digital; never another exception."""
    import hashlib

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    src = saved[1]
    good_json = (src / SAVED_JSON).read_text()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.binary(max_size=400), which=st.sampled_from([SAVED_JSON, SAVED_TENSORS]),
           keep_prefix=st.integers(0, 64))
    def check(data, which, keep_prefix):
        out = _copy(src, tmp_path_factory.mktemp("fuzz"))
        if which == SAVED_JSON:
            (out / SAVED_JSON).write_bytes(good_json.encode()[:keep_prefix] + data)
        else:  # a tensor file of random bytes, with a matching checksum: the parser must cope
            blob = (src / SAVED_TENSORS).read_bytes()[:keep_prefix] + data
            (out / SAVED_TENSORS).write_bytes(blob)
            doc = json.loads(good_json)
            doc["tensors"]["sha256"] = hashlib.sha256(blob).hexdigest()
            (out / SAVED_JSON).write_text(json.dumps(doc))
        model = build_cnn()
        with pytest.raises(ValueError) as info:
            an.load(out, model)
        assert "\n" not in str(info.value)
        assert not an.analog_layers(model)

    check()
