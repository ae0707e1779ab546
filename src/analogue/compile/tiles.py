"""Array size under line resistance: the worst-case IR-drop error of a tile, the largest tile
within a bound, and a chip resized to another array size for the cost model.

- ``worst_case_ir_drop(rows, cols, r_row_ohm, r_col_ohm, g_max_uS)``: the error of an all-``g_max``
  ``rows x cols`` array read with every input at full scale, as a fraction of full scale: the
  largest ``1 - I_j / I_ideal`` over columns, ``I_j`` the exact column current
  (``physics.irdrop``, the topology of docs/circuits.md) and ``I_ideal = rows * v_read * g_max``
  (``v_read`` cancels: the network is linear). Every cell at ``g_max`` draws the most current
  through the wires, so this bounds the IR drop of any programmed array of that size with
  non-negative inputs. Cached per ``(rows, cols, r_row, r_col, g_max)``: the exact set-up grows as
  ``rows * cols^3`` (about 0.4 s at 256x256, 5 s at 512x512, 1.5 min or more at 1024x1024 on a
  2-core CPU).
- ``choose_tile(chip, max_ir_drop_pct_fs)``: the chip's array, or the largest one obtained by
  halving both sides whose worst-case error is within the bound (``TileChoice``).
- ``resize_arrays(chip, rows, cols)``: the chip with ``rows x cols`` arrays and the same number
  of cross-points (more, smaller arrays or fewer, larger ones), so energy, latency and area
  compare like for like across sizes.

``an.compile(..., max_ir_drop_pct_fs=...)`` caps the arrays with ``choose_tile`` and compiles for
the resized chip, so placement, the executable model's tiles and ``an.estimate_cost`` all use the
capped size.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from analogue._util.validate import ConfigError, is_real
from analogue.config.chips import Chip
from analogue.physics.irdrop import effective_conductances

__all__ = ["TileChoice", "choose_tile", "resize_arrays", "worst_case_ir_drop"]


@functools.lru_cache(maxsize=256)
def _worst_case(rows: int, cols: int, r_row_ohm: float, r_col_ohm: float, g_max_uS: float) -> float:
    if r_row_ohm == 0.0 and r_col_ohm == 0.0:
        return 0.0
    g = torch.full((1, rows, cols), g_max_uS * 1e-6, dtype=torch.float64)
    eff = effective_conductances(g, r_row_ohm, r_col_ohm)[0]
    ideal = rows * g_max_uS * 1e-6
    return float((1.0 - eff.sum(dim=0) / ideal).max())


def worst_case_ir_drop(rows: int, cols: int, r_row_ohm: float, r_col_ohm: float,
                       g_max_uS: float) -> float:
    """The worst-case IR-drop error of a ``rows x cols`` array, a fraction of full scale (module
    docstring): every cell at ``g_max_uS``, every input at full scale, the largest shortfall of a
    column current below the ideal sum. 0 for ideal wires. Cached."""
    where = "worst_case_ir_drop"
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{where}: {name} must be a positive integer, got {v!r}")
    for name, v in (("r_row_ohm", r_row_ohm), ("r_col_ohm", r_col_ohm)):
        if not (is_real(v) and v >= 0):
            raise ValueError(f"{where}: {name} must be a finite number >= 0 (ohm per segment), got {v!r}")
    if not (is_real(g_max_uS) and g_max_uS > 0):
        raise ValueError(f"{where}: g_max_uS must be a finite number > 0, got {g_max_uS!r}")
    return _worst_case(int(rows), int(cols), float(r_row_ohm), float(r_col_ohm), float(g_max_uS))


@dataclass(frozen=True)
class TileChoice:
    """The array size chosen under an IR-drop bound: ``rows x cols``, its worst-case error
    ``error_pct_fs`` (% of full scale, ``worst_case_ir_drop``), the bound ``max_error_pct_fs``, the
    chip's own size ``chip_rows x chip_cols`` and the wires."""

    rows: int
    cols: int
    error_pct_fs: float
    max_error_pct_fs: float
    chip_rows: int
    chip_cols: int
    r_row_ohm: float
    r_col_ohm: float

    @property
    def capped(self) -> bool:
        """Whether the bound made the arrays smaller than the chip's."""
        return (self.rows, self.cols) != (self.chip_rows, self.chip_cols)

    def note(self) -> str:
        """One line for a compiled model's notes."""
        wires = f"{self.r_row_ohm:g}/{self.r_col_ohm:g} ohm row/column segments"
        if self.capped:
            return (f"arrays capped from {self.chip_rows}x{self.chip_cols} to {self.rows}x{self.cols} by"
                    f" IR drop ({wires}): worst-case error {self.error_pct_fs:.3g} % of full scale,"
                    f" bound {self.max_error_pct_fs:g} %")
        return (f"{self.rows}x{self.cols} arrays within the IR-drop bound ({wires}): worst-case error"
                f" {self.error_pct_fs:.3g} % of full scale, bound {self.max_error_pct_fs:g} %")


def choose_tile(chip: Chip, max_ir_drop_pct_fs: float) -> TileChoice:
    """The largest array, the chip's own or one obtained by halving both its sides, whose
    worst-case IR-drop error (``worst_case_ir_drop`` with the chip's ``array.circuit`` wires and
    ``array.mapping.g_max_uS``) is at most ``max_ir_drop_pct_fs`` % of full scale. Sizes are tried
    from the smallest up (the error grows with the size), so a large array is solved only when
    the smaller ones pass. Fails when even a 1-row array exceeds the bound."""
    where = "choose_tile"
    if not isinstance(chip, Chip) or not chip.is_analog:
        raise ConfigError(f"{where}: chip must be an analogue Chip with arrays")
    if not (is_real(max_ir_drop_pct_fs) and max_ir_drop_pct_fs > 0):
        raise ConfigError(f"{where}: max_ir_drop_pct_fs must be a finite number > 0 (% of full scale),"
                          f" got {max_ir_drop_pct_fs!r}")
    circ = chip.array.circuit
    R, C = chip.array_rows, chip.array_cols
    cands = [(R, C)]
    while cands[-1][0] > 1 and cands[-1][1] // 2 >= chip.cells_per_weight:
        r, c = cands[-1]
        cands.append((max(r // 2, 1), max(c // 2, 1)))
    best: tuple[int, int, float] | None = None
    for r, c in reversed(cands):  # smallest first
        err = 100.0 * worst_case_ir_drop(r, c, circ.r_row_ohm, circ.r_col_ohm, chip.g_max_uS)
        if err > max_ir_drop_pct_fs:
            break
        best = (r, c, err)
    if best is None:
        r, c = cands[-1]
        raise ConfigError(
            f"{where}: even {r}x{c} arrays exceed the IR-drop bound of {max_ir_drop_pct_fs:g} % of"
            f" full scale with {circ.r_row_ohm:g}/{circ.r_col_ohm:g} ohm segments; raise"
            " max_ir_drop_pct_fs or lower chip.array.circuit's wire resistance"
        )
    return TileChoice(best[0], best[1], best[2], float(max_ir_drop_pct_fs), R, C,
                      circ.r_row_ohm, circ.r_col_ohm)


def resize_arrays(chip: Chip, rows: int, cols: int) -> Chip:
    """``chip`` with ``rows x cols`` arrays and (at least) the same number of cross-points.

    The chip keeps its cores while each holds at least one array (``arrays_per_core`` scales as
    ``ceil``); with fewer arrays than cores, it has one array per core and fewer cores. A
    published core area (``organisation.core_area_mm2``) holds for the published array only, so
    the resized chip derives it from its components -- at every size, the chip's own included,
    so sizes compare like for like. ``columns_per_adc`` is capped at ``cols``. Converters,
    device, periphery timing and the digital unit are kept."""
    where = "resize_arrays"
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1 << 16:
            raise ConfigError(f"{where}: {name} must be an integer in [1, 65536], got {v!r}")
    if not isinstance(chip, Chip) or not chip.is_analog:
        raise ConfigError(f"{where}: chip must be an analogue Chip with arrays")
    cells = chip.n_arrays * chip.array_rows * chip.array_cols
    arrays = math.ceil(cells / (rows * cols))
    if arrays >= chip.n_cores:
        cores, per_core = chip.n_cores, math.ceil(arrays / chip.n_cores)
    else:
        cores, per_core = arrays, 1
    return chip.replace(**{
        "array.tile.rows": rows,
        "array.tile.cols": cols,
        "organisation.n_cores": cores,
        "organisation.arrays_per_core": per_core,
        "organisation.core_area_mm2": None,
        "periphery.columns_per_adc": min(chip.periphery.columns_per_adc, cols),
    })
