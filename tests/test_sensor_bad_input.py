"""Bad input gets a clear error naming what is wrong, never a NaN passed on as a temperature."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.sensor import Calibration, EepromError, FrameError, control_word, random_eeprom
from controller.sensor import eeprom as E
from controller.sensor.frame import A_GAIN, A_PTAT, A_VBE, A_VDD, F_CONTROL, F_SUBPAGE


@pytest.fixture(scope="module")
def sensor():
    cal = Calibration.from_eeprom(random_eeprom(7))
    image = np.full((24, 32), 25.0)
    image[8:16, 10:20] = 36.5
    frame = cal.raw_from_to(image, 24.0, 3.3, 0, control_word(chess=True, resolution_bits=18))
    return cal, frame


# -- EEPROM ---------------------------------------------------------------

@pytest.mark.parametrize("words, message", [
    ([0] * 831, "expected 832 words"),
    ([0] * 833, "expected 832 words"),
    ([[0] * 832], "expected 832 words"),
    ([70000] * 832, "0..65535"),
    ([-1] * 832, "0..65535"),
    ([0.5] * 832, "must be integers"),
    ("not words", "must be integers"),
])
def test_eeprom_of_the_wrong_shape_or_type(words, message):
    with pytest.raises(ValueError, match=message):
        Calibration.from_eeprom(words)


def _corrupt(word: int, value: int, *more: int) -> np.ndarray:
    """A valid EEPROM with some words overwritten: word, value[, word, value ...]."""
    ee = random_eeprom(3).copy()
    edits = (word, value) + more
    for w, v in zip(edits[::2], edits[1::2], strict=True):
        ee[w] = v
    return ee


@pytest.mark.parametrize("ee, field", [
    (np.zeros(832, dtype=np.uint16), "K_Vdd"),
    (np.full(832, 0xFFFF, dtype=np.uint16), "GAIN"),
    (_corrupt(E.W_KVDD_VDD25, 0x0078), "K_Vdd"),
    (_corrupt(E.W_GAIN, 0), "GAIN"),
    (_corrupt(E.W_GAIN, 0xEA00), "GAIN"),
    (_corrupt(E.W_PTAT25, 0), "V_PTAT25"),
    (_corrupt(E.W_KV_KT_PTAT, 0x2400), "Kt_PTAT"),
    (_corrupt(E.W_CT, 0x2A0B), "corner temperatures"),
    (_corrupt(E.W_ALPHA_REF, 0), "sensitivity"),
    (_corrupt(E.W_CP_ALPHA, 0x0000), "compensation-pixel sensitivity"),
    (_corrupt(E.W_KSTO_12, 0x8080, E.W_CT, 0x2AF0), "KsTo"),
])
def test_impossible_eeprom_fields_are_named(ee, field):
    with pytest.raises(EepromError, match=field):
        Calibration.from_eeprom(ee)


def test_too_many_or_adjacent_defective_pixels():
    ee = random_eeprom(4).copy()
    for pixel in (0, 100, 300, 500, 700):
        ee[E.W_PIXELS + pixel] = 0
    with pytest.raises(EepromError, match="5 broken and 0 outlier"):
        Calibration.from_eeprom(ee)
    ee = random_eeprom(4).copy()
    ee[E.W_PIXELS + 100] = 0
    ee[E.W_PIXELS + 133] |= 1  # diagonal neighbour
    with pytest.raises(EepromError, match=r"adjacent defective pixels \(3, 4\) and \(4, 5\)"):
        Calibration.from_eeprom(ee)


# -- frames ---------------------------------------------------------------

@pytest.mark.parametrize("frame, message", [
    ([0] * 833, "expected 834 words"),
    ([0] * 835, "expected 834 words"),
    (b"\x00" * 1668, "must be integers"),
    ([1 << 16] * 834, "0..65535"),
    ([None] * 834, "must be integers"),
])
def test_frame_of_the_wrong_shape_or_type(sensor, frame, message):
    cal, _ = sensor
    with pytest.raises(ValueError, match=message):
        cal.subpage_to(frame)


def _edit(frame, word, value):
    f = frame.copy()
    f[word] = value
    return f


@pytest.mark.parametrize("word, value, message", [
    (F_SUBPAGE, 2, "subpage word"),
    (F_CONTROL, 0x1901 | 0x8000, "reserved bits"),
    (A_GAIN, 0, "gain word"),
    (A_PTAT, 0, "PTAT words"),
    (A_VDD, 0x7FFF, "supply voltage"),
    (A_VBE, 0x8000, "ambient temperature"),
])
def test_frame_aux_words_that_cannot_be(sensor, word, value, message):
    cal, frame = sensor
    if word == A_PTAT:  # a zero denominator needs V_BE zero too
        frame = _edit(frame, A_VBE, 0)
    with pytest.raises(FrameError, match=message):
        cal.subpage_to(_edit(frame, word, value))
    with pytest.raises(FrameError, match=message):
        cal.measure(_edit(frame, word, value))
    if word not in (A_GAIN,):
        with pytest.raises(FrameError, match=message):
            cal.ambient(_edit(frame, word, value))


def test_control_register_disagreeing_with_the_eeprom(sensor):
    """The frame was read at 18 bits but claims 16: Vdd comes out impossible."""
    cal, frame = sensor
    lying = _edit(frame, F_CONTROL, control_word(chess=True, resolution_bits=16))
    with pytest.raises(FrameError, match="does not match this sensor's EEPROM"):
        cal.subpage_to(lying)


def test_frame_from_another_sensor(sensor):
    cal, frame = sensor
    other = Calibration.from_eeprom(random_eeprom(99))
    with pytest.raises(FrameError, match="this sensor's EEPROM"):
        other.subpage_to(frame)


def test_garbage_pixel_is_an_error_not_a_nan(sensor):
    cal, frame = sensor
    pixel = next(p for p in range(768) if (p // 32 + p) % 2 == 0 and p not in cal.defective_pixels)
    with pytest.raises(FrameError, match=f"1 pixel.*row {pixel // 32} column {pixel % 32}"):
        cal.subpage_to(_edit(frame, pixel, 0x8000))
    # A pixel of the other subpage is not read at all.
    other = next(p for p in range(768) if (p // 32 + p) % 2 == 1)
    assert np.isnan(cal.subpage_to(_edit(frame, other, 0x8000)).flat[other])


@pytest.mark.parametrize("emissivity", [0.0, -0.5, 1.01, float("nan")])
def test_emissivity_out_of_range(sensor, emissivity):
    cal, frame = sensor
    with pytest.raises(ValueError, match="emissivity"):
        cal.subpage_to(frame, emissivity=emissivity)


def test_out_buffer_must_fit(sensor):
    cal, frame = sensor
    with pytest.raises(ValueError, match="float32 array of shape"):
        cal.subpage_to(frame, out=np.empty((24, 32)))
    out = np.empty((24, 32), dtype=np.float32)
    assert cal.subpage_to(frame, out=out) is out


def test_errors_leave_no_partial_result(sensor):
    cal, frame = sensor
    out = np.full((24, 32), 7.0, dtype=np.float32)
    with pytest.raises(FrameError):
        cal.subpage_to(_edit(frame, A_GAIN, 0), out=out)
    assert np.all(out == 7.0)


def test_inverse_refuses_what_the_sensor_cannot_report(sensor):
    cal, _ = sensor
    with pytest.raises(ValueError, match="outside what the sensor can report"):
        cal.raw_from_to(np.full((24, 32), 2000.0), 25.0, 3.3, 0, 0x1901)
    with pytest.raises(FrameError, match="subpage word"):
        cal.raw_from_to(np.full((24, 32), 30.0), 25.0, 3.3, 2, 0x1901)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flips=st.lists(st.tuples(st.integers(0, 831), st.integers(0, 15)),
                                                      min_size=1, max_size=6))
def test_corrupted_eeprom_is_refused_or_gives_finite_temperatures(seed, flips):
    """Bit flips anywhere: either a named EepromError, or every measured pixel
    finite (or a FrameError); never a silent NaN, never another exception."""
    rng = np.random.default_rng(seed)
    ee = random_eeprom(rng).copy()
    good = Calibration.from_eeprom(ee)
    frame = good.raw_from_to(rng.uniform(15, 40, (24, 32)), 25.0, 3.3, int(rng.integers(0, 2)), 0x1901)
    for word, bit in flips:
        ee[word] ^= 1 << bit
    try:
        cal = Calibration.from_eeprom(ee)
    except EepromError as exc:
        assert str(exc).startswith("EEPROM")
        return
    try:
        to = cal.subpage_to(frame)
    except FrameError as exc:
        assert str(exc).startswith("frame:")
        return
    assert np.isfinite(to).sum() == 384
