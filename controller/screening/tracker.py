"""The per-gate tracker and decision state machine.

States: ``warming_up`` (after the first frame), ``idle`` (nobody in view),
``approaching`` (a face, not yet measurable), ``measuring`` (collecting stable
frames), ``blocked`` (someone waiting to be measured, but the latest frame was
BLOCKED: the reference or the sensor failed it), ``decided`` (PASS or FEVER
given, waiting for the person to leave), ``leaving`` (face gone, not yet long
enough to call it).

A PASS or FEVER needs ``stable_frames`` consecutive frames (at 8 frames a
second; a slower gate's window keeps its 0.5 s, see EARLY_FRAMES) of a person
standing on the mark: face-on, alone, warm enough, their face at the mark's
floor distance (``mark_distance_m`` within ``mark_tolerance``, worked out from
the face's size and place in the image through the mounting's height and
tilt), no further to the side than ``lateral_tolerance_m``, and still: it
moves less than ``max_shift_px`` from frame to frame, its width does not
change by more than ``grow_per_frame`` on two frames in a row (one such
frame is a small face's noise), and its width over the frames varies by
less than ``size_tolerance``. A face growing as someone walks up, or
shrinking as they walk away, is never measured. Their readings must agree
within ``max_spread_c`` (all but the highest and the lowest), unless every
one of them reads a fever; the decision is the median of their estimates. A
median below ``min_estimate_c`` (no living person at a school gate is that
cold), judged with the face below the eye band taken as forehead-like
whatever it reads, is a face still chilled from outdoors: RETRY
``wait_indoors``, never a PASS, and no PASS later in the same visit either
(a FEVER still is): someone told to wait indoors is measured afresh when they
come back. It is the only way to a PASS: nobody is ever passed silently.

A RETRY (someone who cannot be measured within ``retry_after_s`` of
appearing or ``retry_still_s`` of standing still, or at once for where they
stand or their eyes, seen on SEEN_FRAMES frames in a row; with the reason of
the last frame that failed) or a BLOCKED does
not end a person's turn: once the problem is fixed (they come closer, the
person behind steps out of view, the reference settles) they are measured and
get their PASS or FEVER. The same notice is not repeated for the same person
within ``notice_repeat_s``. Someone walking off (their face moving, half its
width or more from where it stood still) is not told where to stand or to
hold still: only what is about them (still cold, glasses or a hat).

People are told apart by following each one's face from frame to frame: the
main (nearest) face belongs to the tracked person while it overlaps where
their face was, allowing for its motion. A face elsewhere, or one that
suddenly shrinks to another person's size after a decision, is someone new.

A second face in view makes a frame "one at a time", and so does a second
face seen in the last ``second_face_s`` while the person's face was nearly
still: faces that overlap in the image merge into one blob, so a frame that
shows one face may be two people, and the reading may come from a partly
hidden face. (A face walking in often breaks up into fragments for a frame or
two; those fragments are not remembered.)

The drift check keeps the running mean of the gate's recent PASS estimates.
When it strays from what afebrile people average, decisions carry
``drift_alert``: a request to check the gate (reference, calibration), never
a change of any estimate.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from controller.geometry import face_position, pixels_across

from ..protocol import result as D
from .analysis import FrameAnalysis, reference_problem
from .config import ScreeningConfig
from .estimate import estimate_core_c
from .frame_rate import FrameRate
from .optics import NO_MIX

WARMING_UP = "warming_up"
IDLE = "idle"
APPROACHING = "approaching"
MEASURING = "measuring"
DECIDED = "decided"
LEAVING = "leaving"
BLOCKED = "blocked"
STATES = (WARMING_UP, IDLE, APPROACHING, MEASURING, BLOCKED, DECIDED, LEAVING)
# Why the latest frame gave no PASS or FEVER to the person waiting for one (Tracker.held), besides the reasons of
# RETRY and BLOCKED (controller.protocol.result), which it gives whether or not the person was told:
HELD_FILLING = "filling"  # the frame was taken; the window is not full yet
HELD_SETTLING = "settling"  # the face's width still grows or shrinks over the window (stepping onto the mark)
HELD_DISAGREE = "readings_disagree"  # the window's readings do not agree within max_spread_c

FOLLOW_PX = 2.0  # a face may move this far (plus its recent motion) between frames and still be the same person
STILL_PX = 3.0  # a face moving less than this per frame is nearly still (walking faces break up into fragments)
SHRINK = 0.7  # after a decision, a main face narrower than this share of the decided one is the next person
CHILL_FRAMES = 8  # a chilled nose in CHILL_COUNT of a person's last CHILL_FRAMES frames means "wait indoors" ...
CHILL_COUNT = 2  # ... even in the frames between (the cue is missed in about one frame in seven)
# A face in from the cold, measured against the eye band's warmth over the room (its excess), is never PASSed
# (docs/estimation.md, "In from the cold"): the forehead (room share 0.20 in the fitted model, against the
# canthus's 0.09) and the nose (acral skin) fall towards the room further and recover slower than the eye band.
# Over a person's last CHILL_FRAMES still frames (medians), any one of these says "still cold":
COLD_NOSE_SHARE = 0.05  # the nose cooler than the cheeks by more than this share of the excess ...
COLD_SKIN_SHARE = 0.88  # ... fewer skin pixels than this share of the face's width squared (the forehead and
#                             cheeks fell below the skin cut, 0.6 of the way from the room to the eye band) ...
COLD_FOREHEAD_SHARE = 0.68  # ... or the forehead's excess less than this share of the eye band's.
# Re-chosen on DEV for the simulator's face since b3787be (canthus a hot spot in a cooler region), with the rooms,
# optics and people of tests/test_hard_cases.py's _dev_cold_run (docs/estimation.md has the runs): febrile cold
# arrivals PASSed (seeds 1, 4, 5, 12, 110 degree lens) 5 of 32 at a skin share of 0.80, 3 at 0.85, 2 at 0.87,
# 0 at 0.88 (settled bare faces read 0.98 or more; with the 55 degree lens one of 19 read 0.875). The nose and
# forehead limits were kept (a lower nose limit caught no one more, a higher forehead one flagged bare faces).
# First 8 still frames, 110/55 degree lens: arrivals from the cold flagged 98 %/68 % (83 %/64 % at 0.80);
# settled people, all bare 0 %/5 % (0 %/0 %), all masked 28 %/47 % (6 %/26 %), all fringed 4 %/11 % (4 %/11 %),
# whose PASS is withheld the same way (a FEVER never is).
# A face whose width jumps (changes by more than grow_per_frame) on JUMPS_TO_MOVE frames in a row is moving, and its
# frames start again. A lone jump is a standing face's jittery width (4-6 pixels wide, the pixels' noise, the two
# subpages), and its frame is read as any other (DEV 110 deg, standing: 10 % of frames jump alone, 4 % right after
# another; walking up: 69 %). Leaving it out instead cost time and decisions (docs/estimation.md, "A lone jump, read").
JUMPS_TO_MOVE = 2
# A FEVER far from every line that turns it needs fewer frames than one near a line: from EARLY_FRAMES standing
# frames that agree, a median estimate at least EARLY_MARGIN_C above the fever threshold is decided at once (the door
# stays shut and the doctor re-checks either way). A PASS opens the door, so it always waits for stable_frames: on
# DEV an early PASS added febrile PASSes (docs/estimation.md, "The tracker and the decisions").
EARLY_FRAMES = 3
# Frame counts (``stable_frames``, EARLY_FRAMES) are stated at the firmware's default refresh, 8 frames a second
# (frame_rate.NOMINAL_FRAME_S).
# At a slower rate a window keeps the time it spans, not its number of frames: ``stable_frames`` = 5 is 0.5 s,
# 3 frames at 4 Hz (MIN_WINDOW at 2 Hz), so that a gate set to 4 Hz for its long wires decides about as many of
# the people who stand 1-2 s as at 8 Hz. At a faster rate it keeps its frames (0.25 s at 16 Hz): more frames in
# the same time only give a standing face's noise more chances to break the window; but whether the face keeps
# its size is still judged over 0.5 s (``_span``), and a clear FEVER waits for the whole window (its 0.25 s at
# 8 Hz is the window's time at 16 Hz: three frames, 0.125 s, let one through a frame before the person stood
# still on HELD_OUT). Figures: docs/estimation.md, "At another refresh rate". The frame interval is
# frame_rate.FrameRate's, over the analysed frames.
MIN_WINDOW = 3  # a window's median and the readings' agreement need at least this many frames
EARLY_MARGIN_C = 0.5
COLD_MIN_FRAMES = 3  # still frames before a face that cannot be measured is told why in those terms
# What keeps a person who stands nearly still from being measured, seen on this many of their frames in a row, is
# told at once (their first RETRY), not after retry_still_s: those frames are never read, so the measuring light
# stays off, and someone who sees nothing happen walks on (DEV's people stand 1-2 s). Only what is about where
# they stand or their eyes (SEEN_AT_ONCE), not "one at a time": the second face is most often the next person
# walking up while this one walks off (docs/estimation.md, "Told at once").
SEEN_FRAMES = 3
SEEN_AT_ONCE = (D.STAND_STRAIGHT, D.COME_CLOSER, D.STEP_BACK, D.STEP_TO_MARK, D.REMOVE_GLASSES_HAT)
# A face moving WALKED_OFF of its width or more from where it last stood still is walking off, and told nothing
# (Tracker._retry_due). On DEV's 110 degree in-scope runs (the first 30), a RETRY given while the person stood
# and their face moved ("hold still") was at most 0.16 of a face's width from where it had stood; one given
# while the person walked off, 0.10-0.95.
WALKED_OFF = 0.5
ABOUT_THEM = (D.WAIT_INDOORS, D.REMOVE_GLASSES_HAT)  # what is still told to someone walking off

# Someone standing in view whose face is never found (covered, turned away, or chilled below the analysis's face
# minimum): a warm blob at least BODY_WIDTH_M wide at the far edge of the mark (a child's head; just in from the
# cold, the clothes are as cold as the room and the blob is the head alone), nearly still (its box's centre moving
# less than BODY_STILL_PX a frame and its width less than BODY_GROW), with no face in view for retry_still_s, is
# told RETRY face_not_found (never measured, so never a PASS). A head in the queue further back is narrower.
BODY_WIDTH_M = 0.12
BODY_STILL_PX = 2.0
BODY_GROW = 0.15

Box = tuple[int, int, int, int]


@dataclass
class _Sample:
    t: float
    face_c: float
    core_c: float
    distance_m: float
    centre: tuple[float, float]
    width_px: float
    floor_c: float = math.nan  # the estimate with the face below the eye band taken as forehead-like: the floor's


@dataclass
class _Person:
    """The person being followed."""

    track: int
    first_seen: float
    last_seen: float
    box: Box  # their face's skin box (r0, c0, r1, c1, exclusive) in the latest frame showing it
    width_px: float  # their face's width in the latest frame showing it whole (not a lone jump)
    motion: tuple[float, float] = (0.0, 0.0)  # rows, columns per frame, of the box's centre
    sides: int = 0  # pixels the box's furthest-moving side moved since the frame before (a face at the image's
    # edge has no width read, but walking in, its box grows)
    decided: bool = False  # PASS or FEVER given
    withheld: bool = False  # a PASS was withheld on a low reading (the floor or the cold rule): none this visit
    notice: tuple[str, str] | None = None  # the last RETRY/BLOCKED (decision, reason) given them ...
    notice_t: float = -math.inf  # ... and when
    second_seen: float = -math.inf  # when a second face was last in view while their face was nearly still
    still_since: float = math.nan  # since when their face has moved less than max_shift_px per frame ...
    stood_at: tuple[float, float] | None = None  # ... where its centre was in the latest still frame (None: never)
    change: float = 0.0  # ... and changed its width by less than grow_per_frame (this frame's change, a share)
    jumps: int = 0  # frames in a row, up to this one, whose width changed by more than grow_per_frame
    seen: tuple[str | None, int] = (None, 0)  # the problem of their latest measured frames standing nearly still,
    # and on how many of them in a row, up to this one (SEEN_FRAMES)
    last_px: float = 0.0  # their face's width in the latest frame showing it whole, jump or not
    chilled: deque = field(default_factory=lambda: deque(maxlen=CHILL_FRAMES))  # chilled-nose cue, recent frames
    cold: deque = field(default_factory=lambda: deque(maxlen=CHILL_FRAMES))  # cold_shares(), recent still frames
    window: list[_Sample] = field(default_factory=list)


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


def _follows(person: _Person, box: Box) -> bool:
    """Whether ``box`` overlaps where the person's face was, moved by its motion and grown by FOLLOW_PX."""
    dr, dc = person.motion
    grow_r = FOLLOW_PX + abs(dr)
    grow_c = FOLLOW_PX + abs(dc)
    r0, c0, r1, c1 = person.box
    return (box[0] < r1 + dr + grow_r and box[2] > r0 + dr - grow_r
            and box[1] < c1 + dc + grow_c and box[3] > c0 + dc - grow_c)


def face_place(a: FrameAnalysis, config: ScreeningConfig) -> tuple[float, float, float] | None:
    """Where the main face of ``a`` is in the room, through the mounting of ``config``: (floor distance, lateral
    offset, eye height) in metres; None without a face or a distance."""
    if a.face_box is None or a.distance_m is None:
        return None
    r0, c0, r1, c1 = a.face_box
    row = a.eye_row if math.isfinite(a.eye_row) else (r0 + r1) / 2.0
    return face_position(a.distance_m, row, (c0 + c1) / 2.0, config.analysis.fov, config.sensor_height_m,
                         config.tilt_deg)


def _others(a: FrameAnalysis) -> bool:
    """Whether another face is in view: skin outside the main face's own box (grown by a pixel). Skin inside
    it is the same face broken up (a nose or cheeks chilled outdoors, a mask's edge), never a second person."""
    if a.people <= 1:
        return False
    if a.face_box is None:
        return True
    r0, c0, r1, c1 = a.face_box
    return any(not (box[0] >= r0 - 1 and box[1] >= c0 - 1 and box[2] <= r1 + 1 and box[3] <= c1 + 1)
               for box in a.faces[1:]) or len(a.faces) < a.people


def cold_shares(a: FrameAnalysis, face_c: float) -> tuple[float, float, float]:
    """The signs of a face in from the cold in one frame, each a share of the eye band's excess over the room
    (``face_c`` minus ``a.ambient_c``): (the nose's drop below the cheeks, skin pixels over the face's width
    squared, the forehead's excess); NaN where the frame does not show it."""
    excess = face_c - a.ambient_c
    if not (math.isfinite(excess) and excess > 1.0):
        return math.nan, math.nan, math.nan
    nose = a.nose_drop_c / excess if math.isfinite(a.nose_drop_c) else math.nan
    skin = a.face_pixels / a.face_width_px ** 2 if a.face_pixels > 0 and a.face_width_px > 0 else math.nan
    forehead = (a.forehead_c - a.ambient_c) / excess if math.isfinite(a.forehead_c) else math.nan
    return nose, skin, forehead


def still_cold(shares) -> bool:
    """Whether the medians of recent :func:`cold_shares` say the face has not yet warmed up from outdoors."""
    def median(i: int) -> float:
        values = [s[i] for s in shares if math.isfinite(s[i])]
        return statistics.median(values) if values else math.nan
    nose, skin, forehead = median(0), median(1), median(2)
    return nose > COLD_NOSE_SHARE or skin < COLD_SKIN_SHARE or forehead < COLD_FOREHEAD_SHARE


class Tracker:
    def __init__(self, gate: str, config: ScreeningConfig):
        self.gate = gate
        self.config = config
        self.track = 0
        self._start: float | None = None
        self._warming = True
        self._person: _Person | None = None
        self._face = False  # the tracked person's face is in the current frame
        self._fault = False
        self._reference_seen = False  # the reference has been found stable at least once
        self._passes: deque[float] = deque(maxlen=max(config.drift_window, 1))
        self._body: tuple[Box, float] | None = None  # a warm blob with no face in view, and since when it stood still
        self._faceless = False  # the tracked person is standing in view without a face found
        self._taken = False  # the latest frame went into the person's decision window
        self._blocked = False  # the latest frame was BLOCKED (reference, sensor) while someone waited for a decision
        # the narrowest such blob, in columns: a head at the far edge of the mark
        self._body_px = pixels_across(BODY_WIDTH_M, config.mark_band_m[1], config.analysis.fov)
        self.rate = FrameRate()  # the interval between analysed frames
        self._window = config.stable_frames  # frames in a decision's window at the current frame rate ...
        self._span = config.stable_frames  # ... the frames of the time it spans at 8 Hz (the standing test's) ...
        self._early = min(EARLY_FRAMES, config.stable_frames)  # ... and in a clear FEVER's
        # Why the latest frame gave the person waiting at the mark no PASS or FEVER: a RETRY or BLOCKED reason
        # (told or not), or HELD_*; None when the frame decided, or shows no face of anyone waiting for a decision
        self.held: str | None = None

    @property
    def state(self) -> str:
        if self._warming:
            return WARMING_UP
        if self._person is None:
            return IDLE
        if self._blocked:
            return BLOCKED
        if not self._face:
            return APPROACHING if self._faceless else LEAVING
        if self._person.decided:
            return DECIDED
        return MEASURING if self._person.window else APPROACHING

    @property
    def measured_now(self) -> bool:
        """The latest frame was measured and decided nothing: it went into the window of a person still waiting
        for their decision. A frame BLOCKED, told RETRY or decided is not, even while the frames before it still
        count."""
        return self._taken

    @property
    def drift_c(self) -> float | None:
        """Running mean of the recent PASS estimates minus the expected mean; None until the window is full."""
        c = self.config
        if c.drift_window <= 0 or len(self._passes) < c.drift_window:
            return None
        return statistics.fmean(self._passes) - c.drift_expected_c

    @property
    def drift_alert(self) -> bool:
        """The recent passes average further from normal than ``drift_tolerance_c``: check the gate."""
        drift = self.drift_c
        return drift is not None and abs(drift) > self.config.drift_tolerance_c

    def update(self, t: float, sequence: int, a: FrameAnalysis | None) -> list[D.Decision]:
        """Advance on one analysed frame (``a`` None: the sensor gave no usable frame)."""
        if self._start is None:
            self._start = t
        self._taken = self._blocked = False
        self.held = None
        self._frame_rate(t)
        if a is None:
            return self._sensor_fault(t, sequence)
        self._fault = False
        self._reference_seen = self._reference_seen or a.reference_ok
        self._face = a.face_box is not None
        if a.face_box is not None:
            self._follow(t, a, a.faces[0] if a.faces else a.face_box)
        elif self._person is not None and t - self._person.last_seen > self.config.leave_gap_s:
            self._person = None
        self._warming = t - self._start < self.config.warmup_s
        if not self._face:
            return self._without_face(t, sequence, a)
        self._body, self._faceless = None, False
        person = self._person
        if person is None or person.decided:
            return []
        if self._warming:
            self.held = D.WARMING_UP
            return self._notice(t, sequence, D.BLOCKED, D.WARMING_UP, a)
        reduced = not a.reference_ok
        if reduced and self.config.require_reference:
            # The frame is not measured; the frames before it, each corrected by a reference that was ok then,
            # still count (a reference that fails for a frame or two, as a person passes near it, used to cost
            # a standing person their whole window).
            self._blocked = True
            if not self._reference_seen and t - self._start < self.config.reference_settle_s:
                self.held = D.WARMING_UP
                return self._notice(t, sequence, D.BLOCKED, D.WARMING_UP, a)
            reason, detail = reference_problem(a, self.config.analysis)
            self.held = reason
            return self._notice(t, sequence, D.BLOCKED, reason, a, detail=detail)
        decisions = self._measure(t, sequence, a, reduced)
        # A frame that decided, or told the person something, leaves them no longer "being measured".
        self._taken = self._taken and not decisions
        return decisions

    # -- internals --------------------------------------------------------------

    def _frame_rate(self, t: float) -> None:
        """Follow the interval between frames, and size the decision's windows: at a slower rate than 8 Hz
        they span the time they span at it; at a faster one the window keeps its frames, the
        standing test (``_span``) its time, and a clear FEVER waits for the whole window."""
        if self.rate.update(t):
            scale, stable = self.rate.scale, self.config.stable_frames
            self._span = 1 + round((stable - 1) * scale)
            self._window = min(stable, max(MIN_WINDOW, self._span))
            self._early = min(max(2, 1 + round((EARLY_FRAMES - 1) * scale)), self._window)

    def _without_face(self, t: float, sequence: int, a: FrameAnalysis) -> list[D.Decision]:
        """A frame with no face in view: someone standing there all the same (a warm blob wide enough to be a
        person at the mark, nearly still for ``retry_still_s``) is told ``face_not_found``, and is the tracked
        person (a face found later inside the blob is theirs)."""
        box, person, was = a.warm_box, self._person, self._body
        self._faceless = False
        if (box is None or self._warming or box[3] - box[1] < self._body_px
                or (person is not None and person.decided)):
            self._body = None
            return []
        since = t
        if was is not None:
            (r, c), (r_was, c_was) = _centre(box), _centre(was[0])
            grow = abs(math.log((box[3] - box[1]) / (was[0][3] - was[0][1])))
            if math.hypot(r - r_was, c - c_was) <= BODY_STILL_PX and grow <= BODY_GROW:
                since = was[1]
        self._body = (box, since)
        if t - since < self.config.retry_still_s:
            return []
        if person is None:
            self.track += 1
            person = self._person = _Person(self.track, t, t, box, 0.0)
        person.box, person.last_seen = box, t
        person.window.clear()
        self._faceless = True
        return self._notice(t, sequence, D.RETRY, D.FACE_NOT_FOUND, a)

    def _follow(self, t: float, a: FrameAnalysis, box: Box) -> None:
        """Attribute this frame's main face (``box``) to the tracked person, or start a new one."""
        person = self._person
        # A new person: nobody tracked, a face elsewhere, or the decided person stepped away and the one right
        # behind them is now nearest.
        if (person is None or not _follows(person, box)
                or (person.decided and not a.touches_edge and a.face_width_px < SHRINK * person.width_px)):
            self.track += 1
            self._person = _Person(self.track, t, t, box, a.face_width_px)
            return
        (r, c), (r_was, c_was) = _centre(box), _centre(person.box)
        person.motion = (r - r_was, c - c_was)
        person.sides = max(abs(x - y) for x, y in zip(box, person.box, strict=True))
        person.change = 0.0
        if not a.touches_edge and person.width_px > 0.0 and a.face_width_px > 0.0:
            person.change = abs(math.log(a.face_width_px / person.width_px))
            if person.jumps and person.last_px > 0.0 and person.change > self.config.grow_per_frame:
                # The frame after a lone jump, at the jump's width: the face stopped at a new size (the last
                # step onto the mark; the first whole frames after walking in cut by the image's edge, measured
                # against a width seen far off), not a spike and not a walk.
                step = abs(math.log(a.face_width_px / person.last_px))
                if step <= self.config.grow_per_frame:
                    person.change = step
        person.jumps = person.jumps + 1 if person.change > self.config.grow_per_frame else 0
        if math.hypot(*person.motion) > self.config.max_shift_px or person.change > self.config.grow_per_frame:
            person.still_since = math.nan
        elif math.isnan(person.still_since):
            person.still_since = t
        if not math.isnan(person.still_since):
            person.stood_at = (r, c)
        person.box = box
        person.last_seen = t
        # A lone jump is measured against the width before it, so that the frame after a one-frame spike is no
        # jump; a run of them (a move) against the latest.
        if not a.touches_edge and (person.jumps == 0 or person.jumps >= JUMPS_TO_MOVE):
            person.width_px = a.face_width_px
        if not a.touches_edge:
            person.last_px = a.face_width_px
        # A face walking in (growing, shrinking or at the image's edge) breaks into fragments and blurs across
        # the frame's two subpages: neither its fragments nor its nose are taken as cues then.
        walking = a.touches_edge or person.change > self.config.grow_per_frame
        if _others(a) and math.hypot(*person.motion) <= STILL_PX and not walking:
            person.second_seen = t
        if not walking and math.hypot(*person.motion) <= self.config.max_shift_px:
            person.chilled.append(a.nose_chilled)
            person.cold.append(cold_shares(a, a.face_topk_c))

    def _notice(self, t: float, sequence: int, verdict: str, reason: str, a: FrameAnalysis | None,
                reduced: bool = False, detail: str = "") -> list[D.Decision]:
        """A RETRY or BLOCKED for the tracked person, unless they were just told the same."""
        person = self._person
        track = person.track if person is not None else self.track
        if person is not None:
            if person.notice == (verdict, reason) and t - person.notice_t < self.config.notice_repeat_s:
                return []
            person.notice, person.notice_t = (verdict, reason), t
        distance = a.distance_m if a is not None and verdict == D.RETRY else None
        return [D.Decision(self.gate, t, verdict, reason, track, None, distance_m=distance,
                           reduced_accuracy=reduced, sequence=sequence, drift_alert=self.drift_alert,
                           detail=detail)]

    def _sensor_fault(self, t: float, sequence: int) -> list[D.Decision]:
        """Once per fault episode; a person being measured starts over when frames return."""
        if self._person is not None:
            self._person.window.clear()
            self._blocked = not self._person.decided
            self.held = D.SENSOR_FAULT if self._blocked else None
        if self._fault:
            return []
        self._fault = True
        return [D.Decision(self.gate, t, D.BLOCKED, D.SENSOR_FAULT, self.track, None, sequence=sequence,
                           drift_alert=self.drift_alert)]

    def where(self, a: FrameAnalysis) -> tuple[float, float, float] | None:
        """Where the main face of ``a`` is in the room: :func:`face_place` with this gate's mounting."""
        return face_place(a, self.config)

    @staticmethod
    def _as_told(person: _Person, problem: str | None) -> str | None:
        """The reason a frame's first problem (:meth:`_first_problem`) is told as. A face still cold from
        outdoors breaks into pieces (its forehead and cheeks fall under the skin cut) that look like a second
        face or a face too narrow: while its recent still frames say cold (:func:`still_cold`), it is told to
        wait indoors."""
        if (problem in (D.ONE_AT_A_TIME, D.COME_CLOSER, D.HOLD_STILL) and len(person.cold) >= COLD_MIN_FRAMES
                and still_cold(person.cold)):
            return D.WAIT_INDOORS
        return problem

    def _first_problem(self, t: float, person: _Person, a: FrameAnalysis, face_c: float) -> str | None:
        """Why this frame cannot be measured (None: it can)."""
        c = self.config
        if _others(a) or t - person.second_seen <= c.second_face_s:
            return D.ONE_AT_A_TIME
        place = self.where(a)  # None without a face or a distance
        if a.touches_edge or a.distance_m is None or place is None or not math.isfinite(face_c):
            return D.STAND_STRAIGHT
        floor_m, lateral_m, _ = place
        near, far = c.mark_band_m
        if a.distance_m > c.distance_m[1] or a.face_width_px < c.min_face_width_px or floor_m > far:
            return D.COME_CLOSER
        if a.distance_m < c.distance_m[0] or floor_m < near:
            return D.STEP_BACK
        if abs(lateral_m) > c.lateral_tolerance_m:
            return D.STEP_TO_MARK
        if person.jumps >= JUMPS_TO_MOVE:  # the width jumped on this frame and on the one before
            return D.HOLD_STILL  # walking up to the mark or away from it, not yet standing
        if a.glasses or a.eye_line_low:  # the eyes covered: what reads hottest is not the eye band
            return D.REMOVE_GLASSES_HAT
        if face_c < c.min_face_c or a.nose_chilled or sum(person.chilled) >= CHILL_COUNT:
            return D.WAIT_INDOORS
        return None

    def _retry_due(self, t: float, person: _Person, reason: str) -> bool:
        """Whether to tell a person who cannot be measured why.

        The first time once they have been in view for ``retry_after_s`` or
        standing still for ``retry_still_s``, or at once when what is about
        where they stand or their eyes (:data:`SEEN_AT_ONCE`) has kept them from
        being measured on SEEN_FRAMES frames in a row while their face was
        nearly still; after that, only once they have
        stood still for ``retry_still_s`` since the last notice (while their
        face moves, only ``hold_still`` and what is about them), and the same
        reason not before ``notice_repeat_s``. Someone whose face moves, and
        has moved WALKED_OFF of its width or more from where it last stood
        still, is walking off: where they are and how they move is no longer
        news (their face breaks up into what looks like two, it reaches the
        image's edge), and a RETRY about it would light the gate for whoever
        comes next. They are told only what is about them (:data:`ABOUT_THEM`:
        still cold, glasses or a hat), which the guard then sees. Someone
        fidgeting where they stand is still told to hold still."""
        c = self.config
        if reason not in ABOUT_THEM and self._walked_off(person):
            return False
        if person.notice is None:
            if person.seen[0] == reason and person.seen[1] >= SEEN_FRAMES:
                return True  # what the person must do, seen where they stand: told at once, not after a second
            return t - person.first_seen >= c.retry_after_s or t - person.still_since >= c.retry_still_s
        if math.isnan(person.still_since):  # moving now: where they stand, or who stands by them, is no news
            if reason not in ABOUT_THEM and reason != D.HOLD_STILL:
                return False
        elif t - max(person.still_since, person.notice_t) < c.retry_still_s:
            return False
        return person.notice != (D.RETRY, reason) or t - person.notice_t >= c.notice_repeat_s

    @staticmethod
    def _walked_off(person: _Person) -> bool:
        """Moving, and WALKED_OFF of a face's width or more away from where their face last stood still."""
        if person.stood_at is None or not math.isnan(person.still_since):
            return False
        (r, c), (r0, c0) = _centre(person.box), person.stood_at
        return math.hypot(r - r0, c - c0) >= WALKED_OFF * max(person.width_px, 1.0)

    @staticmethod
    def _same_size(window: list[_Sample], tolerance: float, frames: int) -> bool:
        """The face keeps its size (someone standing on the mark, not walking up to it): the straight line
        through the window's widths (logarithms, against time) changes by at most ``tolerance`` over ``frames``
        frames, or over the window if it spans longer. A line, not the widest frame against the narrowest: a
        standing face 4-5 pixels wide reads about 3 % wider or narrower from frame to frame, which spreads five
        frames' widths by more than a walk's trend does. Over ``frames``, not the window, so that a short
        window of someone creeping up is judged at the creep's rate."""
        if len(window) < 2:
            return True
        ts = [s.t for s in window]
        step = min(b - a for a, b in zip(ts, ts[1:], strict=False))
        ws = [math.log(s.width_px) if s.width_px > 0 else math.nan for s in window]
        if not all(math.isfinite(w) for w in ws):
            return False
        t_mean, w_mean = statistics.fmean(ts), statistics.fmean(ws)
        stt = sum((t - t_mean) ** 2 for t in ts)
        if stt <= 0.0:
            return True
        trend = sum((t - t_mean) * (w - w_mean) for t, w in zip(ts, ws, strict=True)) / stt
        return abs(trend) * max(ts[-1] - ts[0], (frames - 1) * step) <= math.log1p(tolerance)

    @staticmethod
    def _same_place(window: list[_Sample], shift_px: float) -> bool:
        """The face stayed put over the window: its centre within ``shift_px`` of where it was, across all of
        them (someone starting to walk off moves a little each frame, but soon more than that)."""
        rows = [s.centre[0] for s in window]
        cols = [s.centre[1] for s in window]
        return max(rows) - min(rows) <= shift_px and max(cols) - min(cols) <= shift_px

    @staticmethod
    def _agree(window: list[_Sample], spread: float) -> bool:
        """The readings agree: the middle of them (all but the highest and lowest when there are at least
        four) lie within ``spread``. One frame's noise does not hold everyone up; a drift does."""
        values = sorted(s.face_c for s in window)
        if len(values) >= 4:
            values = values[1:-1]
        return values[-1] - values[0] <= spread

    def _fever_throughout(self, window: list[_Sample]) -> bool:
        """Every frame of the window reads at or above the fever threshold: whichever of its readings are
        trusted, the verdict is FEVER, so readings that disagree (:meth:`_agree`) make the estimate less sure,
        not the verdict. A PASS always needs readings that agree: they keep a window with a low frame (a face
        partly hidden, a drift) from opening the door."""
        return len(window) >= MIN_WINDOW and all(s.core_c >= self.config.threshold_c for s in window)  # NaN: no

    def _clear_early(self, person: _Person) -> bool:
        """Whether a window shorter than ``stable_frames`` already makes a FEVER: at least EARLY_FRAMES
        standing frames whose readings agree, and whose median estimate lies EARLY_MARGIN_C or more above the
        fever threshold (and so far above the physiological floor). A PASS, and any reading near a line, waits
        for the full window, where the rules decide as they always do."""
        c = self.config
        window = person.window
        if len(window) < self._early:
            return False
        if not (self._same_size(window, c.size_tolerance, self._span) and self._agree(window, c.max_spread_c)):
            return False
        estimate = statistics.median(s.core_c for s in window)
        return estimate - c.threshold_c >= EARLY_MARGIN_C

    def _withhold_pass(self, t: float, sequence: int, person: _Person, a: FrameAnalysis,
                       reduced: bool) -> list[D.Decision]:
        """No PASS on this window, nor for the rest of the person's visit (the floor or the cold rule): their frames
        start again and they are told RETRY wait_indoors."""
        person.withheld = True
        person.window.clear()
        self.held = D.WAIT_INDOORS
        return self._notice(t, sequence, D.RETRY, D.WAIT_INDOORS, a, reduced)

    def _measure(self, t: float, sequence: int, a: FrameAnalysis, reduced: bool) -> list[D.Decision]:
        c = self.config
        person = self._person
        assert person is not None
        # The drift is followed while the reference reads ok; the sensor's own offset (read off the disc, or when
        # the lens was measured) is what the sensor read at installation, and is taken off whether or not a
        # reference is in view: a gate without one (require_reference = false) has nothing better.
        sensor_offset = c.analysis.sensor_offset_c if c.analysis.apply_sensor_offset else 0.0
        correction = (a.offset_c if a.reference_ok else 0.0) - sensor_offset
        face_c = a.face_topk_c + correction
        first = self._first_problem(t, person, a, face_c)
        problem = self._as_told(person, first)
        box = a.face_box or (0, 0, 0, 0)
        centre = _centre(box)
        window = person.window
        if problem is None and window:
            prev = window[-1].centre
            if math.hypot(centre[0] - prev[0], centre[1] - prev[1]) > c.max_shift_px:
                problem = D.HOLD_STILL
        # What keeps them from being measured where they stand, and on how many frames in a row (SEEN_FRAMES)
        steady = person.jumps < JUMPS_TO_MOVE and math.hypot(*person.motion) <= c.max_shift_px and person.sides <= 1
        seen = problem if steady and problem in SEEN_AT_ONCE else None
        if seen is None:
            person.seen = (None, 0)
        else:
            person.seen = (seen, person.seen[1] + 1 if seen == person.seen[0] else 1)
        if problem is not None:
            window.clear()
            self.held = problem
            if not self._retry_due(t, person, problem):
                return []
            return self._notice(t, sequence, D.RETRY, problem, a, reduced)
        # the lens's blur as measured (AnalysisConfig.face_blur_px), else the nominal one
        mix = c.analysis.face_mix(a.face_width_px) if c.optics else NO_MIX

        def core_with(lower_c: float) -> float:
            return estimate_core_c(face_c, a.ambient_c + correction, c.site_offset_c, fill=mix.band,
                                   face_share=mix.share, surround_c=a.ambient_c + correction, site=c.eye_band,
                                   lower_share=mix.lower,
                                   lower_c=lower_c)

        # The face below the eye band as it reads (nose and cheeks, or a mask); for the floor, taken as
        # forehead-like: a face in from the cold reads it cool, and that must not lift it over the floor.
        window.append(_Sample(t, face_c, core_with(a.lower_face_c + correction), a.distance_m or math.nan, centre,
                              a.face_width_px, core_with(math.nan)))
        self._taken = True
        del window[:-self._window]
        while len(window) > 1 and not self._same_place(window, c.max_shift_px):
            del window[0]  # the face was still moving (walking): those frames were not standing
        if len(window) < self._window:
            if not self._clear_early(person):
                self.held = HELD_FILLING
                return []
        elif not self._same_size(window, c.size_tolerance, self._span):
            # Still growing or shrinking over the window (the last steps onto the mark): the oldest frame goes,
            # and the next frame may complete a window of standing ones. Judged on a full window only: the trend
            # of two or three frames' widths is mostly their noise.
            del window[0]
            self.held = HELD_SETTLING
            return []
        elif not self._agree(window, c.max_spread_c) and not self._fever_throughout(window):
            # Readings that disagree hold a verdict the window's frames do not all give; a fever in every one of
            # them is decided (docs/estimation.md, "A fever in every frame").
            del window[0]
            self.held = HELD_DISAGREE
            if not self._retry_due(t, person, D.HOLD_STILL):
                return []
            return self._notice(t, sequence, D.RETRY, D.HOLD_STILL, a, reduced)
        # The floor judges the face with its lower part taken as forehead-like: a face just in from the cold
        # reads its nose and cheeks cool, as a mask does, and reading them must not lift it over the floor.
        if statistics.median(s.floor_c for s in window) < c.min_estimate_c:
            # a face still chilled from outdoors
            return self._withhold_pass(t, sequence, person, a, reduced)
        estimate = statistics.median(s.core_c for s in window)
        verdict = D.FEVER if estimate >= c.threshold_c else D.PASS
        if verdict == D.PASS and (still_cold(person.cold) or person.withheld):
            # A low reading of a face still cold from outdoors is never a PASS (a fever hides in it). Nor is a later
            # window of someone told to wait indoors who stayed at the mark: it is the same face, read again, and the
            # first window of it to clear the floor is the one the sensor's noise lifted. They are measured afresh
            # when they come back (a new visit); a FEVER is given as always.
            return self._withhold_pass(t, sequence, person, a, reduced)
        person.decided = True
        if verdict == D.PASS and c.drift_window > 0:
            self._passes.append(estimate)
        return [D.Decision(self.gate, t, verdict, "", person.track, estimate,
                           face_c=statistics.median(s.face_c for s in window),
                           distance_m=statistics.median(s.distance_m for s in window), frames=len(window),
                           reduced_accuracy=reduced, sequence=sequence, drift_alert=self.drift_alert)]
