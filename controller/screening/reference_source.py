"""The reference source: how big and how near it must be, and learning its reading through a gate's optics.

A heated reference disc corrects the sensor's drift: the analysis reads it
every frame (``analysis_kernels.reference_step``) and the offset it gives is
the reading *learned* through this gate's optics minus the current reading.
Its set point is never the target, because through the optics a small disc
reads below it: its edge pixels mix it with the wall behind, and the lens
blur spreads it further.

- :func:`reading_fraction` and :func:`size_table` work out, from the product's
  geometry (``controller.geometry.pixels_across``) and lens blur
  (``optics.LENS_PSF_SIGMA_PX``), how many pixels a disc covers and what share
  of its set-point contrast its reading reaches. ``python -m
  controller.screening.reference_source`` prints the tables of
  docs/installation.md ("The reference source").
- :func:`learn_reference` learns the reading from images of the empty scene
  (``thermogate calibrate reference GATE``): its mean, its spread, and the
  number of pixels to average.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

import numpy as np

from controller.geometry import NARROW, WIDE, FieldOfView, pixels_across

from .analysis import AnalysisConfig, Analyzer, guard_mask, reference_window
from .analysis_kernels import GUARD_RING
from .lens_wings import LensWings
from .optics import LENS_PSF_SIGMA_PX, blurred_cover

PHASES = 4  # positions of the disc's centre within a pixel, per axis, that the figures range over
PLATEAU = 0.9  # the pixels averaged are those reaching this share of the best pixel's contrast ...
MAX_PIXELS = 6  # ... at most this many
MIN_FRACTION = AnalysisConfig.reference_min_fraction  # below this share of its set-point contrast: too small
# The view's median pixel moving by more than this since the lens was measured is the room, not the sensor's drift
# (DEV's sensors drift by up to 0.3 degC): no drift is written, and the lens's offset is taken as it was read.
MAX_LENS_DRIFT_C = 0.5
# The view is read over the frames with nobody in view (no face, no warm blob: a person standing in view for half
# the frames would lift its median pixel): at least this many (2 s at 8 frames a second), else no drift is written.
MIN_VIEW_FRAMES = 16
# ... and only this soon after the lens was measured (AnalysisConfig.lens_measured_at): the walls must not have
# warmed or cooled in between (the installer learns the reference right after measuring the lens).
MAX_LENS_AGE_S = 1800.0

TABLE_DIAMETERS_M = (0.04, 0.06, 0.08, 0.10, 0.15, 0.20)
TABLE_DISTANCES_M = (0.2, 0.3, 0.45, 0.6, 0.9, 1.2)


def plateau_pixels(cover: np.ndarray, plateau: float = PLATEAU, most: int = MAX_PIXELS) -> int:
    """How many pixels to average: those reaching ``plateau`` of the best one's contrast, 1..``most``."""
    values = np.sort(cover.ravel())[::-1]
    return int(min(most, max(1, np.count_nonzero(values >= plateau * values[0]))))


@dataclass(frozen=True)
class DiscFigures:
    """What a disc of ``diameter_m`` at ``distance_m`` (line of sight) gives through one lens."""

    diameter_m: float
    distance_m: float
    across_px: float  # its diameter in columns
    high_px: float  # ... and in rows
    pixels: int  # the pixels its reading averages (the fewest over where its centre falls)
    fraction_worst: float  # the share of its set-point contrast its reading reaches, worst placement ...
    fraction_mean: float  # ... and averaged over where its centre falls within a pixel

    @property
    def works(self) -> bool:
        """Its reading reaches MIN_FRACTION of its set-point contrast wherever it falls on the pixel grid."""
        return self.fraction_worst >= MIN_FRACTION


def reading_fraction(diameter_m: float, distance_m: float, fov: FieldOfView,
                     sigma_px: float = LENS_PSF_SIGMA_PX) -> DiscFigures:
    """A blackbody disc's figures: apparent size, pixels averaged, share of set-point contrast its reading
    reaches. A coating of emissivity e reaches about e times that share."""
    rx = pixels_across(diameter_m, distance_m, fov, "horizontal") / 2.0
    ry = pixels_across(diameter_m, distance_m, fov, "vertical") / 2.0
    fractions, counts = [], []
    for i in range(PHASES):
        for j in range(PHASES):
            cover = blurred_cover((ry, rx), ((i + 0.5) / PHASES, (j + 0.5) / PHASES), sigma_px)
            n = plateau_pixels(cover)
            fractions.append(float(np.sort(cover.ravel())[::-1][:n].mean()))
            counts.append(n)
    return DiscFigures(diameter_m, distance_m, 2.0 * rx, 2.0 * ry, min(counts), min(fractions),
                       float(np.mean(fractions)))


def size_table(fov: FieldOfView, diameters=TABLE_DIAMETERS_M, distances=TABLE_DISTANCES_M) -> list[list[DiscFigures]]:
    """Figures for each distance (rows) and diameter (columns)."""
    return [[reading_fraction(d, z, fov) for d in diameters] for z in distances]


def offset_size_text(fov: FieldOfView, diameters=TABLE_DIAMETERS_M, distances=TABLE_DISTANCES_M,
                     sigma_px: float = LENS_PSF_SIGMA_PX) -> str:
    """The discs of the tables that tell the sensor's own offset too (:func:`offset_across_px` across, or more,
    through ``sigma_px``), each up to the farthest distance of the table it does so at, as docs/installation.md
    gives them: "a 4 cm disc at 0.2 m, a 6 cm disc up to 0.3 m, ..."."""
    need = offset_across_px(sigma_px, fov)
    parts = []
    for d in diameters:
        near = [z for z in distances if pixels_across(d, z, fov, "horizontal") >= need]
        if near:
            cm = f"{d * 100:g}"
            article = "an" if cm.startswith("8") else "a"
            parts.append(f"{article} {cm} cm disc {'at' if max(near) == distances[0] else 'up to'} {max(near):g} m")
    return ", ".join(parts)


def markdown_tables(diameters=TABLE_DIAMETERS_M, distances=TABLE_DISTANCES_M) -> str:
    """The tables of docs/installation.md, one per lens."""
    out = []
    for fov in (NARROW, WIDE):
        out.append(f"With the {fov.label} lens (cells: pixels across, then the share of its set-point contrast "
                   f"the reading reaches at the worst placement; **bold** works, at least {MIN_FRACTION:.0%}):")
        out.append("")
        out.append("| distance | " + " | ".join(f"{d * 100:g} cm disc" for d in diameters) + " |")
        out.append("| --- |" + " --- |" * len(diameters))
        for z, row in zip(distances, size_table(fov, diameters, distances), strict=True):
            cells = []
            for f in row:
                text = f"{f.across_px:.1f} px, {f.fraction_worst:.0%}"
                cells.append(f"**{text}**" if f.works else text)
            out.append(f"| {z:g} m | " + " | ".join(cells) + " |")
        out.append("")
        out.append(f"Telling the sensor's offset too ({offset_across_px(LENS_PSF_SIGMA_PX, fov):g} px across at "
                   f"{LENS_PSF_SIGMA_PX:g} px of blur): {offset_size_text(fov, diameters, distances)}.")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- learning


class LearningError(ValueError):
    """The reference cannot be learned: ``reason`` is the BLOCKED reason it would cause."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LearnedReference:
    """The reference's reading through a gate's optics, as ``thermogate calibrate reference`` learns it."""

    apparent_c: float  # the mean reading of its ``pixels`` most-covered box pixels
    sd_c: float  # the spread of the per-frame readings
    pixels: int  # how many box pixels make its reading
    frames: int  # frames it was learned from
    set_point_c: float
    background_c: float  # the wall around it
    size_px: float  # its apparent area in pixels of full contrast
    fraction: float  # the share of its set-point contrast the reading reaches
    excess_c: float  # the slow variation beyond the pixels' noise (stability)
    blur_px: float | None = None  # the lens blur measured on the disc (measure_blur); None: not measurable
    sensor_offset_c: float | None = None  # the sensor's own offset read off the disc (disc_offset); None: not
    view_c: float = math.nan  # the view's median pixel while learning (the per-pixel median over the frames with
    # nobody in view, the box left out; NaN: fewer than MIN_VIEW_FRAMES such frames)
    # What that moved by since the lens was measured (AnalysisConfig.lens_view_c): the sensor's drift between the
    # two, added to the lens's offset where the disc tells none (config.from_table); None: not known, or over
    # MAX_LENS_DRIFT_C, or the lens measured more than MAX_LENS_AGE_S before
    lens_drift_c: float | None = None
    lens_age_s: float | None = None  # how long before the learning the lens was measured (None: not known)
    # Why no drift was read where the lens's view is known (None: read, or no view to read it against):
    # "lens_too_old" (measured more than MAX_LENS_AGE_S away), "view_crowded" (too few frames with nobody in
    # view), "view_moved" (the view moved more than MAX_LENS_DRIFT_C: the room, not the sensor)
    lens_drift_unread: str | None = None
    allowed_c: float = math.nan  # the slow variation (excess_c) the pixels' noise allowed a steady reference then

    @property
    def lens_blur_px(self) -> float | None:
        """The blur to estimate with, rounded as it is written (None: the product's LENS_PSF_SIGMA_PX)."""
        return None if self.blur_px is None else round(self.blur_px, 2)

    # The keys of its table that learning measures (the rest, the box and the set point, are the installer's): a
    # table learned again replaces all of them, so that one it could not measure this time is not kept from before.
    LEARNED_KEYS = ("apparent_c", "apparent_sd_c", "background_c", "pixels", "blur_px", "sensor_offset_c",
                    "lens_drift_c")

    def table(self, box: tuple[int, int, int, int]) -> dict:
        """The ``[screening.reference]`` table that describes it (the installer's box and set point, and
        LEARNED_KEYS: ``blur_px``, ``sensor_offset_c`` and ``lens_drift_c`` only where they are known)."""
        table = {"box": list(box), "temp_c": round(self.set_point_c, 2), "apparent_c": round(self.apparent_c, 3),
                 "apparent_sd_c": round(self.sd_c, 3), "background_c": round(self.background_c, 2),
                 "pixels": self.pixels}
        if self.lens_blur_px is not None:
            table["blur_px"] = self.lens_blur_px
        if self.sensor_offset_c is not None:
            table["sensor_offset_c"] = round(self.sensor_offset_c, 2)
        if self.lens_drift_c is not None:
            table["lens_drift_c"] = round(self.lens_drift_c, 2)
        return table


def _near(box: tuple[int, int, int, int], face: tuple[int, int, int, int], guard: int) -> bool:
    r0, c0, r1, c1 = box
    return face[0] < r1 + guard and face[2] > r0 - guard and face[1] < c1 + guard and face[3] > c0 - guard


# ---------------------------------------------------------------------------------------------- the lens blur

BLUR_GRID_PX = tuple(round(0.1 + 0.05 * i, 2) for i in range(31))  # the blurs measure_blur tells apart: 0.1..1.6
_RADIUS_FACTORS = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3)
_BLUR_SAMPLES = 8  # sub-samples per pixel and axis
_BLUR_MARGIN = 8  # pixels of scene modelled beyond the box on each side (4 x the largest blur)


@lru_cache(maxsize=256)
def _box_weights(n_pixels: int, sigma_px: float) -> np.ndarray:
    """(n_pixels, samples): how much a point at each sub-sample, over the box and _BLUR_MARGIN beyond it on
    either side, gives each of the box's pixels through a Gaussian blur of ``sigma_px``."""
    samples = (np.arange((n_pixels + 2 * _BLUR_MARGIN) * _BLUR_SAMPLES) + 0.5) / _BLUR_SAMPLES - _BLUR_MARGIN
    edges = (np.arange(n_pixels + 1, dtype=float)[:, None] - samples[None, :]) / (sigma_px * math.sqrt(2.0))
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(edges))
    weights = cdf[1:] - cdf[:-1]
    weights.setflags(write=False)
    return weights


def disc_cover(shape: tuple[int, int], centre: tuple[float, float], radius_px: tuple[float, float],
               sigma_px: float) -> np.ndarray:
    """Each box pixel's share of full contrast for an elliptical disc of radii ``radius_px`` (rows, columns)
    centred at ``centre`` (continuous box coordinates), through a Gaussian blur of ``sigma_px``."""
    rows, cols = shape
    wr, wc = _box_weights(rows, sigma_px), _box_weights(cols, sigma_px)
    ys = (np.arange(wr.shape[1]) + 0.5) / _BLUR_SAMPLES - _BLUR_MARGIN
    xs = (np.arange(wc.shape[1]) + 0.5) / _BLUR_SAMPLES - _BLUR_MARGIN
    # only the sub-samples within the disc's bounding box can be inside it
    y = np.flatnonzero(np.abs(ys - centre[0]) <= radius_px[0])
    x = np.flatnonzero(np.abs(xs - centre[1]) <= radius_px[1])
    if y.size == 0 or x.size == 0:
        return np.zeros(shape)
    ys, xs = ys[y[0]:y[-1] + 1], xs[x[0]:x[-1] + 1]
    inside = (((ys[:, None] - centre[0]) / radius_px[0]) ** 2 + ((xs[None, :] - centre[1]) / radius_px[1]) ** 2
              <= 1.0).astype(float)
    return wr[:, y[0]:y[-1] + 1] @ inside @ wc[:, x[0]:x[-1] + 1].T / _BLUR_SAMPLES ** 2


def disc_image(contrast: np.ndarray, set_contrast_c: float, fov: FieldOfView
               ) -> tuple[np.ndarray, float, tuple[float, float], float] | None:
    """The disc as its box shows it: each pixel's share of the set-point contrast ``set_contrast_c`` (the box's
    mean image minus the wall, ``contrast``, over it), the total of the positive shares (its area in pixels at
    full contrast), their centroid (continuous box coordinates) and the lens's pixel aspect (rows over
    columns of a circle). None when the disc shows too little contrast to measure (a set point under 1 degC
    above the wall, a total under a pixel's worth, or a reading that is not a number)."""
    share = np.asarray(contrast, dtype=float) / set_contrast_c
    if not (set_contrast_c > 1.0 and np.all(np.isfinite(share))):
        return None
    positive = np.clip(share, 0.0, None)
    flux = float(positive.sum())
    if flux < 1.0:
        return None
    rows, cols = np.indices(share.shape) + 0.5
    centre = (float((rows * positive).sum() / flux), float((cols * positive).sum() / flux))
    aspect = fov.pixel_aspect
    return share, flux, centre, aspect


def measure_blur(contrast: np.ndarray, set_contrast_c: float, fov: FieldOfView) -> float | None:
    """The lens's blur (a Gaussian's standard deviation, pixels) measured on the reference disc: ``contrast``
    is its box's mean image minus the wall around it, ``set_contrast_c`` its set point minus that wall.

    The disc is a known shape (a circle, an ellipse in pixels as the lens's pitches make it) of unknown size
    and place; blur spreads it without changing its total contrast. Its centre is the centroid of its
    contrast, its area the total contrast over the coating's share of the set-point contrast; for each blur
    of BLUR_GRID_PX (and radii around that area's, and the coating's share between 0.85 and 1) the disc's
    image is worked out (:func:`disc_cover`), and the blur whose image fits the box's pixels best is the
    measurement. The edge of a disc several pixels across, or the peak of a small one, is what tells the
    blurs apart. None when the disc shows too little contrast to measure (under 1 degC or under a pixel's
    worth)."""
    disc = disc_image(contrast, set_contrast_c, fov)
    if disc is None:
        return None
    share, flux, centre, aspect = disc
    best, best_err = None, math.inf
    for sigma in BLUR_GRID_PX:
        for factor in _RADIUS_FACTORS:
            rx = factor * math.sqrt(flux / (math.pi * aspect))
            model = disc_cover(share.shape, centre, (aspect * rx, rx), sigma)
            mm = float((model * model).sum())
            gain = min(max(float((model * share).sum()) / mm, 0.85), 1.02) if mm > 0 else 1.0
            err = float(((share - gain * model) ** 2).sum())
            if err < best_err:
                best, best_err = sigma, err
    return best


KELVIN = 273.15
# A disc tells the sensor's offset only where its pixels see nothing but the disc: the pixels the model gives
# most of it are on average at least MIN_OFFSET_COVER disc, and it is at least MIN_OFFSET_ACROSS_PX across (from
# its contrast's total). A smaller one's share of its pixels hangs on its size and the blur, which its image
# gives too roughly (docs/estimation.md, "The sensor's own offset, read where the disc can tell it").
MIN_OFFSET_COVER = 0.95
MIN_OFFSET_ACROSS_PX = 3.5
# ... and only where that reading hangs little on the blur: read again through a blur OFFSET_BLUR_STEP_PX either
# side of the one measured, it moves by at most MAX_OFFSET_SPREAD_C (and those pixels stay MIN_OFFSET_COVER disc).
# The step is how far the blur measured on a disc lies from the blur of a lens whose point spread is not the
# model's shape (a Gaussian spread over pixels already averaged: 0.14 px less at 0.45, 0.2 at 0.3; docs/estimation.md,
# "The offset a disc tells where its reading hangs little on the blur").
OFFSET_BLUR_STEP_PX = 0.15
MAX_OFFSET_SPREAD_C = 0.1


def disc_offset(contrast: np.ndarray, background_c: float, set_point_c: float, pixels: int, blur_px: float,
                fov: FieldOfView, emissivity: float = 1.0, room_c: float | None = None,
                blur_step_px: float = OFFSET_BLUR_STEP_PX, max_spread_c: float = MAX_OFFSET_SPREAD_C
                ) -> float | None:
    """The sensor's own offset (degC, what it reads above the truth in common), read off the reference disc.

    ``contrast`` is the box's mean image minus the wall around the disc as read (``background_c``). Through the
    optics a box pixel reads ``cover`` of the disc's apparent temperature and the rest the wall behind it, each
    read ``offset`` high, so its contrast is ``cover x (apparent - wall + offset)``. ``cover`` is worked out
    from the disc's image (centre the centroid of ``contrast``, area from its sum) and the lens blur
    ``blur_px`` (:func:`disc_cover`); the disc's apparent temperature is its set point seen through a coating
    of ``emissivity`` that reflects the room at ``room_c``. Over the ``pixels`` pixels the model gives most of
    the disc, the offset is their contrast's total over their cover's, less ``apparent - wall``: they are
    chosen by the model, not by their readings, so that the pixels whose own offsets read high are not the
    ones picked (the reference's reading, its hottest pixels, would be: +0.28 degC on DEV's discs 7 pixels
    across and more). None when the disc is too small for that (those pixels under MIN_OFFSET_COVER disc on
    average, or the disc under MIN_OFFSET_ACROSS_PX across), when the reading hangs on the blur (read through
    OFFSET_BLUR_STEP_PX more or less blur it moves by more than MAX_OFFSET_SPREAD_C, or those pixels are no
    longer MIN_OFFSET_COVER disc) or when the disc shows no contrast. The area is the contrast's total over the
    set point's contrast, so an offset of ``x`` makes it a share ``x / (set point - wall)`` too large or small;
    on a disc that fills pixels that moves ``cover`` little. ``blur_step_px`` and ``max_spread_c`` are there
    for the bench that chose them (``bench/bench_disc_offset.py``); 0 for the step reads no second blur."""
    disc = disc_image(contrast, set_point_c - background_c, fov)
    if disc is None:
        return None
    share, flux, centre, aspect = disc
    rx = math.sqrt(flux / (math.pi * aspect))
    if 2.0 * rx < MIN_OFFSET_ACROSS_PX:
        return None
    room = background_c if room_c is None else room_c
    apparent = (emissivity * (set_point_c + KELVIN) ** 4 + (1.0 - emissivity) * (room + KELVIN) ** 4) ** 0.25 - KELVIN
    flat = np.asarray(contrast, dtype=float).ravel()

    def cover_at(blur: float) -> np.ndarray:
        return disc_cover(share.shape, centre, (aspect * rx, rx), max(blur, 0.05)).ravel()

    cover = cover_at(blur_px)
    most = np.argsort(cover, kind="stable")[::-1][:max(pixels, 1)]  # the pixels, kept for the other blurs
    offsets = []
    for blur in (blur_px, blur_px - blur_step_px, blur_px + blur_step_px):
        cover = cover_at(blur)[most]
        if cover.mean() < MIN_OFFSET_COVER:
            return None
        offsets.append(float(flat[most].sum() / cover.sum()) - (apparent - background_c))
    offset = offsets[0]
    if max(abs(o - offset) for o in offsets) > max_spread_c:
        return None
    return offset


@lru_cache(maxsize=64)
def offset_across_px(blur_px: float, fov: FieldOfView) -> float:
    """How many pixels across a blackbody disc must be, through a lens of ``blur_px`` (the model's Gaussian),
    to tell the sensor's offset (:func:`disc_offset`) wherever it falls on the pixel grid (PHASES placements per
    axis, no noise), to the next quarter pixel: at 0.4 px 5 through the 55° lens and 5.25 through the 110°; at
    0.6 px 5.75 and 6; at 0.8 px 6.75 and 7."""
    aspect = fov.pixel_aspect

    def tells(across: float) -> bool:
        for i in range(PHASES):
            for j in range(PHASES):  # where its centre falls within a pixel, as reading_fraction ranges over it
                contrast = 12.0 * blurred_cover((aspect * across / 2.0, across / 2.0),
                                                ((i + 0.5) / PHASES, (j + 0.5) / PHASES), blur_px)
                if disc_offset(contrast, 22.0, 34.0, plateau_pixels(contrast), blur_px, fov) is None:
                    return False
        return True

    across = MIN_OFFSET_ACROSS_PX
    while across < 40.0 and not tells(across):
        across += 0.25
    return across if across < 40.0 else math.inf


def learn_reference(images: Iterable[np.ndarray], config: AnalysisConfig, min_frames: int = 24,
                    frame_scale: float = 1.0, at: datetime | None = None) -> LearnedReference:
    """Learn the reference's reading from a gate's full images, in order, of a scene with nobody near it.
    ``frame_scale``: the gate's frames per frame at 8 frames a second (frame_rate.FrameRate.scale; 0.5 at
    4 Hz), which the analysis's time constants follow as they do live (the background around the disc settles,
    and the stability test's window spans, as many seconds at any rate).

    The images are analysed twice: once to find its pixels (those reaching
    PLATEAU of the best one's contrast, at most MAX_PIXELS), then with that
    many pixels to learn the reading. Frames before the reference's window is
    full, and frames where a face comes within its guard, are not used.
    LearningError (with the BLOCKED reason it causes) when it is not found,
    too small or unstable, or seen in too few frames (not learned). With the
    lens's wings configured, they are taken out of every image first
    (lens_wings.py), and the disc is read and modelled through the core.
    With the view the lens was measured in (``lens_view_c``), the view is
    read again and its move is the sensor's drift since (``lens_drift_c``),
    when the images were taken ``at`` a time within MAX_LENS_AGE_S of the
    lens's measurement (either time unknown: not checked)."""
    from ..protocol import result as D

    images = [np.asarray(i, dtype=np.float64) for i in images]
    seen = images  # as read: the view's level is compared with the lens measurement's, whose wings were in
    if config.lens_wing_share > 0.0 and images:  # the disc is modelled through the core: the wings go first, once
        wings = LensWings(config.lens_wing_share, config.lens_wing_px, images[0].shape)
        images = [wings.remove(i) for i in images]
        config = replace(config, lens_wing_share=0.0)
    if config.reference_box is None:
        raise LearningError(D.REFERENCE_NOT_FOUND, "no reference box is configured ([screening.reference] box)")
    box = config.reference_box
    r0, c0, r1, c1 = box
    first = _analyse(images, replace(config, reference_apparent_c=None), box, frame_scale)
    if not first:
        raise LearningError(D.REFERENCE_NOT_LEARNED, f"only {len(images)} images: the reference's window "
                                                     f"({reference_window(config, frame_scale)} frames) never "
                                                     f"filled; learn it over longer")
    background = float(np.median([a.reference_background_c for _, a in first]))
    mean_box = np.mean([images[i][r0:r1, c0:c1] for i, _ in first], axis=0)
    pixels = plateau_pixels(mean_box - background)
    learned = _analyse(images, replace(config, reference_apparent_c=None, reference_pixels=pixels), box,
                       frame_scale)
    if len(learned) < min_frames:
        raise LearningError(D.REFERENCE_NOT_LEARNED, f"only {len(learned)} frames with nobody near the "
                                                     f"reference (at least {min_frames} needed): keep its "
                                                     f"surroundings clear and learn it again, or over longer")
    last = learned[-1][1]
    readings = np.array([a.reference_c for _, a in learned])
    excess = float(np.median([a.reference_excess_c for _, a in learned]))
    allowed = float(np.median([a.reference_allowed_c for _, a in learned]))
    # The wall around it: the ring the analysis reads, on the mean of the frames it was learned from (the
    # background model's first seconds start from each pixel's coolest reading, which reads low).
    ring = guard_mask(config) == GUARD_RING
    wall = (float(np.median(np.mean([images[i] for i, _ in learned], axis=0)[ring])) if ring.any()
            else float(np.median([a.reference_background_c for _, a in learned])))
    result = LearnedReference(float(readings.mean()), float(readings.std(ddof=1)), pixels, len(learned),
                              config.reference_c, wall,
                              float(np.median([a.reference_size_px for _, a in learned])),
                              float(np.median([a.reference_fraction for _, a in learned])), excess,
                              measure_blur(mean_box - background, config.reference_c - background, config.fov))
    blur = result.blur_px if result.blur_px is not None else LENS_PSF_SIGMA_PX
    outside = np.ones(images[0].shape, dtype=bool)
    outside[r0:r1, c0:c1] = False
    clear = [seen[i] for i, a in learned if a.warm_pixels == 0 and not a.faces]
    view = float(np.median(np.median(clear, axis=0)[outside])) if len(clear) >= MIN_VIEW_FRAMES else math.nan
    moved = view - config.lens_view_c if config.lens_view_c is not None else math.nan
    age = ((at - datetime.fromisoformat(config.lens_measured_at)).total_seconds()
           if at is not None and config.lens_measured_at is not None else None)
    unread = None
    if config.lens_view_c is not None:
        unread = ("lens_too_old" if age is not None and abs(age) > MAX_LENS_AGE_S else
                  "view_crowded" if not math.isfinite(view) else
                  "view_moved" if abs(moved) > MAX_LENS_DRIFT_C else None)
    result = replace(result, view_c=view, lens_age_s=age, lens_drift_unread=unread, allowed_c=allowed,
                     lens_drift_c=moved if config.lens_view_c is not None and unread is None else None)
    room = float(np.median([a.ambient_c for _, a in learned]))
    result = replace(result, sensor_offset_c=disc_offset(
        mean_box - result.background_c, result.background_c, config.reference_c, pixels, blur, config.fov,
        config.reference_emissivity, room))
    where = (f"it reads {result.apparent_c:.2f} degC against {result.background_c:.1f} around it, set point "
             f"{config.reference_c:.1f}: apparent size {result.size_px:.1f} px, {pixels} pixel(s) averaged, "
             f"{result.fraction:.0%} of its set-point contrast")
    if last.reference_status == "not_found":
        raise LearningError(D.REFERENCE_NOT_FOUND, f"no reference in the box {list(box)}: {where}")
    if last.reference_status == "too_small":
        raise LearningError(D.REFERENCE_TOO_SMALL, f"the reference is too small: {where} (at least "
                                                   f"{config.reference_min_fraction:.0%} needed); use a larger disc "
                                                   f"or bring it nearer (docs/installation.md)")
    if not excess < allowed:
        raise LearningError(D.REFERENCE_UNSTABLE, f"the reference is not steady: it varies by {excess:.2f} degC "
                                                  f"beyond its pixels' noise (at most {allowed:.2f} at this "
                                                  f"noise: {config.reference_stable_c:g}, or what the noise "
                                                  f"shows by chance where more); {where}")
    return result


def _analyse(images: list[np.ndarray], config: AnalysisConfig, box: tuple[int, int, int, int],
             frame_scale: float = 1.0) -> list:
    """(index, analysis) of the frames with a full window and no face near the reference."""
    analyzer = Analyzer(config)
    analyzer.set_frame_scale(frame_scale)
    guard = config.reference_guard_px + 1
    out = []
    for i, image in enumerate(images):
        a = analyzer.analyze(image)
        if a.reference_status == "pending":
            continue
        if any(_near(box, face, guard) for face in a.faces):
            continue
        out.append((i, a))
    return out


def main() -> None:
    print(markdown_tables())


if __name__ == "__main__":
    main()
