"""``thermogate watch``: the drawing (pure functions, image -> lines), the settings it takes from the
command line and controller.toml, and the command itself against a real mosquitto with virtual gates
(and the controller service) on it."""

from __future__ import annotations

import json
import math
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.cli import build_parser
from controller.protocol import UNVERIFIED
from controller.protocol.result import Decision
from controller.protocol.status import decode_status
from controller.screening.analysis import AnalysisConfig, FrameAnalysis
from controller.screening.config import ScreeningConfig, from_table
from controller.watch import cli as C
from controller.watch import render as W
from controller.watch import state as S

REPO = Path(__file__).resolve().parent.parent
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def visible(line: str) -> str:
    return ESCAPE.sub("", line)


def gradient() -> np.ndarray:
    """24 x 32 image from 20.0 degC (top left) to 36.0 degC (bottom right)."""
    r, c = np.mgrid[0:24, 0:32]
    return (20.0 + 16.0 * (r * 32 + c) / 767.0).astype(np.float32)


def analysis(**changes) -> FrameAnalysis:
    """A FrameAnalysis of one face at 0.6 m, everything in order; ``changes`` override fields."""
    base = FrameAnalysis(ambient_c=22.0, people=1, face_box=(6, 12, 15, 19), face_width_px=6.5, distance_m=0.6,
                         face_max_c=35.1, face_topk_c=34.9, forehead_c=34.0, touches_edge=False, glasses=False,
                         forehead_covered=False, hot_object=False, reference_c=34.9, reference_ok=True, offset_c=0.1,
                         faces=((8, 13, 14, 18),), reference_excess_c=0.05)  # faces[0]: the main face's skin
    return replace(base, **changes)


# ------------------------------------------------------------------------------------------- the image


@pytest.mark.parametrize("mode", W.MODES)
def test_the_image_is_24_rows_of_32_double_width_cells(mode):
    lines = W.render_image(gradient(), 20.0, 36.0, mode)
    assert len(lines) == 24
    assert all(len(visible(line)) == 64 for line in lines)


def test_colour_escapes_by_mode():
    image = gradient()
    true = "".join(W.render_image(image, 20.0, 36.0, W.TRUECOLOR))
    c256 = "".join(W.render_image(image, 20.0, 36.0, W.PALETTE_256))
    plain = "".join(W.render_image(image, 20.0, 36.0, W.NO_COLOR))
    assert "\x1b[48;2;" in true and "\x1b[48;5;" not in true
    assert "\x1b[48;5;" in c256 and "\x1b[48;2;" not in c256
    assert "\x1b" not in plain
    # The coolest pixel gets the map's first colour, the hottest its last (the console's ironbow map).
    first = W.sgr(W.TRUECOLOR, bg=tuple(W.IRONBOW[0]))
    last = W.sgr(W.TRUECOLOR, bg=tuple(W.IRONBOW[255]))
    assert tuple(W.IRONBOW[0]) == (0, 0, 0) and tuple(W.IRONBOW[255]) == (255, 255, 230)
    lines = W.render_image(image, 20.0, 36.0, W.TRUECOLOR)
    assert lines[0].startswith(first) and last in lines[23] and last not in lines[0]


def test_ascii_shading_runs_from_blank_to_at_sign():
    lines = W.render_image(gradient(), 20.0, 36.0, W.NO_COLOR)
    assert lines[0][:2] == "  " and lines[23][-2:] == "@@"
    order = W.SHADES
    cells = [lines[r][2 * c] for r in range(24) for c in range(32)]
    assert [order.index(ch) for ch in cells] == sorted(order.index(ch) for ch in cells)  # monotonic, like the image
    assert set(cells) == set(order)


def test_missing_pixels_show_as_no_reading():
    image = gradient()
    image[5, 7] = np.nan
    assert W.render_image(image, 20.0, 36.0, W.NO_COLOR)[5][14:16] == "??"
    assert W.sgr(W.TRUECOLOR, bg=W.NO_READING_RGB) in W.render_image(image, 20.0, 36.0, W.TRUECOLOR)[5]


def test_the_face_box_is_outlined_on_its_border_pixels():
    box = (5, 10, 12, 18)  # rows 5..11, columns 10..17
    lines = [visible(x) for x in W.render_image(np.full((24, 32), 22.0), 20.0, 36.0, W.TRUECOLOR,
                                                [W.Overlay(box, "face")])]
    assert lines[5][20:36] == "┌" + "─" * 14 + "┐"
    assert lines[11][20:36] == "└" + "─" * 14 + "┘"
    for r in range(6, 11):
        assert lines[r][20] == "│" and lines[r][35] == "│" and lines[r][21:35] == " " * 14
    assert lines[4].strip() == "" and lines[12].strip() == "" and lines[8][:20].strip() == ""
    # In colour, the outline is drawn in green over the pixels' own background.
    raw = W.render_image(np.full((24, 32), 22.0), 20.0, 36.0, W.TRUECOLOR, [W.Overlay(box, "face")])[5]
    assert "38;2;0;255;0" in raw
    ascii_lines = W.render_image(np.full((24, 32), 22.0), 20.0, 36.0, W.NO_COLOR, [W.Overlay(box, "face")])
    assert ascii_lines[5][20:36] == "+" + "-" * 14 + "+"
    assert ascii_lines[8][20] == "|" and ascii_lines[8][35] == "|"


def test_thin_boxes_stay_closed():
    g = W._GLYPHS_UNICODE
    assert W.box_cell(3, 4, (3, 4, 4, 5), g) == "[]"  # one pixel
    assert [W.box_cell(3, c, (3, 4, 4, 7), g) for c in (4, 5, 6)] == ["[─", "──", "─]"]  # one row
    assert [W.box_cell(r, 4, (3, 4, 6, 5), g) for r in (3, 4, 5)] == ["┌┐", "││", "└┘"]  # one column
    assert W.box_cell(4, 5, (3, 4, 6, 7), g) is None  # inside
    assert W.box_cell(2, 4, (3, 4, 6, 7), g) is None  # outside


def test_the_scale_bar_names_its_range_and_runs_the_colour_map():
    line = W.render_scale(21.3, 36.8, W.TRUECOLOR, width=20)
    text = visible(line)
    assert text.startswith(" 21.3 degC ") and text.endswith(" 36.8 degC") and len(text) == 11 + 20 + 11
    assert line.count("\x1b[48;2;") == 20
    assert W.sgr(W.TRUECOLOR, bg=tuple(W.IRONBOW[0])) in line and W.sgr(W.TRUECOLOR, bg=tuple(W.IRONBOW[255])) in line
    plain = W.render_scale(21.3, 36.8, W.NO_COLOR, width=10)
    assert "\x1b" not in plain and plain[11:21] == "".join(W._shade(round(i * 255 / 9)) for i in range(10))
    assert plain[11] == " " and plain[20] == "@"


def test_colour_range():
    image = gradient()
    assert W.color_range(image) == pytest.approx((20.0, 36.0))
    assert W.color_range(np.full((24, 32), 22.0)) == (22.0, 22.0 + W.MIN_SPAN_C)  # an empty room stays dark
    assert W.color_range(image, (18.0, 40.0)) == (18.0, 40.0)
    assert W.color_range(np.full((24, 32), np.nan)) == (20.0, 24.0)


def test_xterm_palette_index():
    assert W.xterm_index((0, 0, 0)) == 16
    assert W.xterm_index((255, 255, 255)) == 231
    assert W.xterm_index((255, 0, 0)) == 196
    assert W.xterm_index((128, 128, 128)) == 244  # the grey ramp, nearer than the cube's (135, 135, 135)
    assert 16 <= min(W.xterm_index(rgb) for rgb in W.IRONBOW) and max(W.xterm_index(rgb) for rgb in W.IRONBOW) <= 255


# ------------------------------------------------------------------------------------------- the panel


def test_distance_advice_follows_the_trackers_rules():
    config = ScreeningConfig()  # valid 0.25-1.3 m, faces at least MIN_FACE_PIXELS wide
    assert W.distance_advice(analysis(), config) == (True, "in range")
    assert W.distance_advice(analysis(distance_m=1.6, face_width_px=3.0), config) == (False, "too far: come closer")
    assert W.distance_advice(analysis(face_width_px=config.min_face_width_px - 0.5), config)[1] == \
        "too far: come closer"
    assert W.distance_advice(analysis(distance_m=0.2), config) == (False, "too close: step back")
    assert W.distance_advice(analysis(people=2), config)[1] == "two faces in view: one at a time"
    top = W.distance_advice(analysis(touches_edge=True, face_box=(0, 12, 8, 19)), config)[1]
    assert "top edge" in top
    assert "reference" in W.distance_advice(analysis(touches_edge=True), config)[1]
    assert W.distance_advice(None, config) == (False, "nobody in view")
    assert W.distance_advice(analysis(face_box=None, people=0, distance_m=None), config) == (False, "nobody in view")
    # The configured range decides, not a built-in one.
    assert W.distance_advice(analysis(distance_m=0.6), replace(config, distance_m=(0.7, 1.2)))[1] == \
        "too close: step back"


def _view(**changes) -> S.WatchView:
    status = decode_status(json.dumps({
        "v": 1, "gate": "north-1", "online": True, "boot": 7, "fw": "0.1.0", "uptime_s": 60, "rssi": -81,
        "heap_free": 90000, "frames": 480, "frames_unsent": 0, "fps": 8.0, "refresh_hz": 8.0, "sensor_ok": True,
        "i2c_errors": 0,
        "sensor_resets": 0, "relay": "locked", "door_openings": 0, "cmd_ok": 0, "cmd_refused": {},
        "mqtt_connects": 1}).encode(), UNVERIFIED)
    base = S.WatchView(gate="north-1", broker="mqtt://127.0.0.1:1883", config=ScreeningConfig(), now=100.0,
                       has_eeprom=True, status=status, status_at=99.0, frames=200, fps=7.9, sequence=200,
                       state="measuring", image=gradient(), analysis=analysis())
    return replace(base, **changes)



def test_the_view_carries_why_the_tracker_holds_the_person():
    """GateWatch.view takes ``held`` from the watch's own pipeline (Tracker.held): None before the EEPROM and
    while nobody waits, the tracker's reason otherwise."""
    from controller.protocol.binary import encode_eeprom
    from controller.sensor.synthetic import random_eeprom

    key = b"k" * 32
    watch = S.GateWatch("g-1", ScreeningConfig(), clock=lambda: 5.0, key=key)
    assert watch.view().held is None  # no EEPROM yet: no pipeline
    assert watch.on_message("eeprom", encode_eeprom(random_eeprom(np.random.default_rng(9)), 5,
                                                    key=watch.worker.key))
    assert watch.view().held is None
    watch.worker.pipeline.tracker.held = "readings_disagree"
    view = watch.view()
    assert view.held == "readings_disagree"
    assert f"tracker   {view.state.replace('_', ' ')}  (readings disagree)" in W.render_panel(view, W.NO_COLOR)

def test_the_panel_says_what_an_installer_needs():
    local = S.ShownDecision("PASS", "", 36.6, 4, "local", 99.5)
    lines = W.render_panel(_view(local=local), W.NO_COLOR)
    text = "\n".join(lines)
    assert "online  rssi -81 dBm (weak)  sensor ok  relay locked" in text
    assert "frames    7.9/s (gate says 8.0/s)  #200" in text
    assert "face      6.5 px wide (min 4), rows 6-14, cols 12-18" in text
    assert "distance  0.60 m  (valid 0.25-1.30 m)  OK, in range" in text
    assert "reference found, stable: reads 34.90 degC (set 35.0 degC, learned 35.00" in text
    assert "tracker   measuring\n" in text + "\n"  # nothing held the frame: no reason given
    assert "decision  PASS 36.6 degC person 4  (local, 0.5 s ago)  (no controller result yet)" in text
    held = "\n".join(W.render_panel(_view(local=local, held="readings_disagree"), W.NO_COLOR))
    assert "tracker   measuring  (readings disagree)" in held
    held = "\n".join(W.render_panel(_view(local=local, held="remove_glasses_hat"), W.NO_COLOR))
    assert "tracker   measuring  (remove glasses hat)" in held
    assert not any(line.startswith("local") for line in lines)

    controller = S.ShownDecision.from_result(json.dumps({"decision": "RETRY", "reason": "come_closer", "track": 5,
                                                         "estimate_c": None, "door": ""}).encode(), 98.0)
    text = "\n".join(W.render_panel(_view(local=local, controller=controller,
                                          analysis=analysis(distance_m=1.7, face_width_px=3.2)), W.NO_COLOR))
    assert "decision  RETRY come closer person 5  (controller, 2.0 s ago)" in text
    assert "local     PASS 36.6 degC person 4  (local, 0.5 s ago)" in text
    assert "distance  1.70 m  (valid 0.25-1.30 m)  too far: come closer" in text


def test_the_panel_names_the_faces_cues():
    text = "\n".join(W.render_panel(_view(analysis=analysis(glasses=True, lower_face_c=28.0)), W.NO_COLOR))
    # the lower face reads (28 - 22) / (34.9 - 22) = 0.47 of the way from the room to the eye band: a mask
    assert "people    1  cues: glasses, lower face cool (mask, or in from the cold)" in text
    low = "\n".join(W.render_panel(_view(analysis=analysis(eye_line_low=True, lower_face_c=33.5)), W.NO_COLOR))
    assert "people    1  cues: eye line low (eyes covered)\n" in low + "\n"
    bare = "\n".join(W.render_panel(_view(analysis=analysis(lower_face_c=33.5)), W.NO_COLOR))  # 0.89: skin
    assert "people    1\n" in bare + "\n" and "cues" not in bare
    assert "cues" not in "\n".join(W.render_panel(_view(), W.NO_COLOR))  # lower face not in view


def test_the_panel_flags_trouble():
    offline = decode_status(b'{"v":1,"gate":"north-1","online":false,"boot":7}', UNVERIFIED)
    text = "\n".join(W.render_panel(_view(status=offline, connected=False, reconnects=2, lost_frames=3,
                                          refused={"crc": 2},
                                          analysis=analysis(reference_ok=False, reference_excess_c=0.4)),
                                    W.NO_COLOR))
    assert "OFFLINE" in text and "broker connection lost" in text and "lost 3  refused 2" in text
    assert "broker reconnects 2" in text
    assert "found, NOT STABLE yet (variation 0.40 > 0.15)" in text
    noisy = analysis(reference_ok=False, reference_excess_c=0.4, reference_allowed_c=0.32)
    text = "\n".join(W.render_panel(_view(analysis=noisy), W.NO_COLOR))
    assert "found, NOT STABLE yet (variation 0.40 > 0.32 at this noise)" in text
    text = "\n".join(W.render_panel(_view(analysis=analysis(reference_c=math.nan, reference_ok=False)), W.NO_COLOR))
    assert "reference NOT FOUND" in text
    no_ref = ScreeningConfig(analysis=AnalysisConfig(reference_box=None))
    assert "reference not configured" in "\n".join(W.render_panel(_view(config=no_ref), W.NO_COLOR))


def test_the_panel_shows_the_sensor_offset_the_disc_told():
    def line(**config) -> str:
        cfg = ScreeningConfig(analysis=replace(AnalysisConfig(), **config))
        return next(x for x in W.render_panel(_view(analysis=analysis(), config=cfg), W.NO_COLOR)
                    if x.startswith("reference"))

    assert "the sensor's own offset +0.42 taken off too" in line(sensor_offset_c=0.42)
    assert "own offset" not in line(sensor_offset_c=0.42, apply_sensor_offset=False)
    assert "own offset" not in line()  # none told: nothing taken off
    # no reference in view: the offset the lens measurement read is taken off all the same
    assert "not configured; the sensor's own offset -0.31 taken off" in line(reference_box=None, sensor_offset_c=-0.31)
    assert line(reference_box=None).endswith("not configured")
    # the lens's offset with the drift since it was measured: both parts told
    drifted = from_table({"lens_offset_c": 0.45, "reference": {"box": [3, 3, 7, 7], "lens_drift_c": 0.12}}).analysis
    assert drifted.sensor_offset_c == pytest.approx(0.57) and drifted.lens_drift_c == pytest.approx(0.12)
    assert ("the sensor's own offset +0.57 (the lens measurement's +0.45, +0.12 of drift since) taken off too"
            in line(sensor_offset_c=drifted.sensor_offset_c, lens_drift_c=drifted.lens_drift_c))
    told = from_table({"lens_offset_c": 0.45, "reference": {"box": [3, 3, 7, 7], "sensor_offset_c": 0.2,
                                                            "lens_drift_c": 0.12}}).analysis
    assert told.lens_drift_c is None  # the disc's own offset comes first: no drift in it
    assert "drift since" not in line(sensor_offset_c=0.45, lens_drift_c=None)


def test_the_panel_shows_the_optics_the_estimate_takes():
    def line(**config) -> str:
        cfg = ScreeningConfig(analysis=replace(AnalysisConfig(), **config))
        return next(x for x in W.render_panel(_view(analysis=analysis(), config=cfg), W.NO_COLOR)
                    if x.startswith("optics"))

    assert "blur 0.40 px (nominal" in line() and "no wings configured" in line() and "calibrate lens" in line()
    measured = line(lens_blur_px=0.62, lens_wing_share=0.18, lens_wing_px=2.75)
    assert "blur 0.62 px (read on the disc; the lens not measured)" in measured
    assert "wings 18% of a point's energy, 2.75 px wide" in measured
    # The lens's core (calibrate lens) wherever it was measured, the disc's reading beside it
    assert "blur 0.50 px (the lens's core; the disc read 0.62)" in line(lens_blur_px=0.62, lens_core_px=0.5)
    assert "blur 0.50 px (the lens's core; the disc told none)" in line(lens_core_px=0.5)
    far = line(lens_blur_px=1.6, lens_core_px=0.6)
    assert "blur 0.60 px (the lens's core; the disc read 1.60" in far and "too small or too far" in far


def test_the_panel_asks_for_a_small_disc_learned_without_its_wall_to_be_learned_again():
    """A reading learned without the wall around the disc (before calibrate wrote background_c, or typed in) takes
    a room's change for the sensor's drift: as much of it as the disc is wall. The panel says so, and how much."""
    small = analysis(reference_fraction=0.4)

    def line(a, **config) -> str:
        cfg = ScreeningConfig(analysis=replace(AnalysisConfig(), **config))
        return next(x for x in W.render_panel(_view(analysis=a, config=cfg), W.NO_COLOR) if x.startswith("reference"))

    assert line(small).endswith("so a room 1 degC warmer reads as 0.60 degC of drift: learn it again "
                                "(`thermogate calibrate reference GATE`)")
    assert "learn it again" in line(replace(small, reference_status="held"))
    assert "learn it again" not in line(small, reference_background_c=21.5)  # learned with its wall: unmixed
    assert "wall around it 22.0 (learned 21.5)" in line(replace(small, reference_background_c=22.0),
                                                         reference_background_c=21.5)
    assert "learn it again" not in line(analysis(reference_fraction=0.95))  # nearly all disc: the wall hardly counts
    assert "learn it again" not in line(analysis())  # the share not known (no full window yet)
    assert "NOT LEARNED" in line(small, reference_apparent_c=None) and "learn it again" not in line(
        small, reference_apparent_c=None)


def test_the_panel_flags_a_gate_refreshing_below_4_hz():
    def frames(rate: float) -> str:
        status = replace(_view().status, refresh_hz=rate)
        return next(x for x in W.render_panel(_view(status=status), W.NO_COLOR) if x.startswith("frames"))

    assert "refresh 2 Hz: below 4 Hz few people are decided" in frames(2.0)
    assert "refresh 0.5 Hz" in frames(0.5)
    assert "refresh" not in frames(4.0) and "refresh" not in frames(8.0)
    assert "refresh" not in frames(0.0)  # a status that does not say


def test_the_panel_shows_the_sensors_noise_and_flags_a_noisy_one():
    """The noise of one reading as the gate's images show it, and as the datasheet states it (at 1 Hz: the noise
    grows as the square root of the rate); over NOISY_NETD_1HZ_C at 1 Hz, a warning. The rate is the status's,
    else the frames counted."""
    from controller.sensor.noise import NOISY_NETD_1HZ_C

    def noise(view) -> str:
        return next(x for x in W.render_panel(view, W.NO_COLOR) if x.startswith("noise"))

    assert noise(_view()) == "noise     not measured yet (about a second with nobody in view)"
    quiet = noise(_view(noise_c=0.34))
    assert quiet == "noise     0.34 degC a reading at 8 Hz (0.12 at 1 Hz; the datasheet's typical 0.1)"
    loud = 1.2 * NOISY_NETD_1HZ_C * math.sqrt(8.0)
    assert "noisy sensor (over 0.18 at 1 Hz): fewer people are decided, and later" in noise(_view(noise_c=loud))
    # the same readings from a sensor refreshing twice as fast are a quieter sensor
    fast = replace(_view().status, refresh_hz=16.0)
    assert "noisy" not in noise(_view(noise_c=loud, status=fast)) and "at 16 Hz" in noise(_view(status=fast,
                                                                                              noise_c=0.5))
    offline = replace(_view().status, online=False)
    assert "at 7.9 Hz" in noise(_view(noise_c=0.34, status=offline))  # no rate from the gate: the frames counted
    # the pixels' own offsets, where a flat field measured them (thermogate calibrate flat)
    rows = [[0.2 * (-1) ** (r + c) for c in range(32)] for r in range(24)]
    flat = ScreeningConfig(analysis=replace(ScreeningConfig().analysis, pixel_offsets_c=rows))
    assert noise(_view(noise_c=0.34, config=flat)).endswith("; the pixels' own offsets taken off (a flat field's, sd "
                                                            "0.20 degC)")
    assert "flat field" not in quiet


def test_the_whole_view_draws_image_scale_boxes_and_panel():
    lines = W.render_view(_view(), W.NO_COLOR)
    assert lines[0].startswith("thermogate watch north-1 on mqtt://127.0.0.1:1883")
    image = lines[1:25]
    assert len(image) == 24 and all(len(line) == 64 for line in image)
    assert image[6][24:38] == "+" + "-" * 12 + "+"  # the face, rows 6-14, columns 12-18
    assert image[3][6:14] == "*" + "~" * 6 + "*"  # the reference box (3, 3, 7, 7) in its own characters
    assert image[4][6] == "!" and image[4][13] == "!"
    assert sum(line.count("+") for line in image) == 4  # the face's corners only: its skin box is not drawn
    two = W.render_view(_view(analysis=analysis(people=2, faces=((8, 13, 14, 18), (4, 24, 9, 28)))), W.NO_COLOR)
    assert sum(line.count("+") for line in two[1:25]) == 8 and two[5][48:56] == "+" + "-" * 6 + "+"
    assert lines[25].startswith(" 20.0 degC ") and "36.0 degC" in lines[25]
    assert any(line.startswith("distance  0.60 m") for line in lines[26:])
    colour = W.render_view(_view(), W.PALETTE_256)
    assert len(colour) == len(lines) and "\x1b[48;5;" in colour[1]
    waiting = W.render_view(_view(image=None, analysis=None, has_eeprom=False), W.NO_COLOR)
    assert "waiting for the gate's EEPROM" in waiting[1]
    assert waiting[26].startswith("gate ") and lines[26].startswith("gate ")  # the panel stays where it was


def test_results_are_read_as_the_controller_writes_them():
    from controller.service.decisions import result_payload

    d = Decision("north-1", 12.5, "FEVER", "", 9, 38.24, face_c=36.1, distance_m=0.7, frames=5, sequence=400)
    shown = S.ShownDecision.from_result(result_payload(d, time.time(), 17, "uid", door="held"), 5.0)
    assert (shown.decision, shown.estimate_c, shown.track, shown.source, shown.door) == \
        ("FEVER", 38.24, 9, "controller", "held")
    for bad in (b"", b"not json", b"[]", b'{"decision": "MAYBE"}', b"\xff"):
        with pytest.raises(ValueError):
            S.ShownDecision.from_result(bad, 0.0)


def test_colour_mode_choice():
    class Tty:
        def isatty(self):
            return True

    class Pipe:
        def isatty(self):
            return False

    assert W.color_mode("auto", Pipe(), {}) == W.NO_COLOR
    assert W.color_mode("auto", Tty(), {}) == W.PALETTE_256
    assert W.color_mode("auto", Tty(), {"COLORTERM": "truecolor"}) == W.TRUECOLOR
    assert W.color_mode("auto", Tty(), {"NO_COLOR": "1", "COLORTERM": "truecolor"}) == W.NO_COLOR
    assert W.color_mode("auto", Tty(), {"TERM": "dumb"}) == W.NO_COLOR
    assert W.color_mode("truecolor", Pipe(), {}) == W.TRUECOLOR
    args = build_parser().parse_args(["watch", "north-1", "--no-color"])
    assert args.colors == W.NO_COLOR


# ------------------------------------------------------------------------------------------- settings


def _args(*argv: str):
    return build_parser().parse_args(["watch", *argv])


def test_settings_without_a_config():
    broker, screening, source = C.settings_from_args(_args("north-1", "--variant", "110"))
    assert (broker.host, broker.port, broker.username, broker.tls_ca) == ("localhost", 1883, None, "")
    assert screening.analysis.variant == "110" and screening == ScreeningConfig(
        analysis=AnalysisConfig(variant="110"))
    broker, _, _ = C.settings_from_args(_args("north-1", "--broker", "mqtt://u:p@10.0.0.5:1884", "--password", "q"))
    assert (broker.host, broker.port, broker.username, broker.password) == ("10.0.0.5", 1884, "u", "q")
    with pytest.raises(ValueError, match="invalid gate id"):
        C.settings_from_args(_args("North_1"))


def test_settings_from_controller_toml(tmp_path):
    from controller.site import gates as site

    site.add_gate(tmp_path / "site", "north-1", variant="110")
    config = tmp_path / "controller.toml"
    config.write_text(f"""
[mqtt]
host = "192.0.2.10"
port = 1999
[site]
dir = "{tmp_path / 'site'}"
[screening]
threshold_c = 37.5
[gates.north-1.screening]
distance_m = [0.3, 1.0]
""")
    broker, screening, source = C.settings_from_args(_args("north-1", "--config", str(config)))
    assert (broker.host, broker.port, broker.username) == ("192.0.2.10", 1999, None)
    assert screening.distance_m == (0.3, 1.0) and screening.threshold_c == 37.5
    assert screening.analysis.variant == "110"  # the gate's lens, from the site registry
    assert source == str(config)
    _, other, _ = C.settings_from_args(_args("south-2", "--config", str(config)))
    assert other.distance_m == ScreeningConfig().distance_m and other.analysis.variant == "55"
    broker, _, _ = C.settings_from_args(_args("north-1", "--config", str(config), "--broker", "127.0.0.1:1883"))
    assert (broker.host, broker.port) == ("127.0.0.1", 1883)
    config.write_text(config.read_text() + "\n[typo]\n")
    with pytest.raises(ValueError, match="unknown table"):
        C.settings_from_args(_args("north-1", "--config", str(config)))


def test_the_controllers_login_is_not_borrowed_by_accident(tmp_path):
    config = tmp_path / "controller.toml"
    config.write_text('[mqtt]\nhost = "127.0.0.1"\nuser = "controller"\npassword = "s3cret"\n')
    with pytest.raises(ValueError, match="disconnects the running controller"):
        C.settings_from_args(_args("north-1", "--config", str(config)))
    broker, _, _ = C.settings_from_args(_args("north-1", "--config", str(config), "--controller-login"))
    assert (broker.username, broker.password) == ("controller", "s3cret")
    broker, _, _ = C.settings_from_args(_args("north-1", "--config", str(config), "--username", "installer",
                                              "--password", "pw"))
    assert (broker.username, broker.password) == ("installer", "pw")


def test_an_installer_need_not_read_the_controllers_secrets(tmp_path):
    """watch and calibrate reference with --config and a login of their own read the gate's settings even where
    the controller's password file and the notifications' key files cannot be read (step 5 of
    docs/installation.md makes them the thermogate user's alone); the controller's own login reads its file, and
    says so when it cannot. A site whose gate keys cannot be read is watched unchecked, and the title says why."""
    from controller.site import gates as site

    site.add_gate(tmp_path / "site", "north-1", variant="110")
    config = tmp_path / "controller.toml"
    config.write_text(f"""
[mqtt]
host = "127.0.0.1"
user = "controller"
password_file = "{tmp_path / 'missing-password'}"
[site]
dir = "{tmp_path / 'site'}"
[notify.channels.group]
type = "wecom"
key_file = "{tmp_path / 'missing-key'}"
[gates.north-1.screening]
distance_m = [0.3, 1.0]
""")
    from controller.service.config import load_config

    with pytest.raises(ValueError, match="missing-password"):
        load_config(config)  # the controller itself still needs them all
    config_without_mqtt_secret = config.read_text().replace("password_file", "# password_file")
    (tmp_path / "other.toml").write_text(config_without_mqtt_secret)
    with pytest.raises(ValueError, match="missing-key"):
        load_config(tmp_path / "other.toml")
    broker, screening, _ = C.settings_from_args(_args("north-1", "--config", str(config), "--username", "watch",
                                                      "--password", "pw"))
    assert (broker.username, broker.password) == ("watch", "pw") and screening.distance_m == (0.3, 1.0)
    with pytest.raises(ValueError, match="missing-password"):
        C.settings_from_args(_args("north-1", "--config", str(config), "--controller-login"))
    key, why = C.gate_key_from_args(_args("north-1", "--config", str(config)))
    assert key is not None and why == ""
    (tmp_path / "site" / site.SECRETS_FILE).write_text("not toml [")
    key, why = C.gate_key_from_args(_args("north-1", "--config", str(config)))
    assert key is None and "gate keys could not be read" in why
    key, why = C.gate_key_from_args(_args("north-1"))
    assert key is None and "give --config" in why


# ------------------------------------------------------------------------------------------- end to end


def _watch_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "controller.cli", "watch", *argv]


def _views(output: str) -> list[list[str]]:
    return [block.split("\n") for block in output.split("\n\n") if block.startswith("thermogate watch")]


@pytest.fixture(scope="module")
def kernels_compiled() -> None:
    """The analysis kernels compiled into numba's on-disk cache before a live test starts its gates: a
    ``thermogate watch`` that compiles them itself (a fresh checkout, a test run on its own) spends its first
    seconds doing so and draws only the latest frame after them, while the virtual gates run in real time
    past the moments the test looks for."""
    from controller.screening.offline import analyze_recording
    from sim.synth import scenario_recording

    analyze_recording(scenario_recording("normal_queue", 1.0, seed=0))


DISTANCE = re.compile(r"^distance  (\d+\.\d\d) m  \(valid 0\.25-1\.30 m\)  (.*)$")
SEQUENCE = re.compile(r"^frames .*  #(\d+)  lost")


@pytest.mark.slow  # 21 s on a shared 2-core machine (make test-fast leaves it out)
def test_watch_shows_the_image_and_the_distance_of_a_person(mqtt_broker, virtual_gates, kernels_compiled):
    gates = virtual_gates(1, "normal_queue", seed=0)  # the first person stands at the mark 5-6.5 s in
    proc = subprocess.run(_watch_command("sim-1", "--broker", f"{mqtt_broker.host}:{mqtt_broker.port}",
                                         "--frames", "64", "--no-color", "--timeout", "60"),
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    views = _views(proc.stdout)
    assert len(views) >= 10
    for view in views:
        assert all(len(line) == 64 for line in view[1:25]), view  # 24 rows of 32 double-width cells
        assert re.match(r"^ *\d+\.\d degC .* \d+\.\d degC", view[25])
    ranged = []
    for view in views:
        distance = [DISTANCE.match(line) for line in view if DISTANCE.match(line)]
        sequence = [int(m.group(1)) for line in view for m in [SEQUENCE.match(line)] if m]
        if distance and sequence:
            ranged.append((float(distance[0].group(1)), distance[0].group(2), sequence[0], view))
    assert ranged, proc.stdout[-3000:]
    # Where the gate's ground truth has someone standing at the mark, the watch shows their distance, in range,
    # and a face box around them.
    standing = [(d, advice, gates[0].truth[seq]["people"], view) for d, advice, seq, view in ranged
                if seq in gates[0].truth and any(p["phase"] == "standing" for p in gates[0].truth[seq]["people"])]
    assert standing, [(d, s) for d, _a, s, _v in ranged]
    for d, advice, people, view in standing:
        truth = next(p for p in people if p["phase"] == "standing")
        assert abs(d / truth["distance_m"] - 1.0) <= 0.20, (d, truth["distance_m"])
        assert advice == "OK, in range"
        assert sum(line.count("+") for line in view[1:25]) >= 4  # the face's four corners
    # The sensor's noise, measured on the gate's images: the virtual sensor's (0.1 K at 1 Hz at the array's
    # centre, noisier towards its corners: 0.33 degC a reading at 8 Hz over the array).
    noise = [re.match(r"^noise +(\d+\.\d+) degC a reading at 8 Hz", line) for line in views[-1]]
    measured = [float(m.group(1)) for m in noise if m]
    assert measured and 0.25 <= measured[0] <= 0.45, views[-1]


def test_watch_shows_the_controllers_decisions(tmp_path, mqtt_broker, virtual_gates, mqtt_watch, kernels_compiled):
    from controller.service.config import load_config
    from controller.service.service import ControllerService
    from controller_harness import write_config

    results = mqtt_watch("thermogate/sim-1/result")
    config = write_config(tmp_path, mqtt_broker, ["sim-1"])
    service = ControllerService(load_config(config)).start()
    try:
        assert service.dispatcher.connected.wait(10)
        virtual_gates(1, "normal_queue", seed=0)
        proc = subprocess.run(_watch_command("sim-1", "--config", str(config), "--frames", "80", "--no-color",
                                             "--timeout", "60"),
                              cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        service.stop()
    assert proc.returncode == 0, proc.stderr
    assert f"on mqtt://{mqtt_broker.host}:{mqtt_broker.port}" in proc.stdout  # the broker from controller.toml
    published = [json.loads(p) for _t, p in results.messages("thermogate/sim-1/result")]
    assert published, "the controller decided nothing: the test shows nothing"
    last = _views(proc.stdout)[-1]
    decision = next(line for line in last if line.startswith("decision  "))
    assert "(controller, " in decision, last
    words = {f"{r['decision']} {r['estimate_c']:.1f} degC" if r["estimate_c"] is not None else r["decision"]
             for r in published}
    assert any(decision.startswith(f"decision  {w}") for w in words), (decision, words)
    assert any(line.startswith("local     ") for line in last)


class _Drain:
    """A child's pipe read in a thread, so that it never fills, and what it said kept for a failure."""

    def __init__(self, pipe):
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self._thread.start()

    def _run(self, pipe) -> None:
        for chunk in iter(lambda: pipe.read1(65536), b""):
            self._chunks.append(chunk)

    def text(self) -> str:
        self._thread.join(2)
        return b"".join(self._chunks).decode("utf-8", errors="replace")


def _read_until(fd: int, done, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(out):
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed its side
                break
            if not chunk:
                break
            out += chunk
    return out


def test_live_view_redraws_in_place_and_ctrl_c_restores_the_cursor(mqtt_broker, virtual_gates, kernels_compiled):
    virtual_gates(1, "normal_queue", seed=1)
    master, slave = pty.openpty()
    # PYTHONFAULTHANDLER: a watch that does not exit is sent SIGABRT below and prints every thread's stack.
    env = dict(os.environ, COLORTERM="", NO_COLOR="", TERM="xterm-256color", LINES="50", COLUMNS="100",
               PYTHONFAULTHANDLER="1")
    proc = subprocess.Popen(_watch_command("sim-1", "--broker", f"{mqtt_broker.host}:{mqtt_broker.port}"),
                            cwd=REPO, stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    os.close(slave)
    stderr = _Drain(proc.stderr)  # read all along: a full pipe must not be what stops it
    try:
        # Three redraws with an image in them, then Ctrl-C (SIGINT, as the terminal sends it).
        out = _read_until(master, lambda b: b.count(W.HOME.encode()) >= 3 and b"\x1b[48;5;" in b.split(
            W.HOME.encode())[-2], 60)
        proc.send_signal(signal.SIGINT)
        out += _read_until(master, lambda b: W.SHOW_CURSOR.encode() in b, 15)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler: the stack of every thread, to stderr
            proc.wait(10)
            pytest.fail(f"watch did not exit within 15 s of Ctrl-C; cursor shown: "
                        f"{W.SHOW_CURSOR.encode() in out}; its stderr:\n{stderr.text()}")
        assert code == 0, stderr.text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode("utf-8", errors="replace")
    assert text.startswith(W.HIDE_CURSOR + W.CLEAR_SCREEN)
    assert text.count(W.CLEAR_SCREEN) == 1  # cleared once; every redraw goes home and overwrites
    assert text.count(W.HOME) >= 3 and "\x1b[48;5;" in text  # 256 colours unless COLORTERM says truecolor
    # Ctrl-C ends with the last view drawn whole once more (a redraw it cut short is repaired), then the cursor.
    assert text.rstrip("\r\n").endswith(W.CLEAR_BELOW + W.RESET + W.SHOW_CURSOR)
    frame = next(f for f in text.split(W.HOME)[1:] if "\x1b[48;5;" in f)  # the first redraw with an image
    rows = [visible(line) for line in frame.replace("\r", "").split("\n")]
    assert rows[0].startswith("thermogate watch sim-1") and all(len(r) == 64 for r in rows[1:25])


def test_no_broker_and_no_gate_are_clear_failures(mqtt_broker):
    refused = subprocess.run(_watch_command("sim-1", "--broker", "127.0.0.1:1", "--once"), cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "cannot connect to the MQTT broker at mqtt://127.0.0.1:1" in refused.stderr
    silent = subprocess.run(_watch_command("sim-9", "--broker", f"{mqtt_broker.host}:{mqtt_broker.port}", "--once",
                                           "--timeout", "2"), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert silent.returncode == 1 and "no image from gate sim-9" in silent.stderr and silent.stdout == ""
