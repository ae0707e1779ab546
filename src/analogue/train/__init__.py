"""Training helpers: hardware-aware training (HWA), LAMB, the training loop behind ``analogue train``."""

from analogue.train.config_file import TrainConfig
from analogue.train.hwa import HWAOptions, clip_weights_, distillation_loss, hardware_aware, hwa_, remove_hwa_, reseed_noise_
from analogue.train.inmemory import AnalogSGD, InMemoryOptimizer, MixedPrecision, TikiTaka, attach_analog_backward_, digital_parameters
from analogue.train.lamb import LAMB
from analogue.train.loop import TrainResult, run_training
from analogue.train.pulsed_config import BackwardConfig, ConstantStepDevice, PCMLikeDevice, SoftBoundsDevice, ideal_device, pcm_like, rpu_constant_step, rram_asymmetric

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
    "TrainConfig",
    "TrainResult",
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
    "run_training",
]
