"""From a face reading to an estimate of body temperature.

The hottest face pixels sit at the inner canthus, the face site that tracks
body temperature best (docs/estimation.md). The estimate goes in four steps:

1. The reading is corrected from apparent to true skin temperature (skin
   emissivity 0.98, reflected radiation at room temperature).
2. The optics terms (:mod:`controller.screening.optics`, from the lens
   geometry and the measured blur): a face 3-6 pixels across through a soft
   lens lends its hottest pixels part of the room around it, ``face_share``
   being the face's share, which is undone first; then at 1-4 cm per pixel
   the face's part mixes the periorbital band around the canthus with the
   face below it (``lower_share`` of it, at its measured reading
   ``lower_c``, taken out next) and the forehead and temples above and beside
   it, ``fill`` being the band's share.
3. Skin to body, by the model fitted on people
   (:mod:`controller.screening.body_model`, ``body_model.json``): each site
   follows body and room linearly,

       site = intercept + body * T_body + ambient * T_room,

   the reading follows ``fill`` of the eye band's relation and the rest of the
   forehead's, and that relation is inverted. The eye band's relation is
   ``site``: the gate passes ``[screening] eye_band``, by default the
   inner-canthus *region average*'s (``canthus_region``, the study's RCC and
   LCC), which is what a pixel 1-3.6 cm across at the mark can hold (it never
   holds the canthus's hottest few millimetres, which the study reads
   0.65 degC warmer on average); ``canthus`` is the canthus maximum's, for a
   reading that really is a maximum (docs/estimation.md, "The canthus
   region"). Called without a site, this module reads the band as the gate
   does by default (the region's relation). The inverse
   is unbiased at every body temperature (slope 1 against the reference): an
   estimate can be high or low, but it is never pulled towards 37 degC.
4. The per-site offset fitted against clinical thermometers
   (``thermogate calibrate``) is added last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .body_model import BodyModel, default_model
from .optics import unmix_face_c

KELVIN = 273.15
SKIN_EMISSIVITY = 0.98  # Steketee 1973 (docs/simulation.md)
DEFAULT_EYE_BAND = "canthus_region"  # the eye band's relation when none is given: [screening] eye_band's default


@dataclass(frozen=True)
class SkinModel:
    emissivity: float = SKIN_EMISSIVITY
    body: BodyModel | None = None  # None: the product's fitted model (body_model.json)

    def fitted(self) -> BodyModel:
        return self.body if self.body is not None else default_model()

    def true_skin_c(self, apparent_c: float, ambient_c: float) -> float:
        """The skin's own temperature from what an emissivity-1 reading shows."""
        t_app4 = (apparent_c + KELVIN) ** 4
        t_amb4 = (ambient_c + KELVIN) ** 4
        return ((t_app4 - (1 - self.emissivity) * t_amb4) / self.emissivity) ** 0.25 - KELVIN

    def core_c(self, skin_c: float, ambient_c: float, fill: float = 1.0, forehead_c: float | None = None,
               site: str | None = None) -> float:
        """Body temperature from a skin reading that is ``fill`` eye band (1.0: the eye site alone) and, when
        given, the forehead's skin temperature. ``site`` is the eye site's relation: ``"canthus_region"`` (the
        region average's, what a sensor pixel can hold; None: this, the gate's default ``[screening] eye_band``;
        :attr:`BodyModel.band_site` says whether a model has it) or ``"canthus"`` (the maximum's)."""
        m = self.fitted()
        # No site: the gate's default, the region's relation (a model without one, an older file: the maximum's).
        return m.body_c(skin_c, ambient_c, fill, forehead_c,
                        site=site or (DEFAULT_EYE_BAND if m.canthus_region is not None else "canthus"))


def estimate_core_c(face_c: float, ambient_c: float, site_offset_c: float = 0.0,
                    model: SkinModel = SkinModel(), fill: float = 1.0, forehead_c: float | None = None,
                    face_share: float = 1.0, surround_c: float | None = None, site: str | None = None,
                    lower_share: float = 0.0, lower_c: float | None = None) -> float:
    """Body temperature from the face reading ``face_c`` (apparent, reference-corrected) in a room at
    ``ambient_c``, the reading being ``face_share`` face and the rest its surroundings at ``surround_c``
    (apparent, reference-corrected; :attr:`optics.FaceMix.share`, default the room), the face's part ``fill``
    eye band (:attr:`optics.FaceMix.band`; 1.0: no optics term) and ``lower_share`` the face below the band
    (:attr:`optics.FaceMix.lower`) whose reading is ``lower_c`` (apparent, reference-corrected; None or NaN:
    not read, and that part is taken to be forehead-like as the rest), and optionally the forehead's reading
    ``forehead_c`` (apparent, reference-corrected); ``site`` the eye site's relation (None:
    ``"canthus_region"``, the region average's, the gate's default; ``"canthus"``, the maximum's); NaN in,
    NaN out."""
    if not (math.isfinite(face_c) and math.isfinite(ambient_c) and math.isfinite(fill)):
        return math.nan
    face_c = unmix_face_c(face_c, ambient_c if surround_c is None else surround_c, face_share)
    if lower_c is not None and math.isfinite(lower_c) and 0.0 < lower_share < 1.0:
        # The face below the band is read, not assumed: take its part out and keep the band's share of the rest.
        face_c = (face_c - lower_share * lower_c) / (1.0 - lower_share)
        fill = fill / (1.0 - lower_share)
    fill = min(max(fill, 0.0), 1.0)
    forehead = None
    if forehead_c is not None and math.isfinite(forehead_c):
        forehead = model.true_skin_c(forehead_c, ambient_c)
    return model.core_c(model.true_skin_c(face_c, ambient_c), ambient_c, fill, forehead, site) + site_offset_c
