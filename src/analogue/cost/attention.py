"""What analog attention costs per inference: the writes of ``K^T`` and ``V`` into arrays for every
sequence, their wear, and the conversions of the two products, against the same two products on a
digital unit.

For a transformer of ``layers`` layers, ``heads`` heads of ``d_head`` and a sequence of ``seq``
tokens, one inference (one sequence) writes per layer and head a ``d_head x seq`` array (``K^T``)
and a ``seq x d_head`` array (``V``), each weight a differential pair of two cells (both written:
one to its target, the other reset to ``g_min``). Hence

- cells written ``= 2 pairs-cells x 2 arrays x seq x d_head x heads x layers``;
- write energy ``= cells x program_J`` and write time ``= layers x max(d_head, seq) x
  program_row_s`` (arrays of one layer program in parallel, row by row; layers follow each other,
  since a layer's ``K`` and ``V`` depend on the layer before), both from the device's row of
  ``analogue.config.technology.DEVICES``;
- every cell is rewritten once per inference, so with endurance ``C`` cycles
  (``ENDURANCE_CYCLES``) one set of arrays lasts ``C`` inferences, ``C / (r x 86,400)`` days at
  ``r`` inferences per second;
- conversions: ``Q K^T`` gives ``seq x seq`` outputs per head and layer, each converted once per row
  block of ``d_head`` rows; ``A V`` gives ``seq x d_head``, once per row block of ``seq`` rows; each
  costs ``cost.components.adc_energy_J`` (DAC drive and array read energy, small beside the ADC at
  these sizes, are left out);
- digital attention: ``2 x seq^2 x d_head x heads x layers`` multiply-accumulates at
  ``cost.components.digital_op_energy_J`` each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from analogue._util.validate import ConfigError, check_positive
from analogue.config.chips import ADC_KIND_CODE
from analogue.config.technology import DEVICES, ENDURANCE_CYCLES
from analogue.cost import components as C
from analogue.nn.attention import ANALOG_ATTENTION

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class AttentionCost:
    """Per inference (one sequence): analog attention's writes, conversions and wear, and the
    digital alternative. Energies in J, times in s."""

    device_kind: str
    cells_written: int
    write_energy_J: float
    write_time_s: float
    conversions: int
    convert_energy_J: float
    analog_energy_J: float
    digital_macs: int
    digital_energy_J: float
    endurance_cycles: float
    lifetime_inferences: float
    lifetime_days: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"attention_cost: {name} must be an int >= 1, got {v!r}")
    return v


def attention_cost(*, seq: int, d_head: int, heads: int, layers: int, device_kind: str,
                   adc_bits: int = 8, dac_bits: int = 8, tile_rows: int = 256, adc_kind: str = "sar",
                   adc_rate_Hz: float = 1e9, node_nm: float = 14.0, digital_bits: int = 8,
                   inferences_per_s: float | None = None) -> AttentionCost:
    """The cost of one inference's attention products (see the module docstring for every term).

    ``device_kind``: a key of ``analogue.config.technology.DEVICES``. ``inferences_per_s``: the
    rate the lifetime in days is stated at (``None``: no days). ``dac_bits`` is accepted for the
    record (the DAC's energy is not counted).
    """
    for name, v in (("seq", seq), ("d_head", d_head), ("heads", heads), ("layers", layers),
                    ("adc_bits", adc_bits), ("dac_bits", dac_bits), ("tile_rows", tile_rows),
                    ("digital_bits", digital_bits)):
        _check_int(v, name)
    if device_kind not in DEVICES:
        raise ConfigError(f"attention_cost: device_kind must be one of {sorted(DEVICES)}, got {device_kind!r}")
    if adc_kind not in ADC_KIND_CODE:
        raise ConfigError(f"attention_cost: adc_kind must be one of {sorted(ADC_KIND_CODE)}, got {adc_kind!r}")
    check_positive(adc_rate_Hz, "attention_cost.adc_rate_Hz")
    check_positive(node_nm, "attention_cost.node_nm")
    if inferences_per_s is not None:
        check_positive(inferences_per_s, "attention_cost.inferences_per_s")
    dev = DEVICES[device_kind]
    per_head = seq * d_head
    cells = 2 * 2 * per_head * heads * layers
    write_J = cells * dev["program_J"]
    write_s = layers * max(d_head, seq) * dev["program_row_s"]
    conv = heads * layers * (seq * seq * math.ceil(d_head / tile_rows) + seq * d_head * math.ceil(seq / tile_rows))
    vdd = float(C.node_vdd_V(node_nm))
    e_conv = float(C.adc_energy_J(ADC_KIND_CODE[adc_kind], adc_bits, adc_rate_Hz, node_nm, vdd))
    conv_J = conv * e_conv
    macs = 2 * seq * seq * d_head * heads * layers
    dig_J = macs * float(C.digital_op_energy_J(digital_bits, node_nm))
    cycles = ENDURANCE_CYCLES[device_kind]
    days = None if inferences_per_s is None else cycles / (inferences_per_s * SECONDS_PER_DAY)
    return AttentionCost(device_kind=device_kind, cells_written=cells, write_energy_J=write_J,
                         write_time_s=write_s, conversions=conv, convert_energy_J=conv_J,
                         analog_energy_J=write_J + conv_J, digital_macs=macs, digital_energy_J=dig_J,
                         endurance_cycles=cycles, lifetime_inferences=cycles, lifetime_days=days)


def _add(a: AttentionCost | None, b: AttentionCost) -> AttentionCost:
    """The cost of both (one inference runs ``a``'s and ``b``'s attention layers in sequence)."""
    if a is None:
        return b
    d = {k: getattr(a, k) + getattr(b, k) for k in ("cells_written", "write_energy_J", "write_time_s",
                                                     "conversions", "convert_energy_J", "analog_energy_J",
                                                     "digital_macs", "digital_energy_J")}
    cycles = min(a.endurance_cycles, b.endurance_cycles)
    days = None if a.lifetime_days is None or b.lifetime_days is None else min(a.lifetime_days, b.lifetime_days)
    kind = a.device_kind if a.device_kind == b.device_kind else "mixed"
    return AttentionCost(device_kind=kind, endurance_cycles=cycles, lifetime_inferences=cycles,
                         lifetime_days=days, **d)


def program_attention_cost(program: Any, inferences_per_s: float | None = None) -> AttentionCost | None:
    """The analog attention of a compiled program (``an.compile`` of a model after
    ``an.analog_attention_(model, AttentionConfig(mode="analog", ...))``), one inference: the sum of
    :func:`attention_cost` over its analog attention modules (``None`` when it has none, or when the
    program has no executable model, as after ``from_json``). Each module's sequence length is the
    tokens per inference into its compiled input projection (``query``, ``c_attn``); the device
    kind, ADC and DAC bits and tile rows are those of its ``scores`` config (a device kind without a
    write cost model, such as ``ideal``, takes the chip's array device); ADC kind and node are the
    chip's."""
    model = getattr(program, "model", None)
    if model is None:
        return None
    chip = program.chip
    total: AttentionCost | None = None
    for name, mod in model.named_modules():
        if not isinstance(mod, ANALOG_ATTENTION) or not mod.attention_cfg.analog:
            continue
        proj = f"{name}.{mod.projection}" if name else mod.projection
        plans = [lp for lp in program.layers if lp.name == proj or lp.module == proj]
        if not plans:
            raise ConfigError(f"program_attention_cost: the program has no compiled layer {proj!r} for the "
                              f"analog attention module {name!r}; compile the model with analog attention on")
        heads, d_head = mod.heads_and_dim
        cfg = mod.attention_cfg.scores
        kind = cfg.device.kind if cfg.device.kind in DEVICES and cfg.device.kind != "ideal" else chip.array.device.kind
        seq = max(int(plans[0].input_elems) // int(mod.config.hidden_size), 1)
        total = _add(total, attention_cost(seq=seq, d_head=d_head, heads=heads, layers=1, device_kind=kind,
                                           adc_bits=cfg.adc.bits or 8, dac_bits=cfg.dac.bits or 8,
                                           tile_rows=cfg.tile.rows, adc_kind=chip.periphery.adc_kind,
                                           node_nm=chip.node_nm, inferences_per_s=inferences_per_s))
    return total


__all__ = ["AttentionCost", "attention_cost", "program_attention_cost"]
