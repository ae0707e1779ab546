"""The ``analogue`` command: thin -- parses arguments, calls the library, prints and plots.

Subcommands are registered in ``COMMANDS`` (name -> (help, add_arguments, run)).

Errors: every user error (a bad argument, a bad or malformed config, a damaged checkpoint, a
failing model call) is one line on standard error, ``analogue COMMAND: error: ...``, with exit
code 2; Ctrl-C exits with 130. ``analogue --debug COMMAND ...`` shows the traceback instead.
``MODULE:FUNCTION`` names are looked up with the working directory on the import path.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

from analogue._util.progress import progress_arg
from analogue._util.tables import print_table
from analogue._util.version import __version__
from analogue.cli.arrays import add_arrays_arguments, run_arrays
from analogue.cli.attention import (
    add_attention_arguments,
    add_beyond_arguments,
    run_attention,
    run_beyond,
)
from analogue.cli.continual import add_continual_arguments, run_continual
from analogue.cli.cost import add_cost_arguments, run_cost
from analogue.cli.device import add_device_argument, resolve_device
from analogue.cli.map import add_map_arguments, run_map
from analogue.cli.sensor import add_sensor_arguments, run_sensor
from analogue.cli.sweep import add_sweep_arguments, run_sweep_cli
from analogue.cli.train import (
    add_hwa_table_arguments,
    add_train_arguments,
    run_hwa_table_cli,
    run_train,
)
from analogue.cli.transformer import add_transformer_arguments, run_transformer_cli


# -- demo -------------------------------------------------------------------------------------
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results", help="folder for results.json and the plot")
    p.add_argument("--epochs", type=int, default=15, help="training epochs of the digital CNN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_device_argument(p)


def _run_demo(args: argparse.Namespace) -> int:
    from analogue.apps.demo import run_demo

    args.torch_device = resolve_device(args.device)
    result = run_demo(out=Path(args.out), epochs=args.epochs, seed=args.seed, progress=progress_arg(args),
                      device=args.torch_device)
    print_table("Digits CNN: digital vs analog (an.presets.standard())", result["accuracy_table"])
    print_table("MVM error of one 256x256 tile, normalised to full-scale output", result["mvm_table"])
    print(f"saved {result['paths']['json']} and {result['paths']['plot']}")
    return 0


# -- drift ------------------------------------------------------------------------------------
def _add_drift(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results", help="folder for drift.json and drift.png")
    p.add_argument("--epochs", type=int, default=15, help="training epochs of the digital CNN")
    p.add_argument("--repeats", type=int, default=10, help="programming instances (Monte Carlo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compensation", nargs="+", default=["none", "global"],
                   choices=["none", "global", "column"], help="drift compensation modes to compare")
    p.add_argument("--temperature-k", type=float, default=None,
                   help="temperature the arrays are held at, kelvin (default: the device reference, 300 K)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_device_argument(p)


def _run_drift(args: argparse.Namespace) -> int:
    from analogue.apps.drift_study import run_drift_demo

    args.torch_device = resolve_device(args.device)
    res = run_drift_demo(Path(args.out), epochs=args.epochs, repeats=args.repeats, seed=args.seed,
                         compensation=tuple(args.compensation), temperature_k=args.temperature_k,
                         progress=progress_arg(args), device=args.torch_device)
    print(f"digits CNN: digital {100 * res['digital_accuracy']:.2f} %, analog PCM before programming "
          f"{100 * res['analog_before_programming']:.2f} %")
    print_table(f"Accuracy over time after programming ({args.repeats} instances, mean and 95 % CI)",
                res["table"])
    print(f"saved {res['paths']['json']} and {res['paths']['plot']}")
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {
    "demo": ("train a CNN on digits, run it on simulated analog tiles, compare", _add_demo, _run_demo),
    "map": ("compile a model (MODULE:FUNCTION) onto a chip and print where every layer runs",
            add_map_arguments, run_map),
    "cost": ("energy, latency and area: chip peak figures, claims check, a compiled model's cost",
             add_cost_arguments, run_cost),
    "drift": ("digits CNN on PCM: accuracy from 1 s to 1 year after programming, with and without "
              "drift compensation", _add_drift, _run_drift),
    "train": ("train a model from a YAML config (digital pretraining, conversion, hardware-aware "
              "training), checkpointed every epoch; --resume continues a stopped run",
              add_train_arguments, run_train),
    "arrays": ("how large an array may be: accuracy with line resistance (IR drop) and the chip's "
               "energy, latency and area per array size", add_arrays_arguments, run_arrays),
    "hwa-table": ("digits CNN on PCM: digital vs plain analog vs HWA-trained vs HWA + hybrid, 1 s to 1 y",
                  add_hwa_table_arguments, run_hwa_table_cli),
    "sweep": ("accuracy and cost of a model over a grid or random sample of chip settings, as Ray tasks; "
              "a rerun resumes", add_sweep_arguments, run_sweep_cli),
    "attention": ("tiny BERT: digital vs analog attention (Q K^T and A V on arrays written per sequence), "
                  "accuracy and cost", add_attention_arguments, run_attention),
    "inmemory-beyond": ("Tiki-Taka in memory on a digits CNN and a tiny transformer vs digital SGD",
                        add_beyond_arguments, run_beyond),
    "transformer": ("pretrained MiniLM encoder and a GPT-2-class LM: digital vs analog, HWA fine-tuning, cost",
                    add_transformer_arguments, run_transformer_cli),
    "sensor": ("digits with the first convolution in the image sensor: accuracy vs light and "
               "exposure, energy per frame vs a conventional sensor", add_sensor_arguments, run_sensor),
    "continual": ("continual learning on a battery: split and permuted digits learned in memory vs "
                  "digital fine-tuning vs frozen; accuracy matrix, forgetting, energy per update",
                  add_continual_arguments, run_continual),
}


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (``analogue train: error: ...``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="analogue", description="Analog in-memory-computing toolkit")
    parser.add_argument("--version", action="version", version=f"analogue {__version__}")
    debug_help = "show the full traceback of an error instead of one line"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add, _run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        # also accepted after the command; SUPPRESS keeps a --debug given before it
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
        add(p)
    return parser


@contextlib.contextmanager
def _cwd_on_path() -> Iterator[None]:
    """The working directory on ``sys.path`` (appended: it never shadows installed packages),
    so ``MODULE:FUNCTION`` finds the user's own modules as ``python -m`` would."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


@contextlib.contextmanager
def _quiet_torch_tracing() -> Iterator[None]:
    """torch's fake-tensor tracer logs a full traceback before it raises the error we report in
    one line; silence that logger (restored after; ``--debug`` keeps it)."""
    log = logging.getLogger("torch._subclasses.fake_tensor")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _user_errors() -> tuple[type[BaseException], ...]:
    import yaml

    return (ValueError, TypeError, OSError, RuntimeError, yaml.YAMLError, pickle.UnpicklingError)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines) or type(exc).__name__
    if isinstance(exc, RuntimeError) or not isinstance(exc, (ValueError, OSError)):
        text += " (analogue --debug ... shows the traceback)"
    return text


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _cwd_on_path(), (contextlib.nullcontext() if args.debug else _quiet_torch_tracing()):
            return COMMANDS[args.command][2](args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"analogue {args.command}: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as exc:
        if args.debug:
            raise
        print(f"analogue {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
