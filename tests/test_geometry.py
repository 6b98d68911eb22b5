"""Mounting geometry: hand-computed checks, symmetry, monotonicity, and the recommendations."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from controller import geometry as G
from controller.geometry import NARROW, WIDE

REPO = Path(__file__).resolve().parent.parent


def test_variants_match_the_datasheet():
    assert (NARROW.horizontal_deg, NARROW.vertical_deg, NARROW.part) == (55.0, 35.0, "MLX90640ESF-BAB")
    assert (WIDE.horizontal_deg, WIDE.vertical_deg, WIDE.part) == (110.0, 75.0, "MLX90640ESF-BAA")
    for v in G.VARIANTS:
        assert (v.columns, v.rows) == (32, 24)
    assert NARROW.pitch_deg() == pytest.approx(55 / 32)
    assert NARROW.pitch_deg("vertical") == pytest.approx(35 / 24)
    with pytest.raises(ValueError, match="axis"):
        NARROW.pitch_deg("diagonal")


def test_face_at_half_a_metre_by_hand():
    # 2 atan(0.075 / 0.5) = 17.06 degrees; 55/32 = 1.719 degrees a column -> 9.9; 110/32 = 3.4375 -> 5.0.
    assert G.angle_subtended_deg(0.15, 0.5) == pytest.approx(17.06, abs=0.01)
    assert G.face_width_pixels(0.5, NARROW) == pytest.approx(9.93, abs=0.01)
    assert G.face_width_pixels(0.5, WIDE) == pytest.approx(4.96, abs=0.01)
    # The wide lens spreads the same face over half the columns.
    assert G.face_width_pixels(0.5, WIDE) == pytest.approx(G.face_width_pixels(0.5, NARROW) / 2)


def test_vertical_pixels_and_forehead_by_hand():
    # 0.20 m tall at 1 m: 2 atan(0.1) = 11.42 degrees; 35/24 = 1.458 degrees a row -> 7.83 rows.
    assert G.pixels_across(0.20, 1.0, NARROW, "vertical") == pytest.approx(7.83, abs=0.01)
    # Forehead 0.12 x 0.05 m at 0.5 m: 13.69 / 1.719 = 7.97 columns, 5.72 / 1.458 = 3.93 rows.
    across, high = G.forehead_pixels(0.5, NARROW)
    assert across == pytest.approx(7.97, abs=0.01) and high == pytest.approx(3.93, abs=0.01)


def test_farther_means_fewer_pixels_wider_means_more():
    distances = np.linspace(0.2, 3.0, 57)
    for v in G.VARIANTS:
        px = [G.face_width_pixels(d, v) for d in distances]
        assert all(a > b for a, b in zip(px, px[1:], strict=False))
        widths = [G.pixels_across(w, 0.7, v) for w in (0.05, 0.10, 0.15, 0.20)]
        assert all(a < b for a, b in zip(widths, widths[1:], strict=False))
    # Far away the pinhole tends to small angles: pixels ~ width / distance.
    assert G.face_width_pixels(10.0, NARROW) * 10.0 == pytest.approx(G.face_width_pixels(20.0, NARROW) * 20.0, rel=1e-4)


def test_level_sensor_sees_a_band_centred_on_its_height():
    low, high = G.vertical_coverage(1.5, 0.0, 1.0, NARROW)
    half = math.tan(math.radians(17.5))  # 0.3153 m at 1 m
    assert (low, high) == pytest.approx((1.5 - half, 1.5 + half))
    assert high - low == pytest.approx(G.view_height(1.0, NARROW))
    assert G.view_width(1.0, NARROW) == pytest.approx(2 * math.tan(math.radians(27.5)))


@pytest.mark.parametrize("fov", G.VARIANTS)
@pytest.mark.parametrize("tilt", [0.0, 5.0, 12.0, 30.0])
def test_tilting_up_mirrors_tilting_down(fov, tilt):
    h = 1.4
    up = G.vertical_coverage(h, tilt, 0.8, fov)
    down = G.vertical_coverage(h, -tilt, 0.8, fov)
    assert up == pytest.approx((2 * h - down[1], 2 * h - down[0]))


@pytest.mark.parametrize("fov", G.VARIANTS)
def test_band_edges_scale_with_distance(fov):
    for tilt in (-20.0, 0.0, 8.0):
        near = np.subtract(G.vertical_coverage(1.5, tilt, 0.5, fov), 1.5)
        far = np.subtract(G.vertical_coverage(1.5, tilt, 1.0, fov), 1.5)
        np.testing.assert_allclose(far, 2 * near)
    # Level, the band widens with distance; tilting up raises both edges.
    widths = [np.ptp(G.vertical_coverage(1.5, 0.0, d, fov)) for d in (0.3, 0.6, 0.9, 1.2)]
    assert all(a < b for a, b in zip(widths, widths[1:], strict=False))
    tilted, level = G.vertical_coverage(1.5, 10.0, 0.8, fov), G.vertical_coverage(1.5, 0.0, 0.8, fov)
    assert all(up > low for up, low in zip(tilted, level, strict=True))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="distance_m"):
        G.face_width_pixels(0.0, NARROW)
    with pytest.raises(ValueError, match="distance_m"):
        G.vertical_coverage(1.5, 0.0, -1.0, NARROW)
    with pytest.raises(ValueError, match="past vertical"):
        G.vertical_coverage(1.5, 60.0, 1.0, WIDE)  # 60 + 37.5 > 90
    with pytest.raises(ValueError, match="above"):
        G.recommend_mounting(1.8, 1.2, NARROW)
    with pytest.raises(ValueError, match="short of vertical"):
        G.recommend_mounting(1.2, 1.8, WIDE, tilts_deg=(55.0,))


def test_level_sensor_at_one_and_a_half_metres_misses_the_shortest_faces_up_close():
    for fov, distance in ((NARROW, 0.5), (NARROW, 0.7), (WIDE, 0.3), (WIDE, 0.5)):
        seen = G.eye_heights_in_view(1.5, 0.0, distance, fov)
        assert not seen[1.15] and not seen[1.20], (fov.label, distance)
        assert seen[1.50]
    # Far enough back, the narrow lens sees them all: the band is 1.5 +- 1.5 tan(17.5) = 1.03..1.97 m.
    assert all(G.eye_heights_in_view(1.5, 0.0, 1.5, NARROW).values())


def test_face_in_view_uses_the_face_margin():
    low, high = G.vertical_coverage(1.5, 0.0, 1.0, NARROW)  # 1.185 .. 1.815
    assert G.face_in_view(low + 0.10, 1.5, 0.0, 1.0, NARROW)
    assert not G.face_in_view(low + 0.09, 1.5, 0.0, 1.0, NARROW)
    assert G.face_in_view(low + 0.05, 1.5, 0.0, 1.0, NARROW, face_half_height_m=0.05)
    assert G.eye_heights_in_view(1.5, 0.0, 1.0, NARROW, eye_heights_m=(high - 0.10, high - 0.09)) == {
        round(high - 0.10, 3): True, round(high - 0.09, 3): False}


def _population(low: float, high: float) -> np.ndarray:
    return np.round(np.arange(low, high + 0.0005, 0.01), 2)


@pytest.mark.parametrize("fov", G.VARIANTS)
@pytest.mark.parametrize("site, low, high", G.SITES)
def test_recommendation_keeps_every_face_of_its_population_in_view(fov, site, low, high):
    m = G.recommend_mounting(low, high, fov)
    assert m is not None, site
    eyes = tuple(_population(low, high))
    tol = G.STAND_TOLERANCE_M
    for distance in (m.distance_m - tol, m.distance_m, m.distance_m + tol):
        seen = G.eye_heights_in_view(m.sensor_height_m, m.tilt_deg, distance, fov, eye_heights_m=eyes)
        assert all(seen.values()), (site, fov.label, distance, [e for e, ok in seen.items() if not ok])
    assert m.sensor_height_m in G.SENSOR_HEIGHTS_M and m.tilt_deg in G.TILTS_DEG and m.distance_m in G.DISTANCES_M
    assert m.steepest_view_deg <= G.MAX_VIEW_ANGLE_DEG
    # The pixels it reports are those of the face farthest from the sensor, standing on the mark.
    sight = np.hypot(m.distance_m, np.array(eyes) - m.sensor_height_m)
    assert m.face_width_px == pytest.approx(min(G.face_width_pixels(s, fov) for s in sight))


def test_primary_and_secondary_schools_get_four_by_four_pixels_a_mixed_site_does_not():
    for fov in G.VARIANTS:
        for site, low, high in G.SITES:
            m = G.recommend_mounting(low, high, fov)
            assert m.meets_minimum == (site != "mixed site"), (site, fov.label, m.face_pixels)


def test_primary_school_narrow_lens_by_hand():
    # Level at 1.30 m, the middle of 1.15..1.45: the faces span 1.05..1.55 m, so the band
    # 1.30 +- d tan(17.5) must reach 0.25 m at d - 0.10 -> d >= 0.893, the grid's 0.90 m.
    m = G.recommend_mounting(1.15, 1.45, NARROW)
    assert (m.sensor_height_m, m.tilt_deg, m.distance_m) == (1.30, 0.0, 0.90)
    # The smallest face is 0.15 m off the sensor's height: line of sight hypot(0.9, 0.15) = 0.912 m.
    assert m.face_width_px == pytest.approx(G.face_width_pixels(math.hypot(0.9, 0.15), NARROW))


def _brute_force(low, high, fov, heights, tilts, distances):
    """The best qualifying mounting's face size, by plain loops over the same criteria."""
    tol, half = G.STAND_TOLERANCE_M, G.FACE_HALF_HEIGHT_M
    eyes = _population(low, high)
    best = None
    for h in heights:
        for t in tilts:
            for d in distances:
                if d - tol <= 0:
                    continue
                if not all(G.face_in_view(e, h, t, x, fov) for e in (low, high) for x in (d - tol, d + tol)):
                    continue
                if max(math.degrees(math.atan(abs(e - h) / d)) for e in (low, high)) > G.MAX_VIEW_ANGLE_DEG:
                    continue
                across = min(G.face_width_pixels(math.hypot(d, e - h), fov) for e in eyes)
                high_px = min((math.degrees(math.atan((e + half - h) / d) - math.atan((e - half - h) / d)))
                              / fov.pitch_deg("vertical") for e in eyes)
                size = min(across, high_px)
                best = size if best is None else max(best, size)
    return best


@pytest.mark.parametrize("fov", G.VARIANTS)
@pytest.mark.parametrize("low, high", [(1.15, 1.45), (1.40, 1.80), (1.20, 1.60)])
def test_no_mounting_of_the_grid_beats_the_recommendation(fov, low, high):
    grid = dict(heights_m=tuple(np.round(np.arange(1.0, 2.21, 0.1), 2)), tilts_deg=tuple(range(-30, 31, 3)),
                distances_m=tuple(np.round(np.arange(0.3, 1.51, 0.1), 2)))
    m = G.recommend_mounting(low, high, fov, **grid)
    expected = _brute_force(low, high, fov, grid["heights_m"], grid["tilts_deg"], grid["distances_m"])
    assert m is not None and expected is not None
    assert m.face_pixels == pytest.approx(expected)


def test_no_mounting_means_none():
    assert G.recommend_mounting(0.6, 2.4, NARROW) is None


def test_a_looser_criterion_and_no_standing_slack_allow_closer_marks():
    strict = G.recommend_mounting(1.40, 1.80, WIDE)
    loose = G.recommend_mounting(1.40, 1.80, WIDE, stand_tolerance_m=0.0)
    assert loose.distance_m < strict.distance_m and loose.face_pixels > strict.face_pixels
    assert G.recommend_mounting(1.15, 1.80, WIDE, min_face_pixels=3.0).meets_minimum


def test_tables_print_and_the_installation_guide_carries_them():
    out = subprocess.run([sys.executable, "-m", "controller.geometry"], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout
    assert out == G.markdown_tables()
    assert "| primary school (1.15-1.45 m) | 55°x35° | 1.30 m | level | 0.90 m |" in out
    guide = (REPO / "docs" / "installation.md").read_text(encoding="utf-8")
    assert "python -m controller.geometry" in guide
    missing = [line for line in out.splitlines() if line.startswith("|") and line not in guide.splitlines()]
    assert not missing, "docs/installation.md is out of date; paste in `python -m controller.geometry`:\n" + \
        "\n".join(missing[:5])


def test_a_lens_is_named_as_configs_spell_it_and_knows_its_view_and_mark():
    import json

    from controller.screening.analysis import AnalysisConfig
    from controller.screening.config import ConfigError, ScreeningConfig, from_table

    assert G.Lens.choices() == ("55", "110")
    assert G.Lens.parse("55") is G.Lens.NARROW and G.Lens.parse(G.Lens.WIDE) is G.Lens.WIDE
    assert (G.Lens.NARROW.fov, G.Lens.WIDE.fov) == (NARROW, WIDE)
    assert f"{G.Lens.WIDE}" == str(G.Lens.WIDE) == "110" and json.dumps([G.Lens.NARROW]) == '["55"]'
    assert {"110": 1}[G.Lens.WIDE] == 1  # equal and hashed as its spelling
    for bad in ("70", 55, None):
        with pytest.raises(ValueError, match='"55" or "110"'):
            G.Lens.parse(bad)
    # configs keep their strings; the mark defaults to the lens's recommended distance
    assert AnalysisConfig(variant="110").variant is G.Lens.WIDE
    assert ScreeningConfig().mark_m == G.Lens.NARROW.mark_distance_m == 0.90
    assert from_table({"variant": "110"}).mark_m == G.Lens.WIDE.mark_distance_m == 0.45
    with pytest.raises(ConfigError, match="screening.variant"):
        from_table({"variant": 110})
