"""Component constants of the cost model, each with its source.

Conventions: energies in joules (J) unless the name says pJ/fJ, times in seconds, areas in mm2,
conductances in microsiemens (uS). Digital energies are given at a reference node and scaled
with :func:`analogue.cost.components.node_energy_scale` (switched capacitance x supply squared).
"""

from __future__ import annotations

import math

# -- technology nodes ----------------------------------------------------------------------------
#: Nominal core supply (V) by node (nm). Source: ITRS 2013 / IRDS 2020 logic tables, as
#: tabulated by Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device
#: performance from 180 nm to 7 nm", Integration 58 (2017), Table 2 (nominal Vdd per node).
NODE_VDD_V: dict[float, float] = {
    180.0: 1.8,
    130.0: 1.2,
    90.0: 1.2,
    65.0: 1.1,
    45.0: 1.0,
    40.0: 0.9,
    32.0: 0.9,
    28.0: 0.9,
    22.0: 0.8,
    16.0: 0.8,
    14.0: 0.8,
    10.0: 0.75,
    7.0: 0.7,
    5.0: 0.65,
    3.0: 0.6,
}

#: Reference node and supply of the Horowitz energy table below.
REF_NODE_NM = 45.0
REF_VDD_V = 0.9

# -- digital arithmetic and memory (Horowitz, "Computing's energy problem (and what we can do
# about it)", ISSCC 2014, Fig. 1.1.9: 45 nm, 0.9 V) ----------------------------------------------
ADD8_PJ_45 = 0.03  # 8-bit integer add
MULT8_PJ_45 = 0.2  # 8-bit integer multiply
ADD32_PJ_45 = 0.1  # 32-bit integer add
MULT32_PJ_45 = 3.1  # 32-bit integer multiply
FADD16_PJ_45 = 0.4  # 16-bit float add
FMULT16_PJ_45 = 1.1  # 16-bit float multiply
#: SRAM read of 64 bits from an 8 KB array (10 pJ); 32 KB: 20 pJ; 1 MB: 100 pJ. Per bit and
#: scaling with the square root of the capacity (fits the three points within 15 %).
SRAM_PJ_PER_BIT_8KB_45 = 10.0 / 64
SRAM_REF_BYTES = 8 * 1024
#: A flip-flop toggle with its clock load, about one full-adder cell: an 8-bit add / 8.
FF_PJ_45 = ADD8_PJ_45 / 8 * 2
#: A latched (StrongARM) comparator decision, 10-50 fJ at 45-65 nm (Razavi, "The StrongARM
#: latch", IEEE Solid-State Circuits Magazine 7(2), 2015); we take 30 fJ at 45 nm, 0.9 V.
COMPARATOR_PJ_45 = 0.030

#: Operand supply and control of a programmable SIMD datapath relative to its arithmetic:
#: 2-4x in specialised/vector units (Hameed et al., "Understanding sources of inefficiency in
#: general-purpose chips", ISCA 2010). We take 3x.
SIMD_OVERHEAD = 3.0

#: Area of a digital datapath per (op/s) at 45 nm: an 8-bit MAC lane ~ 300 um2 at 45 nm
#: (synthesised INT8 MAC, Horowitz ISSCC 2014 area table: 8-bit mult 282 um2, add 36 um2)
#: running at 1 GHz, times 3 for registers/control (same SIMD overhead as for energy).
DIGITAL_UM2_PER_GOPS_45 = (282.0 + 36.0) / 2 * SIMD_OVERHEAD
#: Area of an 8-bit adder at 45 nm (Horowitz ISSCC 2014 area table: 36 um2). A shift-and-add
#: unit behind a converter is an adder and its accumulator register, no multiplier: the adder
#: times the same 3x for the register and control.
ADD8_UM2_45 = 36.0
SHIFT_ADD_UM2_8B_45 = ADD8_UM2_45 * SIMD_OVERHEAD
#: SRAM bit cell area: 6T cell ~ 150 F2 with periphery overhead 1.5x (ITRS 2013 ORTC: 6T SRAM
#: cell 140-160 F2; array efficiency ~ 70 %).
SRAM_BIT_F2 = 150.0 * 1.5

# -- wires and interconnect ----------------------------------------------------------------------
#: On-chip wire capacitance ~0.2 fF/um (= 0.2 pF/mm), nearly node-independent (Ho, Mai &
#: Horowitz, "The future of wires", Proc. IEEE 89(4), 2001). Energy per bit per mm moved:
#: activity 0.5 x C x Vdd^2; ~0.08 pJ/bit/mm at 0.9 V, matching Keckler et al., IEEE Micro 31(5),
#: 2011 (256-bit, 1 mm on-chip bus: 26 pJ at 40 nm, 0.1 pJ/bit/mm).
WIRE_F_PER_MM = 0.2e-12
WIRE_ACTIVITY = 0.5
#: A router hop buffers each bit once (write + read of a small FIFO): 2 SRAM bit accesses of a
#: 1 KB buffer (Orion 2.0, Kahng et al., DATE 2009, router energies ~0.1-0.3 pJ/bit at 45 nm).
ROUTER_FIFO_BYTES = 1024
#: Cross-point line capacitance per cell segment, 0.1-0.3 fF at 14-130 nm pitches (NeuroSim
#: wire model, Chen et al., IEEE TCAD 37(12), 2018: 0.2 fF/um x ~1 um cell pitch).
C_WIRE_FF_PER_CELL_DEFAULT = 0.2
#: The same wire per um of cell pitch, for ``Electrical.c_wire_fF_per_cell=None`` (the line
#: capacitance per cell segment scales with the pitch, ``sqrt(cell area)``: 0.02 fF at a 14 nm
#: 50 F2 cell, 0.18 fF at a 130 nm one; NeuroSim wire model, Chen et al. 2018; Ho, Mai & Horowitz
#: 2001 give ~0.2 fF/um for minimum-pitch on-chip wires).
WIRE_FF_PER_UM = 0.2

# -- leakage -------------------------------------------------------------------------------------
#: Static power density of logic and SRAM (W/mm2) by node, for low-operating-power (LOP/LP)
#: process flavours: ITRS 2013 PIDS tables give I_off ~ 10 pA/um (130 nm LP) rising to
#: ~ 1-10 nA/um at 14-7 nm; with ~ 50-100 mm of transistor width per mm2 of logic at 0.7-1.2 V this
#: is 0.01-5 mW/mm2. Order of magnitude only; a minor term for every preset.
LEAKAGE_W_PER_MM2: dict[float, float] = {
    180.0: 0.005e-3,
    130.0: 0.01e-3,
    90.0: 0.05e-3,
    65.0: 0.2e-3,
    45.0: 0.5e-3,
    40.0: 0.5e-3,
    32.0: 0.8e-3,
    28.0: 1.0e-3,
    22.0: 1.5e-3,
    16.0: 2.0e-3,
    14.0: 2.0e-3,
    10.0: 2.5e-3,
    7.0: 3.0e-3,
    5.0: 3.5e-3,
    3.0: 4.0e-3,
}

# -- ADCs ----------------------------------------------------------------------------------------
#: Survey envelope as used by Accelergy/CiMLoop (docs/references.md section 5; Murmann, "ADC
#: Performance Survey 1997-2023"): FoM_S = min(302.7387 - 6.46079 ln f_s, 180.1416) dB,
#: SNDR = 6.0206 N + 1.761 dB, E = 1 / (2 * 10**((FoM_S - SNDR)/10)) J.
ADC_FOM_A = 302.7387
ADC_FOM_B = 6.46079
ADC_FOM_CAP_DB = 180.1416
#: SAR overhead over the envelope: ISAAC's 8-bit SAR (Kull et al., ISSCC 2013, as used by
#: Shafiee et al., ISCA 2016) spends 1.56 pJ at 1.28 GS/s where the envelope gives 0.92 pJ.
SAR_OVERHEAD = 1.56 / 0.92
#: SAR capacitive-DAC unit capacitor, ~1 fF (matching-limited; Murmann, "Energy limits in A/D
#: converters", IEEE Faible Tension Faible Consommation 2013: C_u 0.5-2 fF in practice).
SAR_C_UNIT_F = 1e-15
#: Area of an 8-bit SAR ADC: 0.0012 mm2 at 32 nm (ISAAC, Shafiee et al. 2016, Table 1),
#: capacitive DAC ~ 2**bits unit capacitors (half the area at 8 bits), logic scales with node^2.
SAR_AREA_MM2_8B_32NM = 0.0012
#: How the non-capacitor half of that SAR (comparator, references, sampling switches) scales with
#: the node: not at all. Its devices are sized for offset and noise, and a transistor's mismatch
#: depends on its gate area (Pelgrom, Duinmaijer & Welbers, "Matching properties of MOS
#: transistors", IEEE JSSC 24(5), 1989), not on the minimum feature; the digital part is a few
#: dozen gates. (It scaled as node^2 before, which put an 8-bit SAR at 0.0031 mm2 at 65 nm and a
#: 10-bit one at 0.015 mm2 at 130 nm, 12x NeuRRAM's whole 1,270 um2 neuron.)
SAR_AREA_NODE_EXPONENT = 0.0
#: A flash ADC is 2**bits - 1 comparators; a comparator with its reference tap ~ 40 um2 at 45 nm
#: (Razavi 2015; Accelergy flash-ADC tables give 30-60 um2 per comparator at 45 nm).
COMPARATOR_UM2_45 = 40.0
#: Counting converters (ramp/single-slope and CCO/VCO): one comparator decision or one
#: oscillator period plus counter increment per LSB step.
#: CCO: the oscillator runs during the whole integration window at a mean frequency of half its
#: full scale (current-controlled, linearised: Khaddam-Aljameh et al., JSSC 57(4), 2022,
#: 300 ps/LSB). Switched capacitance per oscillator period: ring of 5 stages x 2 edges x ~4 fF
#: (4 um pitch, routing-dominated) + counter LSB flip-flops ~6 fF + linearisation current
#: mirror/level shifting ~40 fF => ~86 fF per period at the core supply.
CCO_C_PER_PERIOD_F = 86e-15
#: CCO column ADC area: 4 um pitch x 100 um length (HERMES, Khaddam-Aljameh et al. 2022, layout
#: of one column converter: read-voltage regulator 30 um, current-to-frequency converter 26 um,
#: two 12-bit ripple counters 44 um, all at the 4 um pitch).
CCO_AREA_MM2_14NM = 4e-3 * 100e-3
#: The counters' share of that length (44 of 100 um) and the bits they hold (12): the counter part
#: scales with the bits, the regulator and oscillator do not.
CCO_COUNTER_SHARE = 44.0 / 100.0
CCO_COUNTER_BITS = 12
#: Sample-and-hold per column: ~25 fF hold capacitor charged to the supply (ISAAC S+H:
#: 10 uW for 1024 S+H at 10 MHz, ~1 fJ each at 32 nm; we take the capacitor model,
#: C_hold V_dd^2, which gives 16-36 fJ across nodes and is conservative).
C_SAMPLE_HOLD_F = 25e-15
SAMPLE_HOLD_UM2_45 = 10.0

# -- devices -------------------------------------------------------------------------------------
from analogue.config.technology import DEVICES as DEVICES  # noqa: E402 -- one table, with its sources
from analogue.config.technology import SRAM_6T_CELL_UM2 as SRAM_6T_CELL_UM2  # noqa: E402
from analogue.config.technology import SRAM_CELL_X6T as SRAM_CELL_X6T  # noqa: E402
from analogue.config.technology import SRAM_DEFAULT_CELL as SRAM_DEFAULT_CELL  # noqa: E402

# -- workload assumptions for peak figures ---------------------------------------------------------
#: Datasheet peak figures are measured with dense random operands. Mean input drive as a fraction
#: of full scale (uniform inputs: mean |x| / x_max = 0.5) and mean conductance above g_min as a
#: fraction of the range (uniform weights: 0.5).
INPUT_ACTIVITY = 0.5
WEIGHT_ACTIVITY = 0.5

# -- GPU datasheets -----------------------------------------------------------------------------
#: NVIDIA A100 SXM4 datasheet (2020): 312 TFLOPS dense FP16/BF16 tensor, 400 W TDP, 826 mm2, 7 nm.
#: NVIDIA H100 SXM5 datasheet (2022): 989 TFLOPS dense BF16, 700 W, 814 mm2, 4 nm ("4N").
GPUS: dict[str, dict[str, float]] = {
    "a100": {"ops_per_s": 312e12, "power_W": 400.0, "area_mm2": 826.0, "node_nm": 7.0},
    "h100": {"ops_per_s": 989e12, "power_W": 700.0, "area_mm2": 814.0, "node_nm": 4.0},
}

LN2 = math.log(2.0)
