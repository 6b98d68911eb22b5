"""Property tests: the numba kernel equals the numpy reference, and the
inverse is exact to the sensor's own resolution."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.sensor import Calibration, control_word, random_eeprom
from controller.sensor import reference as R

KERNEL_VS_REFERENCE_C = 1e-3  # the kernel computes pixels in float32, the reference in float64


@st.composite
def scenes(draw, lo=-20.0, hi=200.0):
    """A sensor, its reading mode and a temperature scene, all from one seed."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    eeprom = random_eeprom(rng, calibrated_in_chess=draw(st.booleans()), tgc=draw(st.booleans()),
                           broken=draw(st.integers(0, 2)), outliers=draw(st.integers(0, 2)))
    control = control_word(chess=draw(st.booleans()), resolution_bits=draw(st.sampled_from([16, 17, 18, 19])),
                           refresh_hz=draw(st.sampled_from([0.5, 2.0, 8.0, 32.0])))
    image = rng.uniform(lo, hi, size=(24, 32))
    ta = draw(st.floats(-10, 60))
    vdd = draw(st.floats(3.0, 3.6))
    emissivity = draw(st.sampled_from([1.0, 0.98, 0.95, 0.9]))
    tr = draw(st.one_of(st.none(), st.floats(-10, 60)))
    subpage = draw(st.integers(0, 1))
    return Calibration.from_eeprom(eeprom), control, image, ta, vdd, emissivity, tr, subpage, rng


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_kernel_equals_numpy_reference(scene):
    cal, control, image, ta, vdd, emissivity, tr, subpage, rng = scene
    frame = cal.raw_from_to(image, ta, vdd, subpage, control, cp_signal=tuple(rng.uniform(-4, 4, 2)))
    fast = cal.subpage_to(frame, emissivity, tr)
    slow = R.subpage_to(cal.params, frame, emissivity, tr)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    np.testing.assert_allclose(fast[~np.isnan(fast)], slow[~np.isnan(slow)], atol=KERNEL_VS_REFERENCE_C, rtol=0)
    assert cal.ambient(frame) == R.frame_state(cal.params, frame).ta


def _count_steps(cal, frame, emissivity, tr):
    """Per pixel, the larger temperature change of one raw count up or down."""
    state = R.frame_state(cal.params, frame)
    raw = frame[:768].astype(np.int64)
    raw = np.where(raw > 0x7FFF, raw - 0x10000, raw).astype(np.float64)
    at = [R.to_from_ir(cal.params, R.ir_from_raw(cal.params, raw + d, state, emissivity), state, emissivity, tr)
          for d in (-1, 0, 1)]
    return np.maximum(np.abs(at[2] - at[1]), np.abs(at[1] - at[0])), at[1]


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_inverse_lands_within_half_a_count(scene):
    cal, control, image, ta, vdd, emissivity, tr, subpage, rng = scene
    frame = cal.raw_from_to(image, ta, vdd, subpage, control, emissivity, tr)
    step, decoded = _count_steps(cal, frame, emissivity, tr)
    good = np.ones(768, dtype=bool)
    good[list(cal.defective_pixels)] = False  # those are filled, not decoded
    err = np.abs(decoded - image.ravel())
    assert np.all(err[good] <= step[good] / 2 * (1 + 1e-6) + 1e-9)
    # Vdd lands within half an ADC count, Ta within a small fraction of a degree.
    vdd_step = 2.0 ** cal.params.resolution_ee / 2.0 ** ((control >> 10) & 3) / abs(cal.params.k_vdd)
    assert abs(cal.supply_voltage(frame) - vdd) <= vdd_step / 2 + 1e-12
    assert abs(cal.ambient(frame) - ta) < 0.01


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_decode_then_encode_gives_the_same_words(scene):
    cal, control, image, ta, vdd, emissivity, tr, subpage, rng = scene
    frame = cal.raw_from_to(image, ta, vdd, subpage, control, emissivity, tr)
    # Words the sensor could send, including ones no target produced exactly.
    noisy = frame.copy()
    noisy[:768] = (noisy[:768].astype(np.int64) + rng.integers(-3, 4, size=768)).astype(np.uint16)
    decoded = cal.subpage_to(noisy, emissivity, tr)
    again = cal.encode_pixels(noisy, decoded, emissivity, tr)
    keep = ~np.isnan(decoded.ravel())
    keep[list(cal.defective_pixels)] = False
    np.testing.assert_array_equal(again[:768][keep], noisy[:768][keep])
    np.testing.assert_array_equal(again[768:], noisy[768:])
