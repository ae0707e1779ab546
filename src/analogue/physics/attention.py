"""Matrix products on arrays written at run time (analog attention's ``Q K^T`` and ``A V``).

Pure functions with an explicit generator. ``write_dynamic`` writes a batch of matrices into
arrays once (the device's write noise, variability and faults via ``physics.devices``);
``dynamic_mvm`` multiplies a batch of input vectors through them with the array's own DAC, output
noise and ADC, tile by tile, and adds the digitised partial sums digitally. In the normalised units
of ``analogue.config.array``: each column of a written block is scaled so its largest weight sits
at the full conductance range, each input vector so its full scale is 1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from analogue.config.array import AnalogConfig
from analogue.config.device import DeviceConfig
from analogue.physics import mapping, periphery
from analogue.physics.devices import device_targets, program_devices


def write_dynamic(w_n: Tensor, device: DeviceConfig, g_max_uS: float, g_min_uS: float,
                  generator: torch.Generator) -> Tensor:
    """Write normalised weights ``w_n`` (any shape, in ``[-1, 1]``) into differential pairs and
    return what the pairs read as, ``(G+ - G-) / (g_max - g_min)``. An ideal device stores them
    exactly (no draw from ``generator``)."""
    if device.is_ideal:
        return w_n
    g_pos, g_neg = device_targets(w_n, g_max_uS, g_min_uS, device.levels)
    pos = program_devices(g_pos, device, g_max_uS, g_min_uS, generator).g_uS
    neg = program_devices(g_neg, device, g_max_uS, g_min_uS, generator).g_uS
    return mapping.conductance_to_weight(pos, neg, g_max_uS, g_min_uS)


def dynamic_mvm(x: Tensor, w: Tensor, cfg: AnalogConfig, generator: torch.Generator) -> Tensor:
    """``x @ w`` with ``w`` written into arrays of ``cfg`` for this call.

    ``x``: ``(G, N, K)`` input vectors, ``w``: ``(G, K, M)`` one matrix per group (e.g. one per
    sequence and head). Returns ``(G, N, M)``. Steps: DAC per vector (``cfg.dac``), ``w`` split in
    row blocks of at most ``cfg.tile.rows`` rows and written (``write_dynamic``), one bmm, output
    noise and ADC per block (``cfg.noise``, ``cfg.adc``), digital rescale and sum over blocks.
    With ideal converters (``bits=None``, ``clip=False``), no noise and an ideal device this is
    ``x @ w`` to float rounding.
    """
    if x.dim() != 3 or w.dim() != 3 or x.shape[0] != w.shape[0] or x.shape[2] != w.shape[1]:
        raise ValueError(f"dynamic_mvm: need x (G, N, K) and w (G, K, M), got {tuple(x.shape)} and "
                         f"{tuple(w.shape)}")
    g, n, k = x.shape
    m = w.shape[2]
    # 1. DAC
    if cfg.dac.range_policy == "dynamic":
        x_scale = periphery.abs_max(x, -1).clamp_min(torch.finfo(x.dtype).tiny)
        xq = periphery.dac(x, x_scale, cfg.dac.bits, clip=False)
    else:
        x_scale = torch.as_tensor(cfg.dac.input_range, dtype=x.dtype, device=x.device)
        xq = periphery.dac(x, x_scale, cfg.dac.bits, clip=True)
    # 2. write the blocks
    rows = cfg.tile.rows
    wb = mapping.to_blocks(w, rows)                                   # (G * nb, r, M)
    scales = mapping.weight_scales(wb, cfg.tile.cols, cfg.mapping.scale)  # (G * nb, 1, M)
    w_read = write_dynamic(wb / scales, cfg.device, cfg.mapping.g_max_uS, cfg.mapping.g_min_uS, generator)
    # 3. sum currents
    p = torch.bmm(mapping.inputs_to_blocks(xq, rows), w_read)        # (G * nb, N, M)
    # 4. output noise and ADC
    bound = cfg.adc.out_bound
    p = periphery.output_noise(p, cfg.noise.out_std_rel_fs * bound, generator)
    p = periphery.adc(p, bound, cfg.adc.bits, clip=cfg.adc.clip)
    # 5. digital periphery
    nb = p.shape[0] // g
    y = (p * scales).view(g, nb, n, m).sum(dim=1)
    return y * x_scale
