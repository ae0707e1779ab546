"""Analog attention: the hardware description of the two matrix products of self-attention whose
"weights" are activations, ``Q K^T`` and ``A V``.

They run on arrays written at run time: for every input sequence and head, ``K^T`` (``d_head``
rows by ``seq`` columns) is written into one array and the queries are its inputs, and ``V``
(``seq`` rows by ``d_head`` columns) into another with the attention probabilities as inputs. Each
array has its own ``AnalogConfig`` (tile size, DAC, ADC, column mapping, output noise and the
device, whose write noise, device-to-device variability and faults apply to every write; drift and
read noise do not, the arrays are read within microseconds of their write).

``mode="digital"`` (the default) is today's behaviour: the products stay digital.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analogue._util.serial import Serialisable, check_version
from analogue._util.validate import require
from analogue.config.array import AnalogConfig

ATTENTION_CONFIG_VERSION = 1
ATTENTION_MODES = ("digital", "analog")
#: DAC range policies an array written per sequence supports (no calibrated or learned range: the
#: inputs change with every sequence).
ATTENTION_RANGE_POLICIES = ("dynamic", "fixed")


@dataclass(frozen=True)
class AttentionConfig(Serialisable):
    """How self-attention's ``Q K^T`` (``scores``) and ``A V`` (``values``) products run.

    ``mode``: ``"digital"`` (exact products, the default) or ``"analog"`` (arrays written per
    sequence, see the module docstring). ``scores`` / ``values``: the arrays of the two products.
    ``out_bound`` of each ADC is in the normalised units of ``analogue.config.array``: full-scale
    input times full-scale (per-column) weight.
    """

    mode: str = "digital"
    scores: AnalogConfig = field(default_factory=AnalogConfig)
    values: AnalogConfig = field(default_factory=AnalogConfig)
    version: int = ATTENTION_CONFIG_VERSION

    def __post_init__(self) -> None:
        require(self.mode in ATTENTION_MODES, "AttentionConfig.mode",
                f"must be one of {ATTENTION_MODES}, got {self.mode!r}")
        for name in ("scores", "values"):
            cfg = getattr(self, name)
            where = f"AttentionConfig.{name}"
            require(isinstance(cfg, AnalogConfig), where, f"must be an AnalogConfig, got {type(cfg).__name__}")
            require(cfg.dac.range_policy in ATTENTION_RANGE_POLICIES, f"{where}.dac.range_policy",
                    f"an array written per sequence supports {ATTENTION_RANGE_POLICIES}, "
                    f"got {cfg.dac.range_policy!r}")
            require(not (cfg.adc.nonideal or cfg.dac.inl_std_lsb or cfg.circuit.ir_drop
                         or cfg.device.slicing.active),
                    where, "converter non-linearity, IR drop and bit slicing are not modelled for "
                    "arrays written per sequence; set them to 0 / off")
        check_version(self.version, ATTENTION_CONFIG_VERSION, "AttentionConfig.version")

    @property
    def analog(self) -> bool:
        """Whether the two products run on arrays."""
        return self.mode == "analog"


__all__ = ["ATTENTION_MODES", "AttentionConfig"]
