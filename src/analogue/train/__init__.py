"""Training helpers: hardware-aware training (HWA), LAMB, the training loop behind ``analogue train``."""

from .config_file import TrainConfig
from .hwa import (
    HWAOptions,
    clip_weights_,
    distillation_loss,
    hardware_aware,
    hwa_,
    remove_hwa_,
    reseed_noise_,
)
from .lamb import LAMB
from .loop import TrainResult, run_training

__all__ = [
    "HWAOptions",
    "LAMB",
    "TrainConfig",
    "TrainResult",
    "clip_weights_",
    "distillation_loss",
    "hardware_aware",
    "hwa_",
    "remove_hwa_",
    "reseed_noise_",
    "run_training",
]
