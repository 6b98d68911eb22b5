"""What the store's command-line tools share (``thermogate case``, ``people``, ``visitor``, and ``main``).

- ``store_options``: ``--config controller.toml`` or ``--store URL``, and ``--tz``;
- ``store_context(args)``: the store's URL, the school's time zone and the loaded config (None with --store);
- ``acting_user(args)``: who does it, for the audit: ``--as USER``, else the login name;
- ``run(args)``: a parsed command run, its ``ValueError`` printed as ``thermogate: error: ...`` (status 2);
- ``date_arg``, ``zone``, ``local_zone_name``: a ``--date``, a ``--tz`` and the machine's time zone, for every
  command that takes them;
- ``load_controller_config(path)``: controller.toml loaded for a command, so that the tools below the service
  (the reports) need not import it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
import zoneinfo
from pathlib import Path

DEFAULT_CONFIG = "controller.toml"


def store_options(p: argparse.ArgumentParser, *, config_help: str, between=None) -> argparse.ArgumentParser:
    """``--config`` (default ./controller.toml, ``config_help`` says what it names) or ``--store URL``, then
    ``between(p)`` if given (options that belong between them in the help), then ``--tz``."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--config", default=DEFAULT_CONFIG, help=config_help)
    where.add_argument("--store", help="the store's URL instead (a SQLite path or postgresql://...)")
    if between is not None:
        between(p)
    p.add_argument("--tz",
                   help="the school's time zone, e.g. Asia/Shanghai (default: the config's, else the machine's)")
    return p


def as_option(p: argparse.ArgumentParser, help: str) -> argparse.ArgumentParser:
    p.add_argument("--as", dest="as_user", metavar="USER", help=help)
    return p


def date_arg(text: str) -> dt.date:
    """A ``--date`` YYYY-MM-DD (argparse's ``type=``)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-02") from None


def local_zone_name() -> str:
    """The machine's time zone name: $TZ, /etc/timezone, the /etc/localtime link, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use a name like Asia/Shanghai)") from None


def store_context(args):
    """(the store's URL, the school's ZoneInfo, the ControllerConfig or None when ``--store`` named the store).
    The time zone is ``--tz``, else the config's, else the machine's. A config that cannot be read is a
    ValueError naming the file."""
    if args.store:
        return args.store, zone(args.tz or local_zone_name()), None
    try:
        cfg = load_controller_config(args.config)
    except ValueError:
        raise
    except Exception as exc:  # the config's own errors: say them, do not crash
        raise ValueError(f"{args.config}: {exc}") from None
    return cfg.store_url, zone(args.tz or cfg.timezone), cfg


def load_controller_config(path):
    """controller.toml's ``ControllerConfig`` (its ``ConfigError``, a ValueError, names the file and key)."""
    from .service.config import load_config

    return load_config(path)


def acting_user(args) -> str:
    """``--as USER``, else the login name (``uid N`` where there is none, as in a container)."""
    if args.as_user:
        return args.as_user
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without passwd entry)
        return f"uid {os.getuid()}"


def run(args) -> int:
    """The command ``args.run`` with its arguments; a ValueError (bad input, named) is one line and status 2."""
    try:
        return args.run(args)
    except ValueError as exc:
        print(f"thermogate: error: {exc}", file=sys.stderr)
        return 2
