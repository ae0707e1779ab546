"""Datasheet-style peak figures of a chip, and vectorised design-space sweeps.

``peak(chip)`` answers what a datasheet quotes: every array busy with dense random operands,
``TOPS = 2 x MACs / s``, power at that throughput, ``TOPS/W`` and area. ``sweep(chip, **axes)``
evaluates the Cartesian product of chip variants in one vectorised call (no Python loop over
design points).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analogue._util.serial import record_from_dict
from analogue._util.validate import check_fraction
from analogue.config import ConfigError
from analogue.config.chips import ADC_KIND_CODE, ENCODING_CODE, FLAT_FIELDS, Chip
from analogue.cost import constants as K
from analogue.cost.model import (
    chip_params,
    default_cell_area_um2,
    evaluate,
    off_state_uS,
    pitch_c_wire_fF,
)

PEAK_VERSION = 1


@dataclass(frozen=True)
class PeakReport:
    """Peak figures of one chip (units in the names). ``energy_per_mvm_J`` breaks one array MVM
    down by component; ``area_breakdown_mm2`` the chip area."""

    chip: str
    tops: float
    tops_per_W: float
    power_W: float
    area_mm2: float
    tops_per_mm2: float
    energy_per_mac_pJ: float
    mvm_latency_s: float
    macs_per_mvm: int
    energy_per_mvm_J: dict[str, float] = field(default_factory=dict)
    area_breakdown_mm2: dict[str, float] = field(default_factory=dict)
    version: int = PEAK_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeakReport:
        """Inverse of ``to_dict`` (any ``Mapping``); unknown keys fail with the closest valid name,
        another ``version`` in one line."""
        return record_from_dict(cls, data, "PeakReport.from_dict", PEAK_VERSION)

    def table(self) -> str:
        """A fixed-width text table: headline figures, then the per-MVM energy breakdown."""
        lines = [
            (f"chip {self.chip}: peak {self.tops:.3g} TOPS, {self.tops_per_W:.3g} TOPS/W, "
            f"{self.power_W:.3g} W, {self.area_mm2:.3g} mm2 ({self.tops_per_mm2:.3g} TOPS/mm2), "
            f"{self.energy_per_mac_pJ:.3g} pJ/MAC"),
        ]
        total = sum(self.energy_per_mvm_J.values())
        if total > 0 and self.macs_per_mvm > 0:
            lines.append(
                f"one array MVM: {self.macs_per_mvm} MACs in {self.mvm_latency_s * 1e9:.4g} ns, "
                f"{total * 1e9:.4g} nJ"
            )
            lines.append(f"  {'component':<12} {'pJ/MVM':>12} {'fJ/MAC':>10} {'share':>7}")
            for k, v in self.energy_per_mvm_J.items():
                lines.append(
                    f"  {k:<12} {v * 1e12:>12.4g} {v / self.macs_per_mvm * 1e15:>10.4g} "
                    f"{v / total:>7.1%}"
                )
        return "\n".join(lines)


def peak(
    chip: Chip,
    input_activity: float = K.INPUT_ACTIVITY,
    weight_activity: float = K.WEIGHT_ACTIVITY,
) -> PeakReport:
    """Peak TOPS, TOPS/W and area of ``chip``, as datasheets quote them.

    ``input_activity``: mean input drive as a fraction of full scale (0.5: uniform random inputs);
    ``weight_activity``: mean conductance as a fraction of the range (0.5: uniform weights).
    An all-digital chip (``arrays_per_core=0``) reports its digital unit.
    """
    if not isinstance(chip, Chip):
        raise ConfigError(f"peak: expected an analogue.config.chips.Chip, got {type(chip).__name__}")
    check_fraction(input_activity, "peak", "input_activity")
    check_fraction(weight_activity, "peak", "weight_activity")
    r = evaluate(chip_params(chip), input_activity, weight_activity)
    if chip.is_analog:
        e_mvm = {k: float(v) for k, v in r["mvm_energy_J"].items()}
        areas = {k: float(v) for k, v in r["area_mm2"].items() if k != "total"}
        macs = int(r["macs_per_mvm"])
        lat = float(r["mvm_latency_s"])
    else:
        e_mvm, macs, lat = {}, 0, 0.0
        areas = {"digital": float(r["area_mm2"]["total"])}
    return PeakReport(
        chip=chip.name,
        tops=float(r["tops"]),
        tops_per_W=float(r["tops_per_W"]),
        power_W=float(r["power_W"]),
        area_mm2=float(r["area_mm2"]["total"]),
        tops_per_mm2=float(r["tops_per_mm2"]),
        energy_per_mac_pJ=float(r["energy_per_mac_J"]) * 1e12,
        mvm_latency_s=lat,
        macs_per_mvm=macs,
        energy_per_mvm_J=e_mvm,
        area_breakdown_mm2=areas,
    )


_CATEGORICAL = {
    "adc_kind": ADC_KIND_CODE,
    "input_encoding": ENCODING_CODE,
}


def sweep(
    chip: Chip,
    input_activity: float = K.INPUT_ACTIVITY,
    weight_activity: float = K.WEIGHT_ACTIVITY,
    **axes: Sequence[Any],
) -> dict[str, np.ndarray]:
    """Peak figures over the Cartesian product of chip variants, vectorised.

    ``axes`` map the flat ``Chip`` field names (``analogue.config.chips.FLAT_FIELDS``) to the values to
    try, e.g.
    ``sweep(hermes(), adc_bits=range(4, 11), array_rows=[128, 256, 512], node_nm=[28, 14, 7])``.
    Numeric fields and ``adc_kind``/``input_encoding`` vary freely; ``device`` switches the
    technology as ``Chip.replace(device=...)`` does (its device constants and full-scale
    conductance). Each variant is validated as a ``Chip`` would be only for the first point of each
    axis value (cheap); every design point is evaluated in one NumPy pass.

    Returns a dict of 1-d arrays, one entry per design point: the axis values and ``tops``,
    ``tops_per_W``, ``power_W``, ``area_mm2``, ``energy_per_mac_pJ``, ``mvm_latency_s``.
    """
    if not axes:
        raise ConfigError("sweep: give at least one axis, e.g. adc_bits=[4, 6, 8]")
    known = set(FLAT_FIELDS) - {"name", "digital", "version"}
    for name, values in axes.items():
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"sweep: unknown Chip field {name!r}{hint}")
        vals = list(values)
        if not vals:
            raise ConfigError(f"sweep: axis {name!r} is empty")
        for v in vals:  # validate each axis value once, on the base chip
            chip.replace(**{name: v})
    names = list(axes)
    grids = np.meshgrid(*[np.arange(len(list(axes[n]))) for n in names], indexing="ij")
    n_points = grids[0].size
    base = chip_params(chip)
    p = {k: np.full(n_points, float(v)) for k, v in base.items()}
    out: dict[str, np.ndarray] = {}
    dev_g_max = np.full(n_points, K.DEVICES[chip.device]["g_max_uS"])  # what g_max_uS=None takes
    # the device first, whatever the axes' order: it brings its conductance window, which a
    # g_max_uS axis then overrides (as Chip.replace applies device before g_max_uS)
    for name, idx in sorted(zip(names, grids), key=lambda axis: axis[0] != "device"):
        vals = list(axes[name])
        flat = idx.ravel()
        if name == "device":
            # a technology brings its conductance window (as Chip.replace(device=...) does); the
            # chip's own cell area wins over the device table
            for key in ("g_min_uS", "g_max_uS"):
                table = np.array([K.DEVICES[v][key] for v in vals])
                p[key] = table[flat]
            dev_g_max = p["g_max_uS"].copy()
            p["device"] = np.array([list(K.DEVICES).index(v) for v in vals], dtype=float)[flat]
            out[name] = np.array(vals, dtype=object)[flat]
            continue
        if name in _CATEGORICAL:
            codes = np.array([_CATEGORICAL[name][v] for v in vals], dtype=np.float64)
            key = "encoding" if name == "input_encoding" else name
            p[key] = codes[flat]
            out[name] = np.array(vals, dtype=object)[flat]
            continue
        key = {"array_rows": "rows", "array_cols": "cols"}.get(name, name)
        if key not in p:
            raise ConfigError(f"sweep: field {name!r} cannot be swept (not numeric)")
        if name == "c_wire_fF_per_cell" and any(v is None for v in vals):
            raise ConfigError("sweep: c_wire_fF_per_cell=None (from the cell pitch) is not an axis"
                              " value; set it on the chip and leave the axis out")
        arr = np.array([math.nan if v is None else float(v) for v in vals])[flat]
        if name == "g_max_uS":  # None: the (swept) technology's, as in Chip.replace
            arr = np.where(np.isnan(arr), dev_g_max, arr)
        p[key] = arr
        out[name] = arr
    # the off state follows the (swept) device and full scale, as chip_params derives it
    kinds = list(K.DEVICES)
    dev_idx = p["device"].astype(int)
    dev_min = np.array([K.DEVICES[k]["g_min_uS"] for k in kinds])[dev_idx]
    dev_max = np.array([K.DEVICES[k]["g_max_uS"] for k in kinds])[dev_idx]
    p["g_min_uS"] = off_state_uS(dev_min, dev_max, p["g_max_uS"])
    if chip.organisation.cell_area_um2 is None:  # the (swept) device's cell at the (swept) node
        p["cell_area_um2"] = default_cell_area_um2(p["device"], p["node_nm"])
    if chip.electrical.c_wire_fF_per_cell is None and "c_wire_fF_per_cell" not in axes:
        p["c_wire_fF_per_cell"] = pitch_c_wire_fF(p["cell_area_um2"])  # from the (swept) pitch
    r = evaluate(p, input_activity, weight_activity)
    out = {name: out[name] for name in names}  # the axes in the order given
    out.update(
        tops=r["tops"],
        tops_per_W=r["tops_per_W"],
        power_W=r["power_W"],
        area_mm2=r["area_mm2"]["total"],
        energy_per_mac_pJ=r["energy_per_mac_J"] * 1e12,
        mvm_latency_s=r["mvm_latency_s"],
        adc_share=r["mvm_energy_J"]["adc"] / np.maximum(sum(r["mvm_energy_J"].values()), 1e-30),
    )
    return out


def sweep_points(chips: Sequence[Chip]) -> dict[str, np.ndarray]:
    """Peak figures of an explicit list of chips in one vectorised pass."""
    r = evaluate(chip_params(list(chips)))
    return {
        "tops": r["tops"],
        "tops_per_W": r["tops_per_W"],
        "area_mm2": r["area_mm2"]["total"],
        "energy_per_mac_pJ": r["energy_per_mac_J"] * 1e12,
    }
