"""Time-multiplexed programs (``an.compile(..., reprogram=True)``): what the array writes cost per
write and per inference, and how long the arrays last.

A program of ``R > 1`` reprogramming rounds runs a *write pass* every ``N`` inferences
(``inferences_per_write``): each round's cells are written, then the ``N`` inputs stream through
that round's layers, then the next round is written. So:

- one pass writes every placed cell once: energy ``E_w = cells x program_J`` and time
  ``T_w = R x array_rows x program_row_s`` (all arrays program in parallel, row by row), both of
  the device (``analogue.config.technology.DEVICES``); per inference ``E_w / N`` and ``T_w / N``;
- a physical cell is rewritten once per pass in every round that uses its array, at most ``R``
  times: ``k`` (``writes_per_cell_per_pass``, the most rounds sharing one array);
- at ``r`` inferences per second a cell takes ``k x r x 86,400 / N`` writes per day;
  with endurance ``C`` cycles (``analogue.config.technology.ENDURANCE_CYCLES``, one full
  write-verify counted as one cycle) the array lasts ``C / (writes per day)`` days;
- when that is shorter than the stated service life, :func:`write_schedule` says so in its
  ``notes`` and issues an :class:`EnduranceWarning`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from analogue._util.validate import ConfigError, check_positive
from analogue.config.technology import DEVICES, ENDURANCE_CYCLES

SECONDS_PER_DAY = 86_400.0
DAYS_PER_YEAR = 365.25


class EnduranceWarning(UserWarning):
    """A reprogramming schedule would wear out the arrays within the stated service life."""


@dataclass(frozen=True)
class WriteSchedule:
    """Cost and wear of a time-multiplexed program's array writes (see the module docstring).

    Per write pass: ``energy_per_write_J``, ``latency_per_write_s``, ``cells_written``; per
    inference (amortised over ``inferences_per_write``): ``energy_per_inference_J``,
    ``latency_per_inference_s``; wear at ``inferences_per_s``: ``writes_per_cell_per_day``
    against ``endurance_cycles``, ``lifetime_days`` (``inf`` when the device does not wear or
    nothing is rewritten), ``service_life_days`` and ``wears_out``.

    ``to_dict`` is strict JSON (``json.dumps(..., allow_nan=False)`` accepts it): an unbounded
    ``endurance_cycles`` or ``lifetime_days`` (``inf``) is written ``None`` (JSON ``null``),
    meaning "unlimited: the arrays never wear out".
    """

    device: str
    rounds: int
    cells_written: int
    inferences_per_write: float
    energy_per_write_J: float
    latency_per_write_s: float
    energy_per_inference_J: float
    latency_per_inference_s: float
    inferences_per_s: float
    writes_per_cell_per_pass: int
    writes_per_cell_per_day: float
    endurance_cycles: float
    lifetime_days: float
    service_life_days: float
    wears_out: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins, strict JSON: ``inf`` (unlimited endurance or lifetime) as
        ``None``."""
        return {k: None if isinstance(v, float) and math.isinf(v) else v
                for k, v in asdict(self).items()}

    def sentences(self) -> list[str]:
        """The schedule in plain words (numbers computed, never typed)."""
        if self.rounds <= 1:
            return ["the weights are programmed once; nothing is rewritten while it runs"]
        s = [
            f"each write pass rewrites {self.cells_written:,} {self.device} cells in "
            f"{self.rounds} rounds: {self.energy_per_write_J * 1e6:.4g} uJ and "
            f"{self.latency_per_write_s * 1e3:.4g} ms per write, "
            f"{self.energy_per_inference_J * 1e6:.4g} uJ and "
            f"{self.latency_per_inference_s * 1e6:.4g} us per inference over "
            f"{self.inferences_per_write:g} inferences per write",
        ]
        if math.isinf(self.lifetime_days):
            s.append(f"at {self.inferences_per_s:.4g} inferences/s a cell is rewritten "
                     f"{self.writes_per_cell_per_day:.4g} times a day; {self.device} does not "
                     "wear out")
        else:
            s.append(
                f"at {self.inferences_per_s:.4g} inferences/s a cell is rewritten "
                f"{self.writes_per_cell_per_day:.4g} times a day against an endurance of "
                f"{self.endurance_cycles:.3g} cycles: the arrays last "
                f"{_days(self.lifetime_days)}"
            )
        if self.wears_out:
            s.append(
                f"WARNING: this schedule wears out the {self.device} arrays in "
                f"{_days(self.lifetime_days)}, within the stated service life of "
                f"{_days(self.service_life_days)}; write less often (more inferences per write) "
                "or use a larger chip"
            )
        return s


def _days(d: float) -> str:
    if d >= 2 * DAYS_PER_YEAR:
        return f"{d / DAYS_PER_YEAR:.3g} years"
    if d >= 1.0:
        return f"{d:.3g} days"
    return f"{d * 24:.3g} hours"


def writes_per_cell_per_day(writes_per_cell_per_pass: float, inferences_per_s: float,
                            inferences_per_write: float) -> float:
    """``k x r x 86,400 / N``: rewrites of one cell per day."""
    return writes_per_cell_per_pass * inferences_per_s * SECONDS_PER_DAY / inferences_per_write


def lifetime_days(endurance_cycles: float, writes_per_day: float) -> float:
    """``C / (writes per day)``; ``inf`` for unlimited endurance or no rewrites."""
    if writes_per_day <= 0 or math.isinf(endurance_cycles):
        return math.inf
    return endurance_cycles / writes_per_day


def writes_per_cell_per_pass(program: Any) -> int:
    """The most reprogramming rounds that share one physical array (0 when not multiplexed)."""
    if int(getattr(program, "reprogram_rounds", 1)) <= 1:
        return 0
    rounds: dict[tuple[int, int], set[int]] = {}
    for blocks in program.placement.values():
        for b in blocks:
            rounds.setdefault((b.core, b.array), set()).add(b.round)
    return max((len(r) for r in rounds.values()), default=0)


def write_pass(program: Any) -> tuple[int, float, float]:
    """One write pass of a time-multiplexed ``program``: cells written, energy (J) and time (s);
    zeros when it is not multiplexed (its weights are programmed once)."""
    rounds = max(int(getattr(program, "reprogram_rounds", 1)), 1)
    if rounds <= 1:
        return 0, 0.0, 0.0
    chip = program.chip
    dev = DEVICES[chip.device]
    cells = sum(b.cells for blocks in program.placement.values() for b in blocks)
    return int(cells), cells * dev["program_J"], rounds * chip.array_rows * dev["program_row_s"]


def write_schedule(program: Any, inferences_per_s: float, inferences_per_write: float = 1,
                   service_life_years: float = 5.0, stacklevel: int = 2) -> WriteSchedule:
    """Cost and wear of ``program``'s array writes at ``inferences_per_s``, one write pass every
    ``inferences_per_write`` inferences (a batch, or longer), against a service life of
    ``service_life_years``; an :class:`EnduranceWarning` when the arrays wear out first
    (``stacklevel`` as for ``warnings.warn``: 2 points at the caller)."""
    where = "write_schedule"
    check_positive(inferences_per_s, where, "inferences_per_s", "e.g. 100.0")
    check_positive(inferences_per_write, where, "inferences_per_write", "e.g. the batch size")
    check_positive(service_life_years, where, "service_life_years", "e.g. 5.0")
    chip = getattr(program, "chip", None)
    if chip is None or not hasattr(program, "placement"):
        raise ConfigError(f"{where}: expected an analogue CompiledModel (from an.compile)")
    device = chip.device
    rounds = max(int(getattr(program, "reprogram_rounds", 1)), 1)
    k = writes_per_cell_per_pass(program)
    cells, e_w, t_w = write_pass(program)
    per_day = writes_per_cell_per_day(k, inferences_per_s, inferences_per_write)
    endurance = ENDURANCE_CYCLES[device]
    life = lifetime_days(endurance, per_day)
    service = service_life_years * DAYS_PER_YEAR
    sched = WriteSchedule(
        device=device, rounds=rounds, cells_written=int(cells),
        inferences_per_write=float(inferences_per_write),
        energy_per_write_J=e_w, latency_per_write_s=t_w,
        energy_per_inference_J=e_w / inferences_per_write,
        latency_per_inference_s=t_w / inferences_per_write,
        inferences_per_s=float(inferences_per_s), writes_per_cell_per_pass=k,
        writes_per_cell_per_day=per_day, endurance_cycles=endurance, lifetime_days=life,
        service_life_days=service, wears_out=life < service,
    )
    if sched.wears_out:
        warnings.warn(sched.sentences()[-1], EnduranceWarning, stacklevel=stacklevel)
    return sched
