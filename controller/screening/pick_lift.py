"""What the pixels' noise adds to the face reading: the lift of the hottest pixels picked.

The analysis reads a face as the mean of its ``top_k`` skin pixels whose
five-point mean reads hottest (``analysis_kernels._face_temperatures``). Where
several pixels read nearly alike, their noise helps decide which are picked,
and those picked are, on average, those whose noise read high: the mean reads
above what the same pixels would without noise. The five-point mean keeps the
lift small on a face a few pixels across, where the eye line holds few
pixels that read alike; on a larger face, or through a noisier sensor, more
pixels compete and the lift grows (about 0.1 degC for a face 8 pixels across
at 0.7 degC a reading). A noisier gate would read every face higher, and
decide more people FEVER, for that alone.

:func:`pick_lift_c` works the lift out from the face model that
:func:`optics.face_mix` reads the shares from (the same ellipse, band and
blur, at several positions within a pixel), at the face's contrast with the
room (the band reading ``BAND_RANK`` of it above the rest, as the ranking
assumes, and the canthus regions ``CANTHUS_RANK`` above the band), with the noise of one reading as the gate measures it
(``controller.sensor.noise``; wings taken out of the image lift it by
``LensWings.noise_gain``): many draws of white noise, each picked as the
analysis picks, against the same pixels picked without noise. The draws are
the same for every face (one seed), so the figure is a smooth function of
its inputs; nothing is fitted to readings. The pixels' fixed offsets pick
the same way but are not measured by the gate, and are not taken out.

``lift_draws`` is the numba kernel; ``lift_draws_reference`` its plain-numpy
twin, for tests.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from .optics import BAND_RANK, CANTHUS_RANK, face_model

LIFT_PHASES = (4, 2)  # positions of the face's centre within a pixel (rows, columns) the lift is averaged over
LIFT_DRAWS = 48  # noise images drawn at each position
LIFT_SEED = 20261207  # one seed for every face: the same draws, so the lift moves smoothly with its inputs
# The lift is worked out on a grid (and cached): faces' sizes in steps of LIFT_STEP_PX, blurs of BLUR_STEP_PX (a
# gate's is fixed), the noise over the contrast in steps of NOISE_RATIO_STEP (0.06 degC at the face's 12 degC)
LIFT_STEP_PX = 0.25
BLUR_STEP_PX = 0.05
NOISE_RATIO_STEP = 0.005
SKIN_SHARE = 0.5  # a model pixel at least this much face counts as the face's skin


@njit(cache=True)
def _five_point(image, r, c):
    rows, cols = image.shape
    own = image[r, c]
    total = image[r - 1, c] if r > 0 else own
    total += image[r + 1, c] if r + 1 < rows else own
    total += image[r, c - 1] if c > 0 else own
    total += image[r, c + 1] if c + 1 < cols else own
    return (own + total) / 5.0


@njit(cache=True)
def _picked_mean(image, skin, top_k, scores, values):
    """The mean of the ``top_k`` skin pixels whose five-point mean reads hottest (ties to the first in raster
    order), as the analysis picks them; ``scores`` and ``values`` are scratch of at least the skin's size."""
    rows, cols = image.shape
    n = 0
    for r in range(rows):
        for c in range(cols):
            if skin[r, c]:
                scores[n] = _five_point(image, r, c)
                values[n] = image[r, c]
                n += 1
    k = min(top_k, n)
    total = 0.0
    for _ in range(k):
        best = 0
        for i in range(1, n):
            if scores[i] > scores[best]:
                best = i
        total += values[best]
        scores[best] = -np.inf
    return total / k if k > 0 else 0.0


@njit(cache=True)
def lift_draws(image, skin, noise, top_k):
    """The mean, over the noise images ``noise`` (draws, rows, columns), of the picked mean of ``image`` plus
    each, less the picked mean of ``image`` itself. ``skin``: which pixels may be picked (bool)."""
    size = image.shape[0] * image.shape[1]
    scores = np.empty(size)
    values = np.empty(size)
    clean = _picked_mean(image, skin, top_k, scores, values)
    noisy = np.empty_like(image)
    total = 0.0
    for d in range(noise.shape[0]):
        for r in range(image.shape[0]):
            for c in range(image.shape[1]):
                noisy[r, c] = image[r, c] + noise[d, r, c]
        total += _picked_mean(noisy, skin, top_k, scores, values)
    return total / noise.shape[0] - clean if noise.shape[0] > 0 else 0.0


def lift_draws_reference(image: np.ndarray, skin: np.ndarray, noise: np.ndarray, top_k: int) -> float:
    """What :func:`lift_draws` computes, with whole-array numpy operations."""

    def picked(img: np.ndarray) -> float:
        padded = np.pad(img, 1, mode="edge")
        five = (img + padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]) / 5.0
        idx = np.flatnonzero(skin.ravel())
        if idx.size == 0:
            return 0.0
        order = np.argsort(-five.ravel()[idx], kind="stable")[:top_k]
        return float(img.ravel()[idx][order].mean())

    if len(noise) == 0:
        return 0.0
    return float(np.mean([picked(image + n) for n in noise])) - picked(image)


def pick_lift_c(width_px: float, height_px: float, sigma_px: float, noise_c: float, contrast_c: float,
                top_k: int = 3) -> float:
    """How far (degC) the mean of the ``top_k`` hottest face pixels reads above the same face's without noise,
    on average: a face ``width_px`` x ``height_px`` through a blur of ``sigma_px``, reading ``contrast_c`` over
    the room, with ``noise_c`` the noise of one reading. 0.0 where any of them is not known (NaN), the noise or
    the contrast is not positive, or the face is not a pixel across."""
    values = (width_px, height_px, sigma_px, noise_c, contrast_c)
    if not all(math.isfinite(v) for v in values) or width_px < 1.0 or noise_c <= 0.0 or contrast_c <= 0.0:
        return 0.0
    q = LIFT_STEP_PX
    unit = _lift(round(max(width_px, q) / q), round(max(height_px, q) / q), round(max(sigma_px, 0.0) / BLUR_STEP_PX),
                 round(noise_c / contrast_c / NOISE_RATIO_STEP), max(int(top_k), 1))
    return contrast_c * unit


@lru_cache(maxsize=4096)
def _lift(width_q: int, height_q: int, sigma_q: int, ratio_q: int, top_k: int) -> float:
    """The lift of a face of contrast 1 (the grid's steps as :func:`pick_lift_c` rounds to them)."""
    if ratio_q <= 0:
        return 0.0
    q = LIFT_STEP_PX
    total = 0.0
    phases = 0
    for f, b, _, canthi in face_model(width_q * q, height_q * q, sigma_q * BLUR_STEP_PX, LIFT_PHASES):
        noise = np.random.default_rng(LIFT_SEED).standard_normal((LIFT_DRAWS, *f.shape)) * (ratio_q * NOISE_RATIO_STEP)
        image = np.ascontiguousarray(f + BAND_RANK * b + CANTHUS_RANK * canthi)
        total += lift_draws(image, f >= SKIN_SHARE, noise, top_k)
        phases += 1
    return total / phases
