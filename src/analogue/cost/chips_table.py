"""The validation table: published analog / mixed-signal in-memory-computing chips and macros.

Each :class:`TableEntry` holds the ``Chip`` built from the chip's published organisation (array
size, cells per weight, input encoding, ADC kind and bits, node, supply, published access or MVM
time), the figures as published (TOPS, TOPS/W, area, with the precision they were measured at),
its citation (a key of docs/references.md section 9) and which ``Chip`` fields and figures are
stated in the paper versus assumed here. Nothing in an entry is a per-chip correction factor: the
electrical values a paper does not give take the device kind's typical values
(``analogue.config.technology.DEVICES``) or the defaults of ``analogue.config.chips.Electrical``.

Figures were transcribed from the papers' abstracts and tables as the authors of this module
know them; every figure the module is not sure of is listed under ``assumed`` with a reason, and
``None`` means not published (that figure is not validated).

A chip's operating points (NeuRRAM's two, HERMES' one- and four-phase modes) share a ``group``:
leave-one-out validation leaves the whole chip out.
"""

from __future__ import annotations

from dataclasses import dataclass

from analogue.config.chips import (
    Chip,
    DigitalUnit,
    Electrical,
    Organisation,
    Periphery,
    array_config,
    hermes,
    mythic_m1076,
    neurram,
)
from analogue.cost.components import sram_cell_area_um2


@dataclass(frozen=True)
class TableEntry:
    """One validation point: a chip built from its published organisation and its figures.

    ``tops``, ``tops_per_W``, ``area_mm2``: as published (``None``: not published, not
    validated); ``precision``: input/weight/output bits the figures were measured at;
    ``citation``: docs/references.md key; ``stated`` / ``assumed``: which organisation fields and
    figures come from the paper and which are assumed here (with the reason); ``group``: the chip
    (operating points of one chip share it).
    """

    key: str
    group: str
    chip: Chip
    technology: str
    node_nm: float
    tops: float | None
    tops_per_W: float | None
    area_mm2: float | None
    precision: str
    citation: str
    stated: tuple[str, ...]
    assumed: tuple[str, ...]


def _macro(
    name: str,
    node_nm: float,
    device: str,
    rows: int,
    cols: int,
    *,
    dac_bits: int,
    adc_bits: int,
    weight_bits: int,
    cells_per_weight: int,
    encoding: str,
    adc_kind: str,
    columns_per_adc: int,
    mvm_time_s: float | None = None,
    clock_hz: float = 1.0e9,
    t_read_s: float = 10.0e-9,
    supply_V: float = 0.8,
    v_read_V: float = 0.2,
    read_supply_V: float | None = None,
    n_cores: int = 1,
    arrays_per_core: int = 1,
    sram_bytes_per_core: int = 0,
    g_max_uS: float | None = None,
    gated: bool = True,
    post_ops: float = 0.0,
    bias_uW: float = 0.0,
    weight_mapping: str = "unsigned",
    slice_combining: str = "digital",
    bits_per_cycle: int | None = None,
    sram_cell: str | None = None,
) -> Chip:
    """A macro or chip from its organisation; a macro's published figures exclude a digital unit
    (``post_ops=0``), a buffer (``sram_bytes_per_core=0``) and an on-chip network (no NoC energy).
    Line capacitance from the cell pitch (``c_wire_fF_per_cell=None``). ``sram_cell``: the SRAM
    compute cell the paper states (``SRAM_CELL_X6T``; ``None``: the default cell)."""
    array = array_config(device, rows=rows, cols=cols, dac_bits=dac_bits, adc_bits=adc_bits,
                         g_max_uS=g_max_uS)
    if bits_per_cycle is not None:
        array = array.replace(**{"dac.bits_per_cycle": bits_per_cycle})
    return Chip(
        name=name,
        node_nm=node_nm,
        organisation=Organisation(n_cores=n_cores, arrays_per_core=arrays_per_core,
                                  weight_bits=weight_bits, cells_per_weight=cells_per_weight,
                                  sram_bytes_per_core=sram_bytes_per_core,
                                  weight_mapping=weight_mapping,
                                  slice_combining=slice_combining,
                                  cell_area_um2=None if sram_cell is None else
                                  float(sram_cell_area_um2(node_nm, sram_cell))),
        array=array,
        periphery=Periphery(input_encoding=encoding, adc_kind=adc_kind,
                            columns_per_adc=columns_per_adc, clock_hz=clock_hz,
                            mvm_time_s=mvm_time_s, t_read_s=t_read_s),
        electrical=Electrical(v_read_V=v_read_V, read_supply_V=read_supply_V, supply_V=supply_V,
                              gated_cells=gated, bias_uW_per_column=bias_uW,
                              c_wire_fF_per_cell=None, noc_pJ_per_bit_mm=0.0),
        digital=DigitalUnit(ops_per_s=1e9, node_nm=node_nm, post_ops_per_output=post_ops),
    )


#: NeuRRAM's 48 cores: 1,270 um2 a neuron, 256 neurons, 28 % of a core (Wan et al. 2022, Fig. 11f).
_NEURRAM_AREA_MM2 = 48 * 1270e-6 * 256 / 0.28

_SRAM_CELL = "SRAM cells: the bit line swings about the supply (v_read = supply), charge of ~1 fF per cell per read (device table)"
_SRAM_10T1C = ("cell area: the multiplying bit cell (10T with its capacitor above it), 1.8x the "
               "node's published 6T cell (Valavi et al. 2019; config.technology.SRAM_CELL_X6T)")


def table() -> list[TableEntry]:
    """The validation table (docs/cost.md prints it). Built fresh on every call (cheap)."""
    e: list[TableEntry] = []
    # -- PCM --------------------------------------------------------------------------------------
    for four in (False, True):
        ch = hermes(four_phase=four).replace(core_area_mm2=None)
        e.append(TableEntry(
            key=ch.name, group="hermes", chip=ch, technology="PCM", node_nm=14.0,
            tops=16.1 if four else 63.1, tops_per_W=2.48 if four else 9.76,
            area_mm2=64 * 0.635, precision="8b in / 8b weight / 8b out",
            citation="LeGallo2023",
            stated=("64 cores x 256x256 PCM", "8-bit PWM inputs at 1 GHz", "CCO ADC per column",
                    "130 ns MVM phase", "core area 0.635 mm2 (area compared over 64 cores)",
                    "column converter 4 um x 100 um: read-voltage regulator 30 um, "
                    "current-to-frequency converter 26 um, two 12-bit ripple counters 44 um "
                    "(adc_max_bits=12); 128 converters on each side of the array (odd and even "
                    "bit lines); 8T4R unit cells (four PCM devices, eight transistors): Le "
                    "Gallo et al. 2023, the core figure (unit cell, array, converter layout), "
                    "read from a text description of the figure, not from the drawing"),
            assumed=("0.2 V read, current from the 0.8 V supply", "25 uS cell full scale",
                     "area: the unit cell is sized as one 50 F2 PCM cross-point and the core's "
                     "diagonal selection decoder, programming circuits, input D/A converters "
                     "and local digital unit by the generic models: their published sizes were "
                     "not found, which leaves the core about 6x below 0.635 mm2"),
        ))
    e.append(TableEntry(
        key="ibm-14nm-34tile", group="ambrogio2023",
        chip=_macro("ibm-14nm-34tile", 14.0, "pcm", 512, 2048, dac_bits=8, adc_bits=8,
                    weight_bits=8, cells_per_weight=4, encoding="pwm", adc_kind="ramp",
                    columns_per_adc=1, clock_hz=1.0e9, n_cores=34, supply_V=0.8,
                    read_supply_V=0.8, post_ops=0.0, weight_mapping="differential"),
        technology="PCM", node_nm=14.0, tops=None, tops_per_W=12.4, area_mm2=None,
        precision="8b in (durations) / 4 PCM per weight / 8b out (durations)",
        citation="Ambrogio2023",
        stated=("34 tiles x 512x2048 PCM", "4 PCM per weight (G+, g+ add; G-, g- subtract)",
                "8-bit pulse-duration inputs",
                "charge integrated on capacitors and converted to durations (a ramp comparison)",
                "12.4 TOPS/W chip-sustained"),
        assumed=("1 GHz duration clock", "ramp converter counted as 8-bit ramp ADC",
                 "TOPS and area not used (not transcribed)"),
    ))
    e.append(TableEntry(
        key="khwa-40nm-pcm", group="khwa2022",
        chip=_macro("khwa-40nm-pcm", 40.0, "pcm", 256, 512, dac_bits=8, adc_bits=8,
                    weight_bits=8, cells_per_weight=4, encoding="bit_serial", adc_kind="sar",
                    columns_per_adc=4, clock_hz=200e6, t_read_s=5e-9, supply_V=0.9,
                    n_cores=16, g_max_uS=10.0),
        technology="PCM", node_nm=40.0, tops=None, tops_per_W=20.5, area_mm2=None,
        precision="8b in / 8b weight (hybrid SLC-MLC) / 20.5 TOPS/W at 8b",
        citation="Khwa2022",
        stated=("40 nm, 2M PCM cells", "8-bit precision", "20.5-65.0 TOPS/W (title)"),
        assumed=("20.5 TOPS/W taken as the 8b-in/8b-weight point", "16 sub-arrays of 256x512",
                 "4 cells per weight (hybrid SLC-MLC)", "bit-serial inputs, 8-bit SAR per 4 cols",
                 "200 MHz, 5 ns read", "10 uS cell full scale"),
    ))
    # -- flash ------------------------------------------------------------------------------------
    ch = mythic_m1076()
    e.append(TableEntry(
        key=ch.name, group="mythic", chip=ch, technology="flash", node_nm=40.0,
        tops=25.0, tops_per_W=25.0 / 3.5, area_mm2=None, precision="8b in / 8b weight / 8b out",
        citation="Mythic2021",
        stated=("76 tiles, ~1024x1024 flash each", "8-bit inputs and ADCs", "25 TOPS, 3-4 W"),
        assumed=("3.5 W (mid of 3-4 W)", "ADC per 64 columns, 100 MHz SAR clock, 1 us read",
                 "2 uS cell full scale", "die area not published"),
    ))
    # -- RRAM -------------------------------------------------------------------------------------
    for op, tops, tw in (("3b_out_1b_in", 2.12, 43.1), ("8b_out_6b_in", 0.26, 9.1)):
        # the preset predates Organisation.weight_mapping; the paper states differential pairs
        ch = neurram(op).replace(**{"organisation.weight_mapping": "differential"})
        e.append(TableEntry(
            key=ch.name, group="neurram", chip=ch, technology="RRAM", node_nm=130.0,
            tops=tops, tops_per_W=tw, area_mm2=_NEURRAM_AREA_MM2, precision=op.replace("_", " "),
            citation="Wan2022",
            stated=("48 cores x 256x256 1T1R RRAM", "differential 4-bit weights (2 cells)",
                    "pulse-count inputs, charge-decrement (ramp-like) neuron ADC"),
            assumed=("2.7 MHz neuron step rate (from the 3b/1b throughput)",
                     "5 ns / 0.1 V pulses, 40 uS cells, 3 uW bias",
                     "one neuron circuit for 1-10 output bits: its converter sized for 10 bits "
                     "at both operating points (adc_max_bits=10)",
                     "word lines switched once per input pulse (CiMLoop's model of the chip)",
                     "area: the 48 cores' area from the paper's Fig. 11f core breakdown (a "
                     "neuron 1,270 um2, the 256 neurons 28 % of a core: 1.16 mm2 a core) as "
                     "transcribed by CiMLoop's NeuRRAM model; not checked against the paper "
                     "here; the chip's pads and top-level logic excluded"),
        ))
    e.append(TableEntry(
        key="xue-22nm-rram", group="xue2020",
        chip=_macro("xue-22nm-rram", 22.0, "rram", 512, 512, dac_bits=4, adc_bits=4,
                    weight_bits=4, cells_per_weight=4, encoding="amplitude",
                    adc_kind="sar", columns_per_adc=8, clock_hz=500e6, t_read_s=2e-9,
                    n_cores=8, v_read_V=0.2, supply_V=0.8, read_supply_V=0.8),
        technology="RRAM", node_nm=22.0, tops=None, tops_per_W=28.0, area_mm2=None,
        precision="4b in / 4b weight (28 TOPS/W end of the published 121-28 TOPS/W range)",
        citation="Xue2020",
        stated=("22 nm, 2 Mb ReRAM", "121-28 TOPS/W for multibit MAC (title)",
                "4b-4b IN-W is the multibit precision targeted (abstract)",
                "inputs applied on the bit lines as input-aware multibit BL-clamping voltages "
                "(BL-IN-OUT scheme): one read per multibit input, not one per input bit"),
        assumed=("28 TOPS/W taken at 4b/4b", "8 sub-arrays 512x512", "4 cells per weight",
                 "SAR per 8 columns, 500 MHz, 2 ns read",
                 "0.2 V full-scale clamp, current from the supply (current-mode sensing), "
                 "device-table cell conductance"),
    ))
    e.append(TableEntry(
        key="hung-22nm-rram-4mb", group="hung2021",
        chip=_macro("hung-22nm-rram-4mb", 22.0, "rram", 512, 512, dac_bits=8, adc_bits=8,
                    weight_bits=8, cells_per_weight=8, encoding="bit_serial", adc_kind="sar",
                    columns_per_adc=1, mvm_time_s=15.2e-9, t_read_s=15.2e-9 / 8, n_cores=16,
                    v_read_V=0.2, supply_V=0.8, read_supply_V=0.8, slice_combining="analog",
                    bits_per_cycle=4),
        technology="RRAM", node_nm=22.0, tops=None, tops_per_W=15.6, area_mm2=None,
        precision="8b in / 8b weight (the 15.6 end of the published 194.4-15.6 TOPS/W range)",
        citation="Hung2021",
        stated=("22 nm, 4 Mb binary RRAM + CMOS", "binary to 8b-in/8b-weight",
                "latency 5.2-15.2 ns, 194.4-15.6 TOPS/W (abstract)",
                "asymmetrically modulated input-and-calibration, calibrated-and-weighted "
                "current-to-voltage stacking read, input-shaping hardware (abstract): the "
                "weighted stacking combines a weight's 8 binary cells before one conversion "
                "(slice_combining='analog'); input shaping is not modelled"),
        assumed=("16 sub-arrays 512x512 all rows driven, 8 binary cells per weight",
                 "8-bit inputs in two reads of 4 magnitude bits (MSB and LSB groups, "
                 "bits_per_cycle=4), each converted: inferred from the abstract's own ratios, "
                 "latency 15.2 / 5.2 ns = 2.9x and efficiency 194.4 / 15.6 = 12.5x from binary to "
                 "8b/8b, where 8 cells per weight alone give 8x and 7 bit-serial reads would give "
                 "~7x latency and ~56x energy; the paper's Fig. 2 (AMIC) not verified here",
                 "reads of 15.2 / 8 ns, a SAR per weight "
                 "(64 per sub-array, the count of one per 8 columns)",
                 "0.2 V clamped bit line, current from the supply (current-mode sensing), "
                 "device-table cell conductance"),
    ))
    e.append(TableEntry(
        key="yoon-40nm-rram", group="yoon2021",
        chip=_macro("yoon-40nm-rram", 40.0, "rram", 256, 8, dac_bits=1, adc_bits=9,
                    weight_bits=1, cells_per_weight=1, encoding="bit_serial", adc_kind="sar",
                    columns_per_adc=1, clock_hz=500e6, t_read_s=2e-9, v_read_V=0.2,
                    supply_V=0.9, read_supply_V=0.9),
        technology="RRAM", node_nm=40.0, tops=None, tops_per_W=56.67, area_mm2=None,
        precision="1b in / 1b weight / exact (9b) out (assumed)",
        citation="Yoon2021",
        stated=("40 nm, 64 Kb RRAM", "56.67 TOPS/W peak (title)",
                "1-8b inputs and weights, 20b outputs without quantization; eight bit lines "
                "compute per access; active-feedback voltage-sensing read (JSSC 57(1) 2022 "
                "abstract). Modelled as the 256 x 8 slice that computes per access; each "
                "conversion resolves its bit line's count exactly (no quantization), so a "
                "256-row sum takes a 9-bit conversion (the entry assumed a 3-bit one before, "
                "which cannot hold a 256-row count without quantization)"),
        assumed=("binary in/weight at the headline figure", "all 256 rows driven per access "
                 "(fewer rows with a matching exact converter give 43-68 TOPS/W: 7 rows / 3 bit "
                 "43, 15 / 4 55, 31 / 5 68)",
                 "a 9-bit SAR per computing bit line, 500 MHz",
                 "word lines charged over the 8 computing columns only (not the 256 they span)",
                 "0.2 V clamped bit line, current from the supply (the voltage-sensing read is "
                 "not modelled), device-table cell conductance"),
    ))
    # -- SRAM, charge domain -----------------------------------------------------------------------
    e.append(TableEntry(
        key="valavi-65nm-sram", group="valavi2019",
        chip=_macro("valavi-65nm-sram", 65.0, "sram", 2304, 16, dac_bits=1, adc_bits=1,
                    weight_bits=1, cells_per_weight=1, encoding="bit_serial", adc_kind="flash",
                    columns_per_adc=1, mvm_time_s=2 * 2304 * 16 * 64 / 18.9e12,
                    t_read_s=0.5e-9, n_cores=64, supply_V=1.2, v_read_V=1.2, sram_cell="10T1C"),
        technology="SRAM (charge)", node_nm=65.0, tops=18.9, tops_per_W=866.0, area_mm2=12.6,
        precision="1b in / 1b weight / 1b out",
        citation="Valavi2019",
        stated=("65 nm, 2.4 Mb, 64 tiles, 2304-row columns", "binary, comparator per column",
                "866 TOPS/W, 18.9 TOPS"),
        assumed=("MVM time from the published TOPS (TOPS is then a consistency check)",
                 "area 12.6 mm2 from 1.5 TOPS/mm2", _SRAM_CELL, _SRAM_10T1C),
    ))
    e.append(TableEntry(
        key="dong-7nm-sram", group="dong2020",
        chip=_macro("dong-7nm-sram", 7.0, "sram", 64, 64, dac_bits=4, adc_bits=4,
                    weight_bits=4, cells_per_weight=4, encoding="pulse_count", adc_kind="flash",
                    columns_per_adc=1, mvm_time_s=5.5e-9, t_read_s=0.3e-9, supply_V=0.8,
                    v_read_V=0.8, slice_combining="analog", sram_cell="8T"),
        technology="SRAM (charge)", node_nm=7.0, tops=0.3724, tops_per_W=351.0, area_mm2=0.0024,
        precision="4b in / 4b weight / 4b out",
        citation="Dong2020",
        stated=("7 nm 8T SRAM, 64 Kb", "1024 4bx4b MACs at once", "4-bit input as RWL pulses",
                "4-bit weight by charge sharing among binary-weighted computation caps: one "
                "4-bit flash conversion per weight (slice_combining='analog')",
                "5.5 ns access, 0.8 V", "351 TOPS/W, 372.4 GOPS (JSSC 56(1) 2021 abstract)"),
        assumed=("64 rows x 16 weights of 4 cells active per access, a flash ADC per weight",
                 "0.3 ns RWL pulse", _SRAM_CELL,
                 "cell area: the paper's 8T cell as 1.3x TSMC's published 7 nm 6T cell "
                 "(0.027 um2; config.technology.SRAM_CELL_X6T), not the paper's own cell size",
                 "a 25 fF sample-and-hold per conversion (the paper's computation caps are the "
                 "ADC's own sense-amplifier caps: counted twice here)",
                 "macro area 0.0024 mm2: the 800 um2 two-port compiler macro plus 1,596 um2 of "
                 "CIM circuitry (ADCs and counters; JSSC Sec. IV as transcribed by CiMLoop's "
                 "model of the macro; the 160 um2 of binary-weighting caps taken as part of "
                 "the ADCs, whose sense-amplifier caps they are)"),
    ))
    e.append(TableEntry(
        key="jia-65nm-sram", group="jia2020",
        chip=_macro("jia-65nm-sram", 65.0, "sram", 768, 768, dac_bits=1, adc_bits=8,
                    weight_bits=1, cells_per_weight=1, encoding="bit_serial", adc_kind="sar",
                    columns_per_adc=1, clock_hz=100e6, mvm_time_s=2 * 768 * 768 / 2.185e12,
                    t_read_s=10e-9, supply_V=1.2, v_read_V=1.2, sram_cell="10T1C"),
        technology="SRAM (charge)", node_nm=65.0, tops=2.185, tops_per_W=192.0,
        area_mm2=2.185 / 0.60,
        precision="1b in / 1b weight / 8b SAR out",
        citation="Jia2020",
        stated=("65 nm, 590 Kb CIMU of 768x768 bit cells", "charge-domain, 8-bit SAR per column",
                "bit-serial inputs, bit-sliced weights"),
        assumed=("10 ns read", _SRAM_CELL, _SRAM_10T1C,
                 "192 1b-TOPS/W and 0.60 1b-TOPS/mm2 at 1.2 V (abstract) are the MAC "
                 "hardware's (CIMA and ADCs); 2.185 1b-TOPS at 1.2 V from the paper's Table II "
                 "as transcribed by CiMLoop's model of the chip (not checked against the paper "
                 "here): the MVM time from it (TOPS is then a consistency check) and the area "
                 "3.64 mm2 = 2.185 / 0.60 (its Fig. 11 gives CIMA 2.91 + ADCs 0.50 mm2)",
                 "768 x 768 with a SAR per physical column (the paper folds three physical "
                 "columns into one logical 2304-row column: fewer conversions than modelled)"),
    ))
    # -- SRAM, current domain ----------------------------------------------------------------------
    e.append(TableEntry(
        key="su-28nm-sram", group="su2021",
        chip=_macro("su-28nm-sram", 28.0, "sram", 256, 512, dac_bits=8, adc_bits=5,
                    weight_bits=8, cells_per_weight=8, encoding="bit_serial", adc_kind="sar",
                    columns_per_adc=8, clock_hz=500e6, t_read_s=2e-9, supply_V=0.9,
                    v_read_V=0.9, n_cores=6, sram_cell="6T"),
        technology="SRAM (current)", node_nm=28.0, tops=None, tops_per_W=22.75, area_mm2=None,
        precision="8b in / 8b weight",
        citation="Su2021",
        stated=("28 nm, 384 Kb 6T SRAM", "8-bit precision"),
        assumed=("22.75 TOPS/W (not verified against the paper's table)",
                 "6 sub-arrays 256x512, bit-sliced 8 cells per weight, 5-bit SAR per 8 columns",
                 "500 MHz, 2 ns read", _SRAM_CELL,
                 "cell area: the node's 6T cell interpolated between the published 14 and 32 "
                 "nm cells (config.technology.SRAM_6T_CELL_UM2)"),
    ))
    e.append(TableEntry(
        key="yin-65nm-xnor-sram", group="yin2020",
        chip=_macro("yin-65nm-xnor-sram", 65.0, "sram", 256, 64, dac_bits=1, adc_bits=4,
                    weight_bits=1, cells_per_weight=1, encoding="bit_serial", adc_kind="flash",
                    columns_per_adc=1, clock_hz=400e6, t_read_s=2.5e-9, supply_V=0.6,
                    v_read_V=0.6),
        technology="SRAM (current)", node_nm=65.0, tops=None, tops_per_W=403.0, area_mm2=None,
        precision="1b in / 1b weight / 3.46b (11-level) flash out",
        citation="Yin2020",
        stated=("65 nm, 16 Kb XNOR-SRAM (256x64)", "11-level flash ADC per column",
                "binary/ternary", "403 TOPS/W"),
        assumed=("0.6 V supply", "400 MHz, 2.5 ns read", "11-level ADC counted as a 4-bit flash",
                 _SRAM_CELL, "cell area: the default 8T compute cell (the paper's 12T XNOR cell "
                 "has no published multiple here)"),
    ))
    # -- MRAM -------------------------------------------------------------------------------------
    e.append(TableEntry(
        key="jung-28nm-mram", group="jung2022",
        chip=_macro("jung-28nm-mram", 28.0, "mram", 64, 64, dac_bits=1, adc_bits=1,
                    weight_bits=1, cells_per_weight=2, encoding="bit_serial", adc_kind="flash",
                    columns_per_adc=1, clock_hz=100e6, t_read_s=10e-9, supply_V=1.0,
                    v_read_V=0.1, g_max_uS=1e6 / 1.4e3 / 16),
        technology="MRAM", node_nm=28.0, tops=None, tops_per_W=405.0, area_mm2=None,
        precision="1b in / 1b weight (resistance sum)",
        citation="Jung2022",
        stated=("28 nm 64x64 MRAM crossbar with readout electronics (abstract)",
                "resistance-sum readout (abstract)",
                "binary weights as complementary MTJ pairs"),
        assumed=("405 TOPS/W as recalled from the paper, not re-checked","series-string cell conductance g_on/16 (resistance summing)",
                 "100 MHz, 10 ns read, 0.1 V", "comparator (1-bit flash) per column"),
    ))
    return e


def groups(entries: list[TableEntry] | None = None) -> list[str]:
    """The chips (``group``) of the table, in order of first appearance."""
    out: list[str] = []
    for en in table() if entries is None else entries:
        if en.group not in out:
            out.append(en.group)
    return out
