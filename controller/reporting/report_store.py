"""The reporting tables (absences, follow-ups, manual readings, warnings, reports, receipts) and the day's
raw rows the counts need, over the store's own Backend.

``ReportStore.beside(store)`` shares an open event store's connection and
lock (the controller's way); ``open_report_store(url)`` opens its own. Every
write is one transaction.
"""

from __future__ import annotations

import json
import math

from ..store.errors import NotFound, StoreError
from ..store.query import time_range, where_clause
from ..store.records import RECHECK_MAX_C, RECHECK_MIN_C
from ..store.table_store import TableStore
from .config import WarningRule
from .records import (
    ABSENCE_REASONS,
    BACK,
    FOLLOWUP_STATUSES,
    SICK,
    Absence,
    AbsenceFile,
    ConsoleRule,
    FollowUp,
    ManualReading,
    Receipt,
    ReportRecord,
    ReportWarning,
)

MAX_NOTE = 1000


class RuleExists(StoreError):
    """A warning rule that counts what another rule already counts (its warnings would come twice)."""


def open_report_store(url: str) -> ReportStore:
    return ReportStore.open(url)


def _absence(r) -> Absence:
    return Absence(id=r["id"], person_id=r["person_id"], day=r["day"], session=r["session"],
                   class_name=r["class_name"], reason=r["reason"], note=r["note"], marked_by=r["marked_by"],
                   marked_at=r["marked_at"], closed_at=r["closed_at"])


def _report(r) -> ReportRecord:
    return ReportRecord(school_code=r["school_code"], day=r["day"], built_at=r["built_at"], verdict=r["verdict"],
                        files=json.loads(r["files"]), reporter=r["reporter"], status=r["status"],
                        confirmed_by=r["confirmed_by"], confirmed_at=r["confirmed_at"], signed_by=r["signed_by"],
                        sent_at=r["sent_at"], paged_at=r["paged_at"], late=bool(r["late"]))


def _user(name: str, what: str = "user") -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or not name.isprintable():
        raise StoreError(f"{what} must be a name of 1-64 printable characters, not {name!r}")
    return name.strip()


def _day(day: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(day).isoformat()
    except (TypeError, ValueError):
        raise StoreError(f"a day is YYYY-MM-DD, not {day!r}") from None


class ReportStore(TableStore):
    """Absences, follow-ups, manual readings, warnings, reports and receipts. Safe to share between threads."""

    # ------------------------------------------------------------ absences

    def mark_absence(self, person_id: str, day: str, session: str, reason: str, by: str, at: float,
                     note: str = "") -> Absence:
        """The class teacher's mark on one absent person for one session: the reason (sick_with_symptoms,
        leave, other). Marking again changes the reason. A sick absence starts the daily follow-up (its
        first day's record is written now)."""
        if reason not in ABSENCE_REASONS:
            raise StoreError(f"reason {reason!r} is not one of {', '.join(ABSENCE_REASONS)}")
        day, by = _day(day), _user(by)
        if not isinstance(session, str) or not session:
            raise StoreError("name the session")
        note = str(note)[:MAX_NOTE]

        def write(run) -> int:
            p = run("SELECT class_name FROM people WHERE id = ?", (person_id,)).fetchone()
            if p is None:
                raise NotFound(f"no person {person_id!r} on the roster")
            row = run("SELECT id FROM absences WHERE person_id = ? AND day = ? AND session = ?",
                      (person_id, day, session)).fetchone()
            if row is None:
                aid = run("INSERT INTO absences (person_id, day, session, class_name, reason, note, marked_by, "
                          "marked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                          (person_id, day, session, p["class_name"], reason, note, by, at)).fetchone()["id"]
            else:
                aid = row["id"]
                run("UPDATE absences SET reason = ?, note = ?, marked_by = ?, marked_at = ? WHERE id = ?",
                    (reason, note, by, at, aid))
            if reason == SICK and run("SELECT 1 FROM absence_followups WHERE absence_id = ? AND day = ?",
                                      (aid, day)).fetchone() is None:
                run("INSERT INTO absence_followups (absence_id, day, status, note, by_user, at) "
                    "VALUES (?, ?, 'still_sick', ?, ?, ?)", (aid, day, note, by, at))
            return aid

        aid = self._write(write)
        return _absence(self._read("SELECT * FROM absences WHERE id = ?", (aid,))[0])

    def absences(self, *, day: str | None = None, person_id: str | None = None, class_name: str | None = None,
                 since_day: str | None = None, until_day: str | None = None) -> list[Absence]:
        """Marked absences, by day, class and person; ``since_day``/``until_day`` both included."""
        where, params = [], []
        for col, op, v in (("day", "=", day), ("person_id", "=", person_id), ("class_name", "=", class_name),
                           ("day", ">=", since_day), ("day", "<=", until_day)):
            if v is not None:
                where.append(f"{col} {op} ?")
                params.append(v)
        clause = where_clause(where)
        return [_absence(r) for r in self._read(f"SELECT * FROM absences{clause} ORDER BY day, class_name, "
                                                "person_id, session", tuple(params))]

    def purge_absences(self, before_day: str) -> int:
        """Retention: absences of days before ``before_day`` (YYYY-MM-DD) with their follow-ups, unless a
        follow-up was recorded on or after it (a sick absence still followed stays). How many absences."""
        day = _day(before_day)
        return self._write(lambda run: run(
            "DELETE FROM absences WHERE day < ? AND NOT EXISTS (SELECT 1 FROM absence_followups f "
            "WHERE f.absence_id = absences.id AND f.day >= ?)", (day, day)).rowcount)

    def purge_manual_readings(self, before: float) -> int:
        """Retention: hand-held readings taken before ``before``; how many."""
        return self._write(lambda run: run("DELETE FROM manual_readings WHERE time < ?",
                                           (float(before),)).rowcount)

    def absence(self, absence_id: int) -> Absence | None:
        rows = self._read("SELECT * FROM absences WHERE id = ?", (int(absence_id),))
        return _absence(rows[0]) if rows else None

    def follow_up(self, absence_id: int, day: str, status: str, by: str, at: float, note: str = "") -> FollowUp:
        """One day's follow-up of a sick absence (``back`` ends it). The same day again updates it."""
        if status not in FOLLOWUP_STATUSES:
            raise StoreError(f"status {status!r} is not one of {', '.join(FOLLOWUP_STATUSES)}")
        day, by, note = _day(day), _user(by), str(note)[:MAX_NOTE]

        def write(run) -> int:
            a = run("SELECT reason FROM absences WHERE id = ?", (absence_id,)).fetchone()
            if a is None:
                raise NotFound(f"no absence {absence_id}")
            if a["reason"] != SICK:
                raise StoreError(f"absence {absence_id} is not a sick absence: it has no follow-up")
            run("DELETE FROM absence_followups WHERE absence_id = ? AND day = ?", (absence_id, day))
            fid = run("INSERT INTO absence_followups (absence_id, day, status, note, by_user, at) "
                      "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                      (absence_id, day, status, note, by, at)).fetchone()["id"]
            run("UPDATE absences SET closed_at = ? WHERE id = ?", (at if status == BACK else None, absence_id))
            return fid

        fid = self._write(write)
        r = self._read("SELECT * FROM absence_followups WHERE id = ?", (fid,))[0]
        return FollowUp(r["id"], r["absence_id"], r["day"], r["status"], r["note"], r["by_user"], r["at"])

    def followups(self, absence_id: int) -> list[FollowUp]:
        return [FollowUp(r["id"], r["absence_id"], r["day"], r["status"], r["note"], r["by_user"], r["at"])
                for r in self._read("SELECT * FROM absence_followups WHERE absence_id = ? ORDER BY day",
                                    (absence_id,))]

    def absence_file(self, person_id: str) -> tuple[AbsenceFile, ...]:
        """A person's absences, newest first, each with its follow-up (for their file)."""
        return tuple(AbsenceFile(a, tuple(self.followups(a.id)))
                     for a in reversed(self.absences(person_id=person_id)))

    def followups_due(self, day: str) -> list[Absence]:
        """Sick absences still followed (not back) with no record for ``day`` yet: today's calls to make."""
        day = _day(day)
        return [_absence(r) for r in self._read(
            "SELECT a.* FROM absences a WHERE a.reason = ? AND a.closed_at IS NULL AND a.day <= ? AND NOT EXISTS "
            "(SELECT 1 FROM absence_followups f WHERE f.absence_id = a.id AND f.day = ?) ORDER BY a.day, a.id",
            (SICK, day, day))]

    # ------------------------------------------------------------ manual readings

    def add_manual_reading(self, person_id: str, value_c: float, by: str, at: float, *, gate: str = "",
                           note: str = "") -> ManualReading:
        """A hand-held reading for someone a gate could not screen; it counts as screened, marked manual."""
        if not isinstance(value_c, (int, float)) or isinstance(value_c, bool) or not math.isfinite(value_c) \
                or not RECHECK_MIN_C <= value_c <= RECHECK_MAX_C:
            raise StoreError(f"a reading is {RECHECK_MIN_C:g}-{RECHECK_MAX_C:g} degC, not {value_c!r}")
        by, note = _user(by), str(note)[:MAX_NOTE]

        def write(run) -> int:
            if run("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone() is None:
                raise NotFound(f"no person {person_id!r} on the roster")
            return run("INSERT INTO manual_readings (person_id, time, value_c, by_user, gate, note) "
                       "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                       (person_id, at, float(value_c), by, str(gate)[:64], note)).fetchone()["id"]

        rid = self._write(write)
        return ManualReading(rid, person_id, at, float(value_c), by, str(gate)[:64], note)

    def manual_readings(self, since: float | None = None, until: float | None = None,
                        person_id: str | None = None) -> list[ManualReading]:
        where, params = [], []
        time_range(where, params, "time", since, until)
        if person_id is not None:
            where.append("person_id = ?")
            params.append(person_id)
        clause = where_clause(where)
        return [ManualReading(r["id"], r["person_id"], r["time"], r["value_c"], r["by_user"], r["gate"], r["note"])
                for r in self._read(f"SELECT * FROM manual_readings{clause} ORDER BY time, id", tuple(params))]

    # ------------------------------------------------------------ the day's raw rows

    def screening_rows(self, since: float, until: float) -> list:
        """Screenings in [since, until), a drill's left out: id, gate, time, decision, person_id, visitor_id."""
        return self._read("SELECT id, gate, time, decision, person_id, visitor_id FROM screenings "
                          "WHERE time >= ? AND time < ? AND NOT drill ORDER BY time, id", (since, until))

    def alarm_rows(self, since: float | None, until: float) -> list:
        """Alarms raised in [since, until), a drill's left out, with their screening's person and their case."""
        lo = "a.time >= ? AND " if since is not None else ""
        params = ((since,) if since is not None else ()) + (until,)
        return self._read(
            "SELECT a.id, a.gate, a.time, a.status, a.recheck_c, a.outcome, s.person_id, s.visitor_id, "
            "c.id AS case_id, c.state AS case_state, c.drill AS case_drill, c.decision AS case_decision "
            f"FROM alarms a JOIN screenings s ON s.id = a.screening_id LEFT JOIN cases c ON c.alarm_id = a.id "
            f"WHERE {lo}a.time < ? AND NOT a.drill ORDER BY a.time, a.id", params)

    def roster_rows(self) -> list:
        return self._read("SELECT id, name, role, class_name, boarder, active, created_at, updated_at FROM people "
                          "ORDER BY class_name, id")

    def visitor_rows(self, since: float, until: float) -> list:
        return self._read("SELECT id, name, valid_from, valid_until, revoked_at FROM visitors "
                          "WHERE valid_until > ? AND valid_from < ?", (since, until))

    def user_names(self) -> set[str]:
        return {r["name"] for r in self._read("SELECT name FROM users")}

    # ------------------------------------------------------------ warnings

    def add_warning(self, day: str, rule: str, scope: str, scope_key: str, what: str, count: float,
                    threshold: float, at: float, draft: dict) -> tuple[ReportWarning, bool]:
        """Record a warning once per day, rule and scope; (the warning, whether it is new)."""
        day = _day(day)

        def write(run) -> tuple[int, bool]:
            row = run("SELECT id FROM report_warnings WHERE day = ? AND rule = ? AND scope_key = ?",
                      (day, rule, scope_key)).fetchone()
            if row is not None:
                return row["id"], False
            wid = run("INSERT INTO report_warnings (day, rule, scope, scope_key, what, count, threshold, raised_at, "
                      "draft) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                      (day, rule, scope, scope_key, what, float(count), float(threshold), at,
                       json.dumps(draft, ensure_ascii=False, sort_keys=True))).fetchone()["id"]
            return wid, True

        wid, new = self._write(write)
        return self.warnings(id=wid)[0], new

    def warnings(self, day: str | None = None, *, id: int | None = None) -> list[ReportWarning]:
        where, params = [], []
        if day is not None:
            where.append("day = ?")
            params.append(_day(day))
        if id is not None:
            where.append("id = ?")
            params.append(id)
        clause = where_clause(where)
        return [ReportWarning(r["id"], r["day"], r["rule"], r["scope"], r["scope_key"], r["what"], r["count"],
                              r["threshold"], r["raised_at"], json.loads(r["draft"]))
                for r in self._read(f"SELECT * FROM report_warnings{clause} ORDER BY raised_at, id", tuple(params))]

    # ------------------------------------------------------------ warning rules added in the console

    def warning_rules(self, *, enabled_only: bool = False) -> list[ConsoleRule]:
        """The console's warning rules (report_rules), in the order they were added."""
        clause = " WHERE enabled" if enabled_only else ""
        return [_console_rule(r) for r in self._read(f"SELECT * FROM report_rules{clause} ORDER BY id")]

    def warning_rule(self, rule_id: int) -> ConsoleRule:
        rows = self._read("SELECT * FROM report_rules WHERE id = ?", (int(rule_id),))
        if not rows:
            raise NotFound(f"no warning rule {rule_id}")
        return _console_rule(rows[0])

    def add_warning_rule(self, rule: WarningRule, by: str, at: float, *, enabled: bool = True,
                         taken: tuple[str, ...] = ()) -> ConsoleRule:
        """Add a rule (already checked by ``config.parse_warning_rule``). Refused (StoreError) when another
        console rule, or one of ``taken`` (the specs of controller.toml's rules), counts the same thing."""
        by = _user(by)

        def write(run) -> int:
            _refuse_twin(run, rule, None, taken)
            return run("INSERT INTO report_rules (scope, what, threshold, days, factor, min_alarms, baseline_days, "
                       "enabled, created_by, created_at, updated_by, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                       (*_rule_values(rule), bool(enabled), by, at, by, at)).fetchone()["id"]

        return self.warning_rule(self._write(write))

    def change_warning_rule(self, rule_id: int, rule: WarningRule, by: str, at: float, *,
                            taken: tuple[str, ...] = ()) -> tuple[ConsoleRule, ConsoleRule]:
        """Change what a console rule counts; it keeps its number (and so its warnings already stored).
        (before, after); NotFound for no such rule."""
        by, rule_id = _user(by), int(rule_id)
        before = self.warning_rule(rule_id)

        def write(run) -> None:
            _refuse_twin(run, rule, rule_id, taken)
            if run("UPDATE report_rules SET scope = ?, what = ?, threshold = ?, days = ?, factor = ?, min_alarms = ?, "
                   "baseline_days = ?, updated_by = ?, updated_at = ? WHERE id = ?",
                   (*_rule_values(rule), by, at, rule_id)).rowcount != 1:
                raise NotFound(f"no warning rule {rule_id}")

        self._write(write)
        return before, self.warning_rule(rule_id)

    def enable_warning_rule(self, rule_id: int, enabled: bool, by: str, at: float) -> ConsoleRule:
        """Put a console rule to use, or stop using it (it stays, to be enabled again)."""
        by, rule_id = _user(by), int(rule_id)
        if self._write(lambda run: run("UPDATE report_rules SET enabled = ?, updated_by = ?, updated_at = ? "
                                       "WHERE id = ?", (bool(enabled), by, at, rule_id)).rowcount) != 1:
            raise NotFound(f"no warning rule {rule_id}")
        return self.warning_rule(rule_id)

    def delete_warning_rule(self, rule_id: int) -> ConsoleRule:
        """Remove a console rule; the rule as it was. Its warnings already stored stay; its number is never
        given to another rule."""
        rule = self.warning_rule(rule_id)
        if self._write(lambda run: run("DELETE FROM report_rules WHERE id = ?", (int(rule_id),)).rowcount) != 1:
            raise NotFound(f"no warning rule {rule_id}")
        return rule

    # ------------------------------------------------------------ reports and receipts

    def save_report(self, school_code: str, day: str, *, built_at: float, verdict: str, files: dict,
                    reporter: str, content: dict) -> ReportRecord:
        """Record a built (or rebuilt) report. A rebuild keeps the confirmation, the page and what was sent."""
        day = _day(day)
        text = json.dumps(content, ensure_ascii=False, sort_keys=True)
        hashes = json.dumps(files, sort_keys=True)

        def write(run) -> None:
            if run("SELECT 1 FROM reports WHERE school_code = ? AND day = ?", (school_code, day)).fetchone() is None:
                run("INSERT INTO reports (school_code, day, built_at, verdict, files, reporter, content, status, late) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'built', ?)",
                    (school_code, day, built_at, verdict, hashes, reporter, text, False))
            else:
                run("UPDATE reports SET built_at = ?, verdict = ?, files = ?, reporter = ?, content = ? "
                    "WHERE school_code = ? AND day = ?", (built_at, verdict, hashes, reporter, text, school_code, day))

        self._write(write)
        r = self.report(school_code, day)
        assert r is not None
        return r

    def report(self, school_code: str, day: str) -> ReportRecord | None:
        rows = self._read("SELECT * FROM reports WHERE school_code = ? AND day = ?", (school_code, _day(day)))
        return _report(rows[0]) if rows else None

    def report_content(self, school_code: str, day: str) -> dict | None:
        rows = self._read("SELECT content FROM reports WHERE school_code = ? AND day = ?", (school_code, _day(day)))
        return json.loads(rows[0]["content"]) if rows else None

    def reports(self, school_code: str | None = None) -> list[ReportRecord]:
        """Every report, newest day first (the Reports page's list)."""
        clause, params = ("WHERE school_code = ? ", (school_code,)) if school_code else ("", ())
        return [_report(r) for r in self._read(f"SELECT * FROM reports {clause}ORDER BY day DESC, school_code",
                                               params)]

    def confirm_report(self, school_code: str, day: str, user: str, at: float) -> ReportRecord:
        """The reporter (or the backup) confirms the day's report: it goes out under their name."""
        user = _user(user)

        def write(run) -> None:
            if run("UPDATE reports SET confirmed_by = ?, confirmed_at = ? WHERE school_code = ? AND day = ?",
                   (user, at, school_code, _day(day))).rowcount != 1:
                raise NotFound(f"no report of {day} for school {school_code}: build it first")

        self._write(write)
        r = self.report(school_code, day)
        assert r is not None
        return r

    def mark_paged(self, school_code: str, day: str, at: float) -> None:
        self._write(lambda run: run("UPDATE reports SET paged_at = ? WHERE school_code = ? AND day = ?",
                                    (at, school_code, _day(day))))

    def mark_sent(self, school_code: str, day: str, *, status: str, signed_by: str, at: float, late: bool) -> None:
        if status not in ("sent", "failed"):
            raise StoreError(f"internal: report status {status!r}")
        self._write(lambda run: run("UPDATE reports SET status = ?, signed_by = ?, sent_at = ?, late = ? "
                                    "WHERE school_code = ? AND day = ?",
                                    (status, signed_by, at, late, school_code, _day(day))))

    def add_receipt(self, school_code: str, day: str, recipient: str, kind: str, at: float, ok: bool, attempt: int,
                    detail: str, files: dict, sent_by: str, late: bool) -> Receipt:
        day = _day(day)
        rid = self._write(lambda run: run(
            "INSERT INTO report_receipts (school_code, day, recipient, kind, at, ok, attempt, detail, files, sent_by, "
            "late) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (school_code, day, recipient, kind, at, ok, attempt, str(detail)[:MAX_NOTE],
             json.dumps(files, sort_keys=True), sent_by, late)).fetchone()["id"])
        return self.receipts(school_code, day, id=rid)[0]

    def receipts(self, school_code: str, day: str, *, id: int | None = None) -> list[Receipt]:
        extra, params = ("AND id = ? ", (school_code, _day(day), id)) if id is not None else ("", (school_code,
                                                                                                   _day(day)))
        return [Receipt(r["id"], r["school_code"], r["day"], r["recipient"], r["kind"], r["at"], bool(r["ok"]),
                        r["attempt"], r["detail"], json.loads(r["files"]), r["sent_by"], bool(r["late"]))
                for r in self._read(f"SELECT * FROM report_receipts WHERE school_code = ? AND day = ? {extra}"
                                    "ORDER BY at, id", params)]


def _rule_values(rule: WarningRule) -> tuple:
    return (rule.scope, rule.what, float(rule.threshold), int(rule.days), float(rule.factor), int(rule.min_alarms),
            int(rule.baseline_days))


def _console_rule(r) -> ConsoleRule:
    rule = WarningRule(scope=r["scope"], what=r["what"], threshold=r["threshold"], days=r["days"], factor=r["factor"],
                       min_alarms=r["min_alarms"], baseline_days=r["baseline_days"], id=r["id"])
    return ConsoleRule(rule, bool(r["enabled"]), r["created_by"], r["created_at"], r["updated_by"], r["updated_at"])


def _refuse_twin(run, rule: WarningRule, rule_id: int | None, taken: tuple[str, ...]) -> None:
    """Two rules that count the same thing would raise every warning twice: refuse the second."""
    if rule.spec in taken:
        raise RuleExists(f"controller.toml already has the rule {rule.spec}")
    for r in run("SELECT * FROM report_rules").fetchall():
        other = _console_rule(r)
        if other.id != rule_id and other.rule.spec == rule.spec:
            raise RuleExists(f"console rule {other.id} already is {rule.spec}")

