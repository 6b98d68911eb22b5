"""The named scenarios: seeded, reproducible scenes for tests, the demo and benchmarks.

    sc = scenario("fever", seed=3, variant="110", refresh_hz=8.0)
    frame = sc.frame_at(12.5)      # SceneFrame: image (24, 32) degC, ta, truth
    clean = sc.clean_at(12.5)      # the same moment without sensor errors
    for event in sc.events: ...    # wifi_down / wifi_up / i2c_fail / garbage_pixels

A frame is a pure function of (name, seed, variant, refresh rate, t): the
same arguments give the same image, in any order of calls. Past
``duration_s`` the queue keeps coming with new people (ids keep increasing)
and the events do not repeat; a queue of listed people
(``scenario("normal_queue", people=[PersonPlan(36.6, credential="S-1"), ...])``)
comes once, and then nobody. docs/simulation.md has the table.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from controller.geometry import FieldOfView, Lens, vertical_coverage
from controller.sensor.frame import COLUMNS, ROWS

from .scenes import GarbageWindow, Look, Mounting, PersonPlan, Scene, SceneSpec
from .scenes.face import REGIONS
from .scenes.people import STAND_S, Person, Pose
from .scenes.physiology import normal_core_c
from .scenes.scene import stable_key
from .scenes.world import Physics, World

SCENARIOS: tuple[str, ...] = (
    "normal_queue", "fever", "cold_arrival", "glasses", "hat", "hot_cup", "two_people", "no_reference", "far",
    "sensor_fault", "wifi_drop", "linearity", "ambient_sweep", "school_queue",
    "slow_approach", "walk_through", "masked", "cut_off", "chin_cut_off", "cold_face",
)

DESCRIPTIONS = {
    "normal_queue": "a queue at 20-24 degC, normal core temperatures, some masks",
    "fever": "per six people: three normal, two at 38.0-39.5 degC core, one at 37.4-37.9",
    "cold_arrival": "people who came in from -5..+5 degC ten seconds ago, faces still cool",
    "glasses": "everyone wears glasses over the inner canthus",
    "hat": "hats and fringes over the forehead, a warm wall behind",
    "hot_cup": "every other person holds a 55-65 degC cup",
    "two_people": "the next person waits in view behind the one at the mark",
    "no_reference": "a normal queue without the heated reference source",
    "far": "people stop at 1.6-2.2 times the mark's distance",
    "sensor_fault": "I2C failures and garbage pixels from a bad cable",
    "wifi_drop": "a normal queue; Wi-Fi lost from 18 s to 33 s",
    "linearity": "core 34.5 to 41.0 degC in 0.5 degC steps, two people each",
    "ambient_sweep": "rooms at 15, 18, 21, 24, 27 and 30 degC, four people each",
    "school_queue": "a school's queue: 60 % afebrile, 15 % at 37.3-37.8 degC, 25 % at 37.8-40.0 degC core",
    "slow_approach": "people walk up along the sensor's axis at a steady 0.3-0.6 m/s, stop on the mark and stand",
    "walk_through": "people walk straight across the view past the mark at 0.8-1.4 m/s without stopping",
    "masked": "everyone wears a mask; per six people: three normal, two at 38.0-39.5 degC core, one at 37.4-37.9",
    "cut_off": "people too tall for the mounting: half the forehead or more runs past the top of the image at the "
               "mark",
    "chin_cut_off": "people short for the mounting: the chin runs past the bottom of the image at the mark, the eyes "
                    "and the nose do not",
    "cold_face": "in from the cold: canthus 2-4 degC below its steady state, the rest of the face 1-1.8 times "
                 "that, the nose from as much as the cheeks to 2.5 times",
}

# The recommended primary-school mountings of docs/installation.md (controller.geometry.recommend_mounting).
VARIANTS: dict[str, tuple[FieldOfView, Mounting]] = {
    lens: (lens.fov, Mounting(sensor_height_m=1.30, tilt_deg=0.0, mark_distance_m=lens.mark_distance_m))
    for lens in Lens
}

LINEARITY_CORES_C = tuple(round(34.5 + 0.5 * i, 1) for i in range(14))  # 34.5 .. 41.0
AMBIENT_SWEEP_C = (15.0, 18.0, 21.0, 24.0, 27.0, 30.0)
SCHOOL_LEAD_S = 6.0  # school_queue: nobody in view for the first 6 s, time to learn the reference's reading


@dataclass(frozen=True, eq=False)
class SceneFrame:
    """One rendered moment.

    ``image``: (24, 32) float64 degC, what each pixel should read decoding with
    emissivity 1.0, noise and sensor errors included, never NaN. ``ta``: the
    sensor's own temperature, degC. ``truth``: JSON-serialisable ground truth
    (docs/simulation.md, "Ground truth").
    """

    image: np.ndarray
    ta: float
    truth: dict


SCAN_LEAD_S = 1.0  # a person with a credential scans it this long before standing on the mark


@dataclass(frozen=True)
class Scan:
    """A person shows a QR code to the gate's scanner at ``t`` seconds from the scenario start."""

    t: float
    person: int  # the person's id, as in the ground truth
    text: str


@dataclass(frozen=True)
class Event:
    """Something that happens to the gate at ``t`` seconds from the scenario start.

    ``kind``: "wifi_down", "wifi_up", "i2c_fail" (params {"reads": n}) or
    "garbage_pixels" (params {"pixels": [flat indices], "until": t2}).
    """

    t: float
    kind: str
    params: dict


def _normal(mask_every: int | None = 4) -> Callable[[int, np.random.Generator], PersonPlan]:
    def plan(i: int, rng: np.random.Generator) -> PersonPlan:
        return PersonPlan(core_c=normal_core_c(rng), look=Look(mask=mask_every is not None and i % mask_every == 2))
    return plan


def _fever(i: int, rng: np.random.Generator) -> PersonPlan:
    kind = i % 6
    if kind in (1, 5):
        return PersonPlan(core_c=float(rng.uniform(38.0, 39.5)))
    if kind == 4:
        return PersonPlan(core_c=float(rng.uniform(37.4, 37.9)))
    return PersonPlan(core_c=normal_core_c(rng))


def _school(i: int, rng: np.random.Generator) -> PersonPlan:
    u = rng.random()
    if u < 0.60:
        return PersonPlan(core_c=normal_core_c(rng))
    if u < 0.75:
        return PersonPlan(core_c=float(rng.uniform(37.3, 37.8)))
    return PersonPlan(core_c=float(rng.uniform(37.8, 40.0)))


def _build(name: str, rng: np.random.Generator, ambient_c: float | None = None) -> tuple[SceneSpec, tuple[Event, ...]]:
    """The spec and events of scenario ``name``; ``rng`` draws what varies with the seed; ``ambient_c`` (a
    world's draw) replaces the scenario's own room temperature, except in ambient_sweep."""
    room = (float(rng.uniform(20.0, 24.0)),)
    if ambient_c is not None:
        room = (float(ambient_c),)
    events: tuple[Event, ...] = ()
    if name in ("normal_queue", "no_reference", "wifi_drop"):
        spec = SceneSpec(name, 12, _normal(), room, reference=name != "no_reference")
        if name == "wifi_drop":
            events = (Event(18.0, "wifi_down", {}), Event(33.0, "wifi_up", {}))
    elif name == "fever":
        spec = SceneSpec(name, 12, _fever, room)
    elif name == "cold_arrival":
        indoor, outdoor = float(rng.uniform(17.0, 21.0)), float(rng.uniform(-5.0, 5.0))
        if ambient_c is not None:
            indoor = float(ambient_c)

        def cold(i: int, r: np.random.Generator) -> PersonPlan:
            if i % 4 == 3:
                return PersonPlan(core_c=normal_core_c(r))
            return PersonPlan(core_c=normal_core_c(r), outdoor_c=outdoor, came_in_s=-10.0)
        spec = SceneSpec(name, 16, cold, (indoor,), extra={"outdoor_c": outdoor, "came_in_s": -10.0})
    elif name == "glasses":
        spec = SceneSpec(name, 10, lambda i, r: PersonPlan(core_c=normal_core_c(r), look=Look(glasses=True)), room)
    elif name == "hat":
        spec = SceneSpec(name, 10, lambda i, r: PersonPlan(
            core_c=normal_core_c(r), look=Look(cover="hat" if i % 2 == 0 else "fringe")), room, warm_wall=True)
    elif name == "hot_cup":
        spec = SceneSpec(name, 10, lambda i, r: PersonPlan(core_c=normal_core_c(r), look=Look(cup=i % 2 == 0)), room)
    elif name == "two_people":
        spec = SceneSpec(name, 14, lambda i, r: PersonPlan(core_c=normal_core_c(r), queued=True), room,
                         warm_wall=True, lead_s=5.0, slot_s=4.0, queue_lead_s=5.0)
    elif name == "far":
        spec = SceneSpec(name, 10, lambda i, r: PersonPlan(core_c=normal_core_c(r),
                                                           stand_factor=float(r.uniform(1.6, 2.2))),
                         room, warm_wall=True)
    elif name == "sensor_fault":
        start = int(rng.integers(8 * COLUMNS, 16 * COLUMNS - 16))
        run = tuple(range(start, start + 16))  # a burst of consecutive words
        scattered = tuple(sorted(int(p) for p in rng.choice(ROWS * COLUMNS, size=6, replace=False)))
        windows = (GarbageWindow(20.0, 30.0, run), GarbageWindow(50.0, 52.0, scattered))
        spec = SceneSpec(name, 12, _normal(), room, garbage=windows)
        events = (Event(8.0, "i2c_fail", {"reads": 3}),
                  Event(20.0, "garbage_pixels", {"pixels": list(run), "until": 30.0}),
                  Event(40.0, "i2c_fail", {"reads": 40}),
                  Event(50.0, "garbage_pixels", {"pixels": list(scattered), "until": 52.0}))
    elif name == "linearity":
        spec = SceneSpec(name, 2 * len(LINEARITY_CORES_C),
                         lambda i, r: PersonPlan(core_c=LINEARITY_CORES_C[i // 2]),
                         (float(rng.uniform(21.0, 23.0)),) if ambient_c is None else room,
                         extra={"cores_c": LINEARITY_CORES_C})
    elif name == "ambient_sweep":
        spec = SceneSpec(name, 4 * len(AMBIENT_SWEEP_C), _normal(None), AMBIENT_SWEEP_C, people_per_level=4)
    elif name == "school_queue":
        spec = SceneSpec(name, 12, _school, room, lead_s=SCHOOL_LEAD_S)
    elif name in _KINDS:
        spec = _KINDS[name][0](name, room)
    else:
        raise ValueError(f"unknown scenario {name!r}; the scenarios are {', '.join(SCENARIOS)}")
    return spec, events


def _in_world(spec: SceneSpec, world: World, physics: Physics) -> SceneSpec:
    """``spec`` with its people drawn from ``world``: age, eye height and head size always; glasses, masks,
    hair and hats as the world's shares say, on top of what the scenario itself gives; an arrival from the
    cold where the scenario has none; how long they stand, from the world's ``stand_s``, each slot longer by as
    much as the world's longest stand exceeds the people's own (STAND_S)."""
    plan = spec.plan
    spec = replace(spec, slot_s=spec.slot_s + max(0.0, world.stand_s[1] - STAND_S[1]))

    def worldly(i: int, rng: np.random.Generator) -> PersonPlan:
        p = plan(i, rng)
        w = world.person(physics, rng)  # rng is the scene's, seeded with (world, scenario, seed, cycle, i)
        look = Look(glasses=p.look.glasses or w.glasses, cover=p.look.cover or w.cover,
                    mask=p.look.mask or w.mask, cup=p.look.cup)
        extra = {}
        if p.outdoor_c is None and w.outdoor_c is not None:
            extra = dict(outdoor_c=w.outdoor_c, came_in_s=spec.lead_s + i * spec.slot_s + 1.0 - w.indoor_s)
        return replace(p, look=look, eye_height_m=w.eye_height_m, face_scale=w.face_scale, age=w.age,
                       stand_s=world.stand_s, **extra)

    return replace(spec, plan=worldly)


# ---- scenario kinds that change how people move or look after they are drawn ------------------------------
# (slow_approach, walk_through, masked, cut_off, chin_cut_off, cold_face: the screening's decisions at the mark
# and hard cases)

def _slow_approach(name: str, room: tuple[float, ...]) -> SceneSpec:
    return SceneSpec(name, 8, _normal(None), room, slot_s=12.0)


def _walk_through(name: str, room: tuple[float, ...]) -> SceneSpec:
    return SceneSpec(name, 10, _fever, room, slot_s=4.0)


def _masked(name: str, room: tuple[float, ...]) -> SceneSpec:
    def plan(i: int, rng: np.random.Generator) -> PersonPlan:
        return replace(_fever(i, rng), look=Look(mask=True))
    return SceneSpec(name, 12, plan, room)


def _cut_off(name: str, room: tuple[float, ...]) -> SceneSpec:
    return SceneSpec(name, 8, _normal(None), room)


def _fever_queue(name: str, room: tuple[float, ...]) -> SceneSpec:
    """Twelve people drawn as the `fever` scenario's (chin_cut_off, cold_face: their kind places or chills them)."""
    return SceneSpec(name, 12, _fever, room)


@dataclass(frozen=True)
class _SteadyPerson(Person):
    """Walks up to the mark straight along the sensor's axis at a steady speed and stops on it at once."""

    def pose(self, t: float) -> Pose | None:
        if self.walk_start_s <= t < self.arrive_s:
            share = (t - self.walk_start_s) / self.walk_s
            d = self.start[0] + (self.mark[0] - self.start[0]) * share
            x = self.start[1] + (self.mark[1] - self.start[1]) * share
            return Pose(d, x, self.eye_height_m + 0.01 * math.sin(4.0 * math.pi * t), "approaching")
        return super().pose(t)


def _slowly(p: Person, rng: np.random.Generator, projection) -> Person:
    """Walks up from 1.2-2.0 m behind the mark, along the axis, at a steady 0.3-0.6 m/s, and stands 2-3 s."""
    start = (p.mark[0] + float(rng.uniform(1.2, 2.0)), p.mark[1] + float(rng.uniform(-0.05, 0.05)))
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(Person)}
    fields.update(start=start, queue=None, enter_s=p.walk_start_s,
                  walk_s=math.dist(start, p.mark) / float(rng.uniform(0.3, 0.6)), stand_s=float(rng.uniform(2.0, 3.0)))
    return _SteadyPerson(**fields)


@dataclass(frozen=True)
class _PassingPerson(Person):
    """Walks in a straight line across the view at a steady speed, through the mark's distance, never stopping."""

    speed_m_s: float = 1.0

    def pose(self, t: float) -> Pose | None:
        if t < self.walk_start_s or t >= self.exit_s:
            return None
        share = (t - self.walk_start_s) / (self.exit_s - self.walk_start_s)
        d = self.start[0] + (self.exit[0] - self.start[0]) * share
        x = self.start[1] + (self.exit[1] - self.start[1]) * share
        phase = "approaching" if d > self.mark[0] else "leaving"
        return Pose(d, x, self.eye_height_m + 0.01 * math.sin(4.0 * math.pi * t), phase)


def _through(p: Person, rng: np.random.Generator, projection) -> Person:
    speed = float(rng.uniform(0.8, 1.4))
    start = (p.mark[0] + 0.6, p.start[1])  # from the left edge behind the mark ...
    end = (max(0.2, p.mark[0] - 0.3), projection.half_width_m(max(0.2, p.mark[0] - 0.3)) + 0.3)  # ... off to the right
    travel = math.dist(start, end) / speed
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(Person)}
    fields.update(start=start, exit=end, walk_s=travel, stand_s=0.0, leave_s=0.0, enter_s=p.walk_start_s,
                  queue=None)
    return _PassingPerson(**fields, speed_m_s=speed)


def _tall(p: Person, rng: np.random.Generator, projection) -> Person:
    """Eyes from 4 cm under the top of the view at the mark to 5 cm over it: half the forehead (read 2-6 cm above
    the eyes, controller.screening.analysis_kernels.FOREHEAD_BAND_M), or more, cut off. The analysis places the
    eye line and the face's rows to a fraction of a row (1 cm is 0.4 of a row at 0.45 m through the 110 degree
    lens), so a forehead cut by a centimetre or so is measured or not by the frame's noise: not this scenario's
    case."""
    m = projection.mounting
    top = vertical_coverage(m.sensor_height_m, m.tilt_deg, m.mark_distance_m, projection.fov)[1]
    return replace(p, eye_height_m=float(rng.uniform(top - 0.04, top + 0.05)))


def _short(p: Person, rng: np.random.Generator, projection) -> Person:
    """Eyes placed, in the image, so that on the mark the nose and the cheeks beside it (read down to 7 cm under
    the eyes, controller.screening.analysis_kernels.LOWER_FACE_BAND_M) end 0.25-0.8 of a row above its bottom
    edge, and the chin (10 cm under the eyes) runs past it. In rows, not in heights at the mark: the face is
    drawn at its own rows per metre around the eye line, which near the edge of a wide lens's view is not the
    band of heights the view covers there."""
    from controller.screening.analysis_kernels import LOWER_FACE_BAND_M  # here: importing the analysis loads numba

    m = projection.mounting
    margin = float(rng.uniform(0.25, 0.8))
    height = m.sensor_height_m
    for _ in range(4):  # the rows per metre depend on the line of sight, which depends on the height
        sight = math.sqrt(p.mark[0] ** 2 + p.mark[1] ** 2 + (height - m.sensor_height_m) ** 2)
        eye_row = projection.fov.rows - margin - LOWER_FACE_BAND_M[1] * projection.scale(sight)[1]
        elevation = projection.direction(eye_row, projection.fov.columns / 2.0)[1]
        height = m.sensor_height_m + p.mark[0] * math.tan(math.radians(elevation))
    return replace(p, eye_height_m=height)


class _Chilled:
    """A person's physiology with the face still chilled from outdoors: each skin region ``drops[region]``
    degC below what it would read (constant over a visit: the face warms back over minutes)."""

    def __init__(self, physiology, drops: np.ndarray, came_in_s: float):
        self._physiology = physiology
        self._drops = drops
        self.from_cold = True
        self.came_in_s = came_in_s

    def __getattr__(self, name):
        return getattr(self._physiology, name)

    def surfaces_c(self, ambient_c: float, t_local: float) -> np.ndarray:
        return self._physiology.surfaces_c(ambient_c, t_local) - self._drops

    def forehead_c(self, ambient_c: float, t_local: float) -> float:
        return self._physiology.forehead_c(ambient_c, t_local) - float(self._drops[REGIONS.index("forehead")])

    def canthus_c(self, ambient_c: float, t_local: float) -> float:
        return self._physiology.canthus_c(ambient_c, t_local) - float(self._drops[REGIONS.index("canthus")])

    def canthus_region_c(self, ambient_c: float, t_local: float) -> float:
        return self._physiology.canthus_region_c(ambient_c, t_local) - float(self._drops[REGIONS.index("canthus")])


def _cold(p: Person, rng: np.random.Generator, projection) -> Person:
    canthus = float(rng.uniform(2.0, 4.0))
    face = canthus * float(rng.uniform(1.0, 1.8))
    nose = face * float(rng.uniform(1.0, 2.5))
    drops = np.zeros(len(REGIONS))
    for region, drop in (("canthus", canthus), ("canthus_ring", canthus), ("periorbital", canthus), ("eye", canthus),
                         ("forehead", face), ("temple", face), ("lower_face", face), ("neck", face), ("nose", nose)):
        drops[REGIONS.index(region)] = drop
    chilled = _Chilled(p.physiology, drops, came_in_s=p.walk_start_s - 30.0)
    return replace(p, physiology=chilled)


_KINDS = {"slow_approach": (_slow_approach, _slowly), "walk_through": (_walk_through, _through),
          "masked": (_masked, None), "cut_off": (_cut_off, _tall), "chin_cut_off": (_fever_queue, _short),
          "cold_face": (_fever_queue, _cold)}


class _KindScene(Scene):
    """A scene whose people, once drawn, are changed by their scenario kind (a seeded draw of its own)."""

    def person(self, cycle: int, index: int) -> Person:
        p = super().person(cycle, index)
        change = _KINDS[self.spec.name][1]
        if change is None:
            return p
        key = (self.spec.name, self.seed, cycle, index, "kind")
        rng = np.random.default_rng(stable_key(*key) if self.session is None else stable_key(*key, self.session))
        return change(p, rng, self.projection)


class Scenario:
    """A named scenario for one gate: seed, lens variant and refresh rate fixed.

    ``world`` (sim/scenes/world.py: DEV or HELD_OUT) draws the run's physics
    and people from its ranges; the seed must then lie in the world's seed
    space. Without one the scenario runs in the nominal world: fixed optics,
    sensor, reference, mounting and people (the functional tests' world).
    """

    def __init__(self, name: str, seed: int = 0, *, variant: str = Lens.NARROW, refresh_hz: float = 8.0,
                 world: World | None = None, credentials: Callable[[int], str | None] | None = None,
                 people: Sequence[PersonPlan] | None = None, session: str | None = None):
        """``credentials(i)``: the QR code person ``i`` of the queue scans (the same person in every
        cycle), or None for one who scans nothing; None (the default): nobody scans.

        ``people``: the queue is exactly these people, in this order, once (:func:`_listed`); then the room
        stays empty for good. Each PersonPlan replaces the scenario's plan for that person; the named
        scenario still gives the room, the reference, the events, the lead-in and slot, and (for its kind)
        how people walk; the rest of each person (walk, stance, height, skin offsets) is drawn from the seed
        as usual. A listed person's ``credential`` is what they scan, unless ``credentials`` says otherwise.

        ``session``: another session at the same gate. Everything that belongs to the gate and the room
        (optics, sensor and its errors, reference, mounting, room, events) is the seed's as usual, but every
        person (walk, stance, height, look, skin) is drawn under this name as well, so that no one of them is
        one of the seed's own people (see :class:`sim.scenes.scene.Scene`)."""
        variant = Lens.parse(str(variant)).value  # ValueError names the spellings
        refresh_hz = float(refresh_hz)
        if not (math.isfinite(refresh_hz) and refresh_hz > 0):
            raise ValueError(f"refresh_hz must be positive, got {refresh_hz}")
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; the scenarios are {', '.join(SCENARIOS)}")
        self.people = None if people is None else _check_people(people)
        if credentials is None and self.people is not None and any(p.credential for p in self.people):
            credentials = _listed_credentials(self.people)
        self.name = name
        self.seed = int(seed) if world is None else world.check_seed(seed)
        self.variant = variant
        self.refresh_hz = refresh_hz
        self.world = world
        fov, mounting = VARIANTS[variant]
        if world is None:
            self.physics = Physics()
            spec, self.events = _build(name, np.random.default_rng(stable_key(name, self.seed, "setup")))
            spec = _listed(spec, self.people)
        else:
            self.physics = world.draw(name, self.seed, variant)
            mounting = self.physics.mounting or mounting  # a world's own mounting, else the lens's
            setup = np.random.default_rng(stable_key(world.name, name, self.seed, "setup"))
            spec, self.events = _build(name, setup, self.physics.ambient_c)
            spec = _in_world(_listed(spec, self.people), world, self.physics)
        self.credentials = credentials
        if credentials is not None:
            spec = _with_credentials(spec, credentials)
        self.spec = spec
        self._scans: dict[int, list[Scan]] = {}
        self.duration_s = spec.duration_s
        self.scene = (_KindScene if name in _KINDS else Scene)(
            spec, self.seed, fov, mounting, refresh_hz, variant, physics=self.physics,
            world=None if world is None else world.name, session=session)
        self._lock = threading.Lock()  # the scene keeps caches: one render at a time

    @property
    def fov(self) -> FieldOfView:
        return self.scene.projection.fov

    @property
    def mounting(self) -> Mounting:
        return self.scene.projection.mounting

    def frame_at(self, t: float) -> SceneFrame:
        """The frame at ``t`` seconds from the start, sensor errors included. Safe from any thread."""
        with self._lock:
            image, ta, truth = self.scene.render(float(t))
        return SceneFrame(image, ta, truth)

    def clean_at(self, t: float) -> SceneFrame:
        """The frame at ``t`` as a perfect sensor would see it: optics only, no noise, offsets, drift or garbage."""
        with self._lock:
            image, ta, truth = self.scene.render(float(t), sensor_errors=False)
        return SceneFrame(image, ta, truth)

    def send_on(self, person_id: int, t: float) -> None:
        """Person ``person_id`` walks on from the mark at ``t`` seconds from the start instead of standing their
        full time (the gate gave them their result: sim/waiting.py). Safe from any thread."""
        with self._lock:
            self.scene.send_on(person_id, float(t))

    def scans(self, t0: float, t1: float) -> list[Scan]:
        """The scans from ``t0`` (included) to ``t1`` (excluded), in time order: each person with a
        credential shows it SCAN_LEAD_S before standing on the mark. Safe from any thread."""
        if self.credentials is None or t1 <= t0:
            return []
        d = self.duration_s
        last = 0 if self.spec.once else int(t1 // d)  # a listed queue scans in its one cycle only
        out: list[Scan] = []
        with self._lock:
            for cycle in range(max(0, int(t0 // d)), last + 1):
                if cycle not in self._scans:
                    people = [self.scene.person(cycle, i) for i in range(self.spec.n_people)]
                    self._scans[cycle] = sorted(
                        (Scan(cycle * d + p.arrive_s - SCAN_LEAD_S, p.id, p.credential) for p in people
                         if p.credential is not None), key=lambda s: s.t)
                    if len(self._scans) > 4:
                        self._scans.pop(min(self._scans))
                out.extend(s for s in self._scans[cycle] if t0 <= s.t < t1)
        return sorted(out, key=lambda s: s.t)

    def __repr__(self) -> str:
        world = "" if self.world is None else f", world={self.world.name!r}"
        listed = "" if self.people is None else f", people={len(self.people)}"
        return (f"Scenario({self.name!r}, seed={self.seed}, variant={self.variant!r}, "
                f"refresh_hz={self.refresh_hz:g}, duration_s={self.duration_s:g}{world}{listed})")


def _check_people(people: Sequence[PersonPlan]) -> tuple[PersonPlan, ...]:
    listed = tuple(people)
    if not listed:
        raise ValueError("people: a listed queue needs at least one person")
    for i, p in enumerate(listed):
        if not isinstance(p, PersonPlan):
            raise TypeError(f"people[{i}] is a {type(p).__name__}, not a PersonPlan")
        if not (math.isfinite(p.core_c) and 30.0 <= p.core_c <= 45.0):
            raise ValueError(f"people[{i}].core_c must be a body temperature (30-45 degC), got {p.core_c!r}")
    return listed


def _listed(spec: SceneSpec, people: tuple[PersonPlan, ...] | None) -> SceneSpec:
    """``spec`` whose queue is exactly ``people`` (person i follows ``people[i]``), once: after its first
    cycle nobody comes, so no one but them ever stands on the mark. None: ``spec`` as it is."""
    if people is None:
        return spec
    return replace(spec, n_people=len(people), plan=lambda i, _rng: people[i], once=True)


def _listed_credentials(people: tuple[PersonPlan, ...]) -> Callable[[int], str | None]:
    def credential(i: int) -> str | None:
        return people[i].credential if i < len(people) else None

    return credential


def _with_credentials(spec: SceneSpec, credentials: Callable[[int], str | None]) -> SceneSpec:
    plan = spec.plan

    def scanning(i: int, rng: np.random.Generator) -> PersonPlan:
        return replace(plan(i, rng), credential=credentials(i))

    return replace(spec, plan=scanning)


def scenario(name: str, seed: int = 0, *, variant: str = Lens.NARROW, refresh_hz: float = 8.0,
             world: World | None = None, credentials: Callable[[int], str | None] | None = None,
             people: Sequence[PersonPlan] | None = None, session: str | None = None) -> Scenario:
    """The named scenario (one of :data:`SCENARIOS`), reproducible from ``seed``, in ``world`` (None: nominal);
    ``credentials(i)``: the QR code person ``i`` of the queue scans at the gate (None: nobody scans);
    ``people``: the queue is exactly these, once, then nobody; ``session``: the same gate and room, other
    people (see :class:`Scenario`)."""
    return Scenario(name, seed, variant=variant, refresh_hz=refresh_hz, world=world, credentials=credentials,
                    people=people, session=session)


class LensMeasurement:
    """The lens measurement (``thermogate calibrate lens``) as a scenario a virtual gate runs: nobody in view, the
    heated disc stood close in front of the sensor (sim/scenes/lens_target.py) until ``take_disc_away()``. The
    run's lens and sensor are ``physics``, else ``world``'s draw for ``seed`` (None: the nominal world's). No
    events, no scans."""

    events: tuple[Event, ...] = ()

    def __init__(self, seed: int = 0, *, variant: str = Lens.NARROW, refresh_hz: float = 8.0,
                 world: World | None = None, physics: Physics | None = None, target=None):
        from .scenes.lens_target import LensTargetScene

        self.variant = Lens.parse(str(variant)).value
        self.seed = int(seed) if world is None else world.check_seed(seed)
        self.refresh_hz = float(refresh_hz)
        if physics is None:
            physics = Physics() if world is None else world.draw("school_queue", self.seed, self.variant)
        self.physics = physics
        self.scene = LensTargetScene(self.physics, VARIANTS[self.variant][0], self.seed, target, self.refresh_hz)
        self._lock = threading.Lock()  # the sensor's noise generator is rewound for every frame

    def take_disc_away(self) -> None:
        self.scene.disc_in_view = False

    def frame_at(self, t: float) -> SceneFrame:
        with self._lock:
            disc = self.scene.disc_in_view
            image = self.scene.image_at(float(t), disc)
        return SceneFrame(image, self.scene.ta_c, {"disc_in_view": disc})


class FlatFieldCapture:
    """The flat field (``thermogate calibrate flat``) as a scenario a virtual gate runs: the heated disc held flat
    against the window of scenario ``of``'s sensor, filling its view (sim/scenes/flat_field.py), through that
    sensor's errors (its pixel offsets, ``of.scene.errors.offsets``, the ones its frames carry) at times past
    ``of``'s own frames, reading ``card_c`` (None: ``of``'s reference disc's set point, else flat_field.CARD_C).
    No events, no scans."""

    events: tuple[Event, ...] = ()

    def __init__(self, of: Scenario, card_c: float | None = None):
        from .scenes.flat_field import CARD_C, FlatFieldScene

        self.variant, self.seed, self.refresh_hz, self.physics = of.variant, of.seed, of.refresh_hz, of.physics
        reference = of.physics.reference
        card = card_c if card_c is not None else reference.temp_c if reference is not None else CARD_C
        ambient = of.physics.ambient_c if of.physics.ambient_c is not None else of.scene.ambient_for(0)
        self.scene = FlatFieldScene(of.scene.errors, ambient, card, start_s=of.duration_s + 60.0)
        self._lock = threading.Lock()  # the sensor's noise generator is rewound for every frame

    def frame_at(self, t: float) -> SceneFrame:
        with self._lock:
            image = self.scene.image_at(float(t))
        return SceneFrame(image, self.scene.ta_c, {"flat_field": True})
