"""``thermogate report send|build|confirm|list|absentees|absent|rule|district`` and ``thermogate screening
manual``.

They read ``--config controller.toml`` (its store, time zone, fever threshold,
``[report]`` and ``[notify]``'s SMTP channels); ``screening manual`` also takes
``--store URL``; ``report district`` takes only ``--store postgresql://...``,
the database the district's schools share, and ``--schools FILE``.
``add_commands`` registers ``screening``, and the report subcommands under
the ``report`` command that controller/report_cli.py makes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import zoneinfo
from dataclasses import asdict, dataclass
from pathlib import Path

from ..cli_common import DEFAULT_CONFIG, load_controller_config, local_zone_name
from ..cli_common import date_arg as _date
from ..cli_common import zone as _zone
from ..config_fields import ConfigError
from ..reports import DEFAULT_THRESHOLD_C
from .config import ReportConfig, WarningRule
from .records import ABSENCE_REASONS


@dataclass
class _Context:
    url: str
    tz: zoneinfo.ZoneInfo
    threshold_c: float
    report: ReportConfig | None
    smtp: dict


def _context(args, *, need_report: bool) -> _Context:
    path = getattr(args, "config", None)
    store = getattr(args, "store", None)
    if store is not None:
        if need_report:
            raise ValueError("this command needs the [report] table: give --config controller.toml")
        return _Context(store, _zone(args.tz or local_zone_name()), DEFAULT_THRESHOLD_C, None, {})
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            raise ValueError(f"no config: use --config FILE (no ./{DEFAULT_CONFIG} here)")
        path = DEFAULT_CONFIG
    from ..notify.config import SmtpConfig

    cfg = load_controller_config(path)  # ConfigError (a ValueError) names the file and key
    if need_report and cfg.report is None:
        raise ValueError(f"{path} has no [report] table (docs/reports.md)")
    smtp = {name: c for name, c in cfg.notify.channels.items() if isinstance(c, SmtpConfig)}
    threshold = getattr(getattr(cfg, "screening", None), "threshold_c", None) or DEFAULT_THRESHOLD_C
    return _Context(cfg.store_url, _zone(args.tz or cfg.timezone), float(threshold), cfg.report, smtp)


def _reporter(ctx: _Context, store):
    from .report_store import ReportStore
    from .scheduler import Reporter

    assert ctx.report is not None
    return Reporter(ReportStore.beside(store), ctx.report, ctx.tz, threshold_c=ctx.threshold_c, smtp=ctx.smtp,
                    on_page=lambda text: print(f"page: {text}", file=sys.stderr),
                    on_alert=lambda text: print(f"alert: {text}", file=sys.stderr))


def _day(args, ctx: _Context) -> dt.date:
    return args.date or dt.datetime.now(ctx.tz).date()


def _send(args) -> int:
    from ..store import open_store

    ctx = _context(args, need_report=True)
    day = _day(args, ctx)
    with open_store(ctx.url) as store:
        r = _reporter(ctx, store)
        for problem in r.check_users():
            print(f"warning: {problem}", file=sys.stderr)
        receipts = r.send(day, time.time())
        rec = r.rs.report(r.config.school_code, day.isoformat())
    assert rec is not None
    print(f"{r.config.school_code} {day}: {rec.verdict}, signed by {rec.signed_by}")
    for name, digest in sorted(rec.files.items()):
        print(f"  {r.out_dir(day) / name}  sha256 {digest}")
    for x in receipts:
        print(f"  {'ok    ' if x.ok else 'FAILED'} {x.recipient}: {x.detail}")
    if not receipts:
        print("  no recipients in [report]")
    return 0 if all(x.ok for x in receipts) else 1


def _build(args) -> int:
    from ..store import open_store

    ctx = _context(args, need_report=True)
    day = _day(args, ctx)
    with open_store(ctx.url) as store:
        r = _reporter(ctx, store)
        rec = r.build(day, time.time())
    print(f"{r.config.school_code} {day}: {rec.verdict}")
    for name in sorted(rec.files):
        print(f"  {r.out_dir(day) / name}")
    return 0


def _confirm(args) -> int:
    from ..store import open_store

    ctx = _context(args, need_report=True)
    day = _day(args, ctx)
    with open_store(ctx.url) as store:
        r = _reporter(ctx, store)
        if args.as_user not in (r.config.reporter, r.config.backup_reporter):
            raise ValueError(f"{args.as_user} is neither the reporter ({r.config.reporter}) nor the backup "
                             f"({r.config.backup_reporter or 'none'})")
        rec = r.confirm(day, args.as_user, time.time())
    print(f"{rec.school_code} {rec.day}: confirmed by {rec.confirmed_by} ({rec.verdict})")
    return 0


def _list(args) -> int:
    from ..store import open_store
    from .report_store import ReportStore

    ctx = _context(args, need_report=True)
    assert ctx.report is not None
    with open_store(ctx.url) as store:
        rs = ReportStore.beside(store)
        reports = rs.reports(ctx.report.school_code)[: args.limit]
        out = [{**asdict(rec), "receipts": [asdict(x) for x in rs.receipts(rec.school_code, rec.day)]}
               for rec in reports]
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    for rec in out:
        print(f"{rec['day']}  {rec['verdict']:<12} {rec['status']:<6} signed by {rec['signed_by'] or '-'}"
              f"{'  LATE' if rec['late'] else ''}")
        for x in rec["receipts"]:
            when = dt.datetime.fromtimestamp(x["at"], ctx.tz).strftime("%H:%M:%S")
            print(f"    {when} {x['recipient']}: {'ok' if x['ok'] else 'failed'} ({x['detail']})")
    return 0


def _absentees(args) -> int:
    from ..store import open_store
    from .counts import absentees
    from .report_store import ReportStore

    ctx = _context(args, need_report=True)
    assert ctx.report is not None
    day = _day(args, ctx)
    with open_store(ctx.url) as store:
        people = absentees(ReportStore.beside(store), ctx.report, day, ctx.tz, args.session, ctx.threshold_c,
                           class_name=args.class_name, now=time.time())
    if args.json:
        print(json.dumps([asdict(a) for a in people], ensure_ascii=False, indent=1))
        return 0
    for a in people:
        print(f"{a.class_name:<14} {a.person_id:<14} {a.name:<10} {a.reason or 'not marked'}")
    if not people:
        print(f"nobody missing at {args.session} on {day}")
    return 0


def _absent(args) -> int:
    from ..store import open_store
    from .changes import ReportChanges

    ctx = _context(args, need_report=True)
    assert ctx.report is not None
    if args.session not in {s.name for s in ctx.report.sessions}:
        raise ValueError(f"no session {args.session!r} in [report.sessions]")
    day = _day(args, ctx)
    with open_store(ctx.url) as store:
        a = ReportChanges(store).mark_absence(args.person, day.isoformat(), args.session, args.reason, args.by,
                                              note=args.note)
    print(f"{a.person_id} {a.day} {a.session}: {a.reason} (marked by {a.marked_by})")
    return 0


def _manual(args) -> int:
    from ..store import open_store
    from .changes import ReportChanges

    ctx = _context(args, need_report=False)
    at = time.time()
    if args.at:
        try:
            t = dt.time.fromisoformat(args.at)
        except ValueError:
            raise ValueError(f"--at {args.at!r} is not a time like 07:45") from None
        at = dt.datetime.combine(dt.datetime.now(ctx.tz).date(), t, tzinfo=ctx.tz).timestamp()
    with open_store(ctx.url) as store:
        m = ReportChanges(store).add_manual_reading(args.person, args.value, args.by, at, gate=args.gate or "",
                                                    note=args.note)
    fever = " (at or above the threshold: a confirmed fever in the report)" if m.value_c >= ctx.threshold_c else ""
    print(f"manual reading {m.id}: {m.person_id} {m.value_c:.1f} degC by {m.by_user}{fever}")
    return 0


# ------------------------------------------------------------ the console's warning rules, from the command line

RULE_KEYS = ("scope", "what", "threshold", "days", "factor", "min_alarms", "baseline_days")


def _rule_line(rule: WarningRule, enabled: bool, in_force: set[str], note: str = "") -> str:
    state = ("in force" if rule.key in in_force else "not in force: controller.toml has it") if enabled \
        else "disabled"
    return f"{rule.key:<16} {rule.spec:<44} {state}{note}"


def _rule_table(args, before: WarningRule | None = None) -> dict:
    """The rule the options give, as the console's form would send it (unset options: the rule's own
    values when changing one, else the defaults)."""
    table = {} if before is None else {k: getattr(before, k) for k in RULE_KEYS}
    for key in RULE_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            table[key] = value
    return table


def _rules(args) -> int:
    from ..store import open_store
    from .changes import ReportChanges
    from .config import parse_warning_rule
    from .report_store import RuleExists
    from .warning_rules import rule_dict, rules_in_force

    ctx = _context(args, need_report=True)
    assert ctx.report is not None
    taken = tuple(w.spec for w in ctx.report.warnings)
    with open_store(ctx.url) as store:
        changes = ReportChanges(store)
        rs = changes.rs
        action = args.rule_action
        if action == "list":
            in_force = {w.key for w in rules_in_force(rs, ctx.report)}
            stored = rs.warning_rules()
            if args.json:
                print(json.dumps([rule_dict(w, in_force) for w in ctx.report.warnings]
                                 + [rule_dict(c.rule, in_force, c) for c in stored], ensure_ascii=False, indent=1))
                return 0
            for w in ctx.report.warnings:
                print(_rule_line(w, True, in_force, "  (controller.toml)"))
            for c in stored:
                print(_rule_line(c.rule, c.enabled, in_force, f"  (added by {c.created_by}, last changed by "
                                                              f"{c.updated_by})"))
            if not ctx.report.warnings and not stored:
                print("no warning rules")
            return 0
        try:
            if action == "add":
                c = changes.add_rule(parse_warning_rule(_rule_table(args), "rule"), args.by,
                                     enabled=not args.disabled, taken=taken)
                print(f"added {c.rule.key}: {c.rule.spec}{'' if c.enabled else ' (disabled)'}")
            elif action == "set":
                before = rs.warning_rule(args.id)
                rule = parse_warning_rule(_rule_table(args, before.rule), "rule", rule_id=args.id)
                _, after = changes.change_rule(args.id, rule, args.by, taken=taken)
                print(f"changed {after.rule.key}: {before.rule.spec} -> {after.rule.spec}")
            elif action in ("enable", "disable"):
                c = changes.enable_rule(args.id, action == "enable", args.by)
                print(f"{action}d {c.rule.key}: {c.rule.spec}")
            else:
                c = changes.delete_rule(args.id, args.by)
                print(f"deleted {c.rule.key}: {c.rule.spec} (its warnings stay)")
        except RuleExists as exc:
            raise ValueError(str(exc)) from None
    return 0


def _district(args) -> int:
    from .district import build_district, check_code, load_schools, open_district, summary_text, write_files
    from .records import VERDICT_PENDING

    check_code(args.district_code, "--district-code")
    if not args.district_name.strip() or not args.district_name.isprintable():
        raise ValueError("--district-name must be printable text")
    schools = load_schools(args.schools)
    tz = _zone(args.tz or local_zone_name())
    day = args.date or dt.datetime.now(tz).date()
    with open_district(args.store) as db:
        content = build_district(db, schools, day, name=args.district_name.strip(), code=args.district_code,
                                 tz_name=args.tz, now=time.time())
    out = Path(args.out)
    hashes = write_files(content, out)
    print(summary_text(content, out, hashes))
    return 1 if content["verdict"]["code"] == VERDICT_PENDING else 0


def _options(p: argparse.ArgumentParser, *, store: bool = False) -> argparse.ArgumentParser:
    if store:
        which = p.add_mutually_exclusive_group()
        which.add_argument("--config", metavar="FILE", help=f"controller.toml (default ./{DEFAULT_CONFIG})")
        which.add_argument("--store", metavar="URL", help="the store itself: a SQLite file or postgresql://...")
    else:
        p.add_argument("--config", metavar="FILE", help=f"controller.toml with [report] (default ./{DEFAULT_CONFIG})")
    p.add_argument("--tz", metavar="ZONE", help="the school's time zone (default: the config's)")
    return p


def add_report_commands(kinds) -> None:
    """The report subcommands of this package, under ``thermogate report``."""
    send = _options(kinds.add_parser("send", help="build the day's report and send it to every recipient (again)",
                                     description="Rebuild the report of --date as it stands (PDF, CSV, JSON), "
                                                 "signed by the reporter who confirmed it or else the backup "
                                                 "reporter, and deliver it to every [[report.recipient]]; each "
                                                 "delivery is stored with its receipt. A report with alarms still "
                                                 "open goes out as pending, never as a zero report. Exit status 1 "
                                                 "when a recipient failed."))
    send.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today)")
    send.set_defaults(run=_send)
    build = _options(kinds.add_parser("build", help="build the day's report files without sending them"))
    build.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today)")
    build.set_defaults(run=_build)
    confirm = _options(kinds.add_parser("confirm", help="the reporter confirms the day's report"))
    confirm.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today)")
    confirm.add_argument("--as", dest="as_user", required=True, metavar="USER", help="the reporter or the backup")
    confirm.set_defaults(run=_confirm)
    lst = _options(kinds.add_parser("list", help="the reports sent, newest first, with their receipts"))
    lst.add_argument("--limit", type=int, default=30)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_list)
    ab = _options(kinds.add_parser("absentees", help="who on the roster was not screened in a session"))
    ab.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today)")
    ab.add_argument("--session", required=True, help="a [report.sessions] name, e.g. 晨检")
    ab.add_argument("--class", dest="class_name", metavar="CLASS")
    ab.add_argument("--json", action="store_true")
    ab.set_defaults(run=_absentees)
    mark = _options(kinds.add_parser("absent", help="mark an absent person with a reason (the class teacher)"))
    mark.add_argument("person", help="the person's id")
    mark.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today)")
    mark.add_argument("--session", required=True)
    mark.add_argument("--reason", required=True, choices=ABSENCE_REASONS)
    mark.add_argument("--by", required=True, metavar="USER")
    mark.add_argument("--note", default="")
    mark.set_defaults(run=_absent)
    rule = kinds.add_parser(
        "rule", help="the warning rules kept in the database (the console's Reports page edits the same)",
        description="List, add, change, disable, enable and delete the warning rules kept in the database "
                    "(report_rules), as the console's Reports page does: the same check as controller.toml's "
                    "[[report.warning]] (docs/reports.md), no rule twice, each change in the audit trail with "
                    "--by. The running controller uses a change from its next look (within a minute).")
    actions = rule.add_subparsers(dest="rule_action", metavar="ACTION", required=True)
    listing = _options(actions.add_parser("list", help="controller.toml's rules, then the database's"))
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_rules)
    for name, what in (("add", "add a rule"), ("set", "change what a rule counts (it keeps its number)")):
        p = _options(actions.add_parser(name, help=what))
        if name == "set":
            p.add_argument("id", type=int, help="the rule's number (console:N)")
        p.add_argument("--scope", choices=("class", "grade", "school"), required=name == "add")
        p.add_argument("--what", choices=("fevers_confirmed", "sick_absences", "alarm_rate"), required=name == "add")
        p.add_argument("--threshold", type=float, help="count at which it warns (default 3)")
        p.add_argument("--days", type=int, help="days counted, today included (default 1)")
        p.add_argument("--factor", type=float, help="alarm_rate: times the baseline rate (default 2)")
        p.add_argument("--min-alarms", type=int, help="alarm_rate: alarms today at least (default 3)")
        p.add_argument("--baseline-days", type=int, help="alarm_rate: days before today compared (default 7)")
        if name == "add":
            p.add_argument("--disabled", action="store_true", help="keep it, not in use yet")
        p.add_argument("--by", required=True, metavar="USER", help="who makes the change (the audit trail)")
        p.set_defaults(run=_rules)
    for name, what in (("enable", "put a rule to use"), ("disable", "stop using a rule (it stays)"),
                       ("delete", "remove a rule (its warnings stay)")):
        p = _options(actions.add_parser(name, help=what))
        p.add_argument("id", type=int, help="the rule's number (console:N)")
        p.add_argument("--by", required=True, metavar="USER", help="who makes the change (the audit trail)")
        p.set_defaults(run=_rules)
    district = kinds.add_parser(
        "district", help="the district's report: the schools sharing one PostgreSQL database, summed",
        description="Sum the daily reports that the schools of --schools stored for --date in the PostgreSQL "
                    "database they share (each school's tables in a schema of its own; docs/reports.md, "
                    "District): per school and per session and category, with the schools that have not "
                    "reported. Writes CODE-DATE.pdf, .csv and .json into --out and prints a summary. Exit "
                    "status 0 when every school's report is final, 1 when the district report is pending (a "
                    "school missing, not sent yet or with open alarms), 2 on an error (no report of that "
                    "date, a database that cannot be reached, a bad list).")
    district.add_argument("--store", required=True, metavar="URL",
                          help="the schools' shared database: postgresql://user@host/db")
    district.add_argument("--schools", required=True, metavar="FILE",
                          help="CSV of the schools expected, with the columns code and name (UTF-8)")
    district.add_argument("--out", required=True, metavar="DIR", help="directory the PDF, CSV and JSON go into")
    district.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today in --tz)")
    district.add_argument("--district-name", default="区域汇总", metavar="NAME",
                          help="the district's name on the report (default 区域汇总)")
    district.add_argument("--district-code", default="district", metavar="CODE",
                          help="the district's code: the files' names and the CSV's rows of totals "
                               "(default district)")
    district.add_argument("--tz", metavar="ZONE",
                          help="time zone of the default date and of the times shown (default: the machine's "
                               "for the date, the schools' for the times)")
    district.set_defaults(run=_district)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _absences_section(people):
    """``thermogate people show``'s absences section: the reports' absences of a person, read through the people
    store's connection (identity, below the reports, does not read them itself)."""
    from .report_store import ReportStore

    return ReportStore.beside(people).absence_file


def add_commands(commands) -> None:
    """``thermogate screening manual``; the report subcommands under the existing ``report`` command; and the
    absences section of ``thermogate people show``'s file."""
    report = commands.choices.get("report")
    if report is not None:
        add_report_commands(next(a for a in report._actions if isinstance(a, argparse._SubParsersAction)))
    people = commands.choices.get("people")
    show = None if people is None else _subcommands(people).get("show")
    if show is not None:
        show.set_defaults(file_absences=_absences_section)
    screening = commands.add_parser("screening", help="screenings entered by hand")
    sub = screening.add_subparsers(dest="screening_command", metavar="SUBCOMMAND", required=True)
    manual = _options(sub.add_parser(
        "manual", help="a hand-held reading for someone a gate could not screen (counts as screened, manual)"),
        store=True)
    manual.add_argument("--person", required=True, help="the person's id on the roster")
    manual.add_argument("--value", required=True, type=float, metavar="DEGC", help="the reading, 30-45 degC")
    manual.add_argument("--by", required=True, metavar="USER", help="who took it")
    manual.add_argument("--gate", default="", help="where (a gate id), if at a gate")
    manual.add_argument("--at", metavar="HH:MM", help="when, today (default: now)")
    manual.add_argument("--note", default="")
    manual.set_defaults(run=_manual)


__all__ = ["ConfigError", "add_commands", "add_report_commands"]
