"""A gate's screening settings, and the ``[screening]`` table of the controller's TOML config.

```toml
[screening]
threshold_c = 37.3          # fever at or above, 34.0..39.0 in 0.1 steps
site_offset_c = 0.0         # fitted by `thermogate calibrate`
variant = "55"              # lens: "55" or "110"
require_reference = true    # false: decide without one, flagged as reduced accuracy
stable_frames = 5           # frames whose median makes a decision
warmup_s = 3.0
min_face_width_px = 4.0     # narrower faces are asked to come closer (controller.geometry.MIN_FACE_PIXELS)
second_face_s = 1.0         # after a second face was seen, one at a time for this long
drift_window = 20           # the drift check: running mean of this many passes (0: off) ...
drift_expected_c = 36.8     # ... against this, alert beyond drift_tolerance_c
drift_tolerance_c = 0.5
optics = true               # the eye-band (optics) term in the estimate (controller/screening/optics.py)
sensor_height_m = 1.30      # the mounting (`thermogate gate add/set` stores it per gate): lens above the floor,
tilt_deg = 0.0              # + up / - down,
mark_distance_m = 0.9       # floor distance to the face of someone on the mark (default: 0.90 m for the 55, 0.45 for the 110)
mark_tolerance = 0.35       # at the mark: floor distance within this share of mark_distance_m ...
lateral_tolerance_m = 0.25  # ... and no further to the side than this
min_estimate_c = 35.5       # a lower estimate is never a PASS: "wait indoors" (below every oral reading of 1,083 volunteers)

[screening.reference]
box = [3, 3, 7, 7]          # rows r0..r1, columns c0..c1 (exclusive) where the heated reference sits
temp_c = 35.0               # its set point
apparent_c = 34.62          # its reading through this gate's optics, learned by `thermogate calibrate reference`
apparent_sd_c = 0.04        # (written with it: how much that reading varied while it was learned)
pixels = 6                  # the box pixels most on the disc that make its reading (calibrate reference sets it)
drift_c = 1.5               # reading further than this from apparent_c: BLOCKED reference_drift
min_fraction = 0.8          # reaching less of its set-point contrast: BLOCKED reference_too_small
```

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

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from controller.geometry import MIN_FACE_PIXELS, Lens

from .analysis import AnalysisConfig

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ScreeningConfig:
    threshold_c: float = 37.3
    site_offset_c: float = 0.0
    stable_frames: int = 5  # consecutive valid frames whose median is the decision
    max_spread_c: float = 0.3  # their readings may differ by at most this much
    max_shift_px: float = 1.5  # the face may move at most this much between frames
    distance_m: tuple[float, float] = (0.25, 1.3)  # where a reading is valid
    min_face_width_px: float = MIN_FACE_PIXELS  # a narrower face is too far for the canthus to fill a pixel
    second_face_s: float = 1.0  # a second face seen this recently may be hidden behind or merged with the first
    notice_repeat_s: float = 3.0  # the same RETRY/BLOCKED for the same person is not repeated sooner
    drift_window: int = 20  # passes averaged by the drift check (0: no drift check)
    drift_expected_c: float = 36.8  # what the afebrile people passing the gate average
    drift_tolerance_c: float = 0.5  # the running mean of passes further than this from expected raises an alert
    min_face_c: float = 30.0  # a colder face reading means "wait indoors"
    retry_after_s: float = 2.5  # someone not measurable for this long gets a RETRY ...
    retry_still_s: float = 1.0  # ... and so does someone standing still this long
    leave_gap_s: float = 0.6  # a face gone this long means the person left
    warmup_s: float = 3.0  # after the first frame, nobody is screened
    reference_settle_s: float = 10.0  # after the first frame, a reference not yet found stable is still warming up
    require_reference: bool = True
    optics: bool = True  # weight the reading by the eye band's share of the hottest pixels (screening.optics)
    # The mounting (gates.toml through `thermogate gate add/set`, or here): where people are meant to stand.
    sensor_height_m: float = 1.30  # the lens above the floor
    tilt_deg: float = 0.0  # + looks up, - down
    mark_distance_m: float | None = None  # floor distance to the face on the mark; None: Lens.mark_distance_m
    mark_tolerance: float = 0.35  # at the mark: the face's floor distance within this share of the mark's ...
    lateral_tolerance_m: float = 0.25  # ... and at most this far to the side of the sensor's axis
    size_tolerance: float = 0.06  # standing: the face's width over the decision's frames varies by at most this share
    grow_per_frame: float = 0.04  # a face wider or narrower than the previous frame's by more than this share moves
    min_estimate_c: float = 35.5  # physiological floor: a lower estimate is a face too cold to read, never a PASS
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def __post_init__(self):
        if not 34.0 <= self.threshold_c <= 39.0 or abs(self.threshold_c * 10 - round(self.threshold_c * 10)) > 1e-6:
            raise ConfigError(f"screening.threshold_c {self.threshold_c}: must be 34.0..39.0 in 0.1 steps")
        if not math.isfinite(self.site_offset_c) or abs(self.site_offset_c) > 3.0:
            raise ConfigError(f"screening.site_offset_c {self.site_offset_c}: must be within +-3.0 degC")
        if not 2 <= self.stable_frames <= 32:
            raise ConfigError(f"screening.stable_frames {self.stable_frames}: must be 2..32")
        if not 1.0 <= self.min_face_width_px <= 16.0:
            raise ConfigError(f"screening.min_face_width_px {self.min_face_width_px}: must be 1..16")
        if not 0 <= self.drift_window <= 1000:
            raise ConfigError(f"screening.drift_window {self.drift_window}: must be 0..1000")
        lo, hi = self.distance_m
        if not 0.1 <= lo < hi <= 3.0:
            raise ConfigError(f"screening.distance_m {self.distance_m}: need 0.1 <= near < far <= 3.0")
        for key, low, high in (("sensor_height_m", 0.5, 3.0), ("tilt_deg", -45.0, 45.0),
                               ("mark_tolerance", 0.05, 1.0), ("lateral_tolerance_m", 0.05, 2.0),
                               ("size_tolerance", 0.01, 0.5), ("grow_per_frame", 0.005, 0.5),
                               ("min_estimate_c", 30.0, 36.5)):
            value = getattr(self, key)
            if not low <= value <= high:
                raise ConfigError(f"screening.{key} {value}: must be {low:g}..{high:g}")
        if self.mark_distance_m is not None and not 0.2 <= self.mark_distance_m <= 2.0:
            raise ConfigError(f"screening.mark_distance_m {self.mark_distance_m}: must be 0.2..2.0")

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


_KEYS = {"threshold_c": float, "site_offset_c": float, "stable_frames": int, "max_spread_c": float,
         "max_shift_px": float, "min_face_c": float, "retry_after_s": float, "retry_still_s": float,
         "leave_gap_s": float, "warmup_s": float, "reference_settle_s": float, "require_reference": bool,
         "optics": bool, "min_face_width_px": float, "second_face_s": float, "notice_repeat_s": float,
         "drift_window": int, "drift_expected_c": float, "drift_tolerance_c": float,
         "sensor_height_m": float, "tilt_deg": float, "mark_distance_m": float, "mark_tolerance": float,
         "lateral_tolerance_m": float, "size_tolerance": float, "grow_per_frame": float, "min_estimate_c": float}


def from_table(table: dict, simulated: bool = True) -> ScreeningConfig:
    """A ScreeningConfig from the ``[screening]`` table; ConfigError names any bad key.

    Without a ``reference`` table the built-in reference applies, which describes the simulator's own disc,
    learned reading included; for a gate that is not ``simulated`` that reading is not learned."""
    if not isinstance(table, dict):
        raise ConfigError("[screening] must be a table")
    values: dict = {}
    analysis: dict = {}
    for key, value in table.items():
        if key in _KEYS:
            kind = _KEYS[key]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not kind:
                raise ConfigError(f"screening.{key} must be {kind.__name__}, got {value!r}")
            if kind is float and not math.isfinite(value):  # TOML has nan and inf; every comparison with nan is false
                raise ConfigError(f"screening.{key} must be a finite number, got {value!r}")
            values[key] = value
        elif key == "distance_m":
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
                raise ConfigError("screening.distance_m must be [near, far] in metres")
            values[key] = (float(value[0]), float(value[1]))
        elif key == "variant":
            if not isinstance(value, str) or value not in Lens.choices():
                raise ConfigError(f"screening.variant must be {Lens.spellings()}, got {value!r}")
            analysis["variant"] = Lens(value)
        elif key == "reference":
            analysis.update(_reference(value))
        else:
            raise ConfigError(f"unknown key screening.{key}")
    if not simulated and "reference" not in table:
        analysis["reference_apparent_c"] = None  # a real gate's reference is learned through its own optics
    return ScreeningConfig(analysis=replace(AnalysisConfig(), **analysis), **values)


# [screening.reference] numbers: key -> (AnalysisConfig field, lowest, highest); NaN fails every range.
_REFERENCE_FLOATS = {"apparent_c": ("reference_apparent_c", 0.0, 60.0), "drift_c": ("reference_drift_c", 0.05, 10.0),
                     "min_fraction": ("reference_min_fraction", 0.05, 1.0)}


def _reference(table) -> dict:
    if not isinstance(table, dict):
        raise ConfigError("[screening.reference] must be a table")
    out: dict = {"reference_apparent_c": None}  # a reference the installer describes is not learned until it says so
    for key, value in table.items():
        if key in _REFERENCE_FLOATS:
            name, lo, hi = _REFERENCE_FLOATS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ConfigError(f"screening.reference.{key} must be a number in {lo:g}..{hi:g}, got {value!r}")
            out[name] = float(value)
        elif key == "apparent_sd_c":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 5.0:
                raise ConfigError(f"screening.reference.apparent_sd_c must be a number in 0..5, got {value!r}")
        elif key == "pixels":
            if type(value) is not int or not 1 <= value <= 16:
                raise ConfigError(f"screening.reference.pixels must be an integer 1..16, got {value!r}")
            out["reference_pixels"] = value
        elif key == "box":
            if value is False or value is None:
                out["reference_box"] = None
                continue
            if not (isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)
                    and 0 <= value[0] < value[2] <= 24 and 0 <= value[1] < value[3] <= 32):
                raise ConfigError("screening.reference.box must be [r0, c0, r1, c1] inside 24 x 32")
            out["reference_box"] = tuple(value)
        elif key == "temp_c":
            if not isinstance(value, (int, float)) or not 25.0 <= value <= 45.0:
                raise ConfigError("screening.reference.temp_c must be 25..45 degC")
            out["reference_c"] = float(value)
        else:
            raise ConfigError(f"unknown key screening.reference.{key}")
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
