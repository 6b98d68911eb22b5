"""What a gate's mounting as entered (`thermogate gate add/set`) shows of the people on its mark.

The installer gives the sensor's height, tilt and the mark's distance
(docs/installation.md, "Telling the controller the mounting"). A face cut off
by the top or the bottom of the view is never screened: the gate tells that
person `stand_straight` for as long as they stand there. So the commands say,
for the mounting entered, which eye heights keep their whole face in view for
someone standing on the mark or up to 10 cm in front of it or behind it, and
how much of each school population of "Recommended mountings" that is. They
warn when no population keeps SERVED_SHARE of its eye heights in view, and
when the faces of the populations it serves are under 4 x 4 pixels or seen
more steeply than 30° (the limits "Recommended mountings" was worked out
with, controller/geometry.py).
"""

from __future__ import annotations

from typing import Any

from ..geometry import MAX_VIEW_ANGLE_DEG, MIN_FACE_PIXELS, SITES, Lens, MountingView, mounting_view, tilt_text

SEE = 'docs/installation.md, "Recommended mountings"'
# A population is served when this share of its eye heights keeps the whole face in view near the mark. On the
# DEV world's gates (bench_accuracy.py, 110 degree lens, as installed) the share of people last told
# stand_straight was 6 % where all of a school's eye heights were in view, 9 % from 3/4 up, 13 % from 1/2 up,
# 26 % from 1/4 up; 66 % through the 55 degree lens with under 1/4 (docs/installation.md).
SERVED_SHARE = 0.75


def view_of(values: dict[str, Any], variant: str) -> MountingView:
    """The view of the mounting in a gate's settings (``sensor_height_m``, ``tilt_deg``, ``mark_distance_m``;
    a mark distance of None is the lens's recommended one) through lens ``variant``."""
    lens = Lens.parse(variant)
    mark = values.get("mark_distance_m")
    return mounting_view(float(values["sensor_height_m"]), float(values["tilt_deg"]),
                         lens.mark_distance_m if mark is None else float(mark), lens.fov)


def _mounting_text(view: MountingView) -> str:
    tilt = "level" if view.tilt_deg == 0 else f"tilted {tilt_text(view.tilt_deg)}"
    return (f"the {view.fov.horizontal_deg:g}° sensor at {view.sensor_height_m:.2f} m, {tilt}, with the mark at "
            f"{view.mark_distance_m:.2f} m")


def _share_text(share: float) -> str:
    return "all of them" if share >= 0.995 else "none" if share <= 0.005 else f"{share:.0%}"


def summary(view: MountingView) -> str:
    """One line: the eye heights in view near the mark, and how much of each school population that is."""
    if view.eyes_m is None:
        return f"mounting: {_mounting_text(view)} keeps no whole face in view near the mark"
    low, high = view.eyes_m
    shares = "; ".join(f"{name} ({lo:.2f}-{hi:.2f} m): {_share_text(view.share_in_view(lo, hi))}"
                       for name, lo, hi in SITES)
    return (f"mounting: {_mounting_text(view)} keeps whole faces in view for eye heights {low:.2f}-{high:.2f} m "
            f"(on the mark or {view.stand_tolerance_m * 100:.0f} cm off it); of their eye heights: {shares}")


def warnings(view: MountingView) -> list[str]:
    """What the installer should fix: no school population served (SERVED_SHARE of its eye heights in view),
    or the faces of those served smaller than MIN_FACE_PIXELS a side, or seen more steeply than
    MAX_VIEW_ANGLE_DEG."""
    near = f"on the mark or up to {view.stand_tolerance_m * 100:.0f} cm in front of it or behind it"
    if view.eyes_m is None:
        return [f"{_mounting_text(view)} keeps nobody's whole face in view {near}: everyone would be told "
                f"stand_straight and nobody screened. Choose a mounting from {SEE}"]
    low, high = view.eyes_m
    served = [(name, max(lo, low), min(hi, high)) for name, lo, hi in SITES
              if view.share_in_view(lo, hi) >= SERVED_SHARE]
    if not served:
        kept = " and ".join(f"{_share_text(view.share_in_view(lo, hi))} of a {name}'s ({lo:.2f}-{hi:.2f} m)"
                            for name, lo, hi in SITES[:2])
        return [f"{_mounting_text(view)} keeps whole faces in view only for eye heights {low:.2f}-{high:.2f} m "
                f"({near}): {kept}. The others are told stand_straight and never screened. Choose a mounting "
                f"from {SEE}"]
    out = []
    sizes = [(name, lo, hi, *view.smallest_face_px(lo, hi)) for name, lo, hi in served]
    if all(min(w, h) < MIN_FACE_PIXELS for *_, w, h in sizes):
        name, lo, hi, w, h = max(sizes, key=lambda s: min(s[3], s[4]))
        out.append(f"{_mounting_text(view)}: the smallest face at a {name} (eye heights {lo:.2f}-{hi:.2f} m in "
                   f"view) is {w:.1f} x {h:.1f} pixels on the mark, under {MIN_FACE_PIXELS:g} x "
                   f"{MIN_FACE_PIXELS:g}; its readings are less reliable. Move the mark nearer or choose a "
                   f"mounting from {SEE}")
    steep = [(name, view.steepest_view_deg(lo, hi)) for name, lo, hi in served]
    if all(angle > MAX_VIEW_ANGLE_DEG for _, angle in steep):
        name, angle = min(steep, key=lambda s: s[1])
        out.append(f"{_mounting_text(view)} looks at the eyes of people at a {name} as steeply as {angle:.0f}° "
                   f"from level, more than {MAX_VIEW_ANGLE_DEG:g}°: it sees the top of the head or under the chin "
                   f"rather than the face. Mount the sensor nearer their eye height or move the mark farther; "
                   f"see {SEE}")
    return out
