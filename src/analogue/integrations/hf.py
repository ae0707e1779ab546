"""Hardware-aware training with the Hugging Face ``Trainer`` (imports ``transformers``).

::

    from analogue.integrations.hf import AnalogTrainer, AnalogTrainerCallback

    analog = AnalogTrainerCallback(an.presets.pcm(), HWAOptions(device_noise_scale=1.0,
                                   clip_weights_sigma=2.5, distill_alpha=0.5), drift_times_s=(86_400.0,))
    trainer = AnalogTrainer(model=model, args=args, train_dataset=train, eval_dataset=val,
                            callbacks=[analog])
    trainer.train()
    trainer.evaluate()          # ... "eval_acc@1d": ...

``AnalogTrainerCallback`` (a ``transformers.TrainerCallback``) does what needs no change to the
loss: when the ``Trainer`` is built (``on_init_end``) it keeps a frozen digital copy of the model
(the teacher, when ``distill_alpha > 0``), converts the model in place (``an.convert_``; the
Parameters stay the same objects), calibrates on ``calibration_data`` and installs the weight
noise, so every training-mode forward injects the hardware's noise; it restarts the noise
streams at each epoch and clips the weights after every optimizer step (``on_step_end``). With a
plain ``transformers.Trainer`` that is the whole recipe but distillation and drift evaluation.

``AnalogTrainer`` (a ``transformers.Trainer``) adds those two when one of its callbacks is an
``AnalogTrainerCallback``: ``compute_loss`` trains against the digital teacher
(``train.distillation_loss`` on the model's logits and the batch's ``labels``: a classification
head, ``(N, C)`` and ``(N,)``, or per-token logits ``(N, T, C)`` with labels ``(N, T)`` aligned
with them -- a causal language model shifts its labels inside the model, so keep
``distill_alpha=0`` there), and ``evaluate`` also programs a copy, drifts it to each of
``drift_times_s`` and logs ``eval_acc@1h``, ``eval_acc@1d``, ... (mean top-1 accuracy over
``drift_repeats`` programming instances on the evaluation set; labels ``-100`` ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import transformers
from torch import Tensor, nn

from analogue._util import inputs
from analogue.config import AnalogConfig
from analogue.integrations.recipe import HWARecipe
from analogue.train.hwa import HWAOptions


class AnalogTrainerCallback(transformers.TrainerCallback):
    """The HWA recipe as a ``transformers.TrainerCallback``; arguments as for ``HWARecipe``
    (``metric_prefix`` follows the evaluation's ``metric_key_prefix``: ``eval_acc@1d``)."""

    def __init__(self, config: AnalogConfig, hwa: HWAOptions | None = None, *, seed: int = 0,
                 calibration_data: Any = None, drift_times_s: Sequence[float] = (), drift_repeats: int = 4,
                 compensation: str = "global", metric_prefix: str = "acc", noise_streams: str = "shared") -> None:
        self.recipe = HWARecipe(config, hwa, seed=seed, calibration_data=calibration_data,
                                drift_times_s=drift_times_s, drift_repeats=drift_repeats,
                                compensation=compensation, metric_prefix=metric_prefix,
                                noise_streams=noise_streams)

    def on_init_end(self, args: Any, state: Any, control: Any, model: nn.Module | None = None, **kw: Any) -> None:
        if model is not None:
            self.recipe.setup(model)

    def on_train_begin(self, args: Any, state: Any, control: Any, model: nn.Module | None = None,
                       **kw: Any) -> None:
        if model is not None:  # a callback added after the Trainer was built (setup is idempotent)
            self.recipe.setup(model)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, model: nn.Module | None = None,
                       **kw: Any) -> None:
        if model is not None:
            self.recipe.epoch_start(model, int(state.epoch or 0), args.process_index)

    def on_step_end(self, args: Any, state: Any, control: Any, model: nn.Module | None = None, **kw: Any) -> None:
        if model is not None:
            self.recipe.after_step(model)


def _to(batch: Mapping[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}


class AnalogTrainer(transformers.Trainer):
    """A ``transformers.Trainer`` whose loss distills from the digital teacher and whose
    ``evaluate`` adds drift-aware accuracies; needs an ``AnalogTrainerCallback`` among
    ``callbacks`` (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        found = [cb for cb in self.callback_handler.callbacks if isinstance(cb, AnalogTrainerCallback)]
        if len(found) != 1:
            raise ValueError(f"AnalogTrainer: needs exactly one AnalogTrainerCallback in callbacks=[...], got "
                             f"{len(found)}")
        self.analog = found[0].recipe
        if self.analog.distilling:
            self.loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides it for accumulation

    def compute_loss(self, model: nn.Module, inputs_: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        if not (model.training and self.analog.distilling and "labels" in inputs_):
            return super().compute_loss(model, inputs_, return_outputs, num_items_in_batch)
        features = {k: v for k, v in inputs_.items() if k != "labels"}
        outputs = model(**features)
        loss = self.analog.loss(inputs.logits(outputs, None, "AnalogTrainer"), features, inputs_["labels"])
        return (loss, outputs) if return_outputs else loss

    def evaluate(self, eval_dataset: Any = None, ignore_keys: list[str] | None = None,
                 metric_key_prefix: str = "eval") -> dict[str, float]:
        metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        data = eval_dataset if eval_dataset is not None else self.eval_dataset
        if not self.analog.drift_times_s or isinstance(data, dict):  # a dict: done per dataset above
            return metrics
        batches = [_to(b, self.args.device) for b in self.get_eval_dataloader(eval_dataset)]
        drift = {f"{metric_key_prefix}_{k}": v for k, v in
                 self.analog.drift_metrics(self.model, batches, self.args.per_device_eval_batch_size).items()}
        self.log(drift)
        metrics.update(drift)
        return metrics


__all__ = ["AnalogTrainer", "AnalogTrainerCallback"]
