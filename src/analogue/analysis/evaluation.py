"""Running a model over labelled data: the one loop behind ``evaluate`` (test loss and accuracy),
``accuracy_over_time``, the training loop's test metrics and the distillation teacher's outputs.

Data and outputs follow the convention of ``analogue._util.inputs``: a tensor, a tuple, a dict
of tensors (a tokenizer's output), an ``(inputs, labels)`` pair, or a list/iterable/DataLoader of
those; the model may return a tensor, a dict, a Hugging Face ``ModelOutput`` or a tuple (its
logits, or what ``output_fn`` picks). Scores compare the argmax over the output's last dimension
with the labels: one label per example (``(N, C)`` logits, ``(N,)`` labels) or one per token
(``(N, T, C)`` and ``(N, T)``), labels of ``-100`` ignored as in Hugging Face models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analogue._util import inputs

IGNORE_INDEX = -100
"""A label to leave out of the scores (Hugging Face's padding label)."""


def check_batch_size(batch_size: Any, where: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{where}: batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def labelled(data: object, y: Tensor | None = None, where: str = "evaluate") -> object:
    """``data`` with its labels in the convention: ``(data, y)`` when ``y`` is given (``data`` is
    then the inputs of one batch), ``(x_test, y_test)`` of an object with those attributes (e.g.
    ``analogue.data.DigitsData``), else ``data`` as it is."""
    if y is not None:
        if not isinstance(y, Tensor):
            raise TypeError(f"{where}: the labels y must be a tensor, got {type(y).__name__} (pass "
                            "batch_size=... by keyword)")
        if not isinstance(data, (Tensor, tuple, Mapping)):
            raise TypeError(f"{where}: with labels y, the data must be one batch of inputs (a tensor, a "
                            f"tuple or a dict of tensors), got {type(data).__name__}; or pass (x, y) pairs "
                            "without y")
        return (data, y)
    if hasattr(data, "x_test") and hasattr(data, "y_test"):
        return (data.x_test, data.y_test)  # type: ignore[attr-defined]
    return data


def labelled_batches(data: object, where: str = "evaluate") -> Iterator[inputs.Batch]:
    """The batches of ``data`` (see ``labelled``), each checked to carry one label per example
    (an ``(x, y)`` pair, or a dict with a ``"labels"`` entry); lazily, batch by batch."""
    for b in inputs.batches(labelled(data, where=where), None, where):
        if b.labels is None:
            raise ValueError(f"{where}: a batch has no labels; pass (x, y) pairs, dicts with a 'labels' "
                             "entry, or an object with x_test/y_test")
        n = inputs.batch_size(b)
        if len(b.labels) != n:
            raise ValueError(f"{where}: {n} inputs but {len(b.labels)} labels in a batch")
        yield b


def outputs(model: nn.Module, batches: Any, batch_size: int, output_fn: inputs.OutputFn | None = None,
            reps: int = 1, where: str = "evaluate") -> Iterator[tuple[Tensor, inputs.Batch]]:
    """``(output, sub_batch)`` for every run of ``model`` over ``batches`` (``Batch`` objects),
    at most ``batch_size`` examples a run, in order; ``output``: the tensor the model's output
    stands for (``output_fn``). ``reps > 1`` runs ``reps`` stacked copies of each sub-batch (as
    ``reps`` programmed instances take them). The caller sets the mode and the grad mode."""
    for batch in batches:
        for i in range(0, inputs.batch_size(batch), batch_size):
            sub = inputs.select(batch, i, i + batch_size)
            yield inputs.logits(inputs.call(model, inputs.repeat(sub, reps)), output_fn, where), sub


def top1_counts(out: Tensor, y: Tensor, reps: int = 1) -> tuple[Tensor, int]:
    """Correct top-1 predictions of each of ``reps`` stacked copies, ``(reps,)`` float64 on the
    CPU, and the number of scored labels (not ``IGNORE_INDEX``)."""
    pred = out.reshape(reps, len(y), *out.shape[1:]).argmax(dim=-1)
    y = y.to(pred.device)
    valid = y != IGNORE_INDEX
    return ((pred == y) & valid).flatten(1).sum(dim=1).double().cpu(), int(valid.sum())


@torch.no_grad()
def evaluate(model: nn.Module, data: object, y: Tensor | None = None, batch_size: int = 512, *,
             output_fn: inputs.OutputFn | None = None) -> dict[str, float]:
    """Mean cross-entropy and top-1 accuracy of ``model`` on labelled ``data``, in eval mode (the
    model's mode is restored), without gradients.

    ``data``: in the convention of ``analogue._util.inputs`` with labels -- ``(x, y)`` pairs,
    dicts of keyword inputs with a ``"labels"`` entry (a tokenizer's output), a list or DataLoader
    of those, or an object with ``x_test``/``y_test``; or the inputs of one batch with their
    labels ``y`` (``evaluate(model, x, y)``). ``batch_size``: the most examples per forward.
    ``output_fn(output) -> Tensor``: picks the logits (default: the tensor, the ``logits`` of a
    ``ModelOutput``/dict, or a tuple's first tensor). Returns ``{"loss", "accuracy"}``, both means
    over the scored labels (labels of ``-100`` are ignored); accuracy in [0, 1].
    """
    check_batch_size(batch_size, "evaluate")
    batches = labelled_batches(labelled(data, y), "evaluate")
    was = model.training
    model.eval()
    try:
        loss, correct, total = 0.0, 0.0, 0
        for out, sub in outputs(model, batches, batch_size, output_fn):
            labels = sub.labels
            assert labels is not None
            labels = labels.to(out.device)
            logits = out if out.dim() == 2 else out.flatten(0, -2)
            loss += float(F.cross_entropy(logits, labels.reshape(-1) if out.dim() != 2 else labels,
                                          reduction="sum", ignore_index=IGNORE_INDEX))
            c, n = top1_counts(out, labels)
            correct += float(c[0])
            total += n
    finally:
        model.train(was)
    if total == 0:
        raise ValueError("evaluate: the data yielded no labelled examples (an empty data set, or every "
                         "label -100)")
    return {"loss": loss / total, "accuracy": correct / total}


__all__ = ["IGNORE_INDEX", "check_batch_size", "evaluate", "labelled", "labelled_batches", "outputs", "top1_counts"]
