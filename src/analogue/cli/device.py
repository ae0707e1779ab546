"""``--device``: the torch device a CLI command runs its model on (``cpu``, ``cuda``, ``cuda:1``,
``mps``; default ``cpu``: the results then match the documented figures on any machine, and a GPU is
used only when asked for).

``resolve_device`` turns the text into a ``torch.device``, failing with one line that names the
fix for a name torch does not know, a device without data (``meta``) and one this machine lacks.
Every command hands the device to its app or library call (``analogue.apps``: model, data and
evaluation on that device).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection

import torch

DEVICE_HELP = ("torch device to run the model on: cpu, cuda, cuda:N or mps (default: cpu; a GPU is "
               "used only when named)")


def add_device_argument(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--device`` (the torch device; ``args.device``, text) to a command's parser."""
    p.add_argument("--device", default="cpu", metavar="DEVICE", help=DEVICE_HELP)


def _available(dev: torch.device) -> bool:
    if dev.type == "cpu":
        return True
    if dev.type == "cuda":
        return torch.cuda.is_available() and (dev.index is None or dev.index < torch.cuda.device_count())
    if dev.type == "mps":
        return torch.backends.mps.is_available()
    mod = getattr(torch, dev.type, None)  # xpu and other accelerator backends
    return bool(mod is not None and hasattr(mod, "is_available") and mod.is_available())


def resolve_device(text: str | torch.device) -> torch.device:
    """``text`` as a ``torch.device`` this machine has; a ``ValueError`` naming the fix otherwise."""
    try:
        dev = torch.device(text)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"--device: {str(text)!r} is not a torch device; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "meta":
        raise ValueError("--device: meta tensors hold no data, so a model cannot run on them; use cpu, cuda or mps")
    if not _available(dev):
        raise ValueError(f"--device: {dev} is not available on this machine (torch {torch.__version__}); "
                         "use --device cpu, or install a torch build for that device")
    return dev



def resolve_device_or_preset(args: argparse.Namespace, command: str, presets: Collection[str]) -> None:
    """``args.device`` into ``args.torch_device`` for a command that also takes
    ``--pulsed-device``. Before ``--pulsed-device`` existed, ``--device`` named the pulsed device
    preset: such a name still sets ``args.pulsed_device``, with a deprecation warning, and the model
    runs on the CPU."""
    text = getattr(args, "device", "cpu") or "cpu"
    if text in presets:
        print(f"analogue {command}: warning: --device {text} is deprecated for the pulsed device preset; "
              f"use --pulsed-device {text} (--device now names the torch device)", file=sys.stderr)
        args.pulsed_device, text = text, "cpu"
    args.torch_device = resolve_device(text)
