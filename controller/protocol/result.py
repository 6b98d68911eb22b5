"""What a screening comes to, and why: the data type on the ``result`` topic, and its reason codes.

The screening pipeline makes a :class:`Decision`; the controller publishes it on the gate's ``result``
topic (docs/protocol.md) with what it knows besides (wall time, the screening's id and uid, the door):
``Decision.to_json(**published)`` writes the whole object in one pass.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

PASS = "PASS"
FEVER = "FEVER"
RETRY = "RETRY"
BLOCKED = "BLOCKED"
DECISIONS = (PASS, FEVER, RETRY, BLOCKED)

# RETRY reasons: what the gate can show the person.
COME_CLOSER = "come_closer"
STEP_BACK = "step_back"
STEP_TO_MARK = "step_to_mark"  # at the right distance, but too far to the side of the mark
STAND_STRAIGHT = "stand_straight"  # face not fully in view
ONE_AT_A_TIME = "one_at_a_time"
REMOVE_GLASSES_HAT = "remove_glasses_hat"  # glasses seen, or the eyes covered (glasses, a fringe, hair)
WAIT_INDOORS = "wait_indoors"  # too cold to read
HOLD_STILL = "hold_still"
FACE_NOT_FOUND = "face_not_found"  # someone standing in view whose face is not found (covered, turned away, too cold)
# RETRY reasons of the controller's door rule (controller/service/door_rule.py): the reading was normal, but
REGISTER_AT_GATEHOUSE = "register_at_gatehouse"  # no credential, or one refused, under [site] require_identity
SEE_SCHOOL_DOCTOR = "see_school_doctor"  # the person is held until the school doctor clears them (复课)
RETRY_REASONS = (COME_CLOSER, STEP_BACK, STEP_TO_MARK, STAND_STRAIGHT, ONE_AT_A_TIME, REMOVE_GLASSES_HAT, WAIT_INDOORS,
                 HOLD_STILL, FACE_NOT_FOUND, REGISTER_AT_GATEHOUSE, SEE_SCHOOL_DOCTOR)

# BLOCKED reasons: the gate cannot screen anyone right now.
WARMING_UP = "warming_up"
# The reference source's, when it is required (``detail`` says more: its reading, size, contrast):
REFERENCE_NOT_FOUND = "reference_not_found"  # nothing in its box reads above the background around it
REFERENCE_MISSING = REFERENCE_NOT_FOUND  # the former name
REFERENCE_TOO_SMALL = "reference_too_small"  # too few pixels: it reaches too little of its set-point contrast
REFERENCE_NOT_LEARNED = "reference_not_learned"  # its apparent reading was never learned (calibrate reference)
REFERENCE_UNSTABLE = "reference_unstable"  # its reading varies beyond the pixels' noise
REFERENCE_DRIFT = "reference_drift"  # it reads too far from its learned reading
SENSOR_FAULT = "sensor_fault"
REFERENCE_REASONS = (REFERENCE_NOT_FOUND, REFERENCE_TOO_SMALL, REFERENCE_NOT_LEARNED, REFERENCE_UNSTABLE,
                     REFERENCE_DRIFT)
BLOCKED_REASONS = (WARMING_UP, *REFERENCE_REASONS, SENSOR_FAULT)


@dataclass(frozen=True)
class Decision:
    gate: str
    time_s: float  # when it was decided, on the gate's clock (recording time offline)
    decision: str  # PASS | FEVER | RETRY | BLOCKED
    reason: str  # "" for PASS/FEVER, else one of the reasons above
    track: int  # the tracked person it concerns (0 for BLOCKED with nobody in particular)
    estimate_c: float | None  # estimated body temperature (PASS/FEVER), else None
    face_c: float | None = None  # the corrected face reading it came from
    distance_m: float | None = None
    frames: int = 0  # how many stable frames the median took
    reduced_accuracy: bool = False  # decided without a working reference source
    sequence: int = 0  # the frame sequence number it was decided on (for the door command)
    drift_alert: bool = False  # recent passes average far from normal: check the gate (never changes an estimate)
    detail: str = ""  # for a reference BLOCKED: what the reference reads, its size and contrast, what to do

    def to_dict(self) -> dict:
        """The JSON object of this decision (version 1), its readings rounded to the millidegree / millimetre."""
        d = asdict(self)
        d["v"] = 1
        for key in ("estimate_c", "face_c", "distance_m"):
            if d[key] is not None:
                d[key] = round(d[key], 3)
        d["time_s"] = round(d["time_s"], 3)
        return d

    def to_json(self, **published) -> str:
        """Compact JSON text, keys sorted; ``published``: the fields the controller adds on the ``result`` topic
        (time, screening_id, uid, door), which may not replace the decision's own."""
        d = self.to_dict()
        clash = d.keys() & published.keys()
        if clash:
            raise ValueError(f"published fields {sorted(clash)} would replace the decision's own")
        d.update(published)
        return json.dumps(d, separators=(",", ":"), sort_keys=True)
