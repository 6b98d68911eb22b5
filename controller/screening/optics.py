"""What the face reading is made of: the eye band's, the rest of the face's and the room's shares of the
hottest face pixels.

The hottest face pixels sit on the eye line. At 3-12 pixels per face a
pixel's footprint is 1-4 cm, and the lens blurs it further, so the reading
mixes:

- the periorbital band (the inner canthi, the eyes and the skin around
  them, which follow the body as the canthus region does): 3.8 cm tall,
  from the brows ``EYE_BAND_ABOVE_M`` above the eye line to the lower
  eyelids ``EYE_BAND_BELOW_M`` below it, and
  ``EYE_BAND_WIDTH_M`` (12 cm) wide, from one lateral orbital rim to the
  other (the outer eye corners are about 9 cm apart in adults, Farkas 1994,
  and the rims 1.5 cm beyond each);
- the face above and beside it (forehead, temples), which follows the body
  less and the room more;
- the face below it (nose, cheeks, mouth, or a mask), which the analysis
  reads for itself (``FrameAnalysis.lower_face_c``);
- and, for a face 3-6 pixels across, the room around the face.

:func:`face_mix` works these shares out from geometry alone: the face an
ellipse of its measured width and the lens's height-to-width ratio, the band
a strip across it, blurred by the lens's Gaussian, the mean over the
``top_k`` pixels that read hottest by their five-point mean (the pixel and
its four neighbours, as the analysis picks them: most face, then most
band), averaged over where the face's centre falls within a pixel.
:func:`estimate.estimate_core_c` takes the room's share out, then the lower
face's at its measured reading, and weights the band's and the forehead's
fitted relations by what is left (docs/estimation.md, "The optics terms").
Nothing here is fitted to measured readings: the band is anatomy, the
footprint is the lens geometry, and the blur is the lens's, measured on the
reference disc (``LENS_PSF_SIGMA_PX``, 0.4 pixel, without one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from controller.geometry import FACE_HALF_HEIGHT_M, FACE_WIDTH_M, FieldOfView, pixels_across

EYE_BAND_ABOVE_M = 0.020  # the periorbital band runs from the brows, 2.0 cm above the eye line,
EYE_BAND_BELOW_M = 0.018  # to the lower eyelids, 1.8 cm below it
EYE_BAND_WIDTH_M = 0.12  # from one lateral orbital rim to the other
LENS_PSF_SIGMA_PX = 0.4  # the lens's point-spread function, standard deviation in pixels
# How much a pixel's share of band counts against its share of face when ranking the hottest pixels: the band
# reads about 0.9 degC above the forehead and the face about 12 degC above the room (the fitted relations at a
# body temperature of 37 degC in a 22 degC room, body_model.json), so the most-covered pixels read hottest and
# the band decides between pixels the face covers alike.
BAND_RANK = 0.07


SAMPLES = 16  # sub-samples per pixel and axis (blurred_cover, face_mix)


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


_FACE_PHASES = (8, 4)  # positions of the face's centre within a pixel, rows and columns, that face_mix averages
FACE_MIX_STEP_PX = 0.05  # face_mix is worked out on this grid of widths, heights and blurs (cached)


@dataclass(frozen=True)
class FaceMix:
    """What the mean of a face's ``top_k`` hottest pixels is made of (:func:`face_mix`)."""

    share: float  # the face's share; the rest is what surrounds it (the room behind, the hair)
    band: float  # the eye band's share of the face's part
    lower: float  # the share of the face's part that lies below the band (nose, cheeks, mouth; or a mask)


NO_MIX = FaceMix(1.0, 1.0, 0.0)  # a reading taken as the eye band alone (the optics terms off)


def face_mix(width_px: float, height_px: float, sigma_px: float = LENS_PSF_SIGMA_PX, top_k: int = 3) -> FaceMix:
    """What the mean of the ``top_k`` hottest pixels of a face ``width_px`` x ``height_px`` (its apparent size)
    holds, through a Gaussian lens blur of ``sigma_px``: the face's share, and within the face's part the eye
    band's share and that of the face below the band.

    The face is an ellipse centred on the eye line (``FACE_HALF_HEIGHT_M`` above and below it), the band a
    strip ``EYE_BAND_WIDTH_M`` wide from ``EYE_BAND_ABOVE_M`` above the eye line to ``EYE_BAND_BELOW_M`` below
    it; the hottest pixels are those whose five-point mean (the pixel and its four neighbours) holds most face,
    then most band (``BAND_RANK``), as the analysis picks them; the shares are averaged over where the face's
    centre falls within a pixel. A face 12 pixels across keeps its hottest pixels to itself (share 1.0) and
    most of them on the band; a face 4 pixels across through a soft lens lends them to the room and to the face
    above and below the band. Geometry and blur only: nothing here is fitted to readings. :data:`NO_MIX` when
    the size or the blur is not known, or the face is not a pixel across."""
    if not (math.isfinite(width_px) and math.isfinite(height_px) and math.isfinite(sigma_px)) or width_px < 1.0:
        return NO_MIX
    q = FACE_MIX_STEP_PX
    return _face_mix(round(max(width_px, q) / q), round(max(height_px, q) / q), round(max(sigma_px, 0.0) / q),
                     max(int(top_k), 1))


@lru_cache(maxsize=4096)
def _face_mix(width_q: int, height_q: int, sigma_q: int, top_k: int) -> FaceMix:
    q = FACE_MIX_STEP_PX
    width, height, sigma = width_q * q, height_q * q, sigma_q * q
    per_m_rows, per_m_cols = height / (2.0 * FACE_HALF_HEIGHT_M), width / FACE_WIDTH_M
    margin = int(math.ceil(4.0 * sigma)) + 1
    rows = int(math.ceil(height)) + 2 * margin + 2
    cols = int(math.ceil(width)) + 2 * margin + 2
    ys = (np.arange(rows * SAMPLES) + 0.5) / SAMPLES
    across = _pixel_weights(rows, sigma)
    # Each shape is an interval of columns per sub-sample row: what a row's interval lends each pixel column
    # through the blur is a difference of the column weights' running sums.
    running = np.concatenate([np.zeros((cols, 1)), np.cumsum(_pixel_weights(cols, sigma), axis=1)], axis=1)

    def blurred(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
        """Each pixel's share of a shape covering columns [x0, x1] on each sub-sample row (pixel units)."""
        i0 = np.clip(np.ceil(x0 * SAMPLES - 0.5), 0, cols * SAMPLES).astype(int)
        i1 = np.clip(np.floor(x1 * SAMPLES - 0.5) + 1, 0, cols * SAMPLES).astype(int)
        return (across @ (running[:, np.maximum(i1, i0)] - running[:, i0]).T / SAMPLES ** 2).ravel()

    face_total = band_total = lower_total = 0.0
    n_rows, n_cols = _FACE_PHASES
    band_half = EYE_BAND_WIDTH_M / 2.0 * per_m_cols
    for i in range(n_rows):
        cy = rows // 2 + (i + 0.5) / n_rows  # the eye line, rows growing downwards
        top, bottom = cy - EYE_BAND_ABOVE_M * per_m_rows, cy + EYE_BAND_BELOW_M * per_m_rows
        dy = (ys - cy) / (height / 2.0)
        half = np.where(np.abs(dy) <= 1.0, width / 2.0 * np.sqrt(np.maximum(1.0 - dy * dy, 0.0)), -1.0)
        in_band = (ys >= top) & (ys < bottom)
        below = ys >= bottom
        for j in range(n_cols):
            cx = cols // 2 + (j + 0.5) / n_cols
            x0, x1 = cx - half, cx + half
            f = blurred(x0, x1)
            b = blurred(np.where(in_band, np.maximum(x0, cx - band_half), cx),
                        np.where(in_band, np.minimum(x1, cx + band_half), cx - 1.0))
            low = blurred(np.where(below, x0, cx), np.where(below, x1, cx - 1.0))
            hottest = np.argsort(_five_point((f + BAND_RANK * b).reshape(rows, cols)).ravel(),
                                 kind="stable")[::-1][:top_k]
            face_total += float(f[hottest].mean())
            band_total += float(b[hottest].mean())
            lower_total += float(low[hottest].mean())
    if face_total <= 0.0:
        return NO_MIX
    phases = n_rows * n_cols
    return FaceMix(face_total / phases, band_total / face_total, lower_total / face_total)


def _five_point(image: np.ndarray) -> np.ndarray:
    """Each pixel's five-point mean, itself and its four neighbours (the pixel itself for one beyond the image):
    what the analysis picks the hottest face pixels by (``analysis_kernels._face_temperatures``)."""
    padded = np.pad(image, 1, mode="edge")
    return (image + (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:])) / 5.0


@cache
def face_aspect(fov: FieldOfView) -> float:
    """A face's height over its width, in pixels, through ``fov`` (the face the geometry is worked out for)."""
    return (pixels_across(2.0 * FACE_HALF_HEIGHT_M, 1.0, fov, "vertical")
            / pixels_across(FACE_WIDTH_M, 1.0, fov, "horizontal"))


def unmix_face_c(reading_c: float, surround_c: float, share: float) -> float:
    """The face's own temperature from a reading that is ``share`` face and ``1 - share`` its surroundings at
    ``surround_c`` (:attr:`FaceMix.share`); the reading itself when the share is 1 or not known."""
    if not (math.isfinite(share) and 0.0 < share < 1.0) or not math.isfinite(surround_c):
        return reading_c
    return surround_c + (reading_c - surround_c) / share
