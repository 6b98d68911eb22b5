"""Which step a case may take in which state, and where it goes.

A case's state follows from its steps: ``replay(steps)`` walks them from
``open``; ``advance(progress, step, role)`` checks one more step and returns
the progress after it, or raises ``Refused`` naming the state and the rule.
The table in docs/cases.md is this module in prose.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .steps import (
    AWAY_OUTCOMES,
    BACK_IN,
    CaseError,
    ClearedToReturn,
    Decision,
    Recheck,
    StepData,
    StepKind,
)

OPEN = "open"  # the alarm sounded; nobody has acknowledged it yet
ACKNOWLEDGED = "acknowledged"
OBSERVATION = "observation"  # escorted to the observation room, or re-checked
CLEARED = "cleared"  # 复课 recorded
CLOSED = "closed"
# After the decision the state is the outcome: back_in, sent_home, fever_clinic or ambulance.
STATES = (OPEN, ACKNOWLEDGED, OBSERVATION, BACK_IN, *AWAY_OUTCOMES, CLEARED, CLOSED)

DOCTOR = "doctor"  # the console role that may record 复课

_BEFORE_DECISION = (ACKNOWLEDGED, OBSERVATION)
_AFTER_ACK = (ACKNOWLEDGED, OBSERVATION, BACK_IN, *AWAY_OUTCOMES, CLEARED)

# kind -> the states it may be recorded in (the state after it is worked out by advance()).
ALLOWED: dict[StepKind, tuple[str, ...]] = {
    StepKind.ACKNOWLEDGED: (OPEN,),
    StepKind.ESCORTED: _BEFORE_DECISION,
    StepKind.RECHECK: _BEFORE_DECISION,
    StepKind.SYMPTOMS: _BEFORE_DECISION,
    StepKind.DECISION: _BEFORE_DECISION,
    StepKind.NOTIFIED: _AFTER_ACK,
    StepKind.HANDED_OVER: AWAY_OUTCOMES,
    StepKind.DISINFECTED: _AFTER_ACK,
    StepKind.REPORTED_UPWARD: _AFTER_ACK,
    StepKind.FOLLOW_UP: (*AWAY_OUTCOMES, CLEARED),
    StepKind.CLEARED_TO_RETURN: AWAY_OUTCOMES,
    StepKind.CLOSED: (BACK_IN, CLEARED),
    StepKind.LET_IN: (BACK_IN,),
}

# Why a step is refused in a state where it is not allowed, in the doctor's words.
_WHY: dict[StepKind, str] = {
    StepKind.ACKNOWLEDGED: "the alarm was acknowledged already",
    StepKind.ESCORTED: "escort, re-check and symptoms come after the acknowledgement and before the decision",
    StepKind.RECHECK: "escort, re-check and symptoms come after the acknowledgement and before the decision",
    StepKind.SYMPTOMS: "escort, re-check and symptoms come after the acknowledgement and before the decision",
    StepKind.DECISION: "a decision needs the alarm acknowledged, and a case has one decision",
    StepKind.NOTIFIED: "notifications are recorded after the acknowledgement and before the case is closed",
    StepKind.HANDED_OVER: "a person is handed over only after a decision to send them away "
                          "(sent_home, fever_clinic, ambulance), before 复课",
    StepKind.DISINFECTED: "disinfection is recorded after the acknowledgement and before the case is closed",
    StepKind.REPORTED_UPWARD: "a report upward is recorded after the acknowledgement and before the case is closed",
    StepKind.FOLLOW_UP: "daily follow-ups are for a person sent away (sent_home, fever_clinic, ambulance) "
                        "or cleared to return",
    StepKind.CLEARED_TO_RETURN: "复课 is only for a person sent away (sent_home, fever_clinic, ambulance), once",
    StepKind.CLOSED: "a case closes only after a decision, and after 复课 when the person was sent away",
    StepKind.LET_IN: "the door is opened from the case only for a person decided back in, before the case closes",
}


class Refused(CaseError):
    """A step the case's state does not allow; ``state``, ``kind`` and ``reason`` say which and why."""

    def __init__(self, state: str, kind: StepKind, reason: str):
        super().__init__(f"{kind.value} refused in state {state}: {reason}")
        self.state, self.kind, self.reason = state, kind, reason


@dataclass(frozen=True)
class Progress:
    """Where a case stands: its state and what the rules need to remember of its steps."""

    state: str = OPEN
    rechecks: int = 0
    escorted: bool = False
    decision: str | None = None


def _refusal(state: str, kind: StepKind) -> tuple[str, str] | None:
    """Why ``kind`` is not allowed in ``state``: (a short code, the rule in words), or None."""
    if state in ALLOWED[kind]:
        return None
    if state == OPEN:
        return "ack_first", "acknowledge the alarm first"
    if state == CLOSED:
        return "closed", "the case is closed"
    if kind is StepKind.CLOSED and state in AWAY_OUTCOMES:
        return "return_first", f"the person was {state.replace('_', ' ')}: record 复课 (cleared_to_return) first"
    if kind is StepKind.CLOSED:
        return "decision_first", "record a decision first"
    return f"rule_{kind.value}", _WHY[kind]


def _state_refusal(state: str, kind: StepKind) -> str | None:
    found = _refusal(state, kind)
    return None if found is None else found[1]


def refusal_code(p: Progress, kind: StepKind, role: str | None = None) -> tuple[str, str] | None:
    """Why a step of ``kind`` cannot be recorded now: (a short code for the console's catalogue, ``why_<code>``;
    the rule in words), or None when it can (its data is checked when it is recorded). ``role``: the user's
    console role."""
    found = _refusal(p.state, kind)
    if found is not None:
        return found
    if kind is StepKind.ESCORTED and p.escorted:
        return "escorted_once", "the person was escorted to observation already"
    if kind is StepKind.CLEARED_TO_RETURN and role != DOCTOR:
        return "doctor_only", f"复课 is cleared by a user with the doctor role, not {role or 'nobody'}"
    return None


def refusal(p: Progress, kind: StepKind, role: str | None = None) -> str | None:
    """Why a step of ``kind`` cannot be recorded now, in the rule's words (what the console shows on a greyed
    step), or None when it can. ``role``: the user's console role."""
    found = refusal_code(p, kind, role)
    return None if found is None else found[1]


def advance(p: Progress, step: StepData, role: str | None = None) -> Progress:
    """The progress after ``step``, or ``Refused``. ``role`` is the recording user's console role (None:
    unknown), checked for 复课 only."""
    kind = step.kind
    why = _state_refusal(p.state, kind)
    if why is not None:
        raise Refused(p.state, kind, why)
    if kind is StepKind.ACKNOWLEDGED:
        return replace(p, state=ACKNOWLEDGED)
    if kind is StepKind.ESCORTED:
        if p.escorted:
            raise Refused(p.state, kind, "the person was escorted to observation already")
        return replace(p, state=OBSERVATION, escorted=True)
    if kind is StepKind.RECHECK:
        assert isinstance(step, Recheck)
        if step.n != p.rechecks + 1:
            raise Refused(p.state, kind, f"this is re-check {p.rechecks + 1}, not {step.n}")
        return replace(p, state=OBSERVATION, rechecks=p.rechecks + 1)
    if kind is StepKind.SYMPTOMS:
        return replace(p, state=OBSERVATION)
    if kind is StepKind.DECISION:
        assert isinstance(step, Decision)
        if step.outcome == BACK_IN and p.rechecks == 0:
            raise Refused(p.state, kind, "back in needs a re-check reading first")
        return replace(p, state=step.outcome, decision=step.outcome)
    if kind is StepKind.CLEARED_TO_RETURN:
        assert isinstance(step, ClearedToReturn)
        if role != DOCTOR:
            raise Refused(p.state, kind, f"复课 is cleared by a user with the doctor role, not {role or 'nobody'}")
        return replace(p, state=CLEARED)
    if kind is StepKind.CLOSED:
        return replace(p, state=CLOSED)
    return p  # notified, handed over, disinfected, reported upward, follow-up: the state stays


def replay(steps: Iterable[StepData], roles: Iterable[str | None] | None = None) -> Progress:
    """The progress after ``steps`` in order (``Refused`` at the first that does not fit). Without
    ``roles`` the doctor's role is taken as given (steps read back from the store were checked when
    recorded)."""
    p = Progress()
    role_list = list(roles) if roles is not None else None
    for i, step in enumerate(steps):
        p = advance(p, step, role_list[i] if role_list is not None else DOCTOR)
    return p
