"""The lens's wings, taken out of each image: what its Gaussian core alone would have made of the scene.

A lens spreads a point's energy over a core (the blur the reference disc
measures, ``optics.LENS_PSF_SIGMA_PX`` or ``blur_px``) and, in part, far
beyond it: scattered light, a soft lens. Modelled as ``wing_share`` of every
point's energy spread by a Gaussian of ``wing_px`` pixels, an image is

    image = (1 - wing_share) * core + wing_share * W(core)

where ``core`` is the image the core alone would make and ``W`` the wings'
Gaussian blur along rows and columns (``W(x) = R x C^T``; at the array's edge
the kernel is normalised over the pixels that exist: the scene beyond is
taken to look like the edge). A wing of a few pixels carries part of a face's
warmth onto the room around it, and the room's and the body's onto the face
and onto the reference disc; the analysis measures faces and the disc
through the core (``optics.face_mix``, ``reference_source.disc_cover``), so
the wings are taken out first, exactly: ``R`` and ``C`` are each similar to a
symmetric matrix (a Gaussian kernel's, whose eigenvalues are not negative),
so ``R = Vr diag(lr) Vr^-1`` and the same for ``C``, and

    core = Vr [(Vr^-1 image Vc^-T) / ((1 - wing_share) + wing_share lr_i lc_j)] Vc^T,

in radiance, as the lens mixes it.
The matrices are worked out once per gate (:class:`LensWings`); each image
then costs four small matrix products. Melexis publishes no point spread
function for the MLX90640: the wings are what a measurement of the lens gives
(``[screening] lens_wing_share``, ``lens_wing_px``); none by default
(docs/estimation.md, "Lens wings").
"""

from __future__ import annotations

import math

import numpy as np

from .analysis_kernels import KELVIN

MAX_WING_SHARE = 0.5
WING_PX = (0.5, 8.0)  # the wings' Gaussian sigma, pixels: what a [screening] lens_wing_px may be


def check_wings(share: float, px: float) -> None:
    """ValueError unless ``share`` is in [0, MAX_WING_SHARE] and ``px`` within WING_PX."""
    if not (math.isfinite(share) and 0.0 <= share <= MAX_WING_SHARE):
        raise ValueError(f"lens_wing_share must be in 0..{MAX_WING_SHARE}, got {share}")
    if not (math.isfinite(px) and WING_PX[0] <= px <= WING_PX[1]):
        raise ValueError(f"lens_wing_px must be {WING_PX[0]}..{WING_PX[1]} pixels, got {px}")


def _gaussian(n: int, px: float) -> np.ndarray:
    """(n, n), symmetric: a Gaussian of ``px`` between pixel centres, weights under 1e-6 of the peak dropped."""
    i = np.arange(n, dtype=float)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / px) ** 2)
    g[g < 1e-6] = 0.0
    return g


def wing_matrix(n: int, px: float) -> np.ndarray:
    """(n, n): the wings' Gaussian of ``px`` along one axis of ``n`` pixels, each row normalised over the pixels
    that exist."""
    g = _gaussian(n, px)
    return g / g.sum(axis=1, keepdims=True)


def add_wings(core: np.ndarray, share: float, px: float) -> np.ndarray:
    """The image (degC) a lens with these wings makes of ``core`` (degC), mixing radiance (the forward model,
    for the tests)."""
    rows, cols = core.shape
    rad = (np.asarray(core, dtype=np.float64) + KELVIN) ** 4
    out = (1.0 - share) * rad + share * (wing_matrix(rows, px) @ rad @ wing_matrix(cols, px).T)
    return out ** 0.25 - KELVIN


def _eigen(n: int, px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``wing_matrix(n, px)`` as V diag(values) V^-1: (V, V^-1, values). The matrix is D^-1 G with G symmetric
    and D its row sums, similar to the symmetric D^-1/2 G D^-1/2 = Q diag(values) Q^T."""
    g = _gaussian(n, px)
    d = g.sum(axis=1)
    values, q = np.linalg.eigh(g / np.sqrt(np.outer(d, d)))
    return q / np.sqrt(d)[:, None], q.T * np.sqrt(d)[None, :], values


class LensWings:
    """The wings of one gate's lens, precomputed for its (rows, columns) images; :meth:`remove` takes them out."""

    def __init__(self, share: float, px: float, shape: tuple[int, int]):
        check_wings(share, px)
        self.share, self.px = float(share), float(px)
        rows, cols = shape
        self._vr, self._vr_inv, lr = _eigen(rows, px)
        self._vc, self._vc_inv, lc = _eigen(cols, px)
        self._scale = np.ascontiguousarray(1.0 / ((1.0 - share) + share * np.outer(lr, lc)))

    @property
    def noise_gain(self) -> float:
        """How much taking the wings out lifts the pixels' own noise: the rms of white noise after over before
        (1.24 for 20 % of the energy in 3 px; the fine detail the wings dimmed by 1 - share is restored, and the
        noise with it). Worked out from the modes' gains, which give the same as removing noise images does
        (tests/test_lens_wings.py)."""
        return float(np.sqrt(np.mean(self._scale * self._scale)))

    def remove(self, image: np.ndarray) -> np.ndarray:
        """``image`` (degC) as the lens's core alone would have made it. A lens mixes radiance, so the wings are
        taken out of each pixel's radiance, (T + 273.15)^4, and the result turned back into degrees. A pixel that
        is not a finite number stays as it is (the analysis reads it as the background) and counts as the median
        of the others meanwhile."""
        image = np.asarray(image, dtype=np.float64)
        bad = ~np.isfinite(image)
        any_bad = bool(bad.any())
        work = image
        if any_bad:
            good = image[~bad]
            work = np.where(bad, float(np.median(good)) if good.size else 0.0, image)
        rad = (np.maximum(work, -KELVIN) + KELVIN) ** 4
        core = self._vr @ ((self._vr_inv @ rad @ self._vc_inv.T) * self._scale) @ self._vc.T
        core = np.maximum(core, 0.0) ** 0.25 - KELVIN
        if any_bad:
            core[bad] = image[bad]
        return np.ascontiguousarray(core)


def remove_wings_reference(image: np.ndarray, share: float, px: float, iterations: int = 200) -> np.ndarray:
    """Plain iteration in radiance, for the tests: core = (image - share W(core)) / (1 - share), from core =
    image; it converges while share < 0.5, as W's eigenvalues are at most 1 (finite pixels only)."""
    rows, cols = image.shape
    r, c = wing_matrix(rows, px), wing_matrix(cols, px)
    rad = (np.asarray(image, dtype=np.float64) + KELVIN) ** 4
    core = rad.copy()
    for _ in range(iterations):
        core = (rad - share * (r @ core @ c.T)) / (1.0 - share)
    return core ** 0.25 - KELVIN
