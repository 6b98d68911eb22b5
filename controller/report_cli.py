"""``thermogate report daily`` and ``thermogate export``: the store's records for the health office.

Both read the store named by ``--store URL`` or by the controller's
``--config controller.toml`` (its ``[store] url`` and ``[site] timezone``);
with neither, ``./controller.toml`` when it exists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import zoneinfo
from contextlib import contextmanager
from pathlib import Path

from .cli_common import date_arg as _date
from .cli_common import local_zone_name
from .cli_common import zone as _zone

DEFAULT_CONFIG = "controller.toml"


def _store_options(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--config", metavar="FILE",
                       help=f"the controller's config, for its store and time zone "
                            f"(default ./{DEFAULT_CONFIG} if present)")
    which.add_argument("--store", metavar="URL", help="the store itself: a SQLite file or postgresql://...")
    p.add_argument("--tz", metavar="ZONE", help="the school's time zone, e.g. Asia/Shanghai "
                   "(default: the config's, else the machine's)")


def _settings(args) -> tuple[str, zoneinfo.ZoneInfo, float | None]:
    """(store URL, time zone, fever threshold from the config or None)."""
    config_path = args.config
    if args.store is None and config_path is None:
        if not Path(DEFAULT_CONFIG).exists():
            raise ValueError(f"no store given: use --store URL or --config FILE (no ./{DEFAULT_CONFIG} here)")
        config_path = DEFAULT_CONFIG
    threshold = None
    if args.store is not None:
        url, zone = args.store, args.tz or local_zone_name()
    else:
        try:
            from .service.config import load_config
        except ImportError as exc:
            raise ValueError(f"cannot read controller configs here ({exc}); use --store URL") from None
        try:
            cfg = load_config(config_path)
        except ValueError:
            raise
        except Exception as exc:  # the config module's own errors: show them, do not crash
            raise ValueError(f"{config_path}: {exc}") from None
        url, zone = cfg.store_url, args.tz or cfg.timezone
        threshold = getattr(getattr(cfg, "screening", None), "threshold_c", None)
    return url, _zone(zone), threshold


@contextmanager
def _output(path: str | None):
    if path is None or path == "-":
        yield sys.stdout
    else:
        try:
            f = open(path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror}") from None
        with f:
            yield f


def _run_daily(args) -> int:
    from .reports import DEFAULT_THRESHOLD_C, RENDERERS, daily_report
    from .store import open_store

    url, tz, cfg_threshold = _settings(args)
    threshold = args.threshold if args.threshold is not None else (cfg_threshold or DEFAULT_THRESHOLD_C)
    date = args.date or dt.datetime.now(tz).date()
    with open_store(url) as store:
        report = daily_report(store, date, tz, threshold_c=threshold)
    with _output(args.output) as out:
        out.write(RENDERERS[args.format](report))
    return 0


def _run_export(args) -> int:
    from .reports import day_bounds, export_screenings
    from .store import open_store

    if args.date_to < args.date_from:
        raise ValueError(f"--to {args.date_to} is before --from {args.date_from}")
    url, tz, _ = _settings(args)
    since, _ = day_bounds(args.date_from, tz)
    _, until = day_bounds(args.date_to, tz)
    with open_store(url) as store, _output(args.output) as out:
        n = export_screenings(store, since, until, out, tz=tz)
    where = "" if args.output in (None, "-") else f" to {args.output}"
    print(f"{n} screening(s) from {args.date_from} to {args.date_to} ({tz.key}){where}", file=sys.stderr)
    return 0


def add_commands(subparsers) -> None:
    """Register ``report`` (with ``daily``) and ``export`` on the ``thermogate`` parser."""
    report = subparsers.add_parser("report", help="reports from the event store (daily, with the zero report)")
    kinds = report.add_subparsers(dest="report_command", metavar="REPORT")
    daily = kinds.add_parser("daily", help="a day's figures per gate and in total, and the zero report",
                             description="Screened (PASS + FEVER), passed, fevers, retried, blocked, alarms, "
                                         "confirmed fevers, dispositions and open alarms for one local day, "
                                         "per gate and in total; docs/store.md defines each figure.")
    daily.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today in the time zone)")
    daily.add_argument("--format", choices=("text", "csv", "json"), default="text")
    daily.add_argument("--threshold", type=float, metavar="DEGC",
                       help="re-check reading that confirms a fever (default: the config's screening "
                            "threshold, else 37.3)")
    daily.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    _store_options(daily)
    daily.set_defaults(run=_run_daily)

    export = subparsers.add_parser("export", help="write screenings as CSV",
                                   description="Every screening from the start of --from to the end of --to "
                                               "(local days, both included) as CSV, without snapshots.")
    export.add_argument("--from", dest="date_from", type=_date, required=True, metavar="YYYY-MM-DD")
    export.add_argument("--to", dest="date_to", type=_date, required=True, metavar="YYYY-MM-DD")
    export.add_argument("-o", "--output", metavar="FILE", help="CSV file (default: standard output)")
    _store_options(export)
    export.set_defaults(run=_run_export)
