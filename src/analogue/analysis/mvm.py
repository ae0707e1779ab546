"""How far a simulated tile's matrix-vector product is from the exact one."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from analogue.config import AnalogConfig
from analogue.nn import AnalogLinear
from analogue.physics import mapping


@dataclass(frozen=True)
class MVMError:
    """Errors normalised to the full-scale output of each column (see ``mvm_error``)."""

    mean: float
    rms: float
    worst: float
    rel_l2: float
    n_vectors: int
    rows: int
    cols: int

    @property
    def meets_1pct(self) -> bool:
        """The founding brief's claim: worst case below 1 % of full scale."""
        return self.worst < 0.01

    def to_dict(self) -> dict:
        return {**asdict(self), "meets_1pct": self.meets_1pct}


def mvm_error(
    cfg: AnalogConfig,
    rows: int = 256,
    cols: int = 256,
    n_vectors: int = 1000,
    seed: int = 0,
    weight_dist: str = "gaussian",
    input_dist: str = "uniform",
    calibrate: bool = False,
) -> MVMError:
    """Simulate ``y = W x`` for a ``rows x cols`` matrix (``rows`` inputs, ``cols`` outputs).

    Weights are Gaussian (or uniform in [-1, 1]); inputs uniform in [-1, 1] (or Gaussian).
    The error of each output is divided by its full-scale output, ``out_bound`` times the input
    full scale times the column's weight scale summed over row blocks -- what the ADC could
    report at most -- and ``mean``/``rms``/``worst`` are taken over all outputs of all vectors.
    ``rel_l2`` is ``||y - y_exact|| / ||y_exact||``. ``calibrate=True`` first calibrates the
    layer's input and ADC ranges (``an.calibrate_``, ADC range 1.25x the largest column sum)
    on a separate draw of vectors.
    """
    for name, v in (("rows", rows), ("cols", cols), ("n_vectors", n_vectors)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"mvm_error: {name} must be a positive integer, got {v!r}")
    g = torch.Generator().manual_seed(seed)
    draw = {
        "gaussian": lambda shape: torch.randn(shape, generator=g),
        "uniform": lambda shape: torch.rand(shape, generator=g) * 2 - 1,
    }
    for name, v in (("weight_dist", weight_dist), ("input_dist", input_dist)):
        if v not in draw:
            raise ValueError(f"mvm_error: {name} must be one of {sorted(draw)}, got {v!r}")
    layer = AnalogLinear(rows, cols, bias=False, cfg=cfg, seed=seed)
    with torch.no_grad():
        layer.weight.copy_(draw[weight_dist]((cols, rows)))
    layer.eval()
    if calibrate:
        from analogue.lifecycle.calibrate import calibrate_

        calibrate_(layer, draw[input_dist]((max(n_vectors, 256), rows)), adc_quantile=1.0, adc_margin=1.25)
    x = draw[input_dist]((n_vectors, rows))
    with torch.no_grad():
        y = layer(x)
        exact = x @ layer.weight.t()
        blocks = mapping.to_blocks(layer.weight_matrix(), cfg.tile.rows)
        w_scale = mapping.weight_scales(blocks, cfg.tile.cols, cfg.mapping.scale).sum(dim=0)  # (1, M)
        if layer.input_range is None:
            x_fs = x.abs().amax(dim=1, keepdim=True)
        else:
            x_fs = layer.input_range.abs()
        fs = float(layer.out_bound) * x_fs * w_scale
        err = (y - exact).abs() / fs
    return MVMError(
        mean=float(err.mean()),
        rms=float(err.square().mean().sqrt()),
        worst=float(err.max()),
        rel_l2=float((y - exact).norm() / exact.norm()),
        n_vectors=n_vectors,
        rows=rows,
        cols=cols,
    )


def mvm_error_table(configs: dict[str, AnalogConfig], rows: int = 256, cols: int = 256,
                    n_vectors: int = 1000, seed: int = 0) -> list[dict]:
    """``mvm_error`` for several named configs, uncalibrated and calibrated, as table rows."""
    return [
        {"config": name, "calibrated": cal,
         **mvm_error(c, rows, cols, n_vectors, seed, calibrate=cal).to_dict()}
        for name, c in configs.items()
        for cal in (False, True)
    ]
