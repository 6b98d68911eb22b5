"""The console's JSON API for fever cases (docs/cases.md), behind the doctor's phone page; its drills are
drills_api.py's.

| route | permission | what |
|---|---|---|
| GET /api/cases?all=1 | view | the open cases (all=1: closed ones too), drills marked |
| GET /api/cases/{id} | view | a case: its timeline, each step allowed or why not, the notifications sent |
| POST /api/cases/{id}/steps | ack (acknowledged), dispose (every other step) | one step ``{kind, data}`` |
| POST /api/cases/{id}/let_in | let_in | "let in at gate X": the door command, linked to the case |

A step is checked by the case's state machine (controller/cases/machine.py):
a refused step is a 409 with the rule's words. 复课 (cleared_to_return) is
recorded by a user with the doctor role only. Reading a case that names a
person, by a role that sees names, is written to the identity audit (once per
user and case in ``READ_AUDIT_S``: the page refreshes every 2 s).
"""

from __future__ import annotations

import dataclasses
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..cases.machine import Progress, Refused, refusal_code
from ..cases.steps import STEP_TYPES, StepKind, step_from_json, step_kind
from ..service.events import AlarmUpdateEvent
from .api_part import ApiPart, alarm_json, path_id
from .auth import Session
from .backend import DoorHeld
from .web import Bad, json_body, local_time, ok, text_field

TIME_FIELDS = ("time", "time_in", "when")
READ_AUDIT_S = 600.0  # a user's reads of one case's named person are audited once per 10 minutes (the page polls)
ORDER = (StepKind.ACKNOWLEDGED, StepKind.ESCORTED, StepKind.RECHECK, StepKind.SYMPTOMS, StepKind.DECISION,
         StepKind.LET_IN, StepKind.NOTIFIED, StepKind.HANDED_OVER, StepKind.DISINFECTED, StepKind.REPORTED_UPWARD,
         StepKind.FOLLOW_UP, StepKind.CLEARED_TO_RETURN, StepKind.CLOSED)


class CasesApi(ApiPart):
    def __init__(self, console):
        super().__init__(console)
        self._audited: dict[tuple[str, int], float] = {}  # (user, case) -> when its read was last audited

    def _summary(self, c) -> dict:
        return {**c.to_json(), "opened_local": local_time(c.opened_at, self.tz), "gate_name": self.gate_name(c.gate)}

    async def list(self, request: Request, session: Session):
        everything = request.query_params.get("all") in ("1", "true")

        def run():
            found = self.cases.cases(open_only=not everything, drill=None)
            return [self._summary(c) for c in found[::-1][:500]]

        return ok({"cases": await run_in_threadpool(run), "now": time.time()})

    def case_json(self, case_id: int, session: Session) -> dict:
        c = self.cases.case(case_id)
        if c is None:
            raise Bad("err_not_found", f"no case {case_id}", 404)
        kinds = [s.kind for s in c.steps or ()]
        progress = Progress(state=c.state, rechecks=kinds.count(StepKind.RECHECK),
                            escorted=StepKind.ESCORTED in kinds, decision=c.decision)
        allowed, why_keys = {}, {}
        for kind in ORDER:
            why = refusal_code(progress, kind, session.role)
            if why is None and not session.allows("ack" if kind is StepKind.ACKNOWLEDGED else "dispose"):
                why = "role", f"role {session.role} may not record this step"
            if why is None and kind is StepKind.LET_IN and not session.allows("let_in"):
                why = "role", f"role {session.role} may not open doors"
            allowed[kind.value] = None if why is None else why[1]
            why_keys[kind.value] = None if why is None else f"why_{why[0]}"  # the page's words for it
        alarm = self.store.alarm(c.alarm_id) if c.alarm_id is not None else None
        screening = self.store.screening(alarm.screening_id) if alarm is not None else None
        person = None
        if c.person_id is not None:
            person = {"id": c.person_id}
            if session.allows("person_file"):  # a person's health data: the read is audited
                p = self.people.person(c.person_id)
                if p is not None:
                    person.update(name=p.name, class_name=p.class_name)
                now = time.time()
                if now - self._audited.get((session.user, case_id), 0.0) > READ_AUDIT_S:  # the page polls
                    self.people.record_read(session.user, "case_show", c.person_id, f"fever case {c.id} (console)",
                                            now, {"case": c.id, "alarm": c.alarm_id})
                    self._audited[(session.user, case_id)] = now
        steps = [{**s.to_json(), "at_local": local_time(s.at, self.tz)} for s in c.steps or ()]
        notes = [{"channel": o.channel, "recipient": o.recipient, "sent_at": o.sent_at,
                  "sent_local": local_time(o.sent_at, self.tz), "ok": o.ok, "error": o.error, "attempt": o.attempt,
                  "final": o.final, "escalation": o.escalation, "drill": o.drill}
                 for o in self.service.alarm_cases.outcomes(c.alarm_id, c.id)]
        return {**self._summary(c), "steps": steps, "allowed": allowed, "why": why_keys, "person": person,
                "alarm": None if alarm is None else alarm_json(alarm, self.tz, screening),
                "notifications": notes, "rechecks": progress.rechecks,
                "gates": self.gate_choices()}

    async def one(self, request: Request, session: Session):
        case_id = path_id(request, "case_id")
        return ok(await run_in_threadpool(self.case_json, case_id, session))

    async def add_step(self, request: Request, session: Session):
        case_id = path_id(request, "case_id")
        body = await json_body(request)
        kind = step_kind(body.get("kind"))
        if kind is StepKind.LET_IN:
            raise Bad("err_invalid", "the door is opened through /let_in")
        if kind is not StepKind.ACKNOWLEDGED and not session.allows("dispose"):
            raise Bad("err_forbidden", f"role {session.role} may not record {kind.value}", 403)
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise Bad("err_invalid", "data must be an object")

        def run():
            now = time.time()
            fields = dict(data)
            for name in TIME_FIELDS:  # a time left out is now
                if name in fields and fields[name] in (None, ""):
                    del fields[name]
            cls_fields = {f.name for f in dataclasses.fields(STEP_TYPES[kind])}
            for name in TIME_FIELDS:
                if name in cls_fields and name not in fields:
                    fields[name] = now
            if kind is StepKind.RECHECK and "n" not in fields:
                fields["n"] = sum(1 for s in self.cases.timeline(case_id) if s.kind is StepKind.RECHECK) + 1
            if kind is StepKind.SYMPTOMS and isinstance(fields.get("checklist"), list):
                fields["checklist"] = tuple(fields["checklist"])
            step = step_from_json(kind, fields)
            with self.store.atomic():  # the step and its audit row: both or neither
                try:
                    self.cases.add_step(case_id, step, session.user, now)
                except Refused as exc:
                    raise Bad("err_case_refused", exc.reason, 409) from None
                self.store.record_audit(session.user, now, "case_step", {"case": case_id, "kind": kind.value})
            if kind is StepKind.DECISION:  # sent away: the class teacher hears of it
                self.service.alarm_cases.notify_decision(case_id)
            return self.case_json(case_id, session)

        out = await run_in_threadpool(run)
        if out.get("alarm"):
            self.console.publish(AlarmUpdateEvent({k: v for k, v in out["alarm"].items()
                                                   if k not in ("estimate_c", "reduced_accuracy", "distance_m")}))
        return ok(out)

    async def let_in(self, request: Request, session: Session):
        case_id = path_id(request, "case_id")
        body = await json_body(request)
        gate = text_field(body, "gate", required=True, limit=64)
        note = text_field(body, "note", limit=500)
        if gate not in self.service.gates:
            raise Bad("err_invalid", f"no gate {gate!r}")

        def run():
            try:
                action, step = self.service.let_in(case_id, gate, session.user, note)
            except Refused as exc:
                raise Bad("err_case_refused", exc.reason, 409) from None
            except DoorHeld as exc:
                raise Bad("err_door_held", str(exc), 409) from None
            return {"gate": gate, "counter": action.counter, "step": step.to_json(),
                    "case": self.case_json(case_id, session)}

        return ok(await run_in_threadpool(run))
