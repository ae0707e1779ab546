"""``analogue sweep SWEEP.yaml``: accuracy and cost of a model over a grid or random sample of
chip settings, as Ray tasks; results in a Parquet table a rerun resumes (``apps.sweep``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from analogue._util.progress import progress_arg
from analogue._util.tables import print_table
from analogue.cli.device import add_device_argument, resolve_device


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="the sweep's YAML file (model, chip, axes, mode, repeats, ...; docs/sweeps.md)")
    p.add_argument("--out", default="sweep", help="folder of the Parquet table (points/), pareto.png and pareto.json")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join ('auto', 'ray://host:10001'); default: a local Ray on this machine")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--rerun", choices=["missing", "failed"], default="missing",
                   help="run the points without a row (missing), or also those whose row is an error (failed)")
    add_device_argument(p)
    p.add_argument("--trust-code", action="store_true",
                   help="allow a model MODULE:FUNCTION outside analogue (imports and runs its code)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_sweep_cli(args: argparse.Namespace) -> int:
    from analogue.apps.sweep import run_sweep

    # checked here when the points run on this machine; a cluster's workers may have devices it lacks
    device = str(resolve_device(args.device)) if args.address is None else args.device
    res = run_sweep(Path(args.spec), Path(args.out), address=args.address, num_cpus=args.num_cpus,
                    rerun=args.rerun, device=device, trust_code=args.trust_code, progress=progress_arg(args))
    print(f"ran {res.executed} point(s), {res.skipped} done already, {len(res.failed)} failed; table "
          f"{res.out / 'points'}")
    print_table("Pareto front: accuracy vs energy per inference", res.table())
    if res.failed:
        print_table("Failed points", res.table(res.failed))
    print(f"saved {res.out / 'pareto.png'} and {res.out / 'pareto.json'}")
    return 0
