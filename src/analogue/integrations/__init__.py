"""The hardware-aware training recipe inside the trainers people already use.

- ``analogue.integrations.lightning``: ``AnalogCallback``, a ``lightning.pytorch.Callback``;
- ``analogue.integrations.hf``: ``AnalogTrainerCallback`` (a ``transformers.TrainerCallback``)
  and ``AnalogTrainer`` (a ``transformers.Trainer`` that adds distillation and drift-aware
  evaluation);
- ``analogue.integrations.recipe``: ``HWARecipe``, the framework-free recipe both wrap.

Lightning and transformers are optional extras (``pip install analogue[lightning]`` /
``[hf]``): ``import analogue`` imports neither; importing ``analogue.integrations.lightning``
(or ``.hf``) imports its framework. See docs/integrations.md.
"""
