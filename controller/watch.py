"""``thermogate watch GATE``: a live terminal view of one gate, for aiming its sensor.

An installer at the gate runs it on a laptop. It connects to the broker as a
client of its own, subscribes to ``thermogate/<gate>/eeprom``, ``frame``,
``status`` and ``result``, and runs the frames through the controller's own
per-gate code (:class:`controller.service.gate_worker.GateWorker` around
:class:`controller.screening.pipeline.GatePipeline`) with the gate's
screening settings. Redrawn in place, at most 8 times a second, it shows:

- the 24 x 32 image as double-width colour blocks (the console's ironbow map,
  in truecolor or the 256-colour palette) or ASCII shading, and its scale;
- the main face's box, any other face's, and the reference source's box;
- the face's width, its distance, whether that is in the valid range, and the
  hint the gate would give ("come closer", "step back", ...);
- the reference source, the tracker's state, the latest decision (the
  controller's, from the ``result`` topic; the local pipeline's while no
  controller has answered), frames per second and the gate's status.

The drawing is pure functions of the data (:func:`render_image`,
:func:`render_scale`, :func:`render_panel`, :func:`render_view`: data in,
lines out); :class:`GateWatch` is the state the messages update;
:class:`Link` is the broker connection and :func:`run` the loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import queue
import shutil
import signal
import ssl
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Mapping, Sequence, TextIO

import numpy as np

from .geometry import Lens
from .mqtt.link import DEFAULT_PORT, Broker, LinkError, make_client, parse_broker
from .mqtt.options import add_broker_options, password_from_args
from .protocol.status import GateStatus
from .protocol.topics import topic, valid_gate_id
from .screening.analysis import AnalysisConfig, FrameAnalysis, reference_across_px
from .screening.config import ScreeningConfig
from .protocol.result import DECISIONS, Decision
from .screening.tracker import face_place
from .sensor.frame import COLUMNS, ROWS

MAX_FPS = 8.0  # redraws per second at most
MIN_SPAN_C = 4.0  # the automatic colour range is at least this wide, as in the console (noise stays dark)
FPS_WINDOW_S = 2.0  # frames per second are counted over this window
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
    d_cube = sum((p - q) ** 2 for p, q in zip((r, g, b), cube))
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


@dataclass(frozen=True)
class ShownDecision:
    """A decision as the view shows it, from the controller's result topic or the local pipeline."""

    decision: str
    reason: str
    estimate_c: float | None
    track: int
    source: str  # "controller" or "local"
    at: float  # time.monotonic() when it arrived or was made
    reduced_accuracy: bool = False
    drift_alert: bool = False
    door: str = ""  # the controller's result only: "held" or "locked" when the door did not follow the decision

    @classmethod
    def from_decision(cls, d: Decision, at: float) -> "ShownDecision":
        return cls(d.decision, d.reason, d.estimate_c, d.track, "local", at, d.reduced_accuracy, d.drift_alert)

    @classmethod
    def from_result(cls, payload: bytes, at: float) -> "ShownDecision":
        """A ``result`` message; ValueError if it is not one."""
        try:
            d = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"result is not JSON: {exc}") from None
        if not isinstance(d, dict) or d.get("decision") not in DECISIONS:
            raise ValueError("result has no decision")
        estimate = d.get("estimate_c")
        track = d.get("track")
        return cls(d["decision"], str(d.get("reason") or ""),
                   float(estimate) if isinstance(estimate, (int, float)) and not isinstance(estimate, bool) else None,
                   track if isinstance(track, int) and not isinstance(track, bool) else 0, "controller", at,
                   d.get("reduced_accuracy") is True, d.get("drift_alert") is True,
                   d["door"] if isinstance(d.get("door"), str) else "")


@dataclass(frozen=True)
class WatchView:
    """Everything one redraw shows: a snapshot of :class:`GateWatch`, so that drawing is a pure function."""

    gate: str
    broker: str
    config: ScreeningConfig
    now: float  # time.monotonic() of the snapshot
    connected: bool = True
    reconnects: int = 0
    result_readable: bool | None = None  # None: not known yet; False: the broker refused the subscription
    has_eeprom: bool = False
    status: GateStatus | None = None
    status_at: float | None = None
    frames: int = 0
    fps: float = 0.0
    sequence: int = 0
    lost_frames: int = 0
    refused: Mapping[str, int] = field(default_factory=dict)
    state: str = "no_eeprom"
    image: np.ndarray | None = None
    analysis: FrameAnalysis | None = None
    controller: ShownDecision | None = None
    local: ShownDecision | None = None
    fixed_range: tuple[float, float] | None = None
    source: str = "defaults"  # where the screening settings came from


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
    if a.distance_m is None:
        return False, "no distance: stand straight, face the sensor"
    floor_m, lateral_m, _ = face_place(a, config)
    mark_near, mark_far = config.mark_band_m
    if a.distance_m > far or a.face_width_px < config.min_face_width_px or floor_m > mark_far:
        return False, "too far: come closer"
    if a.distance_m < near or floor_m < mark_near:
        return False, "too close: step back"
    if abs(lateral_m) > config.lateral_tolerance_m:
        side = "right" if lateral_m > 0 else "left"
        return False, f"{abs(lateral_m):.2f} m off the mark, to the image's {side}: step onto the mark"
    return True, "in range"


def _reference_line(a: FrameAnalysis | None, config: AnalysisConfig) -> str:
    """The reference: its reading beside its set point and its learned reading, and what is wrong, if anything
    (too small: its apparent size and the share of its set-point contrast it reaches)."""
    if config.reference_box is None:
        return "not configured"
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
    if status == "drift":
        return (f"DRIFT: {reads}; {a.reference_mean_c - learned:+.2f} degC from its learned reading (at most "
                f"{config.reference_drift_c:g})")
    if status == "ok":
        return f"found, stable: {reads}; offset {a.offset_c:+.2f}"
    settle = f" (variation {a.reference_excess_c:.2f} > {config.reference_stable_c:.2f})" \
        if math.isfinite(a.reference_excess_c) else ""
    return f"found, NOT STABLE yet{settle}: {reads}"


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
    lines.append(f"frames    {view.fps:.1f}/s" + (f" (gate says {s.fps:.1f}/s)" if s is not None and s.online else "")
                 + f"  #{view.sequence}  lost {view.lost_frames}  refused {refused}{link}")
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
        cues = [name for name, on in (("glasses", a.glasses), ("forehead covered", a.forehead_covered),
                                      ("hot object", a.hot_object), ("chilled nose", a.nose_chilled)) if on]
        lines.append(f"people    {a.people}" + (f"  cues: {', '.join(cues)}" if cues else ""))
    lines.append(f"reference {_reference_line(a, cfg.analysis)}")
    lines.append(f"tracker   {view.state.replace('_', ' ')}")
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


# ---------------------------------------------------------------------------------------------- the state


class GateWatch:
    """One gate's messages through the controller's GateWorker, and what the view needs of them."""

    def __init__(self, gate: str, config: ScreeningConfig, broker_label: str = "", source: str = "defaults",
                 clock: Callable[[], float] = time.monotonic, key: bytes | None = None):
        """``key``: the gate's key K, to check its messages' tags; without it (no --config, or a gate the
        site does not know) the view shows what arrives unchecked (it never commands anything)."""
        from .service.gate_worker import GateWorker
        from .service.registry import GateInfo

        self.gate = gate
        self.config = config
        self.broker_label = broker_label
        self.source = source
        self.clock = clock
        self.verified = key is not None
        self.worker = GateWorker(GateInfo(gate, key or b"", config.analysis.variant), config, accept_v1=True,
                                 verify=self.verified)
        self.controller: ShownDecision | None = None
        self.local: ShownDecision | None = None
        self.status_at: float | None = None
        self.bad_results = 0
        self._frame_times: deque[float] = deque()
        self._image_id: int | None = None
        self.fixed_range: tuple[float, float] | None = None

    def on_message(self, kind: str, payload: bytes, at: float | None = None) -> bool:
        """One message of the gate's, received at ``at`` (the clock's time; default now); True if the view changed."""
        now = self.clock() if at is None else at
        if kind == "eeprom":
            return self.worker.on_eeprom(payload)
        if kind == "frame":
            for d in self.worker.on_frame(payload):
                self.local = ShownDecision.from_decision(d, now)
            self._frame_times.append(now)
            image = self.worker.pipeline.image if self.worker.pipeline is not None else None
            changed = image is not None and id(image) != self._image_id
            self._image_id = id(image) if image is not None else None
            return changed
        if kind == "status":
            if self.worker.on_status(payload) is None:
                return False
            self.status_at = now
            return True
        if kind == "result":
            try:
                self.controller = ShownDecision.from_result(payload, now)
            except ValueError:
                self.bad_results += 1
                return False
            return True
        return False

    @property
    def frames(self) -> int:
        return self.worker.frames

    @property
    def has_image(self) -> bool:
        return self.worker.pipeline is not None and self.worker.pipeline.image is not None

    def fps(self, now: float) -> float:
        times = self._frame_times
        while times and now - times[0] > FPS_WINDOW_S:
            times.popleft()
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(1e-6, times[-1] - times[0])

    def view(self, *, connected: bool = True, reconnects: int = 0, result_readable: bool | None = None) -> WatchView:
        now = self.clock()
        w = self.worker
        p = w.pipeline
        refused = dict(w.errors)
        if self.bad_results:
            refused["result"] = self.bad_results
        return WatchView(gate=self.gate, broker=self.broker_label, config=self.config, now=now,
                         connected=connected, reconnects=reconnects, result_readable=result_readable,
                         has_eeprom=p is not None, status=w.status, status_at=self.status_at, frames=w.frames,
                         fps=self.fps(now), sequence=w.last_sequence, lost_frames=w.lost_frames, refused=refused,
                         state=w.state, image=p.image if p is not None else None,
                         analysis=p.last_analysis if p is not None else None, controller=self.controller,
                         local=self.local, fixed_range=self.fixed_range, source=self.source)


# ---------------------------------------------------------------------------------------------- the broker


class Link:
    """The watch's own MQTT connection: the gate's four topics into ``inbox`` as (kind, payload,
    time.monotonic() on arrival).

    Its client id is its own (``thermogate-watch-<gate>-<pid>``), so it never
    takes the controller's place on a broker that knows clients by their id.
    paho reconnects by itself; ``connected`` and ``reconnects`` say how it goes.
    A refused subscription to ``result`` (an ACL that lets this login read
    only what a controller reads) is not an error: the view then shows the
    local pipeline's decisions."""

    SUBSCRIPTIONS = (("eeprom", 1), ("frame", 0), ("status", 1), ("result", 1))

    def __init__(self, broker: Broker, gate: str, inbox: "queue.Queue[tuple[str, bytes, float]]"):
        self.broker = broker
        self.gate = gate
        self.inbox = inbox
        self.connected = False
        self.reconnects = 0
        self.result_readable: bool | None = None
        self.failure: str | None = None
        self._ready = threading.Event()
        self._kinds = {topic(gate, kind): kind for kind, _ in self.SUBSCRIPTIONS}
        self._result_mid: int | None = None
        client = make_client(broker, f"thermogate-watch-{gate}-{os.getpid()}")
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client
        self._sub_mid: int | None = None

    def connect(self, timeout: float = 10.0) -> "Link":
        """Connect and subscribe; LinkError if the broker cannot be reached or refuses."""
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise LinkError(f"cannot connect to the MQTT broker at {self.broker}: {exc}") from None
        self.client.loop_start()
        if not self._ready.wait(timeout) or self.failure:
            self.close()
            raise LinkError(self.failure or f"no answer from the MQTT broker at {self.broker} within {timeout:g} s")
        return self

    def close(self, timeout: float | None = None) -> None:
        """Disconnect and stop paho's network thread, waiting at most ``timeout`` seconds for it (None: as
        long as it takes); the thread is a daemon, so a process that exits does not wait for it."""
        try:
            self.client.disconnect()
        finally:
            if timeout is None:
                self.client.loop_stop()
            else:
                stopper = threading.Thread(target=self.client.loop_stop, name="watch-link-close", daemon=True)
                stopper.start()
                stopper.join(timeout)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.failure = f"the broker at {self.broker} refused the connection: {reason_code}"
            self._ready.set()
            client.disconnect()
            return
        if self._ready.is_set():
            self.reconnects += 1
        self.connected = True
        self._sub_mid = client.subscribe([(topic(self.gate, kind), qos) for kind, qos in self.SUBSCRIPTIONS])[1]

    def _on_disconnect(self, _client, _userdata, _flags, _reason_code, _properties) -> None:
        self.connected = False

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        if mid != self._sub_mid:
            return
        refused = [kind for (kind, _), rc in zip(self.SUBSCRIPTIONS, reason_codes) if rc.is_failure]
        if set(refused) - {"result"}:
            self.failure = (f"the broker at {self.broker} refused the subscription to "
                            f"{', '.join(topic(self.gate, k) for k in refused)}: this login may not read them")
        self.result_readable = "result" not in refused
        self._ready.set()

    def _on_message(self, _client, _userdata, message) -> None:
        kind = self._kinds.get(message.topic)
        if kind is not None:
            self.inbox.put((kind, bytes(message.payload), time.monotonic()))


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


# ---------------------------------------------------------------------------------------------- the command


def color_mode(choice: str, out: TextIO, env: Mapping[str, str]) -> str:
    """The colour mode for ``--colors`` (auto, truecolor, 256, none) on ``out``: auto is no colour
    unless ``out`` is a terminal (and NO_COLOR unset, TERM not dumb), then truecolor if COLORTERM says so."""
    if choice in MODES:
        return choice
    isatty = getattr(out, "isatty", lambda: False)
    if env.get("NO_COLOR") or env.get("TERM") == "dumb" or not isatty():
        return NO_COLOR
    return TRUECOLOR if env.get("COLORTERM", "").lower() in ("truecolor", "24bit") else PALETTE_256


def _parse_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--range {text!r}: expected LOW:HIGH in degC, e.g. 20:38") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"--range {text!r}: LOW must be below HIGH")
    return lo, hi


def settings_from_args(args: argparse.Namespace) -> tuple[Broker, ScreeningConfig, str]:
    """(broker, the gate's screening settings, where they came from) from the command line; ValueError
    (ConfigError included) for anything unusable."""
    gate = args.gate_id
    if not valid_gate_id(gate):
        raise ValueError(f"invalid gate id {gate!r}: use lowercase letters, digits and hyphens")
    config_user = ""
    tls_ca = ""
    if args.config:
        from .site import gates as site_registry
        from .service.config import load_config

        cfg = load_config(args.config)
        variant = args.variant
        registry = site_registry.load_registry(cfg.site_dir)
        mounting = registry.gates[gate].screening if gate in registry.gates else {}
        if variant is None and gate in registry.gates:
            variant = registry.gates[gate].variant
        screening = cfg.screening_for(gate, variant, mounting)
        source = f"{args.config}"
        if args.broker is None:
            host, port, user, password = cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.user, cfg.mqtt.password
            tls_ca = cfg.mqtt.tls_ca
            config_user = user
        else:
            b = parse_broker(args.broker)
            host, port, user, password = b.host, b.port, b.username, b.password
    else:
        screening = ScreeningConfig(analysis=AnalysisConfig(variant=args.variant or Lens.NARROW))
        source = "defaults"
        b = parse_broker(args.broker or f"localhost:{DEFAULT_PORT}")
        host, port, user, password = b.host, b.port, b.username, b.password
    user = args.username if args.username is not None else (user or None)
    password = password_from_args(args, password or None)  # --password-file, $THERMOGATE_MQTT_PASSWORD, ...
    if config_user and user == config_user and not args.controller_login:
        raise ValueError(
            f"{args.config} logs in to the broker as {config_user!r}, the controller's user. A broker made by "
            f"`thermogate broker config` knows clients by their user name, so a second client logged in as "
            f"{config_user!r} disconnects the running controller (and they then knock each other off). Give "
            f"this watch a login of its own with --username and --password-file, or add --controller-login if the "
            f"controller is stopped")
    return Broker(host, port, user, password, tls_ca), screening, source


def gate_key_from_args(args: argparse.Namespace) -> bytes | None:
    """The gate's key K from the site of --config (registered or simulated gates), or None (no --config, a
    gate the site does not know, or secrets this user cannot read)."""
    if not args.config:
        return None
    from .service.config import load_config
    from .service.registry import load_gates

    try:
        gates = load_gates(load_config(args.config))
    except (ValueError, OSError):  # ConfigError, or secrets this user may not read: watch without checking
        return None
    info = gates.get(args.gate_id)
    return info.key if info is not None else None


# Ctrl-C and SIGTERM only set this; the loop below sees it within STOP_POLL_S and leaves by its own exit
# path. (A KeyboardInterrupt raised at an arbitrary point of the main thread can land between a lock's
# acquire and its ``with`` block, e.g. inside queue.get: the queue's lock then stays held, paho's thread
# blocks for ever in inbox.put, and link.close() waits for that thread: the process never exits.)
_STOP = threading.Event()
STOP_POLL_S = 0.2
LINK_CLOSE_S = 3.0  # paho's network thread is a daemon: past this the process exits without it


def _interrupt(_signum, _frame) -> None:
    _STOP.set()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The ``watch`` command: connect, then draw the gate's view until Ctrl-C, ``--frames`` or ``--once``."""
    out = out or sys.stdout
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"--frames must be at least 1, not {args.frames}")
    fixed = _parse_range(args.range)
    broker, screening, source = settings_from_args(args)
    mode = color_mode(args.colors, out, os.environ)
    timeout = args.timeout
    if timeout is None and (args.once or args.frames is not None):
        timeout = 30.0
    # The worker logs refused messages; here they are counted on screen instead of printed over the view.
    logging.getLogger("thermogate").addHandler(logging.NullHandler())
    logging.getLogger("thermogate").propagate = False
    key = gate_key_from_args(args)
    if key is None:  # shown in the title: what is drawn may come from anyone who can publish on the topics
        source = f"{source}; tags NOT checked (no key for this gate: give --config)"
    state = GateWatch(args.gate_id, screening, str(broker), source, key=key)
    state.fixed_range = fixed
    inbox: queue.Queue[tuple[str, bytes, float]] = queue.Queue()
    link = Link(broker, args.gate_id, inbox)
    try:
        link.connect()
    except LinkError as exc:
        print(f"thermogate watch: {exc}", file=sys.stderr)
        return 1
    isatty = getattr(out, "isatty", lambda: False)()
    term = Terminal(out, live=isatty and not args.once)
    _STOP.clear()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    last_draw = -math.inf
    dirty = True
    code = 0
    try:
        while not _STOP.is_set():
            now = time.monotonic()
            wait = min(STOP_POLL_S, max(0.0, last_draw + 1.0 / MAX_FPS - now) if dirty else 1.0)
            try:
                kind, payload, at = inbox.get(timeout=wait)
            except queue.Empty:
                pass
            else:
                dirty |= state.on_message(kind, payload, at)
                while args.frames is None or state.frames < args.frames:
                    try:
                        kind, payload, at = inbox.get_nowait()
                    except queue.Empty:
                        break
                    dirty |= state.on_message(kind, payload, at)
            now = time.monotonic()
            done = (args.once and state.has_image) or (args.frames is not None and state.frames >= args.frames)
            if done:
                term.draw(render_view(state.view(connected=link.connected, reconnects=link.reconnects,
                                                 result_readable=link.result_readable), mode))
                break
            if timeout is not None and now - started > timeout:
                what = "no image" if not state.has_image else f"{state.frames} frames"
                print(f"thermogate watch: {what} from gate {args.gate_id} on {broker} within {timeout:g} s "
                      f"(is the gate on, and publishing to this broker?)", file=sys.stderr)
                code = 1
                break
            due = now - last_draw >= 1.0 / MAX_FPS
            if due and (dirty or (term.live and now - last_draw >= 1.0)) and not args.once:
                if term.live or state.has_image:
                    term.draw(render_view(state.view(connected=link.connected, reconnects=link.reconnects,
                                                     result_readable=link.result_readable), mode))
                last_draw, dirty = now, False
    except KeyboardInterrupt:  # Ctrl-C where no handler of ours is installed (run() outside the main thread)
        code = 0
    finally:
        term.close()
        link.close(LINK_CLOSE_S)
        if previous is not None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return code


def add_command(commands) -> argparse.ArgumentParser:
    """Add ``watch`` to the subparsers ``commands`` of the main parser."""
    p = commands.add_parser(
        "watch", help="live terminal view of one gate's thermal image and screening, to aim its sensor",
        description="Connect to the broker, follow one gate's EEPROM, frames, status and results, run the frames "
                    "through the controller's screening pipeline, and draw the image in colour blocks with the "
                    "face box, face width, distance (with come-closer/step-back hints), reference source, "
                    "tracker state, latest decision and the gate's status, redrawn in place up to 8 times a "
                    "second. Ctrl-C quits. See docs/installation.md (\"Aiming the sensor\").")
    p.add_argument("gate_id", metavar="GATE", help="the gate id, e.g. north-1")
    add_broker_options(p)
    p.set_defaults(broker=None)  # None: from --config, else localhost:1883
    p.add_argument("--config", metavar="TOML",
                   help="controller.toml: its broker (unless --broker is given) and this gate's screening settings")
    p.add_argument("--controller-login", action="store_true",
                   help="use controller.toml's broker user even though that disconnects a running controller "
                        "on a broker that knows clients by user name (for when the controller is stopped)")
    p.add_argument("--variant", choices=Lens.choices(), default=None,
                   help="lens variant (default: the gate's in the site registry with --config, else 55)")
    colors = p.add_mutually_exclusive_group()
    colors.add_argument("--colors", choices=("auto", TRUECOLOR, PALETTE_256, NO_COLOR), default="auto",
                        help="colour escapes: auto (a terminal gets 256 colours, or truecolor if COLORTERM says so; "
                             "a pipe gets none), truecolor, 256, none")
    colors.add_argument("--no-color", dest="colors", action="store_const", const=NO_COLOR,
                        help="ASCII shading characters, no escapes (same as --colors none)")
    p.add_argument("--range", metavar="LOW:HIGH", help="fixed colour range in degC (default: each image's own)")
    p.add_argument("--once", action="store_true", help="print one view, once the first full image is in, and exit")
    p.add_argument("--frames", metavar="N", type=int, help="exit after N frames (subpages) from the gate")
    p.add_argument("--timeout", metavar="S", type=float, default=None,
                   help="give up (status 1) if --once or --frames has not finished in S seconds (default 30)")
    p.set_defaults(run=run)
    return p
