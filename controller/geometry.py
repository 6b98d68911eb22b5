"""Mounting geometry: what the MLX90640 sees of a face, and where to mount it.

The installer chooses four things: the sensor variant (55 or 110 degrees wide),
the height of the sensor, its tilt, and where the floor mark people stand on
goes. This module works out, for a choice, how many pixels a face covers and
which heights are in view, and searches for the best choice for a school's
population (:func:`recommend_mounting`).

The model is a pinhole camera whose pixels are equal steps of angle: the
angular pixel pitch is the field of view divided by the pixel count (32 columns
across, 24 rows up). An object of width w at distance d subtends
2 atan(w / 2d); divided by the pitch, that is the pixels it spans. A real lens
bends a little towards the corners, and the field of view is where a pixel's
response has fallen to half, so the figures are design estimates, good to
about a pixel.

Conventions: heights are above the floor, in metres; distances are horizontal,
from the sensor to the face, in metres, unless a docstring says "line of
sight"; a tilt is the angle of the sensor's axis above the horizontal, in
degrees, positive when it looks up and negative when it looks down. A face is
taken to run from ``face_half_height_m`` below the eyes to as far above them
(10 cm each way by default), and to be ``face_width_m`` wide (15 cm).

``python -m controller.geometry`` prints the tables in docs/installation.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import numpy as np

from controller.sensor.frame import COLUMNS, ROWS

Axis = Literal["horizontal", "vertical"]


@dataclass(frozen=True)
class FieldOfView:
    """One MLX90640 lens variant: its field of view and its pixel grid."""

    part: str
    horizontal_deg: float
    vertical_deg: float
    columns: int = COLUMNS
    rows: int = ROWS

    @property
    def label(self) -> str:
        """``55°x35°``: how installers name the variant."""
        return f"{self.horizontal_deg:g}°x{self.vertical_deg:g}°"

    def pitch_deg(self, axis: Axis = "horizontal") -> float:
        """Angle covered by one pixel along ``axis``: field of view / pixel count."""
        if axis == "horizontal":
            return self.horizontal_deg / self.columns
        if axis == "vertical":
            return self.vertical_deg / self.rows
        raise ValueError(f"axis must be 'horizontal' or 'vertical', got {axis!r}")

    @property
    def pixel_aspect(self) -> float:
        """Rows an object spans for each column it spans (a pixel's width over its height, in angle)."""
        return self.pitch_deg("horizontal") / self.pitch_deg("vertical")


# Fields of view from the Melexis MLX90640 datasheet (revision 11, 3 August 2018),
# ordering information: the BAB option code is the 55°x35° lens, BAA the 110°x75° one.
NARROW = FieldOfView("MLX90640ESF-BAB", 55.0, 35.0)
WIDE = FieldOfView("MLX90640ESF-BAA", 110.0, 75.0)
VARIANTS = (NARROW, WIDE)


class Lens(str, Enum):
    """A gate's lens variant, named as configs and command lines spell it: "55" or "110" (its horizontal field
    of view in degrees). A str, so it equals, hashes and serialises (JSON, TOML) as that spelling."""

    NARROW = "55"
    WIDE = "110"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value) -> Lens:
        """``value`` ("55", "110" or a Lens) as a Lens; ValueError names the accepted spellings."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"the lens must be {cls.spellings()}, got {value!r}") from None

    @classmethod
    def choices(cls) -> tuple[str, ...]:
        """The spellings, for argparse ``choices``."""
        return tuple(lens.value for lens in cls)

    @classmethod
    def spellings(cls) -> str:
        return " or ".join(f'"{lens.value}"' for lens in cls)

    @property
    def fov(self) -> FieldOfView:
        return NARROW if self is Lens.NARROW else WIDE

    @property
    def mark_distance_m(self) -> float:
        """The recommended primary-school mark for this lens (docs/installation.md, "Recommended mountings")."""
        return 0.90 if self is Lens.NARROW else 0.45

FACE_WIDTH_M = 0.15
FACE_HALF_HEIGHT_M = 0.10  # the face runs from this far below the eyes to this far above them
FOREHEAD_WIDTH_M = 0.12
FOREHEAD_HEIGHT_M = 0.05
MIN_FACE_PIXELS = 4.0  # a face needs 4 x 4 pixels for a forehead reading (see recommend_mounting)
STAND_TOLERANCE_M = 0.10  # people stand up to this far in front of or behind the mark
MAX_VIEW_ANGLE_DEG = 30.0  # steeper than this, the sensor sees the top of the head or under the chin

# Eye heights from young primary pupils (about 1.15 m) to tall adults (about 1.80 m).
EYE_HEIGHTS_M = tuple(round(1.15 + 0.05 * i, 2) for i in range(14))

# The grid recommend_mounting searches.
SENSOR_HEIGHTS_M = tuple(round(1.00 + 0.05 * i, 2) for i in range(25))  # 1.00 .. 2.20 m
TILTS_DEG = tuple(float(t) for t in range(-30, 31))  # -30 .. +30 degrees, 1 degree steps
DISTANCES_M = tuple(round(0.30 + 0.05 * i, 2) for i in range(25))  # 0.30 .. 1.50 m

# School populations: eye heights (m) the mounting must serve.
SITES = (
    ("primary school", 1.15, 1.45),
    ("secondary school", 1.40, 1.80),
    ("mixed site", 1.15, 1.80),
)


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not value > 0.0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def angle_subtended_deg(width_m: float, distance_m: float) -> float:
    """Angle (degrees) an object ``width_m`` wide spans, centred on the line of sight ``distance_m`` away."""
    return math.degrees(2.0 * math.atan(_positive("width_m", width_m) / (2.0 * _positive("distance_m", distance_m))))


def pixels_across(width_m: float, distance_m: float, fov: FieldOfView, axis: Axis = "horizontal") -> float:
    """How many pixels an object ``width_m`` wide spans at ``distance_m`` (line of sight).

    ``axis`` says which way the width runs: "horizontal" counts columns,
    "vertical" rows. Example: a 0.15 m face at 0.5 m spans 17.1 degrees, and
    the 55-degree variant has 55/32 = 1.72 degrees a column: about 10 pixels.
    """
    return angle_subtended_deg(width_m, distance_m) / fov.pitch_deg(axis)


def face_width_pixels(distance_m: float, fov: FieldOfView, face_width_m: float = FACE_WIDTH_M) -> float:
    """Columns a face ``face_width_m`` wide covers at ``distance_m`` (line of sight)."""
    return pixels_across(face_width_m, distance_m, fov, "horizontal")


def forehead_pixels(distance_m: float, fov: FieldOfView, width_m: float = FOREHEAD_WIDTH_M,
                    height_m: float = FOREHEAD_HEIGHT_M) -> tuple[float, float]:
    """(columns, rows) a forehead ``width_m`` x ``height_m`` covers at ``distance_m`` (line of sight)."""
    return pixels_across(width_m, distance_m, fov, "horizontal"), pixels_across(height_m, distance_m, fov, "vertical")


def view_width(distance_m: float, fov: FieldOfView) -> float:
    """Width (m) of the strip the sensor sees at ``distance_m`` straight ahead."""
    return 2.0 * _positive("distance_m", distance_m) * math.tan(math.radians(fov.horizontal_deg / 2.0))


def view_height(distance_m: float, fov: FieldOfView) -> float:
    """Height (m) of the strip a level sensor sees at ``distance_m`` straight ahead."""
    return 2.0 * _positive("distance_m", distance_m) * math.tan(math.radians(fov.vertical_deg / 2.0))


def vertical_coverage(sensor_height_m: float, tilt_deg: float, distance_m: float,
                      fov: FieldOfView) -> tuple[float, float]:
    """The band of heights (lowest, highest), in metres, in view ``distance_m`` in front of the sensor.

    The lower edge of the view points at ``tilt_deg`` - half the vertical
    field of view, the upper edge at ``tilt_deg`` + half of it; each edge
    crosses the plane at ``distance_m`` at sensor height + distance x tan(angle).
    A tilt that would put an edge of the view at or past straight up or down
    is refused.
    """
    distance_m = _positive("distance_m", distance_m)
    half = fov.vertical_deg / 2.0
    lower, upper = tilt_deg - half, tilt_deg + half
    if lower <= -90.0 or upper >= 90.0:
        raise ValueError(f"tilt {tilt_deg:g} degrees points the {fov.label} view past vertical")
    return (sensor_height_m + distance_m * math.tan(math.radians(lower)),
            sensor_height_m + distance_m * math.tan(math.radians(upper)))


def face_position(sight_m: float, row: float, column: float, fov: FieldOfView, sensor_height_m: float,
                  tilt_deg: float) -> tuple[float, float, float]:
    """Where a face seen at continuous pixel (``row``, ``column``), ``sight_m`` away along the line of sight,
    is in the room: (floor distance in front of the sensor, lateral offset (+ to the image's right), height).

    The inverse of the projection the tables use: a point ``lateral`` to the side, ``rise`` above the sensor
    and ``distance`` ahead lands at the column ``columns / 2 + atan(lateral / distance) / horizontal pitch`` and
    the row ``rows / 2 - (atan(rise / distance) - tilt) / vertical pitch`` (row 0 at the top; pixel (r, c)
    covers [r, r + 1) x [c, c + 1)), as in :func:`vertical_coverage`."""
    sight_m = _positive("sight_m", sight_m)
    along = math.tan(math.radians((column - fov.columns / 2.0) * fov.pitch_deg("horizontal")))
    up = math.tan(math.radians(tilt_deg - (row - fov.rows / 2.0) * fov.pitch_deg("vertical")))
    distance = sight_m / math.sqrt(1.0 + along * along + up * up)
    return distance, distance * along, sensor_height_m + distance * up


def face_in_view(eye_height_m: float, sensor_height_m: float, tilt_deg: float, distance_m: float,
                 fov: FieldOfView, face_half_height_m: float = FACE_HALF_HEIGHT_M) -> bool:
    """Whether the whole face (eyes +- ``face_half_height_m``) is in view at ``distance_m``."""
    lowest, highest = vertical_coverage(sensor_height_m, tilt_deg, distance_m, fov)
    return lowest <= eye_height_m - face_half_height_m and eye_height_m + face_half_height_m <= highest


def eye_heights_in_view(sensor_height_m: float, tilt_deg: float, distance_m: float, fov: FieldOfView,
                        eye_heights_m: tuple[float, ...] = EYE_HEIGHTS_M,
                        face_half_height_m: float = FACE_HALF_HEIGHT_M) -> dict[float, bool]:
    """For each eye height, whether that person's whole face is in view when they stand on the mark.

    The face runs from ``face_half_height_m`` below the eyes to as far above
    them; the mark is ``distance_m`` in front of the sensor.
    """
    return {round(float(e), 3): face_in_view(e, sensor_height_m, tilt_deg, distance_m, fov, face_half_height_m)
            for e in eye_heights_m}


@dataclass(frozen=True)
class MountingView:
    """What a mounting as built shows of the people on its mark (:func:`mounting_view`)."""

    fov: FieldOfView
    sensor_height_m: float
    tilt_deg: float  # + up, - down
    mark_distance_m: float
    eyes_m: tuple[float, float] | None  # eye heights whose whole face stays in view near the mark; None: none
    stand_tolerance_m: float  # "near the mark": this far in front of it or behind it

    def serves(self, min_eye_m: float, max_eye_m: float) -> bool:
        """Whether every eye height from ``min_eye_m`` to ``max_eye_m`` keeps its whole face in view."""
        return self.eyes_m is not None and self.eyes_m[0] <= min_eye_m and max_eye_m <= self.eyes_m[1]

    def share_in_view(self, min_eye_m: float, max_eye_m: float) -> float:
        """The share (0..1) of the eye heights from ``min_eye_m`` to ``max_eye_m`` whose whole face stays in view."""
        if self.eyes_m is None:
            return 0.0
        if max_eye_m <= min_eye_m:
            return float(self.eyes_m[0] <= min_eye_m <= self.eyes_m[1])
        kept = min(max_eye_m, self.eyes_m[1]) - max(min_eye_m, self.eyes_m[0])
        return min(1.0, max(0.0, kept / (max_eye_m - min_eye_m)))

    def smallest_face_px(self, min_eye_m: float, max_eye_m: float,
                         face_width_m: float = FACE_WIDTH_M,
                         face_half_height_m: float = FACE_HALF_HEIGHT_M) -> tuple[float, float]:
        """(across, high) in pixels of the smallest face on the mark over those eye heights (the person farthest
        from the sensor's own height), each side's least."""
        eyes = np.linspace(min_eye_m, max_eye_m, max(2, int(round((max_eye_m - min_eye_m) / 0.01)) + 1))
        w, h = _face_pixels_grid(eyes, np.array([self.sensor_height_m]), np.array([self.mark_distance_m]),
                                 self.fov, face_width_m, face_half_height_m)
        return float(w[0, 0]), float(h[0, 0])

    def steepest_view_deg(self, min_eye_m: float, max_eye_m: float) -> float:
        """The largest angle from level of a line of sight from the sensor to eyes on the mark at those heights."""
        return float(_steepest_view_deg(min_eye_m, max_eye_m, self.sensor_height_m, self.mark_distance_m))


def mounting_view(sensor_height_m: float, tilt_deg: float, mark_distance_m: float, fov: FieldOfView, *,
                  stand_tolerance_m: float = STAND_TOLERANCE_M,
                  face_half_height_m: float = FACE_HALF_HEIGHT_M) -> MountingView:
    """The eye heights whose whole face (eyes +- ``face_half_height_m``) stays in view for someone standing on
    the mark ``mark_distance_m`` in front of the sensor, or up to ``stand_tolerance_m`` in front of it or
    behind it: the check :func:`recommend_mounting` makes of every mounting it tries, made of one."""
    distance = _positive("mark_distance_m", mark_distance_m)
    lowest, highest = -math.inf, math.inf
    for where in (distance - stand_tolerance_m, distance, distance + stand_tolerance_m):
        if where > 0.0:
            low, high = vertical_coverage(sensor_height_m, tilt_deg, where, fov)
            lowest, highest = max(lowest, low + face_half_height_m), min(highest, high - face_half_height_m)
    eyes = (lowest, highest) if lowest <= highest else None
    return MountingView(fov, float(sensor_height_m), float(tilt_deg), distance, eyes, stand_tolerance_m)


@dataclass(frozen=True)
class Mounting:
    """A recommended mounting and what it gives the population it was chosen for."""

    fov: FieldOfView
    min_eye_m: float
    max_eye_m: float
    sensor_height_m: float
    tilt_deg: float  # + up, - down
    distance_m: float  # from the sensor to the standing mark
    face_width_px: float  # columns the face covers, for the person it looks smallest on
    face_height_px: float  # rows, likewise
    view_band_m: tuple[float, float]  # heights in view at the mark
    steepest_view_deg: float  # the largest angle between the horizontal and a line of sight to the eyes
    min_face_pixels: float  # the criterion the mounting was judged by

    @property
    def face_pixels(self) -> float:
        """The face's smaller side in pixels, for the person it looks smallest on."""
        return min(self.face_width_px, self.face_height_px)

    @property
    def meets_minimum(self) -> bool:
        """Whether every face covers at least ``min_face_pixels`` x ``min_face_pixels``."""
        return self.face_pixels >= self.min_face_pixels


def _face_pixels_grid(eyes: np.ndarray, heights: np.ndarray, distances: np.ndarray, fov: FieldOfView,
                      face_width_m: float, face_half_height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Smallest face width and height in pixels over ``eyes``, for each (height, distance): two (H, D) arrays."""
    h, d, e = heights[:, None, None], distances[None, :, None], eyes[None, None, :]
    sight = np.hypot(d, e - h)  # line of sight from the sensor to the eyes
    width_deg = np.degrees(2.0 * np.arctan(face_width_m / (2.0 * sight)))
    height_deg = np.degrees(np.arctan((e + face_half_height_m - h) / d) - np.arctan((e - face_half_height_m - h) / d))
    return (width_deg / fov.pitch_deg("horizontal")).min(axis=2), (height_deg / fov.pitch_deg("vertical")).min(axis=2)


def _steepest_view_deg(min_eye_m: float, max_eye_m: float, sensor_height_m, distance_m):
    """The largest angle (degrees) from level of a line of sight from a sensor at ``sensor_height_m`` to eyes
    ``distance_m`` in front of it, from ``min_eye_m`` to ``max_eye_m`` high (numbers or broadcasting arrays)."""
    rise = np.maximum(np.abs(max_eye_m - sensor_height_m), np.abs(min_eye_m - sensor_height_m))
    return np.degrees(np.arctan(rise / distance_m))


def _coverage_margin(min_eye_m: float, max_eye_m: float, heights: np.ndarray, tilts: np.ndarray,
                     distances: np.ndarray, fov: FieldOfView, face_half_height_m: float,
                     stand_tolerance_m: float) -> np.ndarray:
    """Spare height (m) between the population's faces and the edges of the view, over the standing zone.

    An (H, T, D) array; negative where some face leaves the view for someone
    standing within ``stand_tolerance_m`` of the mark. The edges of the view
    move linearly with distance, so checking both ends of the zone covers it.
    """
    h, t, d = heights[:, None, None], tilts[None, :, None], distances[None, None, :]
    half = fov.vertical_deg / 2.0
    tan_low, tan_high = np.tan(np.radians(t - half)), np.tan(np.radians(t + half))
    margin = np.full(np.broadcast_shapes(h.shape, t.shape, d.shape), np.inf)
    for where in (d - stand_tolerance_m, d + stand_tolerance_m):
        below = (min_eye_m - face_half_height_m) - (h + where * tan_low)
        above = (h + where * tan_high) - (max_eye_m + face_half_height_m)
        margin = np.minimum(margin, np.where(where > 0.0, np.minimum(below, above), -np.inf))
    return margin


def recommend_mounting(min_eye_m: float, max_eye_m: float, fov: FieldOfView, *,
                       heights_m: tuple[float, ...] = SENSOR_HEIGHTS_M, tilts_deg: tuple[float, ...] = TILTS_DEG,
                       distances_m: tuple[float, ...] = DISTANCES_M, face_width_m: float = FACE_WIDTH_M,
                       face_half_height_m: float = FACE_HALF_HEIGHT_M, min_face_pixels: float = MIN_FACE_PIXELS,
                       stand_tolerance_m: float = STAND_TOLERANCE_M,
                       max_view_angle_deg: float = MAX_VIEW_ANGLE_DEG) -> Mounting | None:
    """The mounting that shows every face of a population whole and as large as possible.

    Searches every sensor height, tilt and standing-mark distance of the grid.
    A mounting qualifies when, for every eye height from ``min_eye_m`` to
    ``max_eye_m``:

    - the whole face (eyes +- ``face_half_height_m``) is in view for anyone
      standing up to ``stand_tolerance_m`` in front of or behind the mark;
    - the line of sight from the sensor to the eyes at the mark is no steeper
      than ``max_view_angle_deg``.

    Of those, it picks the one whose smallest face (the person farthest from
    the sensor's own height, standing on the mark) covers the most pixels,
    counting the face's smaller side: its width in columns or its height in
    rows. Ties go to the most spare height at the edges of the view, then to
    the smaller tilt.

    The criterion for a forehead reading is that every face covers at least
    ``min_face_pixels`` x ``min_face_pixels`` (4 x 4 by default): the pixels
    along a face's outline see face and background mixed, so a 4 x 4 face
    still leaves whole pixels of skin inside it. When no mounting of the grid
    reaches that, the best one is still returned and its ``meets_minimum`` is
    False. None means no mounting of the grid keeps every face in view.
    """
    if not min_eye_m <= max_eye_m:
        raise ValueError(f"min_eye_m {min_eye_m} is above max_eye_m {max_eye_m}")
    heights = np.asarray(heights_m, dtype=float)
    tilts = np.asarray(tilts_deg, dtype=float)
    distances = np.array([_positive("distance", d) for d in distances_m])
    if np.any(np.abs(tilts) + fov.vertical_deg / 2.0 >= 90.0):
        raise ValueError(f"tilts must keep the {fov.label} view short of vertical")
    eyes = np.linspace(min_eye_m, max_eye_m, max(2, int(round((max_eye_m - min_eye_m) / 0.01)) + 1))

    margin = _coverage_margin(min_eye_m, max_eye_m, heights, tilts, distances, fov, face_half_height_m,
                              stand_tolerance_m)
    width_px, height_px = _face_pixels_grid(eyes, heights, distances, fov, face_width_m, face_half_height_m)
    steepest = _steepest_view_deg(min_eye_m, max_eye_m, heights[:, None], distances[None, :])
    qualifies = (margin >= 0.0) & (steepest <= max_view_angle_deg)[:, None, :]
    if not qualifies.any():
        return None

    size = np.minimum(width_px, height_px)
    best = max(zip(*np.nonzero(qualifies), strict=True),
               key=lambda i: (round(float(size[i[0], i[2]]), 9), round(float(margin[i]), 9), -abs(tilts[i[1]])))
    ih, it, idist = (int(i) for i in best)
    return Mounting(
        fov=fov, min_eye_m=min_eye_m, max_eye_m=max_eye_m, sensor_height_m=float(heights[ih]),
        tilt_deg=float(tilts[it]), distance_m=float(distances[idist]),
        face_width_px=float(width_px[ih, idist]), face_height_px=float(height_px[ih, idist]),
        view_band_m=vertical_coverage(heights[ih], tilts[it], distances[idist], fov),
        steepest_view_deg=float(steepest[ih, idist]), min_face_pixels=min_face_pixels,
    )


# ---- the tables of docs/installation.md ------------------------------------------------------------------------

TABLE_DISTANCES_M = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5)

# Example mountings for the "which faces are in view" tables: (height m, tilt degrees, mark distance m).
EXAMPLE_MOUNTINGS = {
    NARROW: ((1.50, 0.0, 0.5), (1.50, 0.0, 1.0), (1.50, 0.0, 1.5), (1.60, -15.0, 0.8), (1.30, 0.0, 0.9)),
    WIDE: ((1.50, 0.0, 0.3), (1.50, 0.0, 0.5), (1.50, 0.0, 0.7), (1.70, -15.0, 0.5), (1.30, 0.0, 0.45)),
}


def tilt_text(tilt_deg: float) -> str:
    """A tilt as the tables and the commands write it: "level", "7° up", "15° down"."""
    if tilt_deg > 0:
        return f"{tilt_deg:g}° up"
    if tilt_deg < 0:
        return f"{-tilt_deg:g}° down"
    return "level"


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def variants_table() -> list[str]:
    """The two lenses: field of view, pixel pitch, and how much they see at 1 m."""
    rows = [[v.label, v.part, f"{v.pitch_deg('horizontal'):.2f}° x {v.pitch_deg('vertical'):.2f}°",
             f"{view_width(1.0, v):.2f} m x {view_height(1.0, v):.2f} m"]
            for v in VARIANTS]
    return _table(["variant", "part", "one pixel (across x up)", "seen at 1 m (wide x high)"], rows)


def pixels_table() -> list[str]:
    """Face width and forehead size in pixels, by distance, for both variants."""
    header = ["distance"]
    for v in VARIANTS:
        header += [f"{v.label}: face across", f"{v.label}: forehead across x high"]
    rows = []
    for d in TABLE_DISTANCES_M:
        row = [f"{d:.1f} m"]
        for v in VARIANTS:
            across, high = forehead_pixels(d, v)
            row += [f"{face_width_pixels(d, v):.1f}", f"{across:.1f} x {high:.1f}"]
        rows.append(row)
    return _table(header, rows)


def in_view_table(fov: FieldOfView) -> list[str]:
    """Which eye heights have their whole face in view, for the example mountings of ``fov``."""
    mountings = EXAMPLE_MOUNTINGS[fov]
    header = ["eye height"] + [f"{h:.2f} m, {tilt_text(t)}, mark {d:.2f} m" for h, t, d in mountings]
    bands = ["heights in view at the mark"] + ["{:.2f}-{:.2f} m".format(*vertical_coverage(h, t, d, fov))
                                               for h, t, d in mountings]
    seen = [eye_heights_in_view(h, t, d, fov) for h, t, d in mountings]
    rows = [bands] + [[f"{e:.2f} m"] + ["yes" if s[e] else "**no**" for s in seen] for e in EYE_HEIGHTS_M]
    return _table(header, rows)


def recommendations_table() -> list[str]:
    """The recommended mounting for each kind of site and each variant."""
    header = ["site (eye heights)", "variant", "sensor height", "tilt", "mark distance", "heights in view at the mark",
              "view width at the mark", "smallest face (across x high)", f"{MIN_FACE_PIXELS:g} x {MIN_FACE_PIXELS:g}?"]
    rows = []
    for site, low, high in SITES:
        for v in VARIANTS:
            m = recommend_mounting(low, high, v)
            if m is None:
                rows.append([f"{site} ({low:.2f}-{high:.2f} m)", v.label] + ["none keeps every face in view"] * 7)
                continue
            rows.append([f"{site} ({low:.2f}-{high:.2f} m)", v.label, f"{m.sensor_height_m:.2f} m",
                         tilt_text(m.tilt_deg), f"{m.distance_m:.2f} m", "{:.2f}-{:.2f} m".format(*m.view_band_m),
                         f"{view_width(m.distance_m, v):.2f} m", f"{m.face_width_px:.1f} x {m.face_height_px:.1f}",
                         "yes" if m.meets_minimum else "**no**"])
    return _table(header, rows)


def markdown_tables() -> str:
    """Every table of docs/installation.md, each under a heading naming it."""
    sections = [
        ("The two variants", variants_table()),
        ("Pixels on a face by distance", pixels_table()),
        (f"Faces in view, {NARROW.label}", in_view_table(NARROW)),
        (f"Faces in view, {WIDE.label}", in_view_table(WIDE)),
        ("Recommended mountings", recommendations_table()),
    ]
    return "\n\n".join(f"#### {title}\n\n" + "\n".join(lines) for title, lines in sections) + "\n"


def main() -> None:
    """Print the installation tables as markdown."""
    print(markdown_tables(), end="")


if __name__ == "__main__":
    main()
