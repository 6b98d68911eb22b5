"""The fever case, from the gate's alarm to 复课, and drills (docs/cases.md).

``CaseStore`` (case_store.py) keeps each fever alarm's case and its timeline of
steps (steps.py: one frozen, validated type per step), checks each step
against the case's state (machine.py), answers the gate's hold rule
(``hold_for``) and records drills. legacy.py reads an alarm disposed before
cases existed as a case.
"""

from .case_store import SEE_SCHOOL_DOCTOR, CaseStore, open_case_store
from .machine import STATES, Refused
from .records import SCENARIOS, Case, CaseStep, Drill, DrillCase, StepTiming
from .steps import (
    STEP_TYPES,
    Acknowledged,
    CaseError,
    ClearedToReturn,
    Closed,
    Decision,
    Disinfected,
    Escorted,
    FollowUp,
    HandedOver,
    LetIn,
    Notified,
    Recheck,
    ReportedUpward,
    StepData,
    StepKind,
    Symptoms,
)

__all__ = [
    "CaseStore", "open_case_store", "SEE_SCHOOL_DOCTOR", "STATES", "Refused", "SCENARIOS", "Case", "CaseStep",
    "Drill", "DrillCase", "StepTiming", "STEP_TYPES", "CaseError", "StepKind", "StepData", "Acknowledged", "Escorted",
    "Recheck", "Symptoms", "Decision", "Notified", "HandedOver", "Disinfected", "ReportedUpward", "FollowUp",
    "ClearedToReturn", "Closed", "LetIn",
]
