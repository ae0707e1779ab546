"""The training config file of ``analogue train CONFIG.yaml``: YAML validated into frozen dataclasses.

A run has two phases: ``pretrain.epochs`` of digital training, then ``epochs`` of (hardware-aware)
training of the model converted with ``analog`` (a preset plus overrides; ``preset: null`` keeps
the model digital). Example (``docs/examples/digits_hwa.yaml``)::

    model: {name: digits_cnn}
    data: {name: digits, batch_size: 64}
    pretrain: {epochs: 30, optimizer: {name: adam, lr: 3.0e-3}}
    analog: {preset: pcm, overrides: {dac.range_policy: learned}}
    hwa: {device_noise_scale: 1.0, clip_weights_sigma: 2.5}
    optimizer: {name: adam, lr: 1.0e-3, schedule: cosine}
    epochs: 20
    seed: 0

Unknown keys fail naming the key and the closest valid one (``analogue._util.serial.section_from_dict``).
Any ``Mapping`` is accepted (an OmegaConf ``DictConfig`` too); a string holding a number is
accepted for a number (YAML 1.1 reads ``1e-3`` as a string).

Code execution: ``model.name``/``data.name`` may name ``package.module:function``. Importing a
module runs its code, so a config file can only name the package's own factories (the builtins
and functions of ``analogue.data``) unless the caller trusts it: ``trust_code=True`` in
``run_training`` / ``build_model`` / ``build_data``, ``--trust-code`` on the command line.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analogue._util.serial import Serialisable, check_version, read_yaml
from analogue._util.validate import ConfigError, check_int, check_nonnegative, kwargs_mapping
from analogue.config import AnalogConfig
from analogue.train.hwa import HWAOptions

TRAIN_CONFIG_VERSION = 1
OPTIMIZERS = ("adam", "adamw", "sgd", "lamb")
SCHEDULES = ("none", "cosine")


OWN_FACTORY_PACKAGE = "analogue.data"
"""``module:function`` names under this package (its models and data sets) need no trust."""


def _is_own(mod_name: str) -> bool:
    return mod_name == OWN_FACTORY_PACKAGE or mod_name.startswith(OWN_FACTORY_PACKAGE + ".")


def _check_name(name: Any, builtins: dict[str, Callable[..., Any]], where: str) -> None:
    """Validate a factory name without importing anything outside the package."""
    if not isinstance(name, str):
        raise ConfigError(f"{where}: must be a string, got {type(name).__name__}")
    mod_name, colon, fn_name = name.partition(":")
    if name in builtins:
        return
    if colon and _is_own(mod_name):
        _resolve(name, builtins, where)  # the package's own module: importing it is safe
    elif colon:
        if not (all(p.isidentifier() for p in mod_name.split(".")) and fn_name.isidentifier()):
            raise ConfigError(f"{where}: {name!r} is not of the form 'package.module:function'")
    else:
        _resolve(name, builtins, where)  # the unknown-name error


def _resolve(name: str, builtins: dict[str, Callable[..., Any]], where: str,
             trust_code: bool = False) -> Callable[..., Any]:
    """A builtin by name, or ``package.module:function`` (outside ``analogue.data`` only with
    ``trust_code``: importing a module runs its code)."""
    if name in builtins:
        return builtins[name]
    if ":" in name:
        mod_name, _, fn_name = name.partition(":")
        if not (_is_own(mod_name) or trust_code):
            raise ConfigError(f"{where}: {name!r} would import and run code from {mod_name!r}; if you "
                              "trust it, pass --trust-code (analogue train) or trust_code=True")
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where}: cannot load {name!r} ({exc})") from None
        if not callable(fn) or not (trust_code or _is_own(getattr(fn, "__module__", None) or "")):
            raise ConfigError(f"{where}: {name!r} is not a function of {OWN_FACTORY_PACKAGE}; if you "
                              "trust it, pass --trust-code (analogue train) or trust_code=True")
        return fn
    import difflib

    close = difflib.get_close_matches(name, list(builtins), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{where}: unknown name {name!r}{hint} (builtins: {sorted(builtins)}, "
                      "or give 'package.module:function')")


def _model_builtins() -> dict[str, Callable[..., Any]]:
    from analogue.data import models
    from analogue.data.digits import digits_cnn

    return {"digits_cnn": digits_cnn, "mlp": models.mlp, "small_resnet": models.small_resnet,
            "resnet18_like": models.resnet18_like}


def _data_builtins() -> dict[str, Callable[..., Any]]:
    from analogue.data.digits import load_digits

    return {"digits": load_digits}


@dataclass(frozen=True)
class ModelSpec:
    """``name``: a builtin (``digits_cnn``, ``mlp``, ``small_resnet``, ``resnet18_like``) or
    ``package.module:function`` returning an ``nn.Module``; ``kwargs``: its arguments; ``init``: an
    optional ``state_dict`` file (``torch.save``) of the digital model to start from."""

    name: str = "digits_cnn"
    kwargs: dict = field(default_factory=dict)
    init: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, _model_builtins(), "model.name")
        object.__setattr__(self, "kwargs", kwargs_mapping(self.kwargs, "model.kwargs"))
        if self.init is not None and not (isinstance(self.init, str) and os.path.isfile(self.init)):
            raise ConfigError(f"model.init: no such file {self.init!r}")


@dataclass(frozen=True)
class DataSpec:
    """``name``: ``digits`` or ``package.module:function`` returning an object with tensors
    ``x_train, y_train, x_test, y_test`` (class labels); ``batch_size``: training batch size."""

    name: str = "digits"
    kwargs: dict = field(default_factory=dict)
    batch_size: int = 64

    def __post_init__(self) -> None:
        _check_name(self.name, _data_builtins(), "data.name")
        object.__setattr__(self, "kwargs", kwargs_mapping(self.kwargs, "data.kwargs"))
        check_int(self.batch_size, "data.batch_size", 1)


@dataclass(frozen=True)
class OptimizerSpec:
    """``name`` in adam|adamw|sgd|lamb (``analogue.train.LAMB``); ``lr``; ``weight_decay``;
    ``kwargs`` passed on (e.g. ``momentum`` for sgd); ``schedule``: none|cosine (per epoch)."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    kwargs: dict = field(default_factory=dict)
    schedule: str = "none"

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ConfigError(f"optimizer.name: must be one of {OPTIMIZERS}, got {self.name!r}")
        for name in ("lr", "weight_decay"):
            check_nonnegative(getattr(self, name), f"optimizer.{name}", fix="e.g. 1.0e-3")
        if self.lr == 0:
            raise ConfigError("optimizer.lr: must be > 0")
        object.__setattr__(self, "kwargs", kwargs_mapping(self.kwargs, "optimizer.kwargs"))
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"optimizer.schedule: must be one of {SCHEDULES}, got {self.schedule!r}")


@dataclass(frozen=True)
class PretrainSpec:
    """Digital training before conversion: ``epochs`` (0: none) with ``optimizer``."""

    epochs: int = 0
    optimizer: OptimizerSpec = field(default_factory=lambda: OptimizerSpec(lr=3e-3))

    def __post_init__(self) -> None:
        check_int(self.epochs, "pretrain.epochs", 0)


@dataclass(frozen=True)
class AnalogSpec:
    """The conversion: ``preset`` names a function of ``analogue.config.presets`` (``null``: stay digital),
    called with ``kwargs``, or an ``AnalogConfig`` YAML file (``*.yaml``/``*.yml``,
    ``AnalogConfig.to_yaml``; relative to the working directory); then ``overrides`` applied
    (dotted keys, ``AnalogConfig.replace``).
    ``digital``: module names or ``re:`` patterns kept digital (one name may be given as a
    string); ``int8_digital``: run them int8;
    ``calibrate``: measure input and ADC ranges on training data after conversion."""

    preset: str | None = "standard"
    kwargs: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    digital: tuple[str, ...] = ()
    int8_digital: bool = False
    calibrate: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", kwargs_mapping(self.kwargs, "analog.kwargs"))
        object.__setattr__(self, "overrides", kwargs_mapping(self.overrides, "analog.overrides"))
        if isinstance(self.digital, str):  # one name, not its letters
            object.__setattr__(self, "digital", (self.digital,))
        if not (isinstance(self.digital, (tuple, list)) and all(isinstance(n, str) for n in self.digital)):
            raise ConfigError(f"analog.digital: must be a list of module names (e.g. [conv1, fc]), "
                              f"got {self.digital!r}")
        object.__setattr__(self, "digital", tuple(self.digital))
        if self.preset is not None and not isinstance(self.preset, str):
            raise ConfigError(f"analog.preset: must be a preset name, a YAML file or null, got {self.preset!r}")
        if self.preset is not None:
            self.build()  # fails early on a bad preset name or override

    def build(self) -> AnalogConfig | None:
        """The ``AnalogConfig`` (``None`` when the run stays digital)."""
        if self.preset is None:
            return None
        if self.preset.endswith((".yaml", ".yml")):
            if self.kwargs:
                raise ConfigError("analog.kwargs: a preset given as a YAML file takes no kwargs; "
                                  "use analog.overrides")
            cfg = AnalogConfig.from_yaml(self.preset)
            try:
                return cfg.replace(**self.overrides) if self.overrides else cfg
            except (ConfigError, TypeError) as exc:
                raise ConfigError(f"analog.overrides: {exc}") from None
        from analogue.config import presets

        fn = getattr(presets, self.preset, None)
        public = [n for n in getattr(presets, "__all__", dir(presets)) if not n.startswith("_")]
        if fn is None or self.preset.startswith("_") or not callable(fn):
            import difflib

            close = difflib.get_close_matches(self.preset, public, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; presets: {public}"
            raise ConfigError(f"analog.preset: unknown preset {self.preset!r}{hint}")
        try:
            cfg = fn(**self.kwargs)
        except TypeError as exc:
            raise ConfigError(f"analog.kwargs: {exc}") from None
        try:
            return cfg.replace(**self.overrides) if self.overrides else cfg
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"analog.overrides: {exc}") from None


@dataclass(frozen=True)
class TrainConfig(Serialisable):
    """One training run (see the module docstring for the file layout); ``to_yaml`` and a dotted
    ``replace`` come from ``_util.serial.Serialisable``."""

    serial_name = "train config"  # the name in error messages (a class attribute, not a field)

    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    pretrain: PretrainSpec = field(default_factory=PretrainSpec)
    analog: AnalogSpec = field(default_factory=AnalogSpec)
    hwa: HWAOptions = field(default_factory=HWAOptions)
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    epochs: int = 10
    seed: int = 0
    version: int = TRAIN_CONFIG_VERSION

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs", 0)
        check_int(self.seed, "seed", 0)
        check_version(self.version, TRAIN_CONFIG_VERSION, "version", "training configs of version")
        if self.hwa.distill_alpha > 0 and self.analog.preset is None:
            raise ConfigError("hwa.distill_alpha: distillation needs an analog student; set analog.preset")
        if self.pretrain.epochs + self.epochs == 0:
            raise ConfigError("epochs: nothing to train (pretrain.epochs and epochs are both 0)")

    @property
    def total_epochs(self) -> int:
        return self.pretrain.epochs + self.epochs

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hwa"] = self.hwa.to_dict()
        out["analog"]["digital"] = list(self.analog.digital)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """From a mapping (any ``Mapping``, e.g. an OmegaConf ``DictConfig``)."""
        try:
            return super().from_dict(data)
        except TypeError as exc:  # a value of the wrong kind reached a constructor
            raise ConfigError(f"train config: {exc}") from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """From a YAML file (``yaml.safe_load``: Python tags are refused)."""
        return cls.from_dict(read_yaml(path, "training config"))

    def sha256(self) -> str:
        """A fingerprint of the run: the config and, for an analog run, the ``AnalogConfig`` it
        builds (so a changed preset or analog YAML file changes it too)."""
        import hashlib
        import json

        analog = self.analog.build()
        text = json.dumps({"config": self.to_dict(), "analog": analog.to_dict() if analog else None},
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
