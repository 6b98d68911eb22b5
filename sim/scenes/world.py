"""Worlds: the ranges a scene's physics is drawn from, so that no benchmark runs on our own constants.

A :class:`World` holds, for every physical quantity the simulator needs
(optics, reference source, sensor errors, room, mounting, people), the range
it is drawn from; docs/simulation.md ("Worlds") gives the source or the
reasoning behind each range. ``world.draw(kind, seed, variant)`` fixes one
run's :class:`Physics`; ``world.person(...)`` fixes one person's age, eye
height, head size, look and arrival from the cold.

- :data:`DEV` is the world the product may be developed and tuned against.
- :data:`HELD_OUT` has wider ranges (each contains DEV's) and its own seed
  space (its seeds can never be DEV's). NOTHING IN THE PRODUCT MAY BE TUNED ON
  HELD_OUT: it exists to tell whether what was tuned on DEV holds elsewhere.
- The nominal world (a scenario's ``world=None``; :class:`Physics`'s
  defaults) is the fixed textbook configuration: every range a single point
  (the 0.4 px lens, the 7 cm reference at its set point, the recommended
  primary-school mounting, a 15 cm face). The functional tests and the demo
  use it. It makes no accuracy claim.

Draws are pure functions of (world, scenario kind, seed, lens): the same
arguments give the same physics in any process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import cache

import numpy as np

from controller.geometry import Lens, recommend_mounting

from .optics import Mounting
from .people import STAND_S
from .room import ReferenceSpec

Span = tuple[float, float]

# Median standing height (m) by age, boys and girls averaged (CDC 2000 growth charts, 50th percentile), with the
# spread between children of one age (sd, m), read off the same charts' 5th-95th percentiles.
STATURE_BY_AGE_M = {6: 1.155, 7: 1.217, 8: 1.276, 9: 1.330, 10: 1.384, 11: 1.437, 12: 1.496, 13: 1.560,
                    14: 1.618, 15: 1.656, 16: 1.682, 17: 1.696, 18: 1.703}
STATURE_SD_BY_AGE_M = {6: 0.050, 7: 0.053, 8: 0.056, 9: 0.059, 10: 0.062, 11: 0.067, 12: 0.072, 13: 0.078,
                       14: 0.080, 15: 0.080, 16: 0.080, 17: 0.080, 18: 0.080}
ADULT_STATURE_M = (1.69, 0.095)  # mean, sd: men and women together (about 1.76 and 1.63 each)
# Top of the head to the eyes: about 11.5 cm in adults (standing eye height minus stature in adult
# anthropometry), a little less in young children, whose heads are smaller.
VERTEX_TO_EYE_M = (0.100, 0.115)  # at age 6, adult
# Maximum head breadth (m), which the 15 cm face template stands for: about 14.0 cm at 6, 15.0 cm in adults
# (Farkas 1994 norms, eu-eu), sd about 0.6 cm.
HEAD_BREADTH_M = (0.140, 0.150)
HEAD_BREADTH_SD_M = 0.006
TEMPLATE_HEAD_M = 0.15
SITE_AGES = {"primary": (6, 11), "secondary": (11, 18), "all-through": (6, 18)}

ADULTS_IN_BAND = 0.1  # an installer mounts for the adults too when they are more than this share of those passing
IN_SCOPE_MARK_M = (0.3, 0.6)
IN_SCOPE_ROOM_C = (18.0, 28.0)


@dataclass(frozen=True)
class Physics:
    """One run's physics: everything the scene renders that is not a person.

    The defaults are the NOMINAL world (the fixed values the functional tests use).
    """

    psf_sigma_px: float = 0.4
    psf_wing_share: float = 0.0  # the share of the energy the lens's wider wings carry (none in the nominal world)
    psf_wing_sigma_px: float = 2.0  # their Gaussian's sigma
    netd_1hz_c: float = 0.1
    pixel_offset_sd_c: float = 0.15
    sensor_offset_c: float = 0.0  # common to all pixels
    sensor_gain: float = 0.0  # relative error of the scale (reading - die temperature)
    drift_scale: float = 1.0  # times the nominal slow drift
    noise_draw: int = 0  # which draw of the sensor's noise over time: 0 the run's own, another number a fresh one
    skin_emissivity: float = 0.98
    ambient_c: float | None = None  # None: the scenario's own room
    reference: ReferenceSpec | None = None  # None with reference_in_view: the nominal disc (room.py)
    reference_in_view: bool = True
    mounting: Mounting | None = None  # None: the lens's nominal mounting
    site: str = "primary"
    adult_share: float = 0.0
    glasses_share: float = 0.0
    mask_share: float = 0.0
    fringe_share: float = 0.0
    hat_share: float = 0.0
    cold_share: float = 0.0
    outdoor_c: float = 0.0
    nominal_people: bool = True  # eye heights 1.17-1.43 m, 15 cm faces, looks as the scenario says

    @property
    def mark_distance_m(self) -> float | None:
        return None if self.mounting is None else self.mounting.mark_distance_m

    def in_scope(self) -> bool:
        """Reference in view, mark at 0.3-0.6 m, room at 18-28 degC: where the accuracy targets apply."""
        m = self.mark_distance_m
        return (self.reference_in_view and m is not None and self.ambient_c is not None
                and IN_SCOPE_MARK_M[0] <= m <= IN_SCOPE_MARK_M[1]
                and IN_SCOPE_ROOM_C[0] <= self.ambient_c <= IN_SCOPE_ROOM_C[1])


@dataclass(frozen=True)
class PersonDraw:
    """What a world fixes about one person besides their core temperature."""

    age: int | None  # None: an adult
    eye_height_m: float
    face_scale: float  # head breadth / 15 cm
    glasses: bool
    mask: bool
    cover: str | None
    outdoor_c: float | None  # came in from outdoors at this temperature ...
    indoor_s: float  # ... this long before reaching the gate


@dataclass(frozen=True)
class World:
    """The ranges one world draws its physics from (each a (low, high) span, drawn uniformly).

    ``seeds`` is the world's seed space: a scenario in this world accepts
    only seeds in it. ``in_scope_share`` of the runs are drawn inside the
    accuracy targets' scope: room at 18-28 degC, reference in view, and the
    mark anywhere in the specified 0.3-0.6 m (with either lens, even where
    that lens cannot show every face whole). The rest draw the room over the
    whole range, have the reference in view with probability
    ``reference_in_view``, and put the mark where docs/installation.md
    recommends for the site and the lens, times ``mark_factor``, kept within
    ``mark_distance_m`` (about 1.2 m with the 55° lens, 0.55-0.75 m with the
    110°).
    """

    name: str
    seeds: range
    psf_sigma_px: Span
    psf_wing_share: Span
    psf_wing_sigma_px: Span
    netd_1hz_c: Span
    pixel_offset_sd_c: Span
    sensor_offset_c: Span
    sensor_gain: Span
    drift_scale: Span
    skin_emissivity: Span
    ambient_c: Span
    reference_diameter_m: Span
    reference_distance_m: Span
    reference_emissivity: Span
    reference_set_c: Span
    reference_row: Span
    reference_column: Span  # from the nearer side edge; the side is drawn
    reference_wall_offset_c: Span  # a warm patch of wall behind the disc (radiator, sun), when there is one
    mark_distance_m: Span
    mark_factor: Span
    height_error_m: Span
    tilt_error_deg: Span
    adult_share: Span
    glasses_share: Span
    mask_share: Span
    fringe_share: Span
    hat_share: Span
    cold_share: Span
    outdoor_c: Span
    indoor_s: Span
    stand_s: Span = STAND_S  # how long people stand on the mark before walking on, decided or not (both worlds
    # alike; bench_accuracy.py --stand draws it wider to see what people who wait for their decision would get)
    noise_draw: int = 0  # 0: every run's sensor noise over time as drawn; K: the same runs with a fresh draw of it
    # (bench_accuracy.py --noise-draw: how far the figures move with the noise alone)
    reference_in_view: float = 0.85
    reference_wall_share: float = 0.1  # how often a warm wall sits behind the disc
    in_scope_share: float = 0.75

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple) and not (len(v) == 2 and v[0] <= v[1]):
                raise ValueError(f"world {self.name}: {f.name} must be (low, high), got {v!r}")

    def spans(self) -> dict[str, Span]:
        """Every range of this world, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), tuple)}

    def check_seed(self, seed: int) -> int:
        seed = int(seed)
        if seed not in self.seeds:
            raise ValueError(f"seed {seed} is outside world {self.name}'s seed space "
                             f"{self.seeds.start}..{self.seeds.stop - 1}")
        return seed

    def seed(self, i: int) -> int:
        """The i-th seed of this world's seed space."""
        return self.seeds[i]

    def rng(self, *parts: object) -> np.random.Generator:
        digest = hashlib.sha256(repr((self.name,) + parts).encode()).digest()
        return np.random.default_rng([int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)])

    def draw(self, kind: str, seed: int, variant: str) -> Physics:
        """The physics of run ``seed`` of scenario ``kind`` through lens ``variant`` ("55" or "110")."""
        seed = self.check_seed(seed)
        rng = self.rng(kind, seed, variant, "physics")
        u = lambda span: float(rng.uniform(*span))  # noqa: E731
        in_scope = bool(rng.random() < self.in_scope_share)
        ambient = u(_inside(self.ambient_c, IN_SCOPE_ROOM_C) if in_scope else self.ambient_c)
        ref_in_view = in_scope or bool(rng.random() < self.reference_in_view)
        site = ("primary", "secondary", "all-through")[int(rng.integers(3))]
        adults = u(self.adult_share)
        fov = Lens.parse(variant).fov
        if in_scope:
            mark = u(_inside(self.mark_distance_m, IN_SCOPE_MARK_M))
        else:
            mark = float(np.clip(recommended_mark_m(site, adults, fov) * u(self.mark_factor), *self.mark_distance_m))
        mounting = installed_mounting(site, adults, mark, fov, u(self.height_error_m), u(self.tilt_error_deg))
        side = rng.random() < 0.5
        col = u(self.reference_column)
        wall = u(self.reference_wall_offset_c)
        reference = ReferenceSpec(
            diameter_m=u(self.reference_diameter_m), distance_m=u(self.reference_distance_m),
            emissivity=u(self.reference_emissivity), temp_c=u(self.reference_set_c),
            centre_px=(u(self.reference_row), 32.0 - col if side else col),
            wall_offset_c=wall if rng.random() < self.reference_wall_share else None)
        # The lens's wings are drawn from a stream of their own, so that adding them left every other draw as it was.
        wing_rng = self.rng(kind, seed, variant, "psf wings")
        wing_share, wing_sigma = (float(wing_rng.uniform(*span)) for span in (self.psf_wing_share,
                                                                              self.psf_wing_sigma_px))
        return Physics(
            psf_sigma_px=u(self.psf_sigma_px), psf_wing_share=wing_share, psf_wing_sigma_px=wing_sigma,
            netd_1hz_c=u(self.netd_1hz_c),
            pixel_offset_sd_c=u(self.pixel_offset_sd_c), sensor_offset_c=u(self.sensor_offset_c),
            sensor_gain=u(self.sensor_gain), drift_scale=u(self.drift_scale), skin_emissivity=u(self.skin_emissivity),
            ambient_c=ambient, reference=reference if ref_in_view else None, reference_in_view=ref_in_view,
            mounting=mounting, site=site, adult_share=adults, glasses_share=u(self.glasses_share),
            mask_share=u(self.mask_share), fringe_share=u(self.fringe_share), hat_share=u(self.hat_share),
            cold_share=u(self.cold_share), outdoor_c=u(self.outdoor_c), nominal_people=False,
            noise_draw=self.noise_draw)

    def person(self, physics: Physics, rng: np.random.Generator) -> PersonDraw:
        """One person of a run with ``physics``: age, eye height, head size, look, arrival from the cold."""
        adult = bool(rng.random() < physics.adult_share)
        if adult:
            age = None
            stature = rng.normal(*ADULT_STATURE_M)
            vertex, breadth = VERTEX_TO_EYE_M[1], HEAD_BREADTH_M[1]
        else:
            lo, hi = SITE_AGES[physics.site]
            age = int(rng.integers(lo, hi + 1))
            stature = rng.normal(STATURE_BY_AGE_M[age], STATURE_SD_BY_AGE_M[age])
            share = (age - 6) / 12.0
            vertex = VERTEX_TO_EYE_M[0] + share * (VERTEX_TO_EYE_M[1] - VERTEX_TO_EYE_M[0])
            breadth = HEAD_BREADTH_M[0] + share * (HEAD_BREADTH_M[1] - HEAD_BREADTH_M[0])
        stature = float(np.clip(stature, 1.00, 2.05))
        breadth = float(np.clip(rng.normal(breadth, HEAD_BREADTH_SD_M), 0.125, 0.170))
        cover_draw = rng.random()
        cover = ("hat" if cover_draw < physics.hat_share
                 else "fringe" if cover_draw < physics.hat_share + physics.fringe_share else None)
        glasses = bool(rng.random() < physics.glasses_share)
        mask = bool(rng.random() < physics.mask_share)
        cold = bool(rng.random() < physics.cold_share)
        return PersonDraw(age=age, eye_height_m=stature - vertex, face_scale=breadth / TEMPLATE_HEAD_M,
                          glasses=glasses, mask=mask, cover=cover, outdoor_c=physics.outdoor_c if cold else None,
                          indoor_s=float(rng.uniform(*self.indoor_s)))


def _inside(span: Span, scope: Span) -> Span:
    return max(span[0], scope[0]), min(span[1], scope[1])


def eye_height_band(site: str, adult_share: float) -> tuple[float, float]:
    """The eye heights an installer mounts a gate for: the site's children (5th-95th percentile), and the
    adults' too where adults are more than a tenth of those passing."""
    lo_age, hi_age = SITE_AGES[site]
    low = STATURE_BY_AGE_M[lo_age] - 1.645 * STATURE_SD_BY_AGE_M[lo_age]
    high = STATURE_BY_AGE_M[hi_age] + 1.645 * STATURE_SD_BY_AGE_M[hi_age]
    if adult_share > ADULTS_IN_BAND:
        high = max(high, ADULT_STATURE_M[0] + 1.645 * ADULT_STATURE_M[1])
    share = lambda age: (age - 6) / 12.0  # noqa: E731
    v_lo = VERTEX_TO_EYE_M[0] + share(lo_age) * (VERTEX_TO_EYE_M[1] - VERTEX_TO_EYE_M[0])
    return round(low - v_lo, 2), round(high - VERTEX_TO_EYE_M[1], 2)


def recommended_mark_m(site: str, adult_share: float, fov) -> float:
    """The mark distance docs/installation.md recommends for the site's eye heights through ``fov``
    (controller.geometry.recommend_mounting); for the children alone where no mounting shows the adults too;
    1.5 m (the farthest the tables go) where none shows even them."""
    return _recommended_mark_m(site, adult_share > ADULTS_IN_BAND, fov)


@cache
def _recommended_mark_m(site: str, adults: bool, fov) -> float:
    for share in ((1.0, 0.0) if adults else (0.0,)):
        best = recommend_mounting(*eye_height_band(site, share), fov)
        if best is not None:
            return best.distance_m
    return 1.5


def installed_mounting(site: str, adult_share: float, mark_m: float, fov, height_error_m: float,
                       tilt_error_deg: float) -> Mounting:
    """How an installer following docs/installation.md mounts the sensor for a site with the mark at ``mark_m``:
    the recommended height and tilt for the site's eye heights at that mark (the nearest grid distance), then
    off by what a tape measure and an inclinometer leave. Where no mounting of the grid keeps every face in view,
    the sensor goes at the middle of the eye heights, level."""
    lo, hi = eye_height_band(site, adult_share)
    grid = round(min(max(mark_m, 0.3), 1.5) * 20.0) / 20.0
    best = recommend_mounting(lo, hi, fov, distances_m=(grid,))
    height, tilt = (best.sensor_height_m, best.tilt_deg) if best is not None else ((lo + hi) / 2.0, 0.0)
    return Mounting(sensor_height_m=round(height + height_error_m, 3), tilt_deg=round(tilt + tilt_error_deg, 2),
                    mark_distance_m=round(mark_m, 3))


def _span_contains(outer: Span, inner: Span) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


# The world the product may be developed against. Ranges: docs/simulation.md, "Worlds".
DEV = World(
    name="dev", seeds=range(0, 1 << 30),
    psf_sigma_px=(0.3, 0.8), psf_wing_share=(0.0, 0.0), psf_wing_sigma_px=(2.0, 2.0),
    netd_1hz_c=(0.08, 0.15), pixel_offset_sd_c=(0.10, 0.25),
    sensor_offset_c=(-1.0, 1.0), sensor_gain=(-0.02, 0.02), drift_scale=(0.5, 1.5),
    skin_emissivity=(0.97, 0.99), ambient_c=(16.0, 30.0),
    reference_diameter_m=(0.05, 0.10), reference_distance_m=(0.3, 1.0), reference_emissivity=(0.95, 0.99),
    reference_set_c=(33.0, 38.0), reference_row=(3.0, 6.0), reference_column=(3.0, 7.0),
    reference_wall_offset_c=(1.0, 4.0), reference_wall_share=0.1,
    mark_distance_m=(0.3, 1.6), mark_factor=(0.8, 1.25), height_error_m=(-0.05, 0.05), tilt_error_deg=(-3.0, 3.0),
    adult_share=(0.05, 0.20), glasses_share=(0.05, 0.30), mask_share=(0.0, 0.30), fringe_share=(0.10, 0.30),
    hat_share=(0.0, 0.10), cold_share=(0.0, 0.15), outdoor_c=(-5.0, 10.0), indoor_s=(10.0, 120.0),
    reference_in_view=0.85, in_scope_share=0.75,
)

# The held-out world: wider ranges, its own seeds. NOTHING IN THE PRODUCT MAY BE TUNED ON IT (no constant, no
# threshold, no choice between designs): its figures say whether what was tuned on DEV holds in a world it was
# not tuned on. make bench-accuracy prints it beside DEV.
HELD_OUT = World(
    name="held-out", seeds=range(1 << 30, 1 << 31),
    psf_sigma_px=(0.2, 1.1), psf_wing_share=(0.0, 0.25), psf_wing_sigma_px=(1.5, 4.0),
    netd_1hz_c=(0.06, 0.25), pixel_offset_sd_c=(0.05, 0.40),
    sensor_offset_c=(-1.5, 1.5), sensor_gain=(-0.04, 0.04), drift_scale=(0.0, 2.5),
    skin_emissivity=(0.95, 0.99), ambient_c=(12.0, 34.0),
    reference_diameter_m=(0.03, 0.15), reference_distance_m=(0.2, 1.5), reference_emissivity=(0.90, 1.0),
    reference_set_c=(30.0, 40.0), reference_row=(2.0, 8.0), reference_column=(2.0, 9.0),
    reference_wall_offset_c=(1.0, 8.0), reference_wall_share=0.2,
    mark_distance_m=(0.25, 2.0), mark_factor=(0.65, 1.5), height_error_m=(-0.10, 0.10),
    tilt_error_deg=(-6.0, 6.0),
    adult_share=(0.0, 0.35), glasses_share=(0.0, 0.45), mask_share=(0.0, 0.60), fringe_share=(0.0, 0.50),
    hat_share=(0.0, 0.20), cold_share=(0.0, 0.30), outdoor_c=(-15.0, 15.0), indoor_s=(5.0, 300.0),
    reference_in_view=0.80, in_scope_share=0.75,
)

WORLDS = {w.name: w for w in (DEV, HELD_OUT)}


def world_named(name: str) -> World:
    try:
        return WORLDS[name]
    except KeyError:
        raise ValueError(f"unknown world {name!r}; the worlds are {', '.join(WORLDS)}") from None


def held_out_contains_dev() -> bool:
    """Whether every range of HELD_OUT contains DEV's (what makes it the wider world)."""
    dev = DEV.spans()
    return all(_span_contains(span, dev[name]) for name, span in HELD_OUT.spans().items())

