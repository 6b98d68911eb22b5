"""A scene: a room, a queue of people and a sensor, rendered at any moment with its ground truth.

Time is split into cycles of ``duration_s``. In each, after a lead-in with
nobody in view, person i starts walking to the mark at ``lead_s + i * slot_s``
and has left before the next slot ends. Past the first cycle the queue keeps
coming: cycle c has new people (drawn from (seed, c, i), ids continuing to
increase) following the same plan; a spec with ``once`` has nobody after its
first cycle. Everything that does not move (room, reference source, per-pixel
sensor offsets, the people's masks) is computed once; a frame costs a few small
matrix products per person.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from controller.geometry import FACE_HALF_HEIGHT_M, FieldOfView
from controller.sensor.frame import COLUMNS, ROWS

from .face import CUP_BOX_M, EMISSIVITY, FACE_HALF_WIDTH_M, REGIONS, U_EDGES, V_EDGES, template
from .optics import Mounting, Projection, blur, overlap_weights
from .people import Person, PersonPlan, Pose, draw_person
from .physiology import FEVER_C, SKIN_EMISSIVITY, apparent_c, radiance, temperature_from_radiance
from .room import Room
from .sensor_errors import SensorErrors
from .world import Physics

LEAD_S = 3.0
SLOT_S = 5.5
_PERSON_CACHE = 8

Plan = Callable[[int, np.random.Generator], PersonPlan]


@dataclass(frozen=True)
class GarbageWindow:
    """Pixels (flat indices, row * 32 + column) that read garbage from ``start_s`` to ``until_s``."""

    start_s: float
    until_s: float
    pixels: tuple[int, ...]


@dataclass(frozen=True)
class SceneSpec:
    """What happens in a scene.

    ``plan(i, rng)`` fixes person i of a cycle (core temperature, look, ...);
    ``ambient_levels`` are room temperatures, each held for ``people_per_level``
    people, the last one for everyone after. Queued people come into view
    ``queue_lead_s`` before their walk to the mark; ``lead_s`` must be at least
    that, so that every visit lies inside its cycle. ``once``: the queue comes in
    the first cycle only; after it the room stays empty.
    """

    name: str
    n_people: int
    plan: Plan
    ambient_levels: tuple[float, ...]
    people_per_level: int = 1
    reference: bool = True
    warm_wall: bool = False
    garbage: tuple[GarbageWindow, ...] = ()
    lead_s: float = LEAD_S
    slot_s: float = SLOT_S
    queue_lead_s: float = 0.0
    extra: dict = field(default_factory=dict)
    once: bool = False

    def __post_init__(self) -> None:
        if self.n_people < 1 or not self.ambient_levels or self.people_per_level < 1:
            raise ValueError("a scene needs at least one person, one ambient level and one person per level")
        if self.lead_s < self.queue_lead_s:
            raise ValueError(f"lead_s {self.lead_s} is shorter than queue_lead_s {self.queue_lead_s}")

    @property
    def duration_s(self) -> float:
        return self.lead_s + self.n_people * self.slot_s


def stable_key(*parts: object) -> list[int]:
    """Four 32-bit words from ``parts``, the same in every process (unlike hash())."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


@dataclass(frozen=True)
class Placed:
    """A person drawn into a frame: where their face landed, for the ground truth."""

    person: Person
    pose: Pose
    sight_m: float
    face_box_px: tuple[float, float, float, float]  # row0, col0, row1, col1 (continuous)
    face_in_view: bool
    cup_in_view: bool


def _int_box(box: tuple[float, float, float, float]) -> list[int]:
    r0, c0, r1, c1 = box
    return [max(0, math.floor(r0)), max(0, math.floor(c0)), min(ROWS, math.ceil(r1)), min(COLUMNS, math.ceil(c1))]


def _intersects(r0: float, c0: float, r1: float, c1: float) -> bool:
    return r1 > 0 and c1 > 0 and r0 < ROWS and c0 < COLUMNS and r1 > r0 and c1 > c0


def _skin_emissivity_vector(skin: float) -> np.ndarray:
    """The emissivity of every region of face.REGIONS, with ``skin`` for the skin regions."""
    return np.array([skin if EMISSIVITY[r] == SKIN_EMISSIVITY else EMISSIVITY[r] for r in REGIONS])


class Scene:
    """One scene for one sensor (``fov``) at one mounting, fixed by ``seed``.

    ``physics`` (sim/scenes/world.py) sets the lens blur, the sensor's errors,
    the skin's emissivity and the reference source; None is the nominal
    world's. ``world`` names the world, so that its draws never coincide with
    another world's.
    """

    def __init__(self, spec: SceneSpec, seed: int, fov: FieldOfView, mounting: Mounting, refresh_hz: float,
                 variant: str, physics: Physics | None = None, world: str | None = None,
                 session: str | None = None):
        self.spec = spec
        self.seed = int(seed)
        self.session = session
        self.physics = physics if physics is not None else Physics()
        self.projection = Projection(fov, mounting)
        key = (spec.name, self.seed) if world is None else (world, spec.name, self.seed)
        self._people_key = stable_key(*key) if session is None else stable_key(*key, "session", session)
        static = np.random.default_rng(stable_key(*key, variant, "static"))
        ph = self.physics
        reference = spec.reference and ph.reference_in_view
        if reference and ph.reference is not None:
            reference = ph.reference
        self.room = Room(self.projection, static, warm_wall=spec.warm_wall, reference=reference)
        noise = ("noise",) if ph.noise_draw == 0 else ("noise", ph.noise_draw)  # the draw of the noise over time
        self.errors = SensorErrors(refresh_hz, static, key=stable_key(*key, variant, *noise)[0],
                                   netd_1hz_c=ph.netd_1hz_c, offset_sd_c=ph.pixel_offset_sd_c,
                                   common_offset_c=ph.sensor_offset_c, gain=ph.sensor_gain,
                                   drift_scale=ph.drift_scale)
        self._emissivity = _skin_emissivity_vector(ph.skin_emissivity)
        self._people: OrderedDict[tuple[int, int], Person] = OrderedDict()
        self._sent_on: dict[int, float] = {}  # person id -> the local time the gate's result sent them on
        for i in range(spec.n_people):  # rasterise every look of the queue now, not mid-run
            template(self.person(0, i).look)

    @property
    def duration_s(self) -> float:
        return self.spec.duration_s

    def ambient_for(self, index: int) -> float:
        """Room temperature while person ``index`` of a cycle is due."""
        levels = self.spec.ambient_levels
        return levels[min(max(index, 0) // self.spec.people_per_level, len(levels) - 1)]

    def walk_start_s(self, index: int) -> float:
        return self.spec.lead_s + index * self.spec.slot_s

    def person(self, cycle: int, index: int) -> Person:
        """Person ``index`` of cycle ``cycle`` (drawn once, then cached)."""
        key = (cycle, index)
        p = self._people.get(key)
        if p is None:
            rng = np.random.default_rng(self._people_key + [cycle, index])
            plan = self.spec.plan(index, rng)
            p = draw_person(cycle * self.spec.n_people + index + 1, plan, self.walk_start_s(index),
                            self.ambient_for(index), self.projection, rng, self.spec.queue_lead_s)
            self._people[key] = p
            if len(self._people) > _PERSON_CACHE:
                self._people.popitem(last=False)
        else:
            self._people.move_to_end(key)
        return p

    def send_on(self, person_id: int, t: float) -> None:
        """Person ``person_id`` walks on from the mark at scene time ``t`` (they were given their result), or
        when they planned to, if that is sooner; a person sent on twice goes at the first time."""
        _, local = self._local(t)
        self._sent_on.setdefault(int(person_id), local)

    def _local(self, t: float) -> tuple[int, float]:
        t = float(t)
        if not (math.isfinite(t) and t >= 0):
            raise ValueError(f"t must be a finite number of seconds >= 0, got {t!r}")
        cycle = int(t // self.duration_s)
        return cycle, t - cycle * self.duration_s

    def _candidates(self, local: float) -> range:
        spec = self.spec
        hi = math.floor((local - spec.lead_s + spec.queue_lead_s) / spec.slot_s)
        lo = math.floor((local - spec.lead_s) / spec.slot_s) - 1
        return range(max(0, lo), min(spec.n_people, hi + 1))

    def garbage_at(self, t: float) -> list[int]:
        """Flat indices of the pixels reading garbage at ``t`` (first cycle only, like the events)."""
        out: list[int] = []
        for w in self.spec.garbage:
            if w.start_s <= t <= w.until_s:
                out.extend(w.pixels)
        return sorted(set(out))

    def _draw(self, rad: np.ndarray, person: Person, pose: Pose, local: float) -> Placed | None:
        """Paint ``person`` into the radiance image ``rad`` (in place); None if no part of them is in view."""
        proj = self.projection
        rise = pose.eye_height_m - proj.mounting.sensor_height_m
        sight = math.sqrt(pose.distance_m ** 2 + pose.lateral_m ** 2 + rise ** 2)
        row, col = proj.pixel(pose.lateral_m, pose.eye_height_m, pose.distance_m)
        sx, sy = proj.scale(sight)
        sx, sy = sx * person.face_scale, sy * person.face_scale
        rows = overlap_weights(row - V_EDGES * sy, ROWS)
        cols = overlap_weights(col + U_EDGES * sx, COLUMNS)
        if rows is None or cols is None:
            return None
        face = (row - FACE_HALF_HEIGHT_M * sy, col - FACE_HALF_WIDTH_M * sx,
                row + FACE_HALF_HEIGHT_M * sy, col + FACE_HALF_WIDTH_M * sx)
        (r0, wr), (c0, wc) = rows, cols
        tpl = template(person.look)
        coeffs = np.empty((2, len(tpl.regions)))
        eps = self._emissivity
        surfaces = person.physiology.surfaces_c(person.ambient_c, local)
        coeffs[0] = (eps * radiance(surfaces) + (1.0 - eps) * radiance(person.ambient_c))[tpl.regions]
        coeffs[1] = 1.0
        nv, nu = tpl.shape
        mixed = (coeffs @ tpl.masks).reshape(2, nv, nu)
        px = wr @ mixed @ wc.T
        window = rad[r0:r0 + wr.shape[0], c0:c0 + wc.shape[0]]
        window *= 1.0 - px[1]
        window += px[0]
        cup = False
        if person.look.cup:
            u0, u1, v0, v1 = CUP_BOX_M
            cup = _intersects(row - v1 * sy, col + u0 * sx, row - v0 * sy, col + u1 * sx)
        return Placed(person, pose, sight, face, _intersects(*face), cup)

    def render(self, t: float, sensor_errors: bool = True) -> tuple[np.ndarray, float, dict]:
        """(image degC (24, 32), sensor temperature degC, ground truth) at scene time ``t``."""
        cycle, local = self._local(t)
        slot = min(max(math.floor((local - self.spec.lead_s) / self.spec.slot_s), 0), self.spec.n_people - 1)
        ambient = self.ambient_for(slot)
        rad = self.room.radiance(ambient).copy()
        present = []
        for i in self._candidates(local) if cycle == 0 or not self.spec.once else ():
            p = self.person(cycle, i)
            if p.id in self._sent_on:
                p = p.sent_on(self._sent_on[p.id])
            pose = p.pose(local)
            if pose is not None:
                present.append((p, pose))
        present.sort(key=lambda pp: -pp[1].distance_m)
        placed = [d for p, pose in present if (d := self._draw(rad, p, pose, local)) is not None]
        self.room.in_front(rad, ambient)  # the reference, over the walls and the people behind it
        ph = self.physics
        image = temperature_from_radiance(blur(rad, ph.psf_sigma_px, ph.psf_wing_share, ph.psf_wing_sigma_px))
        garbage = self.garbage_at(t) if cycle == 0 else []
        ta = self.errors.ta_c(ambient)
        if sensor_errors:
            self.errors.apply(image, t, garbage, ta)
        return image, ta, self._truth(t, cycle, ambient, ta, placed, garbage, sensor_errors)

    def _truth(self, t: float, cycle: int, ambient: float, ta: float, placed: list[Placed], garbage: list[int],
               sensor_errors: bool) -> dict:
        local = t - cycle * self.duration_s
        people = [self._person_truth(d, local) for d in sorted(placed, key=lambda d: d.person.id) if d.face_in_view]
        ref = self.room.reference
        reference = ({"present": True, "temp_c": ref.temp_c, "box": ref.box,
                      "centre": [round(ref.centre[0], 3), round(ref.centre[1], 3)]}
                     if ref is not None else {"present": False, "temp_c": None, "box": None, "centre": None})
        if ref is not None and not self.physics.nominal_people:  # a world's reference: what it is
            reference.update(diameter_m=round(ref.diameter_m, 4), distance_m=round(ref.distance_m, 4),
                             emissivity=round(ref.emissivity, 4), apparent_c=round(ref.apparent_c(ambient), 4))
        return {
            "t": round(float(t), 6),
            "cycle": cycle,
            "people": people,
            "ambient_c": round(float(ambient), 4),
            "ta_c": round(float(ta), 4),
            "reference": reference,
            "hot_object": any(d.cup_in_view for d in placed),
            "garbage_pixels": garbage,
            "fever": any(p["fever"] and p["phase"] == "standing" for p in people),
            "warm_wall": self.room.warm_wall,
            "sensor_errors": sensor_errors,
            "drift_c": round(self.errors.drift_c(t), 4) if sensor_errors else 0.0,
        }

    def _person_truth(self, d: Placed, local: float) -> dict:
        p, pose, phys = d.person, d.pose, d.person.physiology
        forehead = phys.forehead_c(p.ambient_c, local)
        canthus = phys.canthus_c(p.ambient_c, local)
        region = phys.canthus_region_c(p.ambient_c, local)
        tpl = template(p.look)
        out = {
            "id": p.id,
            "core_c": round(phys.core_c, 4),
            "forehead_c": round(forehead, 4),
            "canthus_c": round(canthus, 4),
            "forehead_apparent_c": round(apparent_c(forehead, self.physics.skin_emissivity, p.ambient_c), 4),
            "canthus_apparent_c": round(apparent_c(canthus, self.physics.skin_emissivity, p.ambient_c), 4),
            "canthus_region_c": round(region, 4),
            "canthus_region_apparent_c": round(apparent_c(region, self.physics.skin_emissivity, p.ambient_c), 4),
            "forehead_settled_c": round(phys.steady_forehead_c(p.ambient_c), 4),
            "distance_m": round(pose.distance_m, 4),
            "sight_m": round(d.sight_m, 4),
            "lateral_m": round(pose.lateral_m, 4),
            "eye_height_m": round(pose.eye_height_m, 4),
            "face_box": _int_box(d.face_box_px),
            "face_box_px": [round(x, 4) for x in d.face_box_px],
            "phase": pose.phase,
            "fever": round(phys.core_c, 4) >= FEVER_C,
            "glasses": p.look.glasses,
            "hat": p.look.cover is not None,
            "cover": p.look.cover,
            "mask": p.look.mask,
            "hot_cup": p.look.cup,
            "from_cold": phys.from_cold,
            "indoor_s": round(local - phys.came_in_s, 3) if phys.from_cold else None,
            "forehead_visible": round(tpl.forehead_visible, 4),
            "canthus_visible": round(tpl.canthus_visible, 4),
        }
        if not self.physics.nominal_people:  # drawn from a world: who they are
            out.update(age=p.age, face_scale=round(p.face_scale, 4))
        return out
