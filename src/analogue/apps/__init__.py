"""Applications built on the library: the demo, the drift study, the HWA table, the in-memory
training study, the claims check, and the training loop behind ``analogue train`` with its config
file. The command line (``analogue.cli``) runs them."""

from analogue.apps.train_config import TrainConfig
from analogue.apps.training import TrainResult, run_training

__all__ = ["TrainConfig", "TrainResult", "run_training"]
