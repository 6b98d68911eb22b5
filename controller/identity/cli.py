"""``thermogate people ...`` and ``thermogate visitor ...``: the roster and the visitors from the command line.

    thermogate people import roster.csv [--encoding gbk] [--strict]
    thermogate people list [--class "初一(1)班"] [--json]
    thermogate people show S2026001 [--as USER] [--reason TEXT]
    thermogate people export roster.csv --reason "term start check" [--as USER]
    thermogate visitor add --name 王芳 --id-last4 123X --host "李老师" --purpose 家长会 --from 14:00 --until 17:00
    thermogate visitor list [--date 2026-03-02] [--json]
    thermogate visitor export visitors.csv --date 2026-03-02 --reason "monthly log"
    thermogate visitor revoke PASS_ID

The store is the one ``controller.toml`` names (``--config``, default
./controller.toml), or ``--store URL``. Every ``show`` and ``export`` is written
to the identity audit with the reader (``--as``, else the login name) and the
reason. docs/privacy.md says what is kept and who reads it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import zoneinfo
from pathlib import Path

from ..cli_common import acting_user as _reader
from ..cli_common import as_option, run, store_context, store_options

# ---------------------------------------------------------------- where things are

class _Context:
    def __init__(self, url: str, tz: zoneinfo.ZoneInfo, site: Path, classes: dict | None = None):
        self.url, self.tz, self.site = url, tz, site
        self.classes = classes or {}  # [classes]: the school's class list (none with --store)


def _context(args) -> _Context:
    from ..site.gates import resolve_site

    url, tz, cfg = store_context(args)
    if cfg is None:
        return _Context(url, tz, resolve_site(args.site))
    return _Context(url, tz, Path(args.site) if args.site else cfg.site_dir, cfg.classes)


def _open(ctx: _Context):
    from .people_store import open_people_store

    return open_people_store(ctx.url)


def _when(t: float | None, tz) -> str:
    return "-" if t is None else dt.datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M")


def _open_output(path: str):
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None


# ---------------------------------------------------------------- people

def _import(args) -> int:
    from .roster_import import REFUSED, import_roster

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ValueError(f"{args.file}: {exc.strerror}") from None
    ctx = _context(args)
    with _open(ctx) as people:
        report = import_roster(people, data, time.time(), encoding=args.encoding, strict=args.strict,
                               classes=ctx.classes)
    print(f"{args.file} ({report.encoding}):")
    for outcome in report.lines:
        if not args.quiet or outcome.outcome == REFUSED:
            print(f"  {outcome}")
    print(report.summary())
    return 1 if report.count(REFUSED) else 0


def _person_json(p, *, phone: bool) -> dict:
    d = {"id": p.id, "name": p.name, "role": p.role, "class": p.class_name, "boarder": p.boarder,
         "active": p.active, "credentials": [str(c) for c in p.credentials]}
    if phone:
        d["guardian_phone"] = p.guardian_phone
    return d


def _list(args) -> int:
    ctx = _context(args)
    with _open(ctx) as people:
        roster = people.people(class_name=args.class_name, active=None if args.all else True)
    if args.json:
        print(json.dumps([_person_json(p, phone=False) for p in roster], ensure_ascii=False, indent=1))
        return 0
    if not roster:
        print("nobody on the roster" + (f" in class {args.class_name}" if args.class_name else "")
              + ": thermogate people import FILE.csv")
    for p in roster:
        flags = ("boarder " if p.boarder else "") + ("" if p.active else "INACTIVE")
        print(f"{p.id:<14} {p.name:<10} {p.role:<7} {p.class_name:<14} {len(p.credentials)} credential(s) {flags}"
              .rstrip())
    return 0


def _show(args) -> int:
    ctx = _context(args)
    with _open(ctx) as people:
        absences = None if args.file_absences is None else args.file_absences(people)
        f = people.person_file(args.id, absences=absences)
        people.record_read(_reader(args), "person_show", args.id, args.reason or "", time.time())
    p, tz = f.person, ctx.tz
    if args.json:
        doc = _person_json(p, phone=True)
        doc["screenings"] = [{"id": s.id, "time": s.time, "gate": s.gate, "decision": s.decision,
                              "reason": s.reason, "estimate_c": s.estimate_c} for s in f.screenings]
        doc["alarms"] = [{"id": a.id, "time": a.time, "gate": a.gate, "status": a.status, "recheck_c": a.recheck_c,
                          "outcome": a.outcome, "disposed_by": a.disposed_by, "note": a.note} for a in f.alarms]
        doc["absences"] = [a.to_json() for a in f.absences]
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    print(f"{p.id}  {p.name}  ({p.role}, {'class' if p.role == 'student' else 'department'} {p.class_name or '-'})"
          f"{'' if p.active else '  INACTIVE'}")
    print(f"  boarder: {'yes' if p.boarder else 'no'}   guardian phone: {p.guardian_phone or '-'}")
    print(f"  credentials: {', '.join(str(c) for c in p.credentials) or 'none'}")
    print(f"  on the roster since {_when(p.created_at, tz)}, last changed {_when(p.updated_at, tz)}")
    print(f"\nScreenings ({len(f.screenings)}, newest first):")
    for s in f.screenings:
        est = "" if s.estimate_c is None else f" {s.estimate_c:.1f} degC"
        print(f"  {_when(s.time, tz)}  {s.gate:<12} {s.decision:<7} {s.reason}{est}")
    print(f"\nFever alarms ({len(f.alarms)}):")
    for a in f.alarms:
        print(f"  {_when(a.time, tz)}  {a.gate:<12} {a.status}")
    print(f"\nRe-checks ({len(f.rechecks)}):")
    for a in f.rechecks:
        reading = "no reading" if a.recheck_c is None else f"{a.recheck_c:.1f} degC"
        print(f"  {_when(a.disposed_at or a.time, tz)}  {reading}, {a.outcome or 'not disposed'} "
              f"by {a.disposed_by or '-'}{': ' + a.note if a.note else ''}")
    print(f"\nAbsences ({len(f.absences)}):")
    for entry in f.absences:
        a = entry.absence
        print(f"  {a.day} {a.session:<6} {a.reason:<18} marked by {a.marked_by}{': ' + a.note if a.note else ''}"
              f"{'  (followed up to ' + _when(a.closed_at, tz) + ')' if a.closed_at else ''}")
        for fu in entry.followups:
            print(f"    {fu.day} {fu.status} by {fu.by_user}{': ' + fu.note if fu.note else ''}")
    return 0


def _export(args) -> int:
    from . import roster_csv

    ctx = _context(args)
    with _open(ctx) as people:
        roster = people.people(class_name=args.class_name)
        with _open_output(args.file) as out:
            roster_csv.write(roster, out)
        people.record_read(_reader(args), "people_export", "*", args.reason, time.time(),
                           {"file": str(args.file), "rows": len(roster), "class": args.class_name})
    print(f"{len(roster)} people written to {args.file}")
    return 0


# ---------------------------------------------------------------- visitors

def _time_arg(text: str, tz, day: dt.date) -> float:
    """HH:MM (that day), YYYY-MM-DD HH:MM or ISO 8601, in the school's time zone unless it has an offset."""
    text = text.strip()
    try:
        if len(text) <= 5 and ":" in text:
            clock = dt.time.fromisoformat(text.zfill(5))
            moment = dt.datetime.combine(day, clock)
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time like 14:30 or 2026-03-02 14:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def _day_bounds(day: dt.date, tz) -> tuple[float, float]:
    start = dt.datetime.combine(day, dt.time(), tz)
    return start.timestamp(), dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).timestamp()


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-02") from None


def _visitor_add(args) -> int:
    from . import passes, qr, visitors

    ctx = _context(args)
    now = time.time()
    today = dt.datetime.fromtimestamp(now, ctx.tz).date()
    start = now if args.valid_from is None else _time_arg(args.valid_from, ctx.tz, today)
    start_day = dt.datetime.fromtimestamp(start, ctx.tz).date()
    end = (_day_bounds(start_day, ctx.tz)[1] if args.until is None else _time_arg(args.until, ctx.tz, start_day))
    key = passes.load_pass_key(ctx.site, create=True)
    with _open(ctx) as people:
        v, token = visitors.register(people, key, name=args.name, id_last4=args.id_last4, host=args.host,
                                     purpose=args.purpose, valid_from=start, valid_until=end,
                                     issued_by=_reader(args), now=now)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    svg, png = out / f"visitor-{v.pass_id}.svg", out / f"visitor-{v.pass_id}.png"
    svg.write_bytes(qr.svg(token))
    png.write_bytes(qr.png(token))
    print(f"visitor {v.name} (ID card ...{v.id_last4}) visiting {v.host}: {v.purpose}")
    print(f"  pass {v.pass_id}, valid {_when(v.valid_from, ctx.tz)} to {_when(v.valid_until, ctx.tz)}")
    print(f"  QR code: {png} and {svg}")
    print(f"  QR text: {token}")
    return 0


def _visitors_of(args, ctx, people):
    day = args.date or dt.datetime.now(ctx.tz).date()
    return day, people.visitors(*_day_bounds(day, ctx.tz))


def _visitor_list(args) -> int:
    ctx = _context(args)
    with _open(ctx) as people:
        day, vs = _visitors_of(args, ctx, people)
    if args.json:
        print(json.dumps([{"pass_id": v.pass_id, "name": v.name, "id_last4": v.id_last4, "host": v.host,
                           "purpose": v.purpose, "valid_from": v.valid_from, "valid_until": v.valid_until,
                           "issued_by": v.issued_by, "revoked": v.revoked_at is not None} for v in vs],
                         ensure_ascii=False, indent=1))
        return 0
    if not vs:
        print(f"no visitors on {day}")
    for v in vs:
        state = "REVOKED" if v.revoked_at is not None else ""
        print(f"{v.pass_id}  {_when(v.valid_from, ctx.tz)[11:]}-{_when(v.valid_until, ctx.tz)[11:]}  {v.name:<8} "
              f"...{v.id_last4}  visits {v.host}: {v.purpose}  (by {v.issued_by}) {state}".rstrip())
    return 0


def _visitor_export(args) -> int:
    from .visitors import write_log

    ctx = _context(args)
    with _open(ctx) as people:
        day, vs = _visitors_of(args, ctx, people)
        with _open_output(args.file) as out:
            write_log(vs, ctx.tz, out)
        people.record_read(_reader(args), "visitor_export", "*", args.reason, time.time(),
                           {"file": str(args.file), "rows": len(vs), "date": day.isoformat()})
    print(f"{len(vs)} visitor(s) of {day} written to {args.file}")
    return 0


def _visitor_revoke(args) -> int:
    ctx = _context(args)
    with _open(ctx) as people:
        v = people.revoke_visitor(args.pass_id, _reader(args), time.time())
    print(f"pass {v.pass_id} of {v.name} revoked: the gates refuse it from now on")
    return 0


# ---------------------------------------------------------------- registration

def _site_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", help="the site directory holding the visitor pass key (default: the config's, "
                                  "else $THERMOGATE_SITE, else ./site)")


def _common(p: argparse.ArgumentParser, *, reader: bool = False) -> argparse.ArgumentParser:
    store_options(p, config_help="controller.toml naming the store, time zone and site", between=_site_option)
    if reader:
        as_option(p, "who reads, for the audit (default: your login name)")
    return p


def add_commands(commands) -> None:
    """Register ``thermogate people`` and ``thermogate visitor`` on the main parser's subcommands."""
    people = commands.add_parser("people", help="the roster: import, list, show a person's file, export")
    sub = people.add_subparsers(dest="people_command", metavar="SUBCOMMAND", required=True)
    imp = _common(sub.add_parser(
        "import", help="import a roster CSV (UTF-8 or GBK), line by line",
        description="Import a roster file. Header: id,name,role,class,boarder,guardian_phone,credentials,active "
                    "(id, name, role, class required; department may stand for class). role: student|staff; "
                    "boarder, active: yes/no (是/否); credentials: card:UID, qr:TEXT or TEXT, separated by ; or |. "
                    "Each line is added, changed, unchanged or refused with its reason; a refused line changes "
                    "nothing. Exit status 1 when a line was refused."))
    imp.add_argument("file", help="the CSV file")
    imp.add_argument("--encoding", help="the file's encoding (default: UTF-8 with or without BOM, else GBK)")
    imp.add_argument("--strict", action="store_true", help="all or nothing: any refused line keeps the whole file out")
    imp.add_argument("-q", "--quiet", action="store_true", help="list only the refused lines (and the counts)")
    imp.set_defaults(run=_import)
    lst = _common(sub.add_parser("list", help="list the roster (no phone numbers)"))
    lst.add_argument("--class", dest="class_name", metavar="CLASS", help="only this class or department")
    lst.add_argument("--all", action="store_true", help="inactive people too")
    lst.add_argument("--json", action="store_true", help="JSON instead of text")
    lst.set_defaults(run=_list)
    show = _common(sub.add_parser("show", help="a person's file: identity, credentials, screenings, alarms, "
                                               "re-checks (audited)"), reader=True)
    show.add_argument("id")
    show.add_argument("--reason", default="", help="why you read it, for the audit")
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.set_defaults(run=_show, file_absences=None)  # reporting/cli.py gives the absences section
    exp = _common(sub.add_parser("export", help="write the roster as CSV, the import's header (audited)"),
                  reader=True)
    exp.add_argument("file")
    exp.add_argument("--reason", required=True, help="why it is exported, for the audit")
    exp.add_argument("--class", dest="class_name", metavar="CLASS", help="only this class or department")
    exp.set_defaults(run=_export)

    visitor = commands.add_parser("visitor", help="visitors by real name and their one-day QR passes")
    vsub = visitor.add_subparsers(dest="visitor_command", metavar="SUBCOMMAND", required=True)
    add = _common(vsub.add_parser(
        "add", help="register a visitor and print their one-day pass (QR as PNG and SVG)",
        description="Register a visitor by real name with the last 4 characters of their ID card only (a whole "
                    "ID number is refused), whom they visit, why, and the window the gates let them in. The pass "
                    "is a signed QR code: the gates accept it only inside its window, and a changed or made-up "
                    "code is refused."), reader=True)
    add.add_argument("--name", required=True, help="the visitor's real name")
    add.add_argument("--id-last4", required=True, metavar="XXXX", help="the last 4 characters of the ID card")
    add.add_argument("--host", required=True, help="whom they visit")
    add.add_argument("--purpose", required=True, help="why")
    add.add_argument("--from", dest="valid_from", metavar="TIME",
                     help="start: 14:00 or 2026-03-02 14:00 (default: now)")
    add.add_argument("--until", metavar="TIME", help="end, at most 24 hours after the start (default: midnight)")
    add.add_argument("-o", "--output-dir", default=".", help="where the QR files go (default: here)")
    add.set_defaults(run=_visitor_add)
    vl = _common(vsub.add_parser("list", help="the visitors of a day"))
    vl.add_argument("--date", type=_date, help="the day, YYYY-MM-DD (default: today)")
    vl.add_argument("--json", action="store_true")
    vl.set_defaults(run=_visitor_list)
    ve = _common(vsub.add_parser("export", help="the visitor log of a day as CSV (audited)"), reader=True)
    ve.add_argument("file")
    ve.add_argument("--date", type=_date, help="the day, YYYY-MM-DD (default: today)")
    ve.add_argument("--reason", required=True, help="why it is exported, for the audit")
    ve.set_defaults(run=_visitor_export)
    vr = _common(vsub.add_parser("revoke", help="withdraw a visitor's pass"), reader=True)
    vr.add_argument("pass_id")
    vr.set_defaults(run=_visitor_revoke)


def main(argv: list[str] | None = None) -> int:
    """``python -m controller.identity.cli``: these commands alone (the same as under ``thermogate``)."""
    parser = argparse.ArgumentParser(prog="thermogate")
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return run(parser.parse_args(argv))  # an IdentityError is a ValueError


if __name__ == "__main__":
    sys.exit(main())
