"""Defective pixels filled from their neighbours; subpages assembled into images."""

import numpy as np
import pytest

from controller.sensor import Calibration, FrameAssembler, FrameError, control_word, random_eeprom
from controller.sensor import eeprom as E
from controller.sensor.frame import A_GAIN

# Interior pixels, one at the top edge, one in a corner; none adjacent.
BROKEN = (200, 461)
OUTLIERS = (5, 767)


@pytest.fixture(scope="module")
def flawed():
    ee = random_eeprom(11).copy()
    for p in BROKEN:
        ee[E.W_PIXELS + p] = 0
    for p in OUTLIERS:
        ee[E.W_PIXELS + p] |= 1
    cal = Calibration.from_eeprom(ee)
    assert cal.params.broken_pixels == BROKEN and cal.params.outlier_pixels == OUTLIERS
    return cal


def _ramp(col_step=0.5, row_step=0.25):
    yy, xx = np.mgrid[0:24, 0:32]
    return 22.0 + col_step * xx + row_step * yy


@pytest.mark.parametrize("chess", [True, False])
def test_defective_pixels_are_filled_from_same_subpage_neighbours(flawed, chess):
    truth = _ramp()
    control = control_word(chess=chess, resolution_bits=19)
    image = np.full((24, 32), np.nan)
    for subpage in (0, 1):
        to = flawed.subpage_to(flawed.raw_from_to(truth, 25.0, 3.3, subpage, control))
        image[~np.isnan(to)] = to[~np.isnan(to)]
    assert np.isfinite(image).all()
    err = np.abs(image - truth).ravel()
    quantum = 0.15  # one ADC count at 19 bits is about 0.1 degC here
    # Inside the array the fill is exact on a linear ramp (median of diagonals, or extrapolation).
    for p in BROKEN:
        assert err[p] < quantum, (p, err[p])
    # On an edge or corner it is off by at most one step of the ramp.
    for p in OUTLIERS:
        assert err[p] < 0.5 + 0.25 + quantum, (p, err[p])


def test_fill_uses_only_fresh_neighbours(flawed):
    """A broken pixel of subpage 0 depends on subpage-0 pixels only."""
    control = control_word(chess=True)
    base = flawed.raw_from_to(_ramp(), 25.0, 3.3, 0, control)
    hotter = flawed.raw_from_to(_ramp() + np.where((np.indices((24, 32)).sum(0) % 2) == 1, 30.0, 0.0),
                                25.0, 3.3, 0, control)
    a, b = flawed.subpage_to(base).ravel(), flawed.subpage_to(hotter).ravel()
    assert (200 // 32 + 200) % 2 == 0
    assert a[200] == b[200]


def test_assembler_merges_subpages():
    cal = Calibration.from_eeprom(random_eeprom(5))
    truth = _ramp()
    control = control_word(chess=True)
    assembler = FrameAssembler(cal)
    first = assembler.push(cal.raw_from_to(truth, 25.0, 3.3, 0, control))
    assert not first.complete and first.sequence == 1 and first.subpage == 0 and first.chess
    assert first.fresh.sum() == 384 and np.isnan(first.to[~first.fresh]).all()
    assert (first.age[first.fresh] == 0).all() and (first.age[~first.fresh] == -1).all()
    second = assembler.push(cal.raw_from_to(truth, 25.0, 3.3, 1, control))
    assert second.complete and np.isfinite(second.to).all()
    assert (second.fresh == ~first.fresh).all()
    assert (second.age[first.fresh] == 1).all()
    np.testing.assert_allclose(second.to, truth, atol=0.25)
    assert second.ta == pytest.approx(25.0, abs=0.01)
    # What push returned is the caller's to keep.
    second.to[:] = 0
    assert np.isfinite(assembler.push(cal.raw_from_to(truth, 25.0, 3.3, 0, control)).to).all()


def test_assembler_shows_a_lost_subpage_as_age():
    cal = Calibration.from_eeprom(random_eeprom(6))
    control = control_word(chess=False)
    assembler = FrameAssembler(cal)
    for subpage in (0, 1, 1):
        image = assembler.push(cal.raw_from_to(_ramp(), 25.0, 3.3, subpage, control))
    rows_even = np.zeros((24, 32), dtype=bool)
    rows_even[0::2] = True
    assert (image.age[rows_even] == 2).all() and (image.age[~rows_even] == 0).all()


def test_assembler_keeps_its_image_when_a_frame_is_bad():
    cal = Calibration.from_eeprom(random_eeprom(8))
    control = control_word(chess=True)
    assembler = FrameAssembler(cal)
    good = assembler.push(cal.raw_from_to(_ramp(), 25.0, 3.3, 0, control))
    bad = cal.raw_from_to(_ramp() + 10, 25.0, 3.3, 1, control)
    bad[A_GAIN] = 0
    with pytest.raises(FrameError):
        assembler.push(bad)
    after = assembler.push(cal.raw_from_to(_ramp(), 25.0, 3.3, 0, control))
    assert after.sequence == 2
    np.testing.assert_array_equal(np.isnan(after.to), np.isnan(good.to))
    assembler.reset()
    assert assembler.sequence == 0


def test_random_eeprom_is_reproducible_and_honours_its_options():
    np.testing.assert_array_equal(random_eeprom(42), random_eeprom(42))
    assert not np.array_equal(random_eeprom(42), random_eeprom(43))
    ee = random_eeprom(1, calibrated_in_chess=False, tgc=True, broken=2, outliers=2)
    p = E.parse_eeprom(ee)
    assert not p.calibrated_in_chess and p.tgc != 0
    assert len(p.broken_pixels) == 2 and len(p.outlier_pixels) == 2
    for bits in (16, 17, 18, 19):
        assert E.parse_eeprom(random_eeprom(2, resolution_bits=bits)).resolution_ee == bits - 16
    p = E.parse_eeprom(random_eeprom(3))
    assert p.calibrated_in_chess and p.tgc == 0 and p.defective_pixels == ()
    assert 2e-8 < p.alpha.min() and p.alpha.max() < 8e-8
    with pytest.raises(ValueError):
        random_eeprom(1, broken=3, outliers=2)
