"""Digital baselines a user can believe: the same compiled model on a GPU, a server CPU and an
edge NPU, each from a roofline over its layers, and the comparison phrased in plain words.

Per layer ``l`` of a ``CompiledModel`` at batch ``B`` (``LayerPlan`` counts are per inference):

- work ``F_l = B x (2 MACs`` of an analog layer, or the digital unit's ops of a digital one);
- bytes moved ``Q_l = W_l + B x A_l``: the layer's weights read once per batch (``W_l``: its
  static weight elements; for an embedding only the rows looked up) and its activations read and
  written per input (``A_l = input_elems + output_elems``), at the precision's bytes per element;
- time ``t_l = max(F_l / P, Q_l / BW) + t_launch``: the roofline (Williams, Waterman & Patterson,
  CACM 52(4), 2009) with ``P`` and ``BW`` the achievable peak and bandwidth (datasheet figures
  times ``achievable_compute_fraction`` / ``achievable_bandwidth_fraction``), plus a fixed
  per-layer latency (kernel launch / dispatch); the layers run one after another;
- compute utilisation ``F_l / (t_l x peak)``: low for memory-bound layers (arithmetic intensity
  ``F_l / Q_l`` below the ridge point ``P / BW``) and for short layers the launch dominates;
- energy: the linear power model of Fan, Weber & Barroso (ISCA 2007), ``P(u) = P_idle +
  (P_max - P_idle) u``, with ``u = 1`` while a layer's roofline term runs (compute or memory
  saturated) and ``u = 0`` during the fixed latency: ``E = sum_l (t_l - t_launch) P_max +
  t_launch P_idle``, per inference ``E / B``.

Every baseline field has its unit in its name and its source; fields that are assumptions rather
than datasheet figures are listed in ``assumed``. Results are phrased in plain words by
:func:`compare_sentence` ("the GPU (...) is 660x faster and uses 4.8x more energy per inference
than ..."), computed from the estimates, never typed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analogue._util.serial import Serialisable
from analogue._util.validate import (
    ConfigError,
    check_int,
    check_nonnegative,
    check_positive,
    require,
)

#: Bytes per element of weights and activations at each precision.
PRECISION_BYTES = {"int8": 1, "fp16": 2}
#: Plain-word name of each baseline kind.
KIND_WORDS = {"gpu": "GPU", "cpu": "CPU", "npu": "edge NPU"}


@dataclass(frozen=True)
class Baseline(Serialisable):
    """A digital processor for comparison, from its datasheet (sources in ``source``).

    ``peak_int8_ops_per_s``/``peak_fp16_ops_per_s``: dense peak (2 ops per MAC, no structured
    sparsity); ``memory_bytes_per_s``: off-chip memory bandwidth; ``max_power_W``: board/package
    power at full load (TDP); ``idle_power_W``: power while waiting; ``launch_latency_s``: fixed
    time per layer (kernel launch, dispatch); ``achievable_*_fraction``: the share of the
    datasheet peak a tuned kernel reaches; ``assumed``: names of the fields that are assumptions,
    not datasheet figures.
    """

    name: str
    kind: str
    peak_int8_ops_per_s: float
    peak_fp16_ops_per_s: float
    memory_bytes_per_s: float
    max_power_W: float
    idle_power_W: float
    launch_latency_s: float
    achievable_compute_fraction: float = 1.0
    achievable_bandwidth_fraction: float = 1.0
    source: str = ""
    assumed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        w = f"Baseline {self.name!r}"
        require(bool(self.name), "Baseline.name", "must be a non-empty name")
        require(self.kind in KIND_WORDS, f"{w}.kind",
                f"must be one of {sorted(KIND_WORDS)}, got {self.kind!r}")
        for f in ("peak_int8_ops_per_s", "peak_fp16_ops_per_s", "memory_bytes_per_s",
                  "max_power_W"):
            check_positive(getattr(self, f), f"{w}.{f}")
        check_nonnegative(self.idle_power_W, f"{w}.idle_power_W")
        check_nonnegative(self.launch_latency_s, f"{w}.launch_latency_s")
        require(self.idle_power_W <= self.max_power_W, f"{w}.idle_power_W",
                f"must not exceed max_power_W ({self.max_power_W} W), got {self.idle_power_W!r}")
        for f in ("achievable_compute_fraction", "achievable_bandwidth_fraction"):
            v = getattr(self, f)
            require(isinstance(v, (int, float)) and 0.0 < v <= 1.0, f"{w}.{f}",
                    f"must be in (0, 1], e.g. 0.8, got {v!r}")
        names = {f for f in self.__dataclass_fields__ if f not in ("name", "kind", "source",
                                                                     "assumed")}
        for a in self.assumed:
            require(a in names, f"{w}.assumed", f"names fields of Baseline ({sorted(names)}), "
                    f"got {a!r}")

    def peak_ops_per_s(self, precision: str) -> float:
        """Datasheet dense peak at ``precision`` (``"int8"`` or ``"fp16"``), ops/s."""
        _check_precision(precision, "Baseline.peak_ops_per_s")
        return self.peak_int8_ops_per_s if precision == "int8" else self.peak_fp16_ops_per_s

    def ridge_ops_per_byte(self, precision: str) -> float:
        """The roofline's knee: the arithmetic intensity (ops per byte) above which a layer is
        compute-bound, from the achievable peak and bandwidth."""
        return (self.peak_ops_per_s(precision) * self.achievable_compute_fraction
                / (self.memory_bytes_per_s * self.achievable_bandwidth_fraction))

    def label(self, precision: str | None = None) -> str:
        """``"the GPU (NVIDIA A100 SXM4 40GB, int8)"``: the kind in words, the name and, if given,
        the precision."""
        extra = f", {precision}" if precision else ""
        return f"the {KIND_WORDS[self.kind]} ({self.name}{extra})"


def _check_precision(precision: str, where: str) -> None:
    require(precision in PRECISION_BYTES, where,
            f"precision must be one of {sorted(PRECISION_BYTES)}, got {precision!r}")


# -- presets (docs/references.md, "Digital baselines and device endurance") -----------------

def a100() -> Baseline:
    """NVIDIA A100 SXM4 40GB (A100 datasheet, 2020; Ampere architecture whitepaper): 624 TOPS
    dense INT8 and 312 TFLOPS dense FP16 tensor, 1,555 GB/s HBM2, 400 W TDP."""
    return Baseline(
        name="NVIDIA A100 SXM4 40GB", kind="gpu", peak_int8_ops_per_s=624e12,
        peak_fp16_ops_per_s=312e12, memory_bytes_per_s=1555e9, max_power_W=400.0,
        idle_power_W=50.0, launch_latency_s=5e-6, achievable_compute_fraction=0.8,
        achievable_bandwidth_fraction=0.9,
        source="NVIDIA A100 Tensor Core GPU datasheet (2020)",
        assumed=("idle_power_W", "launch_latency_s", "achievable_compute_fraction",
                 "achievable_bandwidth_fraction"),
    )


def h100() -> Baseline:
    """NVIDIA H100 SXM5 80GB (H100 datasheet, 2022): 1,979 TOPS dense INT8 and 989 TFLOPS dense
    FP16 tensor, 3.35 TB/s HBM3, 700 W TDP."""
    return Baseline(
        name="NVIDIA H100 SXM5 80GB", kind="gpu", peak_int8_ops_per_s=1979e12,
        peak_fp16_ops_per_s=989e12, memory_bytes_per_s=3350e9, max_power_W=700.0,
        idle_power_W=70.0, launch_latency_s=5e-6, achievable_compute_fraction=0.8,
        achievable_bandwidth_fraction=0.9,
        source="NVIDIA H100 Tensor Core GPU datasheet (2022)",
        assumed=("idle_power_W", "launch_latency_s", "achievable_compute_fraction",
                 "achievable_bandwidth_fraction"),
    )


def xeon_8380() -> Baseline:
    """Intel Xeon Platinum 8380 (Ice Lake-SP, 2021; Intel ARK): 40 cores at 2.3 GHz base, two
    AVX-512 FMA units per core: FP32 40 x 2.3e9 x 2 units x 16 lanes x 2 = 5.9 TFLOPS; INT8 with
    AVX-512 VNNI (``vpdpbusd``: 64 MACs per instruction per unit) 4x that, 23.6 TOPS; no native
    FP16 arithmetic, so FP16 runs at the FP32 rate; 8 channels DDR4-3200 = 204.8 GB/s; 270 W TDP."""
    cores, hz = 40, 2.3e9
    fp32 = cores * hz * 2 * 16 * 2
    return Baseline(
        name="Intel Xeon Platinum 8380", kind="cpu", peak_int8_ops_per_s=4 * fp32,
        peak_fp16_ops_per_s=fp32, memory_bytes_per_s=8 * 25.6e9, max_power_W=270.0,
        idle_power_W=90.0, launch_latency_s=10e-6, achievable_compute_fraction=0.7,
        achievable_bandwidth_fraction=0.8,
        source="Intel ARK, Xeon Platinum 8380 (2021); Intel 64 and IA-32 Architectures "
               "Optimization Reference Manual (AVX-512 VNNI)",
        assumed=("idle_power_W", "launch_latency_s", "achievable_compute_fraction",
                 "achievable_bandwidth_fraction"),
    )


def jetson_agx_orin() -> Baseline:
    """NVIDIA Jetson AGX Orin 64GB (Jetson AGX Orin technical brief v1.2 and module datasheet,
    2022): 275 sparse INT8 TOPS (GPU 170 + two DLAs 105), dense half of that, 137.5 TOPS; FP16
    tensor at half the INT8 rate (as on every Ampere tensor core: A100 312 vs 624); 204.8 GB/s
    LPDDR5; 15-60 W configurable module power (60 W at MAXN)."""
    int8 = (170e12 + 105e12) / 2
    return Baseline(
        name="NVIDIA Jetson AGX Orin 64GB", kind="npu", peak_int8_ops_per_s=int8,
        peak_fp16_ops_per_s=int8 / 2, memory_bytes_per_s=204.8e9, max_power_W=60.0,
        idle_power_W=15.0, launch_latency_s=10e-6, achievable_compute_fraction=0.7,
        achievable_bandwidth_fraction=0.8,
        source="NVIDIA Jetson AGX Orin Series technical brief v1.2 (2022)",
        assumed=("peak_fp16_ops_per_s", "idle_power_W", "launch_latency_s",
                 "achievable_compute_fraction", "achievable_bandwidth_fraction"),
    )


#: The baselines by short name; ``DEFAULT_BASELINES`` are the ones ``estimate_cost`` compares with.
BASELINES = {"a100": a100, "h100": h100, "xeon_8380": xeon_8380,
             "jetson_agx_orin": jetson_agx_orin}
DEFAULT_BASELINES = ("a100", "xeon_8380", "jetson_agx_orin")


def default_baselines() -> tuple[Baseline, ...]:
    """A GPU (A100), a server CPU (Xeon 8380) and an edge NPU (Jetson AGX Orin)."""
    return tuple(BASELINES[k]() for k in DEFAULT_BASELINES)


# -- the roofline -----------------------------------------------------------------------------------

def roofline_time_s(ops: Any, bytes_moved: Any, peak_ops_per_s: float, bytes_per_s: float,
                    fixed_s: float = 0.0) -> np.ndarray:
    """``max(ops / peak, bytes / bandwidth) + fixed``, elementwise (the roofline of one kernel)."""
    ops = np.asarray(ops, dtype=np.float64)
    q = np.asarray(bytes_moved, dtype=np.float64)
    return np.maximum(ops / peak_ops_per_s, q / bytes_per_s) + fixed_s


def layer_work(program: Any, precision: str = "int8") -> dict[str, np.ndarray]:
    """Per layer of ``program`` (order of ``program.layers``), per inference: ``ops`` (2 per MAC
    of an analog layer, the digital unit's ops otherwise), ``weight_bytes`` (static weights, read
    once per batch; an embedding reads only the rows it looks up) and ``activation_bytes``
    (inputs read and outputs written)."""
    _check_precision(precision, "layer_work")
    b = PRECISION_BYTES[precision]
    ops, wq, aq = [], [], []
    for lp in program.layers:
        ops.append(2.0 * lp.macs if lp.placement == "analog" else float(lp.digital_ops))
        n_w = math.prod(lp.weight_shape) if lp.weight_shape else 0
        if "embedding" in lp.op:
            n_w = min(n_w, lp.output_elems)
        wq.append(float(n_w * b))
        aq.append(float((lp.input_elems + lp.output_elems) * b))
    return {"ops": np.array(ops), "weight_bytes": np.array(wq), "activation_bytes": np.array(aq)}


def baseline_estimate(program: Any, baseline: Baseline, batch: int = 1,
                      precision: str = "int8") -> dict[str, Any]:
    """The compiled model on ``baseline`` at ``batch``, from the roofline of its layers.

    Returns ``name``, ``kind``, ``precision``, ``batch``, ``latency_s`` (the batch, layers one
    after another), ``energy_J`` (per inference), ``ops`` (per inference), ``utilization``
    (achieved ops/s over the datasheet peak), ``memory_bound_layers``/``compute_bound_layers``
    (counts), ``launch_share`` (fraction of the time in fixed per-layer latency) and
    ``ridge_ops_per_byte``.
    """
    check_int(batch, "baseline_estimate", 1, "batch")
    if not isinstance(baseline, Baseline):
        raise ConfigError("baseline_estimate: baseline must be an analogue.cost.baselines.Baseline "
                          f"(e.g. an.cost.baselines.a100()), got {type(baseline).__name__}")
    return _roofline_estimate(layer_work(program, precision), baseline, batch, precision)


def _roofline_estimate(w: dict[str, np.ndarray], baseline: Baseline, batch: int,
                       precision: str) -> dict[str, Any]:
    peak = baseline.peak_ops_per_s(precision)
    p_eff = peak * baseline.achievable_compute_fraction
    bw_eff = baseline.memory_bytes_per_s * baseline.achievable_bandwidth_fraction
    ops_b = w["ops"] * batch
    bytes_b = w["weight_bytes"] + w["activation_bytes"] * batch
    active = (ops_b > 0) | (bytes_b > 0)
    t_comp = ops_b / p_eff
    t_mem = bytes_b / bw_eff
    busy = np.where(active, roofline_time_s(ops_b, bytes_b, p_eff, bw_eff), 0.0)
    fixed = np.where(active, baseline.launch_latency_s, 0.0)
    busy_s, fixed_s = float(busy.sum()), float(fixed.sum())
    latency = busy_s + fixed_s
    energy_batch = busy_s * baseline.max_power_W + fixed_s * baseline.idle_power_W
    ops = float(w["ops"].sum())
    return {
        "name": baseline.name,
        "kind": baseline.kind,
        "precision": precision,
        "batch": batch,
        "latency_s": latency,
        "energy_J": energy_batch / batch,
        "ops": ops,
        "utilization": ops * batch / max(latency, 1e-300) / peak,
        "memory_bound_layers": int(np.sum(active & (t_mem > t_comp))),
        "compute_bound_layers": int(np.sum(active & (t_mem <= t_comp))),
        "launch_share": fixed_s / max(latency, 1e-300),
        "ridge_ops_per_byte": baseline.ridge_ops_per_byte(precision),
    }


# -- plain words ------------------------------------------------------------------------------------

def format_ratio(x: float) -> str:
    """A ratio >= 1 to two significant figures, thousands separated: 4.8, 12, 660, 1,200."""
    if not (math.isfinite(x) and x > 0):
        return str(x)
    if x >= 100:
        digits = int(math.floor(math.log10(x))) - 1
        return f"{round(x, -digits):,.0f}"
    s = f"{x:.2g}"
    return s


#: Ratios within this relative tolerance of 1 read "about as fast" / "about the same energy".
SAME_TOLERANCE = 0.005


def compare_sentence(subject: str, latency_s: float, energy_J: float, ref_latency_s: float,
                     ref_energy_J: float, ref: str = "the analog chip",
                     unit: str = "inference") -> str:
    """``"{subject} is 660x faster and uses 4.8x more energy per inference than {ref}"``.

    ``latency_s``/``energy_J``: the subject's time (same work, e.g. the batch) and energy per
    inference; ``ref_*``: the reference's. Slower/less read the other way round; within 0.5 %
    "about as fast as" / "about the same energy per inference as". ``unit``: what the energy is
    per (``"training sample"`` for training).
    """
    for v, n in ((latency_s, "latency_s"), (energy_J, "energy_J"), (ref_latency_s, "ref_latency_s"),
                 (ref_energy_J, "ref_energy_J")):
        check_positive(v, "compare_sentence", n)
    speed = ref_latency_s / latency_s  # > 1: the subject is faster
    more = energy_J / ref_energy_J  # > 1: the subject uses more energy
    same_t = abs(speed - 1.0) <= SAME_TOLERANCE
    same_e = abs(more - 1.0) <= SAME_TOLERANCE
    if same_t:
        t = "is about as fast"
    elif speed > 1.0:
        t = f"is {format_ratio(speed)}x faster"
    else:
        t = f"is {format_ratio(1.0 / speed)}x slower"
    if same_e:
        e = f"uses about the same energy per {unit}"
    elif more > 1.0:
        e = f"uses {format_ratio(more)}x more energy per {unit}"
    else:
        e = f"uses {format_ratio(1.0 / more)}x less energy per {unit}"
    if same_t:
        return f"{subject} {t} as {ref} and {e}"
    if same_e:
        return f"{subject} {t} than {ref} and {e}"
    return f"{subject} {t} and {e} than {ref}"


def compare_baselines(program: Any, energy_J: float, latency_s: float, batch: int = 1,
                      baselines: Sequence[Baseline] | None = None, precision: str = "int8",
                      ref: str = "the analog chip") -> dict[str, dict[str, Any]]:
    """Each baseline's :func:`baseline_estimate` of ``program`` at ``batch``, with
    ``energy_ratio`` (baseline / analog, per inference), ``speedup`` (baseline latency / analog
    latency: > 1 where the analog chip is faster, as ``CostReport.gpu``), ``label`` and
    ``sentence`` (:func:`compare_sentence`), keyed
    by the baseline's name. ``energy_J``/``latency_s``: the analog chip's per inference / batch."""
    out: dict[str, dict[str, Any]] = {}
    w = layer_work(program, precision)
    for b in default_baselines() if baselines is None else tuple(baselines):
        if not isinstance(b, Baseline):
            raise ConfigError("compare_baselines: baselines must be analogue.cost.baselines."
                              f"Baseline objects (e.g. baselines.a100()), got {type(b).__name__}")
        g = _roofline_estimate(w, b, batch, precision)
        g["energy_ratio"] = g["energy_J"] / max(energy_J, 1e-300)
        g["speedup"] = g["latency_s"] / max(latency_s, 1e-300)
        g["label"] = b.label(precision)
        g["sentence"] = compare_sentence(g["label"], g["latency_s"], g["energy_J"],
                                         latency_s, energy_J, ref)
        out[b.name] = g
    return out
