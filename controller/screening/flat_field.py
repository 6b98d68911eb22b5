"""The sensor's fixed per-pixel offsets, measured on a uniform surface held over its window (a flat field).

The MLX90640's calibration (its EEPROM's per-pixel offsets and sensitivities,
controller/sensor/calibration.py) leaves each pixel a small offset of its own,
the same from frame to frame. A face is read from a few hottest pixels, and the
same pixels hold a given person's face in every frame, so those offsets do not
average out: they stay with the person's reading, and the hottest-pixel pick
favours pixels whose own offset reads high (docs/estimation.md, "The sensor's
fixed pixel offsets: a flat field").

At installation (docs/installation.md, "Measuring the sensor's pixels") the
heated reference disc, or any flat card at a steady temperature, is held flat
against the sensor's window so that it fills the whole view; out of focus, and
of one temperature, it shows every pixel the same scene. :func:`measure_flat_field`
averages the images over some seconds: each pixel's mean less the array's median
is that pixel's offset (``[screening] pixel_offsets_c``), which the pipeline
takes off every image before anything reads it (pipeline.GatePipeline). The
median is kept, so the common level (the sensor's own offset, which the
reference disc and the lens measurement read) is left to them.

Images that do not show a flat field are refused with what to do: a level that
moves over the capture (the card warming, a hand moving), a view whose smooth
part varies more than a sensor's can (the card not covering the window, the
room seen past it) or pixels too far off (something warm in view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from controller.sensor.frame import COLUMNS, ROWS

MIN_FRAMES = 16  # two seconds at 8 Hz: fewer leave each pixel's mean about as noisy as the offsets it measures
MAX_LEVEL_MOVE_C = 0.5  # the frames' medians may move by at most this much over the capture
# A sensor's own smooth pattern (what its calibration leaves of the lens's fall-off towards the corners) is taken
# out with the rest; more than this across the view is a scene that is not flat.
MAX_SMOOTH_C = 1.0
MAX_SPREAD_C = 2.0  # the offsets' 5th to 95th percentile: a flat field's pixel-to-pixel pattern is narrower
MAX_OFFSET_C = 3.0  # no pixel may read further than this from the median (also the config's range)
FLAT_KEYS = ("pixel_offsets_c",)  # the [screening] keys `thermogate calibrate flat` writes


class FlatFieldError(ValueError):
    """The images do not show a flat field: the message says what to do."""


@dataclass(frozen=True)
class FlatField:
    """A sensor's fixed per-pixel offsets, as a flat field showed them."""

    offsets_c: np.ndarray  # (24, 32) degC: each pixel's reading less the array's median
    card_c: float  # the surface's reading (the median pixel), degC
    frames: int  # images averaged
    noise_left_c: float  # the noise left in a pixel's offset (its readings' sd over the square root of their number)
    smooth_c: float  # the range of the offsets' smooth part (a quadratic surface) across the view
    spread_c: float  # the offsets' standard deviation
    bad_pixels: int  # pixels invalid in half the images or more: given no offset

    def table(self) -> dict:
        """The ``[screening]`` key that takes the offsets off every image: rows of 32, 0.001 degC."""
        return {"pixel_offsets_c": [[round(float(v), 3) for v in row] for row in self.offsets_c]}


def _smooth_range(offsets: np.ndarray) -> float:
    """The range across the view of the quadratic surface fitted to ``offsets`` (least squares)."""
    r, c = np.mgrid[0:ROWS, 0:COLUMNS]
    r = (r - (ROWS - 1) / 2.0) / (ROWS / 2.0)
    c = (c - (COLUMNS - 1) / 2.0) / (COLUMNS / 2.0)
    terms = np.stack([np.ones_like(r), r, c, r * r, c * c, r * c], axis=-1).reshape(-1, 6)
    coef, *_ = np.linalg.lstsq(terms, offsets.reshape(-1), rcond=None)
    surface = terms @ coef
    return float(surface.max() - surface.min())


def measure_flat_field(images) -> FlatField:
    """The offsets a flat field shows: ``images``, (24, 32) degC, taken while a uniform surface filled the view.

    A pixel that is not a finite number (an invalid word, controller/sensor/calibration.py) is left out of its
    mean; a pixel invalid in half the images or more is given no offset. FlatFieldError when there are too few
    images or they do not show a flat field."""
    images = list(images)
    n = len(images)
    if n < MIN_FRAMES:
        raise FlatFieldError(f"only {n} images: hold the surface over the window for longer (at least "
                             f"{MIN_FRAMES} images, two seconds at 8 Hz; thirty seconds are better)")
    stack = np.asarray([np.asarray(i, dtype=np.float64) for i in images])
    if stack.shape[1:] != (ROWS, COLUMNS):
        raise FlatFieldError(f"images must be {ROWS} x {COLUMNS}")
    valid = np.isfinite(stack)
    counts = valid.sum(axis=0)
    good = counts * 2 > n
    if good.sum() < ROWS * COLUMNS // 2:
        raise FlatFieldError("most pixels are invalid: check the sensor's wiring (its words arrive as errors)")
    medians = np.array([np.median(f[np.isfinite(f)]) if np.isfinite(f).any() else math.nan for f in stack])
    levels = medians[np.isfinite(medians)]
    move = float(levels.max() - levels.min())
    if move > MAX_LEVEL_MOVE_C:
        raise FlatFieldError(f"the surface's reading moved by {move:.2f} degC over the capture (at most "
                             f"{MAX_LEVEL_MOVE_C:g}): hold it still against the window, at a steady temperature, "
                             f"and capture again")
    # each frame's level taken out first, so that a slow common drift neither adds to a pixel's noise nor, over
    # images a pixel misses, to its offset
    centred = stack - medians[:, None, None]
    with np.errstate(invalid="ignore"):
        mean = np.where(good, np.nansum(np.where(valid, centred, 0.0), axis=0) / np.maximum(counts, 1), np.nan)
        sd = np.sqrt(np.nansum(np.where(valid, (centred - mean) ** 2, 0.0), axis=0) / np.maximum(counts - 1, 1))
    # an assembled image renews half its pixels (one subpage, controller/sensor/assembler.py): a pixel's
    # independent readings are the images where it changed
    readings = np.maximum(1, (np.diff(stack, axis=0) != 0).sum(axis=0) + 1)
    offsets = mean - np.nanmedian(mean)
    offsets[~good] = 0.0
    worst = float(np.abs(offsets).max())
    if worst > MAX_OFFSET_C:
        r, c = np.unravel_index(int(np.abs(offsets).argmax()), offsets.shape)
        raise FlatFieldError(f"pixel (row {r}, column {c}) reads {offsets[r, c]:+.2f} degC off the others (at most "
                             f"{MAX_OFFSET_C:g}): something other than the surface is in view; cover the whole "
                             f"window and capture again")
    lo, hi = np.percentile(offsets[good], [5.0, 95.0])
    if hi - lo > MAX_SPREAD_C:
        raise FlatFieldError(f"the pixels spread over {hi - lo:.2f} degC (5th to 95th percentile, at most "
                             f"{MAX_SPREAD_C:g}): the view is not one surface; cover the whole window and capture "
                             f"again")
    smooth = _smooth_range(offsets)
    if smooth > MAX_SMOOTH_C:
        raise FlatFieldError(f"the view varies by {smooth:.2f} degC from one side to the other (at most "
                             f"{MAX_SMOOTH_C:g}): the surface does not cover the whole window, or is not of one "
                             f"temperature; hold it flat against the window and capture again")
    left = float(np.median(sd[good] / np.sqrt(np.minimum(readings, counts)[good])))
    return FlatField(offsets_c=offsets, card_c=float(np.median(levels)), frames=n, noise_left_c=left,
                     smooth_c=smooth, spread_c=float(offsets[good].std()), bad_pixels=int((~good).sum()))


def offsets_array(rows) -> np.ndarray:
    """``[screening] pixel_offsets_c`` (24 rows of 32) as a (24, 32) float32 array to take off each image."""
    return np.ascontiguousarray(np.asarray(rows, dtype=np.float32).reshape(ROWS, COLUMNS))


def valid_offsets(value) -> bool:
    """``value`` is 24 rows of 32 finite numbers within MAX_OFFSET_C."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return (a.shape == (ROWS, COLUMNS) and bool(np.isfinite(a).all())
            and float(np.abs(a).max()) <= MAX_OFFSET_C)
