"""Hardware-aware training in a Lightning script: one callback (imports ``lightning``).

::

    from analogue.integrations.lightning import AnalogCallback

    analog = AnalogCallback(an.presets.pcm(), HWAOptions(device_noise_scale=1.0, clip_weights_sigma=2.5,
                                                         distill_alpha=0.5),
                            drift_data=(x_val, y_val), drift_times_s=(3600.0, 86_400.0))

    class Net(L.LightningModule):
        def training_step(self, batch, batch_idx):
            x, y = batch
            return analog.loss(self(x), x, y)       # cross-entropy + distillation from the teacher

    L.Trainer(callbacks=[analog], ...).fit(Net(), train_loader, val_loader)

At ``setup`` the callback keeps a frozen digital copy of the LightningModule (the teacher, when
``distill_alpha > 0``) and converts the module in place (``an.convert_``; the Parameters stay the
same objects, so the optimizer ``configure_optimizers`` builds needs no change), calibrates on
``calibration_data`` and installs the weight noise; every training-mode forward then injects
the hardware's noise. At each epoch start the noise streams restart from (seed, epoch[, rank]);
after every training batch (the optimizer step) the weights are clipped; at the end of every
validation epoch (not the sanity check) a programmed copy is drifted to each of
``drift_times_s`` and ``val_acc@1h``, ``val_acc@1d``, ... are logged. What runs is
``integrations.recipe.HWARecipe`` (``callback.recipe``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
from torch import Tensor

from analogue.config import AnalogConfig
from analogue.integrations.recipe import HWARecipe
from analogue.train.hwa import HWAOptions


class AnalogCallback(pl.Callback):
    """The HWA recipe as a ``lightning.pytorch.Callback``.

    ``config``, ``hwa``, ``seed``, ``calibration_data``, ``drift_times_s``, ``drift_repeats``,
    ``compensation``, ``metric_prefix``, ``noise_streams``: as for ``HWARecipe``.
    ``drift_data``: labelled data for the drift-aware evaluation (``(x, y)`` tensors, a list or
    DataLoader of batches, ...; needed when ``drift_times_s`` is not empty).
    """

    def __init__(self, config: AnalogConfig, hwa: HWAOptions | None = None, *, seed: int = 0,
                 calibration_data: Any = None, drift_data: Any = None, drift_times_s: Sequence[float] = (),
                 drift_repeats: int = 4, compensation: str = "global", metric_prefix: str = "val_acc",
                 noise_streams: str = "shared") -> None:
        super().__init__()
        self.recipe = HWARecipe(config, hwa, seed=seed, calibration_data=calibration_data,
                                drift_times_s=drift_times_s, drift_repeats=drift_repeats,
                                compensation=compensation, metric_prefix=metric_prefix,
                                noise_streams=noise_streams)
        if self.recipe.drift_times_s and drift_data is None:
            raise ValueError("AnalogCallback: drift_times_s needs drift_data (labelled validation data, e.g. "
                             "(x_val, y_val))")
        self.drift_data = drift_data

    def loss(self, logits: Tensor, batch_inputs: Any, target: Tensor) -> Tensor:
        """The training loss for ``training_step``: ``HWARecipe.loss`` (cross-entropy, plus the
        distillation term against the digital teacher when ``hwa.distill_alpha > 0``)."""
        return self.recipe.loss(logits, batch_inputs, target)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.recipe.setup(pl_module)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.recipe.epoch_start(pl_module, trainer.current_epoch, trainer.global_rank)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        self.recipe.after_step(pl_module)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not self.recipe.drift_times_s:
            return
        for name, value in self.recipe.drift_metrics(pl_module, self.drift_data).items():
            pl_module.log(name, value)


__all__ = ["AnalogCallback"]
