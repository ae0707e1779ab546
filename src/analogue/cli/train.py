"""``analogue train CONFIG.yaml`` and ``analogue hwa-table`` (registered in ``cli.COMMANDS``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from analogue._util.progress import progress_arg
from analogue._util.tables import print_table
from analogue.apps.inmemory_study import ALGORITHMS, HIDDEN, run_inmemory_demo
from analogue.cli.device import add_device_argument, resolve_device, resolve_device_or_preset
from analogue.config.pulsed import DEVICE_PRESETS


# -- analogue train -------------------------------------------------------------------------------
def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="training config (YAML; see docs/examples/digits_hwa.yaml)")
    p.add_argument("--out", default=None, help="run folder: config copy, checkpoint.pt after every epoch, "
                   "history.json, model.pt (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--force", action="store_true", help="start afresh even if --out is not empty (overwrites)")
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop once N epochs are complete (resume later with --resume)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    _add_trust_code(p)
    add_device_argument(p)
    p.add_argument("--in-memory", action="store_true",
                   help="in-memory (pulsed) training demo instead of a config (analogue.apps.inmemory_study)")
    add_inmemory_arguments(p.add_argument_group("with --in-memory"))


def _add_trust_code(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-code", action="store_true",
                   help="allow the config's model.name/data.name to name package.module:function "
                   "outside analogue.data: this imports that module and RUNS ITS CODE; only for "
                   "configs you trust")


def _train_device(args: argparse.Namespace) -> None:
    """Resolve ``--device`` (the torch device) into ``args.torch_device``; a pulsed device preset
    given as ``--device`` works with ``--in-memory`` only (deprecated: ``--pulsed-device``)."""
    text = getattr(args, "device", "cpu") or "cpu"
    if text in DEVICE_PRESETS and not getattr(args, "in_memory", False):
        raise ValueError(f"--device {text}: a pulsed device preset is --pulsed-device {text} (with "
                         "--in-memory); --device names the torch device (cpu, cuda, mps)")
    resolve_device_or_preset(args, "train", DEVICE_PRESETS)


def run_train(args: argparse.Namespace) -> int:
    _train_device(args)
    if args.in_memory:
        return run_inmemory(args)
    if args.config is None:
        raise ValueError("give a training config: analogue train CONFIG.yaml (see docs/examples/digits_hwa.yaml)")
    from analogue.apps.train_config import TrainConfig
    from analogue.apps.training import run_training

    cfg = TrainConfig.from_yaml(args.config)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    result = run_training(cfg, out, resume=args.resume, force=args.force, progress=progress_arg(args),
                          stop_after=args.stop_after, log=print, trust_code=args.trust_code,
                          device=args.torch_device)
    if result.completed_epochs < cfg.total_epochs:
        print(f"stopped after epoch {result.completed_epochs} of {cfg.total_epochs}; continue with "
              f"`analogue train {args.config} --out {out} --resume`")
    else:
        last = result.history[-1] if result.history else None
        if last is not None:
            print(f"done: test accuracy {100 * last['test_accuracy']:.2f} % after {cfg.total_epochs} epochs")
        print(f"saved {out / 'model.pt'} (state_dict) and {out / 'history.json'}")
    return 0


# -- analogue hwa-table ---------------------------------------------------------------------------
def add_hwa_table_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None,
                   help="training config (default: the recipe of docs/examples/digits_hwa.yaml)")
    p.add_argument("--out", default="results", help="folder for hwa_table.json")
    p.add_argument("--repeats", type=int, default=10, help="programming instances (Monte Carlo)")
    p.add_argument("--analog-macs", type=float, default=0.95,
                   help="hybrid budget: minimum fraction of MACs kept on analog tiles")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    _add_trust_code(p)
    add_device_argument(p)


def run_hwa_table_cli(args: argparse.Namespace) -> int:
    from analogue.apps.hwa_table import run_hwa_table
    from analogue.apps.train_config import TrainConfig

    args.torch_device = resolve_device(args.device)
    cfg = TrainConfig.from_yaml(args.config) if args.config else None
    res = run_hwa_table(cfg, args.out, repeats=args.repeats, min_analog_mac_fraction=args.analog_macs,
                        progress=progress_arg(args), log=print, trust_code=args.trust_code,
                        device=args.torch_device)
    print_table(f"Digits CNN on PCM (an.presets.pcm()): test accuracy %, mean +- std over {args.repeats} "
                "programming instances, global drift compensation", res["table"])
    h = res["hybrid"]
    print_table(f"Hybrid placement ({100 * h['analog_mac_fraction']:.1f} % of MACs analog, budget "
                f">= {100 * h['min_analog_mac_fraction']:.0f} %): per-layer relative output error at 1 d", h["table"])
    print(f"saved {res['path']} ({res['seconds']:.0f} s)")
    return 0


# -- analogue train --in-memory ----------------------------------------------------------------------
def add_inmemory_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options of ``analogue train --in-memory`` (next to the shared ``--out``)."""
    p.add_argument("--algorithm", default="all", choices=[*ALGORITHMS, "all"],
                   help="in-memory algorithm (default: all, with digital SGD for reference)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (in-memory default 10)")
    p.add_argument("--pulsed-device", default="rram", choices=sorted(DEVICE_PRESETS),
                   help="pulsed device preset (in-memory default: rram, asymmetric RRAM-like; formerly --device)")
    p.add_argument("--seed", type=int, default=0)


def run_inmemory(args: argparse.Namespace) -> int:
    """``analogue train --in-memory``: print the accuracy table and the energy, save JSON and plot."""
    algorithm = getattr(args, "algorithm", "all") or "all"
    algorithms = list(ALGORITHMS) if algorithm == "all" else [algorithm]
    epochs = getattr(args, "epochs", None)
    epochs = 10 if epochs is None else epochs
    out = Path(getattr(args, "out", None) or "results")
    res = run_inmemory_demo(algorithms, epochs=epochs, device=getattr(args, "pulsed_device", "rram") or "rram",
                            seed=getattr(args, "seed", 0) or 0, out=out, log=print,
                            torch_device=getattr(args, "torch_device", None) or "cpu")
    print_table(f"Digits MLP {64}-{'-'.join(map(str, HIDDEN))}-10 trained in memory on the "
                f"{res['device_preset']} device preset: test accuracy % per epoch", res["table"])
    print_table("Summary (energy: analogue.cost.estimate_training with the pulses applied)", res["summary"])
    print(f"saved {res['paths']['json']} and {res['paths']['plot']}")
    return 0
