"""What the store's command-line tools share (``thermogate case``, ``people``, ``visitor``, and ``main``).

- ``store_options``: ``--config controller.toml`` or ``--store URL``, and ``--tz``;
- ``store_context(args)``: the store's URL, the school's time zone and the loaded config (None with --store);
- ``acting_user(args)``: who does it, for the audit: ``--as USER``, else the login name;
- ``run(args)``: a parsed command run, its ``ValueError`` printed as ``thermogate: error: ...`` (status 2).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import zoneinfo

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


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use a name like Asia/Shanghai)") from None


def store_context(args):
    """(the store's URL, the school's ZoneInfo, the ControllerConfig or None when ``--store`` named the store).
    The time zone is ``--tz``, else the config's, else the machine's. A config that cannot be read is a
    ValueError naming the file."""
    from .report_cli import local_zone_name

    if args.store:
        return args.store, zone(args.tz or local_zone_name()), None
    from .service.config import load_config

    try:
        cfg = load_config(args.config)
    except ValueError:
        raise
    except Exception as exc:  # the config's own errors: say them, do not crash
        raise ValueError(f"{args.config}: {exc}") from None
    return cfg.store_url, zone(args.tz or cfg.timezone), cfg


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
