"""``analogue map MODULE:FUNCTION --input-shape 1,3,32,32 [--chip hermes|my_chip.yaml]``: compile a
model given as a factory function onto a chip (a preset or a YAML file) and print the program
summary. Helpers shared with ``analogue cost``: ``load_factory``, ``parse_shape``, ``load_chip``,
``example_input``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import torch

from analogue._util.progress import progress_arg
from analogue.cli.device import add_device_argument, resolve_device


def load_factory(spec: str) -> Any:
    """``"package.module:function"`` or ``"path/to/file.py:function"`` -> the function."""
    if ":" not in spec:
        raise ValueError(
            f"model {spec!r}: give it as MODULE:FUNCTION, e.g. analogue.data.models:resnet18_like"
        )
    mod_name, fn_name = spec.rsplit(":", 1)
    if mod_name.endswith(".py"):
        path = Path(mod_name)
        if not path.is_file():
            raise FileNotFoundError(f"model {spec!r}: no file {path}")
        mspec = importlib.util.spec_from_file_location(path.stem, path)
        assert mspec is not None and mspec.loader is not None
        module = importlib.util.module_from_spec(mspec)
        mspec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            raise ValueError(f"model {spec!r}: cannot import {mod_name!r} ({exc})") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise ValueError(f"model {spec!r}: {mod_name} has no callable {fn_name!r}")
    return fn


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,32,32"`` or ``"1x3x32x32"`` -> ``(1, 3, 32, 32)``; every part an integer >= 1."""
    import re

    parts = [s.strip() for s in re.split(r"[,x]", text.strip())]
    if not all(p.isdigit() for p in parts):
        raise ValueError(
            f"--input-shape {text!r}: give integers separated by commas, e.g. 1,3,32,32"
        )
    shape = tuple(int(p) for p in parts)
    if any(s < 1 for s in shape):
        raise ValueError(f"--input-shape {text!r}: every dimension must be >= 1")
    return shape


CHIP_HELP = ("chip preset (hermes, hermes-4phase, mythic_m1076, neurram, neurram-8b_out_6b_in, "
             "sram_cim, gpu_a100) or a chip YAML file (Chip.to_yaml)")


def load_chip(text: str) -> Any:
    """A chip preset by name, or a ``Chip`` from a YAML file (``*.yaml``/``*.yml`` or an existing
    file)."""
    from analogue.config import chips

    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        return chips.Chip.from_yaml(text)
    return chips.get(text)


def parse_kwargs(text: str) -> dict[str, Any]:
    """``--kwargs``: a JSON object."""
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--kwargs {text!r}: not JSON ({exc}); e.g. '{{\"num_classes\": 10}}'") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--kwargs {text!r}: must be a JSON object")
    return kwargs


def add_input_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    """``--input-shape``, ``--input-dtype``, ``--int-high`` (shared by map and cost)."""
    p.add_argument("--input-shape", required=required, default=None,
                   help="example input shape, e.g. 1,3,224,224 (1,16 for 16 token ids)")
    p.add_argument(
        "--input-dtype",
        default="float32",
        choices=["float32", "int64"],
        help="int64 for token ids, e.g. a language model (drawn in [0, --int-high))",
    )
    p.add_argument("--int-high", type=int, default=100, help="upper bound of random int64 inputs")


def example_input(args: argparse.Namespace) -> torch.Tensor:
    """The example input of ``--input-shape``/``--input-dtype`` (seeded)."""
    shape = parse_shape(args.input_shape)
    gen = torch.Generator().manual_seed(0)
    if args.input_dtype == "int64":
        if args.int_high < 1:
            raise ValueError(f"--int-high: must be >= 1 (the vocabulary size), got {args.int_high}")
        return torch.randint(0, args.int_high, shape, generator=gen)
    return torch.randn(shape, generator=gen)


def build_factory_model(spec: str, kwargs_text: str) -> torch.nn.Module:
    """``MODULE:FUNCTION(**kwargs)``, checked to be an ``nn.Module``, in eval mode."""
    model = load_factory(spec)(**parse_kwargs(kwargs_text))
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def add_map_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        help="MODULE:FUNCTION returning an nn.Module, e.g. analogue.data.models:resnet18_like",
    )
    add_input_arguments(p, required=True)
    p.add_argument(
        "--kwargs",
        default="{}",
        help="JSON keyword arguments for FUNCTION, e.g. '{\"num_classes\": 10}'",
    )
    p.add_argument("--chip", default="hermes", help=CHIP_HELP)
    p.add_argument(
        "--replicate", action="store_true", help="copy bottleneck layers into spare arrays"
    )
    p.add_argument(
        "--reprogram",
        action="store_true",
        help="time-multiplex by reprogramming when it does not fit",
    )
    p.add_argument(
        "--digital",
        action="append",
        default=[],
        metavar="NAME",
        help="keep a layer digital (exact name or re:<regex>); repeatable",
    )
    p.add_argument(
        "--all-digital-ops", action="store_true", help="list every digital op, not the top 20"
    )
    p.add_argument("--json", default=None, help="write the program to this JSON file")
    p.add_argument("--plot", default=None, help="save the array-occupancy plot to this image file")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_device_argument(p)


def run_map(args: argparse.Namespace) -> int:
    from analogue.compile import compile as compile_model

    chip = load_chip(args.chip)
    args.torch_device = dev = resolve_device(args.device)
    x = example_input(args).to(dev)
    model = build_factory_model(args.model, args.kwargs).to(dev)
    rules = {name: None for name in args.digital} or None
    program = compile_model(
        model,
        x,
        chip,
        rules=rules,
        replicate=args.replicate,
        reprogram=args.reprogram,
        build_model=False,
        progress=progress_arg(args),
    )
    print(program.summary(max_digital=None if args.all_digital_ops else 20))
    if args.json:
        program.to_json(args.json)
        print(f"saved {args.json}")
    if args.plot:
        program.plot_occupancy(args.plot)
        print(f"saved {args.plot}")
    return 0
