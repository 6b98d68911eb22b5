"""The per-frame shortcut gives what its plain form gives: frame_analysis the same FrameAnalysis as the
dataclass's own constructor."""

import dataclasses
import math

import numpy as np

from controller.screening import analysis_kernels as K
from controller.screening.analysis import REFERENCE_STATUSES, FrameAnalysis, frame_analysis


def _constructed(o: list[float]) -> FrameAnalysis:
    """The FrameAnalysis of an output vector through FrameAnalysis(...), field by field."""
    people = int(o[K.O_PEOPLE])
    found = people > 0
    faces = tuple((int(o[K.O_FACES + 5 * s + 1]), int(o[K.O_FACES + 5 * s + 2]), int(o[K.O_FACES + 5 * s + 3]),
                   int(o[K.O_FACES + 5 * s + 4])) for s in range(min(people, K.MAX_FACES)))
    distance = o[K.O_DISTANCE]
    return FrameAnalysis(
        ambient_c=o[K.O_AMBIENT], people=people,
        face_box=tuple(int(o[K.O_BOX + i]) for i in range(4)) if found else None,
        face_width_px=o[K.O_WIDTH] if found else 0.0,
        distance_m=distance if found and not math.isnan(distance) else None,
        face_max_c=o[K.O_MAX], face_topk_c=o[K.O_TOPK], forehead_c=o[K.O_FOREHEAD],
        touches_edge=o[K.O_EDGE] == 1.0, glasses=o[K.O_GLASSES] == 1.0, forehead_covered=o[K.O_COVERED] == 1.0,
        hot_object=o[K.O_HOT] == 1.0, reference_c=o[K.O_REF], reference_ok=o[K.O_REF_OK] == 1.0,
        offset_c=o[K.O_OFFSET], faces=faces, face_pixels=int(o[K.O_FACE_PIXELS]) if found else 0,
        skin_c=o[K.O_SKIN], eye_row=o[K.O_EYE_ROW], background_shift_c=o[K.O_SHIFT],
        reference_excess_c=o[K.O_REF_STD], nose_drop_c=o[K.O_NOSE], nose_chilled=o[K.O_COLD_NOSE] == 1.0,
        reference_status=REFERENCE_STATUSES[int(o[K.O_REF_STATUS])], reference_mean_c=o[K.O_REF_MEAN],
        reference_background_c=o[K.O_REF_BACKGROUND], reference_size_px=o[K.O_REF_SIZE],
        reference_fraction=o[K.O_REF_FRACTION], warm_pixels=int(o[K.O_WARM]) if o[K.O_WARM] > 0 else 0,
        warm_box=tuple(int(o[K.O_WARM_BOX + i]) for i in range(4)) if o[K.O_WARM] > 0 else None,
        lower_face_c=o[K.O_LOWER], face_in_view=o[K.O_IN_VIEW] if found else 0.0, eye_line_low=o[K.O_EYE_LOW] == 1.0,
        reference_allowed_c=o[K.O_REF_ALLOWED])


def _same(a: FrameAnalysis, b: FrameAnalysis) -> bool:
    """Field by field, NaN equal to NaN, types included."""
    for f in dataclasses.fields(FrameAnalysis):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if type(x) is not type(y):
            return False
        if not (x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))):
            return False
    return True


def test_frame_analysis_matches_the_constructor():
    rng = np.random.default_rng(3)
    flags = (K.O_EDGE, K.O_GLASSES, K.O_COVERED, K.O_HOT, K.O_REF_OK, K.O_COLD_NOSE, K.O_EYE_LOW)
    for trial in range(400):
        o = rng.normal(30.0, 5.0, K.O_LENGTH)
        o[K.O_PEOPLE] = trial % 11  # none, some, and more than MAX_FACES
        o[K.O_BOX:K.O_BOX + 4] = rng.integers(-1, 32, 4)
        o[K.O_FACES:K.O_NOSE] = rng.integers(-1, 32, K.O_NOSE - K.O_FACES)
        o[K.O_FACE_PIXELS] = rng.integers(0, 60)
        o[list(flags)] = rng.integers(0, 2, len(flags))
        o[K.O_REF_STATUS] = rng.integers(0, len(REFERENCE_STATUSES))
        o[K.O_WARM] = rng.integers(0, 200) if trial % 4 else 0.0
        o[K.O_WARM_BOX:K.O_WARM_BOX + 4] = rng.integers(-1, 32, 4)
        if trial % 3 == 0:
            o[K.O_DISTANCE] = np.nan
        if trial % 5 == 0:
            o[[K.O_MAX, K.O_TOPK, K.O_SKIN, K.O_NOSE, K.O_LOWER]] = np.nan
        values = o.tolist()
        fast, slow = frame_analysis(values), _constructed(values)
        assert _same(fast, slow), (trial, fast, slow)
        assert list(vars(fast)) == list(vars(slow))
    # Frozen like any other instance.
    try:
        fast.people = 3
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("a FrameAnalysis from frame_analysis must be frozen")
