"""The cases and drills tables (migration 4) over the store's own Backend.

``CaseStore`` works on the database the event store uses and leaves the
event store's ``Store`` as it is. ``open_case_store(url)`` opens its own
connection and applies any missing migration; ``CaseStore.beside(store)``
shares an open ``Store``'s connection and lock (the controller's way).

Every write is one transaction. A step is checked against the case's state
(machine.py) inside the transaction that records it, with the case's row
locked, so two people recording at once cannot both take the one decision.

The alarm stays the event store's record of what the gate saw. A case keeps
it in step, so the console's banner and the daily report (which read the
alarm) agree with the case: acknowledging the case acknowledges an open alarm,
and the case's decision disposes the alarm (back_in as ``admitted``, the
others as ``sent_home``, with the last re-check reading and a note naming the
case) unless it was disposed already.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..store.errors import NotFound
from ..store.query import time_range, where_clause
from ..store.records import ADMITTED, ALARM_ACKNOWLEDGED, ALARM_DISPOSED, ALARM_OPEN, SENT_HOME, Alarm
from ..store.table_store import TableStore
from .legacy import case_from_alarm
from .machine import CLEARED, CLOSED, Progress, advance
from .records import SCENARIOS, Case, CaseStep, Drill, DrillCase, StepTiming
from .steps import (
    AWAY_OUTCOMES,
    BACK_IN,
    CaseError,
    Decision,
    Recheck,
    StepData,
    StepKind,
    check_time,
    step_from_json,
)

SEE_SCHOOL_DOCTOR = "see_school_doctor"  # the RETRY reason for a person held until 复课


def open_case_store(url: str) -> CaseStore:
    """The cases and drills of the store a URL names (created and migrated as needed)."""
    return CaseStore.open(url)


def _user(user: Any, what: str = "user") -> str:
    if not isinstance(user, str) or not user.strip() or len(user) > 64:
        raise CaseError(f"{what} must be a name of 1-64 characters, not {user!r}")
    return user.strip()


def _alarm_row(r) -> Alarm:
    return Alarm(id=r["id"], screening_id=r["screening_id"], gate=r["gate"], time=r["time"], status=r["status"],
                 acknowledged_by=r["acknowledged_by"], acknowledged_at=r["acknowledged_at"], recheck_c=r["recheck_c"],
                 outcome=r["outcome"], disposed_by=r["disposed_by"], disposed_at=r["disposed_at"], note=r["note"])


def _step_row(r) -> CaseStep:
    kind = StepKind(r["kind"])
    return CaseStep(kind=kind, at=r["at"], by_user=r["by_user"], data=step_from_json(kind, json.loads(r["data"])),
                    id=r["id"], case_id=r["case_id"])


def _case_row(r, steps: Iterable[CaseStep] | None = None) -> Case:
    return Case(id=r["id"], alarm_id=r["alarm_id"], person_id=r["person_id"], gate=r["gate"],
                opened_at=r["opened_at"], state=r["state"], drill=bool(r["drill"]), closed_at=r["closed_at"],
                decision=r["decision"], decided_at=r["decided_at"], cleared_at=r["cleared_at"],
                drill_id=r["drill_id"], steps=tuple(steps) if steps is not None else None)


def _data_json(step: StepData) -> str:
    return json.dumps(step.to_json(), ensure_ascii=False, sort_keys=True)


class CaseStore(TableStore):
    """Fever cases, their steps, the hold rule and drills. Safe to share between threads."""

    # ------------------------------------------------------------ plumbing (the rest is TableStore's)

    def _for_update(self) -> str:
        # SQLite's BEGIN IMMEDIATE already holds the write lock; PostgreSQL locks the row
        return " FOR UPDATE" if self._db.dialect == "postgresql" else ""

    # ------------------------------------------------------------ opening a case

    def open_case_for_alarm(self, alarm: Alarm | int, person_id: str | None = None, drill: bool = False) -> Case:
        """The case of a fever alarm, opened now or earlier (one per alarm; a second call returns the first,
        and is refused if it asks for a drill case where the first was not, or the other way round).

        ``person_id`` None takes the person the alarm's screening names, if any. ``drill`` marks a drill's
        case and links it to the drill running on the alarm's gate (refused when none runs there).

        An alarm that was acknowledged or disposed before it had a case starts with the steps that stand
        for that (legacy.py), recorded by whoever did them, when they did; from then on it is an ordinary
        case, so an old ``sent_home`` touched this way holds the person until 复课."""
        alarm_id = alarm.id if isinstance(alarm, Alarm) else alarm
        if isinstance(alarm_id, bool) or not isinstance(alarm_id, int):
            raise CaseError(f"an alarm or an alarm id, not {alarm!r}")
        if person_id is not None:
            _user(person_id, "person id")
        if not isinstance(drill, bool):
            raise CaseError(f"drill must be true or false, not {drill!r}")

        def write(run) -> int:
            existing = run("SELECT id, drill FROM cases WHERE alarm_id = ?", (alarm_id,)).fetchone()
            if existing is not None:
                if bool(existing["drill"]) != drill:
                    raise CaseError(f"alarm {alarm_id} already has case {existing['id']}, "
                                    f"{'a drill' if existing['drill'] else 'not a drill'}")
                return existing["id"]
            row = run("SELECT a.*, s.person_id AS screening_person FROM alarms a "
                      "JOIN screenings s ON s.id = a.screening_id WHERE a.id = ?", (alarm_id,)).fetchone()
            if row is None:
                raise NotFound(f"no alarm {alarm_id}")
            a = _alarm_row(row)
            person = person_id if person_id is not None else row["screening_person"]
            if person is not None and run("SELECT 1 FROM people WHERE id = ?", (person,)).fetchone() is None:
                raise NotFound(f"no person {person!r} on the roster")
            drill_id = self._running_drill_on(run, a.gate) if drill else None
            if drill and drill_id is None:
                raise CaseError(f"no drill is running on gate {a.gate}: start one before opening a drill case")
            before = case_from_alarm(a, person)
            new = run("INSERT INTO cases (alarm_id, person_id, gate, opened_at, state, drill, drill_id, decision, "
                      "decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (alarm_id) DO NOTHING RETURNING id",
                      (a.id, person, a.gate, a.time, before.state, drill, drill_id, before.decision,
                       before.decided_at)).fetchone()
            if new is None:  # another process opened it in between
                return run("SELECT id FROM cases WHERE alarm_id = ?", (alarm_id,)).fetchone()["id"]
            for s in before.steps or ():
                run("INSERT INTO case_steps (case_id, kind, at, by_user, data) VALUES (?, ?, ?, ?, ?)",
                    (new["id"], s.kind.value, s.at, s.by_user, _data_json(s.data)))
            return new["id"]

        case_id = self._write(write)
        case = self.case(case_id)
        assert case is not None
        return case

    def purge_closed(self, before: float) -> int:
        """Retention: cases closed before ``before``, with their steps; an open case (not closed) is never
        purged. How many cases."""
        return self._write(lambda run: run("DELETE FROM cases WHERE closed_at IS NOT NULL AND closed_at < ?",
                                           (float(before),)).rowcount)

    def _running_drill_on(self, run, gate: str) -> int | None:
        for r in run("SELECT id, gates FROM drills WHERE ended_at IS NULL ORDER BY id").fetchall():
            if gate in json.loads(r["gates"]):
                return r["id"]
        return None

    # ------------------------------------------------------------ steps

    def add_step(self, case_id: int, step: StepData, user: str, at: float) -> CaseStep:
        """Record one step of a case by ``user`` at ``at``; the step as stored.

        Refused (``machine.Refused``, with the state and the rule) when the case's state does not allow it;
        ``NotFound`` for an unknown case. 复课 needs a user whose console role is doctor."""
        if not isinstance(step, StepData):
            raise CaseError(f"a step's data (controller.cases.steps), not {type(step).__name__}")
        user = _user(user)
        t = check_time("the step's time", at)
        if isinstance(step, Recheck) and not step.complete:
            raise CaseError("recheck: name the instrument (mercury|electronic|infrared) and the site "
                            "(axillary|oral|forehead)")

        def write(run) -> int:
            row = run("SELECT * FROM cases WHERE id = ?" + self._for_update(), (case_id,)).fetchone()
            if row is None:
                raise NotFound(f"no case {case_id}")
            kinds = [r["kind"] for r in run("SELECT kind FROM case_steps WHERE case_id = ?", (case_id,)).fetchall()]
            progress = Progress(state=row["state"], rechecks=kinds.count(StepKind.RECHECK.value),
                                escorted=StepKind.ESCORTED.value in kinds, decision=row["decision"])
            role_row = run("SELECT role FROM users WHERE name = ?", (user,)).fetchone()
            after = advance(progress, step, role_row["role"] if role_row is not None else None)
            step_id = run("INSERT INTO case_steps (case_id, kind, at, by_user, data) VALUES (?, ?, ?, ?, ?) "
                          "RETURNING id", (case_id, step.kind.value, t, user, _data_json(step))).fetchone()["id"]
            sets: list[str] = ["state = ?"]
            params: list[object] = [after.state]
            if isinstance(step, Decision):
                sets += ["decision = ?", "decided_at = ?"]
                params += [step.outcome, t]
            elif after.state == CLEARED and progress.state != CLEARED:
                sets.append("cleared_at = ?")
                params.append(t)
            elif after.state == CLOSED:
                sets.append("closed_at = ?")
                params.append(t)
            run(f"UPDATE cases SET {', '.join(sets)} WHERE id = ?", (*params, case_id))
            self._keep_alarm_in_step(run, row, step, user, t)
            return step_id

        step_id = self._write(write)
        return CaseStep(kind=step.kind, at=t, by_user=user, data=step, id=step_id, case_id=case_id)

    def _keep_alarm_in_step(self, run, case_row, step: StepData, user: str, t: float) -> None:
        alarm_id = case_row["alarm_id"]
        if alarm_id is None:
            return
        if step.kind is StepKind.ACKNOWLEDGED:
            run("UPDATE alarms SET status = ?, acknowledged_by = ?, acknowledged_at = ? WHERE id = ? AND status = ?",
                (ALARM_ACKNOWLEDGED, user, t, alarm_id, ALARM_OPEN))
        elif isinstance(step, Decision):
            last = run("SELECT data FROM case_steps WHERE case_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
                       (case_row["id"], StepKind.RECHECK.value)).fetchone()
            reading = json.loads(last["data"])["value_c"] if last is not None else None
            outcome = ADMITTED if step.outcome == BACK_IN else SENT_HOME
            note = f"case {case_row['id']}: {step.outcome}" + (f": {step.note}" if step.note else "")
            run("UPDATE alarms SET status = ?, recheck_c = ?, outcome = ?, disposed_by = ?, disposed_at = ?, note = ?, "
                "acknowledged_by = COALESCE(acknowledged_by, ?), acknowledged_at = COALESCE(acknowledged_at, ?) "
                "WHERE id = ? AND status <> ?",
                (ALARM_DISPOSED, reading, outcome, user, t, note, user, t, alarm_id, ALARM_DISPOSED))

    # ------------------------------------------------------------ reading cases

    def case(self, case_id: int) -> Case | None:
        """A case with its timeline."""
        rows = self._read("SELECT * FROM cases WHERE id = ?", (case_id,))
        return _case_row(rows[0], self.timeline(case_id)) if rows else None

    def timeline(self, case_id: int) -> list[CaseStep]:
        """A case's steps in the order they were recorded."""
        return [_step_row(r) for r in self._read("SELECT * FROM case_steps WHERE case_id = ? ORDER BY id", (case_id,))]

    def case_for_alarm(self, alarm_id: int) -> Case | None:
        rows = self._read("SELECT id FROM cases WHERE alarm_id = ?", (alarm_id,))
        return self.case(rows[0]["id"]) if rows else None

    def cases(self, open_only: bool = False, person_id: str | None = None, drill: bool | None = False,
              since: float | None = None, until: float | None = None) -> list[Case]:
        """Cases by the time their alarm was raised (``since`` inclusive, ``until`` exclusive), without their
        steps. ``open_only``: not closed yet. ``drill`` False (the default) leaves drills out, True lists
        only drills, None both."""
        where, params = [], []
        if open_only:
            where.append("closed_at IS NULL")
        if person_id is not None:
            where.append("person_id = ?")
            params.append(person_id)
        if drill is not None:
            where.append("drill = ?")
            params.append(bool(drill))
        time_range(where, params, "opened_at", since, until)
        sql = f"SELECT * FROM cases{where_clause(where)} ORDER BY opened_at, id"
        return [_case_row(r) for r in self._read(sql, tuple(params))]

    def alarm_as_case(self, alarm_id: int) -> Case:
        """The case of an alarm; an alarm without one (disposed before cases existed, or not touched yet)
        read as a case (``legacy``: not stored, holds nobody)."""
        case = self.case_for_alarm(alarm_id)
        if case is not None:
            return case
        rows = self._read("SELECT a.*, s.person_id AS screening_person FROM alarms a "
                          "JOIN screenings s ON s.id = a.screening_id WHERE a.id = ?", (alarm_id,))
        if not rows:
            raise NotFound(f"no alarm {alarm_id}")
        return case_from_alarm(_alarm_row(rows[0]), rows[0]["screening_person"])

    # ------------------------------------------------------------ the gate's hold rule

    def hold_for(self, person_id: str | None, at: float) -> str | None:
        """``see_school_doctor`` when, at ``at``, the person has a case decided sent_home, fever_clinic or
        ambulance and not yet cleared (复课); else None. Drill cases never hold anyone."""
        if person_id is None:
            return None
        t = float(at)
        if not math.isfinite(t):
            raise CaseError(f"hold_for: time {at!r} is not a time")
        outcomes = tuple(AWAY_OUTCOMES)
        rows = self._read(
            "SELECT id FROM cases WHERE person_id = ? AND drill = ? "
            f"AND decision IN ({', '.join('?' for _ in outcomes)}) AND decided_at <= ? "
            "AND (cleared_at IS NULL OR cleared_at > ?) LIMIT 1",
            (person_id, False, *outcomes, t, t))
        return SEE_SCHOOL_DOCTOR if rows else None

    # ------------------------------------------------------------ drills

    def start_drill(self, user: str, gates: Iterable[str], scenario: str,
                    settings_before: Mapping[str, Any] | None = None,
                    at: float | None = None) -> Drill:
        """Record a drill starting on ``gates`` with ``scenario`` (``simulated_fever`` or ``heated_target``).

        ``settings_before`` is what the caller is about to change for the drill, with each setting's value
        before it (JSON-serialisable); ``end_drill`` gives it back. A gate already in a running drill is
        refused."""
        user = _user(user)
        gate_list = [gates] if isinstance(gates, str) else list(gates)
        if not gate_list or not all(isinstance(g, str) and g for g in gate_list):
            raise CaseError(f"a drill needs one or more gate ids, not {gates!r}")
        gate_list = sorted(set(gate_list))
        if scenario not in SCENARIOS:
            raise CaseError(f"scenario must be one of {'|'.join(SCENARIOS)}, not {scenario!r}")
        settings = dict(settings_before or {})
        if not all(isinstance(k, str) and k for k in settings):
            raise CaseError("the settings a drill changes are named by text keys")
        try:
            settings_text = json.dumps(settings, ensure_ascii=False, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CaseError(f"the settings a drill changes must be plain JSON values: {exc}") from None
        t = check_time("the drill's start", time.time() if at is None else at)

        def write(run) -> int:
            for g in gate_list:
                if run("SELECT 1 FROM gates WHERE id = ?", (g,)).fetchone() is None:
                    raise NotFound(f"no gate {g!r}")
                busy = self._running_drill_on(run, g)
                if busy is not None:
                    raise CaseError(f"gate {g} is already in drill {busy}: end it first")
            return run("INSERT INTO drills (started_by, gates, scenario, started_at, settings_changed) "
                       "VALUES (?, ?, ?, ?, ?) RETURNING id",
                       (user, json.dumps(gate_list), scenario, t, settings_text)).fetchone()["id"]

        drill = self.drill(self._write(write))
        assert drill is not None
        return drill

    def end_drill(self, drill_id: int, debrief: str, at: float | None = None) -> dict:
        """End a running drill with its debrief; the settings it changed, with their values before it, for
        the caller to restore. Ending a drill twice is refused (the first end returned the settings)."""
        if not isinstance(debrief, str) or len(debrief) > 20000:
            raise CaseError("the debrief must be text of at most 20000 characters")
        t = check_time("the drill's end", time.time() if at is None else at)

        def write(run) -> dict:
            row = run("SELECT * FROM drills WHERE id = ?" + self._for_update(), (drill_id,)).fetchone()
            if row is None:
                raise NotFound(f"no drill {drill_id}")
            if row["ended_at"] is not None:
                raise CaseError(f"drill {drill_id} has ended already")
            if t < row["started_at"]:
                raise CaseError(f"drill {drill_id} cannot end before it started")
            run("UPDATE drills SET ended_at = ?, debrief = ? WHERE id = ?", (t, debrief.strip(), drill_id))
            return json.loads(row["settings_changed"])

        return self._write(write)

    def drill(self, drill_id: int) -> Drill | None:
        """A drill with its cases, each step timed from the alarm."""
        rows = self._read("SELECT * FROM drills WHERE id = ?", (drill_id,))
        if not rows:
            return None
        cases = []
        for c in self._read("SELECT * FROM cases WHERE drill_id = ? ORDER BY opened_at, id", (drill_id,)):
            steps = tuple(StepTiming(s.kind, s.at, s.at - c["opened_at"], s.by_user) for s in self.timeline(c["id"]))
            decided = c["decided_at"] - c["opened_at"] if c["decided_at"] is not None else None
            cases.append(DrillCase(c["id"], c["gate"], c["opened_at"], c["state"], steps, decided))
        return self._drill_row(rows[0], cases)

    def drills(self, running_only: bool = False) -> list[Drill]:
        """Drills by start, without their cases (``drill(id)`` has them)."""
        clause = " WHERE ended_at IS NULL" if running_only else ""
        return [self._drill_row(r, ()) for r in self._read(f"SELECT * FROM drills{clause} ORDER BY started_at, id")]

    @staticmethod
    def _drill_row(r, cases) -> Drill:
        return Drill(id=r["id"], started_by=r["started_by"], gates=tuple(json.loads(r["gates"])),
                     scenario=r["scenario"], started_at=r["started_at"], ended_at=r["ended_at"], debrief=r["debrief"],
                     settings_changed=json.loads(r["settings_changed"]), cases=tuple(cases))
