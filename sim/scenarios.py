"""The named scenarios: seeded, reproducible scenes for tests, the demo and benchmarks.

    sc = scenario("fever", seed=3, variant="110", refresh_hz=8.0)
    frame = sc.frame_at(12.5)      # SceneFrame: image (24, 32) degC, ta, truth
    clean = sc.clean_at(12.5)      # the same moment without sensor errors
    for event in sc.events: ...    # wifi_down / wifi_up / i2c_fail / garbage_pixels

A frame is a pure function of (name, seed, variant, refresh rate, t): the
same arguments give the same image, in any order of calls. Past
``duration_s`` the queue keeps coming with new people (ids keep increasing)
and the events do not repeat. docs/simulation.md has the table.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from controller.geometry import NARROW, WIDE, FieldOfView

from .scenes import GarbageWindow, Look, Mounting, PersonPlan, Scene, SceneSpec
from .scenes.optics import COLUMNS, ROWS
from .scenes.physiology import normal_core_c
from .scenes.scene import stable_key
from .scenes.world import Physics, World

SCENARIOS: tuple[str, ...] = (
    "normal_queue", "fever", "cold_arrival", "glasses", "hat", "hot_cup", "two_people", "no_reference", "far",
    "sensor_fault", "wifi_drop", "linearity", "ambient_sweep", "school_queue",
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
}

# The recommended primary-school mountings of docs/installation.md (controller.geometry.recommend_mounting).
VARIANTS: dict[str, tuple[FieldOfView, Mounting]] = {
    "55": (NARROW, Mounting(sensor_height_m=1.30, tilt_deg=0.0, mark_distance_m=0.90)),
    "110": (WIDE, Mounting(sensor_height_m=1.30, tilt_deg=0.0, mark_distance_m=0.45)),
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
    else:
        raise ValueError(f"unknown scenario {name!r}; the scenarios are {', '.join(SCENARIOS)}")
    return spec, events


def _in_world(spec: SceneSpec, world: World, physics: Physics) -> SceneSpec:
    """``spec`` with its people drawn from ``world``: age, eye height and head size always; glasses, masks,
    hair and hats as the world's shares say, on top of what the scenario itself gives; an arrival from the
    cold where the scenario has none."""
    plan = spec.plan

    def worldly(i: int, rng: np.random.Generator) -> PersonPlan:
        p = plan(i, rng)
        w = world.person(physics, rng)  # rng is the scene's, seeded with (world, scenario, seed, cycle, i)
        look = Look(glasses=p.look.glasses or w.glasses, cover=p.look.cover or w.cover,
                    mask=p.look.mask or w.mask, cup=p.look.cup)
        extra = {}
        if p.outdoor_c is None and w.outdoor_c is not None:
            extra = dict(outdoor_c=w.outdoor_c, came_in_s=spec.lead_s + i * spec.slot_s + 1.0 - w.indoor_s)
        return replace(p, look=look, eye_height_m=w.eye_height_m, face_scale=w.face_scale, age=w.age, **extra)

    return replace(spec, plan=worldly)


class Scenario:
    """A named scenario for one gate: seed, lens variant and refresh rate fixed.

    ``world`` (sim/scenes/world.py: DEV or HELD_OUT) draws the run's physics
    and people from its ranges; the seed must then lie in the world's seed
    space. Without one the scenario runs in the nominal world: fixed optics,
    sensor, reference, mounting and people (the functional tests' world).
    """

    def __init__(self, name: str, seed: int = 0, *, variant: str = "55", refresh_hz: float = 8.0,
                 world: World | None = None):
        variant = str(variant)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be '55' or '110', got {variant!r}")
        refresh_hz = float(refresh_hz)
        if not (math.isfinite(refresh_hz) and refresh_hz > 0):
            raise ValueError(f"refresh_hz must be positive, got {refresh_hz}")
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; the scenarios are {', '.join(SCENARIOS)}")
        self.name = name
        self.seed = int(seed) if world is None else world.check_seed(seed)
        self.variant = variant
        self.refresh_hz = refresh_hz
        self.world = world
        fov, mounting = VARIANTS[variant]
        if world is None:
            self.physics = Physics()
            spec, self.events = _build(name, np.random.default_rng(stable_key(name, self.seed, "setup")))
        else:
            self.physics = world.draw(name, self.seed, variant)
            mounting = self.physics.mounting
            setup = np.random.default_rng(stable_key(world.name, name, self.seed, "setup"))
            spec, self.events = _build(name, setup, self.physics.ambient_c)
            spec = _in_world(spec, world, self.physics)
        self.spec = spec
        self.duration_s = spec.duration_s
        self.scene = Scene(spec, self.seed, fov, mounting, refresh_hz, variant, physics=self.physics,
                           world=None if world is None else world.name)
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

    def __repr__(self) -> str:
        world = "" if self.world is None else f", world={self.world.name!r}"
        return (f"Scenario({self.name!r}, seed={self.seed}, variant={self.variant!r}, "
                f"refresh_hz={self.refresh_hz:g}, duration_s={self.duration_s:g}{world})")


def scenario(name: str, seed: int = 0, *, variant: str = "55", refresh_hz: float = 8.0,
             world: World | None = None) -> Scenario:
    """The named scenario (one of :data:`SCENARIOS`), reproducible from ``seed``, in ``world`` (None: nominal)."""
    return Scenario(name, seed, variant=variant, refresh_hz=refresh_hz, world=world)
