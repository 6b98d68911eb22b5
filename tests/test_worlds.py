"""Worlds (sim/scenes/world.py): draws inside their ranges, reproducible, HELD_OUT apart from DEV; and the
accuracy benchmark's metrics (bench/bench_accuracy.py) on a hand-made table."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.geometry import NARROW, WIDE, face_width_pixels
from sim.scenarios import scenario
from sim.scenes.world import (
    DEV,
    HELD_OUT,
    IN_SCOPE_MARK_M,
    IN_SCOPE_ROOM_C,
    SITE_AGES,
    TEMPLATE_HEAD_M,
    Physics,
    held_out_contains_dev,
    world_named,
)

WORLDS = (DEV, HELD_OUT)
FOV = {"55": NARROW, "110": WIDE}


def _bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _bench()


def inside(value: float, span: tuple[float, float]) -> bool:
    return span[0] <= value <= span[1]


# ---- the seed spaces and the ranges -------------------------------------------------------------------------------

def test_held_out_seeds_never_meet_dev_seeds():
    a, b = DEV.seeds, HELD_OUT.seeds
    assert a.step == b.step == 1 and len(a) > 10_000 and len(b) > 10_000
    assert a.stop <= b.start or b.stop <= a.start  # disjoint
    for seed in (a.start, a.stop - 1, a.start + 12345):
        with pytest.raises(ValueError, match="seed space"):
            scenario("school_queue", seed, world=HELD_OUT)
    for seed in (b.start, b.stop - 1):
        with pytest.raises(ValueError, match="seed space"):
            scenario("school_queue", seed, world=DEV)
    assert HELD_OUT.seed(0) not in DEV.seeds and DEV.seed(0) not in HELD_OUT.seeds


def test_held_out_ranges_contain_dev_ranges_and_are_wider():
    assert held_out_contains_dev()
    dev, held = DEV.spans(), HELD_OUT.spans()
    assert dev.keys() == held.keys()
    for name, (lo, hi) in dev.items():
        assert held[name][0] <= lo and hi <= held[name][1], name
    # all strictly wider, but how long people stand on the mark: the same in both (bench_accuracy.py --stand)
    assert [n for n in dev if not held[n][1] - held[n][0] > dev[n][1] - dev[n][0]] == ["stand_s"]
    assert HELD_OUT.reference_in_view <= DEV.reference_in_view


def test_worlds_by_name():
    assert world_named("dev") is DEV and world_named("held-out") is HELD_OUT
    with pytest.raises(ValueError):
        world_named("nominal")


@pytest.mark.parametrize("world", WORLDS, ids=lambda w: w.name)
@pytest.mark.parametrize("variant", ["55", "110"])
def test_physics_draws_stay_inside_the_ranges(world, variant):
    draws = [world.draw("school_queue", world.seed(i), variant) for i in range(200)]
    for ph in draws:
        assert inside(ph.psf_sigma_px, world.psf_sigma_px)
        assert inside(ph.psf_wing_share, world.psf_wing_share)
        assert inside(ph.psf_wing_sigma_px, world.psf_wing_sigma_px)
        assert inside(ph.netd_1hz_c, world.netd_1hz_c)
        assert inside(ph.pixel_offset_sd_c, world.pixel_offset_sd_c)
        assert inside(ph.sensor_offset_c, world.sensor_offset_c)
        assert inside(ph.sensor_gain, world.sensor_gain)
        assert inside(ph.drift_scale, world.drift_scale)
        assert inside(ph.skin_emissivity, world.skin_emissivity)
        assert inside(ph.ambient_c, world.ambient_c)
        assert inside(ph.mark_distance_m, world.mark_distance_m)
        for share in ("adult_share", "glasses_share", "mask_share", "fringe_share", "hat_share", "cold_share",
                      "outdoor_c"):
            assert inside(getattr(ph, share), getattr(world, share)), share
        assert 0.9 <= ph.mounting.sensor_height_m <= 2.3 and abs(ph.mounting.tilt_deg) <= 36.0
        assert ph.reference_in_view == (ph.reference is not None)
        if ph.reference is not None:
            ref = ph.reference
            assert inside(ref.diameter_m, world.reference_diameter_m)
            assert inside(ref.distance_m, world.reference_distance_m)
            assert inside(ref.emissivity, world.reference_emissivity)
            assert inside(ref.temp_c, world.reference_set_c)
            assert inside(ref.centre_px[0], world.reference_row)
            col = ref.centre_px[1]
            assert inside(col, world.reference_column) or inside(32.0 - col, world.reference_column)
            assert ref.wall_offset_c is None or inside(ref.wall_offset_c, world.reference_wall_offset_c)
        assert ph.in_scope() == (ph.reference_in_view and inside(ph.mark_distance_m, IN_SCOPE_MARK_M)
                                 and inside(ph.ambient_c, IN_SCOPE_ROOM_C))
    # the draws spread over the ranges, and most runs are in scope, some not
    scope = np.mean([ph.in_scope() for ph in draws])
    assert 0.6 <= scope <= 0.95
    blur = [ph.psf_sigma_px for ph in draws]
    lo, hi = world.psf_sigma_px
    assert min(blur) < lo + 0.1 * (hi - lo) and max(blur) > hi - 0.1 * (hi - lo)
    assert {ph.site for ph in draws} == set(SITE_AGES)


@pytest.mark.parametrize("world", WORLDS, ids=lambda w: w.name)
def test_people_draws_are_school_children_and_adults(world):
    ph = world.draw("school_queue", world.seed(7), "110")
    ph = Physics(**{**ph.__dict__, "site": "all-through", "adult_share": 0.2, "glasses_share": 0.3,
                    "mask_share": 0.3, "fringe_share": 0.2, "hat_share": 0.1, "cold_share": 0.25})
    rng = np.random.default_rng(1)
    people = [world.person(ph, rng) for _ in range(2000)]
    ages = [p.age for p in people if p.age is not None]
    assert set(ages) == set(range(6, 19))
    assert 0.15 < sum(p.age is None for p in people) / len(people) < 0.25
    eye = {a: np.mean([p.eye_height_m for p in people if p.age == a]) for a in (6, 12, 18)}
    assert 0.95 < eye[6] < 1.15 < eye[12] < 1.45 < eye[18] < 1.7
    assert all(0.85 <= p.eye_height_m <= 1.95 for p in people)
    scales = np.array([p.face_scale for p in people])
    assert scales.min() >= 0.125 / TEMPLATE_HEAD_M and scales.max() <= 0.170 / TEMPLATE_HEAD_M
    assert scales.std() > 0.03  # head size is not fixed
    for name, share in (("glasses", 0.3), ("mask", 0.3)):
        assert abs(np.mean([getattr(p, name) for p in people]) - share) < 0.04
    assert abs(np.mean([p.cover == "hat" for p in people]) - 0.1) < 0.03
    assert abs(np.mean([p.cover == "fringe" for p in people]) - 0.2) < 0.04
    cold = [p for p in people if p.outdoor_c is not None]
    assert abs(len(cold) / len(people) - 0.25) < 0.04
    assert all(inside(p.indoor_s, world.indoor_s) for p in people)


# ---- scenarios in a world --------------------------------------------------------------------------------------

def test_a_world_run_is_reproducible_and_seeds_differ():
    a = scenario("school_queue", DEV.seed(3), variant="110", world=DEV)
    b = scenario("school_queue", DEV.seed(3), variant="110", world=DEV)
    c = scenario("school_queue", DEV.seed(4), variant="110", world=DEV)
    assert a.physics == b.physics != c.physics
    for t in (12.0, 4.5, 30.25):
        fa, fb = a.frame_at(t), b.frame_at(t)
        assert np.array_equal(fa.image, fb.image) and fa.truth == fb.truth
    assert not np.array_equal(a.frame_at(12.0).image, c.frame_at(12.0).image)
    assert a.physics != scenario("school_queue", DEV.seed(3), variant="55", world=DEV).physics


@pytest.mark.parametrize("world", WORLDS, ids=lambda w: w.name)
def test_a_world_run_renders_what_it_drew(world):
    for i in range(6):
        sc = scenario("school_queue", world.seed(i), variant="110", world=world)
        ph = sc.physics
        assert sc.mounting == ph.mounting
        seen = 0
        for t in np.arange(0.0, sc.duration_s, 0.5):
            clean = sc.clean_at(float(t))
            truth = clean.truth
            assert truth["ambient_c"] == pytest.approx(ph.ambient_c, abs=1e-3)
            assert truth["reference"]["present"] == ph.reference_in_view
            if ph.reference_in_view:
                assert truth["reference"]["temp_c"] == pytest.approx(ph.reference.temp_c)
                assert truth["reference"]["centre"] == pytest.approx(list(ph.reference.centre_px), abs=1e-3)
            for p in truth["people"]:
                seen += 1
                assert p["age"] is None or 6 <= p["age"] <= 18
                r0, c0, r1, c1 = p["face_box_px"]
                assert c1 - c0 == pytest.approx(face_width_pixels(p["sight_m"], WIDE) * p["face_scale"], rel=1e-3)
        assert seen > 0


def test_sensor_offset_and_gain_reach_the_image():
    """frame - clean = common offset + gain (clean - Ta) + drift + per-pixel noise and offsets (mean zero)."""
    for i in range(4):
        sc = scenario("school_queue", HELD_OUT.seed(i), variant="55", world=HELD_OUT)
        ph = sc.physics
        diffs, expected = [], []
        for t in np.arange(0.0, 2.5, 0.125):  # the lead-in: nobody in view
            f, clean = sc.frame_at(float(t)), sc.clean_at(float(t))
            diffs.append(float(np.mean(f.image - clean.image)))
            expected.append(ph.sensor_offset_c + ph.sensor_gain * float(np.mean(clean.image - f.ta))
                            + f.truth["drift_c"])
        # the mean over 768 pixels of the per-pixel offsets (sd <= 0.4) and of 20 frames' noise
        assert np.mean(diffs) == pytest.approx(np.mean(expected), abs=0.05)


def test_every_scenario_runs_in_both_worlds():
    from sim.scenarios import SCENARIOS
    for name in SCENARIOS:
        for world in WORLDS:
            sc = scenario(name, world.seed(1), variant="55", world=world)
            f = sc.frame_at(min(10.0, sc.duration_s - 1))
            assert f.image.shape == (24, 32) and np.isfinite(f.image).all()


def test_the_nominal_world_is_the_fixed_one():
    sc = scenario("school_queue", 5)
    assert sc.world is None and sc.physics == Physics() and not sc.physics.in_scope()


# ---- the benchmark's metrics on a hand-made table ----------------------------------------------------------------

def row(core, decision=None, estimate=None, latency=None, ever_pass=None, mark=0.45, room=22.0, reference=True):
    if ever_pass is None:
        ever_pass = decision == "PASS"
    return bench.Outcome("held-out", "110", 0, core, decision, estimate, latency, ever_pass, mark, room, reference)


TABLE = [
    row(36.5, "PASS", 36.6, 0.5),
    row(36.7, "PASS", 36.5, 0.625),
    row(36.8, "FEVER", 37.5, 0.75),  # a false alarm at the specificity edge
    row(37.0, "PASS", 37.1, 0.875),
    row(37.5, "PASS", 37.2, 1.0),  # a 37.5 given PASS
    row(38.0, "FEVER", 38.2, 1.25),
    row(39.0, "FEVER", 38.9, -0.3),  # decided while still walking
    row(38.5, None, None, None, ever_pass=True),  # a PASS on someone else's reading, never a first verdict here
    row(36.9),  # never decided
    row(40.0, "PASS", 37.2, 0.25),  # a missed fever
]


def test_metrics_on_a_hand_made_table():
    decided = [r for r in TABLE if r.decision is not None]
    errors = [r.estimate_c - r.core_c for r in decided]
    assert errors == pytest.approx([0.1, -0.2, 0.7, 0.1, -0.3, 0.2, -0.1, -2.8])
    assert bench.mae(TABLE) == pytest.approx(4.5 / 8)
    assert bench.bias(TABLE) == pytest.approx(-2.3 / 8)
    x = np.array([r.core_c for r in decided])
    y = np.array([r.estimate_c for r in decided])
    assert bench.slope(TABLE) == pytest.approx(np.polyfit(x, y, 1)[0])
    assert bench.sensitivity(TABLE) == (pytest.approx(2 / 3), 3)  # 38.0, 39.0 FEVER; 40.0 PASS
    assert bench.specificity(TABLE) == (pytest.approx(2 / 3), 3)  # 36.5, 36.7 PASS; 36.8 FEVER
    assert bench.passed_febrile(TABLE) == 3  # 37.5, 38.5, 40.0
    assert bench.share_decided(TABLE) == pytest.approx(0.8)
    assert bench.decided_walking(TABLE) == 1
    lat = [0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 0.0, 0.25]
    assert bench.latency_p90(TABLE) == pytest.approx(np.percentile(lat, 90))


def test_the_factor_split_counts_everyone_and_the_errors_of_the_decided():
    rows = [replace(row(36.8, "PASS", 36.0), sensor_offset_c=-1.2), replace(row(36.9), sensor_offset_c=-0.8),
            replace(row(37.0), sensor_offset_c=-0.6), replace(row(36.6, "PASS", 37.1), sensor_offset_c=0.7)]
    groups = {(f, g): (people, share, e) for f, g, people, share, e, _ in bench.factor_groups(rows)}
    people, share, e = groups[("sensor offset", "-2--0.5 degC")]
    assert (people, share) == (3, pytest.approx(1 / 3)) and e == pytest.approx([-0.8])
    people, share, e = groups[("sensor offset", "0.5-2 degC")]
    assert (people, share) == (1, 1.0) and e == pytest.approx([0.5])
    assert ("sensor offset", "0-0.5 degC") not in groups  # nobody in it
    people, share, e = groups[("look", "bare")]
    assert (people, share, e.size) == (4, 0.5, 2)
    assert groups[("lens wings", "none")][:2] == (4, 0.5)  # a Gaussian lens: no wings
    winged = {g: people for f, g, people, _, _, _ in bench.factor_groups(
        [replace(r, wing_share=w) for r, w in zip(rows, (0.03, 0.05, 0.12, 0.25), strict=True)]) if f == "lens wings"}
    assert winged == {"under 5 %": 1, "5-10 %": 1, "10-15 %": 1, "20-100 %": 1}
    # The blur the gate estimates with against the lens's (none learned: the nominal one), and the sensor's gain.
    told = [replace(r, blur_px=0.5, blur_used_px=u, sensor_gain=g)
            for r, u, g in zip(rows, (math.nan, 0.35, 0.5, 0.65), (-0.03, -0.015, 0.005, 0.025), strict=True)]
    split = {(f, g): (people, list(e)) for f, g, people, _, e, _ in bench.factor_groups(told)}
    assert split[("blur as used", "nominal (none)")] == (1, pytest.approx([-0.8]))
    assert split[("blur as used", "-2--0.1 px off")][0] == 1
    assert split[("blur as used", "-0.03-0.03 px off")][0] == 1
    assert split[("blur as used", "0.1-2 px off")] == (1, pytest.approx([0.5]))
    gains = {g: people for f, g, people, _, _, _ in bench.factor_groups(told) if f == "sensor gain"}
    assert gains == {"-5--2 %": 1, "-2--1 %": 1, "0-1 %": 1, "2-5 %": 1}
    # The sensor's noise as the gate measured it, and each group's still -> decision 90th percentile (its decided).
    noisy = [replace(r, noise_c=n, latency_s=0.75 if r.decision else None)
             for r, n in zip(rows, (0.25, 0.35, 0.62, math.nan), strict=True)]
    by_noise = {g: (people, p90) for f, g, people, _, _, p90 in bench.factor_groups(noisy) if f == "sensor noise"}
    assert {g: people for g, (people, _) in by_noise.items()} == {"0-0.3 degC": 1, "0.3-0.4 degC": 1,
                                                                  "0.5-0.7 degC": 1}  # NaN: not measured, in none
    assert by_noise["0-0.3 degC"][1] == pytest.approx(0.75)
    assert math.isnan(by_noise["0.3-0.4 degC"][1])  # nobody decided



def test_what_held_the_decided_people_late_and_on_time():
    rows = [replace(row(36.8, "PASS", 36.9, 1.25), holds=(("filling", 8), ("readings_disagree", 3))),
            replace(row(37.0, "PASS", 37.1, 1.5), holds=(("filling", 9), ("remove_glasses_hat", 1))),
            replace(row(36.6, "PASS", 36.5, 0.5), holds=(("filling", 4), ("readings_disagree", 1))),
            replace(row(36.7, "PASS", 36.7, 0.625), holds=(("filling", 4),)),
            replace(row(37.2), holds=())]  # undecided: not counted
    late, rest, table = bench.hold_table(rows)
    assert (late, rest) == (2, 2)
    assert table == [("filling", pytest.approx(8.5), 2, pytest.approx(4.0), 2),
                     ("readings_disagree", pytest.approx(1.5), 1, pytest.approx(0.5), 1),
                     ("remove_glasses_hat", pytest.approx(0.5), 1, pytest.approx(0.0), 0)]

def test_a_saved_run_reads_back_and_compares_person_by_person(tmp_path):
    how = bench.Commissioning("fitted", people=24, readings=20, used=19, outliers=1, offset_c=-0.3,
                              standard_error_c=0.15, sheet=(("08:01:02", 36.9),), failed=())
    before = [replace(row(36.6, "PASS", 36.5, 0.625), person=1),
              replace(row(37.6, "FEVER", 37.5, 0.5), person=2, commissioned=True, commissioning=how,
                      holds=(("filling", 4), ("hold_still", 1))),
              replace(row(37.5), person=3, blur_px=0.5, reasons=("RETRY stand_straight",)),
              replace(row(36.9, "PASS", 37.0, 1.0), person=4),
              replace(row(36.8, "PASS", 36.9, 0.5, mark=0.9), person=5)]  # out of scope: never compared
    path = tmp_path / "before.jsonl"
    bench.save_outcomes(before, str(path))
    def fields(rows):  # NaN fields (not measured) compare unequal to themselves: compare their JSON
        return [json.dumps(dataclasses.asdict(r)) for r in rows]

    loaded = bench.load_outcomes(str(path))
    assert fields(loaded) == fields(before) and loaded[1].commissioning == how
    assert loaded[1].holds == (("filling", 4), ("hold_still", 1))
    after = [before[0], replace(before[1], estimate_c=37.2),
             replace(before[2], decision="PASS", estimate_c=37.1, latency_s=0.875, ever_pass=True),
             replace(before[3], latency_s=0.5), replace(before[4], estimate_c=35.0)]
    changes = bench.compare_outcomes(bench.load_outcomes(str(path)), after)
    installed = changes[("held-out", "110", False)]
    assert installed.people == 3 and installed.decided == (2, 3) and installed.febrile_pass == (0, 1)
    assert [(a.person, b.person) for a, b in installed.changed] == [(3, 3), (4, 4)]  # a new PASS; a sooner one
    assert installed.both == 2 and installed.both_mae == (pytest.approx(0.1), pytest.approx(0.1))
    commissioned = changes[("held-out", "110", True)]
    assert commissioned.people == 1 and [b.estimate_c for _, b in commissioned.changed] == [37.2]
    assert commissioned.both_mae == (pytest.approx(0.1), pytest.approx(0.4))
    with pytest.raises(ValueError, match="same person twice"):
        bench.compare_outcomes(before + before[:1], after)


def test_each_target_draw_by_draw():
    """--noise-draws: each target over the rows of each draw, their mean and in how many draws it is met; a
    draw's people are told apart from the same people in another draw."""
    draw0 = [replace(r, person=i) for i, r in enumerate(TABLE)]
    draw1 = [replace(r, noise_draw=1) for r in draw0]
    draw1[0] = replace(draw1[0], estimate_c=37.5, decision="FEVER")  # the 36.5 read high through that draw's noise
    table = {t.label: (vals, mean, met_in) for t, vals, mean, met_in in bench.draw_table(draw0 + draw1, [0, 1])}
    vals, mean, met_in = table["MAE degC"]
    assert vals == [pytest.approx(bench.mae(TABLE)), pytest.approx(bench.mae(draw1))] and vals[1] > vals[0]
    assert mean == pytest.approx(np.mean(vals)) and met_in == 0
    vals, mean, met_in = table["specificity (<= 36.8)"]
    assert vals == [(pytest.approx(2 / 3), 3), (pytest.approx(1 / 3), 3)] and mean == pytest.approx(0.5)
    assert table["PASS with core >= 37.3"] == ([3, 3], 3.0, 0)
    assert table["share decided"][2] is None  # only reported
    assert bench._key(draw0[0]) != bench._key(draw1[0])
    assert bench.compare_outcomes(draw0 + draw1, draw0 + draw1)[("held-out", "110", False)].people == 2 * sum(
        r.in_scope for r in TABLE)


def test_slope_of_an_exact_line_and_of_too_little():
    line = [row(c, "PASS", 0.9 * c + 3.7) for c in (36.0, 37.0, 38.5, 40.0)]
    assert bench.slope(line) == pytest.approx(0.9)
    assert bench.bias(line) == pytest.approx(np.mean([0.9 * c + 3.7 - c for c in (36.0, 37.0, 38.5, 40.0)]))
    assert math.isnan(bench.slope(line[:2]))
    assert math.isnan(bench.slope([row(37.0, "PASS", e) for e in (36.9, 37.0, 37.2)]))  # no spread in core
    assert math.isnan(bench.mae([row(37.0)])) and math.isnan(bench.sensitivity([row(36.0, "PASS", 36.0)])[0])


def test_scope_and_the_met_column():
    assert row(37.0).in_scope
    assert not row(37.0, mark=0.7).in_scope and not row(37.0, mark=0.29).in_scope
    assert not row(37.0, room=17.9).in_scope and not row(37.0, room=28.5).in_scope
    assert not row(37.0, reference=False).in_scope
    by = {t.label: t for t in bench.TARGETS}
    assert bench.met(by["MAE degC"], 0.30) == "met" and bench.met(by["MAE degC"], 0.31) == "not met"
    assert bench.met(by["bias degC"], -0.11) == "not met" and bench.met(by["bias degC"], 0.05) == "met"
    assert bench.met(by["slope"], 1.04) == "not met" and bench.met(by["slope"], 0.97) == "met"
    assert bench.met(by["sensitivity (>= 37.8)"], (0.97, 100)) == "met"
    assert bench.met(by["sensitivity (>= 37.8)"], (math.nan, 0)) == "not met"
    assert bench.met(by["PASS with core >= 37.3"], 1) == "not met"
    assert bench.met(by["PASS with core >= 37.3"], 0) == "met"
    assert bench.met(by["still -> decision p90 s"], 1.01) == "not met"
    assert bench.met(by["share decided"], 0.1) == ""


def test_the_drawn_blur_and_skin_emissivity_are_what_the_image_shows():
    """The same person through a sharper and a softer lens: the softer one spreads the face's peak; a lower skin
    emissivity reads lower."""
    from dataclasses import replace as dc_replace

    from sim.scenes import Scene

    base = scenario("school_queue", DEV.seed(2), variant="110", world=DEV)
    sc_spec, fov = base.spec, base.fov

    def peak(**change) -> float:
        ph = dc_replace(base.physics, **change)
        scene = Scene(sc_spec, base.seed, fov, base.mounting, 8.0, "110", physics=ph, world=DEV.name)
        best = -math.inf
        for t in np.arange(0.0, base.duration_s, 0.25):
            image, _, truth = scene.render(float(t), sensor_errors=False)
            for p in truth["people"]:
                if p["phase"] == "standing":
                    r0, c0, r1, c1 = p["face_box"]
                    best = max(best, float(image[r0:r1, c0:c1].max()))
        return best

    sharp, soft = peak(psf_sigma_px=0.2), peak(psf_sigma_px=1.1)
    assert sharp - soft > 0.3
    assert peak(psf_sigma_px=0.2, skin_emissivity=0.95) < sharp - 0.2
    # wings carry part of the face's energy onto the room around it: the same core reads lower
    assert peak(psf_sigma_px=0.2, psf_wing_share=0.2, psf_wing_sigma_px=3.0) < sharp - 0.5


def test_the_lens_wings_keep_the_energy_and_spread_it_wide():
    """The point spread function with wings is the weighted sum of two Gaussians: a point's energy is kept (away
    from the array's edges), its own pixel keeps less of it, and pixels several away get some."""
    from sim.scenes.optics import blur

    point = np.zeros((24, 32))
    point[12, 16] = 1.0
    core = blur(point, 0.4)
    winged = blur(point, 0.4, 0.2, 3.0)
    assert winged.sum() == pytest.approx(1.0, abs=0.01) and core.sum() == pytest.approx(1.0, abs=1e-9)
    assert winged[12, 16] == pytest.approx(0.8 * core[12, 16] + 0.2 * blur(point, 3.0)[12, 16], rel=1e-12)
    assert core[12, 21] < 1e-12 < 0.0005 < winged[12, 21]  # five pixels away
    assert np.array_equal(blur(point, 0.4, 0.0, 3.0), core)
    for share, px in ((1.0, 3.0), (0.2, 0.0)):
        with pytest.raises(ValueError):
            blur(point, 0.4, share, px)


def test_the_wings_are_drawn_apart_from_everything_else():
    """A world's lens wings come from a stream of their own: giving DEV HELD_OUT's wing ranges changes the wings of
    its runs and nothing else, so the runs of a world drawn before the wings existed are the same runs now.
    DEV draws none."""
    from dataclasses import replace as dc_replace

    winged = dc_replace(DEV, psf_wing_share=HELD_OUT.psf_wing_share, psf_wing_sigma_px=HELD_OUT.psf_wing_sigma_px)
    for i in range(20):
        plain, other = DEV.draw("school_queue", DEV.seed(i), "110"), winged.draw("school_queue", DEV.seed(i), "110")
        assert plain.psf_wing_share == 0.0
        assert other.psf_wing_share > 0.0
        assert dc_replace(other, psf_wing_share=0.0, psf_wing_sigma_px=plain.psf_wing_sigma_px) == plain


def test_the_documented_reference_scope_follows_the_installation_table():
    # docs/installation.md, "How big and how near": bold cells work, the others are too small
    assert bench.reference_as_documented(0.06, 0.9, WIDE) and not bench.reference_as_documented(0.06, 1.2, WIDE)
    assert bench.reference_as_documented(0.04, 0.6, WIDE) and not bench.reference_as_documented(0.04, 0.9, WIDE)
    assert bench.reference_as_documented(0.04, 1.2, NARROW) and not bench.reference_as_documented(0.03, 1.5, NARROW)
    small = replace(row(37.0), reference_documented=False)
    big = replace(row(37.0, "PASS", 37.1), reference_documented=True)
    assert small.in_scope and not small.in_documented_scope and big.in_documented_scope
    assert not replace(big, mark_m=0.7).in_documented_scope
    blocked = replace(small, reasons=("RETRY stand_straight", "BLOCKED reference_too_small"),
                      learned="reference_too_small")
    assert bench.outcome(blocked) == "BLOCKED reference_too_small (learning: reference_too_small)"
    assert bench.outcome(big) == "decided" and bench.outcome(small) == "no notice"
    assert bench.outcome(replace(small, reasons=("RETRY stand_straight",))) == "RETRY stand_straight"


def test_the_error_split_into_body_model_and_the_rest():
    """Each decided person's error is the body model's on their true eye band plus the rest; the undecided and
    those without a known body-model reading are left out."""
    rows = [replace(row(36.5, "PASS", 36.9), body_model_c=36.7),  # body model +0.2, the rest +0.2
            replace(row(38.0, "FEVER", 37.6), body_model_c=38.3),  # +0.3, -0.7
            replace(row(37.0, "PASS", 36.6), body_model_c=36.6),  # -0.4, 0.0
            replace(row(37.2), body_model_c=37.0),  # never decided
            row(36.8, "PASS", 36.8)]  # decided, body model unknown
    split = bench.error_split(rows)
    body, rest = np.array([0.2, 0.3, -0.4]), np.array([0.2, -0.7, 0.0])
    for name, e in (("body model", body), ("the rest", rest)):
        n, b, sd, err = split[name]
        assert n == 3
        assert (b, sd, err) == pytest.approx((e.mean(), e.std(ddof=1), np.abs(e).mean()))
    n, b, sd, err = bench.error_split([row(36.9)])["the rest"]
    assert n == 0 and math.isnan(b) and math.isnan(sd) and math.isnan(err)


def test_the_rest_is_split_between_and_within_gates_and_by_look():
    """Gates (runs) whose people share an offset: the spread between them is that offset's, less what their
    people's number explains; within a gate, the people's own. A person decided in several draws of the noise
    counts once, at their mean over them (the draws are the same gate and people). A person wearing a fringe and
    a mask counts in both looks, and "bare" is who wears nothing."""
    def decided(run, person, rest, draw=0, **look):
        return replace(row(37.0, "PASS", 36.5 + rest), body_model_c=36.5, run=run, person=person, noise_draw=draw,
                       **look)

    within = (-0.1, 0.1)  # each gate's two people: its offset -0.1 and +0.1
    offsets = {0: -0.5, 1: 0.0, 2: 0.5, 3: 0.2}
    rows = [decided(run, p, off + w) for run, off in offsets.items() for p, w in enumerate(within)]
    # draws 1 and 2 of gate 2: its people read 0.3 either way of draw 0, so they count at draw 0's readings
    rows += [decided(2, p, 0.5 + w + d, draw) for p, w in enumerate(within) for draw, d in ((1, 0.3), (2, -0.3))]
    rows += [decided(5, 0, 0.3), replace(row(37.0), run=6)]  # a gate of one decided person, an undecided one
    gates, between, within_sd = bench.rest_between_gates(rows)
    means = np.array(list(offsets.values()))
    assert gates == 4
    assert within_sd == pytest.approx(np.std(within, ddof=1))
    assert between == pytest.approx(math.sqrt(means.var(ddof=1) - np.std(within, ddof=1) ** 2 / 2))
    gates, between, _ = bench.rest_between_gates([decided(run, p, w) for run in (0, 1) for p, w in enumerate(within)])
    assert gates == 2 and between == 0.0  # gates that share nothing: their means' spread is their people's
    gates, between, within_sd = bench.rest_between_gates(rows[:2])
    assert gates == 0 and math.isnan(between) and math.isnan(within_sd)
    looks = bench.rest_by_look([decided(0, 0, -0.6, cover="fringe", mask=True), decided(0, 1, -0.4, cover="fringe"),
                                decided(0, 2, 0.1), decided(0, 3, -0.1, glasses=True)])
    assert looks["fringe"][:2] == (2, pytest.approx(-0.5)) and looks["mask"][:2] == (1, pytest.approx(-0.6))
    assert looks["bare"][:2] == (1, pytest.approx(0.1)) and looks["glasses"][0] == 1 and looks["hat"][0] == 0
    assert math.isnan(looks["hat"][1]) and math.isnan(looks["mask"][2])


def test_what_stays_with_a_person_from_draw_to_draw():
    """Bare faces' sensor and optics, person by person over the draws: the spread within a person is the noise
    from draw to draw; what their means spread beyond it stays with them. A fringe, a person decided once and a
    person without the mixed truth are left out."""
    def decided(person, so, draw, **look):
        return replace(row(37.0, "PASS", 37.0 + so), body_model_c=37.0, mix_model_c=37.0, person=person,
                       noise_draw=draw, **look)

    rows = [decided(0, -0.5 + d, k) for k, d in enumerate((-0.1, 0.1))]  # person 0 at -0.5, person 1 at +0.5
    rows += [decided(1, 0.5 + d, k) for k, d in enumerate((-0.1, 0.1))]
    rows += [decided(2, 3.0, 0, cover="fringe"), decided(2, -3.0, 1, cover="fringe"), decided(3, 2.0, 0)]
    rows += [replace(decided(4, 2.0, k), mix_model_c=math.nan) for k in (0, 1)]
    people, draw_sd, staying = bench.rest_persistence(rows)
    assert people == 2 and draw_sd == pytest.approx(np.std([-0.1, 0.1], ddof=1))
    assert staying == pytest.approx(math.sqrt(np.var([-0.5, 0.5], ddof=1) - np.std([-0.1, 0.1], ddof=1) ** 2 / 2))
    assert bench.rest_persistence(rows[:2])[0] == 0


def test_the_body_model_on_truth_reads_the_eye_band_the_gate_reads():
    from controller.screening.config import ScreeningConfig
    from controller.screening.estimate import estimate_core_c

    person = {"canthus_region_apparent_c": 34.6, "canthus_apparent_c": 35.3, "room_c": 22.0}
    region = bench.body_model_on_truth(person, ScreeningConfig())
    assert region == pytest.approx(estimate_core_c(34.6, 22.0, site="canthus_region"))
    maximum = bench.body_model_on_truth(person, ScreeningConfig(eye_band="canthus"))
    assert maximum == pytest.approx(estimate_core_c(35.3, 22.0, site="canthus"))
    assert 35.5 < region < 38.5 and 35.5 < maximum < 38.5 and region != maximum


def test_the_body_model_on_the_truth_mixed_as_the_optics_terms_take_the_reading():
    """A forehead where the study's relation puts it changes nothing; one a degree cooler lowers the reading by
    its share of it, more through the wide lens at 0.55 m than through the narrow one at 0.3 m (a larger face,
    more of its hottest pixels on the band); no forehead in the truth, no figure."""
    from dataclasses import replace as changed

    from controller.screening.body_model import default_model
    from controller.screening.config import ScreeningConfig

    m, room, core = default_model(), 22.0, 37.0

    def apparent(skin_c):  # what an emissivity-1 reading shows of skin of emissivity 0.98 in the room
        return ((0.98 * (skin_c + 273.15) ** 4 + 0.02 * (room + 273.15) ** 4) ** 0.25) - 273.15

    band = apparent(m.canthus_region.intercept + m.canthus_region.body * core + m.canthus_region.ambient * room)
    forehead = apparent(m.forehead.intercept + m.forehead.body * core + m.forehead.ambient * room)
    person = {"canthus_region_apparent_c": band, "canthus_apparent_c": band + 0.6, "forehead_apparent_c": forehead,
              "room_c": room, "sight_m": 0.55}
    wide = ScreeningConfig()
    wide = changed(wide, analysis=changed(wide.analysis, variant="110"))
    narrow = changed(wide, analysis=changed(wide.analysis, variant="55"))
    assert bench.body_model_on_truth(person, wide) == pytest.approx(core, abs=0.02)
    assert bench.mix_model_on_truth(person, wide) == pytest.approx(core, abs=0.02)
    cool = dict(person, forehead_apparent_c=forehead - 1.0)
    drop_wide = core - bench.mix_model_on_truth(cool, wide)
    drop_narrow = core - bench.mix_model_on_truth(dict(cool, sight_m=0.3), narrow)
    assert 0.1 < drop_wide < 0.6 and 0.0 <= drop_narrow < drop_wide / 2
    assert math.isnan(bench.mix_model_on_truth({k: v for k, v in person.items() if k != "forehead_apparent_c"}, wide))
    rows = [replace(row(37.0, "PASS", 36.8), body_model_c=37.1, mix_model_c=36.9),
            replace(row(37.0, "PASS", 37.4), body_model_c=37.0, mix_model_c=37.3),
            replace(row(37.0, "PASS", 37.0), body_model_c=37.0)]  # no mix figure: left out of the split
    split = bench.mix_split(rows)
    assert split["the face's mix"][:2] == (2, pytest.approx(0.05))  # -0.2 and +0.3
    assert split["sensor and optics"][:2] == (2, pytest.approx(0.0))
    assert split["sensor and optics"][2] == pytest.approx(np.std([-0.1, 0.1], ddof=1))


def test_a_run_gives_the_body_model_reading_of_each_decided_person():
    rows = bench.run((DEV.name, "110", 0, None, None, 0))
    decided = [r for r in rows if r.decision is not None]
    assert decided and all(math.isfinite(r.body_model_c) for r in decided)
    assert all(math.isnan(r.body_model_c) for r in rows if r.decision is None)
    # the body model on the true eye band reads people within the study's spread of their body temperature
    assert all(abs(r.body_model_c - r.core_c) < 1.5 for r in decided)
    # ... and so does it on the band and forehead mixed as the optics terms take the reading, within a few tenths
    # of the band's alone; who they are and where they stood is kept for the offline looks
    assert all(math.isfinite(r.mix_model_c) and abs(r.mix_model_c - r.body_model_c) < 1.0 for r in decided)
    assert all(math.isnan(r.mix_model_c) for r in rows if r.decision is None)
    assert all(math.isfinite(r.lateral_m) for r in rows) and len({r.face_scale for r in rows}) > 1


def test_the_bench_can_give_dev_wings_and_tell_the_installer():
    """--dev-wings gives every DEV run's lens the wings asked for and leaves HELD_OUT as it is; --tell-wings
    writes them into the installer's config."""
    winged = bench.with_dev_wings(DEV, (0.2, 3.0))
    ph = winged.draw("school_queue", DEV.seed(3), "110")
    assert (ph.psf_wing_share, ph.psf_wing_sigma_px) == (0.2, 3.0)
    assert replace(ph, psf_wing_share=0.0, psf_wing_sigma_px=2.0) == DEV.draw("school_queue", DEV.seed(3), "110")
    assert bench.with_dev_wings(HELD_OUT, (0.2, 3.0)) is HELD_OUT and bench.with_dev_wings(DEV, None) is DEV
    assert bench._wings("0.1:2") == (0.1, 2.0)
    for bad in ("0.1", "0.7:2", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench._wings(bad)
    sc = scenario("school_queue", DEV.seed(3), variant="110", world=DEV)
    truth = sc.frame_at(0.0).truth
    told = bench.installer_config(sc, truth, wings=(0.15, 2.5)).analysis
    assert (told.lens_wing_share, told.lens_wing_px) == (0.15, 2.5)
    assert bench.installer_config(sc, truth).analysis.lens_wing_share == 0.0


def test_the_bench_tells_true_wings_or_blur_in_place_of_the_measured_ones_and_keeps_the_rest():
    """--tell-wings true / SHARE:PX replaces the measured wings only: the lens is still measured, its core blur and
    (by default) its offset configured; --tell-wings none measures nothing. --tell-blur true reads the faces and the
    disc through the lens's true core blur; --tell-blur disc reads the faces through the disc's blur wherever the
    disc told one."""
    from controller.screening.analysis import AnalysisConfig
    from controller.screening.config import ScreeningConfig

    measured = bench.MeasuredLens(wings=(0.1, 2.0), offset_c=0.3, view_c=22.0, core_px=0.45)
    ph = Physics(psf_sigma_px=0.6, psf_wing_share=0.2, psf_wing_sigma_px=3.0)
    assert bench.configured_lens(measured, "measured", ph) == ((0.1, 2.0), 0.45)
    assert bench.configured_lens(measured, "true", ph) == ((0.2, 3.0), 0.45)
    assert bench.configured_lens(measured, (0.05, 1.5), ph) == ((0.05, 1.5), 0.45)
    assert bench.configured_lens(measured, None, ph) == (None, None)
    assert [bench.offset_source(tell, None) for tell in ("measured", "true", (0.05, 1.5), None)] == \
        ["measured", "measured", "measured", None]
    assert bench.offset_source("true", "true") == "true" and bench.offset_source("measured", "none") is None
    config = ScreeningConfig(analysis=AnalysisConfig(lens_blur_px=0.9, lens_core_px=0.4))
    assert config.analysis.face_blur_px == 0.4  # the lens measured: its core
    told = bench.with_true_blur(config, ph).analysis
    assert told.lens_blur_px == told.lens_core_px == told.face_blur_px == 0.6
    assert bench.with_true_blur(config, ph).eye_band == config.eye_band
    assert bench.with_disc_blur(config).analysis.face_blur_px == 0.9
    no_disc = ScreeningConfig(analysis=AnalysisConfig(lens_core_px=0.4))
    assert bench.with_disc_blur(no_disc) is no_disc and no_disc.analysis.face_blur_px == 0.4


def test_the_bench_can_give_dev_sensors_a_noise():
    """--dev-noise gives every DEV run's sensor the noise and pixel offsets asked for, the runs otherwise as drawn,
    and leaves HELD_OUT as it is; the gate measures the noise it was given (as the bench reads it off the gate's
    pipeline: 1.05-1.3 times the array's centre's, its corners being noisier)."""
    noisy = bench.with_dev_noise(DEV, (0.2, 0.3))
    ph = noisy.draw("school_queue", DEV.seed(3), "110")
    assert (ph.netd_1hz_c, ph.pixel_offset_sd_c) == (0.2, 0.3)
    plain = DEV.draw("school_queue", DEV.seed(3), "110")
    assert replace(ph, netd_1hz_c=plain.netd_1hz_c, pixel_offset_sd_c=plain.pixel_offset_sd_c) == plain
    assert bench.with_dev_noise(HELD_OUT, (0.2, 0.3)) is HELD_OUT and bench.with_dev_noise(DEV, None) is DEV
    assert bench._noise("0.18:0.175") == (0.18, 0.175)
    for bad in ("0.1", "0:0.1", "2:0.1", "0.1:-1", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench._noise(bad)
    from sim.synth import scenario_recording

    for netd in (0.08, 0.2):
        world = bench.with_dev_noise(DEV, (netd, 0.175))
        sc = scenario("school_queue", DEV.seed(3), variant="110", world=world)
        rec = scenario_recording("school_queue", 30.0, seed=DEV.seed(3), variant="110", world=world)
        measured = bench.reference_images_recording(rec, bench.installer_config(sc, sc.frame_at(0.0).truth)).noise_c
        assert 1.05 * netd <= measured / math.sqrt(8.0) <= 1.3 * netd


def test_the_bench_can_hold_one_range_at_a_value_in_every_world():
    """--fix NAME=VALUE holds one of the worlds' ranges at a value in every run of both worlds, every other
    quantity drawn as before; a name that is not a range, or a value that is not a number, is refused."""
    for world in WORLDS:
        fixed = bench.with_fixed(world, (("sensor_gain", 0.0), ("skin_emissivity", 0.98)))
        for i in (0, 7):
            plain = world.draw("school_queue", world.seed(i), "110")
            ph = fixed.draw("school_queue", world.seed(i), "110")
            assert (ph.sensor_gain, ph.skin_emissivity) == (0.0, 0.98)
            assert plain.sensor_gain != 0.0
            assert replace(ph, sensor_gain=plain.sensor_gain, skin_emissivity=plain.skin_emissivity) == plain
        assert bench.with_fixed(world, ()) is world
    assert bench._fix("drift_scale=1") == ("drift_scale", 1.0)
    for bad in ("gain=0", "sensor_gain", "sensor_gain=x", "sensor_gain=nan", "=1"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench._fix(bad)


def test_the_bench_can_have_people_stand_longer():
    """--stand has every world's people stand on the mark for the time asked (the worlds' own: 1-2 s), each
    person's slot longer by what the longest stand adds, so that no visit runs into the next; the physics and
    the people's looks are drawn as before, and without it nothing changes."""
    seed = DEV.seed(3)
    plain = scenario("school_queue", seed, variant="110", world=DEV)
    assert bench.with_stand(DEV, None) is DEV and DEV.stand_s == HELD_OUT.stand_s == (1.0, 2.0)
    for world in (DEV, HELD_OUT):
        longer = bench.with_stand(world, (3.0, 4.0))
        assert longer.stand_s == (3.0, 4.0) and replace(longer, stand_s=world.stand_s) == world
    long = scenario("school_queue", seed, variant="110", world=bench.with_stand(DEV, (3.0, 4.0)))
    assert long.physics == plain.physics and long.spec.slot_s == plain.spec.slot_s + 2.0
    assert long.duration_s == pytest.approx(plain.duration_s + 2.0 * plain.spec.n_people)
    people = [long.scene.person(0, i) for i in range(long.spec.n_people)]
    before = [plain.scene.person(0, i) for i in range(plain.spec.n_people)]
    assert all(3.0 <= p.stand_s <= 4.0 for p in people) and all(1.0 <= p.stand_s <= 2.0 for p in before)
    assert [(p.look, p.eye_height_m) for p in people] == [(p.look, p.eye_height_m) for p in before]
    # one visit ends before the next begins
    assert all(a.exit_s <= b.enter_s for a, b in zip(people[:-1], people[1:], strict=True))
    assert bench._stand("3:4") == (3.0, 4.0)
    for bad in ("3", "4:3", "0:1", "1:20", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench._stand(bad)


def test_the_bench_can_have_people_wait_for_their_result():
    """--wait-for-result screens each run in the closed loop of sim/waiting.py instead of the planned recording:
    the same people stand at the mark, and what the gate made of them is not all the same (the people before
    them walked on sooner)."""
    job = (DEV.name, "110", 0, None, None, 0)
    plain = bench.run(job)
    waited = bench.run(job + (8.0, None, None, None, "default", None, None, True))
    assert [r.person for r in waited] == [r.person for r in plain] and len(plain) >= 10
    assert any(a != b for a, b in zip(plain, waited, strict=True))
    assert bench.run(job + (8.0, None, None, None, "default", None, None, False)) == plain


def test_the_bench_can_draw_the_sensors_noise_afresh():
    """--noise-draw K renders the same run with another draw of the sensor's noise over time: the same physics,
    people and pixel offsets, other images; draw 0 is the run as it is."""
    seed = DEV.seed(3)
    assert bench.with_noise_draw(DEV, 0) is DEV and DEV.noise_draw == HELD_OUT.noise_draw == 0
    plain = scenario("school_queue", seed, variant="110", world=DEV)
    fresh = scenario("school_queue", seed, variant="110", world=bench.with_noise_draw(DEV, 2))
    assert replace(fresh.physics, noise_draw=0) == plain.physics and fresh.physics.noise_draw == 2
    assert np.array_equal(fresh.scene.errors.offsets, plain.scene.errors.offsets)
    for t in (1.0, 9.5):
        a, b = plain.frame_at(t), fresh.frame_at(t)
        assert a.truth == b.truth and not np.array_equal(a.image, b.image)
        assert np.allclose(a.image, b.image, atol=8 * plain.physics.netd_1hz_c * math.sqrt(8.0))
        assert np.array_equal(plain.clean_at(t).image, fresh.clean_at(t).image)
    again = scenario("school_queue", seed, variant="110", world=bench.with_noise_draw(DEV, 2))
    assert np.array_equal(again.frame_at(9.5).image, fresh.frame_at(9.5).image)
    from sim.synth import scenario_recording

    longer = bench.with_stand(bench.with_noise_draw(DEV, 2), (3.0, 4.0))
    meta = scenario_recording("school_queue", 1.0, seed=seed, variant="110", world=longer).meta
    assert meta["world"] == DEV.name and meta["noise_draw"] == 2 and meta["stand_s"] == [3.0, 4.0]
    plain_meta = scenario_recording("school_queue", 1.0, seed=seed, variant="110", world=DEV).meta
    assert "noise_draw" not in plain_meta and "stand_s" not in plain_meta


def test_the_bench_can_have_the_installer_measure_each_lens():
    """--tell-wings measured: each gate's lens measured as `thermogate calibrate lens` measures it, with the run's
    own disc (or one brought for it) through the run's own lens and sensor: no wings where the lens has none, and the
    sensor's offset, the disc stood nearer and the lens measured again where the command says so."""
    bare = scenario("school_queue", DEV.seed(3), variant="110", world=DEV)
    wings, offset, view, core = bench.measured_lens(bare, DEV.seed(3))
    assert wings is None
    assert core is not None and abs(core - bare.physics.psf_sigma_px) < 0.3  # the lens's core: lens_core_px
    assert offset is not None and abs(offset - bare.physics.sensor_offset_c) < 0.5
    assert view is not None and abs(view - (bare.physics.ambient_c + offset)) < 1.0  # the gate's walls, as read
    winged_world = bench.with_dev_wings(DEV, (0.2, 3.0))
    winged = scenario("school_queue", DEV.seed(3), variant="110", world=winged_world)
    (share, px), read, _, _ = bench.measured_lens(winged, DEV.seed(3))
    assert abs(share - 0.2) < 0.06 and abs(px - 3.0) < 0.8
    # --tell-offset true: the sensor's true offset while the disc stood in place of the one read, the wings as read
    from sim.scenes.lens_target import drawn_target, lens_target_frames

    stood: dict = {}
    lens_target_frames(winged.physics, winged.fov, DEV.seed(3), drawn_target(winged.physics, winged.fov, DEV.seed(3)),
                       walls_of=winged.scene.room, truth=stood)
    (share_t, _), true_offset, _, _ = bench.measured_lens(winged, DEV.seed(3), true_offset=True)
    assert share_t == share and true_offset == stood["sensor_offset_c"] != read and abs(true_offset - read) < 0.3
    no_disc = next(sc for i in range(40) if (sc := scenario("school_queue", DEV.seed(i), variant="110",
                                                            world=DEV)).physics.reference is None)
    # a gate with no reference in view is measured with a disc brought for the purpose: its offset read all the same
    _, offset, _, _ = bench.measured_lens(no_disc, no_disc.seed)
    assert offset is not None and abs(offset - no_disc.physics.sensor_offset_c) < 0.5
    truth = bare.frame_at(0.0).truth
    told = bench.installer_config(bare, truth, lens_offset_c=-0.37, lens_core_px=core).analysis
    assert told.sensor_offset_c == -0.37 and told.lens_core_px == core
    # DEV's 110 deg run 7: at the table's distance its lens (0.77 px) leaves 3 pixels wholly on the disc, too few
    # to read the offset; the command says how near to stand it, and the installer does and measures again
    from controller.screening.lens_measurement import measure_lens
    from sim.scenes.lens_target import measure_as_told

    blurred = scenario("school_queue", DEV.seed(7), variant="110", world=DEV)
    target = drawn_target(blurred.physics, blurred.fov, DEV.seed(7))
    disc, empty = lens_target_frames(blurred.physics, blurred.fov, DEV.seed(7), target, walls_of=blurred.scene.room)
    first = measure_lens(disc, empty, blurred.fov, set_point_c=target.temp_c, emissivity=target.emissivity)
    assert first.sensor_offset_c is None and first.offset_across_px is not None
    told = measure_as_told(blurred.physics, blurred.fov, DEV.seed(7), target, walls_of=blurred.scene.room)
    assert told.nearer and not told.hotter and told.target.distance_m < target.distance_m
    _, offset, _, _ = bench.measured_lens(blurred, DEV.seed(7))
    assert offset == told.measurement.sensor_offset_c and abs(offset - blurred.physics.sensor_offset_c) < 0.5


def test_the_drift_since_the_lens_was_measured_is_taken_off_with_its_offset():
    """DEV's gates whose disc is too small to tell the sensor's offset: the lens measurement's offset was read in a
    session of its own, with its own drift. Learning the reference reads the view again and adds the drift since
    (lens_drift_c): the offset taken off is nearer the sensor's offset and drift while learning than the lens's
    offset alone."""
    errors = []
    for i in range(16):
        sc = scenario("school_queue", DEV.seed(i), variant="110", world=DEV)
        if sc.physics.reference is None:
            continue
        rec = bench.scenario_recording("school_queue", bench.LEARN_S, seed=DEV.seed(i), variant="110", world=DEV)
        frames = list(rec.frames())
        wings, offset, view, _ = bench.measured_lens(sc, DEV.seed(i))
        installed = bench.installer_config(sc, frames[0].truth, wings=wings, lens_offset_c=offset, lens_view_c=view)
        config, learned, told = bench.learn_installed_reference(rec, installed)
        if offset is None or learned != "learned" or told:
            continue
        truth = sc.physics.sensor_offset_c + float(np.mean([f.truth["drift_c"] for f in frames]))
        errors.append((config.analysis.sensor_offset_c - truth, round(offset, 2) - truth))
    with_drift, lens_alone = np.sqrt(np.mean(np.square(errors), axis=0))
    assert len(errors) >= 10 and with_drift < 0.75 * lens_alone and with_drift < 0.15, (errors, with_drift, lens_alone)


def test_the_bench_installer_measures_each_sensors_flat_field_when_told():
    """--flat-field measured: each run's installer measures its sensor's pixel offsets as `thermogate calibrate
    flat` does (the run's disc against the window of the sensor its frames come from) and writes them into the
    gate's config; the default, none, writes none."""
    seed = DEV.seed(4)
    sc = scenario("school_queue", seed, variant="110", world=DEV)
    offsets = np.asarray(bench.measured_flat_field(sc, seed))
    truth = sc.scene.errors.offsets - np.median(sc.scene.errors.offsets)
    assert offsets.shape == (24, 32) and (offsets - truth).std() < 0.06 < truth.std()
    first = {"reference": {"present": False}}
    told = bench.installer_config(sc, first, pixel_offsets_c=offsets.tolist())
    np.testing.assert_allclose(np.asarray(told.analysis.pixel_offsets_c), offsets)
    assert bench.installer_config(sc, first).analysis.pixel_offsets_c is None and bench.FLAT_DEFAULT is None
    job = (DEV.name, "110", 4, None, None, 0, 8.0, None, None, "measured", "default", None, None, False, 0, "measured",
           ())
    rows, plain = bench.run(job + ("measured",)), bench.run(job)
    assert len(rows) == len(plain) and [r.person for r in rows] == [r.person for r in plain]
    assert [r.estimate_c for r in rows] != [r.estimate_c for r in plain]  # the same people, read otherwise
