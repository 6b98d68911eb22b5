"""The driver's read-error mark (0x7FFF) is a pixel without a temperature; ``tr`` is range-checked.

Both in the numba kernel (``Calibration``) and in its plain-numpy reference
(``controller.sensor.reference``), which must agree.
"""

import math

import numpy as np
import pytest

from controller.sensor import Calibration, FrameAssembler, FrameError, control_word, random_eeprom
from controller.sensor import eeprom as E
from controller.sensor import reference as R
from controller.sensor.calibration import MAX_READ_ERRORS
from controller.sensor.frame import READ_ERROR_WORD, TR_RANGE_C


def _in_subpage(p: int, subpage: int, chess: bool) -> bool:
    r, c = divmod(p, 32)
    return (r + c) % 2 == subpage if chess else r % 2 == subpage


@pytest.fixture(scope="module")
def flawed():
    """A sensor with two broken pixels (filled from neighbours) and a warm face-like patch."""
    ee = random_eeprom(21).copy()
    for p in (200, 461):
        ee[E.W_PIXELS + p] = 0
    cal = Calibration.from_eeprom(ee)
    image = np.full((24, 32), 23.0)
    image[8:16, 10:20] = 35.5
    return cal, image


@pytest.mark.parametrize("chess", [True, False])
@pytest.mark.parametrize("subpage", [0, 1])
def test_read_error_word_is_a_nan_pixel_counted_not_750_degrees(flawed, chess, subpage):
    cal, image = flawed
    frame = cal.raw_from_to(image, 24.0, 3.3, subpage, control_word(chess=chess, resolution_bits=18)).copy()
    mine = [p for p in range(768) if _in_subpage(p, subpage, chess) and p not in (200, 461)][100:103]
    other = next(p for p in range(768) if not _in_subpage(p, subpage, chess))
    for p in mine + [other]:
        frame[p] = READ_ERROR_WORD
    sub = cal.measure(frame)
    flat = sub.to.ravel()
    assert all(math.isnan(flat[p]) for p in mine)
    assert sub.read_errors == len(mine)  # the mark on a pixel this subpage does not read is not counted
    assert np.nanmax(sub.to) < 40.0  # never the 750 degC the word would decode to
    measured = [p for p in range(768) if _in_subpage(p, subpage, chess) and p not in mine]
    assert np.isfinite(flat[measured]).all()

    slow = R.subpage_to(cal.params, frame)
    np.testing.assert_array_equal(np.isnan(slow), np.isnan(sub.to))
    np.testing.assert_allclose(sub.to[np.isfinite(sub.to)], slow[np.isfinite(slow)], atol=0.01)


@pytest.mark.parametrize("chess", [True, False])
def test_a_defective_pixel_next_to_a_read_error_agrees_with_the_reference(flawed, chess):
    """The fill of a broken pixel takes a marked neighbour as NaN: kernel and reference agree on the result."""
    cal, image = flawed
    subpage = (200 // 32 + 200) % 2 if chess else (200 // 32) % 2
    frame = cal.raw_from_to(image, 24.0, 3.3, subpage, control_word(chess=chess, resolution_bits=18)).copy()
    neighbour = 200 - 33 if chess else 199
    frame[neighbour] = READ_ERROR_WORD
    sub = cal.measure(frame)
    slow = R.subpage_to(cal.params, frame)
    np.testing.assert_array_equal(np.isnan(slow), np.isnan(sub.to))
    np.testing.assert_allclose(sub.to[np.isfinite(sub.to)], slow[np.isfinite(slow)], atol=0.01)
    nan_in_subpage = sum(1 for p in range(768) if _in_subpage(p, subpage, chess) and math.isnan(sub.to.flat[p]))
    assert sub.read_errors == nan_in_subpage >= 1


def test_a_failed_read_is_a_frame_error(flawed):
    cal, image = flawed
    frame = cal.raw_from_to(image, 24.0, 3.3, 0, control_word(chess=True)).copy()
    frame[:768] = READ_ERROR_WORD
    with pytest.raises(FrameError, match="read-error mark 0x7FFF"):
        cal.measure(frame)
    few = cal.raw_from_to(image, 24.0, 3.3, 0, control_word(chess=True)).copy()
    marked = [p for p in range(768) if _in_subpage(p, 0, True)][:MAX_READ_ERRORS]
    few[marked] = READ_ERROR_WORD
    assert cal.measure(few).read_errors == MAX_READ_ERRORS


def test_the_assembled_image_leaves_a_read_error_pixel_nan(flawed):
    cal, image = flawed
    control = control_word(chess=True)
    assembler = FrameAssembler(cal)
    assembler.push(cal.raw_from_to(image, 24.0, 3.3, 0, control))
    frame = cal.raw_from_to(image, 24.0, 3.3, 1, control).copy()
    p = next(p for p in range(768) if _in_subpage(p, 1, True) and p not in (200, 461))
    frame[p] = READ_ERROR_WORD
    out = assembler.push(frame)
    assert out.complete and math.isnan(out.to.flat[p]) and assembler.read_errors == 1
    assert np.isfinite(np.delete(out.to.ravel(), p)).all()


@pytest.mark.parametrize("tr", [float("nan"), float("inf"), -float("inf"), TR_RANGE_C[0] - 0.1, TR_RANGE_C[1] + 0.1,
                                -1000.0, "warm"])
def test_tr_outside_its_range_or_nan_is_an_error_in_both(flawed, tr):
    cal, image = flawed
    frame = cal.raw_from_to(image, 24.0, 3.3, 0, control_word(chess=True))
    with pytest.raises(ValueError, match="tr .the reflected temperature. must be a finite temperature"):
        cal.subpage_to(frame, tr=tr)
    with pytest.raises(ValueError, match="tr .the reflected temperature. must be a finite temperature"):
        R.subpage_to(cal.params, frame, tr=tr)
    with pytest.raises(ValueError, match="reflected temperature"):
        FrameAssembler(cal, tr=tr).push(frame)


def test_tr_in_range_and_none_agree_between_kernel_and_reference(flawed):
    cal, image = flawed
    frame = cal.raw_from_to(image, 24.0, 3.3, 0, control_word(chess=True))
    ta = cal.ambient(frame)
    for tr in (TR_RANGE_C[0], 10.0, 22.5, TR_RANGE_C[1]):
        np.testing.assert_allclose(cal.subpage_to(frame, 0.95, tr), R.subpage_to(cal.params, frame, 0.95, tr),
                                   atol=0.01)
    # None is the vendor's open-air rule, Ta - 8, in both.
    np.testing.assert_array_equal(cal.subpage_to(frame, 0.95), cal.subpage_to(frame, 0.95, ta - 8.0))
    np.testing.assert_allclose(cal.subpage_to(frame, 0.95), R.subpage_to(cal.params, frame, 0.95), atol=0.01)
