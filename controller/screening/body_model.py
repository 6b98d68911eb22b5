"""The skin-to-body model, fitted on people: from a canthus reading (and optionally the forehead) to body temperature.

The model is fitted on real facial infrared readings of adult volunteers with
their oral temperatures (Wang et al., PhysioNet, doi:10.13026/3bhc-9065, CC0;
docs/estimation.md, "Skin to body"). It is written the way the physics runs,
from the body to the skin, one linear relation per face site:

    site = intercept + body * T_body + ambient * T_ambient + residual

with ``site`` the inner canthus (the maximum over both inner eye corners) or
the forehead (centre and bottom of the forehead, averaged), and ``T_body`` the
oral temperature in monitor mode. The residuals of the two sites are a
person's own offsets (and the reference thermometer's own error); their
covariance is fitted too.

A third site, ``canthus_region``, is what a pixel of the product's sensor can
see of the eye: the *average* over the inner-canthus regions (the study's
``RCC`` and ``LCC``, right and left, averaged), not their hottest point. At the
mark a pixel is 1.8-3.6 cm across (110 deg lens) or 1-2 cm (55 deg), larger
than the study's canthus regions (measured on 1-2 mm camera pixels), so no
pixel holds the canthus maximum; the region average reads 0.57-0.76 degC below
it in the study. The gate's eye-band reading is inverted with this relation
(``site="canthus_region"``); the canthus-maximum relation stays for readings
that really are a maximum (the study's ``canthiMax``, ``thermogate model
predict``). Its residual covariance with the forehead is fitted as well.

The estimate *inverts* these relations (classical calibration): given the
readings, it finds the body temperature whose expected readings they are,
weighting the sites by generalised least squares when both are read. Because
each relation is fitted with the reference as the regressor, the estimate is
unbiased at every body temperature: a fever of 39.5 degC reads 39.5 on
average. Regressing the body on the reading instead would shrink every
estimate towards the population's mean (slope about 0.6, fevers under-read).

The coefficients live in ``body_model.json`` beside this file, written by
``thermogate model fit`` (:func:`fit` on :mod:`.facial_oral` readings), so
anyone can refit from the data.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).with_name("body_model.json")
CITATION = ("Wang Q., Zhou Y., Ghassemi P., Chenna D., Chen M., Casamento J., Pfefer J., McBride D. (2023). "
            "Facial and oral temperature data from a large set of human subject volunteers (version 1.0.0). "
            "PhysioNet. doi:10.13026/3bhc-9065. CC0 1.0.")
FEBRILE_POOL_C = 37.5  # residuals for bodies at or above this come from the febrile subjects only (simulator)


@dataclass(frozen=True)
class SiteFit:
    """One face site's relation to body and room: site = intercept + body * T_body + ambient * T_ambient."""

    intercept: float
    body: float
    ambient: float

    def expected_c(self, body_c: float, ambient_c: float) -> float:
        return self.intercept + self.body * body_c + self.ambient * ambient_c


@dataclass(frozen=True)
class BodyModel:
    """The fitted relations of canthus and forehead to body temperature and room, and their residual spread."""

    canthus: SiteFit
    forehead: SiteFit
    covariance: tuple[tuple[float, float], tuple[float, float]]  # residuals (canthus, forehead), degC^2
    ambient_range_c: tuple[float, float] = (math.nan, math.nan)  # the rooms the data covers
    body_range_c: tuple[float, float] = (math.nan, math.nan)
    residuals: tuple[tuple[float, float, float], ...] = ()  # (body, canthus residual, forehead residual) per row
    canthus_region: SiteFit | None = None  # the inner-canthus regions' average (what a sensor pixel sees)
    region_covariance: tuple[tuple[float, float], tuple[float, float]] | None = None  # (region, forehead), degC^2

    SITES = ("canthus", "canthus_region")

    def eye_site(self, site: str = "canthus") -> tuple[SiteFit, tuple[tuple[float, float], tuple[float, float]]]:
        """The eye site's relation and its residual covariance with the forehead: ``canthus`` (the maximum) or
        ``canthus_region`` (the regions' average). A model without the region relation (an older file) has
        only the maximum: ValueError."""
        if site == "canthus":
            return self.canthus, self.covariance
        if site == "canthus_region":
            if self.canthus_region is None or self.region_covariance is None:
                raise ValueError("this body model has no canthus_region relation (refit with `thermogate model fit`)")
            return self.canthus_region, self.region_covariance
        raise ValueError(f"site must be one of {', '.join(self.SITES)}, got {site!r}")

    @property
    def band_site(self) -> str:
        """The site a gate's eye-band reading follows: the region average when the model has it."""
        return "canthus_region" if self.canthus_region is not None and self.region_covariance is not None \
            else "canthus"

    # ---- the reading the product takes -------------------------------------------------------------------------

    def reading_fit(self, fill: float = 1.0, site: str = "canthus") -> SiteFit:
        """The relation of a reading that is ``fill`` eye site (``site``) and the rest surrounding (forehead-like)
        skin."""
        c, s = self.eye_site(site)[0], self.forehead
        g = 1.0 - fill
        return SiteFit(fill * c.intercept + g * s.intercept, fill * c.body + g * s.body,
                       fill * c.ambient + g * s.ambient)

    def body_c(self, reading_c: float, ambient_c: float, fill: float = 1.0,
               forehead_c: float | None = None, site: str = "canthus") -> float:
        """Body temperature from an eye reading (``fill`` of it the eye site ``site``: ``canthus``, the maximum,
        or ``canthus_region``, the regions' average) and, when given, a forehead reading; skin temperatures in
        degC. NaN in, NaN out; a non-finite forehead is ignored."""
        _, covariance = self.eye_site(site)
        if not (math.isfinite(reading_c) and math.isfinite(ambient_c) and math.isfinite(fill)):
            return math.nan
        fill = min(max(fill, 0.0), 1.0)
        r = self.reading_fit(fill, site)
        x_r = reading_c - r.intercept - r.ambient * ambient_c
        if forehead_c is None or not math.isfinite(forehead_c):
            return x_r / r.body
        s = self.forehead
        x_f = forehead_c - s.intercept - s.ambient * ambient_c
        (vc, cv), (_, vs) = covariance
        g = 1.0 - fill
        # Residual covariance of (reading, forehead): the reading's residual is fill e_c + (1 - fill) e_s.
        v_rr = fill * fill * vc + g * g * vs + 2.0 * fill * g * cv
        v_rf = fill * cv + g * vs
        v_ff = vs
        det = v_rr * v_ff - v_rf * v_rf
        if det <= 1e-12:
            return x_r / r.body
        # w = S^-1 b / (b' S^-1 b) with b = (r.body, s.body): the generalised least-squares inverse.
        u_r = (v_ff * r.body - v_rf * s.body) / det
        u_f = (v_rr * s.body - v_rf * r.body) / det
        return (u_r * x_r + u_f * x_f) / (u_r * r.body + u_f * s.body)

    def canthus_sd_c(self) -> float:
        """The spread of a body estimate from the canthus alone, from the fitted residuals (degC)."""
        return math.sqrt(self.covariance[0][0]) / self.canthus.body

    # ---- storage ----------------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        def site(f: SiteFit) -> dict:
            return {"intercept": f.intercept, "body": f.body, "ambient": f.ambient}

        region = {} if self.canthus_region is None or self.region_covariance is None else {
            "canthus_region": site(self.canthus_region),
            "canthus_region_covariance": [list(row) for row in self.region_covariance]}
        return {"canthus": site(self.canthus), "forehead": site(self.forehead),
                "covariance": [list(row) for row in self.covariance], **region,
                "ambient_range_c": list(self.ambient_range_c), "body_range_c": list(self.body_range_c),
                "residuals": {"body_c": [r[0] for r in self.residuals],
                              "canthus_c": [r[1] for r in self.residuals],
                              "forehead_c": [r[2] for r in self.residuals]}}

    @classmethod
    def from_dict(cls, d: dict) -> BodyModel:
        try:
            def site(x: dict) -> SiteFit:
                return SiteFit(float(x["intercept"]), float(x["body"]), float(x["ambient"]))

            cov = d["covariance"]
            res = d.get("residuals", {})
            residuals = tuple(zip(map(float, res.get("body_c", [])), map(float, res.get("canthus_c", [])),
                                  map(float, res.get("forehead_c", [])), strict=False))  # as many as all three hold
            def cov2(c) -> tuple[tuple[float, float], tuple[float, float]]:
                return (float(c[0][0]), float(c[0][1])), (float(c[1][0]), float(c[1][1]))

            region = region_cov = None
            if "canthus_region" in d:  # optional: older files have only the canthus maximum
                region, region_cov = site(d["canthus_region"]), cov2(d["canthus_region_covariance"])
            model = cls(site(d["canthus"]), site(d["forehead"]), cov2(cov),
                        _pair(d.get("ambient_range_c", (math.nan, math.nan))),
                        _pair(d.get("body_range_c", (math.nan, math.nan))), residuals, region, region_cov)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"not a body model ({exc!r})") from None
        if not (model.canthus.body > 0.1 and model.forehead.body > 0.0 and model.covariance[0][0] > 0
                and model.covariance[1][1] > 0):
            raise ValueError("not a usable body model: a site's gain or variance is not positive")
        if model.canthus_region is not None and not (model.canthus_region.body > 0.1
                                                      and model.region_covariance is not None
                                                      and model.region_covariance[0][0] > 0):
            raise ValueError("not a usable body model: the canthus_region gain or variance is not positive")
        return model


# ---- fitting ----------------------------------------------------------------------------------------------------

def _pair(x) -> tuple[float, float]:
    """Two numbers (a range); ValueError or TypeError if ``x`` is not two numbers."""
    lo, hi = x
    return float(lo), float(hi)


def _fit_site(body: np.ndarray, ambient: np.ndarray, site: np.ndarray) -> tuple[SiteFit, np.ndarray]:
    X = np.column_stack([np.ones_like(body), body, ambient])
    coef, *_ = np.linalg.lstsq(X, site, rcond=None)
    return SiteFit(float(coef[0]), float(coef[1]), float(coef[2])), site - X @ coef


def fit(body_c, ambient_c, canthus_c, forehead_c, canthus_region_c=None) -> BodyModel:
    """Fit the model on per-person rows (arrays of equal length; the forehead and the canthus region average may
    be NaN where unread; ``canthus_region_c`` None: no region relation).

    Each site is regressed on the reference body temperature and the room
    (ordinary least squares, site on body: the direction that does not shrink
    the inverse). The residual covariance is taken over the rows with both
    sites (eye site and forehead)."""
    body = np.asarray(body_c, float)
    amb = np.asarray(ambient_c, float)
    can = np.asarray(canthus_c, float)
    fh = np.asarray(forehead_c, float)
    ok = np.isfinite(body) & np.isfinite(amb) & np.isfinite(can)
    if ok.sum() < 10:
        raise ValueError(f"too few rows with a body temperature, a room temperature and a canthus reading ({ok.sum()})")
    both = ok & np.isfinite(fh)
    if both.sum() < 10:
        raise ValueError(f"too few rows with a forehead reading ({both.sum()})")
    canthus, _ = _fit_site(body[ok], amb[ok], can[ok])
    forehead, _ = _fit_site(body[both], amb[both], fh[both])
    e_c = can[both] - (canthus.intercept + canthus.body * body[both] + canthus.ambient * amb[both])
    e_f = fh[both] - (forehead.intercept + forehead.body * body[both] + forehead.ambient * amb[both])
    cov = np.cov(np.vstack([e_c, e_f]))
    order = np.argsort(body[both], kind="stable")
    residuals = tuple((round(float(b), 3), round(float(c), 3), round(float(f), 3))
                      for b, c, f in zip(body[both][order], e_c[order], e_f[order], strict=True))
    region = region_cov = None
    if canthus_region_c is not None:
        reg = np.asarray(canthus_region_c, float)
        ok_r = ok & np.isfinite(reg)
        both_r = ok_r & np.isfinite(fh)
        if both_r.sum() < 10:
            raise ValueError(f"too few rows with a canthus region reading and a forehead reading ({both_r.sum()})")
        region, _ = _fit_site(body[ok_r], amb[ok_r], reg[ok_r])
        e_r = reg[both_r] - (region.intercept + region.body * body[both_r] + region.ambient * amb[both_r])
        e_fr = fh[both_r] - (forehead.intercept + forehead.body * body[both_r] + forehead.ambient * amb[both_r])
        c_r = np.cov(np.vstack([e_r, e_fr]))
        region_cov = ((float(c_r[0, 0]), float(c_r[0, 1])), (float(c_r[1, 0]), float(c_r[1, 1])))
    return BodyModel(canthus, forehead, ((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
                     (float(amb[ok].min()), float(amb[ok].max())), (float(body[ok].min()), float(body[ok].max())),
                     residuals, region, region_cov)


# ---- the stored model -------------------------------------------------------------------------------------------

def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save(model: BodyModel, path: str | Path = MODEL_FILE, *, sources: list[dict] | None = None,
         cross_validation: dict | None = None) -> None:
    """Write the model as JSON, with where it came from and, when given, its cross-validation figures."""
    doc = {"what": "skin-to-body model of thermogate (controller/screening/body_model.py); "
                   "refit with `thermogate model fit`",
           "data": CITATION, "sources": sources or [],
           "method": "each site regressed on oral temperature (monitor mode) and room temperature, per person "
                     "(mean of the rounds read); the estimate inverts the relations (classical calibration); "
                     "canthus: canthiMax (the maximum), canthus_region: the mean of RCC and LCC (the inner-canthus "
                     "regions' average, what a gate's eye band reads), forehead: T_FHCC and T_FHBC",
           **model.to_dict()}
    if cross_validation is not None:
        doc["cross_validation"] = cross_validation
    # One line per key: readable, and the residual lists stay compact.
    lines = [f" {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in doc.items()]
    Path(path).write_text("{\n" + ",\n".join(lines) + "\n}\n")


def load(path: str | Path = MODEL_FILE) -> BodyModel:
    """The model stored at ``path``; ValueError with the reason if it cannot be read."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a body model")
    try:
        return BodyModel.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


@lru_cache(maxsize=1)
def default_model() -> BodyModel:
    """The product's model: the one stored in the package (``body_model.json``)."""
    return load(MODEL_FILE)
