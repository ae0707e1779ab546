"""Model-level verbs over the analog layers of a model: calibration (and, with device models,
programming and drift).

``calibrate_`` measures, from a few batches of data, the input range of every layer whose DAC
policy is ``calibrated`` (or ``learned``, as its initial value) and the ADC range ``out_bound`` of
every layer, so converters use their full resolution without clipping what matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from .convert import analog_layers
from .nn import AnalogLayer
from .physics import mapping


@contextmanager
def capture_inputs(layers: Iterable[AnalogLayer]) -> Iterator[dict[AnalogLayer, list[Tensor]]]:
    """Record the ``(G, N, K)`` inputs every given layer applies to its tiles while inside."""
    layers = list(layers)
    store: dict[AnalogLayer, list[Tensor]] = {layer: [] for layer in layers}
    for layer in layers:
        layer._capture = store[layer]
    try:
        yield store
    finally:
        for layer in layers:
            layer._capture = None


def _batches(data: object, max_batches: int) -> Iterator[Tensor]:
    """Inputs from a tensor, a ``(x, y)`` pair, or an iterable of tensors / ``(x, ...)`` tuples."""
    if isinstance(data, Tensor):
        yield data
        return
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], Tensor) and len(data) == 2 \
            and data[0].dim() > data[1].dim():
        yield data[0]
        return
    for i, item in enumerate(data):  # type: ignore[union-attr]
        if i >= max_batches:
            break
        yield item[0] if isinstance(item, (tuple, list)) else item


def _quantile(values: Tensor, q: float, max_samples: int = 1 << 20) -> Tensor:
    flat = values.reshape(-1).float()
    if q >= 1.0:
        return flat.max()
    if flat.numel() > max_samples:
        idx = torch.linspace(0, flat.numel() - 1, max_samples, device=flat.device).long()
        flat = flat[idx]
    return torch.quantile(flat, q)


def partial_sums(layer: AnalogLayer, x: Tensor, input_range: Tensor | None = None) -> Tensor:
    """Noise-free, unquantised per-block column sums ``(G * nb, N, M)`` in normalised units."""
    scale = layer._input_scale(x, layer.input_range if input_range is None else input_range)
    x_n = (x / scale).clamp(-1.0, 1.0)
    xb = mapping.inputs_to_blocks(x_n, layer.cfg.tile.rows)
    w, _ = layer.read_blocks()(0, xb.shape[0])
    return torch.bmm(xb, w)


@torch.no_grad()
def calibrate_(
    model: nn.Module,
    data: object,
    *,
    input_quantile: float = 0.9999,
    adc_quantile: float = 0.9999,
    adc_margin: float = 1.1,
    inputs: bool = True,
    adc: bool = True,
    max_batches: int = 4,
) -> nn.Module:
    """Calibrate input ranges and ADC ranges of every analog layer from ``data``; returns ``model``.

    ``data``: a tensor, an ``(x, y)`` pair, or an iterable of batches (``max_batches`` are used).
    Input range (layers with a ``calibrated`` or ``learned`` DAC): the ``input_quantile`` of
    ``|x|``. ADC range (``out_bound``): ``adc_margin`` times the ``adc_quantile`` of the
    noise-free column sums, so output noise stays inside the range. The model runs in eval mode
    with its current (calibrated-so-far) settings, layers in order.
    """
    for name, v in (("input_quantile", input_quantile), ("adc_quantile", adc_quantile)):
        if not 0.0 < v <= 1.0:
            raise ValueError(f"calibrate_: {name} must lie in (0, 1], got {v}")
    if adc_margin < 1.0:
        raise ValueError(f"calibrate_: adc_margin must be >= 1 (headroom for noise), got {adc_margin}")
    layers = analog_layers(model)
    if not layers:
        raise ValueError("calibrate_: the model has no analog layers; call an.convert_ first")
    was_training = model.training
    model.eval()
    try:
        with capture_inputs(layers.values()) as store:
            n = 0
            for xb in _batches(data, max_batches):
                model(xb)
                n += 1
            if n == 0:
                raise ValueError("calibrate_: data yielded no batches")
        for layer in layers.values():
            xs = store[layer]
            if not xs:
                continue  # the layer is not on the path of these inputs
            x = torch.cat(xs, dim=1)
            if inputs and layer.input_range is not None:
                r = _quantile(x.abs(), input_quantile).clamp_min(torch.finfo(x.dtype).tiny)
                layer.input_range.data.copy_(r)
            if adc:
                p = partial_sums(layer, x)
                bound = _quantile(p.abs(), adc_quantile) * adc_margin
                layer.out_bound.copy_(bound.clamp_min(torch.finfo(x.dtype).tiny))
    finally:
        model.train(was_training)
    return model


# devices over time (program_, drift_, compensation) live in lifecycle_drift.py
from .lifecycle_drift import compensate_drift_, drift_, program_, unprogram_  # noqa: E402,F401
