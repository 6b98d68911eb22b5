"""Accuracy benchmark: `make bench-accuracy`.

Screening accuracy in two simulated worlds (sim/scenes/world.py), side by
side, for each lens:

- DEV, the world the product may be developed against;
- HELD_OUT, with wider ranges and its own seeds, which nothing in the product
  may be tuned on.

Each run is a `school_queue` (a school's queue: 60 % afebrile, 15 % at
37.3-37.8 degC, 25 % at 37.8-40.0 degC core) whose optics, sensor errors,
reference source, room, mounting and people are drawn from the world. The
gate is set up as an installer following docs/installation.md would: lens,
its wings and the sensor's own offset as `thermogate calibrate lens`
measures them with the run's disc on its own lens and sensor
(:func:`measured_lens`; `--tell-wings`, `--tell-offset` and `--tell-blur` change that), where the
reference is and its set point (or, with none in view,
`require_reference = false`), and the mounting. The recording goes through
the real pipeline offline; every person who stood at the mark is scored by
their first PASS/FEVER (docs/estimation.md, "How well it works").

In scope means: reference in view, mark at 0.3-0.6 m, room at 18-28 degC.
The targets apply to HELD_OUT in scope; the `met` column says whether they
hold there. The same table is printed twice: over that scope as the issue words
it, and over its part whose reference is as big and as near as
docs/installation.md's size table requires for the lens (its reading reaches
`reference_min_fraction` of its set-point contrast at the worst placement,
``reference_source.reading_fraction``): a gate whose disc the documentation
says is too small is BLOCKED `reference_too_small` by design. Then, for each
world and lens, what became of the people in scope: decided, or the last
RETRY/BLOCKED they were given (with how learning the reference went).

Each gate is then commissioned as docs/installation.md ("Commissioning: the
site offset") says, and its people screened again: the two target tables
give, below the figures as installed, the same people at the same gates
with the fitted ``site_offset_c`` (:func:`commission`: people of sessions
of their own at the same gate, a nurse's clinical readings of those the
gate decided, the product's own offline fit). ``--readings 0`` skips it.

Below the targets, per world and lens, the decided people's error is split
in two (:func:`error_split`): what the product's body model gives from each
person's true apparent eye band in the true room (the physiology the study's
data leaves unexplained, and the skin's emissivity: what a perfect sensor and
perfect optics would still get wrong), and the estimate against that (the
sensor, the optics, the analysis and the site offset).

    python bench/bench_accuracy.py [--people 720] [--worlds dev,held-out] [--lenses 110,55] [--jobs 2]
                                   [--eye-band canthus_region]
                                   [--apply-sensor-offset true|false] [--factors] [--holds]
                                   [--readings 20] [--refresh-hz 8] [--stable-frames 5]
                                   [--save FILE] [--compare FILE]
                                   [--dev-wings SHARE:PX] [--tell-wings [HOW]] [--tell-offset HOW]
                                   [--tell-blur measured|true]
                                   [--dev-noise NETD:OFFSET_SD] [--stand S0:S1] [--wait-for-result]
                                   [--noise-draw K] [--noise-draws N]

``--dev-wings`` gives every DEV lens wings (HELD_OUT keeps its own); ``--tell-wings``, ``--tell-offset`` and
``--tell-blur`` set what the installer configures from the lens measurement instead of what it measures: the
lens's true wings or wings as given (the lens still measured, its core and offset configured), or none (the lens
not measured at all); the sensor's true offset in its place, or none; the lens's true core blur in place of both
measured blurs (the reference disc's and the lens's core). They are diagnostics, what each measurement's error
costs (docs/estimation.md, "DEV given wings", "What HELD_OUT's gates share"). ``--dev-noise`` gives every DEV sensor
the noise NETD (degC at a 1 Hz refresh, at the array's centre) and per-pixel offsets of OFFSET_SD (degC), the
runs otherwise as drawn: what the sensor's noise costs (docs/estimation.md, "The sensor's noise").
``--stand`` has the people of every world stand on the mark for S0-S1 s (default 1-2 s, both worlds'), each
person's slot longer by as much: what people who stand longer would get (docs/estimation.md,
"Told to wait indoors, then passed"). ``--wait-for-result`` closes the loop between the gate and its people
(sim/waiting.py): each run is screened while it is rendered, and a person walks on 0.5 s after a PASS, a FEVER or
RETRY ``wait_indoors``, and otherwise stands their full time (their patience: with ``--stand``, S0-S1 s), as at
a door that opens only on a PASS (docs/estimation.md, "People who wait for their result"). ``--noise-draw K``
(K >= 1) renders the same runs with a fresh draw of every sensor's noise over time, nothing else changed: how
far each figure moves with the noise alone (docs/estimation.md, "How far the figures move with the noise").
``--noise-draws N`` renders every run through N draws (K to K + N - 1): the tables are of draw K, and below
them, per lens, each target over every draw, their mean and in how many draws it is met. ``--save`` keeps every
draw's people and ``--compare`` pairs them draw by draw.

``--refresh-hz`` records every gate, and its commissioning sessions, at that
rate (default 8, the firmware's). ``--eye-band`` sets ``[screening] eye_band`` and ``--apply-sensor-offset``
``[screening.reference] apply_sensor_offset`` for every gate (default: the
config's defaults) and ``--stable-frames`` ``[screening] stable_frames``.
``--save FILE`` writes every person's outcome (JSON lines) and ``--compare FILE`` compares this run with such a
file person by person (the same options; the people are the same, keyed by world, lens, run and person): how
many people changed, decisions and febrile PASSes before and after, and who changed. A figure over a few dozen
people (the 90th percentile of 71 people's times) can move with one person; this shows it.
``--factors`` adds, per world and lens, the people in scope split by one
factor at a time (the lens blur, the blur the gate estimates with against
the lens's, the face's distance, mask, glasses, hair, the reference's size,
the sensor's common offset and gain, whether the disc told that offset, the
sensor's noise as the gate measured it, the room, children and adults), with
the share of them decided, the decided people's mean error and its spread
and their still -> decision 90th percentile in each group: where the error
comes from, and whom the rules leave undecided. ``--holds`` adds, per world and
lens, what held the decided people's frames from standing still to their
decision (the tracker's reason for each frame that decided nothing,
``Tracker.held``: the window still filling, readings that disagree, the face
still settling onto the mark, or a RETRY or BLOCKED reason whether or not the
person was told), frames a person, for those decided after the time target
(LATE_S) and the others: what the 90th percentile is made of.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.calibrate.cli import fit_recordings  # noqa: E402
from controller.geometry import face_width_pixels, pixels_across  # noqa: E402
from controller.screening.analysis import AnalysisConfig  # noqa: E402
from controller.screening.config import ScreeningConfig, lens_offset_with_drift  # noqa: E402
from controller.screening.estimate import estimate_core_c  # noqa: E402
from controller.screening.flat_field import FlatFieldError, measure_flat_field  # noqa: E402
from controller.screening.lens_measurement import LensMeasurementError  # noqa: E402
from controller.screening.lens_wings import check_wings  # noqa: E402
from controller.screening.offline import analyze_recording, first_standing, truth_for  # noqa: E402
from controller.screening.reference_source import reading_fraction  # noqa: E402
from controller.screening.site_calibration import MORE_READINGS_ANSWER  # noqa: E402
from controller.service.calibration import reference_images_recording  # noqa: E402
from sim.scenarios import scenario  # noqa: E402
from sim.scenes import PersonPlan  # noqa: E402
from sim.scenes.lens_target import drawn_target, measure_as_told  # noqa: E402
from sim.scenes.physiology import normal_core_c  # noqa: E402
from sim.scenes.scene import stable_key  # noqa: E402
from sim.scenes.world import DEV, HELD_OUT, IN_SCOPE_MARK_M, IN_SCOPE_ROOM_C, World, world_named  # noqa: E402
from sim.synth import flat_field_recording, scenario_recording  # noqa: E402
from sim.waiting import screen_waiting  # noqa: E402

KIND = "school_queue"
PEOPLE_PER_RUN = 12
FEVER_C = 37.8  # sensitivity: core at or above
AFEBRILE_C = 36.8  # specificity: core at or below
NEVER_PASS_C = 37.3  # nobody at or above may ever be given PASS
LATE_S = 1.0  # standing still to a decision, at the 90th percentile

# Commissioning (docs/installation.md, "Commissioning: the site offset"): after `calibrate reference`, the school
# nurse takes a clinical reading of COMMISSION_READINGS people the gate gave a PASS or FEVER, and the installer runs
# `thermogate calibrate GATE --readings`. The people come in sessions of COMMISSION_SESSION_PEOPLE, each a separate
# recording at the same gate (same optics, sensor and its errors, reference, room, mounting), its people drawn
# under the session's own name (sim/scenarios.py, ``session``): none of them is one of the evaluation's people.
COMMISSION_READINGS = 20
COMMISSION_SESSION_PEOPLE = 12
COMMISSION_MAX_SESSIONS = 8  # 96 people: a morning's arrivals at one gate; the nurse stops there
# When the fit has too few readings or its standard error is over the check's, she reads on to what the command asks
# (docs/installation.md, step 3), up to this many in all (40 readings give a standard error of about 0.12 degC) ...
COMMISSION_MAX_READINGS = 40
COMMISSION_MORE_SESSIONS = 16  # ... in sessions up to this many in all: a second morning at a gate that decides few
COMMISSION_GAP = timedelta(minutes=30)  # between sessions, so that their clocks never overlap in the pooled fit
# A clinical thermometer's reading against the body temperature: an oral electronic thermometer's error is about
# 0.3 degC sd, no bias (the 95 % limits of agreement of peripheral against core thermometry, about +-0.6 degC:
# Niven et al., Ann Intern Med 2015;163:768-777); shown to 0.1 degC.
THERMOMETER_SD_C = 0.3
NURSE_DELAY_S = (0.5, 3.0)  # she reads the time off her watch this long after the gate's result ...
NURSE_WATCH_S = (-10.0, 10.0)  # ... and her watch is this far off the gate's clock (the fit takes the lag out)


@dataclass(frozen=True)
class Commissioning:
    """One gate's commissioning session(s) (:func:`commission`)."""

    note: str  # "fitted", or why not
    people: int = 0  # people screened during commissioning
    readings: int = 0  # clinical readings the nurse took (one per person given a PASS or FEVER)
    used: int = 0  # readings the fit used (outliers left out)
    outliers: int = 0
    offset_c: float = 0.0  # the site_offset_c written (0.0 when not fitted)
    standard_error_c: float = math.nan  # as the command reports it
    sheet: tuple[tuple[str, float], ...] = ()  # the nurse's sheet: (time as written, clinical_c)
    failed: tuple[str, ...] = ()  # the checks a fit that was not stored failed (SiteCalibration.failed_checks)


@dataclass(frozen=True)
class Outcome:
    """One person who stood at the mark, and what the gate made of them."""

    world: str
    lens: str
    run: int
    core_c: float
    decision: str | None  # the first PASS or FEVER, None when there was none
    estimate_c: float | None
    latency_s: float | None  # first PASS/FEVER minus the first frame standing still (negative: decided walking)
    ever_pass: bool
    mark_m: float
    room_c: float
    reference: bool
    reference_px: float = math.nan  # the reference disc's apparent diameter, pixels (NaN: none in view)
    reasons: tuple[str, ...] = ()  # the RETRY/BLOCKED reasons this person was given
    learned: str = ""  # how learning the reference went: "learned", the LearningError's reason, or "none"
    reference_documented: bool = False  # the disc is as big and as near as docs/installation.md's table requires
    blur_px: float = math.nan  # the run's lens blur (Gaussian sigma, pixels)
    sensor_offset_c: float = math.nan  # the run's common sensor offset
    offset_told: bool = False  # the disc told the sensor's offset when its reading was learned (and it is applied
    # unless apply_sensor_offset is false)
    sight_m: float = math.nan  # the person's line-of-sight distance when first standing
    mask: bool = False
    glasses: bool = False
    cover: str | None = None
    from_cold: bool = False
    adult: bool = False
    commissioned: bool = False  # screened with the site offset fitted at commissioning (see :func:`commission`)
    commissioning: Commissioning | None = None  # how the run's commissioning went
    body_model_c: float = math.nan  # the product's body model on this person's true apparent eye band and the true
    # room when they were decided (what a perfect sensor and optics would give; :func:`body_model_on_truth`)
    person: int = -1  # the person's id in the run (the scene's), which --compare matches people by
    wing_share: float = 0.0  # the share of the energy the run's lens carries in its wide wings (0: a Gaussian)
    sensor_gain: float = 0.0  # the run's sensor gain error (a share of the reading minus the die's temperature)
    blur_used_px: float = math.nan  # the blur the gate estimates with (AnalysisConfig.face_blur_px; NaN: nominal)
    noise_c: float = math.nan  # the sensor's noise of one reading as the gate measured it (controller.sensor.noise)
    # what held their frames from standing still to their first PASS/FEVER (Tracker.held, frames of each; decided
    # people only): --holds prints it
    holds: tuple[tuple[str, int], ...] = ()
    noise_draw: int = 0  # the draw of the sensors' noise over time the run was rendered with (--noise-draw(s))
    mix_model_c: float = math.nan  # the body model on this person's true band and forehead, mixed as the gate's
    # optics terms take the reading, when they were decided (:func:`mix_model_on_truth`; NaN: not decided)
    face_scale: float = 1.0  # the person's head against the 15 cm face the product assumes
    lateral_m: float = math.nan  # how far beside the sensor's axis they stood, first standing

    @property
    def in_documented_scope(self) -> bool:
        """In scope, and the reference meets the documented size requirement for this lens."""
        return self.in_scope and self.reference_documented

    @property
    def in_scope(self) -> bool:
        return (self.reference and IN_SCOPE_MARK_M[0] <= self.mark_m <= IN_SCOPE_MARK_M[1]
                and IN_SCOPE_ROOM_C[0] <= self.room_c <= IN_SCOPE_ROOM_C[1])


# ---- the metrics (tests/test_worlds.py checks them on a hand-made table) ----------------------------------------

def mae(rows: list[Outcome]) -> float:
    e = [r.estimate_c - r.core_c for r in rows if r.decision is not None]
    return float(np.mean(np.abs(e))) if e else math.nan


def bias(rows: list[Outcome]) -> float:
    e = [r.estimate_c - r.core_c for r in rows if r.decision is not None]
    return float(np.mean(e)) if e else math.nan


def slope(rows: list[Outcome]) -> float:
    """Least-squares slope of estimate against core over the decided; NaN with fewer than 3 or no spread."""
    pts = [(r.core_c, r.estimate_c) for r in rows if r.decision is not None]
    if len(pts) < 3:
        return math.nan
    x, y = np.array(pts).T
    sxx = float(np.sum((x - x.mean()) ** 2))
    return float(np.sum((x - x.mean()) * (y - y.mean())) / sxx) if sxx > 0 else math.nan


def sensitivity(rows: list[Outcome]) -> tuple[float, int]:
    """(share called FEVER, n) among the decided with core >= 37.8."""
    hot = [r.decision == "FEVER" for r in rows if r.decision is not None and r.core_c >= FEVER_C]
    return (float(np.mean(hot)) if hot else math.nan), len(hot)


def specificity(rows: list[Outcome]) -> tuple[float, int]:
    """(share called PASS, n) among the decided with core <= 36.8."""
    cool = [r.decision == "PASS" for r in rows if r.decision is not None and r.core_c <= AFEBRILE_C]
    return (float(np.mean(cool)) if cool else math.nan), len(cool)


def passed_febrile(rows: list[Outcome]) -> int:
    """People with core >= 37.3 given PASS at any time."""
    return sum(1 for r in rows if r.ever_pass and r.core_c >= NEVER_PASS_C)


def share_decided(rows: list[Outcome]) -> float:
    return float(np.mean([r.decision is not None for r in rows])) if rows else math.nan


def latency_p90(rows: list[Outcome]) -> float:
    """90th percentile of standing still -> first PASS/FEVER (a decision made walking counts as 0 s)."""
    lat = [max(r.latency_s, 0.0) for r in rows if r.latency_s is not None]
    return float(np.percentile(lat, 90)) if lat else math.nan


def decided_walking(rows: list[Outcome]) -> int:
    return sum(1 for r in rows if r.latency_s is not None and r.latency_s < 0)


@dataclass(frozen=True)
class Target:
    label: str
    text: str
    value: object  # Outcome rows -> the measured figure
    met: object  # figure -> bool


def _first(v):
    return v[0] if isinstance(v, tuple) else v


TARGETS = (
    Target("MAE degC", "<= 0.30", mae, lambda v: v <= 0.30),
    Target("bias degC", "|b| <= 0.10", bias, lambda v: abs(v) <= 0.10),
    Target("slope", "0.97-1.03", slope, lambda v: 0.97 <= v <= 1.03),
    Target("sensitivity (>= 37.8)", ">= 0.97", sensitivity, lambda v: v[0] >= 0.97),
    Target("specificity (<= 36.8)", ">= 0.97", specificity, lambda v: v[0] >= 0.97),
    Target("PASS with core >= 37.3", "0", passed_febrile, lambda v: v == 0),
    Target("share decided", "(reported)", share_decided, None),
    Target("decided while walking", "(reported)", decided_walking, None),
    Target("still -> decision p90 s", f"<= {LATE_S:.1f}", latency_p90, lambda v: v <= LATE_S),
)


def met(target: Target, value) -> str:
    if target.met is None:
        return ""
    v = _first(value)
    if isinstance(v, float) and math.isnan(v):
        return "not met"
    return "met" if target.met(value) else "not met"


def fmt(value) -> str:
    if isinstance(value, tuple):
        v, n = value
        return f"{fmt(v)} ({n})"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "-"
    return f"{value:.3f}"


def error_split(rows: list[Outcome]) -> dict[str, tuple[int, float, float, float]]:
    """Where the decided people's error (estimate - core) comes from: ``"body model"``, the product's body model
    on each person's true apparent eye band (``body_model_c - core``: the physiology the study's data leaves
    unexplained, which no sensor or optics can remove), and ``"the rest"``, the estimate against that
    (``estimate - body_model_c``: the sensor, the optics, the analysis and any site offset). Each as (n, bias, sd,
    MAE) over the decided whose ``body_model_c`` is known; n 0 and NaN without any."""
    pairs = [(r.body_model_c - r.core_c, r.estimate_c - r.body_model_c) for r in rows
             if r.decision is not None and r.estimate_c is not None and math.isfinite(r.body_model_c)]
    out = {}
    for i, name in enumerate(("body model", "the rest")):
        e = np.array([p[i] for p in pairs])
        out[name] = ((len(e), float(e.mean()), float(e.std(ddof=1)) if len(e) > 1 else math.nan,
                      float(np.abs(e).mean())) if len(e) else (0, math.nan, math.nan, math.nan))
    return out


def _rests(rows: list[Outcome]) -> list[tuple[Outcome, float]]:
    return [(r, r.estimate_c - r.body_model_c) for r in rows
            if r.decision is not None and r.estimate_c is not None and math.isfinite(r.body_model_c)]


def rest_between_gates(rows: list[Outcome]) -> tuple[int, float, float]:
    """How the rest (:func:`error_split`) spreads: (gates, between, within). A gate is one run (its draws of the
    sensor's noise are the same gate and people), each person in it counted once, at the mean of their rest over
    the draws they were decided in; a gate counts where two or more of its people are. ``within`` is the root
    mean square of the sd between a gate's people (ddof 1); ``between`` is the sd of the gates' means less what
    their people's number explains (the variance of the means less the mean of within-variance / n, 0 where that
    is negative): the part of the rest a gate's people share, which a site offset fitted per gate would take out.
    (0, NaN, NaN) with fewer than two such gates."""
    by_person: dict[tuple, list[float]] = {}
    for r, e in _rests(rows):
        by_person.setdefault((r.world, r.lens, r.run, r.person), []).append(e)
    by_gate: dict[tuple, list[float]] = {}
    for (world, lens, run, _), v in by_person.items():
        by_gate.setdefault((world, lens, run), []).append(float(np.mean(v)))
    gates, within, between = one_way(list(by_gate.values()))
    return gates, between, within


def one_way(groups: list[list[float]]) -> tuple[int, float, float]:
    """A one-way analysis of variance of ``groups`` with two or more members: (groups, the root mean square sd
    within a group (ddof 1), the sd of the groups' means less what the within-group spread explains of it, 0
    where that is negative). (0, NaN, NaN) with fewer than two such groups."""
    kept = [np.array(g, dtype=float) for g in groups if len(g) >= 2]
    if len(kept) < 2:
        return 0, math.nan, math.nan
    within = np.array([g.var(ddof=1) for g in kept])
    means = np.array([g.mean() for g in kept])
    between = means.var(ddof=1) - float(np.mean(within / np.array([len(g) for g in kept])))
    return len(kept), math.sqrt(float(within.mean())), math.sqrt(max(between, 0.0))


def mix_split(rows: list[Outcome]) -> dict[str, tuple[int, float, float]]:
    """The rest (:func:`error_split`) split once more, over the decided whose ``mix_model_c`` is known: ``"the
    face's mix"``, the body model on the truth mixed as the optics terms take the reading against the band's
    alone (``mix_model_c - body_model_c``: the physiology of the forehead's share), and ``"sensor and optics"``,
    the estimate against that (``estimate - mix_model_c``). Each (n, mean, sd); n 0 and NaN without any."""
    pairs = [(r.mix_model_c - r.body_model_c, r.estimate_c - r.mix_model_c) for r, _ in _rests(rows)
             if math.isfinite(r.mix_model_c)]
    out = {}
    for i, name in enumerate(("the face's mix", "sensor and optics")):
        e = np.array([p[i] for p in pairs])
        out[name] = (len(e), float(e.mean()) if len(e) else math.nan, float(e.std(ddof=1)) if len(e) > 1 else math.nan)
    return out


def rest_persistence(rows: list[Outcome]) -> tuple[int, float, float]:
    """Bare faces' sensor and optics (:func:`mix_split`), person by person over the draws of the noise they were
    decided in: (people decided in two draws or more, the sd from one draw to the next, the sd that stays with
    the person). The first is the root mean square sd within a person (ddof 1); the second the sd of their means
    less what the draw-to-draw spread explains of it (0 where that is negative). (0, NaN, NaN) with fewer than
    two such people."""
    by_person: dict[tuple, list[float]] = {}
    for r, _ in _rests(rows):
        if math.isfinite(r.mix_model_c) and LOOKS[0][1](r):
            by_person.setdefault((r.world, r.lens, r.run, r.person), []).append(r.estimate_c - r.mix_model_c)
    return one_way(list(by_person.values()))


LOOKS = (("bare", lambda r: r.cover is None and not r.mask and not r.glasses),
         ("fringe", lambda r: r.cover == "fringe"), ("hat", lambda r: r.cover == "hat"),
         ("mask", lambda r: r.mask), ("glasses", lambda r: r.glasses))


def rest_by_look(rows: list[Outcome]) -> dict[str, tuple[int, float, float]]:
    """The rest (:func:`error_split`) by what the person wore, (n, mean, sd) for each of :data:`LOOKS` (a person
    may wear more than one: a fringe and a mask count in both; "bare": none of them); n 0 and NaN without any."""
    rests = _rests(rows)
    out = {}
    for name, wears in LOOKS:
        e = np.array([x for r, x in rests if wears(r)])
        out[name] = (len(e), float(e.mean()) if len(e) else math.nan,
                     float(e.std(ddof=1)) if len(e) > 1 else math.nan)
    return out


# ---- running the gate on a world's runs -----------------------------------------------------------------------------

def _supports(cls, name: str) -> bool:
    return name in inspect.signature(cls).parameters


def installer_config(sc, first_truth: dict, eye_band: str | None = None,
                     apply_sensor_offset: bool | None = None,
                     stable_frames: int | None = None, wings: tuple[float, float] | None = None,
                     lens_offset_c: float | None = None, lens_view_c: float | None = None,
                     lens_core_px: float | None = None, pixel_offsets_c: list | None = None) -> ScreeningConfig:
    """The screening settings an installer writes for this gate, following docs/installation.md: the lens,
    the mounting, and where the reference is (its pixels and one more all round) with its set point; or, with no
    reference in view, ``require_reference = false``. The disc's coating emissivity is its data sheet's (the
    world's value). Its reading is learned afterwards
    (:func:`learn_installed_reference`). ``eye_band``, ``apply_sensor_offset``,
    ``stable_frames``: those settings (None: the defaults); ``wings``: the lens's wings as the installer was
    told them, (lens_wing_share, lens_wing_px) (None: none, the default); ``lens_offset_c``: the sensor's offset
    `thermogate calibrate lens` read ([screening] lens_offset_c; None: none), and ``lens_view_c`` the view it read
    it in ([screening] lens_view_c); ``lens_core_px``: the lens's core blur it measured ([screening] lens_core_px;
    None: none); ``pixel_offsets_c``: the sensor's pixel offsets `thermogate calibrate flat` measured ([screening]
    pixel_offsets_c; None: none)."""
    ref = first_truth["reference"]
    analysis: dict = dict(variant=sc.variant)
    if wings is not None:
        analysis.update(lens_wing_share=wings[0], lens_wing_px=wings[1])
    if lens_offset_c is not None:  # [screening] lens_offset_c: the reference's own, once learned, comes first
        analysis.update(sensor_offset_c=round(lens_offset_c, 2), lens_view_c=lens_view_c)
    if lens_core_px is not None:
        analysis["lens_core_px"] = lens_core_px
    if pixel_offsets_c is not None:
        analysis["pixel_offsets_c"] = pixel_offsets_c
    if apply_sensor_offset is not None:
        analysis["apply_sensor_offset"] = apply_sensor_offset
    screening: dict = {} if eye_band is None else {"eye_band": eye_band}
    if stable_frames is not None:
        screening["stable_frames"] = stable_frames
    if ref["present"]:
        r0, c0, r1, c1 = ref["box"]
        box = (max(0, r0 - 1), max(0, c0 - 1), min(24, r1 + 1), min(32, c1 + 1))
        analysis.update(reference_box=box, reference_c=float(ref["temp_c"]), reference_apparent_c=None,
                        reference_emissivity=float(ref["emissivity"]))  # from the disc's data sheet
    else:
        analysis.update(reference_box=None)
        screening["require_reference"] = False
    m = sc.mounting
    for key, value in (("sensor_height_m", m.sensor_height_m), ("tilt_deg", m.tilt_deg),
                       ("mark_distance_m", m.mark_distance_m)):
        if _supports(AnalysisConfig, key):
            analysis[key] = value
        elif _supports(ScreeningConfig, key):
            screening[key] = value
    return ScreeningConfig(analysis=replace(AnalysisConfig(), **analysis), **screening)


def body_model_on_truth(person: dict, config: ScreeningConfig) -> float:
    """The body temperature the product's body model gives from ``person``'s true apparent eye band (the canthus
    region's, or the canthus maximum's with ``eye_band = "canthus"``) in the true room (``room_c``), with no site
    offset: the gate's estimate with a perfect sensor and perfect optics."""
    key = "canthus_apparent_c" if config.eye_band == "canthus" else "canthus_region_apparent_c"
    return estimate_core_c(float(person[key]), float(person["room_c"]), site=config.eye_band)


def mix_model_on_truth(person: dict, config: ScreeningConfig) -> float:
    """The body temperature the product's body model gives from ``person``'s true apparent eye band and forehead
    mixed as the optics terms take the reading to be (:func:`optics.face_mix` for a face ``FACE_WIDTH_M`` wide at
    their line of sight, through the blur the gate reads faces with; the face below the band taken out, as the
    gate takes it out at its own reading), in the true room: a perfect sensor and analysis with the gate's
    optics terms. Against :func:`body_model_on_truth` it is the physiology of the forehead's share of the reading
    (what the study's forehead relation leaves unexplained), which no sensor or optics can remove. NaN where the
    truth lacks the forehead or the distance; the band's alone where the optics terms are off (``optics =
    false``)."""
    band, forehead = person.get("canthus_region_apparent_c"), person.get("forehead_apparent_c")
    if config.eye_band == "canthus":
        band = person.get("canthus_apparent_c")
    sight = person.get("sight_m")
    if band is None or forehead is None or sight is None or not math.isfinite(sight) or sight <= 0.0:
        return math.nan
    mix = config.analysis.face_mix(face_width_pixels(float(sight), config.analysis.fov))
    fill = min(max(mix.band / (1.0 - mix.lower), 0.0), 1.0) if config.optics and mix.lower < 1.0 else 1.0
    return estimate_core_c(fill * float(band) + (1.0 - fill) * float(forehead), float(person["room_c"]), fill=fill,
                           site=config.eye_band)


LEARN_S = 20.0  # the installer learns the reference from the gate's first 20 s


def learn_installed_reference(rec, config: ScreeningConfig, seen=None) -> tuple[ScreeningConfig, str, bool]:
    """``thermogate calibrate reference GATE --recording`` on the run's first LEARN_S seconds: the config with the
    learned reading (and the lens blur and sensor offset measured on the disc, as the command writes them),
    "learned" and whether the disc told the sensor's offset (a disc too small to tell it writes none); or the
    config unchanged (not learned: BLOCKED), the reason it failed and False. ``seen``: the recording through the
    gate's pipeline (``reference_images_recording``), when the caller has it already."""
    from controller.screening.reference_source import LearningError, learn_reference

    if config.analysis.reference_box is None:
        return config, "none", False
    images, scale, _ = seen if seen is not None else reference_images_recording(rec, config)
    try:
        learned = learn_reference(images[: int(LEARN_S * rec.meta.get("refresh_hz", 8.0))], config.analysis,
                                  frame_scale=scale)
    except LearningError as exc:
        return config, exc.reason, False
    table = learned.table(config.analysis.reference_box)  # what the command writes, as it writes it
    # as config.from_table reads it: the disc's own offset, else the lens's with the drift since it was read
    offset = lens_offset_with_drift(config.analysis.sensor_offset_c, table)
    offset = table["sensor_offset_c"] if offset is None else offset
    analysis = replace(config.analysis, reference_apparent_c=learned.apparent_c, reference_pixels=learned.pixels,
                       reference_background_c=table["background_c"],
                       lens_blur_px=learned.lens_blur_px, sensor_offset_c=offset)
    return replace(config, analysis=analysis), "learned", "sensor_offset_c" in table


def reference_as_documented(diameter_m: float, distance_m: float, fov) -> bool:
    """Whether a disc of ``diameter_m`` at ``distance_m`` (line of sight) is as big and as near as
    docs/installation.md's size table requires through ``fov``: its reading reaches the needed share of its
    set-point contrast wherever it falls on the pixel grid (the table's bold cells)."""
    return reading_fraction(diameter_m, distance_m, fov).works


def commissioning_people(world: World, lens: str, seed: int, session: int) -> list[PersonPlan]:
    """The people of commissioning session ``session`` at run ``seed``'s gate: a school's arrivals, afebrile
    cores (the simulator's population), drawn under their own key (never the evaluation's)."""
    rng = np.random.default_rng(stable_key(world.name, KIND, seed, lens, "commissioning people", session))
    return [PersonPlan(core_c=normal_core_c(rng)) for _ in range(COMMISSION_SESSION_PEOPLE)]


def commission(world: World, lens: str, seed: int, config: ScreeningConfig, learned: str,
               readings: int = COMMISSION_READINGS, max_sessions: int = COMMISSION_MAX_SESSIONS,
               workdir: str | None = None, refresh_hz: float = 8.0,
               max_readings: int = COMMISSION_MAX_READINGS,
               more_sessions: int = COMMISSION_MORE_SESSIONS) -> tuple[ScreeningConfig, Commissioning]:
    """The commissioning docs/installation.md describes, at run ``seed``'s gate set up with ``config`` (its
    reference learned): people pass the gate in sessions (:func:`commissioning_people`, each a recording of
    the same gate, ``session="commissioning-K"``) until the nurse has ``readings`` clinical readings or
    ``max_sessions`` are over. She reads each person the gate gives a PASS or a FEVER (she sees its result;
    someone told RETRY has no estimate to pair with, so she does not read them), once: their body
    temperature plus a thermometer's error (THERMOMETER_SD_C), to 0.1 degC, and the time off her watch. The
    installer then runs the product's offline fit over the sessions' recordings, pooled
    (``controller.calibrate.cli.fit_recordings``, what `thermogate calibrate GATE --recording ... --readings`
    runs). When the fit's only problems are its standard error or too few readings, the nurse reads on to the
    number of readings the command names (``SiteCalibration.readings_needed``), up to ``max_readings`` in all,
    in sessions up to ``more_sessions`` in all (another morning), and the whole sheet is fitted again, as
    docs/installation.md's step 3 asks. The config with the fitted ``site_offset_c``, and how it went; a gate
    that decided nobody, or too few for the fit (fewer than 3), keeps its offset. Nothing here reads the
    evaluation's people or the sensor's offset."""
    if learned not in ("learned", "none"):
        return config, Commissioning(f"not commissioned: BLOCKED ({learned})")
    rng = np.random.default_rng(stable_key(world.name, KIND, seed, lens, "nurse"))
    watch_s = float(rng.uniform(*NURSE_WATCH_S))
    sheet: list[tuple[str, float]] = []
    sessions: list[tuple[str, object]] = []
    made: list[list] = []
    waiting: list[tuple[str, float]] = []  # the readings of the sessions recorded so far, not yet on the sheet

    def record_session() -> None:
        k = len(sessions)
        plans = commissioning_people(world, lens, seed, k)
        name = f"commissioning-{k + 1}"
        duration = scenario(KIND, seed, variant=lens, world=world, people=plans, session=name).duration_s
        rec = scenario_recording(KIND, duration, seed=seed, variant=lens, world=world, people=plans, session=name,
                                 refresh_hz=refresh_hz)
        rec.created = rec.created + k * COMMISSION_GAP
        decisions = analyze_recording(rec, config)
        sessions.append((name, rec))
        made.append(decisions)
        read: set[int] = set()
        for d, person in zip(decisions, truth_for(rec, decisions), strict=True):
            if person is None or d.decision not in ("PASS", "FEVER") or person["id"] in read:
                continue
            read.add(person["id"])
            clinical = round(float(person["core_c"] + rng.normal(0.0, THERMOMETER_SD_C)), 1)
            when = rec.created + timedelta(seconds=d.time_s + float(rng.uniform(*NURSE_DELAY_S)) + watch_s)
            waiting.append((when.astimezone(timezone.utc).strftime("%H:%M:%S"), clinical))

    def read_to(target: int, most_sessions: int) -> None:
        while len(sheet) < target:
            if waiting:
                sheet.append(waiting.pop(0))
            elif len(sessions) < most_sessions:
                record_session()
            else:
                return

    read_to(readings, max_sessions)
    if not sheet:
        people = len(sessions) * COMMISSION_SESSION_PEOPLE
        return config, Commissioning(f"not commissioned: nobody decided in {people}", people)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = os.path.join(tmp, "readings.csv")

        def fit():
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["time", "clinical_c"])
                w.writerows(sheet)
            cal, _pairs, _labels, _skipped = fit_recordings(sessions, path, config, timezone.utc, 20.0,
                                                            "commissioning", decisions=made)
            return cal

        try:
            cal = fit()
            while cal.failed_checks() and MORE_READINGS_ANSWER.issuperset(cal.failed_checks()) \
                    and len(sheet) < max_readings:
                taken = len(sheet)
                read_to(min(max_readings, taken + max(1, (cal.readings_needed() or 0) - cal.used)), more_sessions)
                if len(sheet) == taken:  # no more sessions
                    break
                cal = fit()
        except ValueError:
            cal = None
    people = len(sessions) * COMMISSION_SESSION_PEOPLE
    if cal is None:
        return config, Commissioning(f"not commissioned: {len(sheet)} readings", people, len(sheet))
    if cal.problems():  # the installer does not store a fit that fails docs/installation.md's checks
        return config, Commissioning(f"not commissioned: the fit fails the checks ({'; '.join(cal.problems())})",
                                     people, len(sheet), cal.used, len(cal.outliers),
                                     standard_error_c=cal.standard_error_c, sheet=tuple(sheet),
                                     failed=tuple(cal.failed_checks()))
    return (replace(config, site_offset_c=cal.offset_c),
            Commissioning("fitted", people, len(sheet), cal.used, len(cal.outliers), cal.offset_c,
                          cal.standard_error_c, tuple(sheet)))


def with_dev_wings(world: World, wings: tuple[float, float] | None) -> World:
    """``world``, and when it is DEV and ``wings`` are given, DEV with every run's lens given those wings
    (share, sigma px; --dev-wings): the same runs otherwise, the wings being drawn apart (sim/scenes/world.py)."""
    if wings is None or world.name != DEV.name:
        return world
    return with_fixed(world, (("psf_wing_share", wings[0]), ("psf_wing_sigma_px", wings[1])))


def with_stand(world: World, stand: tuple[float, float] | None) -> World:
    """``world`` with its people standing on the mark for ``stand`` (s, drawn uniformly; --stand), or as it is."""
    return world if stand is None else replace(world, stand_s=stand)


def with_noise_draw(world: World, draw: int) -> World:
    """``world`` with draw ``draw`` of every run's sensor noise over time (--noise-draw; 0: its own, as it is)."""
    return world if draw == 0 else replace(world, noise_draw=draw)


def with_dev_noise(world: World, noise: tuple[float, float] | None) -> World:
    """``world``, and when it is DEV and ``noise`` is given, DEV with every run's sensor given that noise (NETD at
    1 Hz, per-pixel offset sd; --dev-noise): the same runs otherwise, as :func:`with_dev_wings`."""
    if noise is None or world.name != DEV.name:
        return world
    return with_fixed(world, (("netd_1hz_c", noise[0]), ("pixel_offset_sd_c", noise[1])))


def with_fixed(world: World, fixed: tuple[tuple[str, float], ...]) -> World:
    """``world`` with each named range of ``fixed`` held at one value in every run (--fix NAME=VALUE): the same
    runs otherwise, every other quantity drawn as before (each range is drawn whatever its width). A diagnostic:
    what the spread of one quantity costs the world's gates."""
    return replace(world, **{name: (value, value) for name, value in fixed}) if fixed else world


class MeasuredLens(NamedTuple):
    """What ``thermogate calibrate lens`` measured on a run's lens (:func:`measured_lens`); every field None where
    the measurement was refused or not made."""

    wings: tuple[float, float] | None = None  # (lens_wing_share, lens_wing_px); None where it finds none
    offset_c: float | None = None  # the sensor's own offset (lens_offset_c); None where it reads none
    view_c: float | None = None  # the view it read that in (lens_view_c); None with no offset
    core_px: float | None = None  # the lens's core blur (lens_core_px)


def measured_lens(sc, seed: int, true_offset: bool = False) -> MeasuredLens:
    """What ``thermogate calibrate lens`` measures on this run's lens and sensor, with the run's reference disc
    stood near the gate as docs/installation.md says (sim/scenes/lens_target.py; the gate's walls behind it, the
    sensor in a session of its own: its drift, noise and pixel offsets), its set point and coating
    given; on a gate with no reference in view, a disc brought for the purpose (6-10 cm, 35-40 degC). The
    installer does what the command says: where it refuses a disc set too near the room's temperature ("set the
    disc to N degC or more for this measurement"), sets it so and measures again; where it reads no offset because
    the lens is too blurred for the disc at that distance ("bring it nearer, to about N pixels across"), stands it
    that near and measures again, the second measurement standing unless it is refused. Nothing (every field
    None) where the measurement is refused.
    ``true_offset``: the sensor's true offset while the disc stood (common, drift, the gain's part at the disc)
    in place of the one read, where one is read (a diagnostic: what the reading's error costs)."""
    try:
        told = measure_as_told(sc.physics, sc.fov, seed, drawn_target(sc.physics, sc.fov, seed),
                               walls_of=sc.scene.room)
    except LensMeasurementError:
        return MeasuredLens()
    m, truth = told.measurement, told.truth
    offset = truth["sensor_offset_c"] if true_offset and m.sensor_offset_c is not None else m.sensor_offset_c
    table = m.table()
    return MeasuredLens((m.wing_share, m.wing_px) if m.wing_share > 0.0 else None, offset, table.get("lens_view_c"),
                        table["lens_core_px"])


FLAT_S = 30.0  # the flat field's capture, as `thermogate calibrate flat` takes it by default
FLAT_DEFAULT: str | None = None  # what the installer does by default (docs/installation.md): None, not measured


def measured_flat_field(sc, seed: int) -> list | None:
    """The ``[screening] pixel_offsets_c`` that ``thermogate calibrate flat`` measures on this run's sensor: the
    run's reference disc (or a disc set near skin) held against its window for FLAT_S (sim/synth.py,
    :func:`~sim.synth.flat_field_recording`: the sensor the run's frames come from, at the scenario's refresh
    rate), read through the pipeline as the command reads it; None where the measurement is refused."""
    rec = flat_field_recording(sc, seed=seed, seconds=FLAT_S)
    plain = ScreeningConfig(analysis=AnalysisConfig(variant=sc.variant))
    try:
        return measure_flat_field(reference_images_recording(rec, plain).images).table()["pixel_offsets_c"]
    except FlatFieldError:
        return None


def offset_source(tell, how: str | None) -> str | None:
    """The sensor's offset the installer configures from the lens measurement, given the wings told (``tell``,
    as :func:`run` takes it) and ``--tell-offset`` (``how``; None: not given): "measured", "true" or None (none);
    by default "measured" wherever the lens was measured (any wings told but none), else none."""
    if how is None:
        return None if tell is None else "measured"
    return None if how == "none" else how


def configured_lens(measured: MeasuredLens, tell, physics) -> tuple[tuple[float, float] | None, float | None]:
    """The lens's wings and core blur the installer configures, given what ``thermogate calibrate lens``
    measured and the wings told (``tell``, as :func:`run` takes it): the wings measured, the lens's true ones
    ("true") or as given (SHARE, PX), and the core measured, in every case but ``tell`` None (the lens not
    measured: neither)."""
    if tell is None:
        return None, None
    wings = measured.wings if tell == "measured" else \
        (physics.psf_wing_share, physics.psf_wing_sigma_px) if tell == "true" else tell
    return wings, measured.core_px


def with_true_blur(config: ScreeningConfig, physics) -> ScreeningConfig:
    """``config`` with the lens's true core blur in place of the disc's (``lens_blur_px``) and the lens
    measurement's (``lens_core_px``): the faces and the disc read through the blur the lens has (a diagnostic,
    ``--tell-blur true``: what the blur's measurement costs)."""
    return replace(config, analysis=replace(config.analysis, lens_blur_px=physics.psf_sigma_px,
                                            lens_core_px=physics.psf_sigma_px))


def with_disc_blur(config: ScreeningConfig) -> ScreeningConfig:
    """``config`` with the faces read through the blur the reference disc told wherever it told one, in place of
    the lens's core (``--tell-blur disc``: what reading the faces with the disc's blur does; the gate read them so
    where it lay within BLUR_DISAGREE_PX of the core until the faces were read through the core)."""
    if config.analysis.lens_blur_px is None:
        return config
    return replace(config, analysis=replace(config.analysis, lens_core_px=None))


def run(job: tuple) -> list[Outcome]:
    """Every person of one run who stood at the mark, with the gate's verdict: as installed, and (unless the
    job's readings are 0) again after commissioning (:func:`commission`). ``job``: (world, lens, run) and
    optionally the eye band and whether the sensor offset is applied (None: the defaults), the nurse's
    readings, the gate's refresh rate (Hz), the decision's frames (None: the defaults), DEV's lens wings
    (:func:`with_dev_wings`), the wings the installer is told ("true": the lens's own; "measured": what
    :func:`measured_lens` gives; SHARE, PX as given; None: none) and the sensor's offset ("measured": what
    :func:`measured_lens` reads, with the view it read it in; "true": the truth in its place; None: none; the
    default: "measured" wherever the lens was measured, else none), DEV's sensors' noise (:func:`with_dev_noise`)
    and how long the people stand on the mark (:func:`with_stand`), and whether they wait for their result (the
    run screened in a closed loop, :func:`sim.waiting.screen_waiting`, once as installed and once commissioned),
    which draw of the sensors' noise over time (:func:`with_noise_draw`), the blur told as --tell-blur takes it
    ("measured"; "true": the lens's true core blur in place of both measured ones, :func:`with_true_blur`;
    "disc": the faces read through the disc's blur, :func:`with_disc_blur`), and the ranges held at one value in
    every world (:func:`with_fixed`), and whether the installer measured the sensor's pixel offsets on a flat field
    ("measured", :func:`measured_flat_field`; None: not)."""
    world_name, lens, i = job[:3]
    given = tuple(job[3:18])
    defaults = (None, None, COMMISSION_READINGS, 8.0, None, None, None, "default", None, None, False, 0, "measured",
                (), FLAT_DEFAULT)
    (eye_band, apply_offset, readings, refresh_hz, stable, dev_wings, tell, offset_how, dev_noise, stand, wait,
     noise_draw, blur_told, fixed, flat) = given + defaults[len(given):]
    if offset_how == "default":
        offset_how = offset_source(tell, None)
    world = with_fixed(with_noise_draw(with_stand(with_dev_noise(with_dev_wings(world_named(world_name), dev_wings),
                                                                 dev_noise), stand), noise_draw), fixed)
    seed = world.seed(i)
    sc = scenario(KIND, seed, variant=lens, world=world)
    rec = scenario_recording(KIND, sc.duration_s, seed=seed, variant=lens, world=world, refresh_hz=refresh_hz)
    frames = list(rec.frames())
    measured = measured_lens(sc, seed, offset_how == "true") if tell is not None or offset_how else MeasuredLens()
    wings, core = configured_lens(measured, tell, sc.physics)
    lens_offset, lens_view = (measured.offset_c, measured.view_c) if offset_how else (None, None)
    offsets = measured_flat_field(sc, seed) if flat == "measured" else None
    installed = installer_config(sc, frames[0].truth, eye_band, apply_offset, stable, wings, lens_offset, lens_view,
                                 core, offsets)
    seen = reference_images_recording(rec, installed)  # the noise is what calibrate reference reports
    config, learned, told = learn_installed_reference(rec, installed, seen)
    if blur_told == "disc":
        config = with_disc_blur(config)
    elif blur_told == "true":
        config = with_true_blur(config, sc.physics)
    noise = seen.noise_c
    ph = sc.physics
    ref = frames[0].truth["reference"]
    ref_px = (pixels_across(ref["diameter_m"], ref["distance_m"], sc.fov, "horizontal") if ref["present"]
              else math.nan)
    documented = bool(ref["present"] and reference_as_documented(ref["diameter_m"], ref["distance_m"], sc.fov))

    def screened(config: ScreeningConfig, commissioned: bool, how: Commissioning | None) -> list[Outcome]:
        held: list[tuple[float, int, str]] = []  # (time, the tracker's latest person, why the frame decided nothing)

        def on_frame(t: float, pipeline) -> None:
            if pipeline.held is not None:
                held.append((t, pipeline.tracker.track, pipeline.held))

        if wait:  # the people walk on when given their result: what the gate saw is this run's own
            screened_rec, decisions = screen_waiting(KIND, sc.duration_s, config, seed=seed, variant=lens,
                                                     world=world, refresh_hz=refresh_hz, on_frame=on_frame)
        else:
            screened_rec, decisions = rec, analyze_recording(rec, config, on_frame)
        standing = first_standing(screened_rec)  # id -> (first standing time, truth then)
        first: dict[int, tuple] = {}
        ever_pass: set[int] = set()
        reasons: dict[int, list[str]] = {}
        for d, person in zip(decisions, truth_for(screened_rec, decisions), strict=True):
            if person is None:
                continue
            pid = person["id"]
            if d.decision not in ("PASS", "FEVER"):
                reasons.setdefault(pid, []).append(f"{d.decision} {d.reason}")
                continue
            if d.decision == "PASS":
                ever_pass.add(pid)
            if pid not in first:
                first[pid] = (d.decision, d.estimate_c, d.time_s, body_model_on_truth(person, config), d.track,
                              mix_model_on_truth(person, config))
        out = []
        for pid, (t_still, p) in standing.items():
            dec, est, t_dec, body, track, mix_body = first.get(pid, (None, None, None, math.nan, -1, math.nan))
            holds = Counter(why for t, tr, why in held if tr == track and t_still - 1e-6 <= t <= t_dec + 1e-6) \
                if dec is not None else Counter()
            out.append(Outcome(world_name, lens, i, p["core_c"], dec, est, None if t_dec is None else t_dec - t_still,
                               pid in ever_pass, ph.mark_distance_m, ph.ambient_c, ph.reference_in_view, ref_px,
                               tuple(dict.fromkeys(reasons.get(pid, ()))), learned, documented,
                               ph.psf_sigma_px, ph.sensor_offset_c, told, p["sight_m"], p["mask"], p["glasses"],
                               p["cover"], p["from_cold"], p.get("age") is None, commissioned, how, body, pid,
                               ph.psf_wing_share, ph.sensor_gain,
                               math.nan if config.analysis.face_blur_px is None else config.analysis.face_blur_px,
                               noise, tuple(sorted(holds.items())), noise_draw, mix_body,
                               float(p.get("face_scale", 1.0)), float(p.get("lateral_m", math.nan))))
        return out

    out = screened(config, False, None)
    if readings:
        commissioned, how = commission(world, lens, seed, config, learned, readings, refresh_hz=refresh_hz,
                                       max_readings=max(readings, COMMISSION_MAX_READINGS))
        out += screened(commissioned, True, how) if how.note == "fitted" else [
            replace(r, commissioned=True, commissioning=how) for r in out]
    return out


def undecided_reasons(rows: list[Outcome], top: int = 4) -> str:
    """The most common RETRY/BLOCKED reasons among the people who got no PASS/FEVER."""
    c = Counter(r for o in rows if o.decision is None for r in (o.reasons or ("no decision",)))
    return ", ".join(f"{k} {v}" for k, v in c.most_common(top)) or "-"


IN_SCOPE_BY_REFERENCE = (
    ("ref < 2 px", lambda r: r.reference_px < 2.0),
    ("ref 2-4 px", lambda r: 2.0 <= r.reference_px < 4.0),
    ("ref >= 4 px", lambda r: r.reference_px >= 4.0),
)


OUT_OF_SCOPE = (
    ("mark < 0.3 m", lambda r: r.mark_m < IN_SCOPE_MARK_M[0]),
    ("mark > 0.6 m", lambda r: r.mark_m > IN_SCOPE_MARK_M[1]),
    ("room < 18 degC", lambda r: r.room_c < IN_SCOPE_ROOM_C[0]),
    ("room > 28 degC", lambda r: r.room_c > IN_SCOPE_ROOM_C[1]),
    ("no reference", lambda r: not r.reference),
)


def outcome(r: Outcome) -> str:
    """What became of one person: "decided", or the last RETRY/BLOCKED they were given, with how learning the
    reference went when it is a BLOCKED (the reason a gate is blocked is mostly that)."""
    if r.decision is not None:
        return "decided"
    last = r.reasons[-1] if r.reasons else "no notice"
    return f"{last} (learning: {r.learned})" if last.startswith("BLOCKED") else last


def print_targets(title: str, names: list[str], scoped: dict[str, list[Outcome]],
                  commissioned: dict[str, list[Outcome]] | None = None) -> None:
    """The targets over ``scoped`` (as installed), then, when given, the same rows over ``commissioned`` (the
    same people at the same gates, screened after commissioning)."""
    print(title)
    print(f"{'measure':26s} {'target':>12s}" + "".join(f" {n:>16s}" for n in names) + "  held-out")
    for prefix, rows in (("", scoped), ("commissioned: ", commissioned)):
        if rows is None or (prefix and not any(rows.values())):
            continue
        print(f"{prefix + 'people at the mark (n)':39s}" + "".join(f" {len(rows[n]):16d}" for n in names))
        for t in TARGETS:
            vals = {n: t.value(rows[n]) for n in names}
            label = f"{t.label:26s} {t.text:>12s}" if not prefix else f"{(prefix + t.label)[:39]:39s}"
            line = label + "".join(f" {fmt(vals[n]):>16s}" for n in names)
            if HELD_OUT.name in vals:
                line += f"  {met(t, vals[HELD_OUT.name])}"
            print(line)


def print_commissioning(lens: str, names: list[str], commissioned: dict[str, list[Outcome]]) -> None:
    """Per world, how commissioning went at the in-scope gates: fitted or why not, the readings, the fitted
    offsets and their reported standard errors."""
    for n in names:
        runs = {r.run: r.commissioning for r in commissioned[n] if r.commissioning is not None}
        if not runs:
            continue
        fits = [c for c in runs.values() if c.note == "fitted"]
        why = Counter("fitted" if c.note == "fitted" else "not commissioned, BLOCKED" if "BLOCKED" in c.note else
                      "not commissioned, nobody decided" if "nobody" in c.note else
                      "not commissioned, fit fails the checks" if "checks" in c.note else
                      "not commissioned, < 3 readings"
                      for c in runs.values())
        line = (f"{n} {lens} deg, in scope: {len(runs)} gates; " + ", ".join(f"{k} {v}" for k, v in why.items()))
        failed = Counter(check for c in runs.values() for check in c.failed)
        if failed:
            line += " (failing: " + ", ".join(f"{k} {v}" for k, v in failed.items()) + ")"
        if fits:
            reads = np.array([c.readings for c in fits])
            se = np.array([c.standard_error_c for c in fits])
            off = np.array([c.offset_c for c in fits])
            line += (f"; fitted gates: readings median {np.median(reads):.0f} (min {reads.min()}, "
                     f"{int(np.sum(reads >= COMMISSION_READINGS))} reached {COMMISSION_READINGS}, "
                     f"{int(np.sum(reads > COMMISSION_READINGS))} read on to at most {reads.max()}), people screened "
                     f"median {np.median([c.people for c in fits]):.0f}, outliers {sum(c.outliers for c in fits)}, "
                     f"standard error median {np.median(se):.2f} degC (max {se.max():.2f}), "
                     f"site_offset_c {off.mean():+.2f} +- {off.std():.2f}")
        print(line)


def print_error_split(lens: str, names: list[str], scoped: dict[str, list[Outcome]],
                      commissioned: dict[str, list[Outcome]]) -> None:
    """Per world, as installed and commissioned, the decided people's error split by :func:`error_split`."""
    print(f"-- {lens} deg lens, in scope, decided: where the error comes from (the body model on the true "
          f"apparent eye band, against core; the estimate against that: sensor, optics, analysis, site offset) --")
    print(f"{'world':9s} {'gates':13s} {'part':10s} {'n':>4s} {'bias':>7s} {'sd':>6s} {'MAE':>6s}")
    for n in names:
        for how, rows in (("as installed", scoped[n]), ("commissioned", commissioned[n])):
            for part, (count, b, sd, err) in error_split(rows).items():
                if count:
                    print(f"{n:9s} {how:13s} {part:10s} {count:4d} {b:+7.3f} {fmt(sd):>6s} {err:6.3f}")
            for line in rest_lines(rows):
                print(f"{'':9s} {'':13s} {line}")


def rest_lines(rows: list[Outcome]) -> list[str]:
    """The rest's spread between and within gates (:func:`rest_between_gates`), its split into the face's mix and
    the sensor and optics (:func:`mix_split`), its mean by look (:func:`rest_by_look`) and, over several draws,
    what of bare faces' sensor and optics stays with a person (:func:`rest_persistence`), as printed lines (none
    for what has no decided people)."""
    lines = []
    gates, between, within = rest_between_gates(rows)
    if gates:
        lines.append(f"the rest's sd between gates {between:.3f}, within a gate {within:.3f} ({gates} gates)")
    parts = [f"{name} {m:+.3f} (sd {fmt(sd)})" for name, (count, m, sd) in mix_split(rows).items() if count]
    if parts:
        lines.append("the rest, split: " + ", ".join(parts))
    looks = [f"{name} {m:+.3f} ({fmt(sd)}, {count})" for name, (count, m, sd) in rest_by_look(rows).items() if count]
    if looks:
        lines.append("the rest by look, mean (sd, n): " + ", ".join(looks))
    people, draw_sd, staying = rest_persistence(rows)
    if people:
        lines.append(f"bare faces' sensor and optics, person by person over the draws: sd from draw to draw "
                     f"{draw_sd:.3f}, staying with the person {staying:.3f} ({people} people)")
    return lines


def print_outcomes(lens: str, names: list[str], scoped: dict[str, list[Outcome]], top: int = 8) -> None:
    """In scope, by what became of each person (:func:`outcome`): count and share, per world."""
    print(f"-- {lens} deg lens, in scope: what became of each person (share of n; in brackets, of those whose "
          f"reference meets the documented size) --")
    counts = {n: Counter(outcome(r) for r in scoped[n]) for n in names}
    documented = {n: Counter(outcome(r) for r in scoped[n] if r.reference_documented) for n in names}
    for n in names:
        total, total_doc = len(scoped[n]), sum(documented[n].values())
        print(f"{n}: {total} people, {total_doc} with a documented reference")
        for label, v in counts[n].most_common(top):
            d = documented[n].get(label, 0)
            print(f"  {label:62s} {v:4d} {v / max(total, 1):6.1%}  ({d:4d} {d / max(total_doc, 1):6.1%})")
        rest = sum(v for _, v in counts[n].most_common()[top:])
        if rest:
            print(f"  {'(others)':62s} {rest:4d} {rest / max(total, 1):6.1%}")


def hold_table(rows: list[Outcome]) -> tuple[int, int, list[tuple[str, float, int, float, int]]]:
    """Of the people of ``rows`` decided, those decided later than LATE_S after standing still and the others,
    and for each reason that held any of their frames (``Outcome.holds``): frames a person and people with any,
    late then the others, the reasons by the late people's frames a person."""
    decided = [r for r in rows if r.decision is not None and r.latency_s is not None]
    late = [r for r in decided if r.latency_s > LATE_S + 1e-6]
    rest = [r for r in decided if r.latency_s <= LATE_S + 1e-6]

    def per(group: list[Outcome]) -> tuple[Counter, Counter]:
        frames, people = Counter(), Counter()
        for r in group:
            for why, count in r.holds:
                frames[why] += count
                people[why] += 1
        return frames, people

    (late_f, late_p), (rest_f, rest_p) = per(late), per(rest)
    reasons = sorted(set(late_f) | set(rest_f), key=lambda w: (-late_f[w] / max(len(late), 1), w))
    return len(late), len(rest), [(why, late_f[why] / max(len(late), 1), late_p[why],
                                   rest_f[why] / max(len(rest), 1), rest_p[why]) for why in reasons]


def print_holds(lens: str, names: list[str], scoped: dict[str, list[Outcome]]) -> None:
    """In scope, as installed, the people decided: what held their frames from standing still to the decision
    (:func:`hold_table`), for those decided later than the time target (LATE_S) and the others."""
    print(f"-- {lens} deg lens, in scope, decided: what held their frames from standing still to the decision "
          f"(frames a person, and how many people had any), decided after {LATE_S:.1f} s and within it --")
    print(f"{'world':9s} {'held by':32s} {'late':>6s} {'people':>6s} {'others':>7s} {'people':>6s}")
    for n in names:
        late, rest, table = hold_table(scoped[n])
        print(f"{n:9s} {'(people)':32s} {late:6d} {'':6s} {rest:7d}")
        for why, late_per, late_people, rest_per, rest_people in table:
            print(f"{n:9s} {why:32s} {late_per:6.2f} {late_people:6d} {rest_per:7.2f} {rest_people:6d}")


def _bins(value, edges: tuple[float, ...], unit: str) -> list[tuple[str, object]]:
    """One group per interval of ``value(row)`` between consecutive ``edges``."""
    return [(f"{lo:g}-{hi:g} {unit}", lambda r, lo=lo, hi=hi: lo <= value(r) < hi)
            for lo, hi in zip(edges[:-1], edges[1:], strict=False)]


FACTORS = (
    ("lens blur", _bins(lambda r: r.blur_px, (0.0, 0.4, 0.5, 0.6, 0.7, 2.0), "px")),
    ("blur as used", [("nominal (none)", lambda r: math.isnan(r.blur_used_px)),
                      *_bins(lambda r: r.blur_used_px - r.blur_px, (-2.0, -0.1, -0.03, 0.03, 0.1, 2.0), "px off")]),
    ("lens wings", [("none", lambda r: r.wing_share == 0.0),
                    ("under 5 %", lambda r: 0.0 < r.wing_share < 0.05),
                    *_bins(lambda r: 100.0 * r.wing_share, (5.0, 10.0, 15.0, 20.0, 100.0), "%")]),
    ("face distance", _bins(lambda r: r.sight_m, (0.0, 0.4, 0.5, 0.6, 0.8, 3.0), "m")),
    ("look", [("bare", lambda r: not (r.mask or r.glasses or r.cover)), ("mask", lambda r: r.mask),
              ("glasses", lambda r: r.glasses), ("fringe", lambda r: r.cover == "fringe"),
              ("hat", lambda r: r.cover == "hat")]),
    ("reference size", _bins(lambda r: r.reference_px, (0.0, 2.0, 3.0, 4.0, 99.0), "px")),
    ("sensor offset", _bins(lambda r: r.sensor_offset_c, (-2.0, -0.5, 0.0, 0.5, 2.0), "degC")),
    ("sensor gain", _bins(lambda r: 100.0 * r.sensor_gain, (-5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0), "%")),
    ("sensor noise", _bins(lambda r: r.noise_c, (0.0, 0.3, 0.4, 0.5, 0.7, 5.0), "degC")),
    ("disc told it", [("yes", lambda r: r.offset_told), ("no", lambda r: not r.offset_told)]),
    ("room", _bins(lambda r: r.room_c, (0.0, 20.0, 22.0, 24.0, 26.0, 40.0), "degC")),
    ("person", [("child", lambda r: not r.adult), ("adult", lambda r: r.adult),
                ("from the cold", lambda r: r.from_cold)]),
)


def factor_groups(rows: list[Outcome]) -> list[tuple[str, str, int, float, np.ndarray, float]]:
    """``rows`` split by one factor at a time (:data:`FACTORS`): (factor, group, people, share decided, the decided
    people's errors estimate - core, their still -> decision 90th percentile), for each group with anyone in it.
    The share decided shows whom the rules leave undecided (a gate whose sensor reads low has its people told to
    wait indoors by the floor), which the decided people's errors alone hide."""
    out = []
    for factor, groups in FACTORS:
        for label, where in groups:
            people = [r for r in rows if where(r)]
            if people:
                e = np.array([r.estimate_c - r.core_c for r in people if r.decision is not None], dtype=float)
                out.append((factor, label, len(people), e.size / len(people), e, latency_p90(people)))
    return out


def print_factors(lens: str, names: list[str], scoped: dict[str, list[Outcome]]) -> None:
    """The people in scope split by one factor at a time (:func:`factor_groups`): how many, the share decided, and
    the decided people's error: n, mean (bias), its sd, MAE."""
    print(f"-- {lens} deg lens, in scope: the share decided and the decided people's error (estimate - core) "
          f"by factor --")
    print(f"{'world':9s} {'factor':15s} {'group':16s} {'people':>6s} {'decided':>7s} {'n':>4s} {'bias':>7s} "
          f"{'sd':>6s} {'MAE':>6s} {'p90 s':>6s}")
    for n in names:
        for factor, label, people, share, e, p90 in factor_groups(scoped[n]):
            sd = f"{e.std(ddof=1):6.3f}" if e.size > 1 else f"{'-':>6s}"
            errors = f"{e.mean():+7.3f} {sd} {np.abs(e).mean():6.3f}" if e.size else f"{'-':>7s} {'-':>6s} {'-':>6s}"
            late = f"{p90:6.3f}" if math.isfinite(p90) else f"{'-':>6s}"
            print(f"{n:9s} {factor:15s} {label:16s} {people:6d} {share:7.3f} {e.size:4d} {errors} {late}")


def draw_table(rows: list[Outcome], draws: list[int]) -> list[tuple[Target, list, float | None, int | None]]:
    """Each target over ``rows`` (one world, lens and commissioning state, in scope) draw by draw: (target, the
    figure of each draw, their mean, in how many draws it is met; the last two None where the target is only
    reported or a figure is missing)."""
    out = []
    for t in TARGETS:
        vals = [t.value([r for r in rows if r.noise_draw == d]) for d in draws]
        firsts = [_first(v) for v in vals]
        whole = all(isinstance(v, (int, float)) and math.isfinite(v) for v in firsts)
        mean = float(np.mean(firsts)) if whole else None
        met_in = sum(bool(t.met(v)) for v in vals) if whole and t.met is not None else None
        out.append((t, vals, mean, met_in))
    return out


def print_draws(lens: str, rows: list[Outcome], names: list[str], draws: list[int]) -> None:
    """Per world, as installed and commissioned: each target in scope over every draw of the noise."""
    print(f"-- {lens} deg lens, in scope: each target through {len(draws)} draws of the sensors' noise "
          f"(--noise-draws; the same gates and people) --")
    for n in names:
        for commissioned in (False, True):
            mine = [r for r in rows if r.lens == lens and r.world == n and r.commissioned == commissioned
                    and r.in_scope]
            if not mine:
                continue
            print(f"{n}, {'commissioned' if commissioned else 'as installed'}")
            print(f"{'measure':26s} {'target':>12s}" + "".join(f" {'draw ' + str(d):>11s}" for d in draws)
                  + f" {'mean':>8s}  met in")
            for t, vals, mean, met_in in draw_table(mine, draws):
                print(f"{t.label:26s} {t.text:>12s}" + "".join(f" {fmt(v):>11s}" for v in vals)
                      + f" {fmt(mean) if mean is not None else '-':>8s}  "
                      + (f"{met_in} of {len(draws)}" if met_in is not None else ""))
            for line in rest_lines([r for r in mine if r.noise_draw in draws]):
                print(f"  every draw: {line}")


def print_lens(lens: str, rows: list[Outcome], worlds: list[World], factors: bool = False,
               holds: bool = False) -> None:
    """The tables for one lens: the gates as installed, with the commissioned figures beside them in the two
    target tables; the breakdowns below are of the gates as installed."""
    names = [w.name for w in worlds]
    mine = [r for r in rows if r.lens == lens]
    by = {n: [r for r in mine if r.world == n and not r.commissioned] for n in names}
    scoped = {n: [r for r in by[n] if r.in_scope] for n in names}
    scoped_c = {n: [r for r in mine if r.world == n and r.commissioned and r.in_scope] for n in names}
    print_targets(f"\n== {lens} deg lens: in scope (reference in view, mark {IN_SCOPE_MARK_M[0]}-"
                  f"{IN_SCOPE_MARK_M[1]} m, {IN_SCOPE_ROOM_C[0]:g}-{IN_SCOPE_ROOM_C[1]:g} degC); then the same "
                  f"gates commissioned ==", names, scoped, scoped_c)
    print_targets(f"-- {lens} deg lens: in scope, and the reference as big and as near as docs/installation.md "
                  f"requires; then commissioned --", names,
                  {n: [r for r in scoped[n] if r.reference_documented] for n in names},
                  {n: [r for r in scoped_c[n] if r.reference_documented] for n in names})
    print_commissioning(lens, names, scoped_c)
    print_error_split(lens, names, scoped, scoped_c)
    for n in names:
        runs = {(r.run, r.learned) for r in scoped[n]}
        how = Counter(learned for _, learned in runs)
        print(f"{n} in scope: {len(runs)} runs, reference learned in {how.get('learned', 0)}"
              + "".join(f", {k} in {v}" for k, v in how.items() if k != "learned")
              + f"; the undecided were given: {undecided_reasons(scoped[n])}")
    print_outcomes(lens, names, scoped)
    if factors:
        print_factors(lens, names, scoped)
    if holds:
        print_holds(lens, names, scoped)

    def table(title: str, groups) -> None:
        print(title)
        print(f"{'world':9s} {'rows':15s} {'n':>4s} {'MAE':>6s} {'bias':>6s} {'slope':>6s} {'sens':>11s} "
              f"{'spec':>11s} {'PASS>=37.3':>10s} {'decided':>7s} {'walking':>7s} {'p90 s':>6s}")
        for n in names:
            for label, where, pool in groups(n):
                sub = [r for r in pool if where(r)]
                if not sub:
                    continue
                print(f"{n:9s} {label:15s} {len(sub):4d} {fmt(mae(sub)):>6s} {fmt(bias(sub)):>6s} "
                      f"{fmt(slope(sub)):>6s} {fmt(sensitivity(sub)):>11s} {fmt(specificity(sub)):>11s} "
                      f"{passed_febrile(sub):10d} {fmt(share_decided(sub)):>7s} {decided_walking(sub):7d} "
                      f"{fmt(latency_p90(sub)):>6s}")

    table(f"-- {lens} deg lens, in scope by the reference's apparent diameter --",
          lambda n: [(label, where, scoped[n]) for label, where in IN_SCOPE_BY_REFERENCE])
    table(f"-- {lens} deg lens, out of scope (a run may fall in more than one row) --",
          lambda n: [(label, where, by[n]) for label, where in OUT_OF_SCOPE])


# ---- one run's people against another's (--save, --compare) -----------------------------------------------------

def save_outcomes(rows: list[Outcome], path: str) -> None:
    """Every person of ``rows`` as one JSON line (the Outcome's fields; NaN as JSON's NaN)."""
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(asdict(r)) + "\n")


def load_outcomes(path: str) -> list[Outcome]:
    """The people :func:`save_outcomes` wrote."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            how = d.pop("commissioning")
            if how is not None:
                how = Commissioning(**{k: tuple(tuple(x) if isinstance(x, list) else x for x in v)
                                       if isinstance(v, list) else v for k, v in how.items()})
            d["holds"] = tuple(tuple(h) for h in d.get("holds", ()))
            rows.append(Outcome(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()},
                                commissioning=how))
    return rows


@dataclass(frozen=True)
class Change:
    """One world, lens and commissioning state: how the people in scope changed from one run to another."""

    people: int  # in scope in both runs
    changed: list[tuple[Outcome, Outcome]]  # (before, after): the first verdict, its estimate or its time, or
    # whether a PASS was given at any time, differs
    decided: tuple[int, int]  # decided before, after
    febrile_pass: tuple[int, int]  # PASS with core >= 37.3, before, after
    both_mae: tuple[float, float]  # MAE before, after, over the people decided in both
    both: int


def _key(r: Outcome) -> tuple:
    return r.world, r.lens, r.run, r.person, r.commissioned, r.noise_draw


def _verdict_of(r: Outcome) -> tuple:
    return r.decision, r.estimate_c, r.latency_s, r.ever_pass


def compare_outcomes(before: list[Outcome], after: list[Outcome]) -> dict[tuple[str, str, bool], Change]:
    """Person by person, the people in scope of both runs, per (world, lens, commissioned). An aggregate such as the
    90th percentile of a few dozen people's times can move with one person: this says how many moved, and which."""
    old = {_key(r): r for r in before if r.in_scope}
    new = {_key(r): r for r in after if r.in_scope}
    if len(old) != sum(r.in_scope for r in before) or len(new) != sum(r.in_scope for r in after):
        raise ValueError("a run holds the same person twice: saved before people were keyed (--save again)")
    groups: dict[tuple[str, str, bool], list[tuple[Outcome, Outcome]]] = {}
    for k in sorted(old.keys() & new.keys()):
        groups.setdefault((k[0], k[1], k[4]), []).append((old[k], new[k]))
    out = {}
    for group, pairs in sorted(groups.items()):
        both = [(a, b) for a, b in pairs if a.decision is not None and b.decision is not None]
        out[group] = Change(
            people=len(pairs),
            changed=[(a, b) for a, b in pairs if _verdict_of(a) != _verdict_of(b)],
            decided=(sum(a.decision is not None for a, _ in pairs), sum(b.decision is not None for _, b in pairs)),
            febrile_pass=(passed_febrile([a for a, _ in pairs]), passed_febrile([b for _, b in pairs])),
            both_mae=(mae([a for a, _ in both]), mae([b for _, b in both])) if both else (math.nan, math.nan),
            both=len(both))
    return out


def print_compare(changes: dict[tuple[str, str, bool], Change], top: int = 12) -> None:
    def verdict(r: Outcome) -> str:
        if r.decision is None:
            return "undecided" + (" (a PASS on another's reading)" if r.ever_pass else "")
        late = "" if r.latency_s is None else f" {r.latency_s:.3f} s"
        return f"{r.decision} {r.estimate_c - r.core_c:+.2f}{late}" + (" (a PASS later)" if r.ever_pass and
                                                                         r.decision != "PASS" else "")

    print("\n== person by person against the saved run (in scope; changed: the first verdict, its estimate or time, "
          "or a PASS at any time) ==")
    for (world, lens, commissioned), c in changes.items():
        state = "commissioned" if commissioned else "as installed"
        print(f"{world} {lens} deg, {state}: {len(c.changed)} of {c.people} people changed; decided "
              f"{c.decided[0]} -> {c.decided[1]}; PASS with core >= 37.3 {c.febrile_pass[0]} -> {c.febrile_pass[1]}; "
              f"MAE of the {c.both} decided in both {fmt(c.both_mae[0])} -> {fmt(c.both_mae[1])}")
        for a, b in c.changed[:top]:
            print(f"    run {a.run:3d} person {a.person:3d} core {a.core_c:.2f}: {verdict(a)} -> {verdict(b)}")
        if len(c.changed) > top:
            print(f"    ... and {len(c.changed) - top} more")


def _pair(text: str, what: str) -> tuple[float, float]:
    """The two numbers of ``text`` written A:B; ``what`` names them for the error (e.g. "the wings as SHARE:PX,
    e.g. 0.2:3")."""
    try:
        a, b = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give {what}") from None
    return a, b


def _wings(text: str) -> tuple[float, float]:
    """SHARE:PX, as --dev-wings and --tell-wings take them."""
    share, px = _pair(text, "the wings as SHARE:PX, e.g. 0.2:3")
    try:
        check_wings(share, px)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return share, px


def _noise(text: str) -> tuple[float, float]:
    """NETD:OFFSET_SD, as --dev-noise takes them."""
    netd, offsets = _pair(text, "the noise as NETD:OFFSET_SD, e.g. 0.18:0.175")
    if not (0.0 < netd <= 1.0 and 0.0 <= offsets <= 2.0):
        raise argparse.ArgumentTypeError(f"{text!r}: NETD in (0, 1] degC and OFFSET_SD in [0, 2] degC")
    return netd, offsets


def _stand(text: str) -> tuple[float, float]:
    """S0:S1, as --stand takes them."""
    lo, hi = _pair(text, "the standing time as S0:S1, e.g. 3:4")
    if not (0.5 <= lo <= hi <= 10.0):
        raise argparse.ArgumentTypeError(f"{text!r}: 0.5 <= S0 <= S1 <= 10 s")
    return lo, hi


def _fix(text: str) -> tuple[str, float]:
    """NAME=VALUE, as --fix takes it: a range every world draws (sim/scenes/world.py, World) and a value."""
    name, _, value = text.partition("=")
    names = sorted(DEV.spans())
    if name not in names:
        raise argparse.ArgumentTypeError(f"{text!r}: NAME must be one of the worlds' ranges: {', '.join(names)}")
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=VALUE, e.g. sensor_gain=0") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r}: VALUE must be a number")
    return name, v


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=720, help="people per world and lens (runs of 12)")
    ap.add_argument("--lenses", default="110,55")
    ap.add_argument("--worlds", default=f"{DEV.name},{HELD_OUT.name}")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--eye-band", choices=("canthus", "canthus_region"), default=None,
                    help="[screening] eye_band for every gate (default: the config's default)")
    ap.add_argument("--apply-sensor-offset", choices=("true", "false"), default=None,
                    help="[screening.reference] apply_sensor_offset for every gate (default: the config's default)")
    ap.add_argument("--stable-frames", type=int, default=None,
                    help="[screening] stable_frames for every gate (default: the config's default)")
    ap.add_argument("--factors", action="store_true",
                    help="also the share decided and the decided people's error, split by factor")
    ap.add_argument("--holds", action="store_true",
                    help=f"also what held the decided people's frames from standing still to the decision, for "
                         f"those decided after {LATE_S:.1f} s and the others (the tracker's reasons)")
    ap.add_argument("--readings", type=int, default=COMMISSION_READINGS,
                    help=f"the nurse's clinical readings per gate at commissioning (default {COMMISSION_READINGS}; "
                         "0: no commissioning)")
    ap.add_argument("--save", metavar="FILE", help="write every person's outcome to FILE (JSON lines)")
    ap.add_argument("--compare", metavar="FILE",
                    help="also compare person by person with a run saved with --save (the same options)")
    ap.add_argument("--refresh-hz", type=float, default=8.0, choices=(2.0, 4.0, 8.0, 16.0, 32.0),
                    help="the gates' refresh rate, frames a second (default 8, the firmware's)")
    ap.add_argument("--dev-wings", metavar="SHARE:PX", type=_wings, default=None,
                    help="give every DEV run's lens wings: SHARE of the energy in a Gaussian of PX pixels "
                         "(default: DEV's own, none); HELD_OUT keeps its own")
    ap.add_argument("--dev-noise", metavar="NETD:OFFSET_SD", type=_noise, default=None,
                    help="give every DEV run's sensor this noise (degC at a 1 Hz refresh, at the array's centre) and "
                         "per-pixel offsets of this sd (default: DEV's own, drawn); HELD_OUT keeps its own")
    ap.add_argument("--stand", metavar="S0:S1", type=_stand, default=None,
                    help="have the people of every world stand on the mark S0-S1 s (default: 1-2 s, the worlds' "
                         "own), each one's slot longer by as much")
    ap.add_argument("--wait-for-result", action="store_true",
                    help="have the people wait for their result: each walks on 0.5 s after a PASS, a FEVER or "
                         "RETRY wait_indoors, and otherwise stands their full time (a closed loop between the gate "
                         "and the scene; the default: they keep to their plan)")
    ap.add_argument("--noise-draw", metavar="K", type=int, default=0,
                    help="render the same runs with draw K (>= 1) of every sensor's noise over time, nothing else "
                         "changed (default 0: the runs' own)")
    ap.add_argument("--noise-draws", metavar="N", type=int, default=1,
                    help="render every run through N draws of the noise (K to K + N - 1; default 1) and print each "
                         "target over them below draw K's tables")
    ap.add_argument("--tell-wings", metavar="HOW", nargs="?", const="true", default="measured",
                    help="the lens's wings the installer configures ([screening] lens_wing_share, lens_wing_px): "
                         "'measured' (the default: what `thermogate calibrate lens` measures on each gate's lens, "
                         "as docs/installation.md has the installer do), 'none', the lens's true ones ('true', or "
                         "the option alone), or SHARE:PX as given")
    ap.add_argument("--tell-offset", choices=("measured", "true", "none"), default=None,
                    help="the sensor's offset the installer configures from the lens measurement ([screening] "
                         "lens_offset_c, lens_view_c): 'measured' (what `thermogate calibrate lens` reads; the "
                         "default wherever the lens is measured), 'true' (the sensor's true offset while the disc "
                         "stood, in place of the one read: what the reading's error costs), 'none' (the default "
                         "with --tell-wings none)")
    ap.add_argument("--tell-blur", choices=("measured", "true", "disc"), default="measured",
                    help="the lens blur the gate reads the faces and the disc with: 'measured' (the default: the "
                         "lens's core, or the disc's where the lens was not measured), 'true' (the lens's true core "
                         "blur in place of both: what the blur's measurement costs), 'disc' (the faces read through "
                         "the disc's blur wherever the disc told one)")
    ap.add_argument("--fix", metavar="NAME=VALUE", type=_fix, action="append", default=[],
                    help="hold one of the worlds' ranges at VALUE in every run of every world, everything else "
                         "drawn as before (e.g. sensor_gain=0; again for more): what that quantity's spread costs")
    ap.add_argument("--flat-field", choices=("measured", "none"), default=FLAT_DEFAULT or "none",
                    help=f"the sensor's pixel offsets: 'measured' (what `thermogate calibrate flat` measures on each "
                         f"gate's sensor, the run's disc held against its window for {FLAT_S:g} s), 'none' (not "
                         f"measured); default {FLAT_DEFAULT or 'none'}, as docs/installation.md has the installer do")
    args = ap.parse_args(argv)
    if args.noise_draw < 0:
        ap.error("--noise-draw must be 0 or more")
    if not 1 <= args.noise_draws <= 20:
        ap.error("--noise-draws must be 1 to 20")
    draws = list(range(args.noise_draw, args.noise_draw + args.noise_draws))
    told = (None if args.tell_wings == "none" else args.tell_wings if args.tell_wings in ("true", "measured")
            else _wings(args.tell_wings))
    worlds = [world_named(w) for w in args.worlds.split(",")]
    lenses = args.lenses.split(",")
    runs = max(1, math.ceil(args.people / PEOPLE_PER_RUN))
    offset = None if args.apply_sensor_offset is None else args.apply_sensor_offset == "true"
    offset_how = offset_source(told, args.tell_offset)
    jobs = [(w.name, lens, i, args.eye_band, offset, args.readings, args.refresh_hz, args.stable_frames,
             args.dev_wings, told, offset_how, args.dev_noise, args.stand, args.wait_for_result, draw,
             args.tell_blur, tuple(args.fix), None if args.flat_field == "none" else args.flat_field)
            for draw in draws for lens in lenses for w in worlds for i in range(runs)]
    band = args.eye_band or ScreeningConfig().eye_band
    applied = ScreeningConfig().analysis.apply_sensor_offset if offset is None else offset
    print(f"make bench-accuracy: {runs} runs of {KIND} ({runs * PEOPLE_PER_RUN} people) per world and lens; "
          f"worlds {', '.join(f'{w.name} (seeds {w.seed(0)}..{w.seed(runs - 1)})' for w in worlds)}; "
          f"eye_band {band}, apply_sensor_offset {str(applied).lower()}, "
          f"stable_frames {ScreeningConfig().stable_frames if args.stable_frames is None else args.stable_frames}; "
          f"commissioning: {args.readings} clinical readings per gate (thermometer sd {THERMOMETER_SD_C} degC), "
          f"more up to {max(args.readings, COMMISSION_MAX_READINGS)} where the fit asks for more, "
          f"at most {COMMISSION_MAX_SESSIONS} sessions ({COMMISSION_MORE_SESSIONS} to read on) "
          f"of {COMMISSION_SESSION_PEOPLE} people; {args.refresh_hz:g} frames a second; {args.jobs} processes"
          + (f"; DEV's lenses with wings {args.dev_wings[0]:g} at {args.dev_wings[1]:g} px" if args.dev_wings else "")
          + (f"; DEV's sensors with noise {args.dev_noise[0]:g} degC at 1 Hz and pixel offsets of "
             f"{args.dev_noise[1]:g} degC" if args.dev_noise else "")
          + (f"; people standing {args.stand[0]:g}-{args.stand[1]:g} s" if args.stand else "")
          + ("; people walk on once given their result" if args.wait_for_result else "")
          + (f"; draw {args.noise_draw} of the sensors' noise over time" if len(draws) == 1 and args.noise_draw else
             f"; draws {draws[0]}-{draws[-1]} of the sensors' noise over time (the tables: draw {draws[0]})"
             if len(draws) > 1 else "")
          + ("; no wings configured" if told is None else
             "; the installer measured each lens (thermogate calibrate lens) and was told its true wings"
             if told == "true" else
             "; the installer measured each lens's wings (thermogate calibrate lens)"
             if told == "measured" else
             f"; the installer measured each lens and was told wings {told[0]:g} at {told[1]:g} px")
          + ("; no sensor offset from a lens measurement" if offset_how is None else
             "; the sensor's offset as the lens measurement reads it" if offset_how == "measured" else
             "; the sensor's true offset in place of the lens measurement's")
          + ("; the lens's true core blur in place of the measured ones" if args.tell_blur == "true" else
             "; the faces read through the disc's blur" if args.tell_blur == "disc" else "")
          + ("".join(f"; {name} {value:g} in every run" for name, value in args.fix))
          + ("; the installer measured each sensor's pixel offsets (thermogate calibrate flat)"
             if args.flat_field == "measured" else "; no pixel offsets measured"),
          flush=True)
    t0 = time.perf_counter()
    if args.jobs > 1:
        with get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(run, jobs, chunksize=1)
    else:
        results = [run(j) for j in jobs]
    rows = [r for chunk in results for r in chunk]
    for lens in lenses:
        print_lens(lens, [r for r in rows if r.noise_draw == draws[0]], worlds, args.factors, args.holds)
        if len(draws) > 1:
            print_draws(lens, rows, [w.name for w in worlds], draws)
    if args.compare:
        print_compare(compare_outcomes(load_outcomes(args.compare), rows))
    if args.save:
        save_outcomes(rows, args.save)
    print(f"\n{time.perf_counter() - t0:.0f} s. Scored: each person who stood at the mark, by their first PASS/FEVER; "
          "MAE, bias, slope, sensitivity and specificity over those decided; targets from issue 13 "
          "(held-out world, in scope).")


if __name__ == "__main__":
    main()
