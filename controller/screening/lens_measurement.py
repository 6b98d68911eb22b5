"""Measuring a gate's lens (its blur and its wings) and its sensor's own offset, from the heated disc held near it.

The analysis reads faces and the reference disc through a Gaussian core
(``optics``) and can take a lens's wings out of every image
(``lens_wings``), but only where they are known. Melexis publishes no point
spread function for the MLX90640, so a gate's lens is measured at
installation (docs/installation.md, "Measuring the lens"): the reference disc
stands close in front of the sensor, in the middle of the view, for some
seconds, and is then taken away for as long. The two mean images' difference,
in radiance (the lens mixes radiance), is the disc through the lens alone:
the walls, the sensor's own offset and each pixel's fixed offset are in both
and cancel. The disc is large there (a 7 cm disc at 15 cm is about 7.5
pixels across through the 110 degree lens, 15 through the 55 degree), so its
edge shows the core's width and the faint halo beyond the edge the wings.

:func:`measure_lens` fits that difference with the model the analysis
assumes, ``a [(1 - share) K + share W(K)] + c``: ``K`` the disc (an ellipse
of the lens's pixel aspect, its centre the centroid of its contrast, its
radius fitted) blurred by a Gaussian core (``reference_source.disc_cover``),
``W`` the wings' Gaussian of ``lens_wings.wing_matrix``, ``a`` the disc's
contrast and ``c`` what changed in common between the two phases (the
sensor's drift, the room). For each core width, radius and wing width on a
grid the three linear terms are solved by least squares; the best fit is
the measurement. Wings are reported only where they carry at least
:data:`MIN_WING_SHARE` of the energy and show beyond the disc's edge, where
the core puts nothing, at :data:`MIN_HALO_SIGNIFICANCE` standard errors of
the pixels' own noise: a lens without wings is written as none, not as its
core's shape or the noise's small share.

Given the disc's set point and coating, the disc's pixels that the model
puts wholly on it (the wings taken out) read its apparent temperature plus
the sensor's own offset: ``[screening] lens_offset_c``, taken off the faces
where the reference disc, too small, tells none (docs/estimation.md,
"Measuring the lens, and the sensor's offset with it").

Two captures between which something else changed (a hand or a head in view
in one of them, something warm beside the disc) are refused, where the fit
leaves more unexplained than a lens can (:data:`MAX_STRAY_C`,
:data:`MAX_MISFIT`), rather than read as wings or as the offset.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from controller.geometry import FieldOfView

from .analysis_kernels import KELVIN
from .lens_wings import MAX_WING_SHARE, LensWings, wing_matrix
from .reference_source import disc_cover

CORE_GRID_PX = tuple(round(0.15 + 0.05 * i, 2) for i in range(24))  # core widths told apart: 0.15..1.3 px
# Wing widths told apart: 1.5..8 px. Narrower ones are the core's own shape (no lens's core is exactly Gaussian,
# nor a pixel's footprint): fitted as wings, they took 30-40 % of the energy of lenses that have none.
WING_GRID_PX = tuple(round(1.5 + 0.25 * i, 2) for i in range(27))
RADIUS_FACTORS = tuple(round(0.86 + 0.02 * i, 2) for i in range(15))  # around the radius its total gives
MIN_ACROSS_PX = 5.0  # a smaller disc's edge does not tell the core from the wings
MIN_EDGE_PX = 3.0  # the disc's edge at least this far from the image's borders (the halo must be in view)
MIN_CONTRAST_C = 5.0  # the disc at least this much warmer than the wall behind it
# A disc set less than this above the wall is told to be set hotter for the measurement: MIN_CONTRAST_C through a
# coating of emissivity 0.9 or more, and 2 degC to spare for its edge and the room's walls
HOTTER_THAN_WALL_C = 8.0
MIN_WING_SHARE = 0.02  # wings carrying less are written as none
HALO_PX = 2.5  # the halo is read this far beyond the disc's edge and more, where a core of up to 1.3 px puts nothing
MIN_HALO_SIGNIFICANCE = 5.0  # ... and wings are written only where it shows at this many standard errors
FULL_COVER = 0.999  # a pixel the model puts this much on the disc reads the disc alone ...
MIN_FULL_PIXELS = 4  # ... and the sensor's offset is read on at least this many of them
# What the fit leaves unexplained, as the mean of 2 x 2 pixels: beyond the halo (HALO_PX past the disc's edge) at
# most MAX_STRAY_C, anywhere (the disc's rim included) at most MAX_MISFIT of the disc's contrast; more is something
# else that changed between the captures, which would be read as wings or as the sensor's offset. Chosen on 60
# simulated lenses (core 0.2-1.1 px, wings 0-30 % at 1.5-4 px, discs 5-15 cm, noise, offsets, gains, drift),
# whose largest were 0.19 degC and 0.066, and a warm patch added to each: every patch that moved the offset by
# more than 0.1 degC or the wings' share by more than 0.03 is refused (docs/estimation.md, "Measuring the lens").
MAX_STRAY_C = 0.4
MAX_MISFIT = 0.12
ROWS_FOR_SIZE = 24  # across_for_offset_px models the disc on a square of this many pixels (the sensor's rows)
ACROSS_PX = (7.0, 10.0)  # how large the disc is best stood: its edge well sampled, its halo in view


def measure_distance_m(diameter_m: float, fov: FieldOfView) -> tuple[float, float]:
    """(nearest, farthest) line-of-sight distance at which a disc of ``diameter_m`` is ACROSS_PX across."""
    pitch = math.radians(fov.pitch_deg("horizontal"))
    return tuple(diameter_m / 2.0 / math.tan(px * pitch / 2.0) for px in (ACROSS_PX[1], ACROSS_PX[0]))  # type: ignore[return-value]


# The [screening] keys a measurement writes: one measured again replaces them all, so that wings or an offset it did
# not find this time are not kept from before.
LENS_KEYS = ("lens_wing_share", "lens_wing_px", "lens_core_px", "lens_offset_c", "lens_view_c", "lens_measured_at")


class LensMeasurementError(ValueError):
    """The images do not measure the lens: the message says what to do. ``hotter_c``: where the disc is too
    faint against the wall for its set point to be anything but too near the room, the set point it should be
    given for the measurement (None otherwise)."""

    def __init__(self, message: str, hotter_c: float | None = None):
        super().__init__(message)
        self.hotter_c = hotter_c


@dataclass(frozen=True)
class LensMeasurement:
    """A lens's point spread function as the disc near it showed it."""

    core_px: float  # the Gaussian core's sigma, pixels
    wing_share: float  # the share of a point's energy in the wings (0.0: none found)
    wing_px: float  # their Gaussian's sigma, pixels (meaningless when wing_share is 0)
    across_px: float  # the disc's fitted diameter, columns
    centre: tuple[float, float]  # (row, column), continuous pixel coordinates
    contrast_c: float  # the disc's contrast against the wall, degC (at the wall's temperature)
    residual: float  # the fit's rms residual over the disc's contrast
    core_only_residual: float  # the same for the best fit without wings
    frames: tuple[int, int]  # frames with the disc, without it
    halo_sd: float = 0.0  # how clearly the best wings show beyond the edge, in standard errors (0.0: not looked)
    sensor_offset_c: float | None = None  # what the sensor reads above the disc's apparent temperature, where it
    # fills pixels wholly (the wings taken out); None: no set point given, or no pixel wholly on the disc
    full_pixels: int = 0  # the pixels wholly on the disc that reading averages
    # Where a set point was given but too few pixels lie wholly on the disc to read the offset: how many pixels
    # across it must be, at this lens's blur, to fill MIN_FULL_PIXELS wherever it is stood (offset_across_px);
    # None where the offset was read, or no set point given
    offset_across_px: float | None = None
    stray_c: float = 0.0  # the largest change the fit leaves unexplained (2 x 2 pixels' mean, degC at the wall)
    stray_at: tuple[int, int] = (0, 0)  # ... its top left pixel (row, column)
    misfit: float = 0.0  # the same anywhere, the disc included, over the disc's contrast
    # The view without the disc as read then (its median pixel, degC): the room's walls plus the sensor's offset and
    # drift at that moment. Learning the reference reads it again: what it moved by is the sensor's drift since,
    # which the offset above did not see (reference_source.lens_drift_c).
    view_c: float = math.nan

    def table(self) -> dict:
        """The ``[screening]`` keys it gives: the wings (none: a share of 0.0), the core's blur (``lens_core_px``),
        and the sensor's own offset where it was read, with the view it was read in (``lens_view_c``)."""
        out: dict = ({"lens_wing_share": 0.0} if self.wing_share <= 0.0 else
                     {"lens_wing_share": round(self.wing_share, 3), "lens_wing_px": round(self.wing_px, 2)})
        out["lens_core_px"] = round(self.core_px, 2)
        if self.sensor_offset_c is not None:
            out["lens_offset_c"] = round(self.sensor_offset_c, 2)
            if math.isfinite(self.view_c):
                out["lens_view_c"] = round(self.view_c, 2)
        return out


TABLE_DIAMETERS_M = (0.05, 0.06, 0.07, 0.08, 0.10, 0.15)


def markdown_table(diameters=TABLE_DIAMETERS_M) -> str:
    """docs/installation.md's table ("Measuring the lens"): where to stand each disc, for each lens."""
    from controller.geometry import NARROW, WIDE

    lines = ["| lens | " + " | ".join(f"{d * 100:g} cm disc" for d in diameters) + " |",
             "| --- |" + " --- |" * len(diameters)]
    for fov in (WIDE, NARROW):
        cells = [f"{near * 100:.0f}-{far * 100:.0f} cm"
                 for near, far in (measure_distance_m(d, fov) for d in diameters)]
        lines.append(f"| {fov.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean_image(images, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    stack = np.asarray([np.asarray(i, dtype=np.float64) for i in images])
    if stack.ndim != 3 or stack.shape[0] == 0:
        raise LensMeasurementError(f"no frames {what}")
    finite = np.where(np.isfinite(stack), stack, np.nan)
    with warnings.catch_warnings():  # a pixel that never reads a number is refused just below
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, var = np.nanmean(finite, axis=0), np.nanvar(finite, axis=0)
    if not np.all(np.isfinite(mean)):
        raise LensMeasurementError(f"some pixels never read a number {what}: the sensor has failed pixels there")
    # a full frame is two subpages, each pixel read every other frame: half as many independent readings
    return mean, var / max(stack.shape[0] / 2.0, 1.0), stack.shape[0]


def measure_lens(disc_images, empty_images, fov: FieldOfView, min_frames: int = 16, set_point_c: float | None = None,
                 emissivity: float = 1.0) -> LensMeasurement:
    """The lens's core and wings from full images (degC) of the scene with the heated disc close in front of the
    sensor (``disc_images``) and of the same scene without it (``empty_images``). LensMeasurementError when
    the frames are too few, the disc too small, too near the image's border or too faint, or not a disc.

    With the disc's ``set_point_c`` (and its coating's ``emissivity``), also the sensor's own offset: the
    disc's pixels that the fitted model puts wholly on it (the wings taken out of the mean image first,
    ``lens_wings``) read the disc's apparent temperature plus the offset, at a temperature near a face's."""
    disc, disc_var, n_disc = _mean_image(disc_images, "with the disc")
    empty, empty_var, n_empty = _mean_image(empty_images, "without the disc")
    if disc.shape != empty.shape:
        raise LensMeasurementError(f"the images differ in shape: {disc.shape} against {empty.shape}")
    if min(n_disc, n_empty) < min_frames:
        raise LensMeasurementError(f"{n_disc} frames with the disc and {n_empty} without it: at least {min_frames} "
                                   f"of each are needed (2 s at 8 frames a second)")
    wall_rad = (empty + KELVIN) ** 4
    delta = (disc + KELVIN) ** 4 - wall_rad
    peak = float(np.max(delta))
    wall_c = float(np.median(empty))
    gradient = 4.0 * (wall_c + KELVIN) ** 3  # radiance per degC at the wall
    if not peak / gradient >= MIN_CONTRAST_C:
        faint = f"the disc reads {peak / gradient:.1f} degC above the wall at most (at least {MIN_CONTRAST_C:g} needed)"
        hotter = math.ceil(wall_c + HOTTER_THAN_WALL_C)
        if set_point_c is not None and set_point_c < hotter:
            raise LensMeasurementError(
                f"{faint}: the wall reads {wall_c:.1f} degC and the disc is set to {set_point_c:g}, too near it; set "
                f"the disc to {hotter} degC or more for this measurement if it can be, give that set point "
                f"(--set-point), and set it back before learning the reference", hotter_c=float(hotter))
        raise LensMeasurementError(f"{faint}: is it heated, in view and near the sensor?")
    share = delta / peak
    rows, cols = np.indices(share.shape) + 0.5
    core = share >= 0.5
    flux_core = float(share[core].sum())
    centre = (float((rows[core] * share[core]).sum() / flux_core), float((cols[core] * share[core]).sum() / flux_core))
    aspect = fov.pixel_aspect
    # its radius from the area of the pixels at half its contrast or more (an edge through the blur reads half)
    rx0 = math.sqrt(float(np.count_nonzero(core)) / (math.pi * aspect))
    if 2.0 * rx0 < MIN_ACROSS_PX:
        raise LensMeasurementError(f"the disc is {2.0 * rx0:.1f} pixels across (at least {MIN_ACROSS_PX:g} needed): "
                                   f"bring it nearer the sensor")
    ry0 = aspect * rx0
    margin = min(centre[0] - ry0, share.shape[0] - centre[0] - ry0, centre[1] - rx0, share.shape[1] - centre[1] - rx0)
    if margin < MIN_EDGE_PX:
        raise LensMeasurementError(f"the disc's edge is {max(margin, 0.0):.1f} pixels from the image's border (at "
                                   f"least {MIN_EDGE_PX:g} needed): put it in the middle of the view")
    centre = _centroid(share, centre, rx0, ry0)
    ones = np.ones(share.size)
    target = share.ravel()
    matrices: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def wings(px: float) -> tuple[np.ndarray, np.ndarray]:
        if px not in matrices:
            matrices[px] = (wing_matrix(share.shape[0], px), wing_matrix(share.shape[1], px))
        return matrices[px]

    # the best fit without wings, (sse, core_px, factor, coefficients), and with them, (sse, core_px, factor,
    # wing_px, coefficients)
    fits: list = [None, None]

    def search(cores, factors, wing_widths) -> None:
        widths = tuple(wing_widths)
        pairs = [wings(px) for px in widths]
        for sigma in cores:
            for factor in factors:
                k = disc_cover(share.shape, centre, (ry0 * factor, rx0 * factor), sigma)
                coef, sse = _lstsq(np.column_stack([k.ravel(), ones]), target)
                if fits[0] is None or sse < fits[0][0]:
                    fits[0] = (sse, sigma, factor, coef)
                if not widths:
                    continue
                # every wing width at once: (widths, pixels, 3) designs, solved by their normal equations
                x = np.empty((len(widths), share.size, 3))
                x[:, :, 0] = k.ravel()
                x[:, :, 1] = np.stack([(wr @ k @ wc.T).ravel() for wr, wc in pairs])
                x[:, :, 2] = 1.0
                xt = x.transpose(0, 2, 1)
                try:
                    coefs = np.linalg.solve(xt @ x, (xt @ target)[:, :, None])[:, :, 0]
                except np.linalg.LinAlgError:
                    continue
                residual = target[None, :] - (x @ coefs[:, :, None])[:, :, 0]
                sses = (residual * residual).sum(axis=1)
                for j in np.argsort(sses):
                    coef = coefs[j]
                    if coef[1] > 0.0 and coef[0] > 0.0:
                        if fits[1] is None or sses[j] < fits[1][0]:
                            fits[1] = (float(sses[j]), sigma, factor, widths[j], coef)
                        break

    search(CORE_GRID_PX, RADIUS_FACTORS, WING_GRID_PX)  # the grid, then finer around its best fits
    near = lambda v, step, n: tuple(round(v + step * i, 4) for i in range(-n, n + 1) if v + step * i > 0.05)  # noqa: E731
    coarse_core, coarse = fits
    search(near(coarse_core[1], 0.02, 2), near(coarse_core[2], 0.005, 3), ())
    if coarse is not None:
        search(near(coarse[1], 0.02, 2), near(coarse[2], 0.005, 3),
               tuple(px for px in near(coarse[3], 0.1, 2) if WING_GRID_PX[0] <= px <= WING_GRID_PX[-1]))
    best_core, best = fits
    assert best_core is not None
    n = float(share.size)
    core_rms = math.sqrt(best_core[0] / n)
    wing_share, wing_px, sigma, factor, rms = 0.0, 0.0, best_core[1], best_core[2], core_rms
    contrast = float(best_core[3][0])
    halo = 0.0
    if best is not None:
        sse, w_sigma, w_factor, w_px, coef = best
        w_share = float(coef[1] / (coef[0] + coef[1]))
        # the noise of each pixel's difference, in the same units (radiance over the peak)
        noise = (4.0 * (disc + KELVIN) ** 3) ** 2 * disc_var + (4.0 * (empty + KELVIN) ** 3) ** 2 * empty_var
        halo = _halo_significance(share, noise / peak ** 2, centre, (ry0 * w_factor, rx0 * w_factor), w_sigma,
                                  wings(w_px))
        if w_share >= MIN_WING_SHARE and halo >= MIN_HALO_SIGNIFICANCE:
            wing_share, wing_px, sigma, factor = min(w_share, MAX_WING_SHARE), w_px, w_sigma, w_factor
            rms, contrast = math.sqrt(sse / n), float(coef[0] + coef[1])
    contrast_c = contrast * peak / gradient
    # What the chosen fit leaves, in degC at the wall: where something else changed between the two captures (a
    # hand, a person in view, a lamp), a blob the lens cannot have made
    radii = (ry0 * factor, rx0 * factor)
    k = disc_cover(share.shape, centre, radii, sigma)
    if wing_share > 0.0:
        assert best is not None
        wr, wc = wings(wing_px)
        fitted = best[4][0] * k + best[4][1] * (wr @ k @ wc.T) + best[4][2]
    else:
        fitted = best_core[3][0] * k + best_core[3][1]
    left_c = (share - fitted) * peak / gradient
    stray_c, stray_at = _stray(np.where(_beyond_halo(share.shape, centre, radii), left_c, 0.0))
    misfit_c, misfit_at = _stray(left_c)
    misfit = misfit_c / max(contrast_c, 1e-9)
    if stray_c > MAX_STRAY_C:
        raise LensMeasurementError(
            f"something else changed between the two captures: {stray_c:.1f} degC at {_where(stray_at)}, "
            f"away from the disc, which no lens makes (a hand, a person or a lamp in "
            f"view in one of them?): keep everything but the disc out of view, and measure again")
    if misfit > MAX_MISFIT:
        raise LensMeasurementError(
            f"the difference is not a disc through a lens: {misfit:.0%} of the disc's contrast left unexplained at "
            f"{_where(misfit_at)} (something warm beside the disc, a hand on "
            f"it, the disc moved during the capture?): stand it alone and still, and measure again")
    offset, full_pixels, offset_across = None, 0, None
    if set_point_c is not None:
        seen = LensWings(wing_share, wing_px, disc.shape).remove(disc) if wing_share > 0.0 else disc
        full = disc_cover(share.shape, centre, (ry0 * factor, rx0 * factor), sigma) >= FULL_COVER
        full_pixels = int(np.count_nonzero(full))
        if full_pixels >= MIN_FULL_PIXELS:
            room = float(np.median(empty))  # what the coating reflects (its offset moves this by (1 - e) x it)
            apparent = (emissivity * (set_point_c + KELVIN) ** 4
                        + (1.0 - emissivity) * (room + KELVIN) ** 4) ** 0.25 - KELVIN
            offset = float(seen[full].mean()) - apparent
        else:
            offset_across = across_for_offset_px(sigma, aspect)
    return LensMeasurement(core_px=sigma, wing_share=wing_share, wing_px=wing_px, across_px=2.0 * rx0 * factor,
                           centre=centre, contrast_c=contrast_c, residual=rms / max(contrast, 1e-9),
                           core_only_residual=core_rms / max(float(best_core[3][0]), 1e-9),
                           frames=(n_disc, n_empty), halo_sd=halo, sensor_offset_c=offset, full_pixels=full_pixels,
                           offset_across_px=offset_across,
                           stray_c=stray_c, stray_at=stray_at, misfit=misfit, view_c=wall_c)


def across_for_offset_px(core_px: float, aspect: float = 1.0) -> float:
    """How many pixels across (columns) a disc must be, through a Gaussian core of ``core_px``, for its model to
    put at least MIN_FULL_PIXELS pixels wholly on it (FULL_COVER) wherever its centre falls on the pixel grid:
    the smallest such size in steps of 0.25 px. ``aspect``: the disc's rows per column through the lens."""
    shape = (ROWS_FOR_SIZE, ROWS_FOR_SIZE)
    mid = ROWS_FOR_SIZE / 2.0
    for quarter in range(4 * int(MIN_ACROSS_PX), 4 * ROWS_FOR_SIZE):
        across = quarter / 4.0
        radii = (aspect * across / 2.0, across / 2.0)
        if all(np.count_nonzero(disc_cover(shape, (mid + dr, mid + dc), radii, core_px) >= FULL_COVER)
               >= MIN_FULL_PIXELS for dr in (0.0, 0.25, 0.5) for dc in (0.0, 0.25, 0.5)):
            return across
    return float(ROWS_FOR_SIZE)


def _beyond_halo(shape: tuple[int, ...], centre: tuple[float, float], radius: tuple[float, float]) -> np.ndarray:
    """The pixels more than HALO_PX beyond the edge of the disc of ``radius`` (rows, columns) at ``centre``."""
    return (np.sqrt(_ellipse_distance2(shape, centre, radius)) - 1.0) * min(radius) > HALO_PX


def _ellipse_distance2(shape: tuple[int, ...], centre: tuple[float, float],
                       radius: tuple[float, float]) -> np.ndarray:
    """Each pixel centre's squared distance from ``centre`` in units of the ellipse's ``radius`` (rows,
    columns): 1.0 on the ellipse's edge."""
    rows, cols = np.indices(shape) + 0.5
    return ((rows - centre[0]) / radius[0]) ** 2 + ((cols - centre[1]) / radius[1]) ** 2


def _halo_significance(share: np.ndarray, noise_var: np.ndarray, centre: tuple[float, float],
                       radius: tuple[float, float], sigma: float, wing: tuple[np.ndarray, np.ndarray]) -> float:
    """How clearly the wings show where the core puts nothing: over the pixels more than HALO_PX beyond the
    disc's edge, the wings' fitted amplitude over its standard error from the pixels' noise (a level common to
    the two phases fitted beside it)."""
    far = _beyond_halo(share.shape, centre, radius)
    if np.count_nonzero(far) < 10:
        return 0.0
    k = disc_cover(share.shape, centre, radius, sigma)
    x = np.column_stack([(wing[0] @ k @ wing[1].T)[far], np.ones(np.count_nonzero(far))])
    w = 1.0 / np.maximum(noise_var[far], 1e-12)
    xtw = x.T * w
    try:
        cov = np.linalg.inv(xtw @ x)
    except np.linalg.LinAlgError:
        return 0.0
    coef = cov @ (xtw @ share[far])
    return float(coef[0] / math.sqrt(cov[0, 0])) if cov[0, 0] > 0.0 else 0.0


def _where(at: tuple[int, int]) -> str:
    """A 2 x 2 block of pixels, named from its top left one."""
    return f"rows {at[0]}-{at[0] + 1}, columns {at[1]}-{at[1] + 1}"


def _stray(left_c: np.ndarray) -> tuple[float, tuple[int, int]]:
    """The largest mean of 2 x 2 pixels of what the fit leaves (degC), in size, and where it is."""
    blocks = (left_c[:-1, :-1] + left_c[1:, :-1] + left_c[:-1, 1:] + left_c[1:, 1:]) / 4.0
    r, c = np.unravel_index(int(np.argmax(np.abs(blocks))), blocks.shape)
    return float(abs(blocks[r, c])), (int(r), int(c))


def _centroid(share: np.ndarray, centre: tuple[float, float], rx: float, ry: float) -> tuple[float, float]:
    """The disc's centre: the centroid of its contrast over an ellipse 3 pixels beyond its edge, its
    surroundings' level (the median beyond that) taken out; three times, from ``centre``."""
    rows, cols = np.indices(share.shape) + 0.5
    for _ in range(3):
        inside = _ellipse_distance2(share.shape, centre, (ry + 3.0, rx + 3.0)) <= 1.0
        level = float(np.median(share[~inside])) if (~inside).any() else 0.0
        w = share[inside] - level
        total = float(w.sum())
        if not total > 0.0:
            break
        centre = (float((rows[inside] * w).sum() / total), float((cols[inside] * w).sum() / total))
    return centre


def _lstsq(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, _, _, _ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return coef, float(r @ r)


def main() -> None:
    print(markdown_table())


if __name__ == "__main__":
    main()
