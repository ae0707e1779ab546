"""Technology facts of each device kind, shared by the hardware description and the cost model:
cross-point conductances, cell area, and the energy and time of writes."""

from __future__ import annotations

#: Per device kind: on-state (full-scale) conductance per cross-point g_max_uS, off g_min_uS,
#: cell area in F2 (F = node), program energy per cell (J, full write-verify), program time per
#: row (s), energy of one update pulse (J) for in-memory training.
#: Sources: docs/references.md sections 2 and 5; PCM: Nandakumar et al. 2019 / Joshi et al. 2020
#: (g_max 25 uS), Burr et al., J. Vac. Sci. Technol. B 28, 2010 (RESET 10-100 pJ, ~10-20
#: write-verify iterations, 1 um-scale pulses); RRAM: 6-100 kohm (docs/references.md), Wong et al.,
#: Proc. IEEE 100(6), 2012 (0.1-10 pJ per switching pulse, 10-100 ns); STT-MRAM: 1.4 kohm on,
#: on/off 2.8 (docs/references.md), ~0.1-1 pJ/bit write; NOR flash in sub-threshold analog mode:
#: cell currents 1 nA-1 uA (Guo et al., IEDM 2017; Bayat et al., Nat. Commun. 9, 2018), program
#: ~10 us and ~1 nJ per cell by hot-electron injection; SRAM: the cell area is not a fixed F2
#: (``cell_F2`` NaN) but the published 6T bit cell of the node, ``SRAM_6T_CELL_UM2``, times the
#: compute cell's multiple, ``SRAM_CELL_X6T``;
#: charge-domain SRAM CIM charges a ~1 fF cell capacitor per read (Valavi et al., JSSC 54(6),
#: 2019), which the G*t form represents as 2 uS x 0.5 ns = 1 fF; an SRAM write is a word write of
#: an ~8 KB array (a 256x256 macro holds 8 KB): 10 pJ per 64 bits at 45 nm, 0.9 V (Horowitz,
#: ISSCC 2014, Fig. 1.1.9, an access; a write taken equal), 0.16 pJ per bit, one row per 2 ns
#: clock cycle.
DEVICES: dict[str, dict[str, float]] = {
    "pcm": {"g_max_uS": 25.0, "g_min_uS": 0.0, "cell_F2": 50.0, "program_J": 1.0e-9,
            "program_row_s": 10e-6, "pulse_J": 30e-12},
    "rram": {"g_max_uS": 1e6 / 6e3, "g_min_uS": 1e6 / 100e3, "cell_F2": 50.0,
             "program_J": 50e-12, "program_row_s": 2e-6, "pulse_J": 2e-12},
    "mram": {"g_max_uS": 1e6 / 1.4e3, "g_min_uS": 1e6 / (1.4e3 * 2.8), "cell_F2": 60.0,
             "program_J": 0.5e-12, "program_row_s": 50e-9, "pulse_J": 0.5e-12},
    "flash": {"g_max_uS": 2.0, "g_min_uS": 0.002, "cell_F2": 30.0, "program_J": 1.0e-9,
              "program_row_s": 100e-6, "pulse_J": 0.1e-9},
    "sram": {"g_max_uS": 2.0, "g_min_uS": 0.0, "cell_F2": float("nan"), "program_J": 10e-12 / 64,
             "program_row_s": 2e-9, "pulse_J": 0.0},
    "ideal": {"g_max_uS": 25.0, "g_min_uS": 0.0, "cell_F2": 50.0, "program_J": 0.0,
              "program_row_s": 0.0, "pulse_J": 0.0},
    "none": {"g_max_uS": 0.0, "g_min_uS": 0.0, "cell_F2": 0.0, "program_J": 0.0,
             "program_row_s": 0.0, "pulse_J": 0.0},
}

#: Write endurance per cell, in full program cycles, by device kind: the conservative end of the
#: published ranges (docs/references.md, "Digital baselines and device endurance"). PCM 1e8
#: (1e6-1e9: Burr et al., J. Vac. Sci. Technol. B 28, 2010; Wong et al., Proc. IEEE 98(12), 2010);
#: RRAM 1e6 (1e6-1e12 demonstrated, 1e6-1e9 in arrays: Wong et al., Proc. IEEE 100(6), 2012);
#: STT-MRAM 1e12 (> 1e12: Kent & Worledge, Nat. Nanotechnol. 10, 2015); NOR flash 1e5 (1e4-1e5
#: cycles: Bez et al., Proc. IEEE 91(4), 2003); SRAM and the ideal/none devices: unlimited.
ENDURANCE_CYCLES: dict[str, float] = {
    "pcm": 1e8,
    "rram": 1e6,
    "mram": 1e12,
    "flash": 1e5,
    "sram": float("inf"),
    "ideal": float("inf"),
    "none": float("inf"),
}

#: Published high-density 6T SRAM bit-cell areas (um2) by node (nm), each from the process paper's
#: title (docs/references.md section 9, "SRAM bit cells"): 5 nm 0.021 (TSMC N5, Yeap et al., IEDM
#: 2019), 7 nm 0.027 (TSMC N7, Wu et al., IEDM 2016), 14 nm 0.0588 (Intel, Natarajan et al., IEDM
#: 2014), 32 nm 0.171 (Intel, Natarajan et al., IEDM 2008), 65 nm 0.57 (Intel, Bai et al., IEDM
#: 2004), 90 nm 1.0 (Intel, Thompson et al., IEDM 2002). Between nodes the area is interpolated
#: in log-log; below 5 nm it stays at 0.021 (TSMC's N3E cell is the N5 one, 0.021 um2; IEDM 2022);
#: above 90 nm it scales with F2 from the 90 nm cell.
SRAM_6T_CELL_UM2: dict[float, float] = {
    5.0: 0.021,
    7.0: 0.027,
    14.0: 0.0588,
    32.0: 0.171,
    65.0: 0.57,
    90.0: 1.0,
}

#: A compute-in-memory SRAM cell as a multiple of the node's 6T cell: "6T" the plain cell (Su et
#: al., ISSCC 2021, current-domain on 6T cells); "8T" a 6T cell with a decoupled two-transistor
#: read port, about 30 % larger (Chang et al., IEEE JSSC 43(4), 2008); "10T1C" the multiplying bit
#: cell of the charge-domain macros, a 6T cell with four transistors and a ~1.2 fF metal-fringe
#: capacitor laid out above it, 1.8x the 6T cell (Valavi et al., IEEE JSSC 54(6), 2019; the same
#: cell in Jia et al., IEEE JSSC 55(9), 2020). The capacitor sits in the metal stack over the
#: cell, so its density adds no area of its own. ``SRAM_DEFAULT_CELL`` is what a chip that gives
#: no ``Organisation.cell_area_um2`` takes: the smallest cell with a read port that computes.
SRAM_CELL_X6T: dict[str, float] = {"6T": 1.0, "8T": 1.3, "10T1C": 1.8}
SRAM_DEFAULT_CELL = "8T"
