"""The room behind the people: walls with gradients, an optional warm wall, the reference source.

All of it is static, so it is worked out once per scene, as temperature
offsets from the ambient at each pixel (area-averaged over 4 x 4 samples):

- the far wall, WALL_DISTANCE_M away, warmer higher up (air stratifies,
  STRATIFICATION_K_PER_M), the ceiling a little warmer still and the floor
  cooler where the view reaches them;
- a left-right gradient (one side near a window or an outside wall);
- a faint texture (furniture, posters) of a few tenths of a degree;
- optionally a warm wall on the right: sunlit, or with a radiator;
- optionally the heated reference source, described by a
  :class:`ReferenceSpec`: a disc of any diameter at any distance (by default
  REFERENCE_DIAMETER_M at REFERENCE_DISTANCE_FACTOR of the mark distance), in
  the upper left of the view, at a set temperature, with any emissivity (it
  then also reflects the room), and with any wall behind it (a patch of wall
  around it at its own temperature, such as a radiator or a sunlit wall). It is
  nearer than anyone passing, so it is painted over people. Its edge is
  sampled finely (REFERENCE_SAMPLES per pixel), so a disc of a pixel or two
  covers its pixels by the right fractions; the lens blur then spreads it like
  everything else. The default is a blackbody 7 cm disc (what such references
  are built and certified to approximate), about 4.7 pixels across at the
  recommended mountings, so it reads its set temperature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from controller.geometry import pixels_across
from controller.sensor.frame import COLUMNS, ROWS

from . import optics
from .optics import Projection
from .physiology import radiance, temperature_from_radiance

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
REFERENCE_SAMPLES = 24  # per pixel and axis, for the disc's edge
SAMPLES = 4


@dataclass(frozen=True)
class ReferenceSpec:
    """A reference source as a site might install it.

    ``distance_m`` is the line of sight from the sensor (None: REFERENCE_DISTANCE_FACTOR x the mark distance);
    ``wall_offset_c``, when given, is the temperature above the room's ambient of the wall right behind the
    disc, over a square ``wall_half_px`` pixels either side of its centre (None: the room's own wall)."""

    diameter_m: float = REFERENCE_DIAMETER_M
    distance_m: float | None = None
    temp_c: float = REFERENCE_C  # its set point
    emissivity: float = 1.0  # of its coating; below 1 it also reflects the room
    centre_px: tuple[float, float] = REFERENCE_PIXEL  # (row, column), continuous pixel coordinates
    wall_offset_c: float | None = None
    wall_half_px: float = 4.0

    def __post_init__(self) -> None:
        if not (self.diameter_m > 0.0 and (self.distance_m is None or self.distance_m > 0.0)):
            raise ValueError(f"a reference needs a positive diameter and distance, got {self}")
        if not 0.0 < self.emissivity <= 1.0:
            raise ValueError(f"emissivity must be in (0, 1], got {self.emissivity}")
        r, c = self.centre_px
        if not (0.0 <= r <= ROWS and 0.0 <= c <= COLUMNS):
            raise ValueError(f"centre_px {self.centre_px} is outside the 24 x 32 image")


@dataclass(frozen=True)
class Reference:
    """Where the reference source is in the image and what it reads."""

    temp_c: float
    centre: tuple[float, float]  # (row, column), continuous pixel coordinates
    radius_px: tuple[float, float]  # (rows, columns)
    emissivity: float = 1.0
    diameter_m: float = REFERENCE_DIAMETER_M
    distance_m: float = 0.0

    def emitted(self, ambient_c: float) -> float:
        """T^4 it sends: its own emission plus the room it reflects."""
        e = self.emissivity
        return float(e * radiance(self.temp_c) + (1.0 - e) * radiance(ambient_c))

    def apparent_c(self, ambient_c: float) -> float:
        """What a pixel wholly on it reads, before the lens blur (degC, emissivity 1)."""
        return float(temperature_from_radiance(self.emitted(ambient_c)))

    def box_with_margin(self, margin: int = 1) -> tuple[int, int, int, int]:
        """The pixels it touches grown by ``margin``: a box an installer would configure for it."""
        r0, c0, r1, c1 = self.box
        return (max(0, r0 - margin), max(0, c0 - margin), min(ROWS, r1 + margin), min(COLUMNS, c1 + margin))

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


def disc_cover(centre: tuple[float, float], radius_px: tuple[float, float], samples: int = REFERENCE_SAMPLES
               ) -> np.ndarray:
    """(24, 32): the share of each pixel an ellipse of radii ``radius_px`` (rows, columns) at ``centre`` covers."""
    (r, c), (ry, rx) = centre, radius_px
    cover = np.zeros((ROWS, COLUMNS))
    r0, r1 = max(0, math.floor(r - ry)), min(ROWS, math.ceil(r + ry))
    c0, c1 = max(0, math.floor(c - rx)), min(COLUMNS, math.ceil(c + rx))
    if r1 <= r0 or c1 <= c0:
        return cover
    ys = r0 + (np.arange((r1 - r0) * samples) + 0.5) / samples
    xs = c0 + (np.arange((c1 - c0) * samples) + 0.5) / samples
    inside = ((ys[:, None] - r) / ry) ** 2 + ((xs[None, :] - c) / rx) ** 2 <= 1.0
    cover[r0:r1, c0:c1] = inside.reshape(r1 - r0, samples, c1 - c0, samples).mean(axis=(1, 3))
    return cover


def disc_on_wall(centre: tuple[float, float], radius_px: tuple[float, float], disc_c: float, wall_c: float,
                 sigma_px: float) -> np.ndarray:
    """(24, 32) degC: a blackbody disc at ``disc_c`` on a uniform wall at ``wall_c``, through the simulator's
    optics (each pixel's share of it, mixed in radiance, then the lens's Gaussian of ``sigma_px`` over the
    pixels): a reference disc alone, with no room, sensor or noise."""
    cover = disc_cover(centre, radius_px)
    return temperature_from_radiance(optics.blur(cover * radiance(disc_c) + (1.0 - cover) * radiance(wall_c),
                                                 sigma_px))


class Room:
    """The static background of one scene: offsets from ambient per pixel, and the reference disc."""

    def __init__(self, projection: Projection, rng: np.random.Generator, *, warm_wall: bool = False,
                 reference: bool | ReferenceSpec = True, reference_c: float = REFERENCE_C):
        """``reference``: False for none, True for the default one at ``reference_c``, or a ReferenceSpec."""
        rows = _sample_grid(ROWS)[:, None]
        cols = _sample_grid(COLUMNS)[None, :]
        fov, m = projection.fov, projection.mounting
        azimuth = (cols - fov.columns / 2.0) * fov.pitch_deg("horizontal")
        elevation = m.tilt_deg - (rows - fov.rows / 2.0) * fov.pitch_deg("vertical")
        height = m.sensor_height_m + WALL_DISTANCE_M * np.tan(np.radians(elevation))
        offset = STRATIFICATION_K_PER_M * (np.clip(height, 0.0, CEILING_M) - m.sensor_height_m)
        offset = (offset + np.where(height > CEILING_M, CEILING_OFFSET_C, 0.0)
                  + np.where(height < 0.0, FLOOR_OFFSET_C, 0.0))
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
        spec = ReferenceSpec(temp_c=reference_c) if reference is True else (reference or None)
        if spec is not None:
            distance = spec.distance_m if spec.distance_m is not None else REFERENCE_DISTANCE_FACTOR * m.mark_distance_m
            ry = pixels_across(spec.diameter_m, distance, fov, "vertical") / 2.0
            rx = pixels_across(spec.diameter_m, distance, fov, "horizontal") / 2.0
            self.reference_cover = disc_cover(spec.centre_px, (ry, rx))
            self.reference = Reference(float(spec.temp_c), spec.centre_px, (ry, rx), spec.emissivity,
                                       spec.diameter_m, distance)
            if spec.wall_offset_c is not None:
                (r0, c0), h = spec.centre_px, spec.wall_half_px
                rows_px = (np.arange(ROWS) + 0.5)[:, None]
                cols_px = (np.arange(COLUMNS) + 0.5)[None, :]
                patch = (np.abs(rows_px - r0) <= h) & (np.abs(cols_px - c0) <= h)
                self.offset_c = np.where(patch, spec.wall_offset_c, self.offset_c)
            b0, b1, b2, b3 = self.reference.box
            self._reference_cover_box = self.reference_cover[b0:b2, b1:b3].copy()
        self._cached: tuple[float, np.ndarray] | None = None

    def in_front(self, rad: np.ndarray, ambient_c: float | None = None) -> None:
        """Paint the reference source over ``rad`` (in place): it stands nearer the sensor than anyone.
        ``ambient_c`` is the room it reflects (it matters only when its emissivity is below 1)."""
        if self.reference is not None:
            r0, c0, r1, c1 = self.reference.box
            window = rad[r0:r1, c0:c1]
            own = self.reference.emitted(ambient_c if ambient_c is not None else self.reference.temp_c)
            window += self._reference_cover_box * (own - window)

    def radiance(self, ambient_c: float) -> np.ndarray:
        """T^4 of the walls at each pixel for a room at ``ambient_c`` (read-only, cached), without the reference
        source: :meth:`in_front` paints it last, over the walls and whoever stands before them, so that its
        partly covered edge pixels mix it with what is really behind it."""
        if self._cached is not None and self._cached[0] == ambient_c:
            return self._cached[1]
        rad = radiance(ambient_c + self.offset_c)
        rad.setflags(write=False)
        self._cached = (ambient_c, rad)
        return rad
