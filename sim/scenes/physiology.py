"""Skin, textile and object surface temperatures, and what an infrared sensor sees of them.

The skin model (docs/simulation.md, "Skin"): a skin site sits between the body
core and the room. Heat reaches it through the tissue (conductance ``h_t``,
set by skin blood flow) and leaves it to the room by convection and radiation
(``h_e``). In steady state

    T_site = T_core - k (T_core - T_ambient),    k = h_e / (h_e + h_t),

plus a person's own offset. The forehead is well perfused (k about 0.18), the
inner canthus, fed by branches of the ophthalmic artery through thin skin, far
better (k about 0.06), so it follows the core closely and the room little.

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

import numpy as np

from .face import EMISSIVITY, REGIONS

ZERO_C = 273.15
SKIN_EMISSIVITY = 0.98
FEVER_C = 37.3

# Normal (afebrile) core temperature: mean and spread across people, truncated to the afebrile range.
CORE_MEAN_C = 36.8
CORE_SD_C = 0.3
CORE_NORMAL_RANGE_C = (36.0, 37.2)

# Heat transfer coefficients, W/(m^2 K).
H_ENVIRONMENT = 8.5  # still indoor air: convection about 3, radiation about 5.5
H_FOREHEAD = 40.0  # tissue conductance core -> forehead skin (median person)
H_CANTHUS = 130.0  # tissue conductance core -> inner canthus (median person)
CONDUCTANCE_SPREAD = 0.25  # log-normal sigma of the tissue conductances between people
FOREHEAD_OFFSET_SD_C = 0.20
CANTHUS_OFFSET_SD_C = 0.15

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
    came_in_s: float = 0.0
    cup_c: float = 60.0
    breath_hz: float = 0.25
    breath_phase: float = 0.0

    @classmethod
    def draw(cls, core_c: float, rng: np.random.Generator, *, outdoor_c: float | None = None,
             came_in_s: float = 0.0) -> Physiology:
        """A person with core temperature ``core_c`` and skin drawn from the population's spread."""
        h_f = H_FOREHEAD * math.exp(rng.normal(0.0, CONDUCTANCE_SPREAD))
        h_c = H_CANTHUS * math.exp(rng.normal(0.0, CONDUCTANCE_SPREAD))
        return cls(core_c=float(core_c), k_forehead=transfer_ratio(h_f), k_canthus=transfer_ratio(h_c),
                   forehead_offset_c=float(rng.normal(0.0, FOREHEAD_OFFSET_SD_C)),
                   canthus_offset_c=float(rng.normal(0.0, CANTHUS_OFFSET_SD_C)),
                   outdoor_c=outdoor_c, came_in_s=float(came_in_s), cup_c=float(rng.uniform(55.0, 65.0)),
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

    def steady_forehead_c(self, ambient_c: float) -> float:
        """The forehead once fully settled in the room."""
        return steady_site_c(self.core_c, ambient_c, self.k_forehead, self.forehead_offset_c)

    def surfaces_c(self, ambient_c: float, t_local: float) -> np.ndarray:
        """Surface temperature of every region of :data:`face.REGIONS` (degC)."""
        fh = self.forehead_c(ambient_c, t_local)
        ca = self.canthus_c(ambient_c, t_local)
        nose_room = self._seen_ambient_c(ambient_c, t_local, TAU_NOSE_S)
        textile_room = self._seen_ambient_c(ambient_c, t_local, TAU_TEXTILE_S)
        # The nose is acral skin: it vasoconstricts in a cool room and more after the cold.
        nose = fh - 1.0 - 0.15 * max(0.0, 22.0 - nose_room) - 0.2 * (ambient_c - nose_room)
        breath = MASK_BREATH_C * math.sin(2 * math.pi * self.breath_hz * t_local + self.breath_phase)

        def towards(fraction: float, room: float = textile_room) -> float:
            return room + fraction * (fh - room)

        values = {
            "forehead": fh, "temple": fh - 0.3, "periorbital": ca - 0.25, "eye": ca - 1.0, "canthus": ca,
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
