"""Decisions at the mark and the hard cases, on the simulator's scenes through the whole pipeline.

Each scene draws its people's physics at random from its seed (walking speeds, where they stop, how cold
their faces are, how tall they are), and the tests run seeds that nothing was tuned on, so they do not pass
on one nominal person only. The decision latency is measured by `make bench-decisions`, not here."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from controller.protocol import result as D
from controller.screening.analysis import AnalysisConfig
from controller.screening.config import ScreeningConfig
from controller.screening.offline import analyze_recording, first_standing, truth_for
from sim.scenarios import scenario
from sim.synth import scenario_recording


def installer_config(variant: str, m, **screening) -> ScreeningConfig:
    """The settings an installer writes for ``variant`` and mounting ``m`` (height, tilt, the mark's distance)."""
    return ScreeningConfig(analysis=AnalysisConfig(variant=variant), sensor_height_m=m.sensor_height_m,
                           tilt_deg=m.tilt_deg, mark_distance_m=m.mark_distance_m, **screening)


@cache
def _run(name: str, seed: int, variant: str):
    """(decisions with their person's truth, every person's first standing time) for one run, with the
    settings an installer writes for the scene's lens and mounting."""
    sc = scenario(name, seed, variant=variant)
    rec = scenario_recording(name, sc.duration_s, seed=seed, variant=variant)
    m = sc.mounting
    config = installer_config(variant, m)
    standing = {pid: t for pid, (t, _) in first_standing(rec).items()}
    people: dict[int, dict] = {}
    for f in rec.frames():
        for p in f.truth["people"]:
            people.setdefault(p["id"], p)
    decisions = analyze_recording(rec, config)
    return list(zip(decisions, truth_for(rec, decisions), strict=True)), standing, people


def verdicts(results):
    return [(d, p) for d, p in results if d.decision in (D.PASS, D.FEVER)]


@pytest.mark.parametrize("variant, seed", [("110", 11), ("55", 12)])
def test_approach_then_stand_decides_only_after_standing(variant, seed):
    """People walk up slowly (0.3-0.6 m/s on average, slowing to a stop), then stand. Every PASS/FEVER is made
    on a frame where the person stands on the mark, after they began to stand; most people get one."""
    results, standing, _ = _run("slow_approach", seed, variant)
    measured = verdicts(results)
    assert len({p["id"] for _, p in measured}) >= 0.7 * len(standing)
    for d, p in measured:
        assert p is not None and p["phase"] == "standing", (d, p)
        assert d.time_s >= standing[p["id"]], (d, p)


@pytest.mark.parametrize("variant, seed", [("110", 21), ("55", 22)])
def test_walking_through_never_decides(variant, seed):
    """Straight across the view, through the mark's distance, at 0.8-1.4 m/s: never a PASS or FEVER."""
    results, _, people = _run("walk_through", seed, variant)
    assert len(people) >= 8
    assert verdicts(results) == []


@pytest.mark.parametrize("variant, seed", [("110", 31), ("55", 32)])
def test_a_face_cut_by_the_image_edge_gets_a_retry_never_a_guess(variant, seed):
    """People too tall for the mounting: half their forehead, or more, reaches past the top of the image on the
    mark. They are told why (stand_straight: the face is not in view where it is read), never given a PASS/FEVER on
    part of it."""
    results, standing, _ = _run("cut_off", seed, variant)
    assert verdicts(results) == []
    told = {p["id"] for d, p in results if p is not None and d.reason == D.STAND_STRAIGHT}
    assert len(told) >= 0.5 * len(standing)


@pytest.mark.parametrize("variant", ["110", "55"])
def test_a_chin_and_neck_under_a_face_above_the_view_are_never_measured(variant):
    """People so tall for the mounting that on the mark their eyes are 3-8 cm above the top of the view: what is
    in view is their chin and neck (skin, warm, about a face wide), on the image's top row. With fevers of
    38.0-39.0 degC they are never given a PASS or a FEVER from it (a neck reads cooler than the face above it),
    and they are told to stand straight. Before skin on the top row was taken for a face cut off, the analysis
    placed an eye line in the neck and measured it: through the 55 degree lens one of them got a FEVER at
    37.96 degC."""
    from controller.geometry import vertical_coverage
    from sim.scenes import PersonPlan

    base = scenario("fever", 71, variant=variant)
    m = base.mounting
    top = vertical_coverage(m.sensor_height_m, m.tilt_deg, m.mark_distance_m, base.fov)[1]
    rng = np.random.default_rng(71)
    people = [PersonPlan(core_c=float(rng.uniform(38.0, 39.0)), eye_height_m=top + float(rng.uniform(0.03, 0.08)))
              for _ in range(8)]
    sc = scenario("fever", 71, variant=variant, people=people)
    rec = scenario_recording("fever", sc.duration_s, seed=71, variant=variant, people=people)
    config = installer_config(variant, m)
    # The premise: on the mark each of them is in view, with the eye line above the image's top.
    standing = {}
    for f in rec.frames():
        for p in f.truth["people"]:
            if p["phase"] == "standing":
                standing.setdefault(p["id"], []).append((p["face_box_px"][0] + p["face_box_px"][2]) / 2.0)
    assert len(standing) == len(people) and all(max(rows) < 0.0 for rows in standing.values())
    decisions = analyze_recording(rec, config)
    results = list(zip(decisions, truth_for(rec, decisions), strict=True))
    assert verdicts(results) == []
    told = {p["id"] for d, p in results if p is not None and d.reason == D.STAND_STRAIGHT}
    assert len(told) >= 0.5 * len(standing)


@pytest.mark.parametrize("variant, decided", [("110", 0.6), ("55", 0.8)])
def test_a_face_cut_off_only_below_the_nose_is_measured(variant, decided):
    """People short for the mounting: their chin runs past the bottom of the image on the mark, their eyes, nose
    and cheeks do not. Everything the estimate and its cues read is in view, so they are measured on the mark
    about as well as whole faces are (over seeds 61-66, the `fever` scene's people: mean absolute error 0.38 and
    0.36 degC at 110 and 55 degrees, bias -0.01 and +0.10; these: 0.40 and 0.41, +0.08 and +0.18; decided 58 and
    70 of 72)."""
    people, errors = 0, []
    for seed in (61, 62, 63):
        results, standing, _ = _run("chin_cut_off", seed, variant)
        people += len(standing)
        first = {}
        for d, p in verdicts(results):
            # on the mark: after they stood on it (at the latest, as they begin to step off it)
            assert p is not None and p["phase"] != "approaching" and d.time_s >= standing[p["id"]], (d, p)
            first.setdefault(p["id"], d.estimate_c - p["core_c"])
        errors += first.values()
    assert len(errors) >= decided * people
    assert sum(abs(e) for e in errors) / len(errors) <= 0.6
    assert abs(sum(errors) / len(errors)) <= 0.3


@pytest.mark.parametrize("variant, seed", [("110", 41), ("55", 42)])
def test_a_face_too_small_is_asked_to_come_closer(variant, seed):
    """Standing at 1.6-2.2 times the mark's distance (faces too few pixels wide): come_closer, no verdict."""
    results, standing, _ = _run("far", seed, variant)
    assert verdicts(results) == []
    told = {p["id"] for d, p in results if p is not None and d.reason == D.COME_CLOSER}
    assert len(told) >= 0.5 * len(standing)


@pytest.mark.parametrize("variant, seed", [("110", 51), ("55", 52)])
def test_cold_faces_are_never_passed_on_a_low_estimate(variant, seed):
    """In from the cold: the canthus 2-4 degC under its steady state, the rest of the face as much or more,
    the nose sometimes no colder than the cheeks (so the chilled-nose cue cannot be relied on). Nobody
    afebrile is ever passed (their estimate falls under the physiological floor, or the nose gives them
    away): they are told to wait indoors."""
    results, standing, people = _run("cold_face", seed, variant)
    afebrile = {pid for pid, p in people.items() if p["core_c"] < 37.3 and pid in standing}
    assert afebrile
    for d, p in verdicts(results):
        assert d.estimate_c >= ScreeningConfig().min_estimate_c
        assert p["id"] not in afebrile, (d, p)
    # Most are told why. (A face chilled so far that no pixel reaches the analysis's 30 degC face minimum is not
    # found as a face at all: nobody is measured, and nobody is told; the door stays shut.)
    told = {p["id"] for d, p in results if p is not None and d.reason == D.WAIT_INDOORS}
    assert len(told & afebrile) >= 0.6 * len(afebrile)


# ---- arrivals from the cold with the DEV world's physics -------------------------------------------------------------
# The people of these runs follow the simulator's own skin physics (sim/scenes/physiology.py: each site cools
# towards the outdoor temperature by its fitted room share and recovers indoors, the canthus in 90 s, the forehead in
# 180 s, the nose in 300 s), in rooms, optics, noise and mountings drawn from DEV (110 degree lens, in scope). The
# sensor's common offset is left at zero and no reference is required, so that what is tested is the cold rule,
# not the reference (tests/test_reference_source.py).

def _dev_physics(seed: int):
    from dataclasses import replace

    from sim.scenes.world import DEV

    physics = DEV.draw("school_queue", DEV.seed(seed), "110")
    return replace(physics, sensor_offset_c=0.0, reference=None, reference_in_view=False)


@cache
def _dev_cold_run(core_c: float, seed: int, cold: bool):
    """Decisions with their person's truth for 8 people of core ``core_c`` in a DEV-drawn room; with ``cold``
    each came in from a DEV outdoor temperature so long ago that their forehead is 2-4 degC below its steady
    state when they reach the mark."""
    import math

    import numpy as np

    from controller.screening.body_model import default_model
    from controller.screening.pipeline import GatePipeline
    from controller.sensor import Calibration, control_word, random_eeprom
    from sim.scenarios import VARIANTS
    from sim.scenes import PersonPlan, Scene, SceneSpec
    from sim.scenes.world import DEV

    physics = _dev_physics(seed)
    k_forehead = default_model().forehead.ambient
    room = physics.ambient_c

    def plan(i: int, rng: np.random.Generator) -> PersonPlan:
        who = DEV.person(physics, rng)
        extra = {}
        if cold:
            while True:  # outdoors cold enough for a 2-4 degC forehead deficit at some time indoors
                outdoor = float(rng.uniform(*DEV.outdoor_c))
                deficit = float(rng.uniform(2.0, 4.0))
                if k_forehead * (room - outdoor) > deficit:
                    break
            indoor_s = 180.0 * math.log(k_forehead * (room - outdoor) / deficit)
            extra = dict(outdoor_c=outdoor, came_in_s=spec.lead_s + i * spec.slot_s + 1.0 - indoor_s)
        return PersonPlan(core_c=core_c, eye_height_m=who.eye_height_m, face_scale=who.face_scale, age=who.age,
                          **extra)

    spec = SceneSpec("school_queue", 8, plan, (room,), reference=False)
    fov = VARIANTS["110"][0]
    scene = Scene(spec, seed, fov, physics.mounting, 8.0, "110", physics=physics, world="dev")
    eeprom = random_eeprom(np.random.default_rng([seed, 1]))
    cal = Calibration.from_eeprom(eeprom)
    control = control_word(chess=True, resolution_bits=18, refresh_hz=8.0)
    m = physics.mounting
    config = installer_config("110", m, require_reference=False)
    pipeline = GatePipeline("dev-cold", eeprom, config)
    out, standing = [], set()
    for i in range(int(spec.duration_s * 8)):
        t = i / 8.0
        image, ta, truth = scene.render(t)
        for p in truth["people"]:
            if p["phase"] == "standing":
                standing.add(p["id"])
        for d in pipeline.push(cal.raw_from_to(image, ta, 3.3, i % 2, control), t, i):
            people = truth["people"]
            out.append((d, min(people, key=lambda p: p["distance_m"]) if people else None))
    return out, standing


@pytest.mark.parametrize("core_c, seed", [(36.5, 4), (38.5, 4), (36.5, 12), (38.5, 12)])
def test_cold_arrivals_from_dev_physics_are_never_passed(core_c, seed):
    """People in from the cold whose forehead is still 2-4 degC below its steady state, afebrile (36.5) and with
    a fever (38.5): never a PASS. Most are told to wait indoors (a fever that shows through is a FEVER). (With
    two other DEV rooms, some faces only a little cold: test_cold_febrile_arrivals_in_four_rooms_are_not_passed.)"""
    results, standing = _dev_cold_run(core_c, seed, True)
    assert len(standing) >= 6
    passes = [(d, p) for d, p in results if d.decision == D.PASS]
    assert passes == [], passes
    told = {p["id"] for d, p in results if p is not None and d.reason == D.WAIT_INDOORS}
    fevers = {p["id"] for d, p in results if p is not None and d.decision == D.FEVER}
    assert len(told | fevers) >= 0.5 * len(standing)


def test_cold_febrile_arrivals_in_four_rooms_are_not_passed():
    """Febrile (38.5) arrivals from the cold in four in-scope DEV rooms (seeds 1, 4, 5, 12): the cold face's
    signs (nose, skin area, forehead) must catch also those whose face is only a little cold. Before those signs
    were read, 6 of the 32 were given a PASS; with them, 3. Since the simulator's canthus is a hot spot in a
    cooler region (b3787be) and the eye band is read with the region's relation, 5 of 32 (3 in seed 1, 2 in seed
    5, estimates 35.6-37.2) with the skin limit chosen on the old face (0.80); re-chosen for this face (0.88,
    tracker.COLD_SKIN_SHARE, docs/estimation.md), none. A febrile PASS opens the door: none allowed."""
    passed = standing = 0
    for seed in (1, 4, 5, 12):
        results, stood = _dev_cold_run(38.5, seed, True)
        standing += len(stood)
        passed += len({p["id"] for d, p in results if p is not None and d.decision == D.PASS})
    assert standing >= 24
    assert passed == 0, (passed, standing)


@pytest.mark.parametrize("seed", [4, 12])
def test_settled_people_in_the_same_rooms_still_pass(seed):
    """The same rooms, optics and people, settled indoors, at 36.5: most get their PASS. (The cold signs take
    some settled faces for cold ones: in DEV none of the bare faces with this lens, 5 % with the 55 degree one,
    more with masks and fringes: those are told to wait indoors, never passed.)"""
    results, standing = _dev_cold_run(36.5, seed, False)
    passed = {p["id"] for d, p in results if p is not None and d.decision == D.PASS}
    assert len(passed) >= 0.7 * len(standing), (passed, standing)


@pytest.mark.parametrize("variant, seed", [("110", 28), ("110", 46)])
def test_faces_colder_than_30_are_found_and_told_to_wait_indoors(variant, seed):
    """In from the cold into a DEV room at about 18 degC: faces whose canthus region reads below 30.5 degC (their
    canthus maximum about 31) and whose hottest pixel reads 28.3-30 degC (under 30, the face minimum the analysis
    had: 0 of 12 and 4 of 22 such frames were found with it; above the 28 it has now, with a margin for the
    noise) are found as faces on every standing frame, and their people are told why they cannot be measured
    (mostly: wait indoors), never passed. (A face whose hottest pixel is under 28 degC is not found:
    docs/estimation.md, "Skin".)"""
    from controller.screening.analysis import Analyzer
    from sim.scenes.world import DEV

    sc = scenario("cold_face", DEV.seed(seed), variant=variant, world=DEV)
    analyzer = Analyzer(AnalysisConfig(variant=variant))
    frames = found = 0
    cold_ids = set()
    for i in range(int(sc.duration_s * 8)):
        f = sc.frame_at(i / 8)
        a = analyzer.analyze(f.image)
        people = f.truth["people"]
        if len(people) == 1 and people[0]["phase"] == "standing" and people[0]["canthus_region_apparent_c"] < 30.5:
            r0, c0, r1, c1 = people[0]["face_box"]
            if not 28.3 <= float(f.image[r0:r1, c0:c1].max()) < 30.0:
                continue
            cold_ids.add(people[0]["id"])
            frames += 1
            found += a.face_box is not None
    assert cold_ids and frames >= 12
    assert found == frames

    rec = scenario_recording("cold_face", sc.duration_s, seed=DEV.seed(seed), variant=variant, world=DEV)
    m = sc.mounting
    config = installer_config(variant, m, require_reference=False)
    decisions = analyze_recording(rec, config)
    pairs = [(d, p) for d, p in zip(decisions, truth_for(rec, decisions), strict=True)
             if p is not None and p["id"] in cold_ids]
    assert not [d for d, _ in pairs if d.decision == D.PASS]
    assert {p["id"] for d, p in pairs if d.decision == D.RETRY} == cold_ids  # found, and told
    assert len({p["id"] for d, p in pairs if d.reason == D.WAIT_INDOORS}) >= 0.5 * len(cold_ids)


@pytest.mark.parametrize("variant, seed", [("110", 28), ("110", 38)])
def test_faces_too_cold_to_be_found_are_told_never_passed(variant, seed):
    """In from the cold into a DEV room at about 18 degC, some faces read under the analysis's face minimum
    (28 degC at their hottest pixel) on every standing frame: nobody's face is found, and their clothes are as
    cold as the room, so all the gate sees is a head-sized warm blob. They get RETRY face_not_found (they used
    to get nothing at all), and never a PASS."""
    from controller.screening.pipeline import GatePipeline
    from sim.scenes.world import DEV

    sc = scenario("cold_face", DEV.seed(seed), variant=variant, world=DEV)
    rec = scenario_recording("cold_face", sc.duration_s, seed=DEV.seed(seed), variant=variant, world=DEV)
    m = sc.mounting
    config = installer_config(variant, m, require_reference=False)
    seen: dict[int, bool] = {}  # person -> a face was found on one of their standing frames
    pipeline = GatePipeline(rec.gate_id, rec.eeprom_message().words, config)
    decisions = []
    for item in rec.frames():
        decisions += pipeline.push(item.message.words, item.time, item.message.sequence)
        people = item.truth["people"]
        a = pipeline.last_analysis
        if a is not None and len(people) == 1 and people[0]["phase"] == "standing":
            seen[people[0]["id"]] = seen.get(people[0]["id"], False) or a.face_box is not None
    never = {pid for pid, found in seen.items() if not found}
    assert never, seen  # the case exists in this run
    pairs = [(d, p) for d, p in zip(decisions, truth_for(rec, decisions), strict=True) if p is not None]
    told = {p["id"] for d, p in pairs if (d.decision, d.reason) == (D.RETRY, D.FACE_NOT_FOUND)}
    assert told & never, (told, never)
    assert not [d for d, p in pairs if p["id"] in never and d.decision in (D.PASS, D.FEVER)]
