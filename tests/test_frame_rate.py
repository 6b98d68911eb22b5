"""The frame interval a gate's pipeline follows (controller/screening/frame_rate.py), and the scene analysis's
time constants that keep their time at another refresh rate (AnalysisConfig's "Background model")."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.screening.analysis import AnalysisConfig, Analyzer
from controller.screening.frame_rate import INTERVALS, MAX_INTERVAL_S, NOMINAL_FRAME_S, RECOMPUTE_SHARE, FrameRate
from controller.screening.pipeline import GatePipeline
from sim.scenarios import scenario
from sim.synth import scenario_recording


def feed(rate: FrameRate, times) -> list[bool]:
    return [rate.update(t) for t in times]


def test_nominal_until_measured_then_the_gates_rate():
    rate = FrameRate()
    assert rate.interval_s == NOMINAL_FRAME_S and rate.scale == 1.0
    changed = feed(rate, [10.0])
    assert changed == [False] and rate.scale == 1.0  # one frame: no interval yet
    changed = feed(rate, [10.25 + 0.25 * i for i in range(20)])
    assert changed[0] and not any(changed[1:])
    assert rate.interval_s == pytest.approx(0.25) and rate.scale == pytest.approx(0.5)


def test_a_late_frame_or_a_gap_does_not_move_it():
    rate = FrameRate()
    times = [0.125 * i for i in range(40)]
    times += [times[-1] + 0.5]  # three frames lost
    times += [times[-1] + MAX_INTERVAL_S + 5.0]  # the link down for 7 s: not an interval
    times += [times[-1] + 0.125 * i for i in range(1, 5)]
    feed(rate, times)
    assert rate.interval_s == pytest.approx(0.125)


def test_a_change_of_rate_is_followed_once_it_is_most_of_the_last_intervals():
    rate = FrameRate()
    t = [0.125 * i for i in range(INTERVALS + 1)]
    t += [t[-1] + 0.0625 * i for i in range(1, INTERVALS + 1)]  # the gate set to 16 Hz
    changed = feed(rate, t)
    assert rate.scale == pytest.approx(2.0)
    assert sum(changed) <= 3  # the first interval, the crossing (and the median between the two)
    assert not any(changed[-INTERVALS // 2 + 1:])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 3.0), min_size=1, max_size=120), st.sampled_from([0.0, 0.002, 0.02]))
def test_the_interval_kept_is_the_median_of_the_last_ones_to_within_the_recompute_share(steps, jitter):
    """Kept without working it out again only while every interval entering or leaving is near it: within
    RECOMPUTE_SHARE of the median of the last INTERVALS (gaps over MAX_INTERVAL_S left out) at every frame."""
    rng = np.random.default_rng(len(steps))
    rate, kept, t, last = FrameRate(), [], 0.0, None
    for step in steps:
        t += step * (1.0 + jitter * rng.standard_normal()) if step < 0.5 else step
        rate.update(t)
        if last is not None and 0.0 < t - last <= MAX_INTERVAL_S:  # not the first frame, not a gap
            kept = (kept + [t - last])[-INTERVALS:]
        last = t
        if kept:
            exact = statistics.median(kept)
            assert abs(rate.interval_s - exact) <= RECOMPUTE_SHARE * exact + 1e-12


# ---- the analysis's time constants keep their time ------------------------------------------------------------

@pytest.mark.parametrize("hz", [4.0, 16.0])
def test_the_background_follows_a_room_at_its_time_constant_in_seconds(hz):
    """The room warms by 1 degC at once: whatever the rate, the model has taken 1 - 1/e of it after
    background_tau_frames' time at 8 frames a second (8 s), not after as many frames."""
    config = AnalysisConfig(reference_box=None)
    tau_s = config.background_tau_frames * NOMINAL_FRAME_S
    followed = {}
    for scale in (1.0, NOMINAL_FRAME_S * hz):
        analyzer = Analyzer(config)
        analyzer.set_frame_scale(scale)
        for _ in range(4 * config.bootstrap_frames):  # past the bootstrap at any of these rates
            analyzer.analyze(np.full((24, 32), 20.0))
        for _ in range(round(tau_s * hz)):
            analyzer.analyze(np.full((24, 32), 21.0))
        followed[scale] = float(np.median(analyzer.background)) - 20.0
    assert followed[NOMINAL_FRAME_S * hz] == pytest.approx(1.0 - np.exp(-1.0), abs=0.02)
    assert abs(followed[1.0] - (1.0 - np.exp(-1.0))) > 0.1  # counted in frames, it is not


def test_at_4_hz_a_hidden_reference_is_held_for_60_s_not_120():
    """Someone stands in front of the disc: held (ok, with the averaged drift) for reference_hold_frames' time
    at 8 frames a second, 60 s, and no longer, at 4 Hz too."""
    hz, config = 4.0, AnalysisConfig()
    hold_s = config.reference_hold_frames * NOMINAL_FRAME_S
    sc = scenario("normal_queue", 0, refresh_hz=hz)
    start = 200  # 50 s: the background has settled and the reference's drift is averaged
    analyzer = Analyzer(config)
    analyzer.set_frame_scale(NOMINAL_FRAME_S * hz)
    statuses = []
    for i in range(start + round((hold_s + 12.0) * hz)):
        image = sc.frame_at(i / hz).image.copy()
        if i >= start:
            image[2:8, 2:8] = 24.0  # a coat in front of it
        statuses.append(analyzer.analyze(image).reference_status)
    assert statuses[start - 1] == "ok"
    held = statuses[start + 12:start + round((hold_s - 2.0) * hz)]
    assert set(held) == {"held"}
    assert "held" not in statuses[start + round((hold_s + 2.0) * hz):]


def test_a_pipeline_tells_its_analysis_the_rate_it_measured():
    for hz in (4.0, 8.0, 16.0):
        rec = scenario_recording("normal_queue", 4.0, seed=0, refresh_hz=hz)
        pipeline = GatePipeline(rec.gate_id, rec.eeprom_message().words)
        assert pipeline.analyzer.frame_scale == 1.0
        for item in rec.frames():
            pipeline.push(item.message.words, item.time, item.message.sequence)
        assert pipeline.tracker.rate.scale == pytest.approx(NOMINAL_FRAME_S * hz)
        assert pipeline.analyzer.frame_scale == pipeline.tracker.rate.scale


def test_a_scale_that_is_not_a_rate_is_refused():
    analyzer = Analyzer()
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale"):
            analyzer.set_frame_scale(bad)
    assert analyzer.frame_scale == 1.0


def _excess_under_a_ramp(hz: float, scale: float, rate_c_s: float = 0.08) -> float:
    """The reference's excess variation (median over 20 s) while the whole scene warms at ``rate_c_s``."""
    sc = scenario("normal_queue", 0, refresh_hz=hz)
    analyzer = Analyzer(AnalysisConfig())
    analyzer.set_frame_scale(scale)
    excess = []
    for i in range(round(40 * hz)):
        t = i / hz
        a = analyzer.analyze(sc.frame_at(t).image + rate_c_s * max(0.0, t - 20.0))
        if t >= 25.0:
            excess.append(a.reference_excess_c)
    return float(np.median(excess))


def test_the_references_stability_is_judged_over_4_s_at_any_rate():
    """A reading that moves 0.08 degC a second is as unsteady at 4 Hz as at 8: the window spans its 4 s (16
    frames at 4 Hz); counted in frames, it would span 8 s and see twice the change."""
    at_8 = _excess_under_a_ramp(8.0, 1.0)
    assert 0.05 < at_8 < AnalysisConfig().reference_stable_c
    assert _excess_under_a_ramp(4.0, 0.5) == pytest.approx(at_8, rel=0.25)
    assert _excess_under_a_ramp(4.0, 1.0) > 1.6 * at_8


def test_a_window_that_changes_length_keeps_its_latest_readings():
    """The gate's rate measured (or changed): the reference's window takes its new length and keeps the readings
    it has, the latest last, so a shorter window is full at once and a longer one fills up from them."""
    sc = scenario("normal_queue", 0, refresh_hz=4.0)
    images = [sc.frame_at(i / 4).image for i in range(80)]
    analyzer = Analyzer()  # 32 frames, then 16 from frame 40 on
    got = [analyzer.analyze(image) for image in images[:40]]
    assert got[30].reference_status == "pending" and got[31].reference_status != "pending"
    analyzer.set_frame_scale(0.5)
    for image in images[40:50]:
        got.append(analyzer.analyze(image))
        readings = [a.reference_c for a in got[-16:]]
        assert got[-1].reference_status != "pending"
        assert got[-1].reference_mean_c == pytest.approx(np.mean(readings), abs=1e-9)
    analyzer.set_frame_scale(0.51)  # the same window: the ring as it is
    got.append(analyzer.analyze(images[50]))
    assert got[-1].reference_mean_c == pytest.approx(np.mean([a.reference_c for a in got[-16:]]), abs=1e-9)
    analyzer.set_frame_scale(1.0)  # 16 readings kept, 16 more to come
    statuses = [analyzer.analyze(image).reference_status for image in images[51:71]]
    assert statuses[14] == "pending" and statuses[15] != "pending"


def test_learning_at_4_hz_takes_the_rate_of_the_recording():
    from controller.screening.config import ScreeningConfig
    from controller.screening.reference_source import learn_reference
    from controller.service.calibration import reference_images_recording

    rec = scenario_recording("normal_queue", 12.0, seed=0, refresh_hz=4.0)
    images, scale, _ = reference_images_recording(rec, ScreeningConfig())
    assert scale == pytest.approx(0.5) and len(images) == 47
    learned = learn_reference(images, AnalysisConfig(), frame_scale=scale)
    assert learned.frames >= 24 and abs(learned.apparent_c - 35.0) < 0.5
