"""A gate's screening settings, and the ``[screening]`` table of the controller's TOML config.

```toml
[screening]
threshold_c = 37.3          # fever at or above, 34.0..39.0 in 0.1 steps
site_offset_c = 0.0         # fitted by `thermogate calibrate`
variant = "55"              # lens: "55" or "110"
require_reference = true    # false: decide without one, flagged as reduced accuracy
stable_frames = 5           # frames whose median makes a decision (at 8 Hz: a slower gate keeps their 0.5 s)
warmup_s = 3.0
min_face_width_px = 4.0     # narrower faces are asked to come closer (controller.geometry.MIN_FACE_PIXELS)
second_face_s = 1.0         # after a second face was seen, one at a time for this long
drift_window = 20           # the drift check: running mean of this many passes (0: off) ...
drift_expected_c = 36.8     # ... against this, alert beyond drift_tolerance_c
drift_tolerance_c = 0.5
optics = true               # the eye-band (optics) term in the estimate (controller/screening/optics.py)
eye_band = "canthus_region" # the eye band read with the canthus region average's relation, or "canthus"
sensor_height_m = 1.30      # the mounting (`thermogate gate add/set` stores it per gate): lens above the floor,
tilt_deg = 0.0              # + up / - down,
mark_distance_m = 0.9       # floor distance to the face of someone on the mark (default: 0.90 m for the 55,
                            # 0.45 for the 110)
mark_tolerance = 0.35       # at the mark: floor distance within this share of mark_distance_m ...
lateral_tolerance_m = 0.25  # ... and no further to the side than this
min_estimate_c = 35.5       # a lower estimate is never a PASS: "wait indoors" (below every oral reading of 1,083
                            # volunteers)
mask_ratio = 0.75           # the mask cue `thermogate watch` shows: the lower face reads less of the way from
                            # the room to the eye band
lens_wing_share = 0.0       # the lens's wings, where its point spread function was measured with them: the
lens_wing_px = 2.0          # share of a point's energy spread wide, and how wide (a Gaussian's sigma, pixels)
lens_core_px = 0.52         # the lens's core blur it measured (a Gaussian's sigma): the faces are read with it,
                            # not with the reference's blur_px
lens_offset_c = -0.31       # the sensor's own offset `thermogate calibrate lens` read on the disc near the gate
                            # (taken off as the reference's sensor_offset_c is, where that table has none;
                            # with no reference in view too)
lens_view_c = 21.52         # (written with it: the view's median pixel then, which calibrate reference reads
                            # again to tell the sensor's drift since, within 30 minutes of ...
lens_measured_at = "2026-12-06T09:12:40+00:00"  # ... when the lens was measured)
pixel_offsets_c = [[0.04, -0.11, ...], ...]  # the sensor's fixed per-pixel offsets, 24 rows of 32 degC, taken off
                            # every image (`thermogate calibrate flat` measures and writes them)

[screening.reference]
box = [3, 3, 7, 7]          # rows r0..r1, columns c0..c1 (exclusive) where the heated reference sits
temp_c = 35.0               # its set point
apparent_c = 34.62          # its reading through this gate's optics, learned by `thermogate calibrate reference`
apparent_sd_c = 0.04        # (written with it: how much that reading varied while it was learned)
background_c = 21.3         # (written with it: the wall around the disc then, to tell the sensor's drift from
                            # the room's change in a small disc's reading)
pixels = 6                  # the box pixels most on the disc that make its reading (calibrate reference sets it)
drift_c = 1.5               # the sensor drifted more than this since it was learned: BLOCKED reference_drift
min_fraction = 0.25         # reaching less of its set-point contrast: BLOCKED reference_too_small
blur_px = 0.55              # the lens blur measured on the disc (calibrate reference sets it; absent: the
                            # lens's core where it was measured, else 0.4)
emissivity = 0.97           # the disc's coating, from its data sheet (absent: 1.0, a blackbody)
sensor_offset_c = 0.42      # the sensor's own offset read off the disc (calibrate reference sets it)
lens_drift_c = 0.08         # the sensor's drift since the lens was measured, where the disc tells no offset
                            # (calibrate reference sets it; added to lens_offset_c)
apply_sensor_offset = true  # take it off the face readings (the default; false: leave them as read)
```

Each key has one default, kind and range (:data:`FIELDS`, :data:`LENS`, :data:`WING_FIELDS`, :data:`LENS_OFFSET`,
:data:`LENS_VIEW`, :data:`LENS_CORE`, :data:`LENS_MEASURED_AT`, :data:`PIXEL_OFFSETS`, :data:`REFERENCE_FIELDS`, read by
``controller.config_fields.Field``);
any problem is one ``ConfigError`` naming the key.

A ``[screening.reference]`` table without ``apparent_c`` means the reading
was never learned: with ``require_reference`` every screening is BLOCKED
``reference_not_learned``. The offset the reference gives is always
``apparent_c`` minus its current reading, never the set point minus it.
Without any ``[screening.reference]`` table the built-in defaults apply: they
describe the simulator's own reference (the box and set point above, learned
reading 35.0), and only a gate of ``[site] simulated_gates`` gets that
learned reading; any other gate is not learned until it is calibrated.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from controller.config_fields import ConfigError, Field
from controller.geometry import MIN_FACE_PIXELS, Lens
from controller.sensor.frame import COLUMNS, ROWS

from .analysis import AnalysisConfig
from .flat_field import MAX_OFFSET_C, valid_offsets
from .lens_wings import MAX_WING_SHARE, WING_PX

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["FIELDS", "LENS", "REFERENCE_FIELDS", "ConfigError", "ScreeningConfig", "from_table", "load"]


def _tenth(value: float) -> bool:
    return abs(value * 10 - round(value * 10)) <= 1e-6


def _near_far(value) -> bool:
    return (len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and 0.1 <= value[0] < value[1] <= 3.0)


# Every key of [screening] that is a ScreeningConfig field: its one default, kind and range. A float's range also
# refuses NaN and infinity (TOML has both; every comparison with NaN is false, so nobody would ever be decided).
FIELDS: tuple[Field, ...] = (
    Field("threshold_c", float, 37.3, 34.0, 39.0, "degC", check=_tenth, hint="must be in 0.1 steps"),  # fever at/above
    Field("site_offset_c", float, 0.0, -3.0, 3.0, "degC"),  # fitted by `thermogate calibrate`
    Field("stable_frames", int, 5, 2, 32),  # consecutive valid frames whose median is the decision
    Field("max_spread_c", float, 0.3, 0.01, 5.0, "degC"),  # their readings may differ by at most this much
    Field("max_shift_px", float, 1.5, 0.1, 32.0, "pixels"),  # the face may move at most this much between frames
    Field("distance_m", (list, tuple), (0.25, 1.3), check=_near_far,  # where a reading is valid
          hint="must be [near, far] in metres, 0.1 <= near < far <= 3.0"),
    # a narrower face is too far for the canthus to fill a pixel
    Field("min_face_width_px", float, MIN_FACE_PIXELS, 1.0, 16.0, "pixels"),
    # a second face seen this recently may be hidden behind or merged with the first
    Field("second_face_s", float, 1.0, 0.0, 60.0, "s"),
    Field("notice_repeat_s", float, 3.0, 0.0, 600.0, "s"),  # the same RETRY/BLOCKED for one person not sooner
    Field("drift_window", int, 20, 0, 1000),  # passes averaged by the drift check (0: no drift check)
    Field("drift_expected_c", float, 36.8, 30.0, 42.0, "degC"),  # what the afebrile people passing the gate average
    # the running mean of passes further than this from expected raises an alert
    Field("drift_tolerance_c", float, 0.5, 0.01, 5.0, "degC"),
    Field("min_face_c", float, 30.0, 10.0, 40.0, "degC"),  # a colder face reading means "wait indoors"
    Field("retry_after_s", float, 2.5, 0.0, 600.0, "s"),  # someone not measurable for this long gets a RETRY ...
    Field("retry_still_s", float, 1.0, 0.0, 600.0, "s"),  # ... and so does someone standing still this long
    Field("leave_gap_s", float, 0.6, 0.0, 60.0, "s"),  # a face gone this long means the person left
    Field("warmup_s", float, 3.0, 0.0, 3600.0, "s"),  # after the first frame, nobody is screened
    # after the first frame, a reference not yet found stable is still warming up
    Field("reference_settle_s", float, 10.0, 0.0, 3600.0, "s"),
    Field("require_reference", bool, True),  # false: decide without one, flagged as reduced accuracy
    Field("optics", bool, True),  # weight the reading by the eye band's share of the hottest pixels (optics.py)
    # the eye band's relation to the body (body_model.json): "canthus_region", the inner-canthus regions'
    # average's (what a pixel can hold; the default), or "canthus", the canthus maximum's (docs/estimation.md,
    # "The canthus region")
    Field("eye_band", str, "canthus_region", check=lambda v: v in ("canthus", "canthus_region"),
          hint="must be canthus or canthus_region"),
    # The mounting (gates.toml through `thermogate gate add/set`, or here): where people are meant to stand.
    Field("sensor_height_m", float, 1.30, 0.5, 3.0, "m"),  # the lens above the floor
    Field("tilt_deg", float, 0.0, -45.0, 45.0, "degrees"),  # + looks up, - down
    # floor distance to the face on the mark; None: the lens's (Lens.mark_distance_m)
    Field("mark_distance_m", float, None, 0.2, 2.0, "m"),
    # at the mark: the face's floor distance within this share of the mark's ...
    Field("mark_tolerance", float, 0.35, 0.05, 1.0),
    Field("lateral_tolerance_m", float, 0.25, 0.05, 2.0, "m"),  # ... and at most this far to the side of the axis
    # standing: the face's width over the decision's frames varies by at most this share
    Field("size_tolerance", float, 0.06, 0.01, 0.5),
    # a face wider or narrower than the previous frame's by more than this share moves
    Field("grow_per_frame", float, 0.04, 0.005, 0.5),
    # physiological floor: a lower estimate is a face too cold to read, never a PASS
    Field("min_estimate_c", float, 35.5, 30.0, 36.5, "degC"),
    # The mask cue `thermogate watch` shows: FrameAnalysis.lower_face_ratio below this (bare skin reads about
    # 0.8-0.9 of the way from the room to the eye band, a mask less). The estimate needs no cue: it reads the
    # face below the band, mask or skin, for what it is (optics.face_mix).
    Field("mask_ratio", float, 0.75, 0.0, 1.0),
)
_BY_KEY = {f.key: f for f in FIELDS}
# The lens, which goes into the analysis settings: "55" or "110".
LENS = Field("variant", str, Lens.NARROW.value, check=lambda v: v in Lens.choices(), hint=f"must be {Lens.spellings()}")
# The lens's wings, when its point spread function was measured with them (lens_wings.py): the share of every
# point's energy they carry and their Gaussian's width; into the analysis settings as lens_wing_share, lens_wing_px.
WING_FIELDS = (Field("lens_wing_share", float, 0.0, 0.0, MAX_WING_SHARE),
               Field("lens_wing_px", float, 2.0, *WING_PX, "px"))
_WING_BY_KEY = {f.key: f for f in WING_FIELDS}
# The sensor's own offset as `thermogate calibrate lens` read it on the disc stood near the gate: taken off the face
# readings as the reference's sensor_offset_c is (apply_sensor_offset), where the reference's table gives none, and
# on a gate with no reference at all.
LENS_OFFSET = Field("lens_offset_c", float, None, -10.0, 10.0, "degC")
# ... and the view's median pixel it was read in, which `thermogate calibrate reference` reads again: what that moved
# by is the sensor's drift since ([screening.reference] lens_drift_c), added to lens_offset_c.
LENS_VIEW = Field("lens_view_c", float, None, -40.0, 80.0, "degC")
# ... and the lens's core blur it measured (AnalysisConfig.lens_core_px): the faces are read with it, whatever the
# disc's blur (AnalysisConfig.face_blur_px).
LENS_CORE = Field("lens_core_px", float, None, 0.0, 3.0, "px")


def _zoned_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


# The sensor's fixed per-pixel offsets `thermogate calibrate flat` measured on a flat field (flat_field.py): 24 rows
# of 32, taken off every image (AnalysisConfig.pixel_offsets_c).
PIXEL_OFFSETS = Field("pixel_offsets_c", list, None, check=valid_offsets,
                      hint=f"must be {ROWS} rows of {COLUMNS} numbers within {MAX_OFFSET_C:g} degC, as "
                           f"`thermogate calibrate flat` writes them")


# ... and when: the drift is read only for a reference learned soon after (reference_source.MAX_LENS_AGE_S).
LENS_MEASURED_AT = Field("lens_measured_at", str, None, check=_zoned_time,
                         hint="must be an ISO 8601 time with its zone, as `thermogate calibrate lens` writes it")


def _default(key: str):
    return _BY_KEY[key].default


@dataclass(frozen=True)
class ScreeningConfig:
    """A gate's screening settings; every field but ``analysis`` is a key of [screening] (:data:`FIELDS`: its
    default, kind and range, and what it means)."""

    threshold_c: float = _default("threshold_c")
    site_offset_c: float = _default("site_offset_c")
    stable_frames: int = _default("stable_frames")
    max_spread_c: float = _default("max_spread_c")
    max_shift_px: float = _default("max_shift_px")
    distance_m: tuple[float, float] = _default("distance_m")
    min_face_width_px: float = _default("min_face_width_px")
    second_face_s: float = _default("second_face_s")
    notice_repeat_s: float = _default("notice_repeat_s")
    drift_window: int = _default("drift_window")
    drift_expected_c: float = _default("drift_expected_c")
    drift_tolerance_c: float = _default("drift_tolerance_c")
    min_face_c: float = _default("min_face_c")
    retry_after_s: float = _default("retry_after_s")
    retry_still_s: float = _default("retry_still_s")
    leave_gap_s: float = _default("leave_gap_s")
    warmup_s: float = _default("warmup_s")
    reference_settle_s: float = _default("reference_settle_s")
    require_reference: bool = _default("require_reference")
    optics: bool = _default("optics")
    eye_band: str = _default("eye_band")
    sensor_height_m: float = _default("sensor_height_m")
    tilt_deg: float = _default("tilt_deg")
    mark_distance_m: float | None = _default("mark_distance_m")
    mark_tolerance: float = _default("mark_tolerance")
    lateral_tolerance_m: float = _default("lateral_tolerance_m")
    size_tolerance: float = _default("size_tolerance")
    grow_per_frame: float = _default("grow_per_frame")
    min_estimate_c: float = _default("min_estimate_c")
    mask_ratio: float = _default("mask_ratio")
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def __post_init__(self):
        # The same checks as the [screening] table's, for settings made in code (replace(), tests); numbers of
        # any Python or numpy type are taken as the field's own kind.
        for f in FIELDS:
            value = getattr(self, f.key)
            if value is None and f.default is None:
                continue
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                value = int(value) if f.kind is int and isinstance(value, numbers.Integral) else \
                    float(value) if f.kind is float else value
            value = f.read({f.key: value}, "screening")
            if f.key == "distance_m":
                value = (float(value[0]), float(value[1]))
            object.__setattr__(self, f.key, value)

    @property
    def mark_m(self) -> float:
        """The mark's floor distance: the configured one, else the recommended one for the lens."""
        if self.mark_distance_m is not None:
            return self.mark_distance_m
        return self.analysis.variant.mark_distance_m

    @property
    def mark_band_m(self) -> tuple[float, float]:
        """The floor distances that count as standing on the mark."""
        m = self.mark_m
        return m * (1.0 - self.mark_tolerance), m * (1.0 + self.mark_tolerance)


def from_table(table: dict, simulated: bool = True) -> ScreeningConfig:
    """A ScreeningConfig from the ``[screening]`` table; ConfigError names any bad key.

    Without a ``reference`` table the built-in reference applies, which describes the simulator's own disc,
    learned reading included; for a gate that is not ``simulated`` that reading is not learned."""
    if not isinstance(table, dict):
        raise ConfigError("[screening] must be a table")
    values: dict = {}
    analysis: dict = {}
    for key in table:
        if key in _BY_KEY:
            values[key] = _BY_KEY[key].read(table, "screening")
        elif key == LENS.key:
            if not isinstance(table[key], str):  # variant = 55: say how to spell it rather than "must be str"
                raise ConfigError(f"screening.variant must be {Lens.spellings()} (quoted), got {table[key]!r}")
            analysis["variant"] = Lens(LENS.read(table, "screening"))
        elif key in _WING_BY_KEY:
            analysis[key] = _WING_BY_KEY[key].read(table, "screening")
        elif key == LENS_OFFSET.key:
            given = table.get("reference")
            lens = LENS_OFFSET.read(table, "screening")
            reference = given if isinstance(given, dict) else {}
            offset = lens_offset_with_drift(lens, reference)
            if offset is not None:
                analysis["sensor_offset_c"] = offset
                analysis["lens_drift_c"] = lens_drift(reference)
        elif key == LENS_VIEW.key:
            analysis["lens_view_c"] = LENS_VIEW.read(table, "screening")
        elif key == LENS_CORE.key:
            analysis["lens_core_px"] = LENS_CORE.read(table, "screening")
        elif key == PIXEL_OFFSETS.key:  # checked here: the message would otherwise repeat its 768 numbers
            if not valid_offsets(table[key]):
                raise ConfigError(f"screening.pixel_offsets_c {PIXEL_OFFSETS.hint}")
            analysis["pixel_offsets_c"] = table[key]
        elif key == LENS_MEASURED_AT.key:
            analysis["lens_measured_at"] = LENS_MEASURED_AT.read(table, "screening")
        elif key == "reference":
            analysis.update(_reference(table[key]))
        else:
            raise ConfigError(f"unknown key screening.{key}")
    if not simulated and "reference" not in table:
        analysis["reference_apparent_c"] = None  # a real gate's reference is learned through its own optics
    return ScreeningConfig(analysis=replace(AnalysisConfig(), **analysis), **values)


def _box(value) -> bool:
    return value is False or (isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)
                              and 0 <= value[0] < value[2] <= ROWS and 0 <= value[1] < value[3] <= COLUMNS)


_ANALYSIS = AnalysisConfig()
# [screening.reference]: each key's field (default, kind, range) and the AnalysisConfig setting it makes (None:
# written by `thermogate calibrate reference` beside the reading, read by nothing).
REFERENCE_FIELDS: tuple[tuple[Field, str | None], ...] = (
    (Field("box", (list, bool), _ANALYSIS.reference_box, check=_box,  # rows r0..r1, columns c0..c1 (exclusive)
           hint=f"must be [r0, c0, r1, c1] inside {ROWS} x {COLUMNS}, or false"), "reference_box"),
    (Field("temp_c", float, _ANALYSIS.reference_c, 25.0, 45.0, "degC"), "reference_c"),  # its set point
    # its reading through this gate's optics, learned by `thermogate calibrate reference`; absent: not learned
    (Field("apparent_c", float, None, 0.0, 60.0, "degC"), "reference_apparent_c"),
    (Field("apparent_sd_c", float, None, 0.0, 5.0, "degC"), None),  # how much that reading varied while learned
    # the background around the disc when its reading was learned; absent: the reading's change is the drift
    (Field("background_c", float, None, -40.0, 80.0, "degC"), "reference_background_c"),
    (Field("pixels", int, _ANALYSIS.reference_pixels, 1, 16), "reference_pixels"),  # the box pixels most on the disc
    # the sensor drifted more than this since the reading was learned: BLOCKED reference_drift
    (Field("drift_c", float, _ANALYSIS.reference_drift_c, 0.05, 10.0, "degC"), "reference_drift_c"),
    # reaching less of its set-point contrast: BLOCKED reference_too_small
    (Field("min_fraction", float, _ANALYSIS.reference_min_fraction, 0.05, 1.0), "reference_min_fraction"),
    # the lens blur measured on the disc by `thermogate calibrate reference`; absent: the nominal 0.4 pixel
    (Field("blur_px", float, None, 0.0, 3.0, "px"), "lens_blur_px"),
    # the coating's emissivity from the disc's data sheet (1.0: a blackbody)
    (Field("emissivity", float, _ANALYSIS.reference_emissivity, 0.5, 1.0), "reference_emissivity"),
    # the sensor's own offset read off the disc by `thermogate calibrate reference`; absent: 0
    (Field("sensor_offset_c", float, _ANALYSIS.sensor_offset_c, -10.0, 10.0, "degC"), "sensor_offset_c"),
    # take sensor_offset_c off the face readings (on by default: docs/estimation.md, "The sensor's own offset")
    (Field("apply_sensor_offset", bool, _ANALYSIS.apply_sensor_offset), "apply_sensor_offset"),
    # the sensor's drift since the lens was measured (the view's median pixel against [screening] lens_view_c),
    # written by `thermogate calibrate reference`; added to [screening] lens_offset_c where this table has no
    # sensor_offset_c (from_table)
    (Field("lens_drift_c", float, None, -1.0, 1.0, "degC"), None),
)
_REFERENCE_BY_KEY = {f.key: (f, target) for f, target in REFERENCE_FIELDS}


def lens_drift(reference: dict) -> float | None:
    """The sensor's drift since the lens was measured that a gate adds to ``[screening] lens_offset_c``, given its
    ``[screening.reference]`` table: its ``lens_drift_c``; None where none is written, or where the table has the
    disc's own ``sensor_offset_c``, which comes first."""
    if "sensor_offset_c" in reference or "lens_drift_c" not in reference:
        return None
    return _REFERENCE_BY_KEY["lens_drift_c"][0].read(reference, "screening.reference")


def lens_offset_with_drift(lens_offset_c: float, reference: dict) -> float | None:
    """The offset a gate takes off from its lens measurement (``[screening] lens_offset_c``) given its
    ``[screening.reference]`` table: None where that table has the disc's own ``sensor_offset_c``, which comes
    first; else the lens's, with the sensor's drift since it was read (:func:`lens_drift`, where written)."""
    if "sensor_offset_c" in reference:
        return None
    drift = lens_drift(reference)
    return lens_offset_c if drift is None else lens_offset_c + drift


def _reference(table) -> dict:
    if not isinstance(table, dict):
        raise ConfigError("[screening.reference] must be a table")
    out: dict = {"reference_apparent_c": None}  # a reference the installer describes is not learned until it says so
    for key in table:
        if key not in _REFERENCE_BY_KEY:
            raise ConfigError(f"unknown key screening.reference.{key}")
        f, target = _REFERENCE_BY_KEY[key]
        value = f.read(table, "screening.reference")
        if target == "reference_box":
            value = None if value is False else tuple(value)
        if target is not None:
            out[target] = value
    return out


def load(path: str | Path) -> ScreeningConfig:
    """The ``[screening]`` table of a TOML file (defaults where it is absent)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return from_table(data.get("screening", {}))
