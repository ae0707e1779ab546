"""Energy, latency and throughput of a compiled model (``an.estimate_cost``), of training it in
memory (``estimate_training``), and of the same work on a GPU (``gpu_estimate``).

Counting rules (per inference unless stated; ``batch`` inputs stream through the pipeline):

- Every placed block (``CompiledModel.placement``) runs one MVM per input vector of its layer copy;
  its array-side energy (crossbar, DAC, ADC, sample-and-hold, shift-and-add of bit-serial input
  cycles) counts only the block's driven rows and converted columns.
- What the digital unit does, including the analog layers' scaling, bias, partial-sum and
  bit-slice accumulation, is ``LayerPlan.digital_ops`` at the unit's energy per operation.
- The local SRAM buffers every activation read and written (``input_elems``/``output_elems``);
  the interconnect moves ``CompiledModel.activation_bits_moved`` bits one hop (a core pitch).
- Leakage of the periphery and digital logic runs for the whole batch latency.
- Time-multiplexed programs (``reprogram_rounds > 1``) rewrite every round's cells once per
  ``inferences_per_write`` inferences (default: once per batch); the write pass's energy and time
  are amortised over them, and its wear is checked against the device's endurance
  (:mod:`analogue.cost.reprogram`).
- Baselines: the same work on a GPU, a server CPU and an edge NPU from the roofline of each layer
  (:mod:`analogue.cost.baselines`), phrased in plain words.
- Latency: the stages of the pipeline run one after another for one input; a stage takes its
  slowest analog layer (vectors per copy x MVM time) plus the digital unit's work in it; later
  inputs of a batch follow at the bottleneck interval (slowest stage, or the digital unit's
  total work per inference, whichever is longer).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analogue._util.serial import record_from_dict
from analogue._util.validate import (
    check_fraction,
    check_int,
    check_positive,
    check_positive_fraction,
)
from analogue.config import ConfigError
from analogue.config.chips import Chip, gpu_a100
from analogue.cost import components as C
from analogue.cost import constants as K
from analogue.cost.attention import program_attention_cost
from analogue.cost.baselines import Baseline, compare_baselines, compare_sentence
from analogue.cost.model import array_energy, chip_params, digital_pJ_per_op, evaluate, timing
from analogue.cost.reprogram import WriteSchedule, write_pass, write_schedule

COST_VERSION = 1

PROGRAM_COMPONENTS = (
    "crossbar",
    "dac",
    "adc",
    "sample_hold",
    "shift_add",
    "digital",
    "sram",
    "noc",
    "leakage",
    "program",
)


@dataclass
class CostReport:
    """Cost of running a compiled model (``kind="inference"``) or training it (``"training"``).

    Per inference (or per training sample): ``energy_J``, ``macs``; for the batch: ``latency_s``
    (first input in to last output out); ``throughput_per_s`` inferences (samples) per second in
    steady state; ``tops``/``tops_per_W`` effective (2 ops per MAC plus digital ops, over the
    batch latency and energy); ``area_mm2`` the chip's. Breakdowns: ``energy_breakdown_J`` per
    component, ``layer_energy_J`` and ``layer_latency_s`` per layer. ``gpu``: the same work on the
    reference GPU at its datasheet peak, an upper bound on the GPU (``energy_J``, ``latency_s``,
    ``energy_ratio`` = GPU / analog, ``speedup`` = GPU latency / analog latency). ``baselines``:
    per baseline name, its roofline estimate with ``sentence``, the comparison in plain words
    (``analogue.cost.baselines.compare_baselines``). ``reprogram``: a time-multiplexed program's
    write schedule (``analogue.cost.reprogram.WriteSchedule.to_dict``), else empty.
    """

    chip: str
    kind: str
    batch: int
    energy_J: float
    latency_s: float
    throughput_per_s: float
    tops: float
    tops_per_W: float
    area_mm2: float
    macs: int
    energy_breakdown_J: dict[str, float] = field(default_factory=dict)
    layer_energy_J: dict[str, float] = field(default_factory=dict)
    layer_latency_s: dict[str, float] = field(default_factory=dict)
    gpu: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    reprogram: dict[str, Any] = field(default_factory=dict)
    version: int = COST_VERSION

    @property
    def energy_per_mac_pJ(self) -> float:
        """Energy per MAC, everything included, pJ."""
        return self.energy_J / max(self.macs, 1) * 1e12

    @property
    def adc_share(self) -> float:
        """Fraction of the energy spent in the ADCs."""
        return self.energy_breakdown_J.get("adc", 0.0) / max(self.energy_J, 1e-300)

    def sentences(self) -> list[str]:
        """In plain words: the comparison with each baseline, then a time-multiplexed program's
        write schedule (per write, per inference, lifetime, and the warning if it wears out)."""
        out = [b["sentence"] for b in self.baselines.values()]
        if self.reprogram:
            out += WriteSchedule(**self.reprogram).sentences()
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins (JSON/YAML-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostReport:
        """Inverse of ``to_dict`` (any ``Mapping``); unknown keys fail with the closest valid name,
        another ``version`` in one line."""
        return record_from_dict(cls, data, "CostReport.from_dict", COST_VERSION)

    def table(self, max_layers: int = 15) -> str:
        """Readable fixed-width tables: headline, energy per component, the costliest layers."""
        unit = "inference" if self.kind == "inference" else "training sample"
        lines = [
            f"{self.kind} cost on {self.chip} (batch {self.batch})",
            (f"  energy      {self.energy_J * 1e6:12.4g} uJ per {unit} "
            f"({self.energy_per_mac_pJ:.3g} pJ/MAC, {self.macs:,} MACs)"),
            f"  latency     {self.latency_s * 1e6:12.4g} us for the batch",
            f"  throughput  {self.throughput_per_s:12.4g} {unit}s/s",
            f"  effective   {self.tops:12.4g} TOPS, {self.tops_per_W:.4g} TOPS/W",
            f"  area        {self.area_mm2:12.4g} mm2",
        ]
        if self.gpu:
            g = self.gpu
            lines.append(
                f"  vs {g['name']}: {g['energy_J'] * 1e6:.4g} uJ, {g['latency_s'] * 1e6:.4g} us "
                f"(datasheet peak) -> energy GPU/analog {g['energy_ratio']:.3g}x, "
                f"time GPU/analog {g['speedup']:.3g}x"
            )
        for b in self.baselines.values():
            lines.append(
                f"  {b['sentence']} (roofline: {b['latency_s'] * 1e6:.4g} us, "
                f"{b['energy_J'] * 1e6:.4g} uJ per {unit}, {b['utilization'] * 100:.3g} % of peak)"
            )
        lines.append("")
        lines.append(f"  {'component':<12} {'energy uJ':>12} {'share':>7}")
        for k, v in self.energy_breakdown_J.items():
            lines.append(f"  {k:<12} {v * 1e6:>12.4g} {v / max(self.energy_J, 1e-300):>7.1%}")
        if self.layer_energy_J:
            lines.append("")
            lines.append(f"  {'layer':<28} {'energy uJ':>12} {'latency us':>12}")
            order = sorted(self.layer_energy_J, key=self.layer_energy_J.get, reverse=True)
            for name in order[:max_layers]:
                lat = self.layer_latency_s.get(name, 0.0)
                lines.append(
                    f"  {name[:28]:<28} {self.layer_energy_J[name] * 1e6:>12.4g} {lat * 1e6:>12.4g}"
                )
            if len(order) > max_layers:
                rest = sum(self.layer_energy_J[n] for n in order[max_layers:])
                lines.append(f"  {'(' + str(len(order) - max_layers) + ' more)':<28} {rest * 1e6:>12.4g}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


def _check_program(program: Any, batch: int, where: str) -> Chip:
    check_int(batch, where, 1, "batch")
    for attr in ("chip", "layers", "placement", "activation_bits_moved"):
        if not hasattr(program, attr):
            raise ConfigError(
                f"{where}: expected an analogue CompiledModel (from an.compile), missing {attr!r}"
            )
    chip = program.chip
    if not isinstance(chip, Chip):
        raise ConfigError(f"{where}: program.chip must be an analogue.config.chips.Chip")
    if not any(lp.macs or lp.digital_ops for lp in program.layers):
        raise ConfigError(
            f"{where}: the program does no work (no multiply-accumulates or digital operations per "
            "inference), so it has no energy or latency; compile a model whose forward computes"
        )
    return chip


def _layer_costs(
    program: Any, p: dict[str, Any], input_activity: float, weight_activity: float
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per layer: array-side energy per component (J per inference at batch 1) and the analog
    time of one inference on one copy (s)."""
    tm = timing(p)
    mvm_s = float(tm["mvm_latency_s"])
    energies: dict[str, dict[str, float]] = {}
    times: dict[str, float] = {}
    for lp in program.layers:
        if lp.placement != "analog":
            continue
        blocks = program.placement.get(lp.name, [])
        if not blocks:
            raise ConfigError(
                f"estimate_cost: analog layer {lp.name!r} has no placed blocks in the program"
            )
        rows = np.array([b.n_rows for b in blocks], dtype=np.float64)
        cols = np.array([b.n_cols for b in blocks], dtype=np.float64)
        rep = max(int(lp.replication), 1)
        # each block belongs to one copy; a copy handles mvms/replication vectors
        vectors_per_block = lp.mvms_per_inference / rep
        e = array_energy(p, rows, cols, tm, input_activity, weight_activity, slices=False)
        energies[lp.name] = {k: float(np.sum(v) * vectors_per_block) for k, v in e.items()}
        times[lp.name] = math.ceil(lp.mvms_per_inference / rep) * mvm_s
    return energies, times


def estimate_cost(
    program: Any,
    batch: int = 1,
    gpu: Chip | None = None,
    input_activity: float = K.INPUT_ACTIVITY,
    weight_activity: float = K.WEIGHT_ACTIVITY,
    baselines: Sequence[Baseline] | None = None,
    precision: str = "int8",
    inferences_per_write: int | None = None,
    inferences_per_s: float | None = None,
    service_life_years: float = 5.0,
) -> CostReport:
    """Energy, latency, throughput, effective TOPS and TOPS/W, area of a compiled model.

    ``program``: an ``an.CompiledModel`` from ``an.compile``; ``batch``: inputs streamed through the
    pipeline; ``gpu``: the all-digital reference for the datasheet-peak bound (default
    ``gpu_a100()``); ``input_activity``/``weight_activity``: mean input drive and mean conductance
    as fractions of full scale (0.5 each for uniform random operands).
    ``baselines``: digital processors to compare with by roofline at ``precision`` (``"int8"`` or
    ``"fp16"``; default a GPU, a server CPU and an edge NPU, ``baselines.default_baselines()``).
    Time-multiplexed programs: one write pass every ``inferences_per_write`` inferences (default
    ``batch``), run at ``inferences_per_s`` (default: continuously, at the program's throughput)
    for ``service_life_years``; an ``EnduranceWarning`` when the arrays wear out sooner.
    """
    chip = _check_program(program, batch, "estimate_cost")
    check_fraction(input_activity, "estimate_cost", "input_activity", "of full scale, e.g. 0.5")
    check_fraction(weight_activity, "estimate_cost", "weight_activity", "of full scale, e.g. 0.5")
    if not chip.is_analog:
        raise ConfigError(
            "estimate_cost: the program's chip has no analog arrays; use gpu_estimate(program)"
        )
    check_positive(service_life_years, "estimate_cost", "service_life_years", "e.g. 5.0")
    if inferences_per_s is not None:
        check_positive(inferences_per_s, "estimate_cost", "inferences_per_s", "e.g. 100.0")
    p = chip_params(chip)
    peak_r = evaluate(p, input_activity, weight_activity)
    arr_e, arr_t = _layer_costs(program, p, input_activity, weight_activity)
    e_op = float(digital_pJ_per_op(p)) * 1e-12
    dig_rate = chip.digital.ops_per_s
    node = chip.node_nm
    sram_bit = (
        float(C.sram_energy_per_bit_J(chip.organisation.sram_bytes_per_core, node))
        if chip.organisation.sram_bytes_per_core > 0
        else 0.0
    )
    hop_mm = math.sqrt(float(peak_r["core_area_mm2"]))
    if chip.electrical.noc_pJ_per_bit_mm is None:
        noc_bit = float(C.noc_energy_per_bit_J(hop_mm, node, chip.electrical.supply_V))
    else:
        noc_bit = chip.electrical.noc_pJ_per_bit_mm * 1e-12 * hop_mm

    comp = dict.fromkeys(PROGRAM_COMPONENTS, 0.0)
    layer_e: dict[str, float] = {}
    layer_t: dict[str, float] = {}
    stage_analog: dict[int, float] = {}
    stage_digital: dict[int, float] = {}
    total_digital_t = 0.0
    macs = 0
    ops = 0.0
    for lp in program.layers:
        e_layer = 0.0
        if lp.placement == "analog":
            for k, v in arr_e[lp.name].items():
                comp[k] += v
                e_layer += v
            act_bits = lp.input_elems * chip.dac_bits + lp.output_elems * chip.adc_bits
            t_an = arr_t[lp.name]
            stage_analog[lp.stage] = max(stage_analog.get(lp.stage, 0.0), t_an)
            ops += 2.0 * lp.macs
        else:
            act_bits = (lp.input_elems + lp.output_elems) * chip.digital.op_bits
            t_an = 0.0
            ops += lp.digital_ops
        e_dig = lp.digital_ops * e_op
        e_sram = act_bits * sram_bit
        comp["digital"] += e_dig
        comp["sram"] += e_sram
        e_layer += e_dig + e_sram
        t_dig = lp.digital_ops / dig_rate
        stage_digital[lp.stage] = stage_digital.get(lp.stage, 0.0) + t_dig
        total_digital_t += t_dig
        layer_e[lp.name] = e_layer
        layer_t[lp.name] = t_an + t_dig
        macs += int(lp.macs)
    comp["noc"] = program.activation_bits_moved * noc_bit

    stages = sorted(set(stage_analog) | set(stage_digital))
    stage_t = [stage_analog.get(s, 0.0) + stage_digital.get(s, 0.0) for s in stages]
    latency_1 = sum(stage_t)
    interval = max([*stage_t, total_digital_t, 1e-30])
    notes: list[str] = []
    rounds = max(int(getattr(program, "reprogram_rounds", 1)), 1)
    prog_time = 0.0
    sched = None
    if rounds > 1:
        per_write = batch if inferences_per_write is None else inferences_per_write
        check_int(per_write, "estimate_cost", 1, "inferences_per_write")
        _, _, t_write = write_pass(program)
        # time-multiplexed: rounds run one after another, each streaming the whole batch; a write
        # pass every per_write inferences
        prog_time = t_write * batch / per_write
        latency = latency_1 + (batch - 1) * interval + prog_time
        rate = batch / latency if inferences_per_s is None else inferences_per_s
        sched = write_schedule(program, rate, per_write, service_life_years, stacklevel=3)
        comp["program"] = sched.energy_per_inference_J
        notes.extend(sched.sentences())
    else:
        latency = latency_1 + (batch - 1) * interval
    attention = program_attention_cost(program, inferences_per_s)
    if attention is not None:  # analog attention: per-inference writes of K^T and V, and conversions
        comp["attention"] = attention.analog_energy_J
        latency += batch * attention.write_time_s
        notes.append(f"analog attention writes {attention.cells_written} {attention.device_kind} cells per "
                     f"inference ({attention.write_energy_J * 1e6:.4g} uJ, {attention.write_time_s * 1e6:.4g} us); "
                     f"the arrays last {attention.lifetime_inferences:.3g} inferences")
    leak_W = float(peak_r["leakage_W"])
    comp["leakage"] = leak_W * latency / batch
    energy = sum(comp.values())
    throughput = batch / latency
    tops = ops * batch / latency / 1e12
    report = CostReport(
        chip=chip.name,
        kind="inference",
        batch=batch,
        energy_J=energy,
        latency_s=latency,
        throughput_per_s=throughput,
        tops=tops,
        tops_per_W=ops / energy / 1e12,
        area_mm2=float(peak_r["area_mm2"]["total"]),
        macs=macs,
        energy_breakdown_J=comp,
        layer_energy_J=layer_e,
        layer_latency_s=layer_t,
        notes=notes,
    )
    report.gpu = _gpu_compare(program, batch, gpu, energy, latency)
    report.baselines = compare_baselines(program, energy, latency, batch, baselines, precision,
                                         ref=chip.name)
    if sched is not None:
        report.reprogram = sched.to_dict()
    return report


def gpu_estimate(program: Any, batch: int = 1, gpu: Chip | None = None,
                 utilization: float = 1.0) -> dict[str, Any]:
    """The same work on an all-digital chip (default ``gpu_a100()``) from its datasheet figures.

    Work: 2 ops per MAC of every analog layer plus the digital unit's ops of every digital op.
    Energy: ops x (TDP / peak ops/s), the datasheet's best case; latency: ops / (peak x
    ``utilization``); at batch 1 a real GPU runs far below peak, so this flatters the GPU.
    Returns ``name``, ``energy_J`` (per inference), ``latency_s`` (batch), ``ops``.
    """
    _check_program(program, batch, "gpu_estimate")
    ref = gpu_a100() if gpu is None else gpu
    check_positive_fraction(utilization, "gpu_estimate", "utilization")
    p = chip_params(ref)
    e_op = float(digital_pJ_per_op(p)) * 1e-12
    ops = sum(
        2.0 * lp.macs if lp.placement == "analog" else float(lp.digital_ops)
        for lp in program.layers
    )
    return {
        "name": ref.name,
        "energy_J": ops * e_op,
        "latency_s": ops * batch / (ref.digital.ops_per_s * utilization),
        "ops": ops,
    }


def _gpu_compare(program: Any, batch: int, gpu: Chip | None, energy: float,
                 latency: float) -> dict[str, Any]:
    g = gpu_estimate(program, batch, gpu)
    g["energy_ratio"] = g["energy_J"] / max(energy, 1e-300)
    g["speedup"] = g["latency_s"] / max(latency, 1e-300)
    return g


def estimate_training(
    program: Any,
    batch: int = 1,
    pulses_per_update: int = 10,
    gpu: Chip | None = None,
) -> CostReport:
    """Training in memory: forward, backward (transposed MVMs on the same arrays) and a pulsed
    outer-product update of every programmed cell, per training sample.

    - forward: as ``estimate_cost``;
    - backward: one transposed MVM per forward MVM (input gradients), same array-side energy and
      time (transposable periphery, as NeuRRAM's), and the digital unit's work again;
    - update: each cell receives on average ``pulses_per_update`` programming pulses per sample
      (stochastic pulse coincidence, Gokmen & Vlasov, Front. Neurosci. 10, 2016: BL = 10-31) at the
      device's ``pulse_J``; all arrays update in parallel, one pulse train per sample of
      ``pulses_per_update x t_read_s``.
    The GPU comparison and the baselines use 3x the forward work and roofline time (forward,
    input and weight gradients).
    """
    fwd = estimate_cost(program, batch=batch, gpu=gpu)
    chip: Chip = program.chip
    check_int(pulses_per_update, "estimate_training", 1, "pulses_per_update")
    dev = K.DEVICES[chip.device]
    cells = sum(b.cells for blocks in program.placement.values() for b in blocks)
    comp = {k: 2.0 * v for k, v in fwd.energy_breakdown_J.items() if k not in ("leakage", "program")}
    comp["update"] = cells * pulses_per_update * dev["pulse_J"]
    update_t = pulses_per_update * chip.periphery.t_read_s * batch
    latency = 2.0 * fwd.latency_s + update_t
    comp["leakage"] = fwd.energy_breakdown_J["leakage"] * latency / max(fwd.latency_s, 1e-300)
    comp["program"] = fwd.energy_breakdown_J.get("program", 0.0)
    energy = sum(comp.values())
    ops = 3.0 * fwd.tops * fwd.latency_s * 1e12 / batch
    layer_e = {k: 2.0 * v for k, v in fwd.layer_energy_J.items()}
    layer_t = {k: 2.0 * v for k, v in fwd.layer_latency_s.items()}
    g = gpu_estimate(program, batch, gpu)
    g["energy_J"] *= 3.0
    g["latency_s"] *= 3.0
    g["ops"] *= 3.0
    g["energy_ratio"] = g["energy_J"] / max(energy, 1e-300)
    g["speedup"] = g["latency_s"] / max(latency, 1e-300)
    # the baselines' training: forward, input and weight gradients, 3x the forward's roofline
    trained: dict[str, dict[str, Any]] = {}
    for name, b in fwd.baselines.items():
        t = dict(b, latency_s=3.0 * b["latency_s"], energy_J=3.0 * b["energy_J"],
                 ops=3.0 * b["ops"])
        t["energy_ratio"] = t["energy_J"] / max(energy, 1e-300)
        t["speedup"] = t["latency_s"] / max(latency, 1e-300)
        t["sentence"] = compare_sentence(t["label"], t["latency_s"], t["energy_J"], latency,
                                         energy, ref=chip.name, unit="training sample")
        trained[name] = t
    return CostReport(
        chip=chip.name,
        kind="training",
        batch=batch,
        energy_J=energy,
        latency_s=latency,
        throughput_per_s=batch / latency,
        tops=ops * batch / latency / 1e12,
        tops_per_W=ops / energy / 1e12,
        area_mm2=fwd.area_mm2,
        macs=3 * fwd.macs,
        energy_breakdown_J=comp,
        layer_energy_J=layer_e,
        layer_latency_s=layer_t,
        gpu=g,
        notes=[*fwd.notes, f"update: {pulses_per_update} pulses per cell per sample"],
        baselines=trained,
    )
