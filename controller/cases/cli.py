"""``thermogate case ...``: fever cases from the command line.

    thermogate case list [--open] [--person ID] [--drills | --with-drills] [--json]
    thermogate case show ID [--as USER] [--reason TEXT] [--json]
    thermogate case show --alarm ALARM_ID            (an alarm's case; an old alarm read as one)
    thermogate case open ALARM_ID [--person ID] [--drill]
    thermogate case step ID KIND --field name=value ... [--as USER] [--at TIME]

The store is the one ``controller.toml`` names (``--config``, default
./controller.toml), or ``--store URL``. ``show`` of a case that names a
person is written to the identity audit, like ``people show``. docs/cases.md
lists the step kinds and their fields.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import zoneinfo
from dataclasses import fields

from ..cli_common import acting_user as _user
from ..cli_common import as_option, run, store_context, store_options
from .steps import STEP_TYPES, StepKind

_TIME_FIELDS = ("time", "time_in", "when")


def _context(args) -> tuple[str, zoneinfo.ZoneInfo]:
    url, tz, _cfg = store_context(args)
    return url, tz


def _open(url: str):
    from .case_store import open_case_store

    return open_case_store(url)


def _when(t: float | None, tz, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "-" if t is None else dt.datetime.fromtimestamp(t, tz).strftime(fmt)


def _data_text(step, tz) -> str:
    parts = []
    for name, value in step.data.to_json().items():
        if value is None or value is False or value == "" or value == []:
            continue
        if name in _TIME_FIELDS:
            value = _when(float(value), tz, "%m-%d %H:%M")
        elif name == "value_c":
            value = f"{value:.1f} degC"
        elif isinstance(value, list):
            value = ",".join(value)
        elif value is True:
            value = "yes"
        parts.append(f"{name}={value}")
    return " ".join(parts)


def _print_case(case, tz, person=None) -> None:
    who = "-"
    if case.person_id is not None:
        who = case.person_id + (f" {person.name} ({person.class_name})" if person is not None else "")
    head = f"case {case.id}" if case.id is not None else f"alarm {case.alarm_id} (before cases; not stored)"
    print(f"{head}: alarm {case.alarm_id if case.alarm_id is not None else '-'}, gate {case.gate}, person {who}, "
          f"state {case.state}{', DRILL ' + str(case.drill_id) if case.drill else ''}")
    print(f"  opened {_when(case.opened_at, tz)}, decided {_when(case.decided_at, tz)}, "
          f"cleared (复课) {_when(case.cleared_at, tz)}, closed {_when(case.closed_at, tz)}")
    for s in case.steps or ():
        print(f"  {_when(s.at, tz)}  {s.kind.value:<18} {s.by_user:<12} {_data_text(s, tz)}")


def _list(args) -> int:
    url, tz = _context(args)
    drill = True if args.drills else (None if args.with_drills else False)
    with _open(url) as cases:
        rows = cases.cases(open_only=args.open, person_id=args.person, drill=drill)
    if args.json:
        print(json.dumps([c.to_json() for c in rows], ensure_ascii=False, indent=1))
        return 0
    for c in rows:
        print(f"{c.id:>6}  {_when(c.opened_at, tz, '%Y-%m-%d %H:%M')}  {c.gate:<12} {c.person_id or '-':<12} "
              f"{c.state:<12}{'  drill' if c.drill else ''}")
    print(f"{len(rows)} case(s)")
    return 0


def _show(args) -> int:
    from ..identity.people_store import PeopleStore

    url, tz = _context(args)
    if (args.id is None) == (args.alarm is None):
        raise ValueError("give a case id, or --alarm ALARM_ID")
    with _open(url) as cases:
        case = cases.case(args.id) if args.id is not None else cases.alarm_as_case(args.alarm)
        if case is None:
            raise ValueError(f"no case {args.id}")
        person = None
        if case.person_id is not None:  # a person's health data: the read is audited, like `people show`
            people = PeopleStore.beside(cases)  # the same connection and lock
            person = people.person(case.person_id)
            people.record_read(_user(args), "case_show", case.person_id, args.reason, time.time(),
                               {"case": case.id, "alarm": case.alarm_id})
    if args.json:
        print(json.dumps(case.to_json(), ensure_ascii=False, indent=1))
    else:
        _print_case(case, tz, person)
    return 0


def _open_case(args) -> int:
    url, tz = _context(args)
    with _open(url) as cases:
        case = cases.open_case_for_alarm(args.alarm, args.person, args.drill)
    _print_case(case, tz)
    return 0


def _fields(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--field takes name=value, not {pair!r}")
        if name.strip() in out:
            raise ValueError(f"--field {name.strip()} given twice")
        out[name.strip()] = value
    return out


def _step(args) -> int:
    from .steps import parse_time, step_from_fields

    url, tz = _context(args)
    now = time.time()
    at = parse_time(args.at, now=now, tz=tz, what="--at") if args.at else now
    with _open(url) as cases:
        timeline = cases.timeline(args.id)
        rechecks = sum(1 for s in timeline if s.kind is StepKind.RECHECK)
        step = step_from_fields(args.kind, _fields(args.field), now=at, tz=tz, next_recheck=rechecks + 1)
        recorded = cases.add_step(args.id, step, _user(args), at)
        case = cases.case(args.id)
    assert case is not None
    print(f"case {args.id}: {recorded.kind.value} recorded by {recorded.by_user} at {_when(recorded.at, tz)}; "
          f"state {case.state}")
    return 0


def _kinds_help() -> str:
    lines = []
    for kind, cls in STEP_TYPES.items():
        if kind is StepKind.LET_IN:
            continue
        names = [f.name for f in fields(cls)]
        lines.append(f"  {kind.value}: {', '.join(names) or '(no fields)'}")
    return "\n".join(lines)


def _common(p: argparse.ArgumentParser, *, user: bool = False) -> argparse.ArgumentParser:
    store_options(p, config_help="controller.toml naming the store and time zone")
    if user:
        as_option(p, "who does it: a console user name (default: your login name)")
    return p


def add_commands(commands) -> None:
    """Register ``thermogate case`` on the main parser's subcommands."""
    case = commands.add_parser("case", help="fever cases: list, show a timeline, open one for an alarm, record a step")
    sub = case.add_subparsers(dest="case_command", metavar="SUBCOMMAND", required=True)
    lst = _common(sub.add_parser("list", help="cases by the time of their alarm (drills left out)"))
    lst.add_argument("--open", action="store_true", help="only cases not closed yet")
    lst.add_argument("--person", metavar="ID", help="only this person's cases")
    kind = lst.add_mutually_exclusive_group()
    kind.add_argument("--drills", action="store_true", help="only drill cases")
    kind.add_argument("--with-drills", action="store_true", help="drill cases too")
    lst.add_argument("--json", action="store_true", help="JSON instead of text")
    lst.set_defaults(run=_list)
    show = _common(sub.add_parser("show", help="a case's timeline (a read of the person's file: audited)"), user=True)
    show.add_argument("id", type=int, nargs="?", help="the case id")
    show.add_argument("--alarm", type=int, metavar="ALARM_ID",
                      help="the case of this alarm instead; an alarm from before cases is read as one")
    show.add_argument("--reason", default="", help="why you read it, for the audit")
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.set_defaults(run=_show)
    opn = _common(sub.add_parser("open", help="the case of an alarm, opened now if it has none"))
    opn.add_argument("alarm", type=int, metavar="ALARM_ID")
    opn.add_argument("--person", metavar="ID", help="the person (default: the one the alarm's screening names)")
    opn.add_argument("--drill", action="store_true", help="a drill's case (a drill must be running on the gate)")
    opn.set_defaults(run=_open_case)
    step = _common(sub.add_parser(
        "step", help="record one step of a case",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Record one step of a case, checked against its state. Fields go as --field name=value; "
                    "times are now, HH:MM, 'YYYY-MM-DD HH:MM' (local) or Unix seconds, and a time field left out "
                    "is --at; yes/no fields take yes, no, 是, 否; the checklist is comma-separated; a re-check's "
                    "n left out is the next one.\n\nKinds and their fields:\n" + _kinds_help()), user=True)
    step.add_argument("id", type=int, help="the case id")
    # let_in is recorded by the controller with the door command it sent (the console's "let in"), never by hand
    step.add_argument("kind", choices=[k.value for k in StepKind if k is not StepKind.LET_IN], metavar="KIND")
    step.add_argument("--field", action="append", default=[], metavar="NAME=VALUE", help="a field of the step")
    step.add_argument("--at", metavar="TIME", help="when it was done (default: now)")
    step.set_defaults(run=_step)


def main(argv: list[str] | None = None) -> int:
    """``python -m controller.cases.cli``: these commands alone (the same as under ``thermogate``)."""
    parser = argparse.ArgumentParser(prog="thermogate")
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
