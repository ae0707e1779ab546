"""How one analog MVM call runs (``AnalogLayer.simulate``): the mode chosen by its caller."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Inputs(enum.Enum):
    """What the ``(G, N, K)`` inputs of a call hold."""

    VALUES = "values"
    """Input values: the simulation applies the DAC."""
    CODES = "codes"
    """The DAC codes already (``periphery.dac(..., codes=True)`` of the inputs; with a fixed range
    the caller has checked the inputs for NaN/Inf, or passes a reduction that is NaN/Inf iff an
    input is). In training they are what the trace keeps."""


@dataclass(frozen=True)
class CallMode:
    """``keep_trace``: keep what the backward needs (``MVMTrace``; training). ``inputs``: what the
    inputs hold. ``transient_output``: the caller copies the output before the next call, so it
    may live in a reused buffer."""

    keep_trace: bool = False
    inputs: Inputs = Inputs.VALUES
    transient_output: bool = False


INFERENCE = CallMode()
"""Input values in, a fresh output, nothing kept."""
TRAINING = CallMode(keep_trace=True)
"""Input values in, a fresh output, the trace kept for the backward."""

