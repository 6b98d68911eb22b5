"""People at the gate: who they are and where they are at each moment.

A person walks in from the left edge of the view to the standing mark
(``approaching``), stands for 1-2 s swaying slightly (``standing``), and walks
off to the right past the sensor (``leaving``). In a queue (``queued``) they
first walk to a spot behind and to the right of the mark and wait there, in
view, while the person in front stands. Walking speeds and standing times are drawn per person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .face import Look
from .optics import Projection
from .physiology import Physiology

EYE_HEIGHTS_M = (1.17, 1.43)  # the primary-school population the mountings serve
WALK_SPEED_M_S = (1.1, 1.5)
LEAVE_SPEED_M_S = (0.9, 1.2)
STAND_S = (1.0, 2.0)
MARK_SPREAD_M = 0.03  # how far from the mark people actually stop (sd)
LATERAL_SPREAD_M = 0.04
START_BEHIND_FACTOR = 1.3  # walks start this many mark distances behind where they stop (at least 0.8 m)
ENTRY_MARGIN_M = 0.3  # start and end this far outside the view
QUEUE_BEHIND_FACTOR = 0.7  # the queue spot is this many mark distances behind the mark (at least 0.4 m)
QUEUE_LATERAL_M = 0.22
QUEUE_WALK_MAX_S = 1.5
WALK_MAX_S = 2.0
LEAVE_MAX_S = 1.3
SWAY_M = 0.008
BOB_M = 0.01
STEP_HZ = 2.0


@dataclass(frozen=True)
class PersonPlan:
    """What a scenario fixes about its i-th person; the rest is drawn."""

    core_c: float
    look: Look = Look()
    outdoor_c: float | None = None  # came in from outdoors at this temperature ...
    came_in_s: float = 0.0  # ... at this local scenario time
    stand_factor: float = 1.0  # stops at this many mark distances
    queued: bool = False
    eye_height_m: float | None = None  # None: drawn from EYE_HEIGHTS_M
    face_scale: float = 1.0  # head size relative to the 15 cm face template
    age: int | None = None  # for the ground truth only (None: an adult, or not said)
    credential: str | None = None  # the QR code they scan just before stepping onto the mark (None: none)
    stand_s: tuple[float, float] = STAND_S  # how long they stand on the mark, drawn uniformly


@dataclass(frozen=True)
class Pose:
    """Where a person's eyes are: forward distance, lateral offset, height (m), and what they are doing."""

    distance_m: float
    lateral_m: float
    eye_height_m: float
    phase: str


def _smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _between(a: tuple[float, float], b: tuple[float, float], p: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * p, a[1] + (b[1] - a[1]) * p


@dataclass(frozen=True)
class Person:
    """One person's visit; times are local scenario seconds."""

    id: int
    physiology: Physiology
    look: Look
    ambient_c: float  # the room they stand in
    eye_height_m: float
    start: tuple[float, float]  # (distance, lateral) where they come into view
    queue: tuple[float, float] | None
    mark: tuple[float, float]  # where they stand
    exit: tuple[float, float]
    enter_s: float
    queue_walk_s: float
    walk_start_s: float
    walk_s: float
    stand_s: float
    leave_s: float
    sway_hz: float
    sway_phase: float
    face_scale: float = 1.0
    age: int | None = None
    credential: str | None = None  # scanned SCAN_LEAD_S before arrive_s (sim.scenarios.Scenario.scans)

    @property
    def arrive_s(self) -> float:
        return self.walk_start_s + self.walk_s

    @property
    def leave_start_s(self) -> float:
        return self.arrive_s + self.stand_s

    @property
    def exit_s(self) -> float:
        return self.leave_start_s + self.leave_s

    def sent_on(self, t: float) -> Person:
        """This person walking on from the mark at local time ``t`` (the gate gave them their result), or as
        planned if that is sooner: the same person and walk, with a shorter stand (none if ``t`` comes before
        they reach the mark)."""
        stand = min(self.stand_s, max(0.0, t - self.arrive_s))
        return self if stand == self.stand_s else replace(self, stand_s=stand)

    def pose(self, t: float) -> Pose | None:
        """Where the person is at local time ``t``; None before they come into view and after they have left."""
        if t < self.enter_s or t >= self.exit_s:
            return None
        moving = True
        if self.queue is not None and t < self.walk_start_s:  # walking to the queue spot, or waiting there
            where = _between(self.start, self.queue, _smooth((t - self.enter_s) / self.queue_walk_s))
            moving = t < self.enter_s + self.queue_walk_s
            phase = "approaching"
        elif t < self.arrive_s:
            origin = self.queue if self.queue is not None else self.start
            where = _between(origin, self.mark, _smooth((t - self.walk_start_s) / self.walk_s))
            phase = "approaching"
        elif t < self.leave_start_s:
            where, moving, phase = self.mark, False, "standing"
        else:
            where = _between(self.mark, self.exit, _smooth((t - self.leave_start_s) / self.leave_s))
            phase = "leaving"
        d, x = where
        if moving:
            h = self.eye_height_m + BOB_M * math.sin(2 * math.pi * STEP_HZ * t)
        else:
            w = 2 * math.pi * self.sway_hz * t + self.sway_phase
            x += SWAY_M * math.sin(w)
            d += SWAY_M * math.sin(0.7 * w + 1.0)
            h = self.eye_height_m
        return Pose(d, x, h, phase)


def draw_person(pid: int, plan: PersonPlan, walk_start_s: float, ambient_c: float, projection: Projection,
                rng: np.random.Generator, queue_lead_s: float = 0.0) -> Person:
    """Person ``pid`` following ``plan``, starting the walk to the mark at ``walk_start_s``.

    A queued person comes into view ``queue_lead_s`` earlier and waits at the
    queue spot. Walks are capped at WALK_MAX_S (QUEUE_WALK_MAX_S to the queue
    spot) and LEAVE_MAX_S: over a longer path they walk faster.
    """
    physiology = Physiology.draw(plan.core_c, rng, outdoor_c=plan.outdoor_c, came_in_s=plan.came_in_s)
    mark_d = projection.mounting.mark_distance_m
    stand = (mark_d * plan.stand_factor + rng.normal(0.0, MARK_SPREAD_M),
             float(np.clip(rng.normal(0.0, LATERAL_SPREAD_M), -0.08, 0.08)))
    walk_speed = rng.uniform(*WALK_SPEED_M_S)
    far = stand[0] + max(0.8, START_BEHIND_FACTOR * mark_d)
    start = (far, -(projection.half_width_m(far) + ENTRY_MARGIN_M))
    queue = None
    queue_walk_s = 0.0
    enter_s = walk_start_s
    if plan.queued:
        queue = (stand[0] + max(0.4, QUEUE_BEHIND_FACTOR * mark_d), QUEUE_LATERAL_M)
        enter_s = walk_start_s - queue_lead_s
        queue_walk_s = min(math.dist(start, queue) / walk_speed, QUEUE_WALK_MAX_S, queue_lead_s)
        origin = queue
    else:
        origin = start
    exit_d = max(0.2, stand[0] - 0.25)
    exit_point = (exit_d, projection.half_width_m(exit_d) + ENTRY_MARGIN_M)
    eye_height = float(rng.uniform(*EYE_HEIGHTS_M))
    if plan.eye_height_m is not None:
        eye_height = float(plan.eye_height_m)
    return Person(
        id=pid, physiology=physiology, look=plan.look, ambient_c=ambient_c,
        eye_height_m=eye_height, start=start, queue=queue, mark=stand, exit=exit_point,
        enter_s=enter_s, queue_walk_s=queue_walk_s, walk_start_s=walk_start_s,
        walk_s=min(math.dist(origin, stand) / walk_speed, WALK_MAX_S), stand_s=float(rng.uniform(*plan.stand_s)),
        leave_s=min(math.dist(stand, exit_point) / rng.uniform(*LEAVE_SPEED_M_S), LEAVE_MAX_S),
        sway_hz=float(rng.uniform(0.2, 0.5)), sway_phase=float(rng.uniform(0, 2 * math.pi)),
        face_scale=float(plan.face_scale), age=plan.age, credential=plan.credential,
    )
