"""One input convention for every function that runs a user's model (calibration, analyses,
compile's example inputs).

A *batch* is one of

- a tensor: the model's one positional input, ``model(x)``;
- a mapping of tensors (a tokenizer's output, a dict): keyword inputs, ``model(**batch)``; its
  ``"labels"`` entry, if any, also serves as the labels (and stays among the inputs);
- a tuple of positional inputs, ``model(*batch)``; a two-element tuple or list ``(x, y)`` whose
  ``y`` is ``None`` or a tensor with fewer dimensions than ``x`` is inputs and labels (the
  ``(images, classes)`` of a classification DataLoader), and ``(inputs, y)`` whose ``inputs`` is
  itself a tuple or a mapping is always inputs and labels. A model whose second positional input
  looks like labels (say a timestep vector) gets it as ``((x, t), None)`` or as keywords.

``data`` is one batch, a list of batches, or any other iterable of batches (a DataLoader, a
generator). A list ``[x, y]`` that reads as ``(x, y)`` above is one batch, as is a tuple.

A model's *output* is a tensor, a mapping or a Hugging Face ``ModelOutput`` (its ``"logits"``
entry if there is one, else its first tensor), or a tuple or list (its first tensor);
``output_fn(output) -> Tensor`` overrides that choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from typing import Any, NamedTuple

from torch import Tensor, nn

OutputFn = Callable[[Any], Tensor]

FORMS = ("a tensor, a tuple of positional inputs, a dict of tensors (keyword inputs, e.g. a tokenizer's "
         "output), an (inputs, labels) pair, or a list/iterable/DataLoader of those")


class Batch(NamedTuple):
    """One batch as the model takes it: ``model(*args, **kwargs)``, and its labels (or ``None``)."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    labels: Tensor | None


def _is_pair(item: Any) -> bool:
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        return False
    x, y = item
    if isinstance(x, (tuple, list, Mapping)) and (y is None or isinstance(y, Tensor)):
        return True
    return isinstance(x, Tensor) and (y is None or (isinstance(y, Tensor) and y.dim() < x.dim()))


def _inputs(x: Any, where: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(x, Tensor):
        return (x,), {}
    if isinstance(x, Mapping):
        return (), dict(x)
    if isinstance(x, (tuple, list)):
        return tuple(x), {}
    raise TypeError(f"{where}: a batch must be {FORMS}; got {type(x).__name__}")


def as_batch(item: Any, where: str = "inputs") -> Batch:
    """One batch in the convention above as ``Batch(args, kwargs, labels)``."""
    if isinstance(item, Batch):
        return item
    if _is_pair(item):
        x, y = item
        args, kwargs = _inputs(x, where)
        return Batch(args, kwargs, y)
    args, kwargs = _inputs(item, where)
    labels = kwargs.get("labels")
    return Batch(args, kwargs, labels if isinstance(labels, Tensor) else None)


def is_one_batch(data: Any) -> bool:
    """Whether ``data`` is one batch rather than an iterable of batches."""
    return isinstance(data, (Tensor, Mapping, tuple)) or _is_pair(data)  # a Batch is a tuple


def batches(data: Any, max_batches: int | None = None, where: str = "inputs") -> Iterator[Batch]:
    """The batches of ``data`` (one batch, or an iterable of them; at most ``max_batches``)."""
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"{where}: data must be {FORMS}; got {type(data).__name__}")
    if is_one_batch(data):
        yield as_batch(data, where)
        return
    try:
        items = iter(data)
    except TypeError:
        raise TypeError(f"{where}: data must be {FORMS}; got {type(data).__name__}") from None
    for item in islice(items, max_batches):
        yield as_batch(item, where)


def first_tensor(batch: Batch) -> Tensor | None:
    """The first input tensor of a batch (positional inputs first), or ``None``."""
    for v in (*batch.args, *batch.kwargs.values()):
        if isinstance(v, Tensor):
            return v
    return None


def batch_size(batch: Batch) -> int:
    """Examples in a batch: the leading dimension of its first input tensor (1 for a tensor of
    fewer than two dimensions, one unbatched example, or no tensor at all)."""
    x = first_tensor(batch)
    if x is None or x.dim() < 2:
        return 1 if x is None or x.numel() > 0 else 0
    return int(x.shape[0])


def call(model: nn.Module, batch: Batch) -> Any:
    """Run ``model`` on one batch."""
    return model(*batch.args, **batch.kwargs)


def logits(output: Any, output_fn: OutputFn | None = None, where: str = "output") -> Tensor:
    """The tensor a model output stands for (see the module docstring), or ``output_fn(output)``."""
    out = output_fn(output) if output_fn is not None else output
    if isinstance(out, Tensor):
        return out
    if output_fn is None:
        if isinstance(out, Mapping):  # dict, ModelOutput
            if isinstance(out.get("logits"), Tensor):
                return out["logits"]
            for v in out.values():
                if isinstance(v, Tensor):
                    return v
        elif isinstance(out, (tuple, list)):
            for v in out:
                if isinstance(v, Tensor):
                    return v
        raise TypeError(f"{where}: cannot find the output tensor in a {type(out).__name__}; pass "
                        "output_fn=lambda out: ... returning the tensor to use")
    raise TypeError(f"{where}: output_fn must return a tensor, got {type(out).__name__}")


def select(batch: Batch, start: int, stop: int) -> Batch:
    """Examples ``start:stop`` of a batch (every batched input tensor and the labels sliced)."""
    n = batch_size(batch)

    def cut(v: Any) -> Any:
        return v[start:stop] if isinstance(v, Tensor) and v.dim() >= 1 and v.shape[0] == n else v

    return Batch(tuple(cut(a) for a in batch.args), {k: cut(v) for k, v in batch.kwargs.items()},
                 None if batch.labels is None else cut(batch.labels))


def repeat(batch: Batch, reps: int) -> Batch:
    """``reps`` copies of a batch stacked along the batch dimension, copy-major (what ``reps``
    programmed instances expect); the labels stay as they are."""
    if reps == 1:
        return batch
    n = batch_size(batch)

    def rep(v: Any) -> Any:
        if isinstance(v, Tensor) and v.dim() >= 1 and v.shape[0] == n:
            return v.repeat(reps, *([1] * (v.dim() - 1)))
        return v

    return Batch(tuple(rep(a) for a in batch.args), {k: rep(v) for k, v in batch.kwargs.items()},
                 batch.labels)


__all__ = ["FORMS", "Batch", "OutputFn", "as_batch", "batch_size", "batches", "call", "first_tensor",
           "is_one_batch", "logits", "repeat", "select"]
