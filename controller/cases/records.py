"""The records of cases and drills: frozen, one type per kind of row (times in Unix seconds, UTC)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .steps import StepData, StepKind

SIMULATED_FEVER = "simulated_fever"  # a simulated fever at a live gate
HEATED_TARGET = "heated_target"  # a heated forehead target held up to a gate
SCENARIOS = (SIMULATED_FEVER, HEATED_TARGET)


@dataclass(frozen=True)
class CaseStep:
    """One step of a case's timeline: what, when it was recorded, by whom, its data.

    ``id`` and ``case_id`` are None on a step of an old alarm read as a case (not stored as a step)."""

    kind: StepKind
    at: float
    by_user: str
    data: StepData
    id: int | None = None
    case_id: int | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind.value, "at": self.at, "by": self.by_user, "data": self.data.to_json()}


@dataclass(frozen=True)
class Case:
    """A fever case. ``id`` None: an alarm disposed before cases existed, read as a case (``legacy``).

    ``steps`` is the timeline, oldest first; None where a listing leaves it out (``CaseStore.cases``)."""

    id: int | None
    alarm_id: int | None
    person_id: str | None
    gate: str
    opened_at: float
    state: str
    drill: bool
    closed_at: float | None = None
    decision: str | None = None
    decided_at: float | None = None
    cleared_at: float | None = None
    drill_id: int | None = None
    steps: tuple[CaseStep, ...] | None = field(default=None, repr=False)

    @property
    def legacy(self) -> bool:
        return self.id is None

    def to_json(self) -> dict:
        d = {"id": self.id, "alarm_id": self.alarm_id, "person_id": self.person_id, "gate": self.gate,
             "opened_at": self.opened_at, "state": self.state, "drill": self.drill, "drill_id": self.drill_id,
             "decision": self.decision, "decided_at": self.decided_at, "cleared_at": self.cleared_at,
             "closed_at": self.closed_at, "legacy": self.legacy}
        if self.steps is not None:
            d["steps"] = [s.to_json() for s in self.steps]
        return d


@dataclass(frozen=True)
class StepTiming:
    """A step of a drill's case, timed from the alarm."""

    kind: StepKind
    at: float
    after_alarm_s: float
    by_user: str


@dataclass(frozen=True)
class DrillCase:
    """One case of a drill: the alarm's time, each step's time after it, and the time to the decision."""

    case_id: int
    gate: str
    alarm_at: float
    state: str
    steps: tuple[StepTiming, ...]
    decision_after_s: float | None  # from the alarm to the disposition (decision); None before it


@dataclass(frozen=True)
class Drill:
    """A drill (演练): who started it on which gates with which scenario, the settings it changed (their
    values before it), when it ran, the debrief, and its cases timed step by step."""

    id: int
    started_by: str
    gates: tuple[str, ...]
    scenario: str
    started_at: float
    ended_at: float | None
    debrief: str
    settings_changed: dict
    cases: tuple[DrillCase, ...] = ()

    @property
    def running(self) -> bool:
        return self.ended_at is None

    def to_json(self) -> dict:
        return {"id": self.id, "started_by": self.started_by, "gates": list(self.gates), "scenario": self.scenario,
                "started_at": self.started_at, "ended_at": self.ended_at, "debrief": self.debrief,
                "settings_changed": self.settings_changed,
                "cases": [{"case_id": c.case_id, "gate": c.gate, "alarm_at": c.alarm_at, "state": c.state,
                           "decision_after_s": c.decision_after_s,
                           "steps": [{"kind": t.kind.value, "at": t.at, "after_alarm_s": t.after_alarm_s,
                                      "by": t.by_user} for t in c.steps]} for c in self.cases]}
