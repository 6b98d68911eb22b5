"""Which eye heights a mounting keeps wholly in view on the mark, and the warnings when that serves no school
population, leaves its faces under 4 x 4 pixels or sees them too steeply (controller/site/mounting_check.py; the
limits of docs/installation.md, "Recommended mountings"). What `thermogate gate add/set` print is tested in
test_mark.py."""

from __future__ import annotations

import pytest

from controller.geometry import (
    NARROW,
    SITES,
    STAND_TOLERANCE_M,
    VARIANTS,
    WIDE,
    face_in_view,
    mounting_view,
    recommend_mounting,
)
from controller.site import mounting_check


@pytest.mark.parametrize("fov", VARIANTS, ids=lambda v: v.label)
@pytest.mark.parametrize("site", SITES, ids=lambda s: s[0])
def test_the_recommended_mountings_serve_their_population(fov, site):
    name, low, high = site
    m = recommend_mounting(low, high, fov)
    view = mounting_view(m.sensor_height_m, m.tilt_deg, m.distance_m, fov)
    assert view.serves(low, high)
    assert view.smallest_face_px(low, high) == pytest.approx((m.face_width_px, m.face_height_px))
    assert view.steepest_view_deg(low, high) == pytest.approx(m.steepest_view_deg)
    warnings = mounting_check.warnings(view)
    if m.meets_minimum:  # primary and secondary: nothing to fix
        assert warnings == []
    else:  # the mixed site: every face in view, the smallest under 4 x 4 (the table's "no")
        assert len(warnings) == 1 and "under 4 x 4" in warnings[0]


@pytest.mark.parametrize("fov, height, tilt, mark", [(NARROW, 1.30, 0.0, 0.90), (WIDE, 1.30, 0.0, 0.45),
                                                     (WIDE, 1.60, -10.0, 0.50), (NARROW, 1.35, 14.0, 1.00)])
def test_the_band_is_the_eye_heights_whose_face_stays_in_view_near_the_mark(fov, height, tilt, mark):
    view = mounting_view(height, tilt, mark, fov)
    low, high = view.eyes_m
    for d in (mark - STAND_TOLERANCE_M, mark, mark + STAND_TOLERANCE_M):
        assert face_in_view(low + 1e-6, height, tilt, d, fov) and face_in_view(high - 1e-6, height, tilt, d, fov)
    # a centimetre beyond either end, the face leaves the view somewhere within the standing zone
    for eye in (low - 0.01, high + 0.01):
        assert not all(face_in_view(eye, height, tilt, d, fov)
                       for d in (mark - STAND_TOLERANCE_M, mark, mark + STAND_TOLERANCE_M))


def test_a_narrow_lens_with_its_mark_too_near_serves_nobody():
    view = mounting_view(1.30, 0.0, 0.45, NARROW)  # the 110 degree lens's mark, through the 55 degree lens
    low, high = view.eyes_m
    assert high - low < 0.05  # about 35 cm of view at 0.35 m, less a face's 20 cm
    assert not any(view.serves(lo, hi) for _, lo, hi in SITES)
    [warning] = mounting_check.warnings(view)
    assert f"{low:.2f}-{high:.2f} m" in warning and "stand_straight" in warning
    assert "Recommended mountings" in warning


def test_a_population_mostly_in_view_is_served_and_one_mostly_cut_off_is_not():
    view = mounting_view(1.30, 4.0, 0.45, WIDE)  # the primary school's 110 degree mounting, tilted 4 degrees up
    assert view.share_in_view(1.15, 1.45) == pytest.approx((1.45 - view.eyes_m[0]) / 0.30)
    assert mounting_check.SERVED_SHARE <= view.share_in_view(1.15, 1.45) < 1.0
    assert mounting_check.warnings(view) == []
    assert "primary school (1.15-1.45 m): 94%" in mounting_check.summary(view)
    view = mounting_view(1.30, 12.0, 0.45, WIDE)
    assert view.share_in_view(1.15, 1.45) < mounting_check.SERVED_SHARE
    assert view.share_in_view(1.40, 1.80) < mounting_check.SERVED_SHARE
    [warning] = mounting_check.warnings(view)
    assert "stand_straight" in warning


def test_a_view_that_holds_no_face_says_so():
    view = mounting_view(1.30, 0.0, 0.20, NARROW)
    assert view.eyes_m is None
    [warning] = mounting_check.warnings(view)
    assert "nobody's whole face" in warning


def test_a_steep_view_is_warned_about():
    view = mounting_view(2.20, -30.0, 0.50, WIDE)
    assert view.serves(1.40, 1.80)
    warnings = mounting_check.warnings(view)
    assert any("more than 30°" in w for w in warnings), warnings
