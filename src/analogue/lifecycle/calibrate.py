"""Model-level verbs over the analog layers of a model: calibration (and, with device models,
programming and drift).

``calibrate_outputs_`` fits, after programming, a per-output affine correction of every layer
(gain and offset per column, in the digital periphery) on calibration data.

``calibrate_`` measures, from a few batches of data, the input range of every layer whose DAC
policy is ``calibrated`` (or ``learned``, as its initial value) and the ADC range ``out_bound`` of
every layer, so converters use their full resolution without clipping what matters.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from analogue._util.inputs import batch_size, batches, call
from analogue._util.progress import Progress, progress_enabled, track
from analogue._util.seeds import layer_seed
from analogue._util.validate import check_at_least, check_int, check_positive_fraction
from analogue.lifecycle.convert import analog_layers
from analogue.nn import AnalogLayer
from analogue.nn.programmed import is_programmed, n_instances, set_output_affine
from analogue.physics import mapping
from analogue.physics.periphery import dac, input_bit_planes

log = logging.getLogger(__name__)


@contextmanager
def capture_inputs(layers: Iterable[AnalogLayer]) -> Iterator[dict[AnalogLayer, list[Tensor]]]:
    """Record every ``(G, N, K)`` input the given layers apply to their tiles while inside (memory
    grows with the data; ``sample_inputs`` keeps a bounded sample instead)."""
    layers = list(layers)
    with _capturing({layer: [] for layer in layers}) as store:
        yield store


@contextmanager
def _capturing(store: dict) -> Iterator[dict]:
    """Each layer of ``store`` appends its inputs to its sink there while inside."""
    for layer, sink in store.items():
        layer.set_input_capture(sink)
    try:
        yield store
    finally:
        for layer in store:
            layer.set_input_capture(None)


class Reservoir:
    """A uniform random sample, without replacement, of at most ``capacity`` items (rows along
    dimension 0) of a stream of tensors, in ``capacity`` items of memory whatever the stream's
    length: every item draws an independent uniform key from ``generator`` and the ``capacity``
    smallest keys stay (reservoir sampling by random keys, Efraimidis & Spirakis 2006, with equal
    weights). While the stream fits, the sample is the whole stream."""

    def __init__(self, capacity: int, generator: torch.Generator) -> None:
        self.capacity = max(int(capacity), 1)
        self.generator = generator
        self.items: Tensor | None = None
        self.keys: Tensor | None = None  # on the CPU, like the generator
        self.seen = 0

    def add(self, items: Tensor) -> None:
        n = items.shape[0]
        if n == 0:
            return
        self.seen += n
        keys = torch.rand(n, generator=self.generator, dtype=torch.float64)
        if self.items is None or self.keys is None:
            self.items, self.keys = items, keys
        else:
            if self.keys.numel() >= self.capacity:  # full: only keys below the largest kept can enter
                enter = keys < self.keys.max()
                if not bool(enter.any()):
                    return
                items, keys = items[enter.to(items.device)], keys[enter]
            self.items, self.keys = torch.cat([self.items, items]), torch.cat([self.keys, keys])
        if self.keys.numel() > self.capacity:
            keep = torch.topk(self.keys, self.capacity, largest=False).indices
            self.items, self.keys = self.items[keep.to(self.items.device)], self.keys[keep]
        elif self.items is items:
            self.items = items.clone()  # own the data (the caller's buffer may be reused)

    @property
    def complete(self) -> bool:
        """Whether the sample is the whole stream."""
        return self.seen <= self.capacity


def _largest(v: Tensor, k: int) -> Tensor:
    """The ``k`` largest of the flat ``v`` (in no order). A large ``v`` is first cut at a threshold
    read off a strided subsample, set to leave about ``2 k`` values; the cut is kept only if at
    least ``k`` values pass it, so the result is exactly ``topk``'s (a full ``topk`` costs about
    as much as a sort)."""
    n = v.numel()
    if n > 8 * k:
        sub = v[:: max(n // 65_536, 1)]
        t = sub.kthvalue(max(int(sub.numel() * (1.0 - 2.0 * k / n)), 1)).values
        above = v[v >= t]
        if above.numel() >= k:
            v = above
    return v.topk(k, sorted=False).values if v.numel() > k else v


class TopValues:
    """The ``capacity`` largest values of a stream of tensors and the count of all values: the
    exact ``q``-quantile of the whole stream as long as the values at and above it fit, i.e.
    while ``(1 - q) * count < capacity`` (a quantile near 1 of a very long stream)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 2)
        self.top: Tensor | None = None
        self.seen = 0

    def add(self, values: Tensor) -> None:
        v = values.reshape(-1)
        self.seen += v.numel()
        if self.top is not None and self.top.numel() >= self.capacity:
            v = v[v > self.top.min()]  # full: only values above the smallest kept can enter
        if v.numel() == 0:
            return
        if self.top is None and v.numel() <= self.capacity:
            self.top = v.clone()  # own the data (the caller's buffer may be reused)
            return
        merged = v if self.top is None else torch.cat([self.top, v])
        self.top = _largest(merged, self.capacity) if merged.numel() > self.capacity else merged

    def quantile(self, q: float) -> Tensor | None:
        """The ``q``-quantile of every value seen (linear interpolation between order statistics,
        as ``torch.quantile``), or ``None`` when the values it needs were not all kept."""
        if self.top is None:
            return None
        pos = (self.seen - 1) * min(q, 1.0)
        lo = int(math.floor(pos))
        keep = self.seen - lo  # the order statistics lo and lo + 1 are the keep-th and (keep-1)-th largest
        if keep > self.top.numel():
            return None
        desc = self.top.topk(keep).values
        if pos == lo:
            return desc[keep - 1]
        return desc[keep - 1] + (pos - lo) * (desc[keep - 2] - desc[keep - 1])


class InputSample:
    """Bounded-memory statistics of the ``(G, N, K)`` inputs one analog layer applies to its tiles
    (the object ``sample_inputs`` hands the layer in place of a list): the largest ``|x|``
    (``TopValues`` of ``max_elements``: quantiles near 1 exact over all the data), and a uniform
    sample (a ``Reservoir``) of at most ``max(max_elements // (G * K), 1)`` input vectors, each
    with its ``G`` groups, for what the largest values cannot give."""

    def __init__(self, max_elements: int, generator: torch.Generator) -> None:
        self.max_elements = int(max_elements)
        self.generator = generator
        self.vectors: Reservoir | None = None
        self.largest = TopValues(max_elements)

    def append(self, x: Tensor) -> None:
        """Take one ``(G, N, K)`` input (what ``AnalogLayer.analog_matmul`` records)."""
        if x.numel() == 0:
            return
        x = x.detach()
        self.largest.add(x.abs())
        if self.vectors is None:
            g, _, k = x.shape
            self.vectors = Reservoir(self.max_elements // (g * k), self.generator)
        self.vectors.add(x.transpose(0, 1))

    @property
    def seen(self) -> int:
        """Input vectors taken so far."""
        return 0 if self.vectors is None else self.vectors.seen

    def sample(self) -> Tensor | None:
        """The sampled vectors as ``(G, n, K)`` (every vector while they fit), or ``None``."""
        if self.vectors is None or self.vectors.items is None:
            return None
        return self.vectors.items.transpose(0, 1)

    def quantile(self, q: float) -> Tensor | None:
        """The ``q``-quantile of ``|x|``: exact while the largest values hold it, else from the
        sampled vectors; ``None`` before any input."""
        x = self.sample()
        if x is None:
            return None
        exact = self.largest.quantile(q)
        return exact if exact is not None else _quantile(x.abs(), q)

    def numel(self) -> int:
        """Elements held: at most ``max_elements`` largest values plus ``max(max_elements, G * K)``
        in the sampled vectors."""
        held = 0 if self.largest.top is None else self.largest.top.numel()
        return held + (0 if self.vectors is None or self.vectors.items is None else self.vectors.items.numel())


@contextmanager
def sample_inputs(layers: Iterable[AnalogLayer], max_elements: int = 1 << 20,
                  seed: int = 0) -> Iterator[dict[AnalogLayer, InputSample]]:
    """Like ``capture_inputs``, but every layer keeps an ``InputSample`` of at most
    ``max_elements`` input elements (seeded: the same data give the same sample)."""
    samples = {layer: InputSample(max_elements, torch.Generator().manual_seed(layer_seed(seed, i)))
               for i, layer in enumerate(layers)}
    with _capturing(samples) as store:
        yield store


def _quantile(values: Tensor, q: float) -> Tensor:
    """The ``q``-quantile of all elements (linear interpolation between order statistics, as
    ``torch.quantile``; no size limit: order statistics by ``kthvalue``)."""
    flat = values.reshape(-1)
    if flat.dtype not in (torch.float32, torch.float64):
        flat = flat.float()
    n = flat.numel()
    if q >= 1.0 or n == 1:
        return flat.max()
    pos = q * (n - 1)
    lo = int(math.floor(pos))
    v_lo = flat.kthvalue(lo + 1).values
    if pos == lo:
        return v_lo
    v_hi = flat.kthvalue(lo + 2).values
    return v_lo + (pos - lo) * (v_hi - v_lo)


def partial_sums(layer: AnalogLayer, x: Tensor, input_range: Tensor | None = None,
                 weights: Tensor | None = None) -> Tensor:
    """Noise-free, unquantised per-block column sums ``(G * nb, N, M)`` in normalised units
    (``weights``: the layer's normalised blocks when already read): what each ADC converts.

    With bit-serial inputs (``DACConfig.bits_per_cycle = k``) each read cycle applies one digit
    plane of the DAC codes (``input_bit_planes``, worth ``1 / (2**k - 1)`` of full scale per
    step) and is converted on its own, so the sums are those of every cycle: ``(G * nb, C * N,
    M)`` (cycle-major within each group), not of the amplitude inputs -- a plane is a
    full-amplitude digit whatever the input's magnitude."""
    scale = layer.input_scale(x, layer.input_range if input_range is None else input_range)
    serial, bits = layer.cfg.dac.bits_per_cycle, layer.cfg.dac.bits
    if serial is None:
        x_n = (x / scale).clamp(-1.0, 1.0)
    else:
        g, _, k = x.shape
        planes = input_bit_planes(dac(x, scale, bits, codes=True), bits, serial, dim=1)
        x_n = planes.view(g, -1, k).mul_(1.0 / ((1 << serial) - 1))
    xb = mapping.inputs_to_blocks(x_n, layer.cfg.tile.rows)
    w = layer.read_blocks()(0, xb.shape[0])[0] if weights is None else weights
    return torch.bmm(xb, w)


def _adc_statistic(layer: AnalogLayer, x: Tensor, q: float, max_elements: int, seed: int) -> Tensor:
    """The ``q``-quantile of ``|partial sums|`` of the sampled inputs ``x`` ``(G, n, K)``, in chunks
    of vectors of at most ``max_elements`` partial sums each: exact over the sample while its
    largest values hold the quantile (``TopValues``), else from a ``Reservoir`` of
    ``max_elements`` of the partial sums."""
    g, n, _ = x.shape
    nb = layer.n_row_blocks
    per_vector = g * nb * layer.matrix_shape[2] * layer.cfg.dac.cycles  # bit-serial: a sum per cycle
    step = max(max_elements // per_vector, 1)
    w, _ = layer.read_blocks()(0, g * nb)  # normalised once for every chunk
    largest = TopValues(max_elements)
    for i in range(0, n, step):
        largest.add(partial_sums(layer, x[:, i : i + step], weights=w).abs())
    exact = largest.quantile(q)
    if exact is not None:
        return exact
    sums = Reservoir(max_elements, torch.Generator().manual_seed(seed))
    for i in range(0, n, step):
        sums.add(partial_sums(layer, x[:, i : i + step], weights=w).abs().reshape(-1))
    return _quantile(sums.items, q)  # type: ignore[arg-type]


def _check_calibration_args(input_quantile: float, adc_quantile: float, adc_margin: float,
                            max_batches: int, max_elements: int) -> None:
    check_positive_fraction(input_quantile, "calibrate_", "input_quantile", "e.g. 0.9999")
    check_positive_fraction(adc_quantile, "calibrate_", "adc_quantile", "e.g. 0.9999")
    check_at_least(adc_margin, "calibrate_", 1, "adc_margin", "headroom for noise, e.g. 1.1")
    check_int(max_batches, "calibrate_", 1, "max_batches")
    check_int(max_elements, "calibrate_", 1024, "max_elements")


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
    max_elements: int = 1 << 20,
    seed: int = 0,
    progress: Progress = None,
) -> nn.Module:
    """Calibrate input ranges and ADC ranges of every analog layer from ``data``; returns ``model``.

    ``data``: inputs in the convention of ``analogue._util.inputs`` -- a tensor, a tuple of
    positional inputs, a dict of tensors (a tokenizer's output, passed as keywords), an
    ``(x, y)`` pair, or a list/iterable/DataLoader of those (the first ``max_batches`` are used;
    labels are ignored). Input range (layers with a ``calibrated`` or ``learned`` DAC): the
    ``input_quantile`` of ``|x|``. ADC range (``out_bound``): ``adc_margin`` times the
    ``adc_quantile`` of the noise-free column sums, so output noise stays inside the range (with
    bit-serial inputs, the sums of every read cycle: what each conversion sees).
    The model runs once over the data in eval mode with its current settings.

    Memory stays bounded whatever the data size. Each layer keeps, while the model runs, the
    ``max_elements`` largest ``|x|`` and a uniform sample (seeded by ``seed``) of its input vectors
    of at most ``max_elements`` elements; the partial sums of the sampled vectors are computed
    afterwards in chunks of at most ``max_elements``, keeping their ``max_elements`` largest.

    - The input range is the exact quantile of all the data whenever the values above it number
      fewer than ``max_elements`` (``(1 - input_quantile) * elements < max_elements``; with the
      defaults, up to about 10^10 input elements per layer); a quantile of 1 is always exact.
    - The ADC range is the exact quantile over the sampled vectors (the same condition on their
      partial sums), so it is exact while every input vector fits in the sample.
    - Otherwise an estimate from ``n`` sampled vectors has a rank (the fraction of all values below
      it) within ``sqrt(ln(2 / delta) / (2 n))`` of the requested quantile with probability at
      least ``1 - delta`` (Hoeffding's inequality for sampling without replacement, Hoeffding
      1963, applied to each vector's fraction of values below a threshold); when even the sampled
      partial sums' upper tail does not fit, a uniform sample of ``s = max_elements`` of them
      adds ``sqrt(ln(2 / delta) / (2 s))``.

    A range that comes out zero (an all-zero layer, all-zero inputs) is stored as zero, never
    clamped to a tiny value: the layer's outputs are then zero.
    """
    _check_calibration_args(input_quantile, adc_quantile, adc_margin, max_batches, max_elements)
    progress_enabled(progress)  # a bad policy fails before any work
    layers = analog_layers(model)
    if not layers:
        raise ValueError("calibrate_: the model has no analog layers; call an.convert_ first")
    was_training = model.training
    model.eval()
    try:
        with sample_inputs(layers.values(), max_elements, seed) as store:
            n_batches = n_samples = 0
            for batch in track(batches(data, max_batches, "calibrate_"), "calibrate", progress,
                               unit="batch"):
                n_batches += 1
                n = batch_size(batch)
                if n == 0:
                    continue  # an empty batch holds nothing to measure
                call(model, batch)
                n_samples += n
            if n_batches == 0:
                raise ValueError("calibrate_: data yielded no batches; pass at least one batch of inputs")
            if n_samples == 0:
                raise ValueError(f"calibrate_: the data held no samples ({n_batches} empty batch"
                                 f"{'es' if n_batches > 1 else ''}); pass at least one input")
        for i, layer in enumerate(layers.values()):
            stats = store[layer]
            x = stats.sample()
            if x is None:
                log.info("calibrate_: %s saw no inputs (not on the path of these data); ranges unchanged",
                         layer.layer_name)
                continue
            if inputs and layer.input_range is not None:
                layer.input_range.data.copy_(stats.quantile(input_quantile))
            if adc:
                p = _adc_statistic(layer, x, adc_quantile, max_elements, layer_seed(seed, i))
                layer.out_bound.copy_(p * adc_margin)
                layer.record_out_bound()  # the host's copy of the range, read here (not in the forward)
            if not stats.vectors.complete:  # type: ignore[union-attr]
                log.debug("calibrate_: %s: ADC range from a sample of %d of %d input vectors",
                          layer.layer_name, x.shape[1], stats.seen)
    finally:
        model.train(was_training)
    return model



# -- per-output affine correction (drift compensation in the digital periphery) --------------------
OUTPUT_CORRECTIONS = ("none", "affine")
"""Modes of :func:`calibrate_outputs_`: ``none`` removes the correction; ``affine`` fits a gain and
an offset per output column."""


class AffineFit:
    """Least-squares fit of ``r ≈ a y + b`` per output column from a stream of ``(G, N, M)`` pairs
    (``y``: what the layer outputs, ``r``: the reference), in float64 sums of ``1, y, r, y^2, y r``
    per column: memory ``O(G M)`` whatever the data size, and exactly the solution of
    ``numpy.linalg.lstsq([y, 1], r)`` per column on all pairs seen (up to rounding)."""

    def __init__(self) -> None:
        self.sums: Tensor | None = None  # (5, G, M): n, sum y, sum r, sum y^2, sum y r

    def add(self, y: Tensor, r: Tensor) -> None:
        y, r = y.detach().double(), r.detach().double()
        s = torch.stack([torch.full_like(y[:, 0], y.shape[1]), y.sum(1), r.sum(1), (y * y).sum(1),
                         (y * r).sum(1)])
        self.sums = s if self.sums is None else self.sums + s

    def solve(self) -> tuple[Tensor, Tensor]:
        """``(a, b)``, each ``(G, 1, M)`` float64. A column whose outputs do not vary (variance at
        most ``1e-12`` of their mean square: a dead column, or one pair) keeps ``a = 1`` and gets
        the offset of the means."""
        if self.sums is None:
            raise ValueError("AffineFit.solve: no pairs were added")
        n, sy, sr, syy, syr = self.sums
        my, mr = sy / n, sr / n
        var = syy / n - my * my
        cov = syr / n - my * mr
        flat = var <= 1e-12 * (syy / n)
        a = torch.where(flat, torch.ones_like(var), cov / torch.where(flat, torch.ones_like(var), var))
        b = mr - a * my
        return a.unsqueeze(1), b.unsqueeze(1)


class _OutputPairs:
    """The sink ``calibrate_outputs_`` hands a layer (``set_input_capture``): for every ``(G, N, K)``
    input it applies, the layer's analog MVM of it (a read of its own: the same noise statistics
    as the forward's) and the digital reference ``x @ W``, both without the bias, into an
    ``AffineFit``."""

    def __init__(self, layer: AnalogLayer) -> None:
        self.layer = layer
        self.fit = AffineFit()

    def append(self, x: Tensor) -> None:
        if x.numel() == 0:
            return
        layer = self.layer
        y = layer.simulate(x, layer.input_range)[0]
        r = torch.bmm(x.to(y.dtype), layer.weight_matrix().detach())
        self.fit.add(y, r)


@torch.no_grad()
def calibrate_outputs_(
    model: nn.Module,
    data: object,
    mode: str = "affine",
    *,
    max_batches: int = 4,
    progress: Progress = None,
) -> nn.Module:
    """Fit, on calibration ``data``, a per-output correction of every programmed analog layer,
    applied in its digital periphery; returns ``model``.

    ``mode``: ``"affine"``: each output column ``j`` of each layer is read as ``a_j y_j + b_j``
    (before the digital bias; ``b_j`` in the layer's output units), with ``a_j``, ``b_j`` the least
    squares fit of the digital outputs ``x W`` (the weights the host programmed) on the analog
    outputs, over every input vector ``x`` the layer sees while the model runs on ``data`` (the
    first ``max_batches`` batches; ``calibrate_``'s convention). ``"none"`` removes the correction.
    The model runs once in eval mode with the correction removed; every layer is fitted on the
    inputs it gets from the uncorrected model, with a read of its own (fresh noise). Use after
    ``program_``/``drift_`` (and any ``compensate_drift_``, which it corrects on top of): a per
    column gain and offset is what a chip's digital periphery applies per ADC (HERMES's local
    digital processing unit, docs/references.md). The correction lives in the layers'
    ``prog_out_gain``/``prog_out_offset`` buffers (``state_dict``); ``program_`` clears it and
    ``drift_`` leaves it as it is. Layers must hold one programming instance.
    """
    if mode not in OUTPUT_CORRECTIONS:
        raise ValueError(f"calibrate_outputs_: mode must be one of {OUTPUT_CORRECTIONS}, got {mode!r}")
    check_int(max_batches, "calibrate_outputs_", 1, "max_batches")
    progress_enabled(progress)
    layers = analog_layers(model)
    if not layers:
        raise ValueError("calibrate_outputs_: the model has no analog layers; call an.convert_ first")
    missing = [n for n, layer in layers.items() if not is_programmed(layer)]
    if missing:
        raise RuntimeError(f"calibrate_outputs_: layer(s) {missing[:4]} are not programmed; call "
                           "an.program_(model, seed=...) first (the correction is part of the programmed state)")
    many = [n for n, layer in layers.items() if n_instances(layer) > 1]
    if many:
        raise ValueError(f"calibrate_outputs_: layer(s) {many[:4]} hold several Monte Carlo instances; the "
                         "correction is fitted per programmed array: program_ with instances=1")
    for layer in layers.values():
        set_output_affine(layer, None, None)
    if mode == "none":
        return model
    was_training = model.training
    model.eval()
    sinks = {layer: _OutputPairs(layer) for layer in layers.values()}
    try:
        with _capturing(sinks):
            n_batches = 0
            for batch in track(batches(data, max_batches, "calibrate_outputs_"), "calibrate outputs",
                               progress, unit="batch"):
                n_batches += 1
                if batch_size(batch):
                    call(model, batch)
            if n_batches == 0:
                raise ValueError("calibrate_outputs_: data yielded no batches; pass at least one batch of inputs")
        for layer, sink in sinks.items():
            if sink.fit.sums is None:
                log.info("calibrate_outputs_: %s saw no inputs; no correction", layer.layer_name)
                continue
            set_output_affine(layer, *sink.fit.solve())
    finally:
        model.train(was_training)
    return model
