"""What each decision sets in motion: a record, the door or the indicator, an alarm, a result.

| decision | record | gate | also |
|---|---|---|---|
| PASS | screening | `open` (capped by the gate), then `indicate pass` | result |
| FEVER | screening + alarm | `indicate alarm`; the door stays shut | result, the console's alarm |
| RETRY | screening | `indicate retry` | result (with the reason to show) |
| BLOCKED | screening | nothing: the door stays shut | result |

The screening is written before any command is sent, so a decision that
opened a door is always on record. Its ``uid`` (gate, boot, frame sequence,
track, decision) makes a second write of the same decision a no-op.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from datetime import datetime, timezone

from ..protocol import result as D
from ..protocol.commands import INDICATE
from ..protocol.result import Decision
from ..protocol.topics import topic
from ..store.records import Screening
from ..store.snapshot import encode_snapshot
from .events import AlarmEvent, AlertKind, DecisionEvent, IdentityEvent

log = logging.getLogger("thermogate.actions")

UNSAVED_MAX = 100_000  # decisions kept in memory while the store refuses writes (days of a school's traffic)


def decision_uid(gate: str, boot: int, d: Decision) -> str:
    return f"{gate}:{boot:08x}:{d.sequence}:{d.track}:{d.decision}"


def result_payload(d: Decision, wall_time: float, screening_id: int | None, uid: str, door: str = "",
                   person: dict | None = None) -> bytes:
    """The ``result`` topic's JSON (docs/protocol.md). ``door``: "" as the decision implies, "held" (a PASS
    not let through by itself after a restart) or "locked" (held locked from the console). ``person``: who
    the gate's credential named ({id, name[, visitor]}), or None."""
    return d.to_json(time=datetime.fromtimestamp(wall_time, timezone.utc).isoformat(timespec="milliseconds"),
                     screening_id=screening_id, uid=uid, door=door, person=person).encode()


class DecisionHandler:
    def __init__(self, store, doors, publish, *, open_ms: int, metrics=None, live=None, alerts=None,
                 resolve_alert=None, people=None, classes=None, cases=None):
        """``people``: the PeopleStore that names a screening's person (link_screening); ``classes``: {class
        name: ClassTeacher} for the alarm ([classes], controller/identity/classes.py)."""
        self.store = store
        self.people = people
        self.classes = classes or {}
        self.resolve_alert = resolve_alert
        # Decisions the store refused (full or read-only disk), oldest first, written as soon as it
        # takes them again: a decision is never lost while the process lives.
        self.unsaved: collections.deque[Screening] = collections.deque(maxlen=UNSAVED_MAX)
        self.doors = doors
        self.publish = publish
        self.open_ms = open_ms
        self.metrics = metrics
        self.live = live
        self.alerts = alerts
        self.cases = cases  # AlarmCases (alarm_cases.py): a FEVER alarm's case and notifications, or None

    def handle(self, worker, d: Decision, arrived: float, hold_door: bool = False, tied=None,
               drill: bool = False) -> None:
        """Act on one decision of ``worker``'s gate; ``arrived`` is time.monotonic() of its frame's arrival.
        ``hold_door``: record and publish a PASS but send the gate nothing (see resume.py). ``tied``: the
        credential read tied to this screening (credentials.py's GateCredential), or None. ``drill``: a decision
        of a drill (演练, drills.py): its screening, alarm and case are recorded with drill = true."""
        gate = worker.id
        boot = worker.boot_id or 0
        now = time.time()
        uid = decision_uid(gate, boot, d)
        image = getattr(worker.pipeline, "image", None) if worker.pipeline is not None else None
        snapshot = encode_snapshot(image) if image is not None else None
        record = Screening(uid=uid, gate=gate, time=now, decision=d.decision, reason=d.reason, track=d.track,
                           estimate_c=d.estimate_c, face_c=d.face_c, distance_m=d.distance_m,
                           reduced_accuracy=d.reduced_accuracy, boot=boot, sequence=d.sequence, snapshot=snapshot,
                           drill=drill)
        screening_id = None
        if self.unsaved:
            self.flush_unsaved()
        if not self.unsaved:  # in order: nothing jumps the queue of decisions waiting for the store
            try:
                screening_id = self.store.record_screening(record)
            except Exception as exc:  # a full or read-only disk: keep screening, shut doors, tell a person
                self._store_failed("record_screening", exc, gate)
        if screening_id is None:
            self.unsaved.append(record)
        person = tied.person() if tied is not None else None
        if tied is not None and person is not None and screening_id is not None and self.people is not None:
            try:
                if person.get("visitor"):
                    self.people.link_screening(screening_id, visitor_id=tied.resolution.visitor.id)
                else:
                    self.people.link_screening(screening_id, person_id=person["id"])
            except Exception as exc:
                self._store_failed("link_screening", exc, gate)
        worker.last_decision = d
        worker.last_identity = {"person": person, "credential": "none" if tied is None else tied.outcome}
        alarm_id = case_id = None
        try:
            if d.decision == D.PASS:
                if hold_door:
                    log.warning("PASS held after a restart: the door stays shut", extra={"gate": gate, "uid": uid})
                elif screening_id is None:
                    log.error("PASS not recorded: the door stays shut", extra={"gate": gate, "uid": uid})
                elif worker.manual_lock is not None:
                    log.info("PASS while the door is held locked from the console", extra={"gate": gate})
                    self.doors.send(gate, boot, "indicate", INDICATE["pass"], d.sequence,
                                    screening_id=screening_id)
                else:
                    self.doors.send(gate, boot, "open", self.open_ms, d.sequence, screening_id=screening_id)
                    self.doors.send(gate, boot, "indicate", INDICATE["pass"], d.sequence,
                                    screening_id=screening_id)
            elif d.decision == D.FEVER:
                self.doors.send(gate, boot, "indicate", INDICATE["alarm"], d.sequence, screening_id=screening_id)
                if screening_id is not None:
                    alarm_id = self.store.open_alarm(screening_id, gate, now)
                    if self.cases is not None:
                        case_id = self.cases.open_case(alarm_id, drill=drill)
            elif d.decision == D.RETRY:
                self.doors.send(gate, boot, "indicate", INDICATE["retry"], d.sequence, screening_id=screening_id)
        except Exception as exc:
            self._store_failed("door_command", exc, gate)
        if self.metrics is not None:
            self.metrics.decisions.labels(gate=gate, decision=d.decision).inc()
            self.metrics.latency.observe(time.monotonic() - arrived)
        door = "held" if hold_door else ("locked" if worker.manual_lock is not None else "")
        self.publish(topic(gate, "result"), result_payload(d, now, screening_id, uid, door, person), 1)
        log.info("decision", extra={"gate": gate, "decision": d.decision, "reason": d.reason,
                                    "estimate_c": d.estimate_c, "track": d.track, "screening_id": screening_id})
        if self.live is not None:
            event = DecisionEvent(gate, d.decision, d.reason, d.estimate_c, d.track, now, screening_id,
                                  d.reduced_accuracy, person)
            self.live.publish(event)
            if d.decision == D.FEVER:
                self.live.publish(AlarmEvent(**{**dataclasses.asdict(event), "person": self._alarm_person(tied)},
                                             alarm_id=alarm_id, case_id=case_id, drill=drill))
            elif d.decision == D.RETRY and d.reason in (D.REGISTER_AT_GATEHOUSE, D.SEE_SCHOOL_DOCTOR):
                self.live.publish(IdentityEvent(gate, now, d.reason, "none" if tied is None else tied.outcome,
                                                None if person is None else person["name"], screening_id))
        if alarm_id is not None and self.cases is not None:  # on the console first, then to phones
            self.cases.notify_fever(alarm_id, now, gate, d.estimate_c, drill=drill)

    def _alarm_person(self, tied) -> dict | None:
        """Who has the fever, for the alarm: {id, name[, visitor]}, and for a person on the roster their
        ``class`` and ``teacher`` ({name, phone}, or None when [classes] does not name the class)."""
        person = tied.person() if tied is not None else None
        if tied is None or person is None:
            return None
        ref = tied.resolution.person
        if ref is not None:
            teacher = self.classes.get(ref.class_name)
            person = {**person, "class": ref.class_name, "teacher": None if teacher is None else teacher.to_dict()}
        return person

    def flush_unsaved(self) -> int:
        """Write the decisions the store refused earlier, oldest first; returns how many went in."""
        written = 0
        while self.unsaved:
            record = self.unsaved[0]
            try:
                screening_id = self.store.record_screening(record)
                if record.decision == D.FEVER:
                    alarm_id = self.store.open_alarm(screening_id, record.gate, record.time)
                    if self.cases is not None:
                        self.cases.open_case(alarm_id, drill=record.drill)
            except Exception:
                return written
            self.unsaved.popleft()
            written += 1
        if written:
            log.warning("decisions written after the store recovered", extra={"count": written})
            if self.resolve_alert is not None:
                self.resolve_alert(None, AlertKind.STORE_FAILED)
        return written

    def _store_failed(self, operation: str, exc: Exception, gate: str) -> None:
        log.error("store write failed", extra={"operation": operation, "gate": gate, "error": repr(exc)[:300]})
        if self.metrics is not None:
            self.metrics.store_errors.labels(operation=operation).inc()
        if self.alerts is not None:
            self.alerts(None, AlertKind.STORE_FAILED, f"{operation} failed: {exc}"[:300])
