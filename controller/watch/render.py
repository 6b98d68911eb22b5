"""The watch's drawing: pure functions of a :class:`~controller.watch.state.WatchView` (data in, lines out).

- colours: the console's ironbow map in truecolor or the 256-colour palette, or ASCII shading
  (:func:`color_mode` picks one for ``--colors``)
- :func:`render_image` and :func:`render_scale`: the 24 x 32 image with the boxes over it, and its scale
- :func:`render_panel` and :func:`render_view`: the text around it, and the whole view
- :class:`Terminal`: where views go, redrawn in place on a terminal
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TextIO

import numpy as np

from ..protocol.topics import topic
from ..screening.analysis import (
    BLUR_DISAGREE_PX,
    AnalysisConfig,
    FrameAnalysis,
    reference_across_px,
    reference_drift_c,
)
from ..screening.config import ScreeningConfig
from ..screening.frame_rate import SLOWEST_SCREENING_HZ, too_slow_to_screen
from ..screening.optics import LENS_PSF_SIGMA_PX
from ..screening.tracker import HELD_DISAGREE, HELD_FILLING, HELD_SETTLING, face_place
from ..sensor.frame import COLUMNS, ROWS
from ..sensor.noise import NOISY_NETD_1HZ_C, describe_noise, too_noisy_to_screen
from .state import ShownDecision, WatchView

MIN_SPAN_C = 4.0  # the automatic colour range is at least this wide, as in the console (noise stays dark)
VIEW_WIDTH = 2 * COLUMNS  # characters of the image; the panel's lines stay near this too

TRUECOLOR, PALETTE_256, NO_COLOR = "truecolor", "256", "none"
MODES = (TRUECOLOR, PALETTE_256, NO_COLOR)

# The console's ironbow-style map (controller/console/static/app.js), so both show the same colours:
# black, indigo, purple, red, orange, yellow, near white.
STOPS = ((0.0, 0, 0, 0), (0.12, 28, 0, 88), (0.30, 118, 0, 150), (0.45, 188, 20, 122),
         (0.60, 230, 70, 40), (0.75, 250, 140, 0), (0.90, 255, 212, 40), (1.0, 255, 255, 230))
NO_READING_RGB = (90, 90, 90)
SHADES = " .:;=ox%#@"  # ASCII shading, coolest to hottest: none of the outlines' characters (+ - | * ~ !)

RESET = "\x1b[0m"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
HOME, CLEAR_SCREEN, CLEAR_EOL, CLEAR_BELOW = "\x1b[H", "\x1b[2J", "\x1b[K", "\x1b[J"


def _ironbow_lut() -> np.ndarray:
    """(256, 3) uint8: the colour map sampled as the console samples it."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        x = i / 255
        k = 0
        while k < len(STOPS) - 2 and x > STOPS[k + 1][0]:
            k += 1
        a, b = STOPS[k], STOPS[k + 1]
        f = min(1.0, max(0.0, (x - a[0]) / (b[0] - a[0])))
        lut[i] = [int(math.floor(a[c] + f * (b[c] - a[c]) + 0.5)) for c in (1, 2, 3)]
    return lut


IRONBOW = _ironbow_lut()
_CUBE = (0, 95, 135, 175, 215, 255)  # the xterm 256-colour palette's 6 x 6 x 6 cube levels


def xterm_index(rgb: Sequence[int]) -> int:
    """The nearest colour of the xterm 256-colour palette (the 6x6x6 cube or the grey ramp)."""
    return _xterm_index(tuple(int(v) for v in rgb))


@lru_cache(maxsize=4096)
def _xterm_index(rgb: tuple[int, ...]) -> int:
    r, g, b = rgb
    levels = [min(range(6), key=lambda i: abs(_CUBE[i] - v)) for v in (r, g, b)]
    cube = tuple(_CUBE[i] for i in levels)
    grey_i = min(23, max(0, round((r + g + b) / 3 - 8) // 10))
    grey = 8 + 10 * grey_i
    d_cube = sum((p - q) ** 2 for p, q in zip((r, g, b), cube, strict=True))
    d_grey = sum((p - grey) ** 2 for p in (r, g, b))
    if d_grey < d_cube:
        return 232 + grey_i
    return 16 + 36 * levels[0] + 6 * levels[1] + levels[2]


def sgr(mode: str, *, bg: Sequence[int] | None = None, fg: Sequence[int] | None = None, bold: bool = False) -> str:
    """The escape that sets these colours in ``mode`` ("" in NO_COLOR mode)."""
    if mode == NO_COLOR:
        return ""
    codes = ["1"] if bold else []
    for layer, rgb in (("38", fg), ("48", bg)):
        if rgb is None:
            continue
        if mode == TRUECOLOR:
            codes.append(f"{layer};2;{int(rgb[0])};{int(rgb[1])};{int(rgb[2])}")
        else:
            codes.append(f"{layer};5;{xterm_index(rgb)}")
    return f"\x1b[{';'.join(codes)}m" if codes else ""


# ---------------------------------------------------------------------------------------------- the image


@dataclass(frozen=True)
class Overlay:
    """A box drawn over the image: rows r0..r1, columns c0..c1 (exclusive), as FrameAnalysis boxes are."""

    box: tuple[int, int, int, int]
    kind: str  # "face" (the main face), "other" (another face), "reference" (the reference source's box)


# Green is not in the ironbow map, so the face's outline shows on any pixel; the reference source sits
# near the top of the scale (35 degC), where white would vanish, so its box is cyan.
OVERLAY_RGB = {"face": (0, 255, 0), "other": (90, 150, 255), "reference": (0, 229, 255)}
# left-edge, right-edge, horizontal, vertical, corners; "[" "]" close a box one row high
_GLYPHS_UNICODE = {"h": "─", "v": "│", "tl": "┌", "tr": "┐", "bl": "└", "br": "┘", "l1": "[", "r1": "]"}
_GLYPHS_ASCII = {"h": "-", "v": "|", "tl": "+", "tr": "+", "bl": "+", "br": "+", "l1": "[", "r1": "]"}
_GLYPHS_ASCII_REFERENCE = {"h": "~", "v": "!", "tl": "*", "tr": "*", "bl": "*", "br": "*", "l1": "*", "r1": "*"}


def _glyphs(kind: str, mode: str) -> dict[str, str]:
    if mode != NO_COLOR:
        return _GLYPHS_UNICODE
    return _GLYPHS_ASCII_REFERENCE if kind == "reference" else _GLYPHS_ASCII


def box_cell(r: int, c: int, box: tuple[int, int, int, int], glyphs: Mapping[str, str]) -> str | None:
    """The two characters of cell (r, c) on the outline of ``box`` (drawn on its border pixels), or None."""
    r0, c0, r1, c1 = box
    if not (r0 <= r < r1 and c0 <= c < c1):
        return None
    top, bottom, left, right = r == r0, r == r1 - 1, c == c0, c == c1 - 1
    if not (top or bottom or left or right):
        return None
    if left:
        first = glyphs["l1"] if top and bottom else glyphs["tl"] if top else glyphs["bl"] if bottom else glyphs["v"]
    else:
        first = glyphs["h"] if top or bottom else " "
    if right:
        second = glyphs["r1"] if top and bottom else glyphs["tr"] if top else glyphs["br"] if bottom else glyphs["v"]
    else:
        second = glyphs["h"] if top or bottom else " "
    return first + second


def color_range(image: np.ndarray | None, fixed: tuple[float, float] | None = None) -> tuple[float, float]:
    """(lo, hi) degC the colours span: ``fixed``, or the image's own min and max, at least MIN_SPAN_C apart."""
    if fixed is not None:
        return fixed
    finite = image[np.isfinite(image)] if image is not None else np.empty(0)
    if finite.size == 0:
        return 20.0, 20.0 + MIN_SPAN_C
    lo, hi = float(finite.min()), float(finite.max())
    return lo, max(hi, lo + MIN_SPAN_C)


def levels(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(24, 32) int: each pixel's colour-map index 0..255 over [lo, hi]; -1 where there is no reading."""
    scale = 255.0 / max(0.5, hi - lo)
    with np.errstate(invalid="ignore"):
        k = np.clip(np.rint((np.asarray(image, dtype=np.float64) - lo) * scale), 0, 255)
    return np.where(np.isfinite(image), k, -1).astype(np.int64)


def _shade(k: int) -> str:
    return "?" if k < 0 else SHADES[min(len(SHADES) - 1, k * len(SHADES) // 256)]


def render_image(image: np.ndarray, lo: float, hi: float, mode: str,
                 overlays: Sequence[Overlay] = ()) -> list[str]:
    """24 lines of 32 double-width cells: the image in colour blocks (or ASCII shading), boxes outlined.

    In colour modes every cell is two spaces on the pixel's colour, a box's
    border cells carry its outline in its own colour (green for the face: the
    ironbow map has no green, so it shows on any pixel). Without colour a cell
    is its shading character twice, the outline replacing it on the border."""
    image = np.asarray(image)
    if image.shape != (ROWS, COLUMNS):
        raise ValueError(f"image must be {ROWS} x {COLUMNS}, got {image.shape}")
    k = levels(image, lo, hi)
    marks: dict[tuple[int, int], tuple[str, str]] = {}
    for overlay in overlays:  # later overlays win where boxes cross
        glyphs = _glyphs(overlay.kind, mode)
        r0, c0, r1, c1 = overlay.box
        for r in range(max(0, r0), min(ROWS, r1)):
            for c in range(max(0, c0), min(COLUMNS, c1)):
                text = box_cell(r, c, overlay.box, glyphs)
                if text is not None:
                    marks[(r, c)] = (text, overlay.kind)
    lines = []
    for r in range(ROWS):
        parts: list[str] = []
        current = None
        for c in range(COLUMNS):
            level = int(k[r, c])
            mark = marks.get((r, c))
            if mode == NO_COLOR:
                parts.append(mark[0] if mark else _shade(level) * 2)
                continue
            rgb = NO_READING_RGB if level < 0 else tuple(int(v) for v in IRONBOW[level])
            style = (rgb, mark[1] if mark else None)
            if style != current:
                fg = OVERLAY_RGB[mark[1]] if mark else None
                parts.append((RESET if current is not None and current[1] and not mark else "")
                             + sgr(mode, bg=rgb, fg=fg, bold=mark is not None))
                current = style
            parts.append(mark[0] if mark else "  ")
        if mode != NO_COLOR:
            parts.append(RESET)
        lines.append("".join(parts))
    return lines


def render_scale(lo: float, hi: float, mode: str, width: int = 40) -> str:
    """The colour scale: ``lo degC``, ``width`` cells from coolest to hottest, ``hi degC``."""
    cells = []
    for i in range(width):
        level = round(i * 255 / max(1, width - 1))
        if mode == NO_COLOR:
            cells.append(_shade(level))
        else:
            cells.append(sgr(mode, bg=tuple(int(v) for v in IRONBOW[level])) + " ")
    bar = "".join(cells) + (RESET if mode != NO_COLOR else "")
    return f"{lo:5.1f} degC {bar} {hi:5.1f} degC"


# ---------------------------------------------------------------------------------------------- the panel


_DECISION_RGB = {"PASS": (0, 200, 0), "FEVER": (255, 40, 40), "RETRY": (255, 200, 0), "BLOCKED": (200, 100, 255)}


def _paint(text: str, mode: str, rgb: Sequence[int] | None, bold: bool = False) -> str:
    if mode == NO_COLOR or rgb is None:
        return text
    return sgr(mode, fg=rgb, bold=bold) + text + RESET


def distance_advice(a: FrameAnalysis | None, config: ScreeningConfig) -> tuple[bool, str]:
    """(in range, what to tell the person) for the main face, by the tracker's own rules
    (controller.screening.tracker: one at a time, fully in view, on the mark of the gate's mounting: come
    closer, step back, step onto the mark)."""
    if a is None or a.face_box is None:
        return False, "nobody in view"
    near, far = config.distance_m
    if a.people > 1:
        return False, "two faces in view: one at a time"
    if a.touches_edge:
        r0, c0, r1, c1 = a.face_box
        edges = [name for name, hit in (("top", r0 == 0), ("bottom", r1 == ROWS), ("left", c0 == 0),
                                        ("right", c1 == COLUMNS)) if hit]
        if edges:
            return False, f"face cut off at the {' and '.join(edges)} edge of the image: aim the sensor at the face"
        return False, "face overlaps the reference source's area: move the reference or the mark"
    place = face_place(a, config)
    if a.distance_m is None or place is None:
        return False, "no distance: stand straight, face the sensor"
    floor_m, lateral_m, _ = place
    mark_near, mark_far = config.mark_band_m
    if a.distance_m > far or a.face_width_px < config.min_face_width_px or floor_m > mark_far:
        return False, "too far: come closer"
    if a.distance_m < near or floor_m < mark_near:
        return False, "too close: step back"
    if abs(lateral_m) > config.lateral_tolerance_m:
        side = "right" if lateral_m > 0 else "left"
        return False, f"{abs(lateral_m):.2f} m off the mark, to the image's {side}: step onto the mark"
    return True, "in range"


# A disc learned without the wall around it reaching less than this share of its contrast: the panel says to
# learn it again (a room 1 degC warmer then reads as 0.1 degC of drift or more).
RELEARN_BELOW = 0.9


def _own_offset(config: AnalysisConfig) -> str:
    """The sensor's own offset the gate takes off, and where it includes the sensor's drift since the lens was
    measured (read when the reference was learned), the two parts."""
    drift = config.lens_drift_c
    parts = (f" (the lens measurement's {config.sensor_offset_c - drift:+.2f}, {drift:+.2f} of drift since)"
             if drift else "")
    return f"the sensor's own offset {config.sensor_offset_c:+.2f}{parts}"


def _reference_line(a: FrameAnalysis | None, config: AnalysisConfig) -> str:
    """The reference: its reading beside its set point and its learned reading, and what is wrong, if anything
    (too small: its apparent size and the share of its set-point contrast it reaches)."""
    if config.reference_box is None:  # the sensor's own offset, from measuring the lens, is taken off all the same
        own = (f"; {_own_offset(config)} taken off (its drift not followed)"
               if config.apply_sensor_offset and config.sensor_offset_c else "")
        return f"not configured{own}"
    r0, c0, r1, c1 = config.reference_box
    learned = config.reference_apparent_c
    known = f"learned {learned:.2f}" if learned is not None else "NOT LEARNED"
    where = f"(set {config.reference_c:.1f} degC, {known}; box rows {r0}-{r1 - 1}, cols {c0}-{c1 - 1})"
    if a is None:
        return f"no image yet {where}"
    if not math.isfinite(a.reference_c):
        return f"NOT FOUND {where}"
    reads = f"reads {a.reference_c:.2f} degC {where}"
    status = a.reference_status
    if status == "none":  # an analysis that does not say: judge by what it does say
        status = "ok" if a.reference_ok else ("unstable" if math.isfinite(a.reference_excess_c) else "pending")
    if status == "pending":
        return f"settling: {reads}"
    if status == "not_found":
        return (f"NOT FOUND: {reads}; only {a.reference_mean_c - a.reference_background_c:.1f} degC above "
                f"the {a.reference_background_c:.1f} around it: move the disc into the box, or the box to the disc")
    if status == "too_small":
        return (f"TOO SMALL: {reference_across_px(a.reference_size_px):.1f} px across, reaches "
                f"{a.reference_fraction:.0%} of its set-point "
                f"contrast (at least {config.reference_min_fraction:.0%}): use a larger disc or bring it nearer; "
                f"{reads}")
    if status == "not_learned":
        return f"found, NOT LEARNED: {reads}; run `thermogate calibrate reference GATE`"
    wall = config.reference_background_c
    # A reading learned without the wall around the disc (before calibrate wrote it, or typed in): its change is all
    # taken for drift, and a disc reaching a share a of its contrast reads a room 1 degC warmer as 1 - a of drift.
    unmixable = learned is not None and wall is None and RELEARN_BELOW > a.reference_fraction > 0.0
    relearn = (f"; learned without the wall around it, so a room 1 degC warmer reads as "
               f"{1.0 - a.reference_fraction:.2f} degC of drift: learn it again (`thermogate calibrate reference "
               f"GATE`)" if unmixable else "")
    if status == "drift" and learned is not None:  # drift is measured from a learned reading
        drift = reference_drift_c(a, config)
        return (f"DRIFT: {reads}; the sensor drifted {drift:+.2f} degC since it was learned (at most "
                f"{config.reference_drift_c:g}){relearn}")
    if status == "held":
        return (f"HELD: {reads}; unsteady or hidden just now, so the drift averaged until then is kept (offset "
                f"{a.offset_c:+.2f}) for up to {config.reference_hold_frames} frames after it was last steady"
                f"{relearn}")
    if status == "ok":
        around = (f"; wall around it {a.reference_background_c:.1f} (learned {wall:.1f})"
                  if wall is not None and math.isfinite(a.reference_background_c) else "")
        own = (f"; {_own_offset(config)} taken off too"
               if config.apply_sensor_offset and config.sensor_offset_c else "")
        return f"found, stable: {reads}; offset {a.offset_c:+.2f}{own}{around}{relearn}"
    allowed = (f"{a.reference_allowed_c:.2f} at this noise" if math.isfinite(a.reference_allowed_c)
               else f"{config.reference_stable_c:.2f}")
    settle = f" (variation {a.reference_excess_c:.2f} > {allowed})" if math.isfinite(a.reference_excess_c) else ""
    return f"found, NOT STABLE yet{settle}: {reads}"


def _optics_line(config: AnalysisConfig) -> str:
    """The lens as the estimate takes it: the blur (the lens's core that `thermogate calibrate lens` measured;
    where the lens was not measured, the one read on the reference disc; else the nominal) and the wings (as
    `thermogate calibrate lens` measured them; none configured reads the same as none found)."""
    disc, core, used = config.lens_blur_px, config.lens_core_px, config.face_blur_px
    if used is None:
        blur = f"blur {LENS_PSF_SIGMA_PX:.2f} px (nominal: no disc told it, the lens not measured)"
    elif core is None:
        blur = f"blur {used:.2f} px (read on the disc; the lens not measured)"
    elif disc is None:
        blur = f"blur {used:.2f} px (the lens's core; the disc told none)"
    elif config.blur_disagrees:
        blur = (f"blur {used:.2f} px (the lens's core; the disc read {disc:.2f}, over {BLUR_DISAGREE_PX:g} px off it: "
                f"too small or too far to tell it)")
    else:
        blur = f"blur {used:.2f} px (the lens's core; the disc read {disc:.2f})"
    wings = (f"wings {config.lens_wing_share:.0%} of a point's energy, {config.lens_wing_px:.2f} px wide, taken out"
             if config.lens_wing_share > 0.0 else
             "no wings configured (`thermogate calibrate lens GATE` measures them)")
    return f"{blur}; {wings}"


def _noise_line(view: WatchView, mode: str) -> str:
    """The sensor's noise as measured on its images, at its refresh rate and as the datasheet states it (1 Hz);
    a warning when it is above what the screening is measured with (controller.sensor.noise); and whether its
    fixed pixel offsets are taken off (`thermogate calibrate flat`, flat_field.py)."""
    offsets = view.config.analysis.pixel_offsets_c
    pixels = ("" if offsets is None else
              f"; the pixels' own offsets taken off (a flat field's, sd {float(np.std(offsets)):.2f} degC)")
    if not math.isfinite(view.noise_c):
        return "not measured yet (about a second with nobody in view)" + pixels
    s = view.status
    hz = s.refresh_hz if s is not None and s.online and s.refresh_hz > 0 else view.fps
    text = describe_noise(view.noise_c, hz) + pixels
    if too_noisy_to_screen(view.noise_c, hz):
        text += "  " + _paint(f"noisy sensor (over {NOISY_NETD_1HZ_C:g} at 1 Hz): fewer people are decided, and later",
                              mode, (255, 200, 0))
    return text


def _decision_text(d: ShownDecision | None, mode: str, now: float) -> str:
    if d is None:
        return "none yet"
    word = _paint(d.decision, mode, _DECISION_RGB.get(d.decision), bold=True)
    parts = [word]
    if d.estimate_c is not None:
        parts.append(f"{d.estimate_c:.1f} degC")
    if d.reason:
        parts.append(d.reason.replace("_", " "))
    if d.track:
        parts.append(f"person {d.track}")
    if d.reduced_accuracy:
        parts.append("reduced accuracy")
    if d.drift_alert:
        parts.append("DRIFT ALERT")
    if d.door:
        parts.append(f"door {d.door}")
    return " ".join(parts) + f"  ({d.source}, {max(0.0, now - d.at):.1f} s ago)"


_HELD = {HELD_FILLING: "taking frames", HELD_SETTLING: "still stepping onto the mark",
         HELD_DISAGREE: "readings disagree"}


def _held_text(held: str) -> str:
    """Why the latest frame decided nothing, as the tracker line says it (``Tracker.held``)."""
    return _HELD.get(held) or held.replace("_", " ")


def render_panel(view: WatchView, mode: str) -> list[str]:
    """The lines under the image: gate status, frames, face, distance, reference, tracker, decisions."""
    lines = []
    s = view.status
    if s is None:
        gate = "no status yet"
    elif not s.online:
        gate = _paint("OFFLINE", mode, (255, 40, 40), bold=True) + " (the gate's last will)"
    else:
        weak = " (weak)" if s.rssi < -75 else ""
        sensor = "ok" if s.sensor_ok else _paint("FAULT", mode, (255, 40, 40), bold=True)
        age = f", {view.now - view.status_at:.0f} s ago" if view.status_at is not None else ""
        gate = (f"online  rssi {s.rssi} dBm{weak}  sensor {sensor}  relay {s.relay}  fw {s.firmware or '?'}"
                f"  (status{age})")
    lines.append(f"gate      {gate}")
    link = "" if view.connected else "  " + _paint("broker connection lost, reconnecting", mode, (255, 200, 0))
    if view.reconnects:
        link += f"  broker reconnects {view.reconnects}"
    refused = sum(view.refused.values())
    slow = ""
    if s is not None and s.online and too_slow_to_screen(s.refresh_hz):
        slow = "  " + _paint(f"refresh {s.refresh_hz:g} Hz: below {SLOWEST_SCREENING_HZ} Hz few people are decided",
                             mode, (255, 200, 0))
    lines.append(f"frames    {view.fps:.1f}/s" + (f" (gate says {s.fps:.1f}/s)" if s is not None and s.online else "")
                 + f"  #{view.sequence}  lost {view.lost_frames}  refused {refused}{slow}{link}")
    lines.append(f"noise     {_noise_line(view, mode)}")
    a = view.analysis
    cfg = view.config
    if a is None or a.face_box is None:
        lines.append("face      " + ("none in view" if a is not None else "no image yet"))
    else:
        r0, c0, r1, c1 = a.face_box
        lines.append(f"face      {a.face_width_px:.1f} px wide (min {cfg.min_face_width_px:g}), "
                     f"rows {r0}-{r1 - 1}, cols {c0}-{c1 - 1}")
    near, far = cfg.distance_m
    ok, advice = distance_advice(a, cfg)
    shown = f"{a.distance_m:.2f} m" if a is not None and a.distance_m is not None else "-"
    verdict = _paint("OK, " + advice if ok else advice, mode, (0, 200, 0) if ok else (255, 200, 0), bold=not ok)
    lines.append(f"distance  {shown}  (valid {near:.2f}-{far:.2f} m)  {verdict}")
    if a is not None:
        cool = a.lower_face_ratio < cfg.mask_ratio  # False when NaN
        cues = [name for name, on in (("glasses", a.glasses), ("eye line low (eyes covered)", a.eye_line_low),
                                      ("forehead covered", a.forehead_covered),
                                      ("hot object", a.hot_object), ("chilled nose", a.nose_chilled),
                                      ("lower face cool (mask, or in from the cold)", cool)) if on]
        lines.append(f"people    {a.people}" + (f"  cues: {', '.join(cues)}" if cues else ""))
    lines.append(f"reference {_reference_line(a, cfg.analysis)}")
    lines.append(f"optics    {_optics_line(cfg.analysis)}")
    held = f"  ({_held_text(view.held)})" if view.held else ""
    lines.append(f"tracker   {view.state.replace('_', ' ')}{held}")
    main = view.controller or view.local
    if view.controller is None:
        note = "  (this login may not read results: local)" if view.result_readable is False \
            else "  (no controller result yet)"
    else:
        note = ""
    lines.append(f"decision  {_decision_text(main, mode, view.now)}{note}")
    if view.controller is not None:
        lines.append(f"local     {_decision_text(view.local, mode, view.now)}")
    return lines


def render_view(view: WatchView, mode: str) -> list[str]:
    """The whole view: a title, the image (or what it is waiting for), the scale, the panel."""
    title = (f"thermogate watch {view.gate} on {view.broker}   lens {view.config.analysis.variant}   "
             f"settings: {view.source}   Ctrl-C quits")
    lines = [title if mode == NO_COLOR else sgr(mode, bold=True) + title + RESET]
    if view.image is None:
        waiting = (f"waiting for the gate's EEPROM (retained on {topic(view.gate, 'eeprom')}): is the gate on "
                   f"and connected to this broker?") if not view.has_eeprom else \
            f"waiting for frames on {topic(view.gate, 'frame')}"
        lines += [waiting] + [""] * (ROWS - 1) + [""]
    else:
        a = view.analysis
        overlays = []
        if view.config.analysis.reference_box is not None:
            overlays.append(Overlay(view.config.analysis.reference_box, "reference"))
        if a is not None:
            # faces[0] is the main face's skin (face_box is its whole face, drawn below); the rest are others.
            overlays += [Overlay(box, "other") for box in a.faces[1:]]
            if a.face_box is not None:
                overlays.append(Overlay(a.face_box, "face"))
        lo, hi = color_range(view.image, view.fixed_range)
        lines += render_image(view.image, lo, hi, mode, overlays)
        legend = ("  face +-|  reference *~!" if mode == NO_COLOR else
                  "  " + _paint("face", mode, OVERLAY_RGB["face"], True) + " "
                  + _paint("other face", mode, OVERLAY_RGB["other"], True) + " "
                  + _paint("reference", mode, OVERLAY_RGB["reference"], True))
        lines.append(render_scale(lo, hi, mode, width=28) + legend)
    return lines + render_panel(view, mode)


# ---------------------------------------------------------------------------------------------- the terminal


class Terminal:
    """Where views go. Live (a terminal): hidden cursor, each view drawn over the last from the home
    position, line by line with the rest of each line erased, so nothing flickers; closing restores
    the cursor. Not live (a pipe, a file, ``--once``): each view printed in full, a blank line after."""

    def __init__(self, out: TextIO, live: bool):
        self.out = out
        self.live = live
        self._started = False
        self._last: list[str] = []

    def draw(self, lines: list[str]) -> None:
        if not self.live:
            self.out.write("\n".join(lines) + "\n\n")
            self.out.flush()
            return
        if not self._started:
            self.out.write(HIDE_CURSOR + CLEAR_SCREEN)
            self._started = True
        self._last = lines
        size = shutil.get_terminal_size((VIEW_WIDTH + 16, len(lines) + 1))
        if len(lines) > size.lines - 1:  # never scroll: the home position must stay the top of the view
            hidden = len(lines) - (size.lines - 2)
            lines = lines[:max(0, size.lines - 2)] + [f"({hidden} more lines: enlarge the terminal)"]
        self.out.write(HOME + "".join(line + RESET + CLEAR_EOL + "\n" for line in lines) + CLEAR_BELOW)
        self.out.flush()

    def close(self) -> None:
        """Leave the last view on screen, whole (Ctrl-C may have cut a redraw short, and the terminal
        echoed ^C into it), with the cursor shown on the line below it."""
        if self.live and self._started:
            if self._last:
                self.draw(self._last)
            self.out.write(RESET + SHOW_CURSOR)
            self.out.flush()


def color_mode(choice: str, out: TextIO, env: Mapping[str, str]) -> str:
    """The colour mode for ``--colors`` (auto, truecolor, 256, none) on ``out``: auto is no colour
    unless ``out`` is a terminal (and NO_COLOR unset, TERM not dumb), then truecolor if COLORTERM says so."""
    if choice in MODES:
        return choice
    isatty = getattr(out, "isatty", lambda: False)
    if env.get("NO_COLOR") or env.get("TERM") == "dumb" or not isatty():
        return NO_COLOR
    return TRUECOLOR if env.get("COLORTERM", "").lower() in ("truecolor", "24bit") else PALETTE_256
