"""The room behind the people: walls with gradients, an optional warm wall, the reference source.

All of it is static, so it is worked out once per scene, as temperature
offsets from the ambient at each pixel (area-averaged over 4 x 4 samples):

- the far wall, WALL_DISTANCE_M away, warmer higher up (air stratifies,
  STRATIFICATION_K_PER_M), the ceiling a little warmer still and the floor
  cooler where the view reaches them;
- a left-right gradient (one side near a window or an outside wall);
- a faint texture (furniture, posters) of a few tenths of a degree;
- optionally a warm wall on the right: sunlit, or with a radiator;
- optionally the heated reference source: a disc of REFERENCE_DIAMETER_M held
  nearer the sensor than the mark, in the upper left of the view, at a set
  temperature. It is nearer than anyone passing, so it is painted over people. Its coating is taken as a blackbody (what such references are
  built and certified to approximate), so it reads its set temperature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from controller.geometry import pixels_across

from .optics import COLUMNS, ROWS, Projection
from .physiology import radiance

WALL_DISTANCE_M = 4.0
CEILING_M = 3.0
STRATIFICATION_K_PER_M = 0.4
CEILING_OFFSET_C = 0.8
FLOOR_OFFSET_C = -0.6
WARM_WALL_C = 4.5  # above ambient
WARM_WALL_AZIMUTH_DEG = 15.0  # it starts this far right of the sensor's axis
REFERENCE_DIAMETER_M = 0.07
REFERENCE_DISTANCE_FACTOR = 0.55  # of the mark distance
REFERENCE_PIXEL = (4.5, 4.0)  # (row, column) of its centre
REFERENCE_C = 35.0
SAMPLES = 4


@dataclass(frozen=True)
class Reference:
    """Where the reference source is in the image and what it reads."""

    temp_c: float
    centre: tuple[float, float]  # (row, column), continuous pixel coordinates
    radius_px: tuple[float, float]  # (rows, columns)

    @property
    def box(self) -> list[int]:
        """[row0, col0, row1, col1] of the pixels it touches (inclusive-exclusive)."""
        (r, c), (rr, rc) = self.centre, self.radius_px
        return [max(0, math.floor(r - rr)), max(0, math.floor(c - rc)),
                min(ROWS, math.ceil(r + rr)), min(COLUMNS, math.ceil(c + rc))]


def _sample_grid(size: int) -> np.ndarray:
    return ((np.arange(size * SAMPLES) + 0.5) / SAMPLES)


def _pool(a: np.ndarray) -> np.ndarray:
    return a.reshape(ROWS, SAMPLES, COLUMNS, SAMPLES).mean(axis=(1, 3))


class Room:
    """The static background of one scene: offsets from ambient per pixel, and the reference disc."""

    def __init__(self, projection: Projection, rng: np.random.Generator, *, warm_wall: bool = False,
                 reference: bool = True, reference_c: float = REFERENCE_C):
        rows = _sample_grid(ROWS)[:, None]
        cols = _sample_grid(COLUMNS)[None, :]
        fov, m = projection.fov, projection.mounting
        azimuth = (cols - fov.columns / 2.0) * fov.pitch_deg("horizontal")
        elevation = m.tilt_deg - (rows - fov.rows / 2.0) * fov.pitch_deg("vertical")
        height = m.sensor_height_m + WALL_DISTANCE_M * np.tan(np.radians(elevation))
        offset = STRATIFICATION_K_PER_M * (np.clip(height, 0.0, CEILING_M) - m.sensor_height_m)
        offset = offset + np.where(height > CEILING_M, CEILING_OFFSET_C, 0.0) + np.where(height < 0.0, FLOOR_OFFSET_C, 0.0)
        offset = offset + rng.uniform(-0.8, 0.8) * azimuth / (fov.horizontal_deg / 2.0)
        for _ in range(3):
            fa, fe = rng.uniform(0.02, 0.12, size=2)
            offset = offset + 0.15 * np.cos(2 * math.pi * (fa * azimuth + fe * elevation) + rng.uniform(0, 2 * math.pi))
        if warm_wall:
            offset = offset + WARM_WALL_C * ((azimuth > WARM_WALL_AZIMUTH_DEG) & (height > 0.3) & (height < 2.2))
        self.offset_c = _pool(np.broadcast_to(offset, (ROWS * SAMPLES, COLUMNS * SAMPLES)))
        self.warm_wall = warm_wall

        self.reference: Reference | None = None
        self.reference_cover = np.zeros((ROWS, COLUMNS))
        if reference:
            distance = REFERENCE_DISTANCE_FACTOR * m.mark_distance_m
            ry = pixels_across(REFERENCE_DIAMETER_M, distance, fov, "vertical") / 2.0
            rx = pixels_across(REFERENCE_DIAMETER_M, distance, fov, "horizontal") / 2.0
            r0, c0 = REFERENCE_PIXEL
            inside = ((rows - r0) / ry) ** 2 + ((cols - c0) / rx) ** 2 <= 1.0
            self.reference_cover = _pool(inside.astype(float))
            self.reference = Reference(float(reference_c), (r0, c0), (ry, rx))
            b0, b1, b2, b3 = self.reference.box
            self._reference_cover_box = self.reference_cover[b0:b2, b1:b3].copy()
            self._reference_radiance = float(radiance(reference_c))
        self._cached: tuple[float, np.ndarray] | None = None

    def in_front(self, rad: np.ndarray) -> None:
        """Paint the reference source over ``rad`` (in place): it stands nearer the sensor than anyone."""
        if self.reference is not None:
            r0, c0, r1, c1 = self.reference.box
            window = rad[r0:r1, c0:c1]
            window += self._reference_cover_box * (self._reference_radiance - window)

    def radiance(self, ambient_c: float) -> np.ndarray:
        """T^4 of the background at each pixel for a room at ``ambient_c`` (read-only, cached)."""
        if self._cached is not None and self._cached[0] == ambient_c:
            return self._cached[1]
        rad = radiance(ambient_c + self.offset_c)
        if self.reference is not None:
            rad += self.reference_cover * (radiance(self.reference.temp_c) - rad)
        rad.setflags(write=False)
        self._cached = (ambient_c, rad)
        return rad
