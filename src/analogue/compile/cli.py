"""``analogue map MODULE:FUNCTION --input-shape 1,3,32,32 [--chip hermes]``: compile a model given
as a factory function onto a chip preset and print the program summary."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import torch


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
    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise ValueError(
            f"--input-shape {text!r}: give integers separated by commas, e.g. 1,3,32,32"
        ) from None
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"--input-shape {text!r}: every dimension must be >= 1")
    return shape


def add_map_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        help="MODULE:FUNCTION returning an nn.Module, e.g. analogue.data.models:resnet18_like",
    )
    p.add_argument("--input-shape", required=True, help="example input shape, e.g. 1,3,224,224")
    p.add_argument(
        "--input-dtype",
        default="float32",
        choices=["float32", "int64"],
        help="int64 for token ids (drawn in [0, --int-high))",
    )
    p.add_argument("--int-high", type=int, default=100, help="upper bound of random int64 inputs")
    p.add_argument(
        "--kwargs",
        default="{}",
        help="JSON keyword arguments for FUNCTION, e.g. '{\"num_classes\": 10}'",
    )
    p.add_argument(
        "--chip",
        default="hermes",
        help="chip preset: hermes, hermes-4phase, mythic_m1076, neurram, sram_cim, gpu_a100",
    )
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


def run_map(args: argparse.Namespace) -> int:
    from analogue import chips
    from analogue.compile import compile as compile_model

    fn = load_factory(args.model)
    kwargs = json.loads(args.kwargs)
    if not isinstance(kwargs, dict):
        raise ValueError(f"--kwargs {args.kwargs!r}: must be a JSON object")
    model = fn(**kwargs)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{args.model} returned {type(model).__name__}, not a torch.nn.Module")
    model.eval()
    shape = parse_shape(args.input_shape)
    gen = torch.Generator().manual_seed(0)
    if args.input_dtype == "int64":
        x = torch.randint(0, args.int_high, shape, generator=gen)
    else:
        x = torch.randn(shape, generator=gen)
    rules = {name: None for name in args.digital} or None
    program = compile_model(
        model,
        x,
        chips.get(args.chip),
        rules=rules,
        replicate=args.replicate,
        reprogram=args.reprogram,
        build_model=False,
    )
    print(program.summary(max_digital=None if args.all_digital_ops else 20))
    if args.json:
        program.to_json(args.json)
        print(f"saved {args.json}")
    if args.plot:
        program.plot_occupancy(args.plot)
        print(f"saved {args.plot}")
    return 0
