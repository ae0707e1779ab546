"""``analogue sensor``: accuracy and energy per frame with the first convolution in the sensor
(registered in ``cli.COMMANDS``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from analogue._util.tables import print_table
from analogue.cli.device import add_device_argument, resolve_device


def add_sensor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results", help="folder for sensor.json and sensor.png")
    p.add_argument("--repeats", type=int, default=2, help="sensor instances per light level")
    add_device_argument(p)


def run_sensor(args: argparse.Namespace) -> int:
    from analogue.apps.sensor import run_sensor_study
    from analogue.cost.edge import sensor_validation_rows

    device = resolve_device(args.device)
    if not (isinstance(args.repeats, int) and args.repeats >= 1):
        raise ValueError(f"sensor: --repeats must be >= 1, got {args.repeats!r}")
    res = run_sensor_study(repeats=args.repeats, out=Path(args.out), device=device)
    print(f"clean digital accuracy {res['clean_accuracy_pct']:.1f} %")
    print_table("Test accuracy vs illuminance on the sensor (10 ms exposure)", res["by_lux"])
    print_table("Test accuracy vs exposure (1 lux)", res["by_exposure"])
    print_table("Energy per 32x32 frame, pJ (first layer 4x4/4, 8 features)", res["energy"])
    print(f"saving: {res['frame']['saving']:.1f}x less energy per frame in the sensor")
    print_table("Energy per pixel per frame against published in-sensor chips", sensor_validation_rows())
    print(f"saved {res['paths']['json']} and {res['paths']['plot']}")
    return 0
