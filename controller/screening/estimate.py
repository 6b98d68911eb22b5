"""From a face reading to an estimate of body (core) temperature.

The hottest face pixels sit at the inner canthus, the face site that tracks
core temperature best (docs/estimation.md). In steady state a skin site
settles between core and room:

    T_site = T_core - k (T_core - T_ambient)

so the core follows from the site as

    T_core = (T_site - k T_ambient) / (1 - k)

which is linear in the true temperature with slope exactly 1: an estimate
can be high or low, but it is never pulled towards 37 degC.

The reading is not the canthus alone: at 2-3 cm per pixel the hottest
pixels mix the periorbital band around the canthus (transfer ratio k_canthus)
with the forehead and cheeks above and below it (k_forehead). With ``fill``
the band's share of the reading (:mod:`controller.screening.optics`, from the
lens geometry and blur at the measured distance), the reading behaves as a
site with

    k = fill k_canthus + (1 - fill) k_forehead

and that k is the one inverted. Without it the mix of a lower-gain site is
read as the canthus, and the estimate's slope against the true temperature
falls below 1 (0.94-0.96 measured) and its ambient dependence rises. The reading is
first corrected from apparent to true skin temperature (skin emissivity 0.98,
reflected radiation at room temperature), and the per-site offset fitted
against clinical thermometers (``thermogate calibrate``) is added last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KELVIN = 273.15
SKIN_EMISSIVITY = 0.98  # Steketee 1973 (docs/simulation.md)
CANTHUS_K = 0.061  # share of the core-to-room difference lost at the inner canthus (assumption, docs/estimation.md)
FOREHEAD_K = 0.175  # the same for the forehead and cheeks around the eye band (assumption, docs/estimation.md)


@dataclass(frozen=True)
class SkinModel:
    k: float = CANTHUS_K
    emissivity: float = SKIN_EMISSIVITY
    k_surround: float = FOREHEAD_K

    def mixed_k(self, fill: float) -> float:
        """The transfer ratio of a reading that is ``fill`` eye band and the rest surrounding skin."""
        return fill * self.k + (1.0 - fill) * self.k_surround

    def true_skin_c(self, apparent_c: float, ambient_c: float) -> float:
        """The skin's own temperature from what an emissivity-1 reading shows."""
        t_app4 = (apparent_c + KELVIN) ** 4
        t_amb4 = (ambient_c + KELVIN) ** 4
        return ((t_app4 - (1 - self.emissivity) * t_amb4) / self.emissivity) ** 0.25 - KELVIN

    def core_c(self, skin_c: float, ambient_c: float, fill: float = 1.0) -> float:
        """Core temperature from a skin reading that is ``fill`` eye band (1.0: the canthus alone)."""
        k = self.mixed_k(fill)
        return (skin_c - k * ambient_c) / (1 - k)


def estimate_core_c(face_c: float, ambient_c: float, site_offset_c: float = 0.0,
                    model: SkinModel = SkinModel(), fill: float = 1.0) -> float:
    """Body temperature from the face reading ``face_c`` (apparent, reference-corrected) in a room at
    ``ambient_c``, the reading being ``fill`` eye band (:func:`optics.fill_at`; 1.0: no optics term);
    NaN in, NaN out."""
    if not (math.isfinite(face_c) and math.isfinite(ambient_c) and math.isfinite(fill)):
        return math.nan
    fill = min(max(fill, 0.0), 1.0)
    return model.core_c(model.true_skin_c(face_c, ambient_c), ambient_c, fill) + site_offset_c
