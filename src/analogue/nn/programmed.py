"""The programmed state of an analog layer: conductances on the array, over time.

``program_layer`` maps the layer's current weight to conductance targets, samples one (or ``R``
Monte Carlo) programming instance(s) and stores everything in registered buffers (so
``state_dict``, ``deepcopy`` and ``.to()`` carry it):

=================  =====================  ====================================================
buffer             shape                  meaning
=================  =====================  ====================================================
``prog_target``    ``(B, r, M*S)``        normalised target weights (sliced), ``B = G * nb``
``prog_scales``    ``(B, 1, M*S)``        digital scales fixed at programming time
``prog_g_pos/neg`` ``(R*B, r, M*S)``      conductances just after programming, uS
``prog_nu_pos/neg`` ``(R*B, r, M*S)``     drift exponents (``None`` without drift)
``prog_stuck``     ``(2, R*B, r, M*S)``   int8 fault codes of G+ / G- (``None`` without faults)
``prog_w``         ``(R*B, r, M*S)``      weights as read now, ``(G+ - G-) / (g_max - g_min)``
``prog_comp``      ``(R*B, 1, M*S)``      drift-compensation gain applied digitally (1: none)
``prog_seed``      ``()`` int64           the layer's programming seed
``prog_cycles``    ``()`` int64           programming cycles so far (aging)
``prog_clock``     ``(2,)`` float64       ``[t_s, temperature_k]`` of ``prog_w``
``prog_cfg``       ``(n,)`` uint8         the ``AnalogConfig`` programmed with (canonical JSON)
``prog_adc_gain``  ``(R*B, 1, M*S)``      each column ADC's ``1 + gain error`` (``None``: off)
``prog_adc_offset`` ``(R*B, 1, M*S)``     each column ADC's offset, LSB (``None``: off)
``prog_adc_inl``   ``(R*B, 2L+1, M*S)``   each column ADC's INL per code, LSB (``None``: off)
``prog_dac_inl``   ``(R*B, 2L+1, r)``     each row DAC's INL per code, LSB (``None``: off)
``prog_out_gain``  ``(G, 1, M)``          per-output affine gain ``a`` (``None``: no correction)
``prog_out_offset`` ``(G, 1, M)``         per-output affine offset ``b``, output units (``None``)
=================  =====================  ====================================================

The output correction (``lifecycle.calibrate.calibrate_outputs_``) is the per-column affine
scaling of a digital periphery (HERMES's local digital processing unit, docs/references.md):
each output ``j`` of the MVM, before the digital bias, is read as ``a_j y_j + b_j``. The gain
multiplies the digital scales (so a backward sees it), the offset is added with the bias. It is
part of the programmed state: ``program_`` and ``unprogram_`` clear it; ``drift_`` and
``compensate_drift_`` leave it as it is (it is then as stale as its calibration).

With wire resistance (``CircuitConfig``, IR drop on), ``prog_w`` holds the weights as read
through the wires: the effective conductances of each G+/G- array (``ir_drop_weights``), so the
forward costs the same as without.

The converter errors (``ADCConfig``/``DACConfig`` ``*_std_*`` fields) are sampled with the
programming seed, one stream per error, and apply in eval mode only.

``drift_layer`` recomputes ``prog_w`` once for a time and temperature (the forward never
recomputes drift); random read-noise and relaxation samples are regenerated from the seed, so
the same instance is seen at every time. In eval mode the forward reads ``prog_w`` (plus fresh
per-read noise, if any), scaled by ``prog_scales * prog_comp``; in training mode, or when
unprogrammed, it reads the trainable weight. Changing the weight after programming does not
change the programmed state: call ``program_`` again.

Checks: ``program_layer`` refuses a weight with NaN/Inf entries (an array cannot hold them);
``drift_layer`` refuses times past ``MAX_DEVICE_TIME_S`` and a layer whose config is no longer
the one it was programmed with, and never caches non-finite read weights; a state dict whose
``prog_cfg`` differs from the receiving layer's config is refused on load (``prepare_load``).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import torch
from torch import Tensor, nn

from analogue._util.seeds import layer_seed
from analogue.config import AnalogConfig
from analogue.physics import mapping
from analogue.physics.crossbar import BlockReader, Readout, tiled_mvm
from analogue.physics.devices import (
    ProgrammedDevices,
    aging_range_fraction,
    check_temperature,
    check_time,
    device_targets,
    devices_at,
    program_devices,
)
from analogue.physics.irdrop import effective_conductances
from analogue.physics.periphery import (
    ColumnADCs,
    bit_plane_significance,
    input_bit_planes,
    levels,
    nonideal_dac,
    sample_column_adcs,
    sample_dac_inl,
)
from analogue.physics.slicing import bit_slice

PROGRAMMED_BUFFERS = (
    "prog_target",
    "prog_scales",
    "prog_g_pos",
    "prog_g_neg",
    "prog_nu_pos",
    "prog_nu_neg",
    "prog_stuck",
    "prog_w",
    "prog_comp",
    "prog_seed",
    "prog_cycles",
    "prog_clock",
    "prog_cfg",
    "prog_adc_gain",
    "prog_adc_offset",
    "prog_adc_inl",
    "prog_dac_inl",
    "prog_out_gain",
    "prog_out_offset",
)
OUTPUT_BUFFERS = ("prog_out_gain", "prog_out_offset")
CONVERTER_BUFFERS = ("prog_adc_gain", "prog_adc_offset", "prog_adc_inl", "prog_dac_inl")
COMPENSATION_MODES = ("none", "global", "column")
MAX_PROBES = 1024
PROBE_HEADROOM = 0.5
"""Calibration inputs are scaled so their largest ideal column sum is this fraction of the ADC
range: well above the noise floor, never clipped (drift only shrinks it)."""

MAX_DEVICE_TIME_S = 1e18
"""The longest device time simulated (about 3e10 years, twice the age of the universe): past it
the drift and 1/f-noise logarithms leave the range the device models were fitted for, and
``t_s = 1e308`` overflows them to NaN."""

_STREAM_PROGRAM, _STREAM_FLICKER, _STREAM_RELAX = range(3)
_STREAMS_ADC = (3, 4, 5, 6)  # offset, gain, INL amplitude, DNL
_STREAM_DAC = 7

logger = logging.getLogger(__name__)


def init_programmed_state(layer: nn.Module) -> None:
    """Register the (empty) programmed-state buffers on a new layer."""
    for name in PROGRAMMED_BUFFERS:
        layer.register_buffer(name, None)


def is_programmed(layer: nn.Module) -> bool:
    return getattr(layer, "prog_w", None) is not None


def reads_programmed(layer: nn.Module) -> bool:
    """Whether the forward reads the programmed array (programmed and in eval mode)."""
    return not layer.training and is_programmed(layer)


def n_instances(layer: nn.Module) -> int:
    """Monte Carlo programming instances held by the layer (1 when unprogrammed)."""
    if not is_programmed(layer):
        return 1
    return layer.prog_w.shape[0] // layer.prog_scales.shape[0]


def _generator(seed: int, stream: int, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(layer_seed(int(seed), stream * 7_919) % (1 << 63))
    return gen


def mapped_blocks(layer: Any) -> tuple[Tensor, Tensor]:
    """The layer's current weight as normalised (and bit-sliced) blocks ``(B, r, M*S)`` with
    their digital scales ``(B, 1, M*S)``."""
    cfg = layer.cfg
    blocks = mapping.to_blocks(layer.weight_matrix(), cfg.tile.rows)
    s = mapping.weight_scales(blocks, cfg.tile.cols, cfg.mapping.scale)
    return bit_slice(blocks / s, s, cfg.device.slicing)


# -- the config a state was programmed with -------------------------------------------------------
def config_record(cfg: AnalogConfig, device: torch.device | None = None) -> Tensor:
    """``cfg`` as a ``uint8`` tensor of its canonical JSON (what ``prog_cfg`` holds)."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8, device=device)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix.rstrip("."): d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}."))
    return out


def config_mismatch(record: Tensor, cfg: AnalogConfig) -> str | None:
    """``None`` when the ``prog_cfg`` ``record`` describes ``cfg``; else the differing fields, as
    ``field: recorded vs now`` (at most four, then a count)."""
    if record.dtype != torch.uint8 or record.dim() != 1:
        return f"the recorded config is not a uint8 vector ({record.dtype}, {tuple(record.shape)})"
    current = config_record(cfg, record.device)
    if current.shape == record.shape and torch.equal(current, record):
        return None
    try:
        recorded = json.loads(bytes(record.cpu().tolist()).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"the recorded config is not readable JSON ({exc})"
    try:  # a record from a schema with other defaults still describes the same hardware
        if AnalogConfig.from_dict(recorded) == cfg:
            return None
    except (ValueError, TypeError):
        pass
    a, b = _flat(recorded), _flat(json.loads(json.dumps(cfg.to_dict())))
    keys = sorted(set(a) | set(b), key=lambda k: (k.count("."), k))  # device.kind before details
    diff = [f"{k}: {a.get(k, '<absent>')!r} programmed vs {b.get(k, '<absent>')!r} now"
            for k in keys if a.get(k, "<absent>") != b.get(k, "<absent>")]
    more = f" (+{len(diff) - 4} more)" if len(diff) > 4 else ""
    return "; ".join(diff[:4]) + more


def check_config(layer: Any, verb: str, record: Tensor | None = None) -> None:
    """Fail, naming the layer and the differing fields, when the programmed state ``record``
    (default: the layer's own ``prog_cfg``) was programmed under another config than
    ``layer.cfg``; ``verb`` starts the message (``"cannot drift_"``)."""
    record = layer.prog_cfg if record is None else record
    if record is None:
        return
    diff = config_mismatch(record, layer.cfg)
    if diff is not None:
        raise ValueError(
            f"{layer.layer_name}: {verb} a state programmed with another config ({diff}); convert "
            "the model with the config it was programmed with (an.load restores it), or call "
            "an.program_ again to program the weights under this config"
        )


# -- programming --------------------------------------------------------------------------------
def check_programmable(layer: Any) -> None:
    """Fail, naming the layer, on a weight with NaN or Inf entries (an array cannot hold them)."""
    w = layer.weight.detach()
    bad = int(w.numel() - torch.isfinite(w).sum())
    if bad:
        raise ValueError(
            f"{layer.layer_name}: weight has {bad} NaN/Inf entries of {w.numel()}; an analog array "
            "cannot be programmed with them. Fix the weights (reload a finite checkpoint, or find "
            "where training diverged) before an.program_"
        )


def check_device_time(t_s: float, where: str) -> float:
    """A device time in seconds: finite, >= 0 and at most ``MAX_DEVICE_TIME_S``."""
    t = check_time(t_s, where)
    if t > MAX_DEVICE_TIME_S:
        raise ValueError(
            f"{where}: {t_s!r} s is past the longest device time simulated, "
            f"{MAX_DEVICE_TIME_S:.0e} s (3e10 years); pass seconds since programming "
            "(1 year = 3.15e7 s)"
        )
    return t


@torch.no_grad()
def program_layer(layer: Any, seed: int, instances: int = 1, cycles: int | None = None) -> None:
    """Sample ``instances`` programming instances of ``layer`` and store them (state at t = 0).
    ``seed`` must fit an int64 (it is stored in ``prog_seed``)."""
    check_programmable(layer)
    if not -(1 << 63) <= int(seed) < 1 << 63:
        raise ValueError(f"{layer.layer_name}: programming seed {seed} does not fit an int64")
    cfg = layer.cfg
    dev, mp = cfg.device, cfg.mapping
    prev = int(layer.prog_cycles) if layer.prog_cycles is not None else 0
    cycles = prev + 1 if cycles is None else int(cycles)
    frac = aging_range_fraction(cycles, dev.aging)
    w_n, scales = mapped_blocks(layer)
    b, r, ms = w_n.shape
    gen = _generator(seed, _STREAM_PROGRAM, w_n.device)
    tp, tn = device_targets(w_n, mp.g_max_uS, mp.g_min_uS, dev.levels, frac)
    shape = (instances * b, r, ms)
    pp = program_devices(
        tp.expand(instances, b, r, ms).reshape(shape), dev, mp.g_max_uS, mp.g_min_uS, gen
    )
    pn = program_devices(
        tn.expand(instances, b, r, ms).reshape(shape), dev, mp.g_max_uS, mp.g_min_uS, gen
    )
    del tp, tn
    layer.prog_target = w_n.contiguous()
    layer.prog_scales = scales.contiguous()
    layer.prog_g_pos, layer.prog_g_neg = pp.g_uS, pn.g_uS
    layer.prog_nu_pos, layer.prog_nu_neg = pp.nu, pn.nu
    layer.prog_stuck = torch.stack([pp.stuck, pn.stuck]) if pp.stuck is not None else None
    layer.prog_seed = torch.tensor(int(seed), dtype=torch.int64, device=w_n.device)
    layer.prog_cycles = torch.tensor(cycles, dtype=torch.int64, device=w_n.device)
    layer.prog_comp = torch.ones(instances * b, 1, ms, dtype=w_n.dtype, device=w_n.device)
    layer.prog_clock = torch.zeros(2, dtype=torch.float64, device=w_n.device)
    layer.prog_cfg = config_record(cfg, w_n.device)
    layer.prog_out_gain = layer.prog_out_offset = None  # a new programming: no output correction
    sample_converters(layer, seed, instances * b, r, ms, w_n.dtype, w_n.device)
    layer.prog_w = torch.empty(0, device=w_n.device)  # marks the layer programmed; set just below
    drift_layer(layer, 0.0, dev.temperature.reference_k)


def sample_converters(layer: Any, seed: int, n: int, rows: int, cols: int, dtype: torch.dtype,
                      device: torch.device) -> None:
    """Sample the static converter errors of ``n`` blocks (``R*B``: one set per instance) into the
    ``prog_adc_*``/``prog_dac_inl`` buffers (``None`` where an error is off)."""
    adc, dac_cfg = layer.cfg.adc, layer.cfg.dac
    adcs = None
    if adc.nonideal:
        adcs = sample_column_adcs(
            n, cols, adc.bits, offset_std_lsb=adc.offset_std_lsb, gain_std_rel=adc.gain_std_rel,
            inl_std_lsb=adc.inl_std_lsb, dnl_std_lsb=adc.dnl_std_lsb,
            generators=[_generator(seed, s, device) for s in _STREAMS_ADC], dtype=dtype, device=device)
    adcs = adcs or ColumnADCs()
    layer.prog_adc_gain, layer.prog_adc_offset, layer.prog_adc_inl = adcs.gain, adcs.offset, adcs.inl
    layer.prog_dac_inl = None if dac_cfg.inl_std_lsb == 0.0 else sample_dac_inl(
        n, rows, dac_cfg.bits, dac_cfg.inl_std_lsb, _generator(seed, _STREAM_DAC, device), dtype, device)


def column_adcs(layer: Any) -> ColumnADCs | None:
    """The programmed column ADCs' errors the forward applies (eval mode), or ``None``."""
    if not layer.cfg.adc.nonideal or not reads_programmed(layer):
        return None
    return ColumnADCs(gain=layer.prog_adc_gain, offset=layer.prog_adc_offset, inl=layer.prog_adc_inl)


def dac_inl(layer: Any) -> Tensor | None:
    """The programmed row DACs' INL tables the forward applies (eval mode), or ``None``."""
    if layer.cfg.dac.inl_std_lsb == 0.0 or not reads_programmed(layer):
        return None
    return layer.prog_dac_inl


def unprogram_layer(layer: nn.Module) -> None:
    """Forget the programmed state: the forward reads the trainable weight again."""
    for name in PROGRAMMED_BUFFERS:
        setattr(layer, name, None)


def _check_programmed(layer: Any, verb: str) -> None:
    if not is_programmed(layer):
        raise RuntimeError(
            f"{layer.layer_name}: {verb} needs a programmed array; call "
            "an.program_(model, seed=...) first (programming is never implicit)"
        )


# -- over time ----------------------------------------------------------------------------------
@torch.no_grad()
def drift_layer(layer: Any, t_s: float, temperature_k: float | None = None) -> None:
    """Move the programmed instance(s) to ``t_s`` seconds after programming at ``temperature_k``
    (default: the device's reference temperature) and cache the weights as read then."""
    _check_programmed(layer, "drift_")
    check_config(layer, "cannot drift_")
    cfg = layer.cfg
    dev, mp = cfg.device, cfg.mapping
    t = check_device_time(t_s, f"{layer.layer_name}: t_s")
    temp = dev.temperature.reference_k if temperature_k is None else temperature_k
    temp = check_temperature(temp, f"{layer.layer_name}: temperature_k")
    frac = aging_range_fraction(int(layer.prog_cycles), dev.aging)
    target = layer.prog_target
    b, r, ms = target.shape
    reps = layer.prog_g_pos.shape[0] // b
    tp, tn = device_targets(target, mp.g_max_uS, mp.g_min_uS, dev.levels, frac)
    shape4 = (reps, b, r, ms)
    seed = int(layer.prog_seed)
    def normals(stream: int) -> Tensor:  # one seeded stream per effect: drift_ is repeatable
        return torch.randn((2,) + shape4, generator=_generator(seed, stream, target.device),
                           device=target.device, dtype=target.dtype)

    zf = normals(_STREAM_FLICKER) if dev.read_noise.active else None
    zr = normals(_STREAM_RELAX) if dev.relaxation.active else None
    out = []
    for side, (g, nu, tgt) in enumerate(
        ((layer.prog_g_pos, layer.prog_nu_pos, tp), (layer.prog_g_neg, layer.prog_nu_neg, tn))
    ):
        stuck = layer.prog_stuck[side].view(shape4) if layer.prog_stuck is not None else None
        prog = ProgrammedDevices(g.view(shape4), None if nu is None else nu.view(shape4), stuck)
        out.append(
            devices_at(
                prog,
                tgt,
                t,
                temp,
                dev,
                mp.g_max_uS,
                mp.g_min_uS,
                None if zf is None else zf[side],
                None if zr is None else zr[side],
            )
        )
    if cfg.circuit.ir_drop:
        w = ir_drop_weights(out[0], out[1], cfg)
    else:
        w = (out[0] - out[1]).div_(mp.g_max_uS - mp.g_min_uS)
    if not bool(torch.isfinite(w).all()):
        raise ValueError(
            f"{layer.layer_name}: the device model gives non-finite conductances at t_s={t!r} s, "
            f"{temp!r} K; check the device config's times, temperatures and activation energy"
        )
    layer.prog_w = w.view(reps * b, r, ms)
    layer.prog_clock = torch.tensor([t, temp], dtype=torch.float64, device=target.device)


IR_DROP_CHUNK = 16
"""Arrays solved together by ``ir_drop_weights`` (bounds the batched elimination's memory)."""


@torch.no_grad()
def ir_drop_weights(g_pos_uS: Tensor, g_neg_uS: Tensor, cfg: AnalogConfig) -> Tensor:
    """The weights as read through wires with resistance: ``(Geff+ - Geff-) / (g_max - g_min)``.

    ``g_pos_uS``/``g_neg_uS`` ``(..., r, M*S)``: the conductances of the G+ and G- arrays now, uS.
    Their columns are cut into physical arrays of ``cfg.tile.cols`` columns (``r`` rows each); every
    array's effective conductance matrix ``Geff`` (``physics.irdrop.effective_conductances``, the
    exact DC solve of the wire network of ``cfg.circuit``, in S) replaces ``G`` in the difference.

    Why a matrix is exact: the array (cells, wire segments, drivers, virtual-ground sense nodes) is
    a linear resistive network driven at its ``r`` row drivers only. Each input enters as a voltage,
    its DAC code ``k`` of ``L`` levels giving ``v = k / L * v_read_V`` (``x * v_read_V`` in
    normalised units), so by superposition every column current is a fixed linear combination of
    the row voltages, ``I = v @ Geff``, whatever the inputs (``v_read_V`` cancels). The ADC of each
    column sees the difference of the G+ and G- column currents, ``v @ (Geff+ - Geff-)``; in the
    normalised units of the forward (input full scale 1, weight full scale ``g_max - g_min``) that
    is ``x @ w_eff`` with the ``w_eff`` returned here. So storing ``w_eff`` in ``prog_w`` makes the
    forward exact at the cost of the ideal one; only per-read noise (added to ``w_eff``) is
    first-order. Computed at programming and at every ``drift_`` (the conductances move).
    """
    circ, mp, tc = cfg.circuit, cfg.mapping, cfg.tile.cols
    shape = g_pos_uS.shape
    r, ms = shape[-2], shape[-1]
    gp = g_pos_uS.reshape(-1, r, ms)
    gn = g_neg_uS.reshape(-1, r, ms)
    w = torch.empty_like(gp)
    for c0 in range(0, ms, tc):  # each physical array: r rows x at most tc columns
        c1 = min(c0 + tc, ms)
        arrays = torch.cat([gp[:, :, c0:c1], gn[:, :, c0:c1]]).to(torch.float64).mul_(1e-6)
        eff = torch.cat([
            effective_conductances(arrays[i: i + IR_DROP_CHUNK], circ.row_segment_ohm, circ.col_segment_ohm)
            for i in range(0, arrays.shape[0], IR_DROP_CHUNK)
        ])
        n = gp.shape[0]
        w[:, :, c0:c1] = ((eff[:n] - eff[n:]) * (1e6 / (mp.g_max_uS - mp.g_min_uS))).to(w.dtype)
    return w.view(shape)


def device_time(layer: Any) -> tuple[float, float]:
    """``(t_s, temperature_k)`` the cached read weights correspond to."""
    _check_programmed(layer, "device_time")
    return float(layer.prog_clock[0]), float(layer.prog_clock[1])


# -- the forward's reader -----------------------------------------------------------------------
def programmed_reader(layer: Any) -> BlockReader:
    """Reader of the cached read weights (plus fresh per-read noise) and the compensated scales."""
    w = layer.prog_w
    reps = n_instances(layer)
    s = layer.prog_scales
    s = (s.repeat(reps, 1, 1) if reps > 1 else s) * layer.prog_comp
    if layer.prog_out_gain is not None:
        s = s * output_gain_blocks(layer)
    std = layer.cfg.device.read_noise.per_read_std_frac
    src = layer.noise_source(w.device, w.dtype, w.numel()) if std > 0 else None

    def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
        wb = w[b0:b1]
        if src is not None:
            wb = src.add_(wb.clone(memory_format=torch.contiguous_format), std)
        return wb, s[b0:b1]

    return read


def output_gain_blocks(layer: Any) -> Tensor:
    """The output correction's gain ``(G, 1, M)`` laid out like the digital scales ``(B, 1, M*S)``
    (``B = G * nb`` blocks, group-major; ``S`` slices per output, output-major)."""
    gain = layer.prog_out_gain
    slices = layer.cfg.device.slicing.n_slices
    if slices > 1:
        gain = gain.repeat_interleave(slices, dim=-1)
    return gain.repeat_interleave(layer.n_row_blocks, dim=0)


def set_output_affine(layer: Any, gain: Tensor | None, offset: Tensor | None) -> None:
    """Store the per-output affine correction ``a_j y_j + b_j`` (``gain``, ``offset``: ``(G, 1, M)``;
    both ``None``: none). The layer must be programmed with one instance."""
    _check_programmed(layer, "an output correction")
    if (gain is None) != (offset is None):
        raise ValueError(f"{layer.layer_name}: give both the output gain and offset, or neither")
    if gain is not None:
        if n_instances(layer) > 1:
            raise ValueError(
                f"{layer.layer_name}: an output correction is fitted per programmed array; this layer "
                f"holds {n_instances(layer)} Monte Carlo instances: program_ with instances=1")
        g, _, m = layer.matrix_shape
        for name, t in (("gain", gain), ("offset", offset)):
            if tuple(t.shape) != (g, 1, m):
                raise ValueError(f"{layer.layer_name}: output {name} must be {(g, 1, m)}, got {tuple(t.shape)}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{layer.layer_name}: output {name} has NaN/Inf entries")
        dt, dev = layer.prog_scales.dtype, layer.prog_scales.device
        gain, offset = gain.to(dev, dt).contiguous(), offset.to(dev, dt).contiguous()
    layer.prog_out_gain, layer.prog_out_offset = gain, offset


def fresh_reads(read: BlockReader, blocks: int, times: int) -> BlockReader:
    """A reader of ``times * blocks`` blocks that reads ``read``'s ``blocks`` blocks ``times`` times
    over, each read anew (with fresh per-read noise): the read cycles of bit-serial inputs, when
    the programmed array has per-read noise (``ReadNoise.per_read_std_frac``)."""

    def read_times(b0: int, b1: int) -> tuple[Tensor, Tensor]:
        parts = [read(max(b0, t * blocks) - t * blocks, min(b1, (t + 1) * blocks) - t * blocks)
                 for t in range(b0 // blocks, -(-b1 // blocks))]
        if len(parts) == 1:
            return parts[0]
        return torch.cat([w for w, _ in parts]), torch.cat([s for _, s in parts])

    return read_times


def split_instances(layer: Any, x: Tensor, reps: int, keep: bool) -> Tensor:
    """``(G, R*N, K)`` inputs, instance-major, -> ``(R*G, N, K)`` (one group per instance)."""
    if keep:
        raise RuntimeError(
            f"{layer.layer_name}: a layer holding {reps} Monte Carlo instances is for evaluation "
            "only; run it under torch.no_grad(), or program_ with instances=1 to backpropagate"
        )
    g, n, k = x.shape
    if n % reps:
        raise ValueError(
            f"{layer.layer_name}: holds {reps} programming instances, so the batch must be {reps} "
            f"copies of the data, instance-major (x.repeat({reps}, ...)); got {n} vectors"
        )
    return x.view(g, reps, n // reps, k).transpose(0, 1).reshape(reps * g, n // reps, k)


def merge_instances(y: Tensor, reps: int) -> Tensor:
    """Inverse of ``split_instances`` on the outputs: ``(R*G, N, M)`` -> ``(G, R*N, M)``."""
    if reps == 1:
        return y
    rg, n, m = y.shape
    return y.view(reps, rg // reps, n, m).transpose(0, 1).reshape(rg // reps, reps * n, m)


# -- calibration reads (drift compensation) -----------------------------------------------------
def hadamard_probes(r: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(P, r)`` +-1 calibration inputs: ``r`` columns of a Sylvester-Hadamard matrix of order
    ``P = 2**ceil(log2 r)`` (at most ``MAX_PROBES`` rows). With all ``P`` rows the inputs are
    orthogonal, ``X^T X = P I``: the least-squares gain they measure is that of the weights."""
    n = 1 << max(0, math.ceil(math.log2(max(r, 1))))
    h = torch.ones(1, 1, dtype=dtype, device=device)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h[:MAX_PROBES, :r].contiguous()


def probe_inputs(layer: Any) -> Tensor:
    """Calibration inputs per row block ``(B, P, r)``: Hadamard rows times an amplitude on the DAC
    grid chosen so the largest ideal column sum is ``PROBE_HEADROOM`` of the ADC range."""
    target = layer.prog_target
    b, r, _ = target.shape
    h = hadamard_probes(r, target.dtype, target.device).expand(b, -1, r)
    peak = torch.bmm(h, target).abs().amax(dim=(1, 2)).clamp_min(torch.finfo(target.dtype).tiny)
    amp = (PROBE_HEADROOM * float(layer.out_bound) / peak).clamp_max(1.0)
    bits = layer.cfg.dac.bits
    if bits is not None:
        lv = levels(bits)
        amp = (torch.floor(amp * lv) / lv).clamp_min(1.0 / lv)
    return h * amp.view(b, 1, 1)


@torch.no_grad()
def probe_readings(layer: Any, n_reads: int = 1) -> tuple[Tensor, Tensor]:
    """Read the calibration inputs through the real path (read weights with per-read noise,
    output noise, ADC; no digital scale or compensation), averaged over ``n_reads`` reads.

    Returns ``(expected, measured)``, both ``(R*B, P, M*S)`` in normalised units: ``expected``
    is computed digitally from the programmed targets (the host knows what it programmed),
    ``measured`` comes off the array as it is now.

    Bit-serial inputs (``DACConfig.bits_per_cycle``) are read as the layer reads them: each read
    cycle applies one digit plane of the probes' DAC codes (``input_bit_planes``), is read anew
    (fresh per-read and output noise) and converted on its own, and the cycles' readings are
    shifted and added (``bit_plane_significance``). With ideal converters and no noise this
    equals the amplitude reading (the sum is linear); a quantising or non-ideal ADC converts each
    cycle's (full-amplitude digit) sums, not the amplitude sums.
    """
    _check_programmed(layer, "drift compensation")
    if isinstance(n_reads, bool) or not isinstance(n_reads, int) or n_reads < 1:
        raise ValueError(f"probe_readings: n_reads must be a positive integer, got {n_reads!r}")
    cfg = layer.cfg
    reps = n_instances(layer)
    x = probe_inputs(layer)
    expected = torch.bmm(x, layer.prog_target)
    if reps > 1:
        x, expected = x.repeat(reps, 1, 1), expected.repeat(reps, 1, 1)
    gb, p, _ = x.shape
    w = layer.prog_w
    ones = torch.ones(gb, 1, w.shape[-1], dtype=w.dtype, device=w.device)
    std = cfg.device.read_noise.per_read_std_frac
    noise_std = cfg.noise.out_std_rel_fs * cfg.adc.out_bound
    size = gb * p * w.shape[-1]
    src = layer.noise_source(w.device, w.dtype, size) if (noise_std > 0 or std > 0) else None

    def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
        wb = w[b0:b1]
        if std > 0:
            wb = src.add_(wb.clone(memory_format=torch.contiguous_format), std)
        return wb, ones[b0:b1]

    readout = Readout(adc_bits=cfg.adc.bits, out_bound=float(layer.out_bound), clip=cfg.adc.clip,
                      noise_std=noise_std, adcs=column_adcs(layer))
    inl = dac_inl(layer)
    if inl is not None:  # the probes are DAC outputs: apply the DACs' INL to their codes
        unit = 1.0 / levels(cfg.dac.bits)
        x = nonideal_dac(torch.round(x / unit), cfg.dac.bits, inl) * unit
    serial = cfg.dac.bits_per_cycle
    if serial is None:
        cycles = [(x, 1.0)]
    else:  # the probes are on the DAC grid: their codes' digit planes, each a read of its own
        bits = cfg.dac.bits
        planes = input_bit_planes(torch.round(x * levels(bits)), bits, serial, dim=0)
        planes.mul_(1.0 / ((1 << serial) - 1))
        cycles = list(zip(planes, bit_plane_significance(bits, serial, torch.float64).tolist()))
    total = torch.zeros(gb, p, w.shape[-1], dtype=w.dtype, device=w.device)
    for _ in range(n_reads):
        for xc, significance in cycles:
            total.add_(tiled_mvm(xc, read, groups=gb, readout=readout, source=src), alpha=significance)
    return expected, total.div_(n_reads)


def compensation_gains(
    y_ref: Tensor, y_now: Tensor, reps: int, mode: str, noise_var: float
) -> Tensor:
    """Digital gains ``(R*B, 1, M*S)`` that undo the drift between expected and measured readings.

    The drift factor is the least-squares ratio ``alpha = sum(y_ref * y_now) / sum(y_ref ** 2)``
    over probes (``column``: per block column, falling back to the instance's global factor where
    the expected signal is not well above ``noise_var`` per probe; ``global``: one per instance),
    and the gain is ``1 / alpha``. With orthogonal probes ``alpha`` is, up to noise, the
    least-squares drift of the weights themselves, ``sum(w_target * w_now) / sum(w_target ** 2)``.
    """
    if mode not in COMPENSATION_MODES:
        raise ValueError(
            f"drift compensation mode must be one of {COMPENSATION_MODES}, got {mode!r}"
        )
    gb, p, ms = y_ref.shape
    if mode == "none":
        return torch.ones(gb, 1, ms, dtype=y_ref.dtype, device=y_ref.device)
    num = (y_ref * y_now).sum(dim=1, keepdim=True)
    den = (y_ref * y_ref).sum(dim=1, keepdim=True)
    tiny = torch.finfo(y_ref.dtype).tiny
    alpha_g = num.view(reps, -1).sum(1) / den.view(reps, -1).sum(1).clamp_min(tiny)
    alpha_g = (
        alpha_g.clamp_min(1e-3)
        .view(reps, 1, 1, 1)
        .expand(reps, gb // reps, 1, ms)
        .reshape(gb, 1, ms)
    )
    if mode == "global":
        alpha = alpha_g
    else:
        alpha = num / den.clamp_min(tiny)
        weak = (den < 16.0 * p * max(noise_var, tiny)) | (alpha <= 1e-3)
        alpha = torch.where(weak, alpha_g, alpha)
    return 1.0 / alpha


@torch.no_grad()
def compensate_layer(layer: Any, mode: str = "global", n_reads: int = 1) -> Tensor:
    """Measure the drift with the calibration inputs and set ``prog_comp``; returns the gains."""
    _check_programmed(layer, "drift compensation")
    if mode not in COMPENSATION_MODES:
        raise ValueError(
            f"{layer.layer_name}: drift compensation mode must be one of "
            f"{COMPENSATION_MODES}, got {mode!r}"
        )
    cfg = layer.cfg
    if mode == "none":
        gains = torch.ones_like(layer.prog_comp)
    else:
        y_exp, y_now = probe_readings(layer, n_reads)
        bound = float(layer.out_bound)
        lsb2 = 0.0 if cfg.adc.bits is None else (bound / levels(cfg.adc.bits)) ** 2 / 12.0
        noise_var = (cfg.noise.out_std_rel_fs * cfg.adc.out_bound) ** 2 / n_reads + lsb2
        gains = compensation_gains(y_exp, y_now, n_instances(layer), mode, noise_var)
    layer.prog_comp = gains.to(layer.prog_comp.dtype)
    return gains


def check_state(layer: Any, state_dict: dict[str, Any], prefix: str = "") -> None:
    """Fail, naming the layer, on an incoming programmed state (keys ``prefix + "prog_*"``) that
    was programmed under another config, is incomplete, or is shaped for another geometry. A
    state without a config record (saved before ``prog_cfg`` existed) passes with a warning."""
    if prefix + "prog_w" not in state_dict:
        return
    record = state_dict.get(prefix + "prog_cfg")
    if record is None:
        logger.warning("%s: the programmed state carries no record of its config (saved by an "
                       "older analogue); it is assumed to be this layer's", layer.layer_name)
    else:
        check_config(layer, "cannot load", record)
    g, k, m = layer.matrix_shape
    rows = layer.cfg.tile.rows
    b, r = g * mapping.n_row_blocks(k, rows), mapping.block_rows(k, rows)
    ms = m * layer.cfg.device.slicing.n_slices
    w = state_dict[prefix + "prog_w"]
    reps = w.shape[0] // b if w.dim() == 3 and w.shape[0] % b == 0 and w.shape[0] else 1
    arr = (reps * b, r, ms)
    expected = {"prog_target": (b, r, ms), "prog_scales": (b, 1, ms), "prog_g_pos": arr,
                "prog_g_neg": arr, "prog_nu_pos": arr, "prog_nu_neg": arr,
                "prog_stuck": (2, *arr), "prog_w": arr, "prog_comp": (reps * b, 1, ms),
                "prog_seed": (), "prog_cycles": (), "prog_clock": (2,),
                "prog_adc_gain": (reps * b, 1, ms), "prog_adc_offset": (reps * b, 1, ms),
                "prog_out_gain": (g, 1, m), "prog_out_offset": (g, 1, m)}
    adc_bits, dac_bits = layer.cfg.adc.bits, layer.cfg.dac.bits
    if adc_bits is not None:
        expected["prog_adc_inl"] = (reps * b, 2 * levels(adc_bits) + 1, ms)
    if dac_bits is not None:
        expected["prog_dac_inl"] = (reps * b, 2 * levels(dac_bits) + 1, r)
    # absent without drift / faults / converter errors
    optional = ("prog_nu_pos", "prog_nu_neg", "prog_stuck") + CONVERTER_BUFFERS + OUTPUT_BUFFERS
    missing = [n for n in expected if n not in optional and prefix + n not in state_dict]
    if missing:
        raise ValueError(
            f"{layer.layer_name}: the programmed state lacks {', '.join(missing)}; load a "
            "complete state (as state_dict() or an.save wrote it), or drop every prog_* key and "
            "program_ again"
        )
    if reps > 1 and state_dict.get(prefix + "prog_out_gain") is not None:
        raise ValueError(
            f"{layer.layer_name}: the programmed state holds {reps} Monte Carlo instances and an "
            "output correction, which is fitted per programmed array; drop its prog_out_* keys")
    for name, shape in expected.items():
        inc = state_dict.get(prefix + name)
        if inc is not None and tuple(inc.shape) != shape:
            raise ValueError(
                f"{layer.layer_name}: the programmed state's {name} is {tuple(inc.shape)}, this "
                f"layer's geometry needs {shape}; it was programmed for another layer shape or "
                "tile size: load it into the layer it was saved from"
            )


def prepare_load(layer: nn.Module, state_dict: dict[str, Any], prefix: str) -> None:
    """Before ``load_state_dict``: shape the programmed buffers like the incoming ones (a
    programmed state loads into a fresh layer; an unprogrammed state unprograms the layer).

    A state programmed under another config than the layer's is refused (its conductances mean
    something else under this config); a programmed state without a config record (saved before
    ``prog_cfg`` existed) loads with a warning."""
    dev = layer.weight.device
    check_state(layer, state_dict, prefix)
    for name in PROGRAMMED_BUFFERS:
        key = prefix + name
        cur = getattr(layer, name)
        if key in state_dict:
            inc = state_dict[key]
            if cur is None or cur.shape != inc.shape or cur.dtype != inc.dtype:
                setattr(layer, name, torch.empty(inc.shape, dtype=inc.dtype, device=dev))
        elif cur is not None:
            setattr(layer, name, None)
