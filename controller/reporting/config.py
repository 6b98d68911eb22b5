"""The ``[report]`` table of ``controller.toml``: the school, sessions, warning rules, recipients (docs/reports.md).

```toml
[report]
school = "示范中学"
school_code = "4401060001"
reporter = "li"                    # console users (thermogate user add)
backup_reporter = "zhao"
deadline = "10:00"                 # local time; the report is built 30 min before (build_before_min)
days = ["mon", "tue", "wed", "thu", "fri"]   # school days (default: every day)
holidays = ["2026-10-01..2026-10-07"]        # no school, so no report due, none missed
workdays = ["2026-10-10"]          # make-up school days (调休) outside days

[report.sessions."晨检"]
start = "06:30"
end = "09:00"
gates = ["north-1", "south-1"]     # empty or absent: every gate

[[report.warning]]
scope = "class"                    # class | grade | school
what = "fevers_confirmed"          # fevers_confirmed | sick_absences | alarm_rate (school only)
threshold = 3
days = 1

[[report.recipient]]
type = "file"                      # file | webhook | email
dir = "/srv/bureau-drop"

[report.columns]                   # the bureau's CSV header for each of our columns
expected = "应到人数"
```

Every problem is a ``ConfigError`` naming the key. Times are local wall-clock
times ("HH:MM") in ``[site] timezone``; a session never crosses midnight.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..config_fields import ConfigError, Field, read_table, table_of

SCOPES = ("class", "grade", "school")
WHATS = ("fevers_confirmed", "sick_absences", "alarm_rate")
RECIPIENT_TYPES = ("file", "webhook", "email")
WHO = ("all", "boarders")  # who a session expects: everyone on the roster, or the boarders only (evening)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # [report] days, in date.weekday() order
MAX_RANGE_DAYS = 366  # one holiday range "YYYY-MM-DD..YYYY-MM-DD" at most this long

# Our CSV columns, in order; [report.columns] may rename any of them to the bureau's header.
CSV_COLUMNS = ("date", "school_code", "school", "session", "category", "group", "expected", "screened",
               "not_screened", "manual", "fevers_raised", "fevers_confirmed", "fevers_open", "absent_sick",
               "absent_leave", "absent_other", "absent_unmarked", "verdict", "reporter")

_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CONTACT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

REPORT_FIELDS = (
    Field("school", str, "", check=lambda v: bool(v.strip()) and v.isprintable() and len(v) <= 64,
          hint="must be printable text of 1-64 characters"),
    Field("school_code", str, "", check=lambda v: bool(_CODE.fullmatch(v)),
          hint="must be 1-32 letters, digits, - or _"),
    Field("reporter", str, "", check=lambda v: bool(_USER.fullmatch(v)), hint="must be a console user name"),
    Field("backup_reporter", str, "", check=lambda v: not v or bool(_USER.fullmatch(v)),
          hint="must be a console user name"),
    Field("reporter_contact", str, "", check=lambda v: not v or bool(_CONTACT.fullmatch(v)),
          hint="must be a [notify.contacts] id"),
    Field("backup_contact", str, "", check=lambda v: not v or bool(_CONTACT.fullmatch(v)),
          hint="must be a [notify.contacts] id"),
    Field("deadline", str, "10:00", check=lambda v: bool(_TIME.fullmatch(v)), hint='must be a time like "10:00"'),
    Field("build_before_min", int, 30, lo=1, hi=600, unit="min"),
    Field("dir", str, "reports", check=bool, hint="must not be empty"),
    Field("grade_pattern", str, r"^(.+?)[（(]", hint="must be a regular expression"),
    Field("attempts", int, 5, lo=1, hi=50),
    Field("retry_s", float, 60.0, lo=1, hi=3600, unit="s"),
    Field("timeout_s", float, 10.0, lo=0.5, hi=120, unit="s"),
    Field("days", list, list(DAY_NAMES)),
    Field("holidays", list, ()),
    Field("workdays", list, ()),
    Field("sessions", dict, {}),
    Field("warning", list, ()),
    Field("recipient", list, ()),
    Field("columns", dict, {}),
)


@dataclass(frozen=True)
class Session:
    """One screening window of the day (晨检, 午检, 晚检) at chosen gates (all gates when empty)."""

    name: str
    start: dt.time
    end: dt.time
    gates: tuple[str, ...] = ()
    who: str = "all"

    def bounds(self, day: dt.date, tz: dt.tzinfo) -> tuple[float, float]:
        """Unix seconds of the window's start and end on ``day`` in the school's time zone. On a DST
        change the wall-clock times still hold (a time that does not exist is read as the later one)."""
        return _at(day, self.start, tz), _at(day, self.end, tz)

    def covers_gate(self, gate: str) -> bool:
        return not self.gates or gate in self.gates


def _at(day: dt.date, t: dt.time, tz: dt.tzinfo) -> float:
    local = dt.datetime.combine(day, t, tzinfo=tz)
    # zoneinfo: a time in a spring-forward gap is given with fold=0 and lands an hour early in UTC;
    # round-trip it so the instant is the first valid wall-clock time at or after the one asked for.
    back = dt.datetime.fromtimestamp(local.timestamp(), tz)
    if back.replace(tzinfo=None) < local.replace(tzinfo=None):
        local = local.replace(fold=1)
    return local.timestamp()


@dataclass(frozen=True)
class WarningRule:
    """``count(what) >= threshold`` over ``days`` days (today included) within one class, grade or the school.
    ``alarm_rate`` (school only): today's alarms per screening against the mean of the ``baseline_days``
    days before; a warning when at least ``min_alarms`` and at least ``factor`` times the baseline."""

    scope: str
    what: str
    threshold: float = 3
    days: int = 1
    factor: float = 2.0
    min_alarms: int = 3
    baseline_days: int = 7
    id: int | None = None  # a rule added in the console (report_rules); None: a [[report.warning]] of controller.toml

    @property
    def spec(self) -> str:
        """What the rule counts and where, in a few words; two rules with the same spec are the same rule."""
        if self.what == "alarm_rate":
            return f"school:alarm_rate>={self.factor:g}x{self.baseline_days}d,min{self.min_alarms}"
        return f"{self.scope}:{self.what}>={self.threshold:g}/{self.days}d"

    @property
    def key(self) -> str:
        """The rule's identity, under which its warnings are stored (once per rule, scope and day): a
        controller.toml rule is its spec (changed in the file, it is another rule); a console rule is its
        number, ``console:7``, which an edit keeps, so a warning already raised today is not raised again."""
        return self.spec if self.id is None else f"console:{self.id}"

    @property
    def source(self) -> str:
        return "toml" if self.id is None else "console"


@dataclass(frozen=True)
class Recipient:
    """Where the report goes: a directory (the bureau platform's drop), a webhook, or e-mail through a
    ``[notify.channels]`` SMTP channel."""

    type: str
    name: str
    dir: str = ""
    url: str = ""
    secret: str = ""
    channel: str = ""
    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportConfig:
    school: str
    school_code: str
    reporter: str
    backup_reporter: str = ""
    reporter_contact: str = ""
    backup_contact: str = ""
    deadline: dt.time = dt.time(10, 0)
    build_before_min: int = 30
    dir: Path = Path("reports")
    grade_pattern: str = r"^(.+?)[（(]"
    attempts: int = 5
    retry_s: float = 60.0
    timeout_s: float = 10.0
    sessions: tuple[Session, ...] = ()
    warnings: tuple[WarningRule, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    school_days: frozenset[int] = frozenset(range(7))  # date.weekday() numbers of [report] days
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()  # make-up school days (调休), whatever their weekday

    def deadline_at(self, day: dt.date, tz: dt.tzinfo) -> float:
        return _at(day, self.deadline, tz)

    def is_school_day(self, day: dt.date) -> bool:
        """A report is due on ``day`` (the school's local date): a make-up workday, or one of ``days`` that is
        not a holiday. Every day by default: epidemic plans ask for a report every day."""
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() in self.school_days

    def previous_school_day(self, day: dt.date) -> dt.date | None:
        """The last school day before ``day`` (a year back at most; None when there is none)."""
        for back in range(1, MAX_RANGE_DAYS + 8):
            d = day - dt.timedelta(days=back)
            if self.is_school_day(d):
                return d
        return None

    def build_at(self, day: dt.date, tz: dt.tzinfo) -> float:
        return self.deadline_at(day, tz) - 60.0 * self.build_before_min

    def grade_of(self, class_name: str) -> str:
        m = re.search(self.grade_pattern, class_name)
        return (m.group(1) if m and m.groups() else m.group(0) if m else class_name) or class_name

    def header(self, column: str) -> str:
        return self.columns.get(column, column)

    @property
    def page_contact(self) -> str:
        return self.reporter_contact or self.reporter


def parse_time(value: object, key: str, where: str = "") -> dt.time:
    if not isinstance(value, str) or not _TIME.fullmatch(value.strip()):
        raise ConfigError(f"{where}{key} = {value!r}: must be a time like \"06:30\" (24-hour, local)")
    h, m = value.strip().split(":")
    return dt.time(int(h), int(m))


def _session(name: str, table: object, where: str) -> Session:
    section = f"report.sessions.{name}"
    if not name.strip() or not name.isprintable() or len(name) > 32:
        raise ConfigError(f"{where}{section}: a session's name is printable text of 1-32 characters")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}{section} must be a table with start and end")
    t = read_table({section: table}, section, (
        Field("start", str, ""), Field("end", str, ""), Field("gates", list, ()),
        Field("who", str, "all", check=lambda v: v in WHO, hint="must be " + " or ".join(WHO)),
    ), where)
    start = parse_time(t["start"], f"{section}.start", where)
    end = parse_time(t["end"], f"{section}.end", where)
    if end <= start:
        raise ConfigError(f"{where}{section}: end {t['end']} is not after start {t['start']} "
                          "(a session may not cross midnight)")
    gates = t["gates"]
    if not all(isinstance(g, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", g) for g in gates):
        raise ConfigError(f"{where}{section}.gates must be a list of gate ids, got {gates!r}")
    return Session(name=name, start=start, end=end, gates=tuple(gates), who=t["who"])


def _overlaps(sessions: list[Session], where: str) -> None:
    for i, a in enumerate(sessions):
        for b in sessions[i + 1:]:
            shared = not a.gates or not b.gates or set(a.gates) & set(b.gates)
            if shared and a.start < b.end and b.start < a.end:
                raise ConfigError(f"{where}report.sessions: {a.name} ({a.start:%H:%M}-{a.end:%H:%M}) and {b.name} "
                                  f"({b.start:%H:%M}-{b.end:%H:%M}) overlap at the same gates; a screening "
                                  "must belong to one session")


def _weekdays(names: list, where: str) -> frozenset[int]:
    if not names or not all(isinstance(n, str) and n in DAY_NAMES for n in names) or len(set(names)) != len(names):
        raise ConfigError(f"{where}report.days = {names!r}: must be a list of different day names of "
                          f"{', '.join(DAY_NAMES)} (at least one)")
    return frozenset(DAY_NAMES.index(n) for n in names)


def _dates(items: list, key: str, where: str) -> frozenset[dt.date]:
    """``["2026-10-01..2026-10-07", "2026-05-01"]``: days and ranges of days (both ends included)."""
    out: set[dt.date] = set()
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{where}report.{key}: {item!r} is not a date like \"2026-10-01\" in quotes")
        first, _, last = item.partition("..")
        try:
            start = dt.date.fromisoformat(first.strip())
            end = dt.date.fromisoformat(last.strip()) if last else start
        except ValueError:
            raise ConfigError(f"{where}report.{key}: {item!r} is not a date like \"2026-10-01\" or a range like "
                              "\"2026-10-01..2026-10-07\"") from None
        if not start <= end or (end - start).days >= MAX_RANGE_DAYS:
            raise ConfigError(f"{where}report.{key}: {item!r} must run forward, {MAX_RANGE_DAYS} days at most")
        out.update(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return frozenset(out)


RULE_FIELDS = (
    Field("scope", str, "", check=lambda v: v in SCOPES, hint="must be " + ", ".join(SCOPES)),
    Field("what", str, "", check=lambda v: v in WHATS, hint="must be " + ", ".join(WHATS)),
    Field("threshold", (int, float), 3.0, lo=1, hi=100000),
    Field("days", int, 1, lo=1, hi=60),
    Field("factor", (int, float), 2.0, lo=1.0, hi=1000.0),
    Field("min_alarms", int, 3, lo=1, hi=100000),
    Field("baseline_days", int, 7, lo=1, hi=60),
)


def parse_warning_rule(table: object, section: str, where: str = "", rule_id: int | None = None) -> WarningRule:
    """One warning rule from its table: a ``[[report.warning]]`` of controller.toml, or the console's form
    (``rule_id``: its number in report_rules). The one check both go through; ConfigError names the key."""
    t = read_table({section: table}, section, RULE_FIELDS, where)
    if not t["scope"] or not t["what"]:
        raise ConfigError(f"{where}{section}: scope and what are required")
    if t["what"] == "alarm_rate" and t["scope"] != "school":
        raise ConfigError(f"{where}{section}: alarm_rate is a school-level rule (scope = \"school\")")
    return WarningRule(scope=t["scope"], what=t["what"], threshold=float(t["threshold"]), days=t["days"],
                       factor=float(t["factor"]), min_alarms=t["min_alarms"], baseline_days=t["baseline_days"],
                       id=rule_id)


def _recipient(i: int, table: object, where: str, base: Path, notify_doc: dict) -> Recipient:
    section = f"report.recipient[{i}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}{section} must be a table")
    kind = table.get("type")
    rest = {k: v for k, v in table.items() if k != "type"}
    doc = {section: rest}
    if kind == "file":
        t = read_table(doc, section, (Field("dir", str, "", check=bool, hint="must not be empty"),
                                      Field("name", str, "")), where)
        if not t["dir"]:
            raise ConfigError(f"{where}{section}.dir is required (the directory the bureau's platform reads)")
        path = base / t["dir"]
        return Recipient("file", t["name"] or f"file:{t['dir']}", dir=str(path))
    if kind == "webhook":
        from ..notify.config import _secret_file, _url

        t = read_table(doc, section, (Field("url", str, ""), Field("secret_file", str, ""), Field("name", str, "")),
                       where)
        url = _url(t["url"], f"{section}.url", where)
        secret = _secret_file(rest, "secret", section, where, base, required=False)
        return Recipient("webhook", t["name"] or f"webhook:{url}", url=url, secret=secret)
    if kind == "email":
        t = read_table(doc, section, (Field("channel", str, ""), Field("to", list, ()), Field("name", str, "")),
                       where)
        channels = notify_doc.get("channels", {}) if isinstance(notify_doc, dict) else {}
        ch = channels.get(t["channel"]) if isinstance(channels, dict) else None
        if not isinstance(ch, dict) or ch.get("type") != "smtp":
            raise ConfigError(f"{where}{section}.channel = {t['channel']!r}: name an smtp channel of "
                              "[notify.channels]")
        to = t["to"]
        if not to or not all(isinstance(a, str) and re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+", a)
                             for a in to):
            raise ConfigError(f"{where}{section}.to must be a list of e-mail addresses")
        return Recipient("email", t["name"] or f"email:{','.join(to)}", channel=t["channel"], to=tuple(to))
    raise ConfigError(f"{where}{section}.type = {kind!r}: must be one of {', '.join(RECIPIENT_TYPES)}")


def from_table(doc: dict, base: Path | None = None, where: str = "") -> ReportConfig | None:
    """``[report]`` of a parsed controller.toml (``doc``, the whole document); None when it is absent.
    ``base``: where relative paths start (the config file's directory)."""
    if "report" not in doc:
        return None
    base = base or Path.cwd()
    table_of(doc, "report", {f.key for f in REPORT_FIELDS}, where)
    r = read_table(doc, "report", REPORT_FIELDS, where)
    for key in ("school", "school_code", "reporter"):
        if not r[key]:
            raise ConfigError(f"{where}report.{key} is required")
    if r["backup_reporter"] == r["reporter"]:
        raise ConfigError(f"{where}report.backup_reporter must be someone other than the reporter")
    try:
        re.compile(r["grade_pattern"])
    except re.error as exc:
        raise ConfigError(f"{where}report.grade_pattern: not a regular expression ({exc})") from None
    sessions = [_session(name, t, where) for name, t in r["sessions"].items()]
    sessions.sort(key=lambda s: s.start)
    _overlaps(sessions, where)
    rules = tuple(parse_warning_rule(t, f"report.warning[{i}]", where) for i, t in enumerate(r["warning"]))
    notify_doc = doc.get("notify", {})
    recipients = tuple(_recipient(i, t, where, base, notify_doc) for i, t in enumerate(r["recipient"]))
    names = [x.name for x in recipients]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}report.recipient: two recipients have the same name; give each a name")
    columns = r["columns"]
    for key, header in columns.items():
        if key not in CSV_COLUMNS:
            raise ConfigError(f"{where}report.columns.{key}: not a report column (known: {', '.join(CSV_COLUMNS)})")
        if not isinstance(header, str) or not header.strip() or not header.isprintable():
            raise ConfigError(f"{where}report.columns.{key} must be the bureau's column header (text)")
    headers = [columns.get(c, c) for c in CSV_COLUMNS]
    if len(set(headers)) != len(headers):
        raise ConfigError(f"{where}report.columns: two columns get the same header")
    school_days = _weekdays(r["days"], where)
    holidays, workdays = _dates(r["holidays"], "holidays", where), _dates(r["workdays"], "workdays", where)
    both = sorted(holidays & workdays)
    if both:
        raise ConfigError(f"{where}report.holidays and report.workdays both hold {both[0].isoformat()}")
    return ReportConfig(school=r["school"].strip(), school_code=r["school_code"], reporter=r["reporter"],
                        backup_reporter=r["backup_reporter"], reporter_contact=r["reporter_contact"],
                        backup_contact=r["backup_contact"], deadline=parse_time(r["deadline"], "report.deadline"),
                        build_before_min=r["build_before_min"], dir=base / r["dir"],
                        grade_pattern=r["grade_pattern"], attempts=r["attempts"], retry_s=r["retry_s"],
                        timeout_s=r["timeout_s"], sessions=tuple(sessions), warnings=rules, recipients=recipients,
                        columns=dict(columns), school_days=school_days, holidays=holidays, workdays=workdays)


def load_report_config(path: str | Path) -> ReportConfig | None:
    """``[report]`` of a controller.toml file (None when the file has none); ConfigError names the problem."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: {exc.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not valid UTF-8 TOML ({exc})") from None
    return from_table(doc, p.resolve().parent, f"{p}: ")
