"""How much of the face reading is the canthus: the eye band's share of the hottest pixels.

The hottest face pixels sit on the eye line. At 8-12 pixels per face a
pixel's footprint is 2-3 cm, so the reading mixes the periorbital band (the
inner canthi, the eyes and the skin around them, which follow the core as the
canthus does) with the forehead above and the cheeks below (which follow it
less and the room more). The share of the band, the *fill*, follows from the
geometry alone:

- the band is ``EYE_BAND_M`` (3.8 cm) tall, from the lower eyelids to the
  brows, and wider than a pixel;
- at the line-of-sight distance d, one row covers d tan(vertical pitch)
  (``controller.geometry.pixels_across``), so the band spans h rows;
- the lens spreads each point with a Gaussian of ``LENS_PSF_SIGMA_PX``
  (0.4 pixel) standard deviation;
- the eye line falls anywhere within a row (people's heights vary), so the
  fill is the best row's share of the band, averaged over where the band's
  centre falls within a pixel.

At the recommended mountings (a face about 5.5 pixels wide) the fill is about
0.82-0.85; it falls as a face gets smaller. :func:`estimate.estimate_core_c`
uses it to weight the canthus's and the forehead's transfer ratios
(docs/estimation.md, "The optics term"). Nothing here is fitted to measured
readings: the band is anatomy, the footprint is the lens geometry, and the
blur is the lens's point-spread function (the value the sensor model of
sim/scenes/optics.py uses; a real lens's should be measured with a knife edge
and set here).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from functools import cache

import numpy as np

from controller.geometry import FieldOfView, pixels_across

EYE_BAND_M = 0.038  # the periorbital band: 1.8 cm below to 2.0 cm above the eye line
LENS_PSF_SIGMA_PX = 0.4  # the lens's point-spread function, standard deviation in pixels
_PHASES = 32  # positions of the band's centre within a pixel that the fill averages over


def _ierf(x: float) -> float:
    """An antiderivative of erf."""
    return x * math.erf(x) + math.exp(-x * x) / math.sqrt(math.pi)


def eye_band_fill(distance_m: float, fov: FieldOfView, band_m: float = EYE_BAND_M,
                  sigma_px: float = LENS_PSF_SIGMA_PX) -> float:
    """The share of the band in the best-placed row's reading at line-of-sight ``distance_m``, 0..1.

    A band from ``top`` to ``bottom`` (rows), blurred by the Gaussian, reads
    0.5 (erf((y - top) / s) - erf((y - bottom) / s)) at height y, with
    s = sigma sqrt(2); a row's reading is its mean over the row's height, in
    closed form through an antiderivative of erf."""
    h = pixels_across(band_m, distance_m, fov, "vertical")
    s = sigma_px * math.sqrt(2.0)
    reach = int(math.ceil(h / 2.0 + 4.0 * sigma_px)) + 1
    total = 0.0
    for i in range(_PHASES):
        phase = (i + 0.5) / _PHASES
        top, bottom = phase - h / 2.0, phase + h / 2.0
        best = 0.0
        for row in range(-reach, reach + 1):
            share = 0.5 * s * (_ierf((row + 1 - top) / s) - _ierf((row - top) / s)
                               - _ierf((row + 1 - bottom) / s) + _ierf((row - bottom) / s))
            best = max(best, share)
        total += best
    return total / _PHASES


FILL_DISTANCES_M = np.geomspace(0.15, 3.0, 96)


@cache
def fill_table(fov: FieldOfView) -> tuple[np.ndarray, np.ndarray]:
    """(distances, fills) for ``fov`` at FILL_DISTANCES_M, for interpolation."""
    fills = np.array([eye_band_fill(float(d), fov) for d in FILL_DISTANCES_M])
    fills.setflags(write=False)
    return FILL_DISTANCES_M, fills


@cache
def _fill_lists(fov: FieldOfView) -> tuple[list[float], list[float]]:
    """:func:`fill_table` as Python lists, for :func:`fill_at`'s per-frame lookup."""
    distances, fills = fill_table(fov)
    return distances.tolist(), fills.tolist()


def fill_at(distance_m: float | None, fov: FieldOfView) -> float:
    """:func:`eye_band_fill` at ``distance_m``, interpolated from the table; 1.0 when the distance is unknown.

    The same linear interpolation as ``np.interp(distance_m, *fill_table(fov))``
    (ends held), done on Python floats: the tracker calls it once per measured
    frame, and numpy's call overhead on one number is most of the cost."""
    if distance_m is None or not math.isfinite(distance_m):
        return 1.0
    distances, fills = _fill_lists(fov)
    if distance_m <= distances[0]:
        return fills[0]
    if distance_m >= distances[-1]:
        return fills[-1]
    j = bisect_right(distances, distance_m) - 1
    slope = (fills[j + 1] - fills[j]) / (distances[j + 1] - distances[j])
    return float(slope * (distance_m - distances[j]) + fills[j])
