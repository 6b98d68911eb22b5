"""An alarm from before cases existed, read as a case timeline.

Until migration 4 the doctor's work ended at one disposition of the alarm:
a re-check reading (or none), an outcome, a note, who and when
(``Store.dispose_alarm``). ``legacy_steps`` maps that record onto the case's
steps, so an old alarm reads like a case; docs/cases.md has the table.

| the alarm                         | the case's steps                                          |
|-----------------------------------|-----------------------------------------------------------|
| acknowledged_by, acknowledged_at  | acknowledged (by, at)                                     |
| recheck_c (when given)            | recheck 1: value at the disposition's time; thermometer, site: None |
| outcome admitted                  | decision back_in, the note                                |
| outcome false_alarm               | decision back_in, the note after "false alarm"            |
| outcome sent_home                 | decision sent_home, the note                              |
| outcome observation_room          | escorted (time in: the disposition's time), the note; no decision |
| disposed_by, disposed_at          | who and when of the re-check and the decision (or escort) |
"""

from __future__ import annotations

from ..store.records import ADMITTED, FALSE_ALARM, OBSERVATION_ROOM, SENT_HOME, Alarm
from .machine import ACKNOWLEDGED, OBSERVATION, OPEN
from .records import Case, CaseStep
from .steps import BACK_IN, Acknowledged, Decision, Escorted, Recheck, StepKind

_DECISIONS = {ADMITTED: BACK_IN, FALSE_ALARM: BACK_IN, SENT_HOME: "sent_home"}


def legacy_steps(alarm: Alarm) -> list[CaseStep]:
    """The steps an alarm's acknowledgement and disposition stand for, oldest first."""
    steps: list[CaseStep] = []
    if alarm.acknowledged_at is not None:
        steps.append(CaseStep(StepKind.ACKNOWLEDGED, alarm.acknowledged_at, alarm.acknowledged_by or "",
                              Acknowledged()))
    if alarm.outcome is None or alarm.disposed_at is None:
        return steps
    at, by = alarm.disposed_at, alarm.disposed_by or ""
    if alarm.recheck_c is not None:
        steps.append(CaseStep(StepKind.RECHECK, at, by,
                              Recheck(n=1, instrument=None, site=None, value_c=alarm.recheck_c, time=at)))
    if alarm.outcome == OBSERVATION_ROOM:
        steps.append(CaseStep(StepKind.ESCORTED, at, by, Escorted(time_in=at, note=alarm.note)))
    else:
        note = alarm.note
        if alarm.outcome == FALSE_ALARM:
            note = "false alarm" + (f": {note}" if note else "")
        steps.append(CaseStep(StepKind.DECISION, at, by, Decision(outcome=_DECISIONS[alarm.outcome], note=note)))
    return steps


def case_from_alarm(alarm: Alarm, person_id: str | None) -> Case:
    """An alarm with no case, read as one (``id`` None, never a drill, not stored: it holds nobody)."""
    steps = legacy_steps(alarm)
    state, decision, decided_at = OPEN, None, None
    for s in steps:
        if s.kind is StepKind.ACKNOWLEDGED:
            state = ACKNOWLEDGED
        elif s.kind in (StepKind.RECHECK, StepKind.ESCORTED):
            state = OBSERVATION
        elif isinstance(s.data, Decision):
            state = decision = s.data.outcome
            decided_at = s.at
    return Case(id=None, alarm_id=alarm.id, person_id=person_id, gate=alarm.gate, opened_at=alarm.time, state=state,
                drill=False, decision=decision, decided_at=decided_at, steps=tuple(steps))
