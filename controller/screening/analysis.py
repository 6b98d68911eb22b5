"""Scene analysis of one full temperature frame: background, people, the face, the reference.

    analyzer = Analyzer(AnalysisConfig(variant=Lens.NARROW))
    for image in frames:                     # (24, 32) degC, one gate's full frames in order
        a = analyzer.analyze(image)          # FrameAnalysis
        a.people, a.face_box, a.distance_m, a.face_topk_c + a.offset_c, ...

An :class:`Analyzer` belongs to one gate: it keeps the background model (the
room as it looks with nobody in it) and the reference source's recent
readings. Per frame it finds the warm blobs, the faces among them, measures
the main (largest, so nearest) face and reads the reference. The per-frame
work is one numba kernel, :func:`controller.screening.analysis_kernels.analyze_frame`;
docs/estimation.md ("Scene analysis") describes the method and its figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cache

import numpy as np

from controller.geometry import FACE_HALF_HEIGHT_M, FieldOfView, Lens, face_width_pixels, pixels_across

from . import analysis_kernels as K
from .flat_field import MAX_OFFSET_C, valid_offsets
from .lens_wings import LensWings, check_wings
from .optics import LENS_PSF_SIGMA_PX, FaceMix, face_aspect, face_mix

TABLE_DISTANCES_M = np.geomspace(0.1, 10.0, 512)  # the distances the lens tables are worked out at
MAX_GUARD_PX = 8  # the widest guard around the reference's box: a third of the image's height
# A disc's blur further than this from the lens's core that `calibrate lens` measured is not the lens's: the disc was
# too small or too far to tell it, or something warm stands beside it; `calibrate reference` warns. On DEV the disc's
# reads +0.09 +- 0.12 px from the core (110 deg, 53 lenses) and +0.03 +- 0.15 (55 deg, 58); a tenth of a pixel of
# blur is 0.13-0.24 degC on a small face's estimate (docs/estimation.md, "The disc's blur against the lens's core").
# The faces are read with the core wherever the lens was measured (AnalysisConfig.face_blur_px; docs/estimation.md,
# "The faces read through the lens's core").
BLUR_DISAGREE_PX = 0.4


@dataclass(frozen=True)
class AnalysisConfig:
    """How a gate's frames are analysed. Temperatures are apparent (emissivity 1), degC."""

    variant: Lens = Lens.NARROW  # the lens; its spelling "55" or "110" is taken too
    reference_box: tuple[int, int, int, int] | None = (3, 3, 7, 7)  # r0, c0, r1, c1 (exclusive); None: no reference
    reference_c: float = 35.0  # the reference's set temperature
    # Its apparent reading through this gate's optics, learned by `thermogate calibrate reference`; None: not
    # learned (never corrected against). The default describes the simulator's own reference (a 7 cm blackbody
    # disc, 4.7 pixels across at its mountings), whose reading as learned through the simulator's optics is its
    # set point to within 0.05 degC (tests/test_reference_source.py); [screening.reference] without apparent_c
    # means "not learned".
    reference_apparent_c: float | None = 35.0
    # The background around the disc when its reading was learned (written with it): the drift is then unmixed
    # from the wall's change (analysis_kernels.unmixed_drift), which a small disc's reading partly follows.
    # None: the reading's change is the drift (a disc at full contrast, or a reading learned before this was).
    reference_background_c: float | None = None
    person_margin_c: float = 3.0  # warmer than the background by this much = person candidate
    hot_object_c: float = 41.0  # apparent temperature above which a blob cannot be skin
    top_k: int = 3
    face_width_m: float = 0.15
    # Faces.
    skin_fraction: float = 0.6  # skin: at least this far from the background to the blob's hottest pixel
    # A blob holds a face only if its hottest pixel reaches this ... (below the tracker's min_face_c, 30, so that a
    # face chilled outdoors is found and told to wait indoors; above clothing and hair in a 22 degC room, 25.5-27)
    face_min_c: float = 28.0
    face_contrast_c: float = 4.0  # ... and the ambient plus this
    min_face_pixels: int = 2  # smaller skin blobs are not counted as faces
    glasses_drop: float = 0.15  # glasses: eye band below the rows either side by this share of skin - ambient
    cover_drop: float = 0.3  # hat/hair: forehead probe below the face's skin by this share of skin - ambient
    nose_drop: float = 0.08  # chilled nose: below the cheeks by this share of skin - ambient (and 0.6 degC)
    # Background model. Counts of frames are stated at 8 frames a second. At another rate (Analyzer.set_frame_scale)
    # every one of them keeps its time: a room warms, a sensor drifts and someone stands in front of the disc for as
    # long at any rate, the window's stability test asks how far the reading moves over 4 s, and the sensor's noise
    # grows as the square root of its rate (MLX90640 datasheet: NETD doubles from 1 to 4 Hz), so an average over a
    # given time is as precise at any rate.
    background_tau_frames: float = 64.0  # time constant where nobody is (8 s at 8 frames/s)
    absorb_tau_frames: float = 2048.0  # time constant near people (something warm that never leaves)
    bootstrap_frames: int = 8  # the first frames: the model keeps each pixel's coolest reading
    # Reference source.
    reference_pixels: int = 6  # the box pixels most on the disc that are averaged
    reference_drift_c: float = 1.5  # drift: the sensor has drifted more than this since the reading was learned
    reference_min_fraction: float = 0.25  # too small: the reading reaches less of its set-point contrast
    reference_min_contrast_c: float = 1.0  # not found: the reading is less than this above the background around it
    reference_window: int = 32  # frames of the stability test and the reading's average (4 s at 8 frames/s)
    reference_stable_c: float = 0.15  # stable: slow variation over the window below this, or below what the
    # pixels' noise makes a steady reference show by chance where that is more (FrameAnalysis.reference_allowed_c)
    reference_tau_frames: float = 16.0  # running mean per box pixel that chooses the disc's pixels
    # The offset is the drift averaged over this long (30 s at 8 frames/s): a small disc's drift, unmixed from
    # its wall, is its reading's noise over its share of contrast; the sensor drifts over minutes (sim/scenes/
    # sensor_errors.py: periods of 7 and 25 min), which this follows within 0.05 degC at the drift's fastest.
    reference_drift_tau_frames: float = 240.0
    # A reference unsteady, hidden or too small for up to this long after its last ok frame (someone passing in
    # front of it or near it; 60 s at 8 frames/s) is held: ok, with the averaged drift (status "held").
    reference_hold_frames: int = 480
    reference_guard_px: int = 2  # the box grown by this much is never a person (the disc's blurred rim)
    # The lens blur (a Gaussian's standard deviation, pixels) measured on the reference disc when its reading is
    # learned (reference_source.measure_blur); None: not measured. The faces are read with it only where the lens
    # was not measured (lens_core_px None), else with the core; with neither, with the product's nominal
    # optics.LENS_PSF_SIGMA_PX (face_blur_px).
    lens_blur_px: float | None = None
    # The lens's core blur (the same Gaussian's sigma) that `thermogate calibrate lens` measured with the disc close
    # in front of the sensor ([screening] lens_core_px; None: not measured). Far more precise than the blur a small
    # disc at its place gives: where it was measured, the faces are read with it (face_blur_px).
    lens_core_px: float | None = None
    # The lens's wings, when its point spread function was measured with them: this share of every point's energy
    # spread by a Gaussian of lens_wing_px. Each image is analysed with them taken out (lens_wings.py), so that
    # the optics terms (optics.face_mix) and the disc's model (reference_source.disc_cover) see the core alone.
    # None by default.
    lens_wing_share: float = 0.0
    lens_wing_px: float = 2.0
    reference_emissivity: float = 1.0  # the disc's coating (its data sheet); 1.0: a blackbody
    # The sensor's own offset read off the disc when its reading was learned (reference_source.disc_offset), or
    # where that tells none, when the lens was measured ([screening] lens_offset_c): taken off every face reading,
    # whether or not the reference reads ok at the moment (the drift it corrects is followed only while it does),
    # when apply_sensor_offset is set (the default). Only a disc that fills its averaged pixels, and whose reading
    # hangs little on the blur, tells it (reference_source.disc_offset: about 5 pixels across at 0.4 px of blur,
    # reference_source.offset_across_px); for a smaller one none is written and 0.0, or the lens's, is taken off
    # (docs/estimation.md, "The sensor's own offset").
    sensor_offset_c: float = 0.0
    apply_sensor_offset: bool = True
    # The view's median pixel when the lens was measured ([screening] lens_view_c; None: not known): learning the
    # reference reads it again, and what it moved by is the sensor's drift since (reference_source.lens_drift_c).
    lens_view_c: float | None = None
    lens_measured_at: str | None = None  # when (ISO 8601 with its zone; [screening] lens_measured_at; None: not known)
    # The part of sensor_offset_c that is that drift ([screening.reference] lens_drift_c, where the lens's offset is
    # the one taken off; None: none), told apart so that the watch can say what the offset is made of
    lens_drift_c: float | None = None
    # The sensor's fixed per-pixel offsets, 24 rows of 32 degC, as `thermogate calibrate flat` measured them on a
    # flat field ([screening] pixel_offsets_c; flat_field.py): the pipeline takes them off every image before
    # anything reads it. None: not measured, nothing taken off.
    pixel_offsets_c: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", Lens.parse(self.variant))  # ValueError names the spellings
        if self.pixel_offsets_c is not None:
            if not valid_offsets(self.pixel_offsets_c):
                raise ValueError(f"pixel_offsets_c must be {K.ROWS} rows of {K.COLUMNS} finite offsets within "
                                 f"{MAX_OFFSET_C:g} degC")
            object.__setattr__(self, "pixel_offsets_c", tuple(tuple(float(v) for v in row)
                                                              for row in self.pixel_offsets_c))
        if self.reference_box is not None:
            r0, c0, r1, c1 = self.reference_box
            if not (0 <= r0 < r1 <= K.ROWS and 0 <= c0 < c1 <= K.COLUMNS):
                raise ValueError(f"reference_box {self.reference_box} is not a box inside the 24 x 32 image")
        if not 0 <= self.reference_guard_px <= MAX_GUARD_PX:
            raise ValueError(f"reference_guard_px must be 0..{MAX_GUARD_PX} pixels, got {self.reference_guard_px}")
        if self.top_k < 1 or self.min_face_pixels < 1 or self.reference_pixels < 1:
            raise ValueError("top_k, min_face_pixels and reference_pixels must be at least 1")
        if self.reference_window < 2 * K.BLOCKS or self.reference_window % K.BLOCKS:
            raise ValueError(f"reference_window must be a multiple of {K.BLOCKS}, at least {2 * K.BLOCKS}")
        if min(self.background_tau_frames, self.absorb_tau_frames, self.reference_tau_frames,
               self.reference_drift_tau_frames) < 1.0 or self.reference_hold_frames < 0:
            raise ValueError("time constants must be at least one frame, reference_hold_frames at least 0")
        for name in ("reference_apparent_c", "reference_background_c"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite temperature, got {value}")
        if not 0.0 < self.reference_min_fraction <= 1.0:
            raise ValueError(f"reference_min_fraction must be in (0, 1], got {self.reference_min_fraction}")
        for name in ("lens_blur_px", "lens_core_px"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 3.0):
                raise ValueError(f"{name} must be 0..3 pixels, got {value}")
        check_wings(self.lens_wing_share, self.lens_wing_px)
        if not 0.0 < self.reference_emissivity <= 1.0 or not math.isfinite(self.sensor_offset_c):
            raise ValueError(f"reference_emissivity must be in (0, 1] and sensor_offset_c finite, got "
                             f"{self.reference_emissivity}, {self.sensor_offset_c}")
        if not 0.0 < self.skin_fraction < 1.0:
            raise ValueError(f"skin_fraction must be between 0 and 1, got {self.skin_fraction}")

    @property
    def fov(self) -> FieldOfView:
        """The lens: controller.geometry.NARROW or WIDE."""
        return self.variant.fov

    @property
    def face_blur_px(self) -> float | None:
        """The lens blur the faces are read with: the lens's core where it was measured (``lens_core_px``), else the
        disc's (``lens_blur_px``); None with neither (the product's nominal blur)."""
        return self.lens_core_px if self.lens_core_px is not None else self.lens_blur_px

    def face_mix(self, width_px: float) -> FaceMix:
        """What the mean of the ``top_k`` hottest pixels of a face ``width_px`` across holds through this lens
        (:func:`optics.face_mix`), read with :attr:`face_blur_px` (the nominal blur where none was measured)."""
        blur = LENS_PSF_SIGMA_PX if self.face_blur_px is None else self.face_blur_px
        return face_mix(width_px, width_px * face_aspect(self.fov), blur, self.top_k)

    @property
    def blur_disagrees(self) -> bool:
        """The disc's blur lies more than BLUR_DISAGREE_PX from the lens's core: the disc cannot tell the blur
        (too small or too far, or something warm beside it). False where either is missing."""
        return (self.lens_core_px is not None and self.lens_blur_px is not None
                and abs(self.lens_blur_px - self.lens_core_px) > BLUR_DISAGREE_PX)


@dataclass(frozen=True)
class FrameAnalysis:
    """What one frame shows. Temperatures are apparent (emissivity 1), degC, before ``offset_c``."""

    ambient_c: float  # the background model's room estimate (median of the background)
    people: int  # faces (skin blobs of at least min_face_pixels) in view
    face_box: tuple[int, int, int, int] | None  # the main (largest/nearest) face, r0, c0, r1, c1 exclusive
    face_width_px: float  # 0.0 if no face
    distance_m: float | None  # line of sight to the face, from its width through the lens geometry
    face_max_c: float  # hottest face pixel (NaN if no face)
    face_topk_c: float  # mean of the top_k hottest face pixels, hot non-skin pixels excluded (NaN if no face)
    forehead_c: float  # mean of the forehead's skin pixels, 2-6 cm above the eye line (NaN if none)
    touches_edge: bool  # not in view as far as it is read: the face reaches the image's left or right border or
    # the reference's guard, or its read bands (the forehead's top to the lower face's bottom) pass the top or bottom
    glasses: bool  # cue: cool band across the eye line of an otherwise warm face
    forehead_covered: bool  # cue: top of the face much cooler than the face's skin (hat/hair)
    hot_object: bool  # a blob hotter than hot_object_c was excluded
    reference_c: float  # measured reading of the reference box (NaN if not configured)
    reference_ok: bool  # reference_status is "ok" (found, big enough, learned, stable, near its learned reading) or
    # "held" (unsteady, hidden or too small within reference_hold_frames of an ok frame: the averaged drift kept)
    offset_c: float  # correction to add to face readings: minus the sensor's drift since the reference was learned
    # (unmixed from the wall, averaged: analysis_kernels.reference_step); 0.0 if not ok
    faces: tuple[tuple[int, int, int, int], ...] = ()  # every face's skin bounding box, largest first (up to 8)
    face_pixels: int = 0  # skin pixels of the main face
    skin_c: float = math.nan  # median of the main face's skin pixels
    eye_row: float = math.nan  # the main face's eye line, in continuous row coordinates
    background_shift_c: float = 0.0  # this frame's common offset against the background model
    reference_excess_c: float = math.nan  # the reference's slow variation over its window (the stability test)
    nose_drop_c: float = math.nan  # how much cooler the nose is than the cheeks either side
    nose_chilled: bool = False  # cue: the nose is far cooler than the cheeks (just in from the cold)
    reference_status: str = "none"  # REFERENCE_STATUSES: why reference_ok is False, or "ok" or "held"
    reference_mean_c: float = math.nan  # the reference's mean reading over its window (NaN until it is full)
    reference_background_c: float = math.nan  # the background around the reference's box
    reference_size_px: float = math.nan  # its apparent area, in pixels of full set-point contrast
    reference_fraction: float = math.nan  # the share of its set-point contrast its mean reading reaches
    warm_pixels: int = 0  # pixels of the largest warm blob (someone in view, a face found in it or not); 0: none
    warm_box: tuple[int, int, int, int] | None = None  # its bounding box, r0, c0, r1, c1 exclusive
    lower_face_c: float = math.nan  # the main face's middle 3-7 cm below the eye line: nose and cheeks, or a mask
    # (NaN: no face, or that band out of view)
    face_in_view: float = 1.0  # the share of the main face's height inside the image (below 1.0: its hair or chin
    # is cut off, which is measured unless touches_edge); 0.0 without a face
    eye_line_low: bool = False  # cue: the eye line lies further below the top of the skin than a face's eyes can
    # (EYE_LOW_M): the hottest row is the mouth or the neck, under eyes that glasses or a fringe keep cool
    reference_allowed_c: float = math.nan  # the slow variation (reference_excess_c) this window's noise allows a
    # steady reference: reference_stable_c, or what the blocks' chance spread reaches where more (analysis_kernels)

    @property
    def lower_face_ratio(self) -> float:
        """How far the lower face reads from the room towards the eye band: (lower face - room) / (top-k reading -
        room). Bare skin there reads about 0.8-0.9 of the way, a mask (never skin) less (the mask cue, the
        tracker's ``mask_ratio``); NaN without a face or that band."""
        excess = self.face_topk_c - self.ambient_c
        return (self.lower_face_c - self.ambient_c) / excess if excess > 0.0 else math.nan


@cache
def lens_tables(variant: Lens, face_width_m: float) -> np.ndarray:
    """(3, n) float64: face width in pixels (increasing), line-of-sight distance (m), face height in rows.

    Worked out by controller.geometry at TABLE_DISTANCES_M, so that a
    measured width is turned into a distance by interpolating the geometry's
    own answer rather than by a second copy of its formula.
    """
    fov = Lens.parse(variant).fov
    distances = TABLE_DISTANCES_M[::-1]
    widths = [face_width_pixels(d, fov, face_width_m) for d in distances]
    heights = [pixels_across(2.0 * FACE_HALF_HEIGHT_M, d, fov, "vertical") for d in distances]
    tables = np.ascontiguousarray(np.array([widths, distances, heights], dtype=np.float64))
    tables.setflags(write=False)
    return tables


def kernel_parameters(config: AnalysisConfig, scale: float = 1.0, guard: np.ndarray | None = None) -> np.ndarray:
    """The P_* vector of :mod:`analysis_kernels` for ``config``, at ``scale`` frames per frame at 8 frames a
    second (:func:`timed_parameters`); ``guard`` is ``guard_mask(config)`` where the caller has it already."""
    p = np.zeros(K.P_LENGTH)
    timed_parameters(p, config, scale)
    p[K.P_MARGIN] = config.person_margin_c
    p[K.P_HOT_C] = config.hot_object_c
    p[K.P_SKIN_FRACTION] = config.skin_fraction
    p[K.P_FACE_MIN_C] = config.face_min_c
    p[K.P_FACE_CONTRAST] = config.face_contrast_c
    p[K.P_TOPK] = config.top_k
    p[K.P_MIN_FACE_PX] = config.min_face_pixels
    p[K.P_FACE_WIDTH] = config.face_width_m
    p[K.P_GLASSES_DROP] = config.glasses_drop
    p[K.P_COVER_DROP] = config.cover_drop
    p[K.P_REF_BOX:K.P_REF_BOX + 4] = config.reference_box if config.reference_box is not None else (-1, -1, -1, -1)
    p[K.P_REF_C] = config.reference_c
    p[K.P_REF_PIXELS] = config.reference_pixels
    p[K.P_REF_DRIFT] = config.reference_drift_c
    p[K.P_REF_LEARNED] = math.nan if config.reference_apparent_c is None else config.reference_apparent_c
    p[K.P_REF_MIN_FRACTION] = config.reference_min_fraction
    p[K.P_REF_MIN_CONTRAST] = config.reference_min_contrast_c
    p[K.P_REF_LEARNED_BG] = math.nan if config.reference_background_c is None else config.reference_background_c
    p[K.P_REF_STABLE_C] = config.reference_stable_c
    p[K.P_GUARD] = config.reference_guard_px
    p[K.P_REF_RING] = ref_ring_pixels(guard_mask(config) if guard is None else guard)
    p[K.P_NOSE_DROP] = config.nose_drop
    return p


MAX_WINDOW_SCALE = 4  # the reference's ring holds its window at up to 32 frames a second (64 Hz: half its time)


def reference_window(config: AnalysisConfig, scale: float) -> int:
    """The reference's window in frames at ``scale``: its time at 8 frames a second, in whole blocks, at least
    two and at most the ring's MAX_WINDOW_SCALE windows."""
    blocks = round(config.reference_window * scale / K.BLOCKS)
    return K.BLOCKS * min(max(2, blocks), MAX_WINDOW_SCALE * config.reference_window // K.BLOCKS)


def timed_parameters(p: np.ndarray, config: AnalysisConfig, scale: float) -> None:
    """Set in ``p`` the parameters that keep their time at another frame rate: ``scale`` frames per frame at
    8 frames a second (frame_rate.FrameRate.scale: 0.5 at 4 Hz). A time constant is at least one frame."""
    if not (math.isfinite(scale) and scale > 0.0):
        raise ValueError(f"scale must be a positive number, got {scale}")
    p[K.P_ALPHA] = 1.0 / max(1.0, config.background_tau_frames * scale)
    p[K.P_ABSORB_ALPHA] = 1.0 / max(1.0, config.absorb_tau_frames * scale)
    p[K.P_REF_DRIFT_ALPHA] = 1.0 / max(1.0, config.reference_drift_tau_frames * scale)
    p[K.P_REF_HOLD] = round(config.reference_hold_frames * scale)
    p[K.P_REF_WINDOW] = reference_window(config, scale)
    p[K.P_BOOTSTRAP] = max(1, round(config.bootstrap_frames * scale))
    p[K.P_REF_ALPHA] = 1.0 / max(1.0, config.reference_tau_frames * scale)


def guard_mask(config: AnalysisConfig) -> np.ndarray:
    """uint8 (24, 32): the reference box grown by ``reference_guard_px``, its box ``GUARD_BOX`` and the ring
    around it ``GUARD_RING`` (the wall its reading is unmixed from); all zero without a reference."""
    guard = np.zeros((K.ROWS, K.COLUMNS), dtype=np.uint8)
    if config.reference_box is not None:
        r0, c0, r1, c1 = config.reference_box
        g = config.reference_guard_px
        guard[max(0, r0 - g):min(K.ROWS, r1 + g), max(0, c0 - g):min(K.COLUMNS, c1 + g)] = K.GUARD_RING
        guard[r0:r1, c0:c1] = K.GUARD_BOX
    return guard


def ref_ring_pixels(guard: np.ndarray) -> int:
    """The pixels of the guard around the reference's box (the wall it is unmixed from)."""
    return int((guard == K.GUARD_RING).sum())


class Analyzer:
    """Per gate: keeps the background model and the reference's recent readings."""

    def __init__(self, config: AnalysisConfig = AnalysisConfig()):
        self.config = config
        self._guard = guard_mask(config)
        self._p = kernel_parameters(config, guard=self._guard)
        self._tables = lens_tables(config.variant, float(config.face_width_m))
        box = config.reference_box
        nbox = (box[2] - box[0]) * (box[3] - box[1]) if box is not None else 0
        self._bg = np.zeros((K.ROWS, K.COLUMNS))
        self._busy = np.zeros((K.ROWS, K.COLUMNS), dtype=np.uint8)
        self._nbox = nbox
        # the box's pixels' running means, the readings' ring (up to its longest window), the ring of pixels
        # around the box's running means (analysis_kernels.reference_step)
        self._ref = np.zeros(nbox + MAX_WINDOW_SCALE * config.reference_window + ref_ring_pixels(self._guard))
        self._state = np.zeros(K.S_LENGTH)
        self._out = np.zeros(K.O_LENGTH)
        self._scale = 1.0
        self._wings = (LensWings(config.lens_wing_share, config.lens_wing_px, (K.ROWS, K.COLUMNS))
                       if config.lens_wing_share > 0.0 else None)
        self.reset()

    def reset(self) -> None:
        """Forget the background and the reference's history: the next frame starts over."""
        self._bg[:] = 0.0
        self._busy[:] = 0
        self._ref[:] = math.nan
        self._state[:] = 0.0

    def set_frame_scale(self, scale: float) -> None:
        """Follow the gate's frame rate: ``scale`` frames per frame at 8 frames a second (0.5 at 4 Hz;
        frame_rate.FrameRate.scale). The time constants that keep their time (AnalysisConfig's "Background
        model") are worked out again from the next frame on; the model and the reference's history are kept (a
        window that grows is ``pending`` until it holds its new length)."""
        if scale != self._scale:
            window = int(self._p[K.P_REF_WINDOW])
            timed_parameters(self._p, self.config, scale)
            self._scale = scale
            if int(self._p[K.P_REF_WINDOW]) != window:
                self._resize_ring(window, int(self._p[K.P_REF_WINDOW]))

    def _resize_ring(self, old: int, new: int) -> None:
        """Keep the latest readings of the reference's ring when its window changes from ``old`` to ``new``
        frames: the last ``min(count, new)`` of them, oldest first, at the ring's start."""
        state, ring = self._state, self._ref[self._nbox:]
        count, pos = min(int(state[K.S_RING_COUNT]), old), int(state[K.S_RING_POS])
        kept = [ring[(pos - count + i) % old] for i in range(count)][-new:]
        ring[:len(kept)] = kept
        state[K.S_RING_COUNT] = len(kept)
        state[K.S_RING_POS] = len(kept) % new

    @property
    def frame_scale(self) -> float:
        """The frames per frame at 8 frames a second that the time constants are worked out for."""
        return self._scale

    @property
    def frames(self) -> int:
        """Frames analysed since the start or the last reset."""
        return int(self._state[K.S_FRAMES])

    @property
    def background(self) -> np.ndarray:
        """A copy of the background model (degC, without this frame's common shift)."""
        return self._bg.copy()

    def analyze(self, image: np.ndarray) -> FrameAnalysis:
        """Analyse the gate's next full frame: (24, 32) float32/float64 degC.

        A pixel that is not a finite number is read as the background there."""
        if image.dtype != np.float64 or not image.flags.c_contiguous:
            image = np.ascontiguousarray(image, dtype=np.float64)
        if image.shape != (K.ROWS, K.COLUMNS):
            raise ValueError(f"image must be {K.ROWS} x {K.COLUMNS}, got {image.shape}")
        if self._wings is not None:
            image = self._wings.remove(image)
        K.analyze_frame(image, self._bg, self._busy, self._guard, self._ref, self._state, self._p, self._tables,
                        self._out)
        return frame_analysis(self._out.tolist())


# The reference's status by kernel code (analysis_kernels.REF_*), in the order the checks are made.
REFERENCE_STATUSES = ("none", "pending", "not_found", "too_small", "not_learned", "unstable", "drift", "ok", "held")
_REF_STATUS = {float(code): name for code, name in enumerate(REFERENCE_STATUSES)}
if [K.REF_NONE, K.REF_PENDING, K.REF_NOT_FOUND, K.REF_TOO_SMALL, K.REF_NOT_LEARNED, K.REF_UNSTABLE, K.REF_DRIFT,
        K.REF_OK, K.REF_HELD] != list(range(len(REFERENCE_STATUSES))):
    raise ImportError("the kernel's REF_* codes changed: update REFERENCE_STATUSES")

_FACE_BASES = tuple(K.O_FACES + 5 * slot for slot in range(K.MAX_FACES))
_new = object.__new__


def frame_analysis(o: list[float]) -> FrameAnalysis:
    """The :class:`FrameAnalysis` of an output vector (as a list) of :func:`analysis_kernels.analyze_frame`.

    Runs once per frame, so it fills the instance's fields directly: a frozen
    dataclass's ``__init__`` sets each of its fields through
    ``object.__setattr__``, which cost more than the rest of this function.
    The result is the same as ``FrameAnalysis(**fields)`` (tests/test_analysis_output.py)."""
    people = int(o[K.O_PEOPLE])
    found = people > 0
    distance = o[K.O_DISTANCE]
    a = _new(FrameAnalysis)
    a.__dict__.update({
        "ambient_c": o[K.O_AMBIENT],
        "people": people,
        "face_box": ((int(o[K.O_BOX]), int(o[K.O_BOX + 1]), int(o[K.O_BOX + 2]), int(o[K.O_BOX + 3]))
                     if found else None),
        "face_width_px": o[K.O_WIDTH] if found else 0.0,
        "distance_m": distance if found and distance == distance else None,
        "face_max_c": o[K.O_MAX],
        "face_topk_c": o[K.O_TOPK],
        "forehead_c": o[K.O_FOREHEAD],
        "touches_edge": o[K.O_EDGE] == 1.0,
        "glasses": o[K.O_GLASSES] == 1.0,
        "forehead_covered": o[K.O_COVERED] == 1.0,
        "hot_object": o[K.O_HOT] == 1.0,
        "reference_c": o[K.O_REF],
        "reference_ok": o[K.O_REF_OK] == 1.0,
        "offset_c": o[K.O_OFFSET],
        "faces": tuple([(int(o[b + 1]), int(o[b + 2]), int(o[b + 3]), int(o[b + 4]))
                        for b in _FACE_BASES[:people]]) if found else (),
        "face_pixels": int(o[K.O_FACE_PIXELS]) if found else 0,
        "skin_c": o[K.O_SKIN],
        "eye_row": o[K.O_EYE_ROW],
        "background_shift_c": o[K.O_SHIFT],
        "reference_excess_c": o[K.O_REF_STD],
        "nose_drop_c": o[K.O_NOSE],
        "nose_chilled": o[K.O_COLD_NOSE] == 1.0,
        "reference_status": _REF_STATUS.get(o[K.O_REF_STATUS], "none"),
        "reference_mean_c": o[K.O_REF_MEAN],
        "reference_background_c": o[K.O_REF_BACKGROUND],
        "reference_size_px": o[K.O_REF_SIZE],
        "reference_fraction": o[K.O_REF_FRACTION],
        "warm_pixels": int(o[K.O_WARM]) if o[K.O_WARM] > 0 else 0,
        "warm_box": ((int(o[K.O_WARM_BOX]), int(o[K.O_WARM_BOX + 1]), int(o[K.O_WARM_BOX + 2]),
                      int(o[K.O_WARM_BOX + 3])) if o[K.O_WARM] > 0 else None),
        "lower_face_c": o[K.O_LOWER],
        "face_in_view": o[K.O_IN_VIEW] if found else 0.0,
        "eye_line_low": o[K.O_EYE_LOW] == 1.0,
        "reference_allowed_c": o[K.O_REF_ALLOWED],
    })
    return a


# Every field is set, in the declared order (an added field must be added above too).
if [f.name for f in fields(FrameAnalysis)] != list(frame_analysis([0.0] * K.O_LENGTH).__dict__):
    raise ImportError("FrameAnalysis' fields changed: update frame_analysis")


def reference_across_px(size_px: float) -> float:
    """The diameter, in pixels, of a disc whose area is ``size_px`` pixels (the analysis's apparent size)."""
    return 2.0 * math.sqrt(max(size_px, 0.0) / math.pi) if math.isfinite(size_px) else math.nan


def reference_drift_c(a: FrameAnalysis, config: AnalysisConfig) -> float:
    """The sensor's drift since the reference's reading was learned, as this frame's reading says (unmixed from
    the wall's change when the wall around the disc was learned too; NaN when the reading was never learned)."""
    if config.reference_apparent_c is None:
        return math.nan
    learned_bg = math.nan if config.reference_background_c is None else config.reference_background_c
    return K.unmixed_drift(a.reference_mean_c, a.reference_background_c, config.reference_apparent_c, learned_bg,
                           config.reference_c)


def reference_problem(a: FrameAnalysis, config: AnalysisConfig) -> tuple[str, str]:
    """(BLOCKED reason, detail) for a frame whose reference is not ok: what is wrong, in words an installer
    can act on (its reading, apparent size and contrast against what it needs)."""
    from ..protocol import result as D

    status = a.reference_status
    if config.reference_box is None or status == "none":
        if config.reference_box is None:
            return D.REFERENCE_NOT_FOUND, "no reference box is configured ([screening.reference] box)"
        status = "not_found"
    reads = (f"reads {a.reference_mean_c:.1f} degC against {a.reference_background_c:.1f} around it "
             f"(set point {config.reference_c:.1f})" if math.isfinite(a.reference_mean_c) else "")
    if status == "not_found":
        return D.REFERENCE_NOT_FOUND, (f"nothing in the box {list(config.reference_box)} reads "
                                       f"{config.reference_min_contrast_c:g} degC above its surroundings"
                                       + (f": {reads}" if reads else ""))
    if status == "too_small":
        return D.REFERENCE_TOO_SMALL, (
            f"apparent size {reference_across_px(a.reference_size_px):.1f} px across ({a.reference_size_px:.1f} px "
            f"of full contrast), its reading reaches {a.reference_fraction:.0%} of its "
            f"set-point contrast (at least {config.reference_min_fraction:.0%} needed); {reads}: use a larger "
            f"disc or bring it nearer (docs/installation.md)")
    if status == "not_learned":
        return D.REFERENCE_NOT_LEARNED, (f"{reads}; its reading through this gate's optics was never learned: "
                                         f"run `thermogate calibrate reference GATE`")
    if status == "drift":
        learned = config.reference_apparent_c or 0.0
        drift = reference_drift_c(a, config)
        learned_bg = config.reference_background_c
        against = "" if learned_bg is None else f" against {learned_bg:.1f} around it"
        return D.REFERENCE_DRIFT, (f"{reads}: the sensor has drifted {drift:+.2f} degC since its reading "
                                   f"{learned:.2f}{against} was learned (at most {config.reference_drift_c:g}): "
                                   f"check the reference, then learn it again")
    excess = f"varies by {a.reference_excess_c:.2f} degC" if math.isfinite(a.reference_excess_c) else "not settled"
    allowed = a.reference_allowed_c if math.isfinite(a.reference_allowed_c) else config.reference_stable_c
    return D.REFERENCE_UNSTABLE, (f"{reads}; {excess} beyond its pixels' noise (at most {allowed:.2f} at this "
                                  f"noise)")
