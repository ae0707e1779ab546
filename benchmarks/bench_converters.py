"""Converter errors on a programmed layer: what the per-column ADC offset, gain error, INL/DNL and
the row DACs' INL cost in the forward and in ``an.program_``.

Times, side by side in one run, a 1024x1024 linear layer (``presets.standard()``, batch 256,
``no_grad``): ``nn.Linear``; the programmed analog layer with ideal converters (the default);
the same with every converter error on (offset 0.5 LSB, gain 1 %, bow INL 0.5 LSB, DNL 0.2 LSB,
DAC INL 0.5 LSB); and ``an.program_`` with and without them.

``--bit-serial``: instead, a 512x512 linear layer (batch 256, ``no_grad``, eval): ``nn.Linear``;
``presets.standard()`` with amplitude inputs (one read, the default) and with 8-bit inputs
bit-serially, 1 bit per read (``dac.bits_per_cycle=1``: 7 reads, each converted); and
``presets.sram()`` (8 one-bit weight slices) with amplitude and bit-serial inputs; one thread.

Run: ``python benchmarks/bench_converters.py [--repeats 15] [--bit-serial] [--device cuda]``; prints
a markdown table (``--bit-serial`` sets one CPU thread, which a GPU run does not use).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from common import add_device_argument, best_time, on_device, resolve_device  # noqa: E402

import analogue as an  # noqa: E402

ERRORS = {"adc.offset_std_lsb": 0.5, "adc.gain_std_rel": 0.01, "adc.inl_std_lsb": 0.5,
          "adc.dnl_std_lsb": 0.2, "dac.inl_std_lsb": 0.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--bit-serial", action="store_true",
                    help="time bit-serial against amplitude inputs on a 512x512 layer")
    add_device_argument(ap)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    if args.bit_serial:
        bit_serial(args.repeats, dev)
        return
    torch.manual_seed(0)
    digital = nn.Linear(1024, 1024).eval().to(dev)
    ideal = an.AnalogLinear.from_float(digital, an.presets.standard()).eval()
    errors = an.AnalogLinear.from_float(digital, an.presets.standard().replace(**ERRORS)).eval()
    t_prog_ideal = best_time(on_device(lambda: an.program_(ideal, seed=0), dev), 3, warmup=0)
    t_prog_err = best_time(on_device(lambda: an.program_(errors, seed=0), dev), 3, warmup=0)
    x = torch.randn(256, 1024).to(dev)
    with torch.no_grad():
        t_torch = best_time(on_device(lambda: digital(x), dev), args.repeats)
        t_ideal = best_time(on_device(lambda: ideal(x), dev), args.repeats)
        t_err = best_time(on_device(lambda: errors(x), dev), args.repeats)
    print("| case | ms | ratio |\n|---|---|---|")
    print(f"| nn.Linear 1024x1024, batch 256 | {t_torch * 1e3:.2f} | 1.00 |")
    print(f"| programmed, ideal converters | {t_ideal * 1e3:.2f} | {t_ideal / t_torch:.2f} |")
    print(f"| programmed, converter errors on | {t_err * 1e3:.2f} | {t_err / t_torch:.2f} |")
    print(f"| an.program_, ideal converters | {t_prog_ideal * 1e3:.1f} | 1.00 |")
    print(f"| an.program_, converter errors on | {t_prog_err * 1e3:.1f} | {t_prog_err / t_prog_ideal:.2f} |")


def bit_serial(repeats: int, dev: torch.device) -> None:
    """Bit-serial (1 bit per read) against amplitude inputs, 512x512, batch 256, one thread."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    digital = nn.Linear(512, 512).eval().to(dev)
    x = torch.randn(256, 512).to(dev)
    cases = [("presets.standard(), amplitude inputs", an.presets.standard()),
             ("presets.standard(), bit-serial 1 bit/read (7 reads)",
              an.presets.standard().replace(**{"dac.bits_per_cycle": 1})),
             ("presets.sram(), amplitude inputs (8 slices)", an.presets.sram()),
             ("presets.sram(bits_per_cycle=1) (8 slices x 7 reads)", an.presets.sram(bits_per_cycle=1))]
    with torch.no_grad():
        t_torch = best_time(on_device(lambda: digital(x), dev), repeats)
        print("| case (512x512, batch 256, no_grad) | ms | ratio to nn.Linear |\n|---|---|---|")
        print(f"| nn.Linear | {t_torch * 1e3:.2f} | 1.00 |")
        for name, cfg in cases:
            layer = an.AnalogLinear.from_float(digital, cfg).eval()
            t = best_time(on_device(lambda layer=layer: layer(x), dev), repeats)
            print(f"| {name} | {t * 1e3:.2f} | {t / t_torch:.2f} |")


if __name__ == "__main__":
    main()
