"""The screening core end to end on simulated scenes: each scenario gets the
right class of decision, estimates follow the true temperature, and nobody
is ever passed without a complete measurement."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from controller.geometry import NARROW, WIDE, pixels_across
from controller.protocol import result as D
from controller.screening.analysis import AnalysisConfig, FrameAnalysis
from controller.screening.body_model import default_model
from controller.screening.config import ConfigError, ScreeningConfig, from_table
from controller.screening.estimate import estimate_core_c
from controller.screening.offline import analyze_recording, truth_for
from controller.screening.optics import NO_MIX, face_aspect, face_mix
from controller.screening.pipeline import GatePipeline
from controller.screening.site_calibration import fit_site_offset
from controller.screening.tracker import (
    EARLY_FRAMES,
    EARLY_MARGIN_C,
    HELD_DISAGREE,
    HELD_FILLING,
    HELD_SETTLING,
    Tracker,
)
from sim.scenarios import scenario
from sim.synth import scenario_recording


@cache
def _recording(name: str, seed: int, variant: str, seconds: float | None):
    return scenario_recording(name, seconds or scenario(name, seed, variant=variant).duration_s, seed=seed,
                              variant=variant)


def decided(name: str, seed: int = 0, config: ScreeningConfig | None = None, seconds: float | None = None,
            variant: str = "55"):
    """(decision, the truth of the person nearest the sensor when it was made) for one scenario run."""
    rec = _recording(name, seed, variant, seconds)
    cfg = config or ScreeningConfig()
    if cfg.analysis.variant != variant:
        cfg = replace(cfg, analysis=replace(cfg.analysis, variant=variant))
    decisions = analyze_recording(rec, cfg)
    return list(zip(decisions, truth_for(rec, decisions), strict=True))


def frames_truth(name: str, seed: int = 0, variant: str = "55", seconds: float | None = None) -> dict:
    """The ground truth of every frame of a run, by time."""
    return {round(f.time, 6): f.truth for f in _recording(name, seed, variant, seconds).frames()}


def standing_people(name: str, seed: int = 0, variant: str = "55", seconds: float | None = None) -> dict:
    """Every person who stood at the mark in a run: id -> their truth in the first standing frame."""
    out: dict = {}
    for truth in frames_truth(name, seed, variant, seconds).values():
        for p in truth["people"]:
            if p["phase"] == "standing":
                out.setdefault(p["id"], p)
    return out


@cache
def _offset(variant: str) -> float:
    """The site offset a nurse would fit: estimates against true temperatures on separate runs."""
    pairs = [(d.estimate_c, p["core_c"]) for seed in (100, 101) for d, p in decided("normal_queue", seed,
                                                                                     variant=variant)
             if d.estimate_c is not None and p is not None]
    return round(fit_site_offset(pairs).offset_c, 1)


def calibrated_config(variant: str = "55", **kw) -> ScreeningConfig:
    return ScreeningConfig(site_offset_c=_offset(variant), analysis=AnalysisConfig(variant=variant), **kw)


@pytest.fixture(scope="module")
def calibrated() -> ScreeningConfig:
    return calibrated_config("55")


def right_class(d, p, threshold: float = 37.3) -> bool:
    """A PASS/FEVER is of the right class for the person's true core temperature, outside the band
    (36.8-37.8 degC) where person-to-person skin variation decides."""
    if p["core_c"] >= 37.8:
        return d.decision == D.FEVER
    if p["core_c"] <= 36.8:
        return d.decision == D.PASS
    return d.decision in (D.PASS, D.FEVER)


def skin_says(p) -> float:
    """The body temperature a perfect reading of this person's own canthus gives (the fitted skin-to-body model
    on their true skin): what is left of an estimate's error beyond it is the pipeline's, not the person's."""
    return default_model().body_c(p["canthus_c"], p["room_c"])


def verdicts(results):
    return [(d, p) for d, p in results if d.decision in (D.PASS, D.FEVER) and p is not None]


# ---- every scenario gets the right class of decision -----------------------------------------------------------

def test_normal_queue_passes_and_decides_everyone(calibrated):
    results = decided("normal_queue", 0, calibrated)
    measured = verdicts(results)
    assert len(measured) >= 0.8 * len(standing_people("normal_queue", 0))
    assert np.mean([right_class(d, p) for d, p in measured]) >= 0.9
    assert all(d.decision == D.PASS for d, p in measured if p["core_c"] <= 36.5)
    assert all(abs(d.estimate_c - p["core_c"]) < 1.0 for d, p in measured)


def test_fever_scenario_finds_the_fevers(calibrated):
    results = [r for seed in (0, 1) for r in decided("fever", seed, calibrated)]
    measured = verdicts(results)
    assert len(measured) >= 12
    for d, p in measured:
        if p["core_c"] >= 38.0:
            assert d.decision == D.FEVER, (d, p["core_c"])
        if p["core_c"] <= 36.6:
            assert d.decision == D.PASS, (d, p["core_c"])


def test_linearity_slope_and_error(calibrated):
    results = [r for seed in (0, 1) for r in decided("linearity", seed, calibrated)]
    pairs = [(p["core_c"], d.estimate_c) for d, p in verdicts(results)]
    assert len(pairs) >= 30
    true, est = np.array(pairs).T
    slope = np.polyfit(true, est, 1)[0]
    # The target is 0.97-1.03; over two runs the slope's own standard error is about 0.02, so the test allows
    # 0.94-1.06 and the accuracy benchmark measures it over more runs.
    assert 0.94 <= slope <= 1.06, slope
    assert np.mean(np.abs(est - true)) < 0.45
    # Never compressed: the whole range comes through, down to the physiological floor (min_estimate_c, 35.5 degC),
    # below which an estimate is withheld ("wait indoors"), never moved. The floor judges the face with its lower
    # part taken as forehead-like, which reads a little lower than the estimate: the lowest decided core here is
    # 36.0 degC, one step of the scene above it.
    assert true.min() <= 36.0 and true.max() > 40.0
    assert est.min() < 36.0 and est.max() > 40.0
    assert all(d.estimate_c >= calibrated.min_estimate_c for d, _ in verdicts(results))
    below = [d for d, p in results if p is not None and p["core_c"] < 35.0 and p["phase"] == "standing"]
    assert below and all(d.decision == D.RETRY for d in below)
    assert all(right_class(d, p) for d, p in verdicts(results) if abs(p["core_c"] - 37.3) >= 1.0)


def test_ambient_sweep_decides_the_right_class(calibrated):
    results = decided("ambient_sweep", 0, calibrated)
    measured = verdicts(results)
    assert len(measured) >= 16
    rooms = {round(p["room_c"]) for _, p in measured}
    assert {18, 21, 24, 27} <= rooms  # decisions in every room of the targets' 18-28 degC
    assert np.mean([right_class(d, p) for d, p in measured]) >= 0.9
    assert all(d.decision == D.PASS for d, p in measured if p["core_c"] <= 36.4)
    assert all(abs(d.estimate_c - p["core_c"]) < 1.0 for d, p in measured if 18.0 <= p["room_c"] <= 28.0)


def test_hot_cup_never_makes_a_fever(calibrated):
    """The reading comes from the face, never the cup: no FEVER for anyone below the band
    where person-to-person skin variation decides (36.8 degC), and every face reading
    near the person's own canthus."""
    results = decided("hot_cup", 0, calibrated)
    assert any(p is not None and p["hot_cup"] and d.estimate_c is not None for d, p in results)
    for d, p in results:
        if d.decision == D.FEVER:
            assert p is not None and p["core_c"] > 36.8, (d, p)
        if d.face_c is not None and p is not None:
            assert d.face_c <= p["canthus_apparent_c"] + 0.5, (d, p)


def _apart(a, b) -> bool:
    """Whether two faces' boxes (continuous pixels) are at least a pixel apart."""
    return max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3]) >= 1.0


@pytest.mark.parametrize("variant", ["55", "110"])
def test_two_people_get_one_at_a_time_never_a_partial_face(variant):
    """The next person waits in view behind the one at the mark. Whoever is at the mark is asked to
    come one at a time; a PASS/FEVER is made only when the second face is hidden behind the first
    (then the reading is the front face's, and right), never with two faces in view apart, never on a
    far or partly hidden face."""
    config = calibrated_config(variant)
    truths = frames_truth("two_people", 0, variant)
    results = decided("two_people", 0, config, variant=variant)
    assert sum(d.reason == D.ONE_AT_A_TIME for d, _ in results) >= 0.5 * len(standing_people("two_people", 0,
                                                                                              variant))
    for d, p in verdicts(results):
        people = truths[round(d.time_s, 6)]["people"]
        # Standing on the mark: in the frame it was decided on, or (the first frame of their walk off, the face
        # moved under a pixel) in the one before.
        before = {q["id"]: q for q in truths[round(d.time_s - 0.125, 6)]["people"]}
        assert p["phase"] == "standing" or before[p["id"]]["phase"] == "standing", (d, p)
        assert p["distance_m"] < 1.3 * scenario("two_people", variant=variant).mounting.mark_distance_m, (d, p)
        assert abs(d.estimate_c - skin_says(p)) <= 0.7, (d, p)
        others = [q for q in people if q["id"] != p["id"]]
        assert not any(_apart(q["face_box_px"], p["face_box_px"]) for q in others), (d, people)


def test_no_reference_blocks_or_is_flagged():
    results = decided("no_reference", 0, seconds=40)
    screened = [d for d, _ in results if d.reason != D.WARMING_UP]
    assert screened and all(d.decision == D.BLOCKED and d.reason == D.REFERENCE_MISSING for d in screened)
    relaxed = decided("no_reference", 0, ScreeningConfig(require_reference=False), seconds=40)
    verdicts_ = [d for d, _ in relaxed if d.decision in (D.PASS, D.FEVER)]
    assert verdicts_ and all(d.reduced_accuracy for d in verdicts_)
    assert not any(d.reduced_accuracy for d, _ in decided("normal_queue", 0) if d.decision in (D.PASS, D.FEVER))


def test_glasses_ask_for_their_removal(calibrated):
    results = [(d, p) for d, p in decided("glasses", 0, calibrated) if d.reason != D.WARMING_UP]
    assert sum(d.reason == D.REMOVE_GLASSES_HAT for d, _ in results) >= 0.6 * len(standing_people("glasses", 0))
    assert all(abs(d.estimate_c - skin_says(p)) <= 0.7 for d, p in verdicts(results))  # if ever, on a bare canthus


def test_hat_asks_or_decides_right(calibrated):
    results = decided("hat", 0, calibrated)
    for d, p in results:
        if d.decision in (D.PASS, D.FEVER):
            assert p is not None and right_class(d, p) and abs(d.estimate_c - skin_says(p)) < 0.8, (d, p)
    hats = [pid for pid, p in standing_people("hat", 0).items() if p["hat"]]
    answered = {p["id"] for d, p in results if p is not None and (d.decision in (D.PASS, D.FEVER)
                                                                  or d.reason == D.REMOVE_GLASSES_HAT)}
    assert len(answered & set(hats)) >= 0.7 * len(hats)


@pytest.mark.parametrize("variant", ["55", "110"])
def test_far_people_are_asked_to_come_closer(variant):
    results = decided("far", 0, variant=variant, seconds=40)
    assert any(d.reason == D.COME_CLOSER for d, _ in results)
    assert not any(d.decision in (D.PASS, D.FEVER) for d, _ in results)  # too few pixels for the canthus


def test_cold_arrivals_wait_indoors(calibrated):
    """Faces still chilled from outdoors read low: asked to wait indoors; a decision, when one comes,
    is of the right class."""
    results = decided("cold_arrival", 0, calibrated)
    cold = {pid for pid, p in standing_people("cold_arrival", 0).items() if p["from_cold"]}
    told = {p["id"] for d, p in results if p is not None and d.reason == D.WAIT_INDOORS}
    assert len(told & cold) >= 0.6 * len(cold)
    for d, p in verdicts(results):
        assert right_class(d, p) and abs(d.estimate_c - p["core_c"]) < 1.0, (d, p)


def test_sensor_fault_scenario_never_makes_a_fever_from_garbage(calibrated):
    """Garbage pixels from a bad cable (the scenario's 20-30 s and 50-52 s): no FEVER for a normal person."""
    results = decided("sensor_fault", 0, calibrated)
    assert verdicts(results)
    for d, p in verdicts(results):
        assert right_class(d, p) and abs(d.estimate_c - p["core_c"]) < 1.0, (d, p)


def test_sensor_fault_blocks():
    """Garbage words from a bad cable make frames the sensor maths refuses: BLOCKED, once."""
    rec = scenario_recording("normal_queue", 12.0)
    pipeline = GatePipeline(rec.gate_id, rec.eeprom_message().words, ScreeningConfig())
    rng = np.random.default_rng(0)
    out = []
    for item in rec.frames():
        words = item.message.words.copy()
        if 8.0 <= item.time < 9.0:
            words[rng.integers(0, 768, 16)] = 0x8000  # stuck-low data lines
        out += pipeline.push(words, item.time, item.message.sequence)
    faults = [d for d in out if d.reason == D.SENSOR_FAULT]
    assert len(faults) == 1 and faults[0].decision == D.BLOCKED and 8.0 <= faults[0].time_s < 9.0
    assert pipeline.frame_errors >= 6


def test_every_decision_is_a_known_class():
    for name in ("normal_queue", "cold_arrival", "hat", "ambient_sweep", "sensor_fault", "wifi_drop"):
        for d, _ in decided(name, 0, seconds=30):
            assert d.decision in D.DECISIONS
            assert (d.reason == "") == (d.decision in (D.PASS, D.FEVER))
            assert d.reason in D.RETRY_REASONS + D.BLOCKED_REASONS + ("",)
            if d.decision in (D.PASS, D.FEVER):
                assert d.frames >= EARLY_FRAMES and math.isfinite(d.estimate_c)
                if d.frames < ScreeningConfig().stable_frames:  # early only a FEVER far above the threshold
                    assert d.decision == D.FEVER
                    assert d.estimate_c - ScreeningConfig().threshold_c >= EARLY_MARGIN_C


def test_one_person_one_verdict():
    """Nobody standing at the mark is split into two tracks that each get a PASS/FEVER."""
    for name in ("normal_queue", "fever", "two_people"):
        ids = [p["id"] for d, p in decided(name, 0) if d.decision in (D.PASS, D.FEVER) and p is not None]
        assert len(ids) == len(set(ids)), name


def test_pipeline_exposes_state_analysis_and_image():
    rec = _recording("normal_queue", 0, "55", None)
    pipeline = GatePipeline(rec.gate_id, rec.eeprom_message().words, ScreeningConfig())
    assert pipeline.last_analysis is None and pipeline.image is None and pipeline.state == "warming_up"
    states = set()
    for item in list(rec.frames())[:160]:
        for d in pipeline.push(item.message.words, item.time, item.message.sequence):
            if d.decision in (D.PASS, D.FEVER):
                assert pipeline.last_analysis.face_box is not None
        states.add(pipeline.state)
        if pipeline.image is not None:
            assert pipeline.image.shape == (24, 32) and np.isfinite(pipeline.image).all()
    assert {"idle", "decided"} <= states
    image = pipeline.image
    pipeline.push(next(rec.frames()).message.words, 99.0)
    assert pipeline.image is not image  # a new array per frame: a kept snapshot stays as it was


# ---- the tracker alone -----------------------------------------------------------------------------------------

def reading_for(core_c: float, width_px: float = 6.0, ambient: float = 22.0) -> float:
    """The face reading the estimator turns into ``core_c`` for a face ``width_px`` across through the 55 degree
    lens (the lower face not read)."""
    mix = face_mix(width_px, width_px * face_aspect(NARROW))
    lo, hi = 20.0, 45.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if estimate_core_c(mid, ambient, fill=mix.band, face_share=mix.share) < core_c:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


NORMAL = reading_for(36.7)  # a face reading that is an afebrile estimate


def _analysis(face_c=NORMAL, people=1, distance=0.9, glasses=False, box=(8, 12, 14, 18), ref_ok=True):
    # a second face (someone behind) stands to the side of the first
    faces = (box,) + tuple((box[0], box[1] + 9, box[2], box[3] + 9) for _ in range(people - 1)) if box else ()
    return FrameAnalysis(ambient_c=22.0, people=people, face_box=box, face_width_px=6.0 if box else 0.0,
                         distance_m=distance if box else None,
                         face_max_c=face_c + 0.2, face_topk_c=face_c, forehead_c=face_c - 1, touches_edge=False,
                         glasses=glasses, forehead_covered=False, hot_object=False, reference_c=35.0,
                         reference_ok=ref_ok, offset_c=0.0, faces=faces)


def test_the_tracker_says_when_the_person_at_the_mark_is_being_measured():
    """measured_now (what the measuring light follows): on every still frame taken into the window before the
    decision; not on the decision's frame, after it, nor on a frame BLOCKED while the frames before it still
    count."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0, require_reference=True)
    reading = reading_for(36.6)
    tracker = Tracker("g", cfg)
    assert not tracker.measured_now
    taken = []
    for i in range(cfg.stable_frames - 1):
        assert tracker.update(i * 0.125, i + 1, _analysis(face_c=reading)) == []
        taken.append(tracker.measured_now)
    assert all(taken)
    blocked = tracker.update(0.9, 50, _analysis(face_c=reading, ref_ok=False))
    assert [d.decision for d in blocked] == [D.BLOCKED] and not tracker.measured_now
    # the frames before it still count, but nobody is being measured: the console says "blocked"
    assert tracker.state == "blocked" and len(tracker._person.window) == cfg.stable_frames - 1
    out = tracker.update(1.0, 51, _analysis(face_c=reading))
    assert [d.decision for d in out] == [D.PASS] and not tracker.measured_now
    tracker.update(1.125, 52, _analysis(face_c=reading))
    assert tracker.state == "decided" and not tracker.measured_now
    tracker.update(1.25, 53, None)  # the sensor gave no usable frame: nothing measured
    assert not tracker.measured_now and tracker.state == "decided"  # a decided person is not waiting


def test_a_face_whose_eye_line_is_below_its_eyes_is_asked_to_uncover_them_and_never_decided():
    """A frame whose eye line lies below where a face's eyes can be (the analysis's eye_line_low: the hottest row
    is the mouth or the neck, under glasses or a fringe) is not read: however long the person stands, they are
    told RETRY remove_glasses_hat, from the third such frame on, and never given a PASS on it. The same face read
    at its eyes is decided."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0, require_reference=True)
    tracker = Tracker("g", cfg)
    reading = reading_for(36.6)
    low = replace(_analysis(face_c=reading), eye_line_low=True)
    told = [d for i in range(40) for d in tracker.update(i * 0.125, i + 1, low)]
    assert told and all((d.decision, d.reason) == (D.RETRY, D.REMOVE_GLASSES_HAT) for d in told)
    # told on the third such frame (SEEN_FRAMES), not after retry_still_s (1 s) on the mark
    assert told[0].time_s == 0.25 < cfg.retry_still_s
    read = [d for i in range(40, 56) for d in tracker.update(i * 0.125, i + 1, _analysis(face_c=reading))]
    assert [d.decision for d in read] == [D.PASS]


def test_the_state_is_blocked_while_someone_waits_and_the_gate_cannot_measure():
    """Someone at the mark whose frames are BLOCKED (the reference fails, or the sensor) is shown as "blocked",
    not "measuring"; the next measured frame is "measuring" again."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0, require_reference=True)
    tracker = Tracker("g", cfg)
    tracker.update(0.0, 1, _analysis())
    assert tracker.state == "measuring"
    tracker.update(0.125, 2, _analysis(ref_ok=False))
    assert tracker.state == "blocked"
    tracker.update(0.25, 3, _analysis())
    assert tracker.state == "measuring"
    assert [d.reason for d in tracker.update(0.375, 4, None)] == [D.SENSOR_FAULT]
    assert tracker.state == "blocked"
    tracker.update(0.5, 5, _analysis())
    assert tracker.state == "measuring" and len(tracker._person.window) == 1  # a fault starts the window over
    # without a reference required, a failing reference does not block: the frame is measured, reduced
    free = Tracker("g", ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0, require_reference=False))
    free.update(0.0, 1, _analysis(ref_ok=False))
    assert free.state == "measuring" and free.measured_now


def _retry_reasons(decisions):
    return [d.reason for d in decisions if d.decision == D.RETRY]


def test_someone_walking_off_is_not_told_where_to_stand():
    """A RETRY about where a person is or how they move is not given once their face has moved half its width
    or more from where it stood still (walking off: it breaks up into what looks like two faces); someone
    fidgeting where they stand is told to hold still, and someone walking off still cold is told to wait
    indoors (the guard sees it)."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0, retry_after_s=0.5)

    def walk(steps, people=1, face_c=NORMAL):
        tracker, out, t = Tracker("g", cfg), [], 0.0
        for i in range(3):  # standing still on the mark: measured, not yet decided
            out += tracker.update(t, i, _analysis(box=(8, 12, 14, 18)))
            t += 0.125
        for k, shift in enumerate(steps):
            box = (8, 12 + shift, 14, 18 + shift)
            out += tracker.update(t, 10 + k, _analysis(face_c=face_c, people=people, box=box))
            t += 0.125
        return out

    off = walk([2, 4, 6, 8, 10], people=2)  # to the right, in fragments
    assert _retry_reasons(off) == []
    fidget = walk([2, 0, 2, 0, 2, 0])
    assert _retry_reasons(fidget) == [D.HOLD_STILL]
    cold = walk([2, 4, 6, 8, 10], face_c=cfg.min_face_c - 1.0)
    assert _retry_reasons(cold) == [D.WAIT_INDOORS]


def test_someone_moving_after_a_retry_is_not_told_where_to_stand_again_until_they_stand_still():
    """A further RETRY about where a person stands or who stands by them waits until they have stood still for
    retry_still_s since the last one. Someone told to come closer whose face then moves (less than half its width:
    not walking off) with a second face beside it, their own face breaking up as they turn to go or the next
    person coming, is not told one_at_a_time while it moves. (It used to be at once: while the face moved its
    stillness was unknown, and the check let the RETRY through.) Standing still again with the second face there,
    they are told after retry_still_s."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)
    tracker, out, t = Tracker("g", cfg), [], 0.0
    for i in range(12):  # standing still, too far from the mark
        out += [(t, d.reason) for d in tracker.update(t, i, _analysis(distance=1.6))]
        t += 0.125
    assert out == [(0.25, D.COME_CLOSER)]
    for k in range(8):  # moving by 2 pixels a frame, a second face beside theirs
        shift = 2 * ((k + 1) % 2)
        moved = _analysis(people=2, box=(8, 12 + shift, 14, 18 + shift))
        out += [(t, d.reason) for d in tracker.update(t, 20 + k, moved)]
        t += 0.125
    assert out == [(0.25, D.COME_CLOSER)]
    still = t
    for k in range(12):  # standing still again, the second face still there
        out += [(t, d.reason) for d in tracker.update(t, 40 + k, _analysis(people=2))]
        t += 0.125
    assert [r for _, r in out] == [D.COME_CLOSER, D.ONE_AT_A_TIME]
    assert out[1][0] >= still + cfg.retry_still_s - 0.125


def test_tracker_passes_only_after_enough_stable_frames():
    """A PASS needs stable_frames frames, near the threshold or far from it; a FEVER far above the threshold is
    decided from EARLY_FRAMES."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)
    near = reading_for(cfg.threshold_c - EARLY_MARGIN_C + 0.2)
    tracker = Tracker("g", cfg)
    out = []
    for i in range(cfg.stable_frames - 1):
        out += tracker.update(i * 0.125, i + 1, _analysis(face_c=near))
    assert out == [] and tracker.state == "measuring"
    out = tracker.update(1.0, 9, _analysis(face_c=near))
    assert [d.decision for d in out] == [D.PASS] and out[0].frames == cfg.stable_frames and out[0].sequence == 9
    clear = Tracker("g", cfg)
    out = []
    for i in range(cfg.stable_frames):
        assert out == []
        out += clear.update(i * 0.125, i + 1, _analysis())  # NORMAL: 36.7, 0.6 below the threshold
    assert [d.decision for d in out] == [D.PASS] and out[0].frames == cfg.stable_frames
    fever = Tracker("g", cfg)
    out = []
    for i in range(EARLY_FRAMES):
        assert out == []
        out += fever.update(i * 0.125, i + 1, _analysis(face_c=reading_for(cfg.threshold_c + EARLY_MARGIN_C + 0.3)))
    assert [d.decision for d in out] == [D.FEVER] and out[0].frames == EARLY_FRAMES
    assert tracker.update(1.2, 10, _analysis()) == []  # one decision per person
    assert tracker.state == "decided"


def _decide(cfg: ScreeningConfig, face_c: float, ratio: float | None, frames: int | None = None) -> list:
    """The decisions on ``frames`` (default: stable_frames) still frames of one face reading ``face_c`` whose lower
    face reads ``ratio`` of the way from the room (22.0) to ``face_c`` (None: not in view)."""
    lower = math.nan if ratio is None else 22.0 + ratio * (face_c - 22.0)
    tracker = Tracker("g", cfg)
    out = []
    for i in range(frames or cfg.stable_frames):
        out += tracker.update(i * 0.125, i + 1, replace(_analysis(face_c=face_c), lower_face_c=lower))
    return out


def test_the_face_below_the_eye_band_is_read_for_what_it_is():
    """The lower face's reading goes into the estimate: a face whose nose and cheeks (or mask) read cool is
    estimated higher than the same hottest pixels over a forehead-like lower face, by what the optics terms say
    that part of the reading is (here a face 6 pixels across through the nominal lens); with the lower face out
    of view the estimate takes it for forehead-like, as the same reading's ``estimate_core_c`` does."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)
    reading = reading_for(36.6)
    mix = face_mix(6.0, 6.0 * face_aspect(NARROW))
    assert mix.lower > 0.05
    estimates = []
    for ratio in (0.9, 0.65):  # bare skin below the eyes; a mask
        lower = 22.0 + ratio * (reading - 22.0)
        out = _decide(cfg, reading, ratio)
        expected = estimate_core_c(reading, 22.0, fill=mix.band, face_share=mix.share, lower_share=mix.lower,
                                   lower_c=lower)
        assert [d.decision for d in out] == [D.PASS] and out[0].estimate_c == pytest.approx(expected, abs=1e-6)
        estimates.append(expected)
    bare, masked = estimates
    assert 36.6 < bare < masked - 0.1
    assert _decide(cfg, reading, None)[0].estimate_c == pytest.approx(36.6, abs=0.01)
    # a masked face just under the threshold on its hottest pixels alone is a FEVER once the mask is read
    near = _decide(cfg, reading_for(cfg.threshold_c - 0.2), 0.65)
    assert [d.decision for d in near] == [D.FEVER]


def test_a_cool_lower_face_never_lifts_a_face_over_the_floor():
    """A face just in from the cold reads its nose and cheeks cool, as a mask does: the floor judges the face
    with that part taken as forehead-like, so a reading under the physiological floor stays a RETRY
    wait_indoors, however much reading the lower face would add."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)
    reading = reading_for(cfg.min_estimate_c - 0.2)
    out = _decide(cfg, reading, 0.5)
    assert [(d.decision, d.reason) for d in out] == [(D.RETRY, D.WAIT_INDOORS)]
    # the same reading with its lower face read would have cleared the floor: the rule is what holds it
    mix = face_mix(6.0, 6.0 * face_aspect(NARROW))
    assert estimate_core_c(reading, 22.0, fill=mix.band, face_share=mix.share, lower_share=mix.lower,
                           lower_c=22.0 + 0.5 * (reading - 22.0)) > cfg.min_estimate_c

def test_tracker_never_passes_an_unmeasurable_person():
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)
    tracker = Tracker("g", cfg)
    out = []
    for i in range(40):
        out += tracker.update(i * 0.125, i + 1, _analysis(people=2))
    assert out and {(d.decision, d.reason) for d in out} == {(D.RETRY, D.ONE_AT_A_TIME)}
    assert out[0].time_s <= cfg.retry_still_s + 0.2  # told soon after standing still
    # and not spammed
    assert all(b.time_s - a.time_s >= cfg.notice_repeat_s for a, b in zip(out, out[1:], strict=False))
    tracker = Tracker("g", ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0))
    out = []
    for i in range(40):  # the face jumps about: never stable
        out += tracker.update(i * 0.125, i + 1, _analysis(box=(8, 12 + 3 * (i % 2), 14, 18 + 3 * (i % 2))))
    assert out and {(d.decision, d.reason) for d in out} == {(D.RETRY, D.HOLD_STILL)}


def test_a_retry_is_not_the_end_a_second_face_is_remembered():
    """Someone asked to wait for the person behind is measured once that person is gone for
    second_face_s; a face that merges back within that time still counts as two."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)
    tracker = Tracker("g", cfg)
    out, t = [], 0.0
    for i in range(12):  # 1.5 s with someone behind
        out += tracker.update(t, i, _analysis(people=2))
        t += 0.125
    assert [(d.decision, d.reason) for d in out] == [(D.RETRY, D.ONE_AT_A_TIME)]
    merged = []
    for i in range(int(cfg.second_face_s / 0.125)):  # the second face merges with the first: looks like one
        merged += tracker.update(t, 100 + i, _analysis())
        t += 0.125
    assert not any(d.decision in (D.PASS, D.FEVER) for d in merged)
    later = []
    for i in range(12):
        later += tracker.update(t, 200 + i, _analysis())
        t += 0.125
    assert [d.decision for d in later] == [D.PASS] and later[0].track == out[0].track


def test_noisy_single_frame_does_not_hold_up_a_decision():
    tracker = Tracker("g", ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0))
    readings = [NORMAL + x for x in (0.0, 0.1, 0.7, 0.0, 0.1)]  # one frame's noise: 0.7 degC
    out = []
    for i, r in enumerate(readings):
        out += tracker.update(i * 0.125, i, _analysis(face_c=r))
    assert [d.decision for d in out] == [D.PASS]
    drifting = Tracker("g", ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0))
    out = []
    for i in range(5):  # a steady drift of 0.15 degC a frame is not a stable reading
        out += drifting.update(i * 0.125, i, _analysis(face_c=NORMAL + 0.15 * i))
    assert out == []



def test_the_tracker_says_why_a_frame_decided_nothing():
    """Tracker.held: the frames filling the window, readings that do not agree, a face still growing over the
    window, a frame that cannot be measured (told or not), the reference failing; None once decided."""
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)

    def held(frames: list[FrameAnalysis]) -> tuple[list[str | None], list]:
        tracker = Tracker("g", cfg)
        out, why = [], []
        for i, a in enumerate(frames):
            out += tracker.update(i * 0.125, i + 1, a)
            why.append(tracker.held)
        return why, out

    why, out = held([_analysis()] * cfg.stable_frames)
    assert why == [HELD_FILLING] * (cfg.stable_frames - 1) + [None] and [d.decision for d in out] == [D.PASS]
    why, out = held([_analysis(face_c=NORMAL + x) for x in (0.0, 0.5, -0.5, 0.5, -0.5)])
    assert why[-1] == HELD_DISAGREE and out == []
    growing = [replace(_analysis(), face_width_px=6.0 * 1.03 ** i) for i in range(cfg.stable_frames)]
    why, out = held(growing)
    assert why[-1] == HELD_SETTLING and out == []
    why, out = held([_analysis()] * 2 + [_analysis(glasses=True)])
    assert why == [HELD_FILLING, HELD_FILLING, D.REMOVE_GLASSES_HAT]
    why, out = held([_analysis()] * 2 + [_analysis(ref_ok=False)])
    assert why[-1] in (D.REFERENCE_NOT_FOUND, D.REFERENCE_UNSTABLE, D.REFERENCE_TOO_SMALL, D.REFERENCE_DRIFT)
    tracker = Tracker("g", cfg)
    tracker.update(0.0, 1, _analysis())
    tracker.update(0.125, 2, None)  # the sensor gave no usable frame
    assert tracker.held == D.SENSOR_FAULT
    tracker.update(0.25, 3, _analysis(box=None))  # nobody in view
    assert tracker.held is None

def test_a_new_face_elsewhere_is_a_new_person():
    tracker = Tracker("g", ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0, lateral_tolerance_m=0.5))
    out = []
    for i in range(6):
        out += tracker.update(i * 0.125, i, _analysis())
    assert [d.decision for d in out] == [D.PASS]
    first = out[0].track
    for i in range(6, 12):  # the same face, a little further right: the same (decided) person
        assert tracker.update(i * 0.125, i, _analysis(box=(8, 13, 14, 19))) == []
    out = []
    for i in range(12, 20):  # someone at the other side of the view
        out += tracker.update(i * 0.125, i, _analysis(box=(8, 2, 14, 8)))
    assert [d.decision for d in out] == [D.PASS] and out[0].track == first + 1


def test_drift_alert_flags_but_never_changes_estimates():
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0, drift_window=5, drift_tolerance_c=0.5,
                          lateral_tolerance_m=0.5)
    tracker = Tracker("g", cfg)
    out, t = [], 0.0
    for person in range(8):  # everyone reads about 1 degC low: a gate gone wrong
        box = (8, 2 + 8 * (person % 3), 14, 8 + 8 * (person % 3))
        for _ in range(6):
            out += tracker.update(t, 0, _analysis(face_c=reading_for(35.8), box=box))
            t += 0.125
        t += 1.0  # they leave
        tracker.update(t, 0, _analysis(people=0, box=None))
        t += 1.0
        tracker.update(t, 0, _analysis(people=0, box=None))
    assert len(out) == 8 and len({d.estimate_c for d in out}) == 1  # the same reading, the same estimate
    assert [d.drift_alert for d in out] == [False] * 4 + [True] * 4
    assert tracker.drift_alert and tracker.drift_c < -0.5


def test_tracker_blocks_on_sensor_fault_and_warmup():
    tracker = Tracker("g", ScreeningConfig(warmup_s=5.0))
    assert [d.reason for d in tracker.update(0.0, 1, _analysis())] == [D.WARMING_UP]
    assert [d.reason for d in tracker.update(0.2, 2, None)] == [D.SENSOR_FAULT]
    assert tracker.update(0.4, 3, None) == []  # once per fault episode


def test_the_face_mix_follows_the_geometry():
    """The hottest pixels of a smaller face hold less of the eye band and more of the face below it; at the
    recommended mountings (110 degrees at 0.45 m, 55 at 0.9 m) the band is about three quarters of the face's
    part."""
    for fov, mark in ((WIDE, 0.45), (NARROW, 0.9)):
        widths = [pixels_across(0.15, d, fov) for d in (0.5 * mark, mark, 1.5 * mark, 3 * mark)]
        mixes = [face_mix(w, w * face_aspect(fov)) for w in widths]
        bands, lowers = [m.band for m in mixes], [m.lower for m in mixes]
        assert all(0.0 < b <= 1.0 for b in bands) and bands == sorted(bands, reverse=True)
        assert lowers == sorted(lowers) and all(b + low <= 1.0 for b, low in zip(bands, lowers, strict=True))
        assert 0.7 <= bands[1] <= 0.85
    assert face_mix(math.nan, 5.0) == face_mix(0.5, 0.7) == NO_MIX


def test_estimate_with_the_optics_term_is_still_linear():
    for fill in (1.0, 0.8, 0.6):
        cores = np.array([estimate_core_c(f, 22.0, fill=fill) for f in np.linspace(33.0, 39.0, 13)])
        steps = np.diff(cores)
        assert np.all(steps > 0) and np.ptp(steps) < 0.01
    # A reading that is partly forehead gains more per degree of core: less band, larger steps.
    assert estimate_core_c(36.0, 22.0, fill=0.8) - estimate_core_c(35.0, 22.0, fill=0.8) > \
        estimate_core_c(36.0, 22.0) - estimate_core_c(35.0, 22.0)


def test_estimate_is_linear_in_the_reading():
    faces = np.linspace(33.0, 39.0, 13)
    cores = np.array([estimate_core_c(f, 22.0) for f in faces])
    steps = np.diff(cores)
    assert np.all(steps > 0) and np.ptp(steps) < 0.01  # straight, increasing, never flattened
    assert estimate_core_c(35.5, 22.0, site_offset_c=0.4) == pytest.approx(estimate_core_c(35.5, 22.0) + 0.4)
    assert math.isnan(estimate_core_c(float("nan"), 22.0))


@pytest.mark.parametrize("table, message", [
    ({"threshold_c": 37.25}, "0.1 steps"),
    ({"threshold_c": 40.0}, "34..39"),
    ({"site_offset_c": "0.2"}, "must be float"),
    ({"stable_frames": 1}, "2..32"),
    ({"variant": 55}, "variant"),
    ({"reference": {"box": [3, 3, 30, 7]}}, "inside 24 x 32"),
    ({"colour": "red"}, "unknown key screening.colour"),
])
def test_config_errors_name_the_key(table, message):
    with pytest.raises(ConfigError, match=message):
        from_table(table)


def test_config_from_table():
    cfg = from_table({"threshold_c": 37.5, "variant": "110", "reference": {"box": [2, 2, 6, 6], "temp_c": 36.0},
                      "require_reference": False})
    assert cfg.threshold_c == 37.5 and cfg.analysis.variant == "110" and not cfg.require_reference
    assert cfg.analysis.reference_box == (2, 2, 6, 6) and cfg.analysis.reference_c == 36.0
