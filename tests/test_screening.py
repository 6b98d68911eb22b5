"""The screening core end to end on simulated scenes: each scenario gets the
right class of decision, estimates follow the true temperature, and nobody
is ever passed without a complete measurement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controller.screening import decision as D
from controller.screening.analysis import FrameAnalysis
from controller.screening.config import ConfigError, ScreeningConfig, from_table
from controller.screening.estimate import estimate_core_c
from controller.screening.offline import analyze_recording, truth_for
from controller.screening.site_calibration import fit_site_offset
from controller.screening.tracker import Tracker
from sim.scenarios import scenario
from sim.synth import scenario_recording


def decided(name: str, seed: int = 0, config: ScreeningConfig | None = None, seconds: float | None = None):
    """(decision, the truth of the person nearest the sensor when it was made) for one scenario run."""
    rec = scenario_recording(name, seconds or scenario(name, seed).duration_s, seed=seed)
    decisions = analyze_recording(rec, config or ScreeningConfig())
    return list(zip(decisions, truth_for(rec, decisions)))


@pytest.fixture(scope="module")
def calibrated() -> ScreeningConfig:
    """The site offset a nurse would fit: estimates against true temperatures on separate runs."""
    pairs = [(d.estimate_c, p["core_c"]) for seed in (100, 101) for d, p in decided("normal_queue", seed)
             if d.estimate_c is not None and p is not None]
    return ScreeningConfig(site_offset_c=round(fit_site_offset(pairs).offset_c, 1))


def test_fever_scenario_finds_the_fevers(calibrated):
    results = [r for seed in (0, 1) for r in decided("fever", seed, calibrated)]
    measured = [(d, p) for d, p in results if d.estimate_c is not None and p is not None]
    assert len(measured) >= 12
    for d, p in measured:
        if p["core_c"] >= 38.0:
            assert d.decision == D.FEVER, (d, p["core_c"])
        if p["core_c"] <= 36.6:
            assert d.decision == D.PASS, (d, p["core_c"])


def test_linearity_slope_and_error(calibrated):
    results = decided("linearity", 0, calibrated)
    pairs = [(p["core_c"], d.estimate_c) for d, p in results if d.estimate_c is not None and p is not None]
    assert len(pairs) >= 15
    true, est = np.array(pairs).T
    slope = np.polyfit(true, est, 1)[0]
    assert 0.9 <= slope <= 1.1, slope  # issue target 0.97-1.03: see the accuracy benchmark
    assert np.mean(np.abs(est - true)) < 0.6
    assert true.min() < 35.5 and true.max() > 40.0  # never compressed: the whole range comes through


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


def test_two_people_get_one_at_a_time():
    reasons = [d.reason for d, _ in decided("two_people", 0)]
    assert D.ONE_AT_A_TIME in reasons


def test_no_reference_blocks_or_is_flagged():
    results = decided("no_reference", 0, seconds=40)
    screened = [d for d, _ in results if d.reason != D.WARMING_UP]
    assert screened and all(d.decision == D.BLOCKED and d.reason == D.REFERENCE_MISSING for d in screened)
    relaxed = decided("no_reference", 0, ScreeningConfig(require_reference=False), seconds=40)
    verdicts = [d for d, _ in relaxed if d.decision in (D.PASS, D.FEVER)]
    assert verdicts and all(d.reduced_accuracy for d in verdicts)


def test_glasses_and_far_ask_for_a_retry():
    glasses = [d for d, _ in decided("glasses", 0) if d.reason != D.WARMING_UP]
    assert any(d.reason == D.REMOVE_GLASSES_HAT for d in glasses)
    assert not any(d.decision == D.FEVER for d in glasses)
    far = [d for d, _ in decided("far", 0, seconds=40)]
    assert any(d.reason == D.COME_CLOSER for d in far)
    assert not any(d.decision == D.FEVER for d in far)


def test_sensor_fault_blocks():
    """Garbage words from a bad cable make frames the sensor maths refuses: BLOCKED, once."""
    from controller.screening.pipeline import GatePipeline

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
    for name in ("normal_queue", "cold_arrival", "hat", "ambient_sweep"):
        for d, _ in decided(name, 0, seconds=30):
            assert d.decision in D.DECISIONS
            assert (d.reason == "") == (d.decision in (D.PASS, D.FEVER))
            assert d.reason in D.RETRY_REASONS + D.BLOCKED_REASONS + ("",)
            if d.decision in (D.PASS, D.FEVER):
                assert d.frames >= ScreeningConfig().stable_frames and math.isfinite(d.estimate_c)


def _analysis(face_c=35.5, people=1, distance=0.5, glasses=False, box=(8, 12, 14, 18), ref_ok=True):
    return FrameAnalysis(ambient_c=22.0, people=people, face_box=box, face_width_px=6.0, distance_m=distance,
                         face_max_c=face_c + 0.2, face_topk_c=face_c, forehead_c=face_c - 1, touches_edge=False,
                         glasses=glasses, forehead_covered=False, hot_object=False, reference_c=35.0,
                         reference_ok=ref_ok, offset_c=0.0)


def test_tracker_passes_only_after_enough_stable_frames():
    cfg = ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0)
    tracker = Tracker("g", cfg)
    out = []
    for i in range(cfg.stable_frames - 1):
        out += tracker.update(i * 0.125, i + 1, _analysis())
    assert out == [] and tracker.state == "measuring"
    out = tracker.update(1.0, 9, _analysis())
    assert [d.decision for d in out] == [D.PASS] and out[0].frames == cfg.stable_frames and out[0].sequence == 9
    assert tracker.update(1.2, 10, _analysis()) == []  # one decision per person
    assert tracker.state == "decided"


def test_tracker_never_passes_an_unmeasurable_person():
    tracker = Tracker("g", ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0))
    out = []
    for i in range(40):
        out += tracker.update(i * 0.125, i + 1, _analysis(people=2))
    assert [(d.decision, d.reason) for d in out] == [(D.RETRY, D.ONE_AT_A_TIME)]
    tracker = Tracker("g", ScreeningConfig(warmup_s=0.0, reference_settle_s=0.0))
    out = []
    for i in range(40):  # the face jumps about: never stable
        out += tracker.update(i * 0.125, i + 1, _analysis(box=(8, 12 + 3 * (i % 2), 14, 18 + 3 * (i % 2))))
    assert [(d.decision, d.reason) for d in out] == [(D.RETRY, D.HOLD_STILL)]


def test_tracker_blocks_on_sensor_fault_and_warmup():
    tracker = Tracker("g", ScreeningConfig(warmup_s=5.0))
    assert [d.reason for d in tracker.update(0.0, 1, _analysis())] == [D.WARMING_UP]
    assert [d.reason for d in tracker.update(0.2, 2, None)] == [D.SENSOR_FAULT]
    assert tracker.update(0.4, 3, None) == []  # once per fault episode


def test_estimate_is_linear_in_the_reading():
    faces = np.linspace(33.0, 39.0, 13)
    cores = np.array([estimate_core_c(f, 22.0) for f in faces])
    steps = np.diff(cores)
    assert np.all(steps > 0) and np.ptp(steps) < 0.01  # straight, increasing, never flattened
    assert estimate_core_c(35.5, 22.0, site_offset_c=0.4) == pytest.approx(estimate_core_c(35.5, 22.0) + 0.4)
    assert math.isnan(estimate_core_c(float("nan"), 22.0))


@pytest.mark.parametrize("table, message", [
    ({"threshold_c": 37.25}, "0.1 steps"),
    ({"threshold_c": 40.0}, "34.0..39.0"),
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
