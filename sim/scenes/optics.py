"""From the room to the pixels: projection, area sampling (mixed pixels) and the lens blur.

Projection follows controller/geometry.py: pixels are equal steps of angle
(field of view / pixel count). A point ``lateral_m`` to the side, ``height_m``
above the floor and ``distance_m`` in front of the sensor lands at

    column = 16 + atan(lateral / distance) / pitch_h
    row    = 12 - (atan((height - sensor height) / distance) - tilt) / pitch_v

(continuous coordinates: pixel (r, c) covers [r, r+1) x [c, c+1), row 0 at
the top). Across a person the mapping is taken as linear, with the scale
geometry.pixels_across gives for the face at its line-of-sight distance, so a
rendered face covers exactly the pixels the installation tables predict.

Each pixel averages the radiance over its footprint (mixed pixels at every
edge), then the lens spreads it with its point spread function: a Gaussian
core, and in the worlds that draw them, wide Gaussian wings that carry a share
of every point's energy several pixels away (scattered light, a soft lens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from controller.geometry import FACE_HALF_HEIGHT_M, FACE_WIDTH_M, FieldOfView, pixels_across

PSF_SIGMA_PX = 0.4


@dataclass(frozen=True)
class Mounting:
    """Where the sensor is: height of the lens (m), tilt (degrees, + up), mark distance (m)."""

    sensor_height_m: float
    tilt_deg: float
    mark_distance_m: float


@dataclass(frozen=True)
class Projection:
    """The sensor's view of the room for one lens and mounting."""

    fov: FieldOfView
    mounting: Mounting

    def pixel(self, lateral_m: float, height_m: float, distance_m: float) -> tuple[float, float]:
        """(row, column) in continuous pixel coordinates of a point in the room."""
        fov, m = self.fov, self.mounting
        col = fov.columns / 2.0 + math.degrees(math.atan2(lateral_m, distance_m)) / fov.pitch_deg("horizontal")
        elevation = math.degrees(math.atan2(height_m - m.sensor_height_m, distance_m))
        row = fov.rows / 2.0 - (elevation - m.tilt_deg) / fov.pitch_deg("vertical")
        return row, col

    def direction(self, row: float, col: float) -> tuple[float, float]:
        """(azimuth, elevation) in degrees of continuous pixel coordinates; the inverse of :meth:`pixel`'s angles."""
        fov = self.fov
        return ((col - fov.columns / 2.0) * fov.pitch_deg("horizontal"),
                self.mounting.tilt_deg - (row - fov.rows / 2.0) * fov.pitch_deg("vertical"))

    def scale(self, sight_m: float) -> tuple[float, float]:
        """(columns, rows) per metre across a face at line-of-sight distance ``sight_m``."""
        return (pixels_across(FACE_WIDTH_M, sight_m, self.fov, "horizontal") / FACE_WIDTH_M,
                pixels_across(2.0 * FACE_HALF_HEIGHT_M, sight_m, self.fov, "vertical") / (2.0 * FACE_HALF_HEIGHT_M))

    def half_width_m(self, distance_m: float) -> float:
        """Half the width of the strip in view at ``distance_m``."""
        return distance_m * math.tan(math.radians(self.fov.horizontal_deg / 2.0))


def overlap_weights(edges_px: np.ndarray, size: int) -> tuple[int, np.ndarray] | None:
    """How much of each pixel every cell covers, along one axis.

    ``edges_px`` are a grid's increasing cell edges in pixel coordinates.
    Returns (first pixel, W) with W[i, j] the length of pixel (first + i)
    that cell j covers, for the pixels the grid touches; None when it misses
    the image.
    """
    lo = max(0, math.floor(edges_px[0]))
    hi = min(size, math.ceil(edges_px[-1]))
    if hi <= lo:
        return None
    pix = np.arange(lo, hi, dtype=float)[:, None]
    w = np.minimum(pix + 1.0, edges_px[None, 1:])
    w -= np.maximum(pix, edges_px[None, :-1])
    np.maximum(w, 0.0, out=w)
    return lo, w


@cache
def blur_matrix(size: int, sigma_px: float = PSF_SIGMA_PX) -> np.ndarray:
    """(size, size) matrix applying a sampled Gaussian along one axis, rows normalised.

    At the edges the kernel is renormalised over the pixels that exist (the
    scene beyond the array is taken to look like its edge).
    """
    i = np.arange(size, dtype=float)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma_px) ** 2)
    g[g < 1e-6] = 0.0
    g /= g.sum(axis=1, keepdims=True)
    g.setflags(write=False)
    return g


def blur(radiance_image: np.ndarray, sigma_px: float = PSF_SIGMA_PX, wing_share: float = 0.0,
         wing_sigma_px: float = 0.0) -> np.ndarray:
    """The image the lens makes of ``radiance_image`` (rows x columns): a Gaussian of ``sigma_px``, and with
    ``wing_share`` > 0 that share of the energy spread by a second, wider Gaussian of ``wing_sigma_px`` (the
    point spread function is their weighted sum; it keeps the energy away from the array's edges)."""
    if not 0.0 <= wing_share < 1.0 or (wing_share > 0.0 and not wing_sigma_px > 0.0):
        raise ValueError(f"wing_share must be in [0, 1) and wings need a width, got {wing_share}, {wing_sigma_px}")
    rows, cols = radiance_image.shape
    core = blur_matrix(rows, sigma_px) @ radiance_image @ blur_matrix(cols, sigma_px).T
    if wing_share == 0.0:
        return core
    wings = blur_matrix(rows, wing_sigma_px) @ radiance_image @ blur_matrix(cols, wing_sigma_px).T
    return (1.0 - wing_share) * core + wing_share * wings
