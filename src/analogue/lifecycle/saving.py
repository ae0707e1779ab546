"""``save`` / ``load``: an analog model on disk, continued in another process.

::

    an.save(model, "run/")                      # run/analogue.json + run/analogue.safetensors
    fresh = MyNet()                             # a new process: the same architecture, digital
    fresh.load_state_dict(digital_weights)      # the user's own weights (or from_pretrained)
    an.load("run/", fresh).eval()               # converted, calibrated, programmed as saved
    an.drift_(fresh, 86_400.0)                  # drift continues: as in the first process

What ``save`` writes, next to whatever the directory holds (e.g. a Hugging Face
``save_pretrained``: ``config.json`` / ``model.safetensors`` never collide with these names):

- ``analogue.json``: the format version, the versions of analogue, torch and safetensors, the
  analog configs (``AnalogConfig.to_dict``, each once) and, per analog layer by its module name,
  its class, config, noise seed, whether it is programmed and its tensor names; plus the
  SHA-256 of the tensor file.
- ``analogue.safetensors``: each analog layer's ``state_dict`` under ``<layer>.<key>``: its
  weight and bias, calibration (``input_range``, ``out_bound``) and programmed device state
  (the ``prog_*`` buffers of ``nn/programmed.py``, with the config it was programmed under).

So ``load`` restores the analog layers' weights and biases too (the array was programmed from
them and training mode reads them): ``load(dir, fresh)`` then reproduces the saved layers
exactly. Everything else of the model (embeddings, norms, layers left digital) is the user's to
save and restore (``state_dict`` / ``save_pretrained``) before ``load``. Not saved: training
state (optimizer, hardware-aware-training hooks such as ``weight_perturbation``) and the
position of the layers' noise streams (see below).

Guarantees:

- Atomic: both files are written to temporary files in the directory, flushed to disk, then
  renamed into place (tensors first, the JSON last); the JSON records the SHA-256 of the tensor
  file, so a save interrupted between the renames is refused on load, never half-read.
- No silent overwrite: ``save`` refuses a directory that already holds a saved analog model
  unless ``overwrite=True``.
- Safe loading: JSON and safetensors only (no pickle).
- ``load`` checks everything before it changes the model: the format version, every config,
  the checksum, that the tensor file holds exactly the saved layers' tensors, that every saved
  layer names a module of the same weight shape and dtype, and that the model is digital. A
  mismatch fails in one line naming the layer (or file) and the fix.
- The layers' noise streams (per-read and output noise) restart from their saved seeds: the
  loaded model's outputs equal the original's after ``layer.reseed(layer.noise_seed)`` on each
  analog layer, bit for bit on the same machine, dtype and thread count.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analogue._util.io import file_sha256, fsync_dir, write_temp_file
from analogue.config import CONFIG_VERSION, AnalogConfig, ConfigError
from analogue.lifecycle.convert import analog_layers, convert_, to_digital_
from analogue.nn import AnalogLayer, programmed

FORMAT = "analogue.saved-model"
FORMAT_VERSION = 1
SAVED_JSON = "analogue.json"
SAVED_TENSORS = "analogue.safetensors"

logger = logging.getLogger(__name__)


# -- writing ------------------------------------------------------------------------------------
def _cpu_tensors(
    layers: dict[str, AnalogLayer],
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """``<layer>.<key>`` -> contiguous CPU tensor (no two sharing memory, as safetensors needs),
    and each layer's state keys."""
    tensors: dict[str, torch.Tensor] = {}
    keys: dict[str, list[str]] = {}
    seen: set[int] = set()
    for name, layer in layers.items():
        keys[name] = []
        for key, value in layer.state_dict().items():
            t = value.detach().to("cpu").contiguous()
            ptr = t.untyped_storage().data_ptr()
            if t.numel() and ptr in seen:
                t = t.clone()
            seen.add(ptr)
            tensors[f"{name}.{key}"] = t
            keys[name].append(key)
    return tensors, keys


def save(model: nn.Module, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``model``'s analog layers (configs, calibration, programmed state, weights) to
    ``directory`` as ``analogue.json`` + ``analogue.safetensors``; returns the directory.

    The directory is created if needed; other files in it are left alone. One that holds a saved
    analog model already is refused unless ``overwrite=True`` (then both files are replaced
    atomically). What is written and guaranteed: see the module docstring.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"an.save: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"an.save: overwrite must be True or False, got {overwrite!r}")
    if isinstance(model, AnalogLayer):
        raise ValueError("an.save: pass the model that contains the analog layers; a bare layer "
                         "cannot be converted in place by an.load (wrap it: nn.Sequential(layer))")
    layers = analog_layers(model)
    if not layers:
        raise ValueError("an.save: the model has no analog layers; call an.convert_(model, cfg) "
                         "first (save a digital model with state_dict or save_pretrained)")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"an.save: {directory} is a file; pass a directory")
    existing = [n for n in (SAVED_JSON, SAVED_TENSORS) if (directory / n).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"an.save: {directory} already holds a saved analog model ({', '.join(existing)}); "
            "pass overwrite=True to replace it, or choose another directory"
        )
    directory.mkdir(parents=True, exist_ok=True)

    import safetensors
    from safetensors.torch import save_file

    from analogue._util.version import __version__

    tensors, keys = _cpu_tensors(layers)
    configs: list[dict[str, Any]] = []
    entries: dict[str, dict[str, Any]] = {}
    for name, layer in layers.items():
        cfg = layer.cfg.to_dict()
        if cfg not in configs:
            configs.append(cfg)
        entries[name] = {
            "type": type(layer).__name__,
            "config": configs.index(cfg),
            "noise_seed": int(layer.noise_seed),
            "programmed": layer.prog_w is not None,
            "keys": keys[name],
        }
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    tmp_t = write_temp_file(directory, SAVED_TENSORS, lambda p: save_file(tensors, p, metadata=meta))
    tmp_j = None
    try:
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "versions": {"analogue": __version__, "torch": torch.__version__,
                         "safetensors": safetensors.__version__, "config": CONFIG_VERSION},
            "tensors": {"file": SAVED_TENSORS, "sha256": file_sha256(tmp_t)},
            "configs": configs,
            "layers": entries,
        }
        text = json.dumps(doc, indent=1) + "\n"
        tmp_j = write_temp_file(directory, SAVED_JSON, lambda p: p.write_text(text, encoding="utf-8"))
        os.replace(tmp_t, directory / SAVED_TENSORS)
        os.replace(tmp_j, directory / SAVED_JSON)  # the JSON commits the save
    except BaseException:
        for tmp in (tmp_t, tmp_j):
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    logger.info("saved %d analog layers to %s", len(layers), directory)
    return directory


# -- reading ------------------------------------------------------------------------------------
def _fail(where: Path | str, msg: str) -> ValueError:
    return ValueError(f"an.load: {where}: {msg}")


def _read_doc(path: Path) -> dict[str, Any]:
    """The saved JSON, with every field ``load`` uses checked for type."""
    if not path.is_file():
        raise FileNotFoundError(
            f"an.load: {path} not found; save the model with "
            f"an.save(model, {str(path.parent)!r}) first"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"not valid JSON ({exc}); the file is damaged: "
                          "save the model again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(path, f"not an analogue save (no \"format\": \"{FORMAT}\"); pass the directory "
                          "an.save wrote")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail(path, f"format_version must be a positive integer, got {version!r}; save again")
    if version != FORMAT_VERSION:
        versions = doc.get("versions")
        by = versions.get("analogue", "?") if isinstance(versions, dict) else "?"
        raise _fail(path, f"written in format {version}, this analogue reads format "
                          f"{FORMAT_VERSION}; load it with the analogue version that saved it "
                          f"({by}) or newer")
    configs, layers, tens = doc.get("configs"), doc.get("layers"), doc.get("tensors")
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise _fail(path, "\"configs\" must be a list of config mappings; save again")
    if not isinstance(layers, dict) or not layers:
        raise _fail(path, "\"layers\" must be a non-empty mapping of layer names; save again")
    if not isinstance(tens, dict) or not isinstance(tens.get("sha256"), str):
        raise _fail(path, "\"tensors\" must record the tensor file's sha256; save again")
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    for name, entry in layers.items():
        ok = (isinstance(entry, dict) and isinstance(entry.get("type"), str)
              and is_int(entry.get("config")) and 0 <= entry["config"] < len(configs)
              and is_int(entry.get("noise_seed")) and isinstance(entry.get("keys"), list)
              and all(isinstance(k, str) for k in entry["keys"]))
        if not ok:
            raise _fail(path, f"layers[{name!r}]: needs type, config (an index into configs), "
                              "noise_seed and keys; the file is damaged: save again")
    return doc


def _parse_configs(path: Path, doc: dict[str, Any]) -> list[AnalogConfig]:
    out = []
    for i, data in enumerate(doc["configs"]):
        try:
            out.append(AnalogConfig.from_dict(data))
        except (ConfigError, TypeError, ValueError) as exc:
            users = [n for n, e in doc["layers"].items() if e["config"] == i]
            raise ConfigError(
                f"an.load: {path}: configs[{i}] (layer {users[0] if users else '-'}"
                f"{f' and {len(users) - 1} more' if len(users) > 1 else ''}): {exc}; "
                "fix the config in the file or save the model again"
            ) from None
    return out


def _read_tensors(directory: Path, doc: dict[str, Any]) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = directory / SAVED_TENSORS
    if not path.is_file():
        raise FileNotFoundError(f"an.load: {path} not found (it belongs next to {SAVED_JSON}); "
                                "copy both files, or save the model again")
    if file_sha256(path) != doc["tensors"]["sha256"]:
        raise _fail(path, f"does not match the checksum in {SAVED_JSON} (a damaged file, or one "
                          "from another save); save the model again")
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise _fail(path, f"unreadable ({exc}); save the model again") from None


def _check_tensors(path: Path, doc: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    expected = {f"{n}.{k}" for n, e in doc["layers"].items() for k in e["keys"]}
    missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    if missing:
        raise _fail(path, f"lacks tensor {missing[0]!r} of a saved layer "
                          f"({len(missing)} missing); save the model again")
    if extra:
        raise _fail(path, f"holds tensor {extra[0]!r} of no saved layer ({len(extra)} extra); "
                          "save the model again")


def _check_model(model: nn.Module, doc: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Every saved layer names a module of the model with the saved weight shape and dtype."""
    modules = dict(model.named_modules())
    for name in doc["layers"]:
        module = modules.get(name)
        if module is None:
            close = difflib.get_close_matches(name, [n for n in modules if n], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{name}: the saved analog layer names no module of the model{hint}; "
                             "pass a model of the architecture that was saved")
        weight = getattr(module, "weight", None)
        saved = tensors.get(f"{name}.weight")
        if not isinstance(weight, torch.Tensor) or saved is None:
            raise ValueError(f"{name}: the model's {type(module).__name__} has no weight to load "
                             "the saved analog layer into; pass a model of the saved architecture")
        if tuple(weight.shape) != tuple(saved.shape):
            raise ValueError(f"{name}: the model's weight is {tuple(weight.shape)}, the saved one "
                             f"{tuple(saved.shape)}; pass a model of the saved architecture")
        if weight.dtype != saved.dtype:
            raise ValueError(f"{name}: the model's weight is {weight.dtype}, the saved one "
                             f"{saved.dtype}; cast the model (model.to({saved.dtype})) "
                             "before an.load")


def _check_state(layer: AnalogLayer, state: dict[str, torch.Tensor]) -> None:
    """The saved state fits ``layer``: the same parameters and calibration buffers, each of the
    layer's shape, and a programmed state the layer can hold (``programmed.check_state``)."""
    own = {k: v for k, v in layer.state_dict().items() if not k.startswith("prog_")}
    given = {k for k in state if not k.startswith("prog_")}
    for key in sorted(set(own) ^ given):
        what = "lacks" if key in own else "has an unexpected"
        raise ValueError(f"{layer.layer_name}: the saved state {what} {key!r} for this layer's "
                         "config; save the model again (the model is left digital)")
    for key, value in own.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(f"{layer.layer_name}: the saved {key} is {tuple(state[key].shape)}, "
                             f"the layer's {tuple(value.shape)}; save the model again (the model "
                             "is left digital)")
    programmed.check_state(layer, state)


def load(directory: str | os.PathLike[str], model: nn.Module) -> nn.Module:
    """Convert the digital ``model`` as saved in ``directory`` by ``save``: each saved analog
    layer gets its config, noise seed, weight and bias, calibration and programmed state (the
    other modules stay digital and untouched); returns ``model``, in its train/eval mode.

    ``model`` must be digital and of the saved architecture (build it as the saved one was,
    restoring its digital weights first). Every check runs before the model changes; a
    mismatch fails in one line naming the layer or file and the fix.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"an.load: model must be a torch.nn.Module, got {type(model).__name__}")
    present = list(analog_layers(model))
    if present:
        raise ValueError(f"an.load: the model has analog layers already ({present[0]!r}"
                         f"{f' and {len(present) - 1} more' if len(present) > 1 else ''}); pass "
                         "a fresh digital model, or call an.to_digital_(model) first")
    directory = Path(directory)
    path = directory / SAVED_JSON
    doc = _read_doc(path)
    configs = _parse_configs(path, doc)
    tensors = _read_tensors(directory, doc)
    _check_tensors(directory / SAVED_TENSORS, doc, tensors)
    _check_model(model, doc, tensors)

    saved = doc["layers"]
    rules: dict[str, AnalogConfig | None] = {n: configs[e["config"]] for n, e in saved.items()}
    rules["re:.*"] = None  # every other module stays digital
    convert_(model, configs[saved[next(iter(saved))]["config"]], rules)
    converted = analog_layers(model)
    for name, entry in saved.items():
        layer = converted.get(name)
        if layer is None or type(layer).__name__ != entry["type"]:
            got = "stayed digital" if layer is None else f"became {type(layer).__name__}"
            to_digital_(model)
            raise ValueError(f"{name}: saved as {entry['type']} but {got} on conversion; pass a "
                             "model of the saved architecture (the model is left digital)")
    states = {name: {k: tensors[f"{name}.{k}"] for k in entry["keys"]}
              for name, entry in saved.items()}
    try:  # every layer's state is checked before any is loaded
        for name, state in states.items():
            _check_state(converted[name], state)
    except ValueError:
        to_digital_(model)
        raise
    with torch.no_grad():
        for name, state in states.items():
            layer = converted[name]
            layer.reseed(saved[name]["noise_seed"])
            layer.load_state_dict(state, strict=True)
    logger.info("loaded %d analog layers from %s", len(saved), directory)
    return model


__all__ = ["FORMAT_VERSION", "SAVED_JSON", "SAVED_TENSORS", "load", "save"]
