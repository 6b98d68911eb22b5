"""The per-gate tracker and decision state machine.

States: ``warming_up`` (after the first frame), ``idle`` (nobody in view),
``approaching`` (a face, not yet measurable), ``measuring`` (collecting stable
frames), ``decided`` (waiting for the person to leave), ``leaving`` (face gone,
not yet long enough to call it).

A PASS or FEVER needs ``stable_frames`` consecutive frames that are face-on,
alone, at a valid distance, warm enough and still, whose readings agree
within ``max_spread_c``; it is the median of their estimates. Someone who
cannot be measured within ``retry_after_s`` gets a RETRY with the reason of
the last frame that failed. Nobody is ever passed silently: the only way to
PASS is a complete measurement.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from . import decision as D
from .analysis import FrameAnalysis
from .config import ScreeningConfig
from .estimate import estimate_core_c

WARMING_UP = "warming_up"
IDLE = "idle"
APPROACHING = "approaching"
MEASURING = "measuring"
DECIDED = "decided"
LEAVING = "leaving"


@dataclass
class _Sample:
    face_c: float
    core_c: float
    distance_m: float
    centre: tuple[float, float]


class Tracker:
    def __init__(self, gate: str, config: ScreeningConfig):
        self.gate = gate
        self.config = config
        self.track = 0
        self._start: float | None = None
        self._warming = True
        self._person = False  # someone is being tracked
        self._face = False  # their face is in the current frame
        self._decided = False  # they have had their decision
        self._first_seen = 0.0
        self._last_seen = 0.0
        self._window: list[_Sample] = []
        self._fault = False
        self._reference_seen = False  # the reference has been found stable at least once
        self._last_face: tuple[float, float, float] | None = None  # centre row, centre column, width

    @property
    def state(self) -> str:
        if self._warming:
            return WARMING_UP
        if not self._person:
            return IDLE
        if not self._face:
            return LEAVING
        if self._decided:
            return DECIDED
        return MEASURING if self._window else APPROACHING

    def update(self, t: float, sequence: int, a: FrameAnalysis | None) -> list[D.Decision]:
        """Advance on one analysed frame (``a`` None: the sensor gave no usable frame)."""
        if self._start is None:
            self._start = t
        if a is None:
            return self._sensor_fault(t, sequence)
        self._fault = False
        self._reference_seen = self._reference_seen or a.reference_ok
        self._face = a.face_box is not None
        if self._face:
            changed = self._someone_else(a)
            if not self._person or self._decided and changed:
                self._new_person(t)
            self._last_seen = t
        elif self._person and t - self._last_seen > self.config.leave_gap_s:
            self._person = False
            self._window.clear()
        self._warming = t - self._start < self.config.warmup_s
        if not (self._person and self._face) or self._decided:
            return []
        if self._warming:
            return self._decide_blocked(t, sequence, D.WARMING_UP)
        reduced = not a.reference_ok
        if reduced and self.config.require_reference:
            if not self._reference_seen and t - self._start < self.config.reference_settle_s:
                return self._decide_blocked(t, sequence, D.WARMING_UP)
            missing = math.isnan(a.reference_c) or a.reference_c < a.ambient_c + 3.0
            return self._decide_blocked(t, sequence, D.REFERENCE_MISSING if missing else D.REFERENCE_UNSTABLE)
        return self._measure(t, sequence, a, reduced)

    # -- internals --------------------------------------------------------------

    def _someone_else(self, a: FrameAnalysis) -> bool:
        """The main face jumped sideways or shrank at once: after a decision, that is the person
        at the mark gone and the one behind (already in view) now nearest. Records this frame's
        face for the next call."""
        r0, c0, r1, c1 = a.face_box or (0, 0, 0, 0)
        face = ((r0 + r1) / 2, (c0 + c1) / 2, max(a.face_width_px, 1e-6))
        last, self._last_face = self._last_face, face
        if last is None:
            return False
        jump = math.hypot(face[0] - last[0], face[1] - last[1])
        return jump > 6.0 or face[2] / last[2] < 0.7

    def _new_person(self, t: float) -> None:
        self.track += 1
        self._person = True
        self._decided = False
        self._first_seen = t
        self._window.clear()

    def _decide_blocked(self, t: float, sequence: int, reason: str) -> list[D.Decision]:
        self._decided = True
        return [D.Decision(self.gate, t, D.BLOCKED, reason, self.track, None, sequence=sequence)]

    def _sensor_fault(self, t: float, sequence: int) -> list[D.Decision]:
        """Once per fault episode; a person being measured starts over when frames return."""
        self._window.clear()
        if self._fault:
            return []
        self._fault = True
        return [D.Decision(self.gate, t, D.BLOCKED, D.SENSOR_FAULT, self.track, None, sequence=sequence)]

    def _problem(self, a: FrameAnalysis, face_c: float) -> str | None:
        c = self.config
        if a.people > 1:
            return D.ONE_AT_A_TIME
        if a.touches_edge or a.distance_m is None or not math.isfinite(face_c):
            return D.STAND_STRAIGHT
        if a.distance_m > c.distance_m[1]:
            return D.COME_CLOSER
        if a.distance_m < c.distance_m[0]:
            return D.STEP_BACK
        if a.glasses:
            return D.REMOVE_GLASSES_HAT
        if face_c < c.min_face_c:
            return D.WAIT_INDOORS
        return None

    def _retry_due(self, t: float) -> bool:
        return t - self._first_seen >= self.config.retry_after_s

    def _measure(self, t: float, sequence: int, a: FrameAnalysis, reduced: bool) -> list[D.Decision]:
        c = self.config
        face_c = a.face_topk_c + (a.offset_c if a.reference_ok else 0.0)
        problem = self._problem(a, face_c)
        box = a.face_box or (0, 0, 0, 0)
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        if problem is None and self._window:
            prev = self._window[-1].centre
            if math.hypot(centre[0] - prev[0], centre[1] - prev[1]) > c.max_shift_px:
                problem = D.HOLD_STILL
        if problem is not None:
            self._window.clear()
            if not self._retry_due(t):
                return []
            self._decided = True
            return [D.Decision(self.gate, t, D.RETRY, problem, self.track, None, distance_m=a.distance_m,
                               reduced_accuracy=reduced, sequence=sequence)]
        core = estimate_core_c(face_c, a.ambient_c, c.site_offset_c)
        self._window.append(_Sample(face_c, core, a.distance_m or math.nan, centre))
        window = self._window[-c.stable_frames:]
        if len(window) < c.stable_frames:
            return []
        if max(s.face_c for s in window) - min(s.face_c for s in window) > c.max_spread_c:
            self._window = self._window[1:]
            if not self._retry_due(t):
                return []
            self._decided = True
            return [D.Decision(self.gate, t, D.RETRY, D.HOLD_STILL, self.track, None, distance_m=a.distance_m,
                               reduced_accuracy=reduced, sequence=sequence)]
        self._decided = True
        estimate = statistics.median(s.core_c for s in window)
        verdict = D.FEVER if estimate >= c.threshold_c else D.PASS
        return [D.Decision(self.gate, t, verdict, "", self.track, estimate,
                           face_c=statistics.median(s.face_c for s in window),
                           distance_m=statistics.median(s.distance_m for s in window), frames=len(window),
                           reduced_accuracy=reduced, sequence=sequence)]
