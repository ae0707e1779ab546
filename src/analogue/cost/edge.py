"""Edge costs: the energy of a sensor frame with the first convolution in the pixels against a
conventional sensor, the energy of one pulsed in-memory update, and digital fine-tuning on an
edge CPU. Pure functions; component models from :mod:`analogue.cost.components` (the ADC is its
converter model, not a constant of this module). Sources in docs/references.md, "At the edge".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from analogue.cost import components as C
from analogue.cost import constants as K
from analogue.sensor.config import InSensorConfig

#: Pixel read-out onto its column: a source follower biased at ~1 uA settling for ~1 us from the
#: 2.8 V pixel supply (EMVA-class 3T/4T pixels; column bias 0.5-5 uA, settling 0.5-5 us: Fossum &
#: Hondongwa, "A review of the pinned photodiode for CCD and CMOS image sensors", IEEE J. Electron
#: Devices Soc. 2, 2014). Assumed, labelled: about 2.8 pJ per pixel read.
PIXEL_BIAS_A = 1e-6
PIXEL_SETTLE_S = 1e-6
PIXEL_SUPPLY_V = 2.8
#: Charge-domain MAC: the pixel's charge shared onto a weighted capacitor bank of unit
#: capacitors ``SAR_C_UNIT_F`` (the same unit as the SAR's capacitive DAC), swung over ~1 V.
MAC_SWING_V = 1.0
#: ADC sample rate used for the converter model at the edge (column-parallel converters, ~10 MS/s).
EDGE_ADC_FS_HZ = 10e6
#: An edge CPU (in-order Arm-class core, 128-bit SIMD: 4 fp32 lanes) spends ~70 pJ of instruction
#: overhead per instruction at 45 nm (Horowitz, ISSCC 2014, Fig. 1.1.9: instruction fetch,
#: decode, register file, control); a fused fp32 multiply-add is one instruction for 4 lanes.
CPU_PJ_PER_INSTRUCTION_45 = 70.0
CPU_SIMD_LANES = 4
CPU_NODE_NM = 28.0


def pixel_read_energy_J(bias_on_s: float = PIXEL_SETTLE_S, supply_V: float = PIXEL_SUPPLY_V) -> float:
    """One pixel read onto its column line: the column bias current for ``bias_on_s`` (the settling
    time when the bias is duty-cycled; the whole row time when it is not), J."""
    return PIXEL_BIAS_A * bias_on_s * supply_V


def adc_conversion_J(bits: int, node_nm: float) -> float:
    """One SAR conversion at :data:`EDGE_ADC_FS_HZ` at the sensor's node, J (the cost model's
    converter model)."""
    return float(C.adc_energy_J(C.ADC_KIND_CODE["sar"], bits, EDGE_ADC_FS_HZ, node_nm,
                                C.node_vdd_V(node_nm)))


def charge_mac_J(weight_bits: int) -> float:
    """One charge-domain multiply-accumulate: on average half of the ``2**(bits-1)`` unit
    capacitors of a weight charged over the swing, J."""
    return 0.5 * 2 ** (weight_bits - 1) * K.SAR_C_UNIT_F * MAC_SWING_V**2


@dataclass(frozen=True)
class FrameEnergy:
    """Energy of one frame by component, J, for the in-sensor and the conventional pipeline."""

    pixels: int
    macs: int
    outputs: int
    in_sensor_J: dict[str, float]
    conventional_J: dict[str, float]

    @property
    def in_sensor_pJ_per_pixel(self) -> float:
        return sum(self.in_sensor_J.values()) / self.pixels * 1e12

    @property
    def conventional_pJ_per_pixel(self) -> float:
        return sum(self.conventional_J.values()) / self.pixels * 1e12

    @property
    def saving(self) -> float:
        """Conventional over in-sensor energy per frame."""
        return sum(self.conventional_J.values()) / sum(self.in_sensor_J.values())

    def to_dict(self) -> dict[str, Any]:
        return {"pixels": self.pixels, "macs": self.macs, "outputs": self.outputs,
                "in_sensor_J": dict(self.in_sensor_J), "conventional_J": dict(self.conventional_J),
                "in_sensor_pJ_per_pixel": self.in_sensor_pJ_per_pixel,
                "conventional_pJ_per_pixel": self.conventional_pJ_per_pixel, "saving": self.saving}


def frame_energy(height: int, width: int, kernel: int, stride: int, out_channels: int,
                 cfg: InSensorConfig, weight_bits: int = 8, bias_on_s: float = PIXEL_SETTLE_S,
                 supply_V: float = PIXEL_SUPPLY_V) -> FrameEnergy:
    """One frame of ``height x width`` pixels with a ``kernel x kernel``/``stride`` convolution of
    ``out_channels`` features (no padding).

    In-sensor: every pixel read once, one charge MAC per weight use, one ``adc_bits`` conversion
    per output feature. Conventional: every pixel read and converted at ``pixel_adc_bits``, the
    frame written to and read from an on-sensor SRAM buffer, the convolution as 8-bit digital
    MACs (2 ops each) at the sensor's node. Frame transfer off the sensor is not counted.
    ``bias_on_s``: how long each pixel's column bias draws current (:func:`pixel_read_energy_J`).
    """
    for name, v in (("height", height), ("width", width), ("kernel", kernel), ("stride", stride),
                    ("out_channels", out_channels)):
        if not (isinstance(v, int) and v >= 1):
            raise ValueError(f"frame_energy: {name} must be an integer >= 1, got {v!r}")
    oh, ow = (height - kernel) // stride + 1, (width - kernel) // stride + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"frame_energy: kernel {kernel} does not fit a {height}x{width} frame")
    pixels = height * width
    outputs = oh * ow * out_channels
    macs = outputs * kernel * kernel
    node = cfg.node_nm
    adc_bits = cfg.adc_bits if cfg.adc_bits is not None else 8
    w_bits = cfg.ratio_bits if cfg.ratio_bits is not None else weight_bits
    read = pixels * pixel_read_energy_J(bias_on_s, supply_V)
    in_sensor = {"pixel read": read, "charge MACs": macs * charge_mac_J(w_bits),
                 "ADCs": outputs * adc_conversion_J(adc_bits, node)}
    frame_bits = pixels * cfg.pixel_adc_bits
    sram = float(C.sram_energy_per_bit_J(max(frame_bits // 8, 1), node))
    conventional = {"pixel read": read, "ADCs": pixels * adc_conversion_J(cfg.pixel_adc_bits, node),
                    "frame buffer": 2 * frame_bits * sram,
                    "digital MACs": 2 * macs * float(C.digital_op_energy_J(8, node))}
    return FrameEnergy(pixels, macs, outputs, in_sensor, conventional)


# -- published in-sensor convolution chips -------------------------------------------------------
#: Published analog in-sensor convolution chips (docs/references.md, "At the edge"): the
#: organisation the model is built from and the measured energy per pixel per frame (chip power /
#: (frame rate x pixels)). ``None``: not available in the sources read for this table. ``venue``:
#: where it was published; ``assumed``: the organisation fields that are our assumptions (the
#: others are the paper's). Young et al.'s gradients (log ratios of neighbouring pixels, digitised
#: by a ratio-to-digital converter at 1.5 or 2.75 bits) are modelled as a 2x2/1 kernel of two
#: features (horizontal and vertical) at 2 bits; the kernel counts 4 charge MACs per output where
#: the chip uses 2 pixels (a small term). Lefebvre et al. publish their energy per pixel per frame
#: *per filter* at the chip's most efficient operating point: the entry is one filter
#: (``features`` 1) with ternary (1.5-bit) weights held as 2-bit ratios; its filter size, stride,
#: frame rate and pixel supply at that point are not in the sources read (assumed).
SENSOR_CHIPS: tuple[dict[str, Any], ...] = (
    {"chip": "Choi et al., Sensors 2020 (always-on analog CNN CIS)", "node_nm": 110.0, "height": 120,
     "width": 160, "kernel": 3, "stride": 1, "features": 1, "adc_bits": 4, "pixel_adc_bits": 10,
     "fps": 120.0, "supply_V": 3.3, "published_pJ_per_pixel": 1.12e-3 / (120 * 160 * 120) * 1e12,
     "venue": "Sensors", "assumed": ("kernel", "stride", "features", "pixel_adc_bits")},
    {"chip": "JSSC 2021, 51 pJ/pixel 4x compressive CIS (charge-domain column MAC)", "node_nm": 65.0,
     "height": 480, "width": 640, "kernel": 2, "stride": 2, "features": 1, "adc_bits": 10,
     "pixel_adc_bits": 10, "fps": 30.0, "supply_V": 2.8, "published_pJ_per_pixel": 51.0,
     "venue": "JSSC", "assumed": ("height", "width", "fps", "node_nm", "supply_V", "adc_bits", "pixel_adc_bits")},
    {"chip": "Hsu et al., ISSCC 2022 / JSSC 2023 (0.8 V IVS, 3x3/3 conv in sensor)", "node_nm": 180.0,
     "height": 126, "width": 126, "kernel": 3, "stride": 3, "features": 8, "adc_bits": 8,
     "pixel_adc_bits": 8, "fps": 250.0, "supply_V": 0.8, "published_pJ_per_pixel": 33.8,
     "venue": "ISSCC/JSSC", "assumed": ("features", "adc_bits", "pixel_adc_bits")},
    {"chip": "Young et al., ISSCC 2019 / JSSC 2019 (log-gradient QVGA, analog column gradients)",
     "node_nm": 130.0, "height": 240, "width": 320, "kernel": 2, "stride": 1, "features": 2, "adc_bits": 2,
     "pixel_adc_bits": 8, "fps": 30.0, "supply_V": 2.8, "published_pJ_per_pixel": 99.0,
     "venue": "ISSCC/JSSC", "assumed": ("fps", "supply_V", "features")},
    {"chip": "Lefebvre et al., ISSCC 2021 (SleepSpotter: QQVGA, in-sensor current-domain ternary MACs)",
     "node_nm": 65.0, "height": 120, "width": 160, "kernel": 3, "stride": 3, "features": 1, "weight_bits": 2,
     "adc_bits": 8, "pixel_adc_bits": 8, "fps": 30.0, "supply_V": 2.5, "published_pJ_per_pixel": 2.5,
     "venue": "ISSCC", "assumed": ("kernel", "stride", "fps", "supply_V", "adc_bits", "pixel_adc_bits")},
)


def sensor_validation_rows() -> list[dict[str, Any]]:
    """The model against :data:`SENSOR_CHIPS`: energy per pixel per frame with the column bias
    duty-cycled (on for the settling time only: a lower bound) and always on (for the whole row
    time at the published frame rate: an upper bound), the published figure, the error of the
    bounds' geometric mean against it (one number per chip, no fitting) and the error of the
    duty-cycled bound alone (it does not depend on the frame rate, which some entries assume).
    ``weight_bits`` of an entry (default: none, 8-bit weights) sets the charge-sharing ratio bits."""
    rows = []
    for c in SENSOR_CHIPS:
        cfg = InSensorConfig(adc_bits=c["adc_bits"], pixel_adc_bits=c["pixel_adc_bits"], node_nm=c["node_nm"],
                             ratio_bits=c.get("weight_bits"))
        geo = (c["height"], c["width"], c["kernel"], c["stride"], c["features"], cfg)
        low = frame_energy(*geo, supply_V=c["supply_V"]).in_sensor_pJ_per_pixel
        row_s = 1.0 / (c["fps"] * c["height"])
        high = frame_energy(*geo, bias_on_s=row_s, supply_V=c["supply_V"]).in_sensor_pJ_per_pixel
        pub = c["published_pJ_per_pixel"]
        rows.append({"chip": c["chip"], "model pJ/px (bias duty-cycled)": low,
                     "model pJ/px (bias always on)": high,
                     "published pJ/px": pub if pub is not None else float("nan"),
                     "venue": c["venue"], "assumed": ", ".join(c["assumed"]) or "-",
                     "published within bounds": (low <= pub <= high) if pub is not None else "n/a",
                     "error (bounds' geometric mean)": (math.sqrt(low * high) / pub - 1.0) if pub else float("nan"),
                     "error (duty-cycled bound)": (low / pub - 1.0) if pub else float("nan")})
    return rows


# -- training at the edge -------------------------------------------------------------------------
def pulsed_update_energy_J(pulses: float, rows: int, cols: int, pulse_slots: int, pulse_J: float,
                           node_nm: float, c_wire_fF_per_cell: float = K.C_WIRE_FF_PER_CELL_DEFAULT,
                           v_write_V: float = 1.0) -> dict[str, float]:
    """One pulsed outer-product update of a ``rows x cols`` array, J by component: the device
    pulses (``pulses x pulse_J``), the row and column pulse drivers (one flip-flop per line per
    pulse slot) and the lines charged once per slot (``rows x cols`` cell segments of
    ``c_wire_fF_per_cell`` at ``v_write_V``, row and column lines)."""
    if pulses < 0 or pulse_slots < 0:
        raise ValueError(f"pulsed_update_energy_J: pulses and pulse_slots must be >= 0, got {pulses}, {pulse_slots}")
    drivers = (rows + cols) * pulse_slots * float(C.flipflop_energy_J(node_nm))
    lines = 2 * pulse_slots * rows * cols * c_wire_fF_per_cell * 1e-15 * v_write_V**2
    return {"device pulses": pulses * pulse_J, "drivers": drivers, "lines": lines}


def cpu_mac_energy_J(node_nm: float = CPU_NODE_NM) -> float:
    """One fp32 multiply-add on an edge CPU's SIMD unit, J: the instruction overhead shared by
    its lanes plus the arithmetic (Horowitz 2014 at 45 nm, scaled to ``node_nm``)."""
    scale = float(C.node_energy_scale(node_nm))
    arith = (K.FMULT16_PJ_45 * 4 + K.FADD16_PJ_45 * 2)  # fp32 ~ 4x the fp16 multiply, 2x the add
    return (CPU_PJ_PER_INSTRUCTION_45 / CPU_SIMD_LANES + arith) * 1e-12 * scale


def digital_update_energy_J(macs_forward: int, batch: int = 1, node_nm: float = CPU_NODE_NM) -> float:
    """Fine-tuning one batch digitally on an edge CPU: forward, input gradients and weight
    gradients (3x the forward MACs) per sample, J."""
    return 3 * macs_forward * batch * cpu_mac_energy_J(node_nm)


def updates_per_Wh(update_J: float) -> float:
    """Updates one watt-hour (3600 J) of battery pays for."""
    return 3600.0 / update_J if update_J > 0 else float("inf")


def max_pulses_for_budget(budget_J: float, shapes: list[tuple[int, int]], pulse_J: float, node_nm: float,
                          c_wire_fF_per_cell: float = K.C_WIRE_FF_PER_CELL_DEFAULT) -> int:
    """The most pulses per device per update that keep one update of arrays of ``shapes``
    (rows, cols) within ``budget_J`` even if every device is pulsed every slot (the worst case),
    at least 1."""
    if not budget_J > 0:
        raise ValueError(f"max_pulses_for_budget: budget_J must be > 0, got {budget_J!r}")
    per_slot = sum(sum(pulsed_update_energy_J(r * c, r, c, 1, pulse_J, node_nm, c_wire_fF_per_cell).values())
                   for r, c in shapes)
    return max(1, int(budget_J // per_slot))


def update_energy_J(pulses: float, shapes: list[tuple[int, int]], pulse_slots: int, pulse_J: float,
                    node_nm: float, c_wire_fF_per_cell: float = K.C_WIRE_FF_PER_CELL_DEFAULT) -> dict[str, float]:
    """The energy the cost model charges for one pulsed update of arrays of ``shapes`` (rows,
    cols), J by component: ``pulses`` device pulses in all (``pulses x pulse_J``) plus the
    periphery of every array clocked for ``pulse_slots`` slots (:func:`pulsed_update_energy_J`)."""
    e = {"device pulses": pulses * pulse_J, "drivers": 0.0, "lines": 0.0}
    for r, c in shapes:
        per = pulsed_update_energy_J(0.0, r, c, pulse_slots, pulse_J, node_nm, c_wire_fF_per_cell)
        e["drivers"] += per["drivers"]
        e["lines"] += per["lines"]
    return e


def budget_slots(budget_J: float, shapes: list[tuple[int, int]], node_nm: float, most: int = 31,
                 c_wire_fF_per_cell: float = K.C_WIRE_FF_PER_CELL_DEFAULT) -> int:
    """Pulse slots per update under an energy budget: ``most``, or fewer so that the periphery
    (drivers and lines, :func:`update_energy_J` without pulses) takes at most half of
    ``budget_J``, leaving the rest for device pulses; at least 1."""
    if not budget_J > 0:
        raise ValueError(f"budget_slots: budget_J must be > 0, got {budget_J!r}")
    per_slot = sum(update_energy_J(0.0, shapes, 1, 0.0, node_nm, c_wire_fF_per_cell).values())
    return max(1, min(most, int(0.5 * budget_J // per_slot)))


def pulses_for_budget(budget_J: float, shapes: list[tuple[int, int]], pulse_slots: int, pulse_J: float,
                      node_nm: float, c_wire_fF_per_cell: float = K.C_WIRE_FF_PER_CELL_DEFAULT) -> int:
    """The most device pulses one update may apply so that :func:`update_energy_J` (pulses plus
    the periphery of ``pulse_slots`` slots) stays within ``budget_J``."""
    periphery = sum(update_energy_J(0.0, shapes, pulse_slots, pulse_J, node_nm, c_wire_fF_per_cell).values())
    if not budget_J > periphery:
        raise ValueError(f"pulses_for_budget: the budget {budget_J:.3g} J does not cover the periphery of "
                         f"{pulse_slots} pulse slots ({periphery:.3g} J); raise the budget or use fewer slots")
    return int((budget_J - periphery) // pulse_J)


#: A CR2032 lithium coin cell: 225 mAh at 3.0 V nominal (Energizer CR2032 datasheet), 0.675 Wh.
COIN_CELL_WH = 0.225 * 3.0
