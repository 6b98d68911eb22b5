"""Skin, textile and object surface temperatures, and what an infrared sensor sees of them.

The skin model (docs/simulation.md, "Skin"): a skin site sits between the body
core and the room. Heat reaches it through the tissue (conductance ``h_t``,
set by skin blood flow) and leaves it to the room by convection and radiation
(``h_e``). In steady state

    T_site = T_core - k (T_core - T_ambient),    k = h_e / (h_e + h_t),

plus a person's own offset. Where a person's skin sits comes from the model
fitted on real people (:mod:`controller.screening.body_model`, the facial-oral
study of Wang et al., PhysioNet doi:10.13026/3bhc-9065): each site follows the
body and the room linearly, and a person's own offsets (canthus maximum,
canthus region average, forehead) are drawn together, as one study subject's
(:mod:`.skin_data`; :func:`sample_person`, :meth:`Physiology.draw`). The
canthus is a hot spot at the maximum's temperature inside a region whose
average is the region's (:mod:`.face`): 0.65 degC below the maximum on average
in a 22 degC room, as in the study. In that fit the room's share
k is 0.09 for the inner canthus and 0.20 for the forehead, and body and room
gains add up to 0.98 and 0.95: the data agree with the heat balance above.

After time outdoors a site cools towards the steady state for the outdoor
temperature and recovers indoors as a first-order system: it behaves as if the
ambient it sees were ``indoor + (outdoor - indoor) exp(-t / tau)``.

Radiometry: a surface at T with emissivity e, in a room whose walls are at
T_r, sends e T^4 + (1 - e) T_r^4 (in units of the Stefan-Boltzmann law). A
sensor decoding with emissivity 1 reports the blackbody temperature with that
radiance: the "apparent" temperature. Everything here is in degC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from controller.screening.body_model import FEBRILE_POOL_C, BodyModel, default_model

from .face import EMISSIVITY, REGIONS, canthus_spot_share
from .skin_data import residual_rows

ZERO_C = 273.15
SKIN_EMISSIVITY = 0.98
FEVER_C = 37.3

# Normal (afebrile) core temperature: mean and spread across people, truncated to the afebrile range.
CORE_MEAN_C = 36.8
CORE_SD_C = 0.3
CORE_NORMAL_RANGE_C = (36.0, 37.2)

# Heat transfer to the room, W/(m^2 K), for transfer_ratio(); the skin itself comes from the fitted model.
H_ENVIRONMENT = 8.5  # still indoor air: convection about 3, radiation about 5.5

# First-order recovery after coming in from outdoors, seconds.
TAU_FOREHEAD_S = 180.0
TAU_CANTHUS_S = 90.0
TAU_NOSE_S = 300.0
TAU_TEXTILE_S = 300.0

# Surfaces that are not skin: how far they sit from ambient towards the forehead's temperature.
HAIR_FRACTION = 0.45
FRINGE_FRACTION = 0.60
CLOTHING_FRACTION = 0.35
HAT_FRACTION = 0.30
GLASSES_FRACTION = 0.40
MASK_FRACTION = 0.65
HAND_FRACTION = 0.55
# The eye band (lids, brows, nose bridge) around the canthus region: this much below the region's average, the
# step the study's wider canthus averages (aveAllR13/L13) show below the region's (RCC/LCC): 0.25-0.37 degC.
PERIORBITAL_BELOW_REGION_C = 0.25
OCULAR_BELOW_CANTHUS_C = 1.0  # the ocular surface (34-35 degC; Purslow and Wolffsohn 2005) below the maximum
MASK_BREATH_C = 0.4  # amplitude of the warming of a mask by each breath

_EMISSIVITY = np.array([EMISSIVITY[r] for r in REGIONS])
_INDEX = {r: i for i, r in enumerate(REGIONS)}


def radiance(t_c):
    """T^4 (K^4) of a blackbody at ``t_c`` degC: the quantity mixed pixels and blur average."""
    t = np.asarray(t_c, dtype=float) + ZERO_C
    return t * t * t * t


def temperature_from_radiance(radiance_k4):
    """The blackbody temperature (degC) whose T^4 is ``radiance_k4``."""
    return np.sqrt(np.sqrt(radiance_k4)) - ZERO_C


def apparent_c(surface_c: float, emissivity: float, reflected_c: float) -> float:
    """What a sensor decoding with emissivity 1 reads for a surface seen whole (degC)."""
    t = surface_c + ZERO_C
    r = reflected_c + ZERO_C
    return (emissivity * t ** 4 + (1.0 - emissivity) * r ** 4) ** 0.25 - ZERO_C


def transfer_ratio(h_tissue: float, h_environment: float = H_ENVIRONMENT) -> float:
    """k = h_e / (h_e + h_t): the share of the core-to-room difference a skin site loses."""
    return h_environment / (h_environment + h_tissue)


def steady_site_c(core_c: float, ambient_c: float, k: float, offset_c: float = 0.0) -> float:
    """Steady-state temperature of a skin site with transfer ratio ``k``."""
    return core_c - k * (core_c - ambient_c) + offset_c


def remembered_ambient_c(indoor_c: float, outdoor_c: float | None, indoor_s: float, tau_s: float) -> float:
    """The ambient a site behaves as if it saw, ``indoor_s`` seconds after coming in from ``outdoor_c``."""
    if outdoor_c is None:
        return indoor_c
    return indoor_c + (outdoor_c - indoor_c) * math.exp(-max(indoor_s, 0.0) / tau_s)


@dataclass(frozen=True)
class SkinTemps:
    """One person's steady skin in one room, drawn from the fitted joint distribution (degC, true skin
    temperatures, not apparent). ``body_c`` is the body temperature as an oral thermometer in monitor mode
    reads it, the reference the model was fitted against."""

    body_c: float
    ambient_c: float
    canthus_c: float  # the maximum over the inner canthi
    forehead_c: float  # the forehead's centre and lower part
    canthus_offset_c: float  # this person's own departure from the fitted relation, canthus ...
    forehead_offset_c: float  # ... and forehead (drawn together: they are correlated)
    canthus_region_c: float = math.nan  # the average over the canthus region (never above the maximum)
    canthus_region_offset_c: float = math.nan  # ... and its own departure, drawn with the other two


def skin_model() -> BodyModel:
    """The fitted skin-to-body model the simulator's people follow (the product's own, body_model.json)."""
    return default_model()


@cache
def _residual_pools() -> tuple[np.ndarray, np.ndarray]:
    rows = residual_rows()
    febrile = rows[:, 0] >= FEBRILE_POOL_C
    return rows[~febrile], rows[febrile] if febrile.sum() >= 10 else rows


def sample_residuals(rng: np.random.Generator, body_c: float) -> tuple[float, float, float]:
    """A person's own (canthus maximum, canthus region, forehead) offsets from the fitted relations: one study
    subject's residuals (:mod:`.skin_data`), drawn at random, from the febrile subjects (oral >= 37.5) for a body
    at or above 37.5 degC, whose spread is wider, else from the others. One rng call."""
    afebrile, febrile = _residual_pools()
    pool = febrile if body_c >= FEBRILE_POOL_C else afebrile
    row = pool[int(rng.integers(len(pool)))]
    return float(row[1]), float(row[2]), float(row[3])


def sample_offsets(rng: np.random.Generator, body_c: float) -> tuple[float, float]:
    """A person's own (canthus, forehead) offsets: :func:`sample_residuals` without the region's."""
    e_c, _, e_f = sample_residuals(rng, body_c)
    return e_c, e_f


def region_c(canthus_c: float, expected_region_c: float) -> float:
    """The canthus region's average: its relation plus the person's offset, never above the maximum (the
    relations are extended linearly beyond the study's rooms, where the two could otherwise cross)."""
    return min(expected_region_c, canthus_c)


def sample_person(rng: np.random.Generator, body_c: float, ambient_c: float) -> SkinTemps:
    """A person with body temperature ``body_c`` settled in a room at ``ambient_c``: their canthus and
    forehead from the fitted relations plus a study subject's own offsets (:func:`sample_offsets`).

    The relations are linear and fitted over 35.6-40.3 degC and rooms at 20.2-24.0 degC; outside those
    ranges they are extended as they are (the heat balance is linear in both)."""
    m = skin_model()
    e_c, e_r, e_f = sample_residuals(rng, body_c)
    canthus = m.canthus.expected_c(body_c, ambient_c) + e_c
    region = region_c(canthus, _region_fit().expected_c(body_c, ambient_c) + e_r)
    return SkinTemps(float(body_c), float(ambient_c), canthus, m.forehead.expected_c(body_c, ambient_c) + e_f,
                     e_c, e_f, region, e_r)


def _region_fit():
    region = skin_model().canthus_region
    if region is None:
        raise ValueError("the body model has no canthus_region relation (refit with `thermogate model fit`)")
    return region


def sample_body_c(rng: np.random.Generator, febrile: bool | None = None) -> float:
    """An oral temperature of one of the study's subjects: any (None), one at or above 37.8 degC (True), or one
    below 37.3 degC (False). The study's group 1 has 30 subjects at or above 37.8 and its highest is 40.3."""
    body = np.array([r[0] for r in skin_model().residuals], dtype=float)
    if febrile is True:
        body = body[body >= 37.8]
    elif febrile is False:
        body = body[body < FEVER_C]
    return float(body[int(rng.integers(len(body)))])


def normal_core_c(rng: np.random.Generator) -> float:
    """A core temperature from the afebrile population (truncated normal)."""
    lo, hi = CORE_NORMAL_RANGE_C
    while True:
        c = rng.normal(CORE_MEAN_C, CORE_SD_C)
        if lo <= c <= hi:
            return float(c)


@dataclass(frozen=True)
class Physiology:
    """One person's thermal make-up: core temperature and how their skin follows it.

    ``outdoor_c`` is the temperature outside for someone who came in at local
    scenario time ``came_in_s`` (None for someone who has been indoors long).
    """

    core_c: float
    k_forehead: float
    k_canthus: float
    forehead_offset_c: float
    canthus_offset_c: float
    outdoor_c: float | None = None
    k_canthus_region: float = 0.0  # the canthus region's room share and offset (Physiology.draw: the fit's)
    canthus_region_offset_c: float = math.nan  # NaN: no region of its own, it reads as the maximum
    came_in_s: float = 0.0
    cup_c: float = 60.0
    breath_hz: float = 0.25
    breath_phase: float = 0.0

    @classmethod
    def draw(cls, core_c: float, rng: np.random.Generator, *, outdoor_c: float | None = None,
             came_in_s: float = 0.0) -> Physiology:
        """A person with body temperature ``core_c`` whose skin follows the fitted model, with a study
        subject's own offsets (:func:`sample_offsets`).

        The fitted relation site = a + b T_body + k T_room is written in this class's form
        T_body - k (T_body - T_room) + offset, with k the room's share and the offset holding the rest
        (a + (b - 1 + k) T_body plus the subject's residual), so that the steady skin equals
        :func:`sample_person`'s in any room, and a person in from the cold recovers towards it."""
        m = skin_model()
        r = _region_fit()
        e_c, e_r, e_f = sample_residuals(rng, core_c)
        k_c, k_f, k_r = m.canthus.ambient, m.forehead.ambient, r.ambient
        canthus_offset = m.canthus.intercept + (m.canthus.body - 1.0 + k_c) * core_c + e_c
        forehead_offset = m.forehead.intercept + (m.forehead.body - 1.0 + k_f) * core_c + e_f
        region_offset = r.intercept + (r.body - 1.0 + k_r) * core_c + e_r
        return cls(core_c=float(core_c), k_forehead=k_f, k_canthus=k_c,
                   forehead_offset_c=float(forehead_offset), canthus_offset_c=float(canthus_offset),
                   k_canthus_region=k_r, canthus_region_offset_c=float(region_offset), outdoor_c=outdoor_c,
                   came_in_s=float(came_in_s), cup_c=float(rng.uniform(55.0, 65.0)),
                   breath_hz=float(rng.uniform(0.2, 0.33)), breath_phase=float(rng.uniform(0.0, 2 * math.pi)))

    @property
    def from_cold(self) -> bool:
        return self.outdoor_c is not None

    def _seen_ambient_c(self, ambient_c: float, t_local: float, tau_s: float) -> float:
        return remembered_ambient_c(ambient_c, self.outdoor_c, t_local - self.came_in_s, tau_s)

    def forehead_c(self, ambient_c: float, t_local: float) -> float:
        """Forehead skin temperature (degC) at local time ``t_local`` in a room at ``ambient_c``."""
        return steady_site_c(self.core_c, self._seen_ambient_c(ambient_c, t_local, TAU_FOREHEAD_S),
                             self.k_forehead, self.forehead_offset_c)

    def canthus_c(self, ambient_c: float, t_local: float) -> float:
        """Inner-canthus skin temperature (degC)."""
        return steady_site_c(self.core_c, self._seen_ambient_c(ambient_c, t_local, TAU_CANTHUS_S),
                             self.k_canthus, self.canthus_offset_c)

    def canthus_region_c(self, ambient_c: float, t_local: float) -> float:
        """The canthus region's average (degC): the spot at :meth:`canthus_c` and the ring around it. It recovers
        from the cold as the canthus does."""
        canthus = self.canthus_c(ambient_c, t_local)
        if math.isnan(self.canthus_region_offset_c):
            return canthus
        seen = self._seen_ambient_c(ambient_c, t_local, TAU_CANTHUS_S)
        return region_c(canthus, steady_site_c(self.core_c, seen, self.k_canthus_region,
                                               self.canthus_region_offset_c))

    def steady_forehead_c(self, ambient_c: float) -> float:
        """The forehead once fully settled in the room."""
        return steady_site_c(self.core_c, ambient_c, self.k_forehead, self.forehead_offset_c)

    def surfaces_c(self, ambient_c: float, t_local: float) -> np.ndarray:
        """Surface temperature of every region of :data:`face.REGIONS` (degC)."""
        fh = self.forehead_c(ambient_c, t_local)
        ca = self.canthus_c(ambient_c, t_local)
        region = self.canthus_region_c(ambient_c, t_local)
        ring = ca - (ca - region) / (1.0 - canthus_spot_share())  # spot and ring average to the region's
        nose_room = self._seen_ambient_c(ambient_c, t_local, TAU_NOSE_S)
        textile_room = self._seen_ambient_c(ambient_c, t_local, TAU_TEXTILE_S)
        # The nose is acral skin: it vasoconstricts in a cool room and more after the cold.
        nose = fh - 1.0 - 0.15 * max(0.0, 22.0 - nose_room) - 0.2 * (ambient_c - nose_room)
        breath = MASK_BREATH_C * math.sin(2 * math.pi * self.breath_hz * t_local + self.breath_phase)

        def towards(fraction: float, room: float = textile_room) -> float:
            return room + fraction * (fh - room)

        values = {
            "forehead": fh, "temple": fh - 0.3, "periorbital": region - PERIORBITAL_BELOW_REGION_C,
            "eye": ca - OCULAR_BELOW_CANTHUS_C, "canthus": ca, "canthus_ring": ring,
            "nose": nose, "lower_face": fh - 0.6, "neck": fh - 0.3,
            "hair": towards(HAIR_FRACTION), "clothing": towards(CLOTHING_FRACTION),
            "fringe": towards(FRINGE_FRACTION), "hat": towards(HAT_FRACTION),
            "glasses": towards(GLASSES_FRACTION), "mask": towards(MASK_FRACTION) + breath,
            "cup": self.cup_c, "hand": towards(HAND_FRACTION),
        }
        return np.array([values[r] for r in REGIONS])

    def radiances(self, ambient_c: float, t_local: float) -> np.ndarray:
        """Radiance (T^4, K^4) each region sends, its own emission plus the room it reflects."""
        return _EMISSIVITY * radiance(self.surfaces_c(ambient_c, t_local)) + (1.0 - _EMISSIVITY) * radiance(ambient_c)
