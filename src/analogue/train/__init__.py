"""Training: hardware-aware training (HWA), LAMB, and training in memory (pulsed updates of the
arrays: ``train.inmemory``). The training loop behind ``analogue train`` and its config file are an
application: ``analogue.apps.training`` and ``analogue.apps.train_config``."""

import warnings

from analogue.config.pulsed import (
    BackwardConfig,
    ConstantStepDevice,
    PCMLikeDevice,
    SoftBoundsDevice,
    ideal_device,
    pcm_like,
    rpu_constant_step,
    rram_asymmetric,
)
from analogue.train.hwa import (
    HWAOptions,
    clip_weights_,
    distillation_loss,
    hardware_aware,
    hwa_,
    remove_hwa_,
    reseed_noise_,
)
from analogue.train.inmemory import (
    AnalogSGD,
    InMemoryOptimizer,
    MixedPrecision,
    TikiTaka,
    attach_analog_backward_,
    digital_parameters,
)
from analogue.train.lamb import LAMB

__all__ = [
    "LAMB",
    "AnalogSGD",
    "BackwardConfig",
    "ConstantStepDevice",
    "HWAOptions",
    "InMemoryOptimizer",
    "MixedPrecision",
    "PCMLikeDevice",
    "SoftBoundsDevice",
    "TikiTaka",
    "attach_analog_backward_",
    "clip_weights_",
    "digital_parameters",
    "distillation_loss",
    "hardware_aware",
    "hwa_",
    "ideal_device",
    "pcm_like",
    "remove_hwa_",
    "reseed_noise_",
    "rpu_constant_step",
    "rram_asymmetric",
]


_MOVED = {"TrainConfig": "train_config", "TrainResult": "training", "run_training": "training"}


def __getattr__(name: str) -> object:
    """The training loop's names under their old home (deprecated: ``analogue.apps``)."""
    if name in _MOVED:
        warnings.warn(f"analogue.train.{name} moved to analogue.apps.{_MOVED[name]}.{name}",
                      DeprecationWarning, stacklevel=2)
        from analogue import (
            apps,  # a deprecated alias: the one import upwards (tests/test_architecture.py)
        )

        return getattr(apps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
