"""The school's daily report and the screenings export, from the event store.

Definitions (docs/store.md, "Reports"), for one local day ``[00:00, next 00:00)``
in the school's time zone:

- **screened**: people the gate decided on, PASS + FEVER decisions;
- **passed**: PASS decisions; **fevers**: FEVER decisions;
- **retried**: RETRY decisions (the gate asked someone to step closer, hold still, ...);
- **blocked**: BLOCKED decisions (the gate could not screen: warming up, sensor fault, ...);
- **alarms**: fever alarms raised that day;
- **dispositions**: of those alarms, how many the doctor disposed with each outcome;
- **open alarms**: of those alarms, the ones not disposed yet;
- **confirmed fevers**: disposed alarms where the doctor's re-check reading is
  at or above the threshold (37.3 degC unless configured), or, when no reading
  was entered, whose outcome is ``observation_room`` or ``sent_home``.
  ``admitted`` and ``false_alarm`` without a reading at or above the
  threshold are not fevers.

The **zero report** ("零报告") is made when the day had screenings, no
confirmed fever and no alarm of the day still open. A day when nobody was
screened (a holiday, the gates off) is **no screening** ("今日无筛查"): not a
zero report, since nobody was checked for fever. While an alarm is open, the report says the
zero report is pending instead: a day is not fever-free until every alarm has
been looked at.

Alarms are counted on the day they were raised, with their dispositions as
they stand when the report is made: a report made again after a late
disposition shows it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import time as _time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import IO
from zoneinfo import ZoneInfo

from .csv_safe import csv_cell, csv_uncell
from .protocol.result import BLOCKED, FEVER, PASS, RETRY
from .store.records import (
    ALARM_ACKNOWLEDGED,
    ALARM_DISPOSED,
    ALARM_OPEN,
    OBSERVATION_ROOM,
    OUTCOMES,
    SENT_HOME,
    Alarm,
    Screening,
)

DEFAULT_THRESHOLD_C = 37.3
TOTAL = "ALL"  # the total row's gate column (never a gate id: those are lowercase)

ZERO_REPORT_ZH = "零报告：今日无发热病例。"
ZERO_REPORT_EN = "Zero report: no fever today."
PENDING_ZH = "零报告待定：尚有 {n} 条发热警报未处置。"
PENDING_EN = "Zero report pending: {n} fever alarm(s) not yet disposed."
CONFIRMED_ZH = "今日确认发热 {n} 例。"
CONFIRMED_EN = "Confirmed fevers today: {n}."
NO_SCREENING_ZH = "今日无筛查记录：没有人被筛查，不能作零报告。"
NO_SCREENING_EN = "No screening today: nobody was screened, so this is not a zero report."

_OUTCOME_LABELS = {"admitted": "admitted", "observation_room": "observation room", "sent_home": "sent home",
                   "false_alarm": "false alarm"}


@dataclass(frozen=True)
class GateDay:
    """One gate's figures for the day (or the total, with ``gate == "ALL"``)."""

    gate: str
    name: str = ""
    screened: int = 0
    passed: int = 0
    fevers: int = 0
    retried: int = 0
    blocked: int = 0
    alarms: int = 0
    confirmed_fevers: int = 0
    dispositions: dict[str, int] = field(default_factory=lambda: {o: 0 for o in OUTCOMES})
    open_alarms: int = 0


@dataclass(frozen=True)
class DailyReport:
    date: dt.date
    timezone: str
    start: float  # the day's first second, Unix time
    end: float  # the next day's first second
    threshold_c: float
    generated_at: float
    gates: tuple[GateDay, ...]
    total: GateDay
    older_open_alarms: int  # alarms raised before this day and still not disposed

    @property
    def no_screening(self) -> bool:
        """Nobody was screened and no alarm was raised: there is nothing to report either way."""
        return self.total.screened == 0 and self.total.alarms == 0

    @property
    def zero_report(self) -> bool:
        """People were screened, no confirmed fever and nothing left open: the day is fever-free."""
        return not self.no_screening and self.total.confirmed_fevers == 0 and self.total.open_alarms == 0

    def verdict_lines(self) -> tuple[str, str]:
        """The day's verdict, in Chinese and English: zero report, pending, or the confirmed count."""
        t = self.total
        if t.confirmed_fevers:
            return CONFIRMED_ZH.format(n=t.confirmed_fevers), CONFIRMED_EN.format(n=t.confirmed_fevers)
        if t.open_alarms:
            return PENDING_ZH.format(n=t.open_alarms), PENDING_EN.format(n=t.open_alarms)
        if self.no_screening:
            return NO_SCREENING_ZH, NO_SCREENING_EN
        return ZERO_REPORT_ZH, ZERO_REPORT_EN


def day_bounds(date: dt.date, tz: dt.tzinfo) -> tuple[float, float]:
    """Unix seconds of local midnight on ``date`` and on the next day (23 or 25 hours apart on DST days)."""
    start = dt.datetime.combine(date, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.timestamp(), end.timestamp()


def is_confirmed_fever(alarm: Alarm, threshold_c: float = DEFAULT_THRESHOLD_C) -> bool:
    """The report's rule for a confirmed fever (module docstring)."""
    if alarm.status != ALARM_DISPOSED:
        return False
    if alarm.recheck_c is not None:
        return alarm.recheck_c >= threshold_c
    return alarm.outcome in (OBSERVATION_ROOM, SENT_HOME)


def daily_report(store, date: dt.date, tz: ZoneInfo, *, threshold_c: float = DEFAULT_THRESHOLD_C,
                 now: float | None = None) -> DailyReport:
    """The day's figures per gate (every gate the store knows, zeros included) and in total."""
    if not isinstance(tz, dt.tzinfo):
        raise ValueError(f"tz must be a time zone (zoneinfo.ZoneInfo), not {tz!r}")
    if not (isinstance(threshold_c, (int, float)) and math.isfinite(threshold_c)):
        raise ValueError(f"threshold must be a number of degC, not {threshold_c!r}")
    start, end = day_bounds(date, tz)
    # Nothing from a drill counts (docs/cases.md): its screenings and alarms carry drill = true.
    counts = store.screening_counts(since=start, until=end, drills=False)
    alarms = store.alarms(since=start, until=end, drills=False)
    names = {g.id: g.name for g in store.gates()}
    gate_ids = sorted(set(names) | set(counts) | {a.gate for a in alarms})

    rows = []
    for gate in gate_ids:
        c = counts.get(gate, {})
        mine = [a for a in alarms if a.gate == gate]
        rows.append(_gate_day(gate, names.get(gate, ""), c, mine, threshold_c))
    total = _gate_day(TOTAL, "", _sum_counts(counts.values()), alarms, threshold_c)
    older = sum(len(store.alarms(status=status, until=start, drills=False))
                for status in (ALARM_OPEN, ALARM_ACKNOWLEDGED))
    return DailyReport(date=date, timezone=getattr(tz, "key", str(tz)), start=start, end=end,
                       threshold_c=float(threshold_c), generated_at=_time.time() if now is None else now,
                       gates=tuple(rows), total=total, older_open_alarms=older)


def _sum_counts(per_gate: Iterable[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in per_gate:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def _gate_day(gate: str, name: str, c: dict[str, int], alarms: list[Alarm], threshold_c: float) -> GateDay:
    dispositions = {o: 0 for o in OUTCOMES}
    for a in alarms:
        if a.status == ALARM_DISPOSED and a.outcome is not None:  # a disposed alarm has its outcome
            dispositions[a.outcome] += 1
    return GateDay(gate=gate, name=name, screened=c.get(PASS, 0) + c.get(FEVER, 0), passed=c.get(PASS, 0),
                   fevers=c.get(FEVER, 0), retried=c.get(RETRY, 0), blocked=c.get(BLOCKED, 0), alarms=len(alarms),
                   confirmed_fevers=sum(is_confirmed_fever(a, threshold_c) for a in alarms),
                   dispositions=dispositions, open_alarms=sum(a.status != ALARM_DISPOSED for a in alarms))


# ---------------------------------------------------------------- renderers

_COLUMNS = ("screened", "passed", "fevers", "retried", "blocked", "alarms", "confirmed_fevers", "open_alarms")
_HEADINGS = ("screened", "passed", "fevers", "retried", "blocked", "alarms", "confirmed", "open")


def render_text(report: DailyReport) -> str:
    """The report for people: a table per gate, the dispositions and the verdict in Chinese and English."""
    lines = [f"thermogate daily report / 每日体温筛查报告: {report.date.isoformat()} ({report.timezone})", ""]
    width = max([len("gate")] + [len(g.gate) for g in report.gates] + [len(TOTAL)])
    lines.append("  ".join([f"{'gate':<{width}}"] + [f"{h:>9}" for h in _HEADINGS]))
    for g in (*report.gates, report.total):
        lines.append("  ".join([f"{g.gate:<{width}}"] + [f"{getattr(g, c):>9}" for c in _COLUMNS]))
    lines.append("")
    d = report.total.dispositions
    lines.append("dispositions / 处置: " + ", ".join(f"{_OUTCOME_LABELS[o]} {d[o]}" for o in OUTCOMES))
    if report.older_open_alarms:
        lines.append(f"still open from earlier days / 往日未处置警报: {report.older_open_alarms}")
    lines.append(f"screened = PASS + FEVER decisions; confirmed fever: re-check >= {report.threshold_c:.1f} degC, "
                 "or without a re-check, kept in observation or sent home")
    lines.append("")
    lines.extend(report.verdict_lines())
    return "\n".join(lines) + "\n"


def _csv_row(report: DailyReport, g: GateDay) -> dict:
    row: dict[str, str | int] = {"date": report.date.isoformat(), "timezone": report.timezone,
                                 "gate": csv_cell(g.gate), "name": csv_cell(g.name)}
    row.update({c: getattr(g, c) for c in _COLUMNS})
    row.update({f"disposed_{o}": g.dispositions[o] for o in OUTCOMES})
    row["zero_report"] = ("yes" if report.zero_report else "no") if g.gate == TOTAL else ""
    return row


CSV_FIELDS = (("date", "timezone", "gate", "name") + _COLUMNS + tuple(f"disposed_{o}" for o in OUTCOMES)
              + ("zero_report",))


def render_csv(report: DailyReport) -> str:
    """One row per gate and a last row with gate ``ALL``; ``zero_report`` (yes/no) on that row only."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for g in (*report.gates, report.total):
        w.writerow(_csv_row(report, g))
    return buf.getvalue()


def report_dict(report: DailyReport) -> dict:
    zh, en = report.verdict_lines()
    return {
        "v": 1,
        "date": report.date.isoformat(),
        "timezone": report.timezone,
        "start": report.start,
        "end": report.end,
        "threshold_c": report.threshold_c,
        "generated_at": report.generated_at,
        "gates": [asdict(g) for g in report.gates],
        "total": asdict(report.total),
        "older_open_alarms": report.older_open_alarms,
        "zero_report": report.zero_report,
        "no_screening": report.no_screening,
        "verdict": {"zh": zh, "en": en},
    }


def render_json(report: DailyReport) -> str:
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n"


RENDERERS = {"text": render_text, "csv": render_csv, "json": render_json}


# ---------------------------------------------------------------- export

EXPORT_FIELDS = ("id", "uid", "gate", "time", "local_time", "decision", "reason", "track", "estimate_c", "face_c",
                 "distance_m", "reduced_accuracy", "boot", "sequence")


def _num(v) -> str:
    return "" if v is None else repr(v)  # repr: the shortest text that reads back as the same float


def export_screenings(store, since: float | None, until: float | None, out: IO[str], *,
                      tz: dt.tzinfo | None = None) -> int:
    """Write the screenings in ``[since, until)`` (Unix seconds) as CSV to ``out``; how many.

    ``time`` is Unix seconds; ``local_time`` the same instant in ISO 8601 in
    ``tz`` (UTC if None). Snapshots are not exported. Open the file with
    ``newline=""``.
    """
    zone = tz or dt.timezone.utc
    w = csv.writer(out, lineterminator="\n")
    w.writerow(EXPORT_FIELDS)
    n = 0
    for s in store.iter_screenings(since, until):
        local = dt.datetime.fromtimestamp(s.time, zone).isoformat(timespec="milliseconds")
        w.writerow([s.id, csv_cell(s.uid), csv_cell(s.gate), _num(s.time), local, s.decision, csv_cell(s.reason),
                    s.track, _num(s.estimate_c),
                    _num(s.face_c), _num(s.distance_m), int(s.reduced_accuracy), s.boot, s.sequence])
        n += 1
    return n


def read_screenings_csv(f: IO[str]) -> list[Screening]:
    """Screenings back from an export (without snapshots); ValueError on a malformed file."""
    r = csv.DictReader(f)
    if tuple(r.fieldnames or ()) != EXPORT_FIELDS:
        raise ValueError(f"not a thermogate screenings export: columns {r.fieldnames}")

    def opt(v: str) -> float | None:
        return None if v == "" else float(v)

    out = []
    for row in r:
        try:
            out.append(Screening(uid=csv_uncell(row["uid"]), gate=csv_uncell(row["gate"]), time=float(row["time"]),
                                 decision=row["decision"], reason=csv_uncell(row["reason"]), track=int(row["track"]),
                                 estimate_c=opt(row["estimate_c"]),
                                 face_c=opt(row["face_c"]), distance_m=opt(row["distance_m"]),
                                 reduced_accuracy=row["reduced_accuracy"] == "1", boot=int(row["boot"]),
                                 sequence=int(row["sequence"]), id=int(row["id"])))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"line {r.line_num}: {exc}") from None
    return out
