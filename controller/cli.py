"""The ``thermogate`` command line.

Subcommands so far:

- ``thermogate sensor check EEPROM`` -- validate an MLX90640 EEPROM dump and
  show what it says (an installer's first check of a new board).
- ``thermogate sensor decode EEPROM FRAME`` -- turn one 834-word subpage into
  temperatures and print a summary.
- ``thermogate site ...``, ``thermogate gate ...``, ``thermogate flash ...``,
  ``thermogate broker config`` -- the installer's tools: the site's gate
  registry and secrets, each board's config.json, flashing, the broker's
  users and ACL (controller/site/).
- ``thermogate record GATE -o FILE --seconds N`` -- record a live gate's
  traffic; ``thermogate sim replay FILE`` -- publish a recording as a gate
  (sim/cli.py, docs/recordings.md). The simulator adds these through the
  ``thermogate.commands`` entry-point group (pyproject.toml), so the
  controller does not import it.
- ``thermogate model fit|predict|evaluate`` -- the skin-to-body model on the
  facial-oral study's files (controller/screening/model_cli.py).

Every module of subcommands has ``add_commands(subparsers)``: the
controller's are listed in :data:`COMMAND_MODULES`; other installed packages
name theirs in the entry-point group.

Word files are JSON lists of integers, raw little-endian 16-bit binary
(``.bin``), or text with one integer per token (decimal or 0x-hex).
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np

from . import __version__, app, report_cli, watch
from .calibrate import cli as calibrate_cli
from .cases import cli as cases_cli
from .cli_common import run
from .console import user_cli
from .identity import cli as identity_cli
from .notify import cli as notify_cli
from .reporting import cli as reporting_cli
from .screening import cli as screening_cli
from .screening import model_cli
from .site import broker_cli
from .site import cli as site_cli

# The controller's modules of subcommands, in the order `thermogate --help` lists them.
COMMAND_MODULES = (site_cli, broker_cli, screening_cli, calibrate_cli, model_cli, report_cli, app, user_cli,
                   identity_cli, cases_cli, reporting_cli, notify_cli, watch)  # reporting_cli adds to `report`
ENTRY_POINT_GROUP = "thermogate.commands"


def read_words(path: str) -> np.ndarray:
    """16-bit words from a JSON, binary or text file; ValueError if unreadable."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    if p.suffix == ".bin":
        if len(data) % 2:
            raise ValueError(f"{path}: odd number of bytes ({len(data)}) for 16-bit words")
        return np.frombuffer(data, dtype="<u2").astype(np.uint16)
    text = data.decode("utf-8", errors="replace")
    if p.suffix == ".json":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    else:
        try:
            values = [int(tok, 0) for tok in text.replace(",", " ").split()]
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
        raise ValueError(f"{path}: expected a list of integers")
    if any(v < 0 or v > 0xFFFF for v in values):
        raise ValueError(f"{path}: words must lie in 0..65535")
    return np.array(values, dtype=np.uint16)


def _sensor_check(args) -> int:
    from .sensor import Calibration, describe_control

    cal = Calibration.from_eeprom(read_words(args.eeprom))
    p = cal.params
    print(f"EEPROM {args.eeprom}: valid MLX90640 calibration")
    print(f"  calibrated in {'chess' if p.calibrated_in_chess else 'interleaved'} mode "
          f"at {16 + p.resolution_ee}-bit resolution")
    print(f"  power-up control register 0x{p.control_ee:04X}: {describe_control(p.control_ee)}")
    print(f"  gain {p.gain_ee:.0f}, Kt_PTAT {p.kt_ptat}, K_Vdd {p.k_vdd:.0f}, TGC {p.tgc}, KsTa {p.ks_ta:.6f}")
    print(f"  corner temperatures {p.ct.tolist()} degC, KsTo {np.round(p.ks_to, 7).tolist()}")
    print(f"  sensitivity alpha {p.alpha.min():.3e} .. {p.alpha.max():.3e}")
    rc = lambda i: f"(row {i // 32}, col {i % 32})"  # noqa: E731
    print(f"  broken pixels: {', '.join(map(rc, p.broken_pixels)) or 'none'}")
    print(f"  outlier pixels: {', '.join(map(rc, p.outlier_pixels)) or 'none'}")
    return 0


def _sensor_decode(args) -> int:
    from .sensor import Calibration

    cal = Calibration.from_eeprom(read_words(args.eeprom))
    sub = cal.measure(read_words(args.frame), emissivity=args.emissivity, tr=args.tr)
    to = sub.to[~np.isnan(sub.to)]
    print(f"subpage {sub.subpage} ({'chess' if sub.chess else 'interleaved'}): Ta {sub.ta:.2f} degC, "
          f"Vdd {sub.vdd:.3f} V")
    print(f"  {to.size} pixels: min {to.min():.2f}, median {np.median(to):.2f}, max {to.max():.2f} degC")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thermogate", description="Thermal-screening gates: tools and services.")
    parser.add_argument("--version", action="version", version=f"thermogate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sensor = commands.add_parser("sensor", help="MLX90640 sensor tools")
    sensor_commands = sensor.add_subparsers(dest="sensor_command", metavar="SUBCOMMAND")
    check = sensor_commands.add_parser("check", help="validate an EEPROM dump and show its parameters")
    check.add_argument("eeprom", help="file with the 832 EEPROM words")
    check.set_defaults(run=_sensor_check)
    decode = sensor_commands.add_parser("decode", help="temperatures of one subpage")
    decode.add_argument("eeprom", help="file with the 832 EEPROM words")
    decode.add_argument("frame", help="file with the 834 frame words")
    decode.add_argument("--emissivity", type=float, default=1.0)
    decode.add_argument("--tr", type=float, default=None, help="reflected temperature (default Ta - 8)")
    decode.set_defaults(run=_sensor_decode)

    for module in COMMAND_MODULES:
        module.add_commands(commands)
    add_installed_commands(commands)
    return parser


def add_installed_commands(commands) -> None:
    """The subcommands other installed packages add through the ``thermogate.commands`` entry points
    (the simulator's ``record`` and ``sim``). One that cannot be loaded is left out with a warning, so
    the rest of ``thermogate`` still works."""
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            add_commands = ep.load()
        except Exception as exc:  # a broken plugin must not take the installer's tools down with it
            print(f"thermogate: warning: the {ep.name!r} commands ({ep.value}) could not be loaded: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        add_commands(commands)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
