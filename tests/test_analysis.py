"""Scene analysis (controller/screening/analysis*.py, docs/estimation.md "Scene analysis").

Two kinds of test: each numba kernel against its plain-numpy version on
random scenes, and the whole analysis against the simulator's ground truth.
The rates asserted on the scenes are conservative lower bounds; the rates
measured are in docs/estimation.md.
"""

from __future__ import annotations

import math
from dataclasses import astuple
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.screening import analysis_kernels as K
from controller.screening import analysis_reference as R
from controller.screening.analysis import (
    AnalysisConfig,
    Analyzer,
    FrameAnalysis,
    guard_mask,
    kernel_parameters,
    lens_tables,
    ref_ring_pixels,
)
from sim.scenarios import scenario
from sim.scenes.world import DEV

VARIANTS = ("55", "110")
WARM_UP = 40  # frames: the background has bootstrapped and the reference's window is full
SEEDS = st.integers(0, 2**32 - 1)


# ---- random scenes for the kernels ----------------------------------------------------------------------------

def random_scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(background, frame): a room with a gradient, warm blobs of any size and heat, noise, sometimes garbage."""
    rows, cols = np.mgrid[0:K.ROWS, 0:K.COLUMNS].astype(np.float64)
    bg = rng.uniform(14.0, 30.0) + rng.uniform(-0.1, 0.1) * rows + rng.uniform(-0.1, 0.1) * cols
    image = bg + rng.normal(0.0, rng.uniform(0.05, 0.6), bg.shape)
    for _ in range(int(rng.integers(0, 5))):
        r, c = rng.uniform(-2, 26), rng.uniform(-2, 34)
        sr, sc = rng.uniform(0.4, 4.0), rng.uniform(0.4, 3.0)
        image += rng.uniform(2.0, 40.0) * np.exp(-0.5 * (((rows - r) / sr) ** 2 + ((cols - c) / sc) ** 2))
    if rng.random() < 0.3:
        image.flat[rng.integers(0, K.PIXELS, size=int(rng.integers(1, 20)))] = rng.uniform(-20.0, 200.0)
    return bg, image


def random_config(rng: np.random.Generator) -> AnalysisConfig:
    box = None
    if rng.random() < 0.8:
        r0, c0 = int(rng.integers(0, 20)), int(rng.integers(0, 28))
        box = (r0, c0, r0 + int(rng.integers(1, 5)), c0 + int(rng.integers(1, 5)))
    return AnalysisConfig(variant=str(rng.choice(VARIANTS)), reference_box=box,
                          person_margin_c=float(rng.uniform(1.5, 4.0)), hot_object_c=float(rng.uniform(36.0, 45.0)),
                          top_k=int(rng.integers(1, 6)), skin_fraction=float(rng.uniform(0.4, 0.8)),
                          face_min_c=float(rng.uniform(20.0, 32.0)), min_face_pixels=int(rng.integers(1, 4)),
                          reference_pixels=int(rng.integers(1, 8)), reference_window=int(rng.choice([16, 32])),
                          reference_guard_px=int(rng.integers(0, 4)))


def same(fast, slow, atol=1e-9):
    np.testing.assert_allclose(fast, slow, rtol=0, atol=atol, equal_nan=True)


def identical(a: FrameAnalysis, b: FrameAnalysis) -> bool:
    """Field by field, NaN equal to NaN."""
    return all(x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(astuple(a), astuple(b), strict=True))


# ---- the kernels against their numpy references ----------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_median_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, K.PIXELS + 1))
    values = np.round(rng.normal(20.0, 5.0, K.PIXELS), int(rng.integers(0, 3)))  # ties too
    same(K.median_of(values.copy(), n), R.median_of(values, n))


@settings(max_examples=200, deadline=None)
@given(SEEDS, st.booleans())
def test_labelling_equals_reference(seed, eight):
    rng = np.random.default_rng(seed)
    mask = (rng.random((K.ROWS, K.COLUMNS)) < rng.uniform(0.0, 0.7)).astype(np.uint8)
    labels = np.empty(mask.shape, dtype=np.int32)
    n = K.label(mask, eight, labels, np.empty(K.PIXELS, dtype=np.int32))
    expected, m = R.label(mask, eight)
    assert n == m and np.array_equal(labels, expected)


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_dilation_and_column_closing_equal_reference(seed):
    rng = np.random.default_rng(seed)
    mask = (rng.random((K.ROWS, K.COLUMNS)) < rng.uniform(0.0, 0.6)).astype(np.uint8)
    out = np.empty_like(mask)
    K.dilate8(mask, out)
    assert np.array_equal(out, R.dilate8(mask))
    K.close_columns(mask, out)
    assert np.array_equal(out, R.close_columns(mask))


@settings(max_examples=100, deadline=None)
@given(SEEDS)
def test_interpolation_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    tables = lens_tables(str(rng.choice(VARIANTS)), 0.15)
    for x in rng.uniform(-1.0, 1.2 * tables[0, -1], 20):
        same(K.interp(x, tables[0], tables[1]), R.interp(x, tables[0], tables[1]))


@settings(max_examples=150, deadline=None)
@given(SEEDS)
def test_background_steps_equal_reference(seed):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    p, guard = kernel_parameters(cfg), guard_mask(cfg)
    bg, image = random_scene(rng)
    image[rng.random(image.shape) < 0.02] = rng.choice([np.nan, np.inf, -np.inf])
    busy = (rng.random(image.shape) < rng.uniform(0.0, 1.0)).astype(np.uint8)
    first = bool(rng.random() < 0.3)
    fast_bg, slow_bg, fast = bg.copy(), bg.copy(), np.empty_like(image)
    K.finite_frame(image, fast_bg, first, fast)
    slow = R.finite_frame(image, slow_bg, first)
    assert np.isfinite(fast).all()
    same(fast, slow)
    same(fast_bg, slow_bg)
    reach = 2.0 * p[K.P_MARGIN]
    same(K.background_shift(fast, bg, busy, guard, reach), R.background_shift(fast, bg, busy, guard, reach))
    same(K.background_median(bg, guard), R.background_median(bg, guard))
    for frames in (0.0, 3.0, 100.0):
        a, b = bg.copy(), bg.copy()
        K.update_background(fast, a, busy, frames, p)
        R.update_background(fast, b, busy, frames, p)
        same(a, b)


def _skin_both(rng):
    cfg = random_config(rng)
    p, guard = kernel_parameters(cfg), guard_mask(cfg)
    bg, image = random_scene(rng)
    ambient = float(np.median(bg))
    shape = image.shape
    labels, hot_near, skin, work = (np.empty(shape, np.int32), np.empty(shape, np.uint8),
                                    np.empty(shape, np.uint8), np.empty(shape, np.uint8))
    sizes, queue = np.empty(K.PIXELS, np.int64), np.empty(K.PIXELS, np.int32)
    n, hot = K.skin_pixels(image, bg, guard, p, ambient, labels, sizes, hot_near, skin, work, queue)
    fast = (labels, sizes[:n], hot_near, skin, n, hot)
    slow = R.skin_pixels(image, bg, guard, p, ambient)
    return cfg, p, guard, bg, image, ambient, fast, slow


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_skin_pixels_equal_reference(seed):
    *_, fast, slow = _skin_both(np.random.default_rng(seed))
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_faces_and_their_measures_equal_reference(seed):
    rng = np.random.default_rng(seed)
    cfg, p, guard, bg, image, ambient, (labels, _, hot_near, skin, _, _), _ = _skin_both(rng)
    closed = np.empty_like(skin)
    K.close_columns(skin, closed)
    faces = np.empty(skin.shape, dtype=np.int32)
    n = K.label(closed, False, faces, np.empty(K.PIXELS, np.int32))
    counts, boxes = np.empty(n, np.int64), np.empty((n, 4), np.int64)
    K.face_table(skin, faces, n, counts, boxes)
    c2, b2 = R.face_table(skin, faces, n)
    assert np.array_equal(counts, c2) and np.array_equal(boxes, b2)
    slow_faces, c2, b2 = R.merge_below(skin, labels, faces, n)
    K.merge_below(skin, labels, faces, n, counts, boxes)
    assert np.array_equal(faces, slow_faces) and np.array_equal(counts, c2) and np.array_equal(boxes, b2)

    tables = lens_tables(cfg.variant, cfg.face_width_m)
    for f in np.flatnonzero(counts) + 1:
        fast, slow = np.full(K.O_LENGTH, np.nan), np.full(K.O_LENGTH, np.nan)
        K.face_measure(image, bg, skin, hot_near, guard, faces, f, p, ambient, *tables, fast)
        R.face_measure(image, bg, skin, hot_near, guard, faces, f, p, ambient, *tables, slow)
        same(fast, slow)
        assert np.isfinite(fast[[K.O_MAX, K.O_TOPK, K.O_WIDTH, K.O_EYE_ROW, *range(K.O_BOX, K.O_BOX + 4)]]).all()


@settings(max_examples=100, deadline=None)
@given(SEEDS)
def test_reference_step_equals_reference(seed):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    p = kernel_parameters(cfg)
    box = cfg.reference_box or (0, 0, 1, 1)
    nbox = (box[2] - box[0]) * (box[3] - box[1])
    guard = guard_mask(cfg)
    nring = ref_ring_pixels(guard)  # the wall's pixels' running means, at ref's end
    fast_ref, fast_state = np.full(nbox + cfg.reference_window + nring, np.nan), np.zeros(K.S_LENGTH)
    slow_ref, slow_state = fast_ref.copy(), fast_state.copy()
    level = rng.uniform(30.0, 40.0)
    learned = rng.choice([np.nan, level, level + 0.3, level + 3.0])
    p[K.P_REF_LEARNED] = learned
    p[K.P_REF_MIN_FRACTION] = rng.uniform(0.05, 1.0)
    p[K.P_REF_LEARNED_BG] = rng.choice([np.nan, level - 12.0, level - 4.0])  # unmixed from the wall, or not
    p[K.P_ALPHA] = rng.choice([1.0 / 64.0, 1.0])  # the background model settled by frame 3, or by frame 200+
    p[K.P_BOOTSTRAP] = rng.integers(0, 9)
    p[K.P_REF_HOLD] = rng.integers(0, 24)  # held, and for how long
    for _ in range(cfg.reference_window + 40):
        if rng.random() < 0.08:
            level += rng.normal(0.0, 1.0)  # the disc jumps now and then: unstable, then held or not
        bg, image = random_scene(rng)
        image[box[0]:box[2], box[1]:box[3]] = level + rng.normal(0.0, 0.2, (box[2] - box[0], box[3] - box[1]))
        fast, slow = np.full(K.O_LENGTH, np.nan), np.full(K.O_LENGTH, np.nan)
        shift = float(rng.normal(0.0, 0.3))
        K.reference_step(image, bg, guard, shift, float(np.median(bg)), p, fast_ref, fast_state, fast)
        R.reference_step(image, bg, guard, shift, float(np.median(bg)), p, slow_ref, slow_state, slow)
        same(fast, slow)
        same(fast_ref, slow_ref)
        same(fast_state, slow_state)
        fast_state[K.S_FRAMES] += 1
        slow_state[K.S_FRAMES] += 1


def _run_both(cfg: AnalysisConfig, frames) -> None:
    fast, slow = Analyzer(cfg), Analyzer(cfg)
    for image in frames:
        K.analyze_frame(image, fast._bg, fast._busy, fast._guard, fast._ref, fast._state, fast._p, fast._tables,
                        fast._out)
        R.analyze_frame(image, slow._bg, slow._busy, slow._guard, slow._ref, slow._state, slow._p, slow._tables,
                        slow._out)
        same(fast._out, slow._out)
        same(fast._bg, slow._bg)
        same(fast._ref, slow._ref)
        assert np.array_equal(fast._busy, slow._busy)
        same(fast._state, slow._state)  # counts exact; the drift average as the outputs


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_whole_frame_equals_reference_on_random_scenes(seed):
    rng = np.random.default_rng(seed)
    _run_both(random_config(rng), [random_scene(rng)[1] for _ in range(int(rng.integers(1, 40)))])


@pytest.mark.parametrize("name", ["normal_queue", "hot_cup", "two_people", "glasses", "sensor_fault"])
def test_whole_frame_equals_reference_on_scenes(name):
    sc = scenario(name, 1, variant="110" if name in ("hot_cup", "glasses") else "55")
    _run_both(AnalysisConfig(variant=sc.variant), [sc.frame_at(i / 8).image for i in range(0, 240)])


# ---- against the scenes ----------------------------------------------------------------------------------------

@cache
def analysed(name: str, variant: str, seed: int = 0, clean: bool = False, add_c: float = 0.0,
             config: AnalysisConfig | None = None) -> tuple[tuple[dict, FrameAnalysis], ...]:
    """(truth, analysis) for every frame of one cycle of a scenario at 8 Hz."""
    sc = scenario(name, seed, variant=variant)
    render = sc.clean_at if clean else sc.frame_at
    analyzer = Analyzer(config or AnalysisConfig(variant=variant))
    out = []
    for i in range(int(sc.duration_s * 8)):
        f = render(i / 8)
        out.append((f.truth, analyzer.analyze(f.image + add_c)))
    return tuple(out)


def standing(runs):
    """(person, analysis) for frames with exactly one person in view, standing at the mark."""
    for truth, a in runs:
        people = truth["people"]
        if len(people) == 1 and people[0]["phase"] == "standing":
            yield people[0], a


def fully_in_view(person) -> bool:
    r0, c0, r1, c1 = person["face_box_px"]
    return r0 >= 0 and c0 >= 0 and r1 <= K.ROWS and c1 <= K.COLUMNS


def iou(a, b) -> float:
    rows = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    cols = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = rows * cols
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("clean", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_standing_face_is_found_boxed_and_ranged(variant, clean):
    pairs = [pa for seed in (0, 1) for pa in standing(analysed("normal_queue", variant, seed, clean))]
    assert len(pairs) > 200
    assert all(a.face_box is not None and a.people == 1 for _, a in pairs)
    overlaps = np.array([iou(a.face_box, p["face_box"]) for p, a in pairs])
    assert np.mean(overlaps >= 0.5) >= 0.98  # measured: all of them, mean IoU 0.9
    errors = np.array([a.distance_m / p["distance_m"] - 1.0 for p, a in pairs])
    assert np.abs(errors).max() <= 0.20  # measured: mean 1.6 %, worst 9 %
    assert np.abs(errors).mean() <= 0.05


@pytest.mark.parametrize("variant", VARIANTS)
def test_topk_reads_near_the_canthus(variant):
    """The hottest pixels hold the canthus region (its 4 mm hot spot, the maximum, is far smaller than a pixel)."""
    pairs = [pa for name in ("normal_queue", "fever") for pa in standing(analysed(name, variant, 0, clean=True))]
    topk = np.array([a.face_topk_c - p["canthus_region_apparent_c"] for p, a in pairs])
    hottest = np.array([a.face_max_c - p["canthus_region_apparent_c"] for p, a in pairs])
    # The optics leave the hottest pixel 0.3-0.36 degC under the region on average; three pixels' mean a little
    # more (measured: medians 0.33, means -0.33 and -0.40, worst 0.50 and 0.98).
    assert np.median(np.abs(topk)) <= 0.5 and -0.6 <= topk.mean() <= 0.0
    assert np.abs(hottest).mean() <= 0.5
    assert np.abs(topk).max() <= 1.2
    assert all(a.face_max_c < p["canthus_apparent_c"] for p, a in pairs)  # never the hot spot's temperature


@pytest.mark.parametrize("variant", VARIANTS)
def test_nobody_in_view_is_nobody(variant):
    empty = [a for truth, a in analysed("normal_queue", variant)[WARM_UP:] if not truth["people"]]
    assert len(empty) > 150
    assert all(a.people == 0 and a.face_box is None and a.distance_m is None and math.isnan(a.face_topk_c)
               for a in empty)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_warm_blob_holds_the_face(variant):
    """The largest warm blob is the person: more pixels than their face's skin, its box around the face's."""
    frames = [a for truth, a in analysed("normal_queue", variant)[WARM_UP:]
              if len(truth["people"]) == 1 and fully_in_view(truth["people"][0]) and a.people == 1]
    assert len(frames) > 50
    inside = [a.warm_pixels > a.face_pixels and a.warm_box is not None
              and a.warm_box[0] <= a.faces[0][0] and a.warm_box[1] <= a.faces[0][1]
              and a.warm_box[2] >= a.faces[0][2] and a.warm_box[3] >= a.faces[0][3] for a in frames]
    assert np.mean(inside) >= 0.97


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_person_is_one(variant):
    counts = [a.people for truth, a in analysed("normal_queue", variant)[WARM_UP:]
              if len(truth["people"]) == 1 and fully_in_view(truth["people"][0])]
    assert np.mean(np.array(counts) == 1) >= 0.97  # measured 0.99-1.0 (masks: the neck is joined to the face)


def _apart(a, b) -> bool:
    """Whether two faces' boxes are at least a pixel apart."""
    return max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3]) >= 1.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_two_people_are_two_while_both_are_in_view(variant):
    both, all_counts = [], []
    for seed in (0, 1):
        for truth, a in analysed("two_people", variant, seed)[WARM_UP:]:
            all_counts.append(a.people)
            people = truth["people"]
            if len(people) == 2 and all(map(fully_in_view, people)) and _apart(*(p["face_box_px"] for p in people)):
                both.append(a.people)
    assert len(both) > 150
    assert np.mean(np.array(both) == 2) >= 0.90  # measured 0.92-1.0 (skin drawn from the fitted people)
    assert np.mean(np.array(all_counts) > 2) <= 0.02


def test_clothing_in_a_warm_room_is_not_a_face():
    """A tall pupil's face cut off by the image's top, and below it, apart from it, their shirt: in a 27 degC room
    the shirt reads 30.5 degC and its hottest pixels above 31, the face floor (the room plus 4 degC), but not skin by
    the face's own cut. It is no face: one person, the face at the top is theirs (cut off: told to stand
    straight), never the shirt, which is larger and was taken for the main face (DEV, a 110 deg run at 27 degC)."""
    rng = np.random.default_rng(7)
    room = 27.0
    rows, cols = np.mgrid[0:K.ROWS, 0:K.COLUMNS].astype(np.float64)
    analyzer = Analyzer(AnalysisConfig(variant="110"))
    for _ in range(WARM_UP):
        analyzer.analyze(room + rng.normal(0.0, 0.15, (K.ROWS, K.COLUMNS)))
    face = 8.5 * np.exp(-0.5 * (((rows - 1.5) / 2.6) ** 2 + ((cols - 14.5) / 1.6) ** 2))  # peaks near 35.5 degC
    shirt = np.where((rows >= 10) & (cols >= 9) & (cols <= 21), 3.5, 0.0)  # 0.4 of the face's warmth
    seen = []
    for _ in range(16):
        image = room + face + shirt + rng.normal(0.0, 0.25, (K.ROWS, K.COLUMNS))
        seen.append(analyzer.analyze(image))
    for a in seen:
        assert a.people == 1 and a.face_box is not None and a.face_box[0] <= 2  # the face at the top, alone
        assert a.touches_edge
        assert a.face_topk_c > 33.0 and a.face_width_px < 8.0
        assert a.warm_pixels > a.face_pixels  # the shirt is still warm: a person is there
    # The cut is the warmest face's: with no face in view, something as warm as a face's floor is a candidate.
    shirt_only = analyzer.analyze(room + 1.3 * shirt + rng.normal(0.0, 0.25, (K.ROWS, K.COLUMNS)))
    assert shirt_only.people == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_hot_cup_is_never_the_face_reading(variant):
    cfg = AnalysisConfig(variant=variant)
    runs = [r for seed in (0, 1) for r in analysed("hot_cup", variant, seed)[WARM_UP:]]
    assert all(a.face_topk_c < cfg.hot_object_c and a.face_max_c < cfg.hot_object_c for _, a in runs if a.face_box)
    assert not any(a.hot_object for truth, a in runs if not truth["hot_object"])
    holders = [(p, a) for p, a in standing(runs) if p["hot_cup"]]
    assert len(holders) > 50
    assert np.mean([a.hot_object for _, a in holders]) >= 0.95  # measured: all
    assert all(abs(a.face_topk_c - p["canthus_region_apparent_c"]) <= 1.0 for p, a in holders)  # measured 0.86-0.88


@pytest.mark.parametrize("variant", VARIANTS)
def test_glasses_cue(variant):
    worn = [a.glasses for seed in (0, 1) for _, a in standing(analysed("glasses", variant, seed))]
    assert np.mean(worn) >= 0.9  # measured: all
    for name in ("normal_queue", "hat", "cold_arrival"):
        bare = [a.glasses for seed in (0, 1) for _, a in standing(analysed(name, variant, seed))]
        assert np.mean(bare) <= 0.03  # measured: 0 to 1.2 %


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_eye_line_below_the_eyes_is_flagged(variant):
    """Where glasses the cue missed, or a fringe, keep the eye band cool, the hottest row of the face is its mouth or
    its neck. An eye line further below the top of the skin than a face's eyes can be is flagged (eye_line_low):
    most eye lines more than 1.5 rows below the simulated eyes, few of those within 1.5 rows of them. DEV's people
    (fringes, glasses, masks, children): of these frames' eye lines, 117 are below the eyes and 1,299 at them
    through the 110 degree lens, 83 and 492 through the 55."""
    low, near = [], []
    for i in range(12):
        sc = scenario("school_queue", DEV.seed(i), variant=variant, world=DEV)
        analyzer = Analyzer(AnalysisConfig(variant=variant))
        for k in range(int(sc.duration_s * 8)):
            frame = sc.frame_at(k / 8)
            a = analyzer.analyze(frame.image)
            people = frame.truth["people"]
            if len(people) != 1 or people[0]["phase"] != "standing" or a.face_box is None or a.touches_edge:
                continue
            r0, _, r1, _ = people[0]["face_box_px"]
            off = a.eye_row - (r0 + r1) / 2.0  # the simulated face's box is centred on its eyes
            if off > 1.5:
                low.append(a.eye_line_low)
            elif abs(off) <= 1.5:
                near.append(a.eye_line_low)
    assert len(low) > 40 and len(near) > 400
    assert np.mean(low) >= 0.8  # measured 0.92 (110) and 0.99 (55)
    assert np.mean(near) <= 0.08  # measured 0.054 (110) and 0.022 (55)


@pytest.mark.parametrize("variant", VARIANTS)
def test_hat_cue(variant):
    covered = [a.forehead_covered for seed in (0, 1) for _, a in standing(analysed("hat", variant, seed))]
    assert np.mean(covered) >= 0.80  # measured 0.84-0.95 (skin drawn from the fitted people)
    for name in ("normal_queue", "glasses", "fever"):
        bare = [a.forehead_covered for seed in (0, 1) for _, a in standing(analysed(name, variant, seed))]
        # measured 0-3.6 % since skin is drawn from the fitted people, whose foreheads scatter far more about
        # the canthus than the old simulator's; since the canthus is a hot spot in a cooler region (b3787be),
        # 8.6 % (110) and 13 % (55) in normal_queue: people whose forehead sits 0.5-1.5 degC above the fitted
        # relation have a forehead warmer than their eye band, so the hottest skin (the eye line) is on the
        # forehead and the hair above reads as a cover. The cue is shown by `thermogate watch` only and decides
        # nothing.
        assert np.mean(bare) <= 0.15


@pytest.mark.parametrize("variant", VARIANTS)
def test_chilled_nose_cue(variant):
    """Just in from the cold, the nose is far cooler than the cheeks; a mask covers both, so it is not one."""
    runs = [pa for seed in (0, 1) for pa in standing(analysed("cold_arrival", variant, seed))]
    cold = [a.nose_chilled for p, a in runs if p["from_cold"] and p["indoor_s"] < 90]
    assert len(cold) > 100 and np.mean(cold) >= 0.75  # measured 0.85-0.95
    warm = [a.nose_chilled for p, a in runs if not p["from_cold"]]
    assert warm and np.mean(warm) <= 0.03
    for name in ("normal_queue", "glasses", "fever", "ambient_sweep"):
        bare = [(p["mask"], a.nose_chilled) for seed in (0, 1) for p, a in standing(analysed(name, variant, seed))]
        assert np.mean([c for _, c in bare]) <= 0.03, name  # measured 0-1.5 %
        masked = [c for m, c in bare if m]
        assert not masked or np.mean(masked) <= 0.05, name


@pytest.mark.parametrize("variant", VARIANTS)
def test_mask_cue(variant):
    """A mask is never skin: the lower face of a masked face reads less of the way from the room to the eye band
    (lower_face_ratio) than bare skin does, below the tracker's mask_ratio (0.75)."""
    masked, bare = [], []
    for name in ("masked", "normal_queue", "glasses", "fever", "hat"):
        for seed in (0, 1):
            for p, a in standing(analysed(name, variant, seed)):
                (masked if p["mask"] else bare).append(a.lower_face_ratio)
    masked, bare = np.array(masked), np.array(bare)
    assert len(masked) > 300 and len(bare) > 900
    assert np.mean(np.isfinite(masked)) >= 0.98 and np.mean(np.isfinite(bare)) >= 0.98  # measured: all
    assert np.mean(masked < 0.75) >= 0.85  # measured 0.93-0.95 (per scenario 0.87-0.97)
    assert np.mean(bare < 0.75) <= 0.05  # measured 0.015-0.018 (normal_queue 0.065-0.07: one person's lower face)
    assert np.nanmedian(masked) < 0.72 and np.nanmedian(bare) > 0.85  # measured 0.66-0.67 and 0.90


@pytest.mark.parametrize("variant", VARIANTS)
def test_reference_is_ok_after_warm_up_and_missing_without_it(variant):
    runs = analysed("normal_queue", variant)
    assert not any(a.reference_ok for _, a in runs[:31])  # the window is not full yet
    assert all(a.reference_ok for _, a in runs[32:])
    assert all(abs(a.reference_c - 35.0) < 1.0 for _, a in runs)
    missing = analysed("no_reference", variant)
    assert not any(a.reference_ok for _, a in missing) and all(a.offset_c == 0.0 for _, a in missing)
    unconfigured = analysed("normal_queue", variant, config=AnalysisConfig(variant=variant, reference_box=None))
    assert all(math.isnan(a.reference_c) and not a.reference_ok and a.offset_c == 0.0 for _, a in unconfigured)


@pytest.mark.parametrize("variant", VARIANTS)
def test_offset_corrects_a_global_drift(variant):
    clean = analysed("normal_queue", variant, clean=True, add_c=0.8)[WARM_UP:]
    assert all(a.reference_ok and abs(a.offset_c + 0.8) <= 0.05 for _, a in clean)
    plain = analysed("normal_queue", variant)[WARM_UP:]
    drifted = analysed("normal_queue", variant, add_c=0.8)[WARM_UP:]
    for (truth, a), (_, b) in zip(plain, drifted, strict=True):
        assert a.reference_ok and b.reference_ok
        assert abs(b.offset_c - a.offset_c + 0.8) < 1e-6
        assert abs(a.offset_c + truth["drift_c"]) <= 0.3  # the sensor's own drift; the rest is pixel offsets
        if a.face_box is not None:
            assert abs((b.face_topk_c + b.offset_c) - (a.face_topk_c + a.offset_c)) < 1e-6


@pytest.mark.parametrize("variant", VARIANTS)
def test_reference_instability_is_caught(variant):
    """A disc warming up or a hand in front of it: the window holds the trouble, and the reference is not ok;
    unless it was ok (its drift averaged) within reference_hold_frames, when it is held: ok, with that drift."""
    sc = scenario("normal_queue", 0, variant=variant)
    start = 300  # after the background model has settled (the drift is averaged from frame 200)
    for kind in ("ramp", "occlusion"):
        for hold in (0, AnalysisConfig().reference_hold_frames):
            analyzer, runs = Analyzer(AnalysisConfig(variant=variant, reference_hold_frames=hold)), []
            for i in range(start + 40):
                image = sc.frame_at(i / 8).image.copy()
                if kind == "ramp" and i >= start:
                    image[1:8, 1:7] += 0.03 * (i - start)  # warming up by 0.24 degC/s
                if kind == "occlusion" and start <= i < start + 4:
                    image[3:6, 3:6] = 30.0  # a hand in front of it
                runs.append(analyzer.analyze(image))
            assert all(a.reference_ok and a.reference_status == "ok" for a in runs[40:start])
            trouble = runs[start + 24:start + 32]  # the window (32 frames) still holds the trouble
            if hold == 0:
                assert not any(a.reference_ok for a in trouble), kind
                assert {a.reference_status for a in trouble} <= {"unstable", "drift", "not_found", "too_small"}
            else:
                assert all(a.reference_ok and a.reference_status == "held" for a in trouble), kind
                assert all(a.offset_c == pytest.approx(runs[start - 1].offset_c, abs=0.02) for a in trouble)


@pytest.mark.parametrize("variant", VARIANTS)
def test_ambient_follows_the_room(variant):
    for name in ("normal_queue", "hat", "ambient_sweep"):
        errors = [a.ambient_c - truth["ambient_c"] for truth, a in analysed(name, variant)[WARM_UP:]]
        assert np.abs(errors).max() <= 1.0, name


# ---- the interface ---------------------------------------------------------------------------------------------

def test_inputs_float32_and_bad_pixels():
    sc = scenario("normal_queue", 2)
    a, b, c = Analyzer(), Analyzer(), Analyzer()
    for i in range(80):
        image = sc.frame_at(i / 8).image
        x = a.analyze(image.astype(np.float32))
        y = b.analyze(image.astype(np.float32).astype(np.float64))
        assert identical(x, y)
        broken = image.copy()
        broken[i % 24, (3 * i) % 32] = np.nan
        broken[(i + 5) % 24, 31 - i % 32] = np.inf
        z = c.analyze(np.asfortranarray(broken))
        assert math.isfinite(z.ambient_c) and np.isfinite(c.background).all()
    with pytest.raises(ValueError):
        a.analyze(np.zeros((32, 24)))


def test_reset_starts_over():
    sc = scenario("normal_queue", 0)
    analyzer = Analyzer()
    first = [analyzer.analyze(sc.frame_at(i / 8).image) for i in range(50)]
    analyzer.reset()
    assert analyzer.frames == 0
    again = [analyzer.analyze(sc.frame_at(i / 8).image) for i in range(50)]
    assert all(identical(x, y) for x, y in zip(first, again, strict=True))


@pytest.mark.parametrize("bad", [dict(variant="90"), dict(reference_box=(3, 3, 3, 7)),
                                 dict(reference_box=(0, 0, 25, 4)), dict(top_k=0), dict(reference_window=20),
                                 dict(reference_guard_px=-1), dict(reference_guard_px=9),
                                 dict(skin_fraction=1.0)])
def test_bad_configurations_are_refused(bad):
    with pytest.raises(ValueError):
        AnalysisConfig(**bad)
