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
from functools import cache, lru_cache

import numpy as np

from controller.geometry import FACE_HALF_HEIGHT_M, FACE_WIDTH_M, FieldOfView, pixels_across

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


SAMPLES = 16  # sub-samples per pixel and axis (blurred_cover)


@lru_cache(maxsize=64)
def _pixel_weights(n_pixels: int, sigma_px: float) -> np.ndarray:
    """(n_pixels, n_pixels * SAMPLES): how much of a point at each sub-sample pixel i collects, through a
    Gaussian blur of ``sigma_px`` (Phi((i + 1 - y) / sigma) - Phi((i - y) / sigma)); the pixel's box if 0."""
    samples = (np.arange(n_pixels * SAMPLES) + 0.5) / SAMPLES
    edges = np.arange(n_pixels + 1, dtype=float)[:, None] - samples[None, :]
    if sigma_px <= 0.0:
        cdf = (edges >= 0.0).astype(float)
    else:
        cdf = 0.5 * (1.0 + np.vectorize(math.erf)(edges / (sigma_px * math.sqrt(2.0))))
    return cdf[1:] - cdf[:-1]


def blurred_cover(radius_px: tuple[float, float], phase: tuple[float, float],
                  sigma_px: float = LENS_PSF_SIGMA_PX) -> np.ndarray:
    """Each pixel's share of full contrast for an elliptical disc of radii ``radius_px`` (rows, columns) whose
    centre sits at ``phase`` (0..1 each) within a pixel, through a Gaussian lens blur of ``sigma_px``."""
    ry, rx = radius_px
    margin = int(math.ceil(4.0 * sigma_px)) + 1
    rows = int(math.ceil(2.0 * ry)) + 2 * margin + 2
    cols = int(math.ceil(2.0 * rx)) + 2 * margin + 2
    cy, cx = rows // 2 + phase[0], cols // 2 + phase[1]
    ys = (np.arange(rows * SAMPLES) + 0.5) / SAMPLES
    xs = (np.arange(cols * SAMPLES) + 0.5) / SAMPLES
    disc = (((ys[:, None] - cy) / ry) ** 2 + ((xs[None, :] - cx) / rx) ** 2 <= 1.0).astype(float)
    return _pixel_weights(rows, sigma_px) @ disc @ _pixel_weights(cols, sigma_px).T / SAMPLES ** 2


_FACE_PHASES = 4  # positions of the face's centre within a pixel, per axis, that face_share averages over
FACE_SHARE_STEP_PX = 0.05  # face_share is worked out on this grid of widths, heights and blurs (cached)


def face_share(width_px: float, height_px: float, sigma_px: float = LENS_PSF_SIGMA_PX, top_k: int = 3) -> float:
    """The face's share of the mean of its ``top_k`` most-covered pixels, 0..1: how much of what the hottest
    pixels read is the face, the rest being what surrounds it (the room behind, the hair).

    The face is an ellipse ``width_px`` x ``height_px`` (its apparent size), seen through a Gaussian lens blur
    of ``sigma_px``; the share is averaged over where its centre falls within a pixel. A face many pixels
    across keeps 1.0 in its middle; a face 3-4 pixels across through a soft lens does not: its middle pixels
    take part of their reading from the room around the face, and the reading's gain on the skin's
    temperature falls to that share. Geometry and blur only: nothing here is fitted to readings."""
    if not (math.isfinite(width_px) and math.isfinite(height_px) and math.isfinite(sigma_px)):
        return 1.0
    q = FACE_SHARE_STEP_PX
    return _face_share(round(max(width_px, q) / q), round(max(height_px, q) / q), round(max(sigma_px, 0.0) / q),
                       max(int(top_k), 1))


@lru_cache(maxsize=4096)
def _face_share(width_q: int, height_q: int, sigma_q: int, top_k: int) -> float:
    q = FACE_SHARE_STEP_PX
    radius = (height_q * q / 2.0, width_q * q / 2.0)
    total = 0.0
    for i in range(_FACE_PHASES):
        for j in range(_FACE_PHASES):
            cover = blurred_cover(radius, ((i + 0.5) / _FACE_PHASES, (j + 0.5) / _FACE_PHASES), sigma_q * q)
            total += float(np.sort(cover.ravel())[::-1][:top_k].mean())
    return total / _FACE_PHASES ** 2


@cache
def face_aspect(fov: FieldOfView) -> float:
    """A face's height over its width, in pixels, through ``fov`` (the face the geometry is worked out for)."""
    return (pixels_across(2.0 * FACE_HALF_HEIGHT_M, 1.0, fov, "vertical")
            / pixels_across(FACE_WIDTH_M, 1.0, fov, "horizontal"))


def unmix_face_c(reading_c: float, surround_c: float, share: float) -> float:
    """The face's own temperature from a reading that is ``share`` face and ``1 - share`` its surroundings at
    ``surround_c`` (:func:`face_share`); the reading itself when the share is 1 or not known."""
    if not (math.isfinite(share) and 0.0 < share < 1.0) or not math.isfinite(surround_c):
        return reading_c
    return surround_c + (reading_c - surround_c) / share


FILL_DISTANCES_M = np.geomspace(0.15, 3.0, 96)


@cache
def fill_table(fov: FieldOfView, sigma_px: float = LENS_PSF_SIGMA_PX) -> tuple[np.ndarray, np.ndarray]:
    """(distances, fills) for ``fov`` and a lens blur of ``sigma_px`` at FILL_DISTANCES_M, for interpolation."""
    fills = np.array([eye_band_fill(float(d), fov, sigma_px=sigma_px) for d in FILL_DISTANCES_M])
    fills.setflags(write=False)
    return FILL_DISTANCES_M, fills


@cache
def _fill_lists(fov: FieldOfView, sigma_px: float) -> tuple[list[float], list[float]]:
    """:func:`fill_table` as Python lists, for :func:`fill_at`'s per-frame lookup."""
    distances, fills = fill_table(fov, sigma_px)
    return distances.tolist(), fills.tolist()


def fill_at(distance_m: float | None, fov: FieldOfView, sigma_px: float = LENS_PSF_SIGMA_PX) -> float:
    """:func:`eye_band_fill` at ``distance_m`` through a lens blur of ``sigma_px``, interpolated from the table;
    1.0 when the distance is unknown.

    The same linear interpolation as ``np.interp(distance_m, *fill_table(fov))``
    (ends held), done on Python floats: the tracker calls it once per measured
    frame, and numpy's call overhead on one number is most of the cost."""
    if distance_m is None or not math.isfinite(distance_m):
        return 1.0
    distances, fills = _fill_lists(fov, sigma_px)
    if distance_m <= distances[0]:
        return fills[0]
    if distance_m >= distances[-1]:
        return fills[-1]
    j = bisect_right(distances, distance_m) - 1
    slope = (fills[j + 1] - fills[j]) / (distances[j + 1] - distances[j])
    return float(slope * (distance_m - distances[j]) + fills[j])
