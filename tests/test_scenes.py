"""Synthetic scenes and the named scenarios (sim/scenes/, sim/scenarios.py, docs/simulation.md)."""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from controller.geometry import FACE_HALF_HEIGHT_M, NARROW, WIDE, face_width_pixels, pixels_across
from controller.sensor import Calibration, control_word, random_eeprom
from sim.scenarios import AMBIENT_SWEEP_C, LINEARITY_CORES_C, SCENARIOS, VARIANTS, Event, SceneFrame, scenario
from sim.scenes.face import REGIONS, U_EDGES, V_EDGES, Look, canthus_spot_share, template
from sim.scenes.people import MARK_SPREAD_M, SWAY_M, PersonPlan
from sim.scenes.physiology import FEVER_C, SKIN_EMISSIVITY, Physiology, apparent_c, remembered_ambient_c, steady_site_c
from sim.scenes.sensor_errors import noise_sd_c

VARIANT_NAMES = tuple(VARIANTS)
FOV = {"55": NARROW, "110": WIDE}


@cache
def whole_run(name: str, variant: str = "55", seed: int = 0, clean: bool = False) -> tuple[SceneFrame, ...]:
    """Every subpage of a scenario at 8 Hz."""
    sc = scenario(name, seed, variant=variant)
    render = sc.clean_at if clean else sc.frame_at
    return tuple(render(t) for t in np.arange(0.0, sc.duration_s, 1 / 8))


def standing(frames, plain: bool = False):
    """(frame, person) for everyone standing; ``plain``: no glasses, cover or mask."""
    for f in frames:
        for p in f.truth["people"]:
            if p["phase"] == "standing" and not (plain and (p["glasses"] or p["hat"] or p["mask"])):
                yield f, p


# ---- the interface --------------------------------------------------------------------------------------------

def test_the_named_scenarios():
    assert SCENARIOS == ("normal_queue", "fever", "cold_arrival", "glasses", "hat", "hot_cup", "two_people",
                         "no_reference", "far", "sensor_fault", "wifi_drop", "linearity", "ambient_sweep",
                         "school_queue", "slow_approach", "walk_through", "masked", "cut_off", "chin_cut_off",
                         "cold_face")
    sc = scenario("normal_queue", 3, variant="110", refresh_hz=16.0)
    assert (sc.name, sc.seed, sc.variant, sc.refresh_hz) == ("normal_queue", 3, "110", 16.0)
    assert sc.duration_s > 0 and isinstance(sc.events, tuple)


@pytest.mark.parametrize("bad", [dict(name="nope"), dict(variant="90"), dict(refresh_hz=0.0)])
def test_bad_arguments_are_refused(bad):
    args = dict(name="normal_queue", variant="55", refresh_hz=8.0) | bad
    with pytest.raises(ValueError):
        scenario(args.pop("name"), 0, **args)


@pytest.mark.parametrize("t", [-0.1, math.nan, math.inf])
def test_bad_times_are_refused(t):
    with pytest.raises(ValueError):
        scenario("normal_queue").frame_at(t)


@pytest.mark.parametrize("variant", VARIANT_NAMES)
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_renders_its_whole_duration(name, variant):
    frames = whole_run(name, variant)
    last_id = 0
    for f in frames:
        assert f.image.shape == (24, 32) and f.image.dtype == np.float64
        assert np.isfinite(f.image).all()
        assert -40.0 < f.image.min() and f.image.max() < 250.0
        assert math.isfinite(f.ta) and 15.0 < f.ta < 45.0
        truth = f.truth
        assert json.loads(json.dumps(truth, allow_nan=False)) == truth
        ids = [p["id"] for p in truth["people"]]
        assert ids == sorted(set(ids))
        for p in truth["people"]:
            r0, c0, r1, c1 = p["face_box"]
            assert 0 <= r0 < r1 <= 24 and 0 <= c0 < c1 <= 32
            assert p["phase"] in ("approaching", "standing", "leaving")
            for flag in ("glasses", "hat", "mask", "from_cold", "fever", "hot_cup"):
                assert isinstance(p[flag], bool)
        assert truth["fever"] == any(p["phase"] == "standing" and p["core_c"] >= FEVER_C for p in truth["people"])
        if ids:
            assert ids[0] >= last_id  # a person's id never goes back to an earlier one
            last_id = ids[0]
    assert sum(1 for f in frames if not f.truth["people"]) > 8  # gaps with nobody in view
    assert last_id >= 8


@pytest.mark.parametrize("name", SCENARIOS)
def test_visits_fit_their_cycle(name):
    scene = scenario(name).scene
    people = [scene.person(0, i) for i in range(scene.spec.n_people)]
    assert min(p.enter_s for p in people) >= 0.0
    assert max(p.exit_s for p in people) <= scene.duration_s
    if name in ("slow_approach", "walk_through"):
        return  # their point is a walk unlike the others: slow and steady, or never stopping
    for p in people:
        assert 1.0 <= p.stand_s <= 2.0
        assert p.walk_s <= 2.0 and p.leave_s <= 1.3


# ---- reproducibility --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCENARIOS)
def test_same_seed_same_frames_in_any_order(name):
    a, b = scenario(name, 7), scenario(name, 7)
    times = [0.0, 4.25, 9.5, 13.0, 21.125, 33.0, 50.5]
    forward = [a.frame_at(t) for t in times]
    backward = [b.frame_at(t) for t in reversed(times)][::-1]
    again = [a.frame_at(t) for t in times]
    for x, y, z in zip(forward, backward, again, strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.image, z.image)
        assert x.ta == y.ta and x.truth == y.truth == z.truth


@pytest.mark.parametrize("name", SCENARIOS)
def test_different_seeds_differ(name):
    a, b = scenario(name, 1), scenario(name, 2)
    assert not np.array_equal(a.frame_at(6.0).image, b.frame_at(6.0).image)
    cores = [[p["core_c"] for _, p in standing([s.clean_at(t) for t in np.arange(0, 40, 0.5)])] for s in (a, b)]
    if name not in ("linearity", "walk_through"):  # (nobody stands in walk_through)
        assert cores[0][:3] != cores[1][:3]


def test_noise_differs_from_frame_to_frame_but_not_the_scene():
    sc = scenario("normal_queue", 0)
    assert not np.array_equal(sc.frame_at(1.0).image, sc.frame_at(1.125).image)
    assert np.array_equal(sc.clean_at(1.0).image, sc.clean_at(1.125).image)  # nobody in view: a still room


def test_the_queue_keeps_coming_after_the_duration():
    sc = scenario("sensor_fault", 0)
    n = sc.scene.spec.n_people
    ids = {p["id"] for t in np.arange(sc.duration_s, 2 * sc.duration_s, 0.25)
           for p in sc.clean_at(t).truth["people"]}
    assert ids and min(ids) > n and max(ids) <= 2 * n
    later = [sc.frame_at(sc.duration_s + t) for t in (21.0, 25.0, 51.0)]
    assert all(f.truth["garbage_pixels"] == [] for f in later)  # events happen once
    assert all(f.truth["cycle"] == 1 for f in later)


@pytest.mark.parametrize("name", ["fever", "school_queue", "two_people", "walk_through"])
def test_a_listed_queue_holds_only_its_people_once(name):
    """``people=[...]``: the queue is exactly those people, in order, then nobody, however long the gate runs
    (the fever scenario's own febrile strangers never come)."""
    listed = [PersonPlan(36.6, credential="QR-A"), PersonPlan(38.5, credential="QR-B"), PersonPlan(36.9)]
    sc = scenario(name, 2, people=listed)
    own = scenario(name, 2)
    assert sc.spec.n_people == 3 and sc.duration_s == own.spec.lead_s + 3 * own.spec.slot_s
    assert sc.events == own.events and "people=3" in repr(sc)
    cores: dict[int, float] = {}
    for t in np.arange(0.0, 5 * sc.duration_s, 0.125):
        truth = sc.clean_at(t).truth
        if t >= sc.duration_s:
            assert truth["people"] == [], t  # after the one cycle: nobody, ever
        for p in truth["people"]:
            assert cores.setdefault(p["id"], p["core_c"]) == p["core_c"]
    assert cores == {1: 36.6, 2: 38.5, 3: 36.9}
    if name != "walk_through":  # (nobody stands in walk_through)
        standing_ids = {p["id"] for _f, p in standing(sc.clean_at(t) for t in np.arange(0.0, sc.duration_s, 0.125))}
        assert standing_ids == {1, 2, 3}
    # the listed codes are scanned once each, in the one cycle; the third person scans nothing
    assert sc.credentials is not None
    assert [(s.person, s.text) for s in sc.scans(0.0, 10 * sc.duration_s)] == [(1, "QR-A"), (2, "QR-B")]
    assert sc.scans(sc.duration_s, 10 * sc.duration_s) == []
    # a credentials function still decides what they scan; without codes nobody scans (no scanner fitted)
    assert [s.text for s in scenario(name, 2, people=listed, credentials=lambda i: f"C{i}").scans(0, 1e3)] == \
        ["C0", "C1", "C2"]
    plain = scenario(name, 2, people=[PersonPlan(36.6)])
    assert plain.credentials is None and plain.scans(0.0, 1e3) == []


def test_a_listed_queue_in_a_world_keeps_its_people():
    from sim.scenes.world import DEV

    sc = scenario("school_queue", DEV.seed(7), world=DEV, people=[PersonPlan(36.8), PersonPlan(39.0)])
    cores = {p["id"]: p["core_c"] for t in np.arange(0.0, 3 * sc.duration_s, 0.125)
             for p in sc.clean_at(t).truth["people"]}
    assert cores == {1: 36.8, 2: 39.0}


@pytest.mark.parametrize("people, error", [([], ValueError), ([PersonPlan(math.nan)], ValueError),
                                           ([PersonPlan(36.6), (36.6, "QR-A")], TypeError)])
def test_a_bad_listed_queue_is_refused(people, error):
    with pytest.raises(error):
        scenario("normal_queue", people=people)


# ---- geometry ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANT_NAMES)
@pytest.mark.parametrize("name", ["normal_queue", "far", "two_people"])
def test_face_box_scales_with_distance_as_the_geometry_predicts(name, variant):
    fov = FOV[variant]
    widths = []
    for f in whole_run(name, variant, clean=True):
        for p in f.truth["people"]:
            r0, c0, r1, c1 = p["face_box_px"]
            sight = p["sight_m"]
            assert c1 - c0 == pytest.approx(face_width_pixels(sight, fov), abs=2e-3)
            assert r1 - r0 == pytest.approx(pixels_across(2 * FACE_HALF_HEIGHT_M, sight, fov, "vertical"), abs=2e-3)
            ir0, ic0, ir1, ic1 = p["face_box"]
            assert ir0 <= max(r0, 0) and ic0 <= max(c0, 0) and ir1 >= min(r1, 24) and ic1 >= min(c1, 32)
            assert ir1 - ir0 <= math.ceil(r1 - r0) + 1 and ic1 - ic0 <= math.ceil(c1 - c0) + 1
            widths.append((sight, c1 - c0))
    sight, width = np.array(widths).T
    assert np.corrcoef(1 / sight, width)[0, 1] > 0.99  # the nearer, the bigger
    mark = VARIANTS[variant][1].mark_distance_m
    at_mark = width[np.abs(sight - mark) < 0.1]
    if name != "far":
        assert at_mark.size and np.all(np.abs(at_mark - face_width_pixels(mark, fov)) < 1.0)


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_the_face_is_where_the_box_says(variant):
    for f, p in standing(whole_run("normal_queue", variant, clean=True)):
        r0, c0, r1, c1 = p["face_box"]
        inner = f.image[r0 + 1:r1 - 1, c0 + 1:c1 - 1]
        assert inner.mean() > f.truth["ambient_c"] + 5.0
        outside = np.delete(f.image, np.s_[max(c0 - 2, 0):c1 + 2], axis=1)[: max(r0 - 1, 1)]
        assert outside.size == 0 or np.median(outside) < f.truth["ambient_c"] + 3.0


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_the_mountings_are_the_recommended_ones(variant):
    from controller.geometry import recommend_mounting
    fov, m = VARIANTS[variant]
    best = recommend_mounting(1.15, 1.45, fov)
    assert (best.sensor_height_m, best.tilt_deg, best.distance_m) == (
        m.sensor_height_m, m.tilt_deg, m.mark_distance_m)


# ---- temperatures -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_face_maximum_is_near_the_canthus(variant):
    """The hottest face pixel is the canthus region, mixed with its neighbours by the pixel size and the lens: at
    most the region's average (no pixel holds the hot spot alone), never the canthus maximum."""
    clean = list(standing(whole_run("normal_queue", variant, clean=True), plain=True))
    assert len(clean) > 50
    gaps = []
    for f, p in clean:
        r0, c0, r1, c1 = p["face_box"]
        gap = f.image[r0:r1, c0:c1].max() - p["canthus_region_apparent_c"]
        assert -1.2 < gap <= 0.01
        assert f.image[r0:r1, c0:c1].max() < p["canthus_apparent_c"] - 0.1
        gaps.append(gap)
    assert -0.6 < np.mean(gaps) < 0.0
    noisy = [f.image[slice(*p["face_box"][::2]), slice(*p["face_box"][1::2])].max() - p["canthus_region_apparent_c"]
             for f, p in standing(whole_run("normal_queue", variant), plain=True)]
    assert abs(np.median(noisy)) < 0.6


def test_fever_scenario_has_fevers():
    frames = whole_run("fever")
    fevered = [p for f in frames for p in f.truth["people"] if f.truth["fever"] and p["phase"] == "standing"]
    assert fevered and all(p["core_c"] >= FEVER_C for p in fevered if p["fever"])
    cores = {p["id"]: p["core_c"] for _, p in standing(frames)}
    assert sum(c >= 38.0 for c in cores.values()) >= 3
    assert sum(c < FEVER_C for c in cores.values()) >= 5
    hot = [p for _, p in standing(frames) if p["core_c"] >= 38.0]
    cool = [p for _, p in standing(frames) if p["core_c"] < FEVER_C]
    assert np.mean([p["canthus_apparent_c"] for p in hot]) > np.mean([p["canthus_apparent_c"] for p in cool]) + 1.0


def test_normal_queue_has_no_fever_and_a_plausible_population():
    frames = whole_run("normal_queue")
    assert not any(f.truth["fever"] for f in frames)
    cores = np.array(list({p["id"]: p["core_c"] for _, p in standing(frames)}.values()))
    assert 36.0 <= cores.min() and cores.max() < FEVER_C and 36.4 < cores.mean() < 37.1
    masks = {p["id"] for _, p in standing(frames) if p["mask"]}
    assert len(masks) == 3


def test_linearity_covers_the_core_range_in_steps():
    assert LINEARITY_CORES_C[0] == 34.5 and LINEARITY_CORES_C[-1] == 41.0
    assert np.allclose(np.diff(LINEARITY_CORES_C), 0.5)
    seen = sorted({p["core_c"] for _, p in standing(whole_run("linearity"))})
    assert seen == list(LINEARITY_CORES_C)
    by_core = {}
    for _, p in standing(whole_run("linearity", clean=True)):
        by_core.setdefault(p["core_c"], []).append(p["forehead_c"])
    means = [np.mean(by_core[c]) for c in LINEARITY_CORES_C]
    slope = np.polyfit(LINEARITY_CORES_C, means, 1)[0]
    assert 0.6 < slope < 1.0  # the forehead follows the core, a little less than one for one


def test_ambient_sweep_covers_the_range_and_moves_the_forehead():
    frames = whole_run("ambient_sweep", clean=True)
    assert sorted({f.truth["ambient_c"] for f in frames}) == list(AMBIENT_SWEEP_C)
    offsets = {}
    for f, p in standing(frames):
        offsets.setdefault(f.truth["ambient_c"], []).append(p["forehead_c"] - p["core_c"])
    means = [np.mean(offsets[a]) for a in AMBIENT_SWEEP_C]
    assert np.all(np.diff(means) > 0)  # a warmer room, a warmer forehead
    assert 1.5 < means[-1] - means[0] < 4.5
    backgrounds = [np.median(f.image[20:, :]) - f.truth["ambient_c"] for f in frames if not f.truth["people"]]
    assert np.ptp(backgrounds) < 1.0  # the room follows the ambient


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_reference_reads_its_set_temperature(variant):
    sc = scenario("normal_queue", 0, variant=variant)
    ref = sc.clean_at(0.0).truth["reference"]
    assert ref["present"] and ref["temp_c"] == 35.0
    r, c = (int(x) for x in ref["centre"])
    r0, c0, r1, c1 = ref["box"]
    assert r1 - r0 >= 4 and c1 - c0 >= 4
    for t in (0.0, 10.0, 30.0):
        clean = sc.clean_at(t)
        assert clean.image[r, c] == pytest.approx(35.0, abs=0.05)
    noisy = np.array([sc.frame_at(t).image[r, c] for t in np.arange(0.0, 30.0, 0.25)])
    assert abs(noisy.mean() - 35.0) < 0.6
    assert abs(noisy.std() - noise_sd_c(8.0)) < 0.15


def test_no_reference_has_none():
    frames = whole_run("no_reference")
    assert all(f.truth["reference"]["present"] is False for f in frames)
    ref = scenario("normal_queue").clean_at(0.0).truth["reference"]
    r, c = (int(x) for x in ref["centre"])
    assert max(f.image[r, c] for f in frames) < 30.0


def test_cold_arrival_forehead_starts_low_and_recovers():
    frames = whole_run("cold_arrival", clean=True)
    visits: dict[int, list[dict]] = {}
    for f in frames:
        for p in f.truth["people"]:
            visits.setdefault(p["id"], []).append(p)
    cold = {i: v for i, v in visits.items() if v[0]["from_cold"]}
    warm = {i: v for i, v in visits.items() if not v[0]["from_cold"]}
    assert len(cold) >= 8 and warm
    for v in cold.values():
        fh = [p["forehead_c"] for p in v]
        assert np.all(np.diff(fh) >= 0) and fh[-1] > fh[0]  # warming up while in view
        assert v[0]["forehead_settled_c"] - v[0]["forehead_c"] > 0.8
        assert v[0]["indoor_s"] > 0
    for v in warm.values():
        assert all(p["forehead_c"] == p["forehead_settled_c"] for p in v)
    deficits = [v[0]["forehead_settled_c"] - v[0]["forehead_c"] for _, v in sorted(cold.items())]
    assert np.mean(deficits[:3]) > np.mean(deficits[-3:])


def test_glasses_hide_the_canthi_and_hats_the_forehead():
    g = [p for _, p in standing(whole_run("glasses"))]
    assert g and all(p["glasses"] and p["canthus_visible"] < 0.2 and p["forehead_visible"] == 1.0 for p in g)
    h = [p for _, p in standing(whole_run("hat"))]
    assert {p["cover"] for p in h} == {"hat", "fringe"}
    assert all(p["hat"] and p["forehead_visible"] < 0.5 and p["canthus_visible"] == 1.0 for p in h)


def test_hot_cup_is_hot_and_flagged():
    frames = whole_run("hot_cup", clean=True)
    holding = [f for f, p in standing(frames) if p["hot_cup"]]
    assert holding and all(f.truth["hot_object"] and f.image.max() > 40.0 for f in holding)
    assert max(f.image.max() for f in frames if not f.truth["hot_object"]) < 38.0


def test_two_people_in_view():
    frames = whole_run("two_people")
    both = [f for f in frames if len(f.truth["people"]) >= 2
            and any(p["phase"] == "standing" for p in f.truth["people"])]
    assert len(both) > len(frames) // 5


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_far_faces_are_small(variant):
    mark = VARIANTS[variant][1].mark_distance_m
    people = [p for _, p in standing(whole_run("far", variant))]
    # The scenario stops people at 1.6-2.2 mark distances, each off by a normal MARK_SPREAD_M and swaying.
    nearest = 1.6 * mark - 4 * MARK_SPREAD_M - SWAY_M
    assert people and all(p["distance_m"] > nearest for p in people)
    assert all(p["face_box_px"][3] - p["face_box_px"][1] < 4.0 for p in people)


def test_sensor_fault_has_garbage_and_i2c_failures():
    sc = scenario("sensor_fault", 0)
    kinds = [e.kind for e in sc.events]
    assert kinds.count("i2c_fail") == 2 and kinds.count("garbage_pixels") == 2
    assert all(isinstance(e, Event) and e.params["reads"] > 0 for e in sc.events if e.kind == "i2c_fail")
    for e in (e for e in sc.events if e.kind == "garbage_pixels"):
        pixels = e.params["pixels"]
        assert pixels and all(0 <= p < 768 for p in pixels) and e.params["until"] > e.t
        for t in np.arange(e.t, e.params["until"], 0.5):
            noisy, clean = sc.frame_at(t), sc.clean_at(t)
            assert noisy.truth["garbage_pixels"] == sorted(pixels)
            assert np.mean(np.abs(noisy.image.flat[pixels] - clean.image.flat[pixels]) > 3.0) > 0.6
            assert clean.truth["garbage_pixels"] == sorted(pixels)
        assert sc.frame_at(e.params["until"] + 0.5).truth["garbage_pixels"] == []
    assert sc.frame_at(5.0).truth["garbage_pixels"] == []


def test_wifi_drop_has_down_then_up():
    sc = scenario("wifi_drop", 0)
    down = [e.t for e in sc.events if e.kind == "wifi_down"]
    up = [e.t for e in sc.events if e.kind == "wifi_up"]
    assert len(down) == len(up) == 1 and 0 < down[0] < up[0] < sc.duration_s
    assert all(e.kind in ("wifi_down", "wifi_up") for e in sc.events)
    assert not any(scenario(n).events for n in SCENARIOS if n not in ("wifi_drop", "sensor_fault"))


# ---- sensor errors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("refresh_hz", [2.0, 8.0, 32.0])
def test_noise_rises_with_refresh_rate(refresh_hz):
    sc = scenario("normal_queue", 0, refresh_hz=refresh_hz)
    times = np.arange(0.0, 2.9, 1 / 32)  # nobody in view yet
    diffs = np.array([sc.frame_at(t).image - sc.clean_at(t).image for t in times])
    temporal = diffs.std(axis=0)[8:16, 10:22].mean()  # centre pixels, over time
    assert temporal == pytest.approx(noise_sd_c(refresh_hz), rel=0.2)
    fixed = diffs.mean(axis=0)
    assert 0.05 < (fixed - fixed.mean()).std() < 0.3  # per-pixel offsets stay put


# ---- the skin model and the apparent temperature -----------------------------------------------------------------

def test_skin_model_follows_core_and_ambient():
    assert steady_site_c(37.0, 37.0, 0.2) == 37.0
    assert steady_site_c(38.0, 22.0, 0.2) - steady_site_c(37.0, 22.0, 0.2) == pytest.approx(0.8)
    assert steady_site_c(37.0, 30.0, 0.2) - steady_site_c(37.0, 15.0, 0.2) == pytest.approx(3.0)
    assert remembered_ambient_c(20.0, None, 0.0, 100.0) == 20.0
    assert remembered_ambient_c(20.0, 0.0, 0.0, 100.0) == 0.0
    assert remembered_ambient_c(20.0, 0.0, 1e6, 100.0) == pytest.approx(20.0)
    person = Physiology.draw(36.8, np.random.default_rng(1))
    for ambient in (15.0, 22.0, 30.0):
        fh, ca = person.forehead_c(ambient, 0.0), person.canthus_c(ambient, 0.0)
        assert fh < 36.8 and ca < 36.8 + 0.6 and ca > fh
    assert person.forehead_c(30.0, 0.0) > person.forehead_c(15.0, 0.0) + 1.0


STUDY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "facial-oral"


@pytest.fixture(scope="module")
def study_subjects():
    from controller.screening import facial_oral

    files = [STUDY / "FLIR_group1.csv", STUDY / "ICI_group1.csv"]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        message = f"facial-oral data not found ({', '.join(missing)}): the checkout needs ../shared beside it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [s for f in files for s in facial_oral.read(f)]


def test_the_canthus_is_a_hot_spot_in_a_region_of_physical_size():
    """The inner canthus's hottest point is a few millimetres across, the region the study averages 1-2 cm."""
    t = template(Look())
    cell = np.abs(np.outer(np.diff(V_EDGES), np.diff(U_EDGES))).ravel()
    area = {r: float(t.masks[list(t.regions).index(REGIONS.index(r))] @ cell) / 2 for r in ("canthus", "canthus_ring")}
    spot_across = 2 * math.sqrt(area["canthus"] / math.pi)
    region_across = 2 * math.sqrt((area["canthus"] + area["canthus_ring"]) / math.pi)  # each side: / 2 above
    assert 0.003 <= spot_across <= 0.006
    assert 0.01 <= region_across <= 0.02
    assert canthus_spot_share() == pytest.approx(area["canthus"] / (area["canthus"] + area["canthus_ring"]))


def _painted_region_c(person: Physiology, ambient_c: float) -> tuple[float, float]:
    """(the canthus maximum, the average the simulator paints over the canthus region: spot and ring, weighted by
    the rasterised masks, as a frame mixes them)."""
    t = template(Look())
    cell = np.abs(np.outer(np.diff(V_EDGES), np.diff(U_EDGES))).ravel()
    surfaces = person.surfaces_c(ambient_c, 0.0)
    weights = {r: float(t.masks[list(t.regions).index(REGIONS.index(r))] @ cell) for r in ("canthus", "canthus_ring")}
    total = sum(weights.values())
    return (float(surfaces[REGIONS.index("canthus")]),
            sum(w * float(surfaces[REGIONS.index(r)]) for r, w in weights.items()) / total)


def test_the_simulated_canthus_region_sits_below_its_maximum_as_in_the_study(study_subjects):
    """Canthus maximum minus region average, per person: the simulator's painted faces against the study's
    subjects (canthiMax against RCC/LCC averaged), over the study's rooms and bodies, and its fall with the room."""
    from sim.scenes.skin_data import canthus_gap, gap_summary

    study = gap_summary(study_subjects)
    assert canthus_gap() == study  # the stored summary is the data's (python -m sim.scenes.skin_data)
    assert 0.55 < study["mean_c"] < 0.75 and study["per_room"] < 0  # what the study says, as measured
    rng = np.random.default_rng(5)
    rows = [s for s in study_subjects if math.isfinite(s.canthus_region_c) and math.isfinite(s.oral_c)]
    gaps, rooms = [], []
    for _ in range(3000):
        s = rows[int(rng.integers(len(rows)))]  # a body and a room from the study's
        top, region = _painted_region_c(Physiology.draw(s.oral_c, rng), s.ambient_c)
        gaps.append(top - region)
        rooms.append(s.ambient_c)
    gaps = np.array(gaps)
    assert gaps.min() >= 0.0  # an average never above its maximum
    assert gaps.mean() == pytest.approx(study["mean_c"], abs=0.03)
    assert gaps.std() == pytest.approx(study["sd_c"], rel=0.15)
    assert np.percentile(gaps, 5) == pytest.approx(study["p5_c"], abs=0.08)
    assert np.percentile(gaps, 95) == pytest.approx(study["p95_c"], abs=0.08)
    # With the room: the study's slope, within two of its standard errors (0.01 per degC), beyond its rooms too.
    person = Physiology.draw(36.8, np.random.default_rng(2))
    cold, warm = (_painted_region_c(person, room) for room in (16.0, 28.0))
    assert ((warm[0] - warm[1]) - (cold[0] - cold[1])) / 12.0 == pytest.approx(study["per_room"], abs=0.02)
    # The eye band around the region is cooler than the region: the canthus is the warmest part of the face.
    surfaces = person.surfaces_c(22.0, 0.0)
    assert surfaces[REGIONS.index("periorbital")] < _painted_region_c(person, 22.0)[1]


def test_apparent_temperature_is_what_the_sensor_maths_inverts():
    """Encode the apparent temperature, decode with emissivity 0.98 and Tr = ambient: the skin comes back."""
    assert apparent_c(34.0, 1.0, 20.0) == pytest.approx(34.0)
    assert apparent_c(20.0, 0.5, 20.0) == pytest.approx(20.0)
    skin, ambient, ta = 34.2, 22.0, 30.0
    seen = apparent_c(skin, SKIN_EMISSIVITY, ambient)
    assert 0.15 < skin - seen < 0.35
    cal = Calibration.from_eeprom(random_eeprom(5))
    image = np.full((24, 32), seen)
    control = control_word(chess=True, resolution_bits=19, refresh_hz=8.0)
    decoded = cal.subpage_to(cal.raw_from_to(image, ta, 3.3, 0, control), emissivity=SKIN_EMISSIVITY, tr=ambient)
    assert np.nanmedian(decoded) == pytest.approx(skin, abs=0.1)


def test_every_scenario_is_described():
    from sim.scenarios import DESCRIPTIONS, SCENARIOS

    assert set(DESCRIPTIONS) == set(SCENARIOS)


def test_a_scenario_shared_between_threads_renders_what_a_private_one_does():
    import threading

    from sim.scenarios import scenario

    shared, private = scenario("fever", 3), scenario("fever", 3)
    stop = threading.Event()

    def hammer():
        t = 0.0
        while not stop.is_set():
            shared.frame_at(t)
            t += 0.125

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        for i in range(60):
            t = i * 0.5 + 0.0625
            np.testing.assert_array_equal(shared.frame_at(t).image, private.frame_at(t).image)
    finally:
        stop.set()
        worker.join()
