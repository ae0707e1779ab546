"""``AnalogLayer``: what every analog module shares.

A layer keeps an ordinary ``nn.Parameter`` weight and a digital bias. Its forward is the list of
physical steps: DAC the inputs, read the weights off the array as normalised conductances, sum
currents per row block, add output noise, digitise each block with its ADC, rescale and add the
partial sums digitally. Everything stateful the physics needs (input ranges, ADC ranges,
programmed conductances) lives in registered buffers or parameters, so ``state_dict``,
optimizers and ``deepcopy`` work unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..config import AnalogConfig
from ..physics import mapping
from ..physics.crossbar import BlockReader, tiled_mvm
from ..physics.noise import GaussianSource
from ..physics.periphery import dac, dynamic_input_scale
from ..physics.ste import AnalogMatmulFn, MVMTrace


class AnalogLayer(nn.Module):
    """Base class: subclasses define ``_matrix()`` (the weight as ``(G, K, M)``), ``weight_grad`` and
    the forward that reshapes inputs to ``(G, N, K)`` and calls ``analog_matmul``."""

    weight: nn.Parameter
    groups: int

    def _init_analog(self, cfg: AnalogConfig | None, seed: int = 0) -> None:
        from ..presets import standard

        cfg = standard() if cfg is None else cfg
        if not isinstance(cfg, AnalogConfig):
            raise TypeError(f"{type(self).__name__}: cfg must be an AnalogConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.layer_name = type(self).__name__
        self.noise_seed = int(seed)
        self._source: GaussianSource | None = None
        self._capture: list[Tensor] | None = None  # set by lifecycle.capture_inputs
        # callable (w_n blocks, layer) -> perturbed w_n, applied in training mode (analogue.train)
        self.weight_perturbation = None
        dev, dt = self.weight.device, self.weight.dtype
        rng = torch.tensor(float(cfg.dac.input_range), device=dev, dtype=dt)
        if cfg.dac.range_policy == "learned":
            self.input_range = nn.Parameter(rng)
        elif cfg.dac.range_policy in ("fixed", "calibrated"):
            self.register_buffer("input_range", rng)
        else:
            self.input_range = None
        self.register_buffer("out_bound", torch.tensor(float(cfg.adc.out_bound), device=dev, dtype=dt))

    # -- shapes --------------------------------------------------------------------------------
    def _matrix(self) -> Tensor:  # (G, K, M)
        raise NotImplementedError

    def weight_grad(self, g: Tensor, x_eff: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def matrix_shape(self) -> tuple[int, int, int]:
        """``(groups, rows K, columns M)`` of the mapped matrix per group."""
        g, k, m = self._matrix().shape
        return g, k, m

    @property
    def n_row_blocks(self) -> int:
        return mapping.n_row_blocks(self.matrix_shape[1], self.cfg.tile.rows)

    # -- noise ---------------------------------------------------------------------------------
    def reseed(self, seed: int) -> None:
        """Restart this layer's noise stream from ``seed`` (runs are reproducible per seed)."""
        self.noise_seed = int(seed)
        self._source = None

    def _noise_source(self, device: torch.device, dtype: torch.dtype, n: int) -> GaussianSource:
        src = self._source
        pool = 1 << max(14, min(22, math.ceil(math.log2(max(n, 1)))))
        if src is None or src.device != device or src.pool.dtype != dtype or src.pool.numel() < pool:
            gen = torch.Generator(device=device)
            gen.manual_seed(self.noise_seed)
            src = GaussianSource(gen, pool_size=pool, dtype=dtype)
            self._source = src
        return src

    # -- the weights as the array holds them -----------------------------------------------------
    def read_blocks(self) -> BlockReader:
        """A reader of normalised weight blocks and their digital scales (see ``physics.crossbar``).

        In training mode a weight perturbation (``self.weight_perturbation``, set by hardware-aware
        training) is applied to the normalised blocks on every read.
        """
        blocks = mapping.to_blocks(self._matrix().detach(), self.cfg.tile.rows)
        cols, policy = self.cfg.tile.cols, self.cfg.mapping.scale
        perturb = self.weight_perturbation if self.training else None

        def read(b0: int, b1: int) -> tuple[Tensor, Tensor]:
            wb = blocks[b0:b1]
            s = mapping.weight_scales(wb, cols, policy)
            w_n = wb / s
            if perturb is not None:
                w_n = perturb(w_n, self)
            return w_n, s

        return read

    def read_is_exact(self) -> bool:
        """Whether the array reads back exactly the trainable weight (ideal device, no perturbation)."""
        return not (self.training and self.weight_perturbation is not None)

    def held_matrix(self, w_blocks: Tensor, scales: Tensor) -> Tensor:
        """The weights the array holds, ``(G, K, M)`` in weight units, given all its blocks.

        When the read is exact this is the weight itself (no copy).
        """
        if self.read_is_exact():
            return self._matrix().detach()
        g, k, m = self.matrix_shape
        return (w_blocks * scales).view(g, -1, m)[:, :k]

    # -- the MVM -------------------------------------------------------------------------------
    def _input_scale(self, x: Tensor, input_range: Tensor | None) -> Tensor:
        if input_range is None:
            return dynamic_input_scale(x.detach())
        return input_range.detach().abs().clamp_min(torch.finfo(x.dtype).tiny)

    def simulate(self, x: Tensor, input_range: Tensor | None, keep: bool) -> tuple[Tensor, MVMTrace | None]:
        cfg = self.cfg
        g, n, k = x.shape
        rows = cfg.tile.rows
        scale = self._input_scale(x, input_range)
        # NaN/Inf check at the cost of one reduction (amax propagates NaN and Inf)
        peak = scale if input_range is None else x.detach().abs().amax()
        if not bool(torch.isfinite(peak).all()):
            raise ValueError(
                f"{self.layer_name}: input contains NaN or Inf; an analog tile cannot apply it. "
                "Check the preceding layers or the data."
            )
        x_n = dac(x, scale, cfg.dac.bits)
        nb, r = mapping.n_row_blocks(k, rows), mapping.block_rows(k, rows)
        if g == 1 and nb * r == k:
            x_blocks = x_n[0].view(n, nb, r).transpose(0, 1)  # a view: no copy of the inputs
        else:
            x_blocks = mapping.inputs_to_blocks(x_n, rows)
        read = self.read_blocks()
        w_eff = None
        if keep:  # read once, so the forward and the backward see the same (noisy) weights
            w_all, s_all = read(0, g * nb)
            read = lambda b0, b1: (w_all[b0:b1], s_all[b0:b1])  # noqa: E731
            w_eff = self.held_matrix(w_all, s_all)
        m = self.matrix_shape[2]
        bound = float(self.out_bound)
        noise_std = cfg.noise.out_std_rel_fs * cfg.adc.out_bound  # absolute: a calibrated range does not change it
        src = self._noise_source(x.device, x.dtype, g * nb * n * m) if noise_std > 0 else None
        y = tiled_mvm(
            x_blocks, read, groups=g, adc_bits=cfg.adc.bits, out_bound=bound,
            clip=cfg.adc.clip, noise_std=noise_std, source=src,
        )
        y.mul_(scale)
        trace = None
        if keep:
            trace = MVMTrace(x_n=x_n, x_scale=scale, w_eff=w_eff, clipped=input_range is not None)
        return y, trace

    def grad_input(self, g: Tensor, trace: MVMTrace) -> Tensor:
        return torch.matmul(g, trace.w_eff.transpose(1, 2))

    def analog_matmul(self, x: Tensor) -> Tensor:
        """``(G, N, K)`` inputs -> ``(G, N, M)`` outputs through the simulated tiles."""
        if self._capture is not None:
            self._capture.append(x.detach())
        return AnalogMatmulFn.apply(x, self.weight, self.input_range, self)

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"tile={c.tile.rows}x{c.tile.cols}, dac_bits={c.dac.bits}, adc_bits={c.adc.bits}, "
                f"out_noise={c.noise.out_std_rel_fs}, device={c.device.kind}")

