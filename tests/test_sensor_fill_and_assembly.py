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


def test_assembly_kernel_matches_the_numpy_reference():
    """kernels.assemble against assembler.assemble_reference: random subpages (NaN pixels included),
    both reading patterns, lost subpages, and a stamp far in the past."""
    from controller.sensor import kernels as K
    from controller.sensor.assembler import assemble_reference
    from controller.sensor.reference import subpage_pattern

    rng = np.random.default_rng(11)
    masks = [(subpage_pattern(chess) == sp).reshape(24, 32) for chess in (False, True) for sp in (0, 1)]
    image_k = np.full((24, 32), np.nan, dtype=np.float32)
    stamp_k = np.full((24, 32), -1, dtype=np.int64)
    image_r, stamp_r = image_k.copy(), stamp_k.copy()
    sequence = 0
    completes = set()
    for step in range(200):
        sequence += int(rng.integers(1, 4))  # skipped numbers: subpages lost on the way
        if step == 150:
            sequence += 2 ** 31 + 5  # age beyond int32 wraps the same way in both
        sub = rng.normal(30.0, 5.0, (24, 32)).astype(np.float32)
        sub[rng.random((24, 32)) < 0.05] = np.nan
        mask = masks[int(rng.integers(0, 4)) if step > 3 else step % 2]
        to, fresh, age = (np.empty((24, 32), dtype=d) for d in (np.float32, np.bool_, np.int32))
        complete = K.assemble(sub, mask, image_k, stamp_k, sequence, to, fresh, age)
        ref_to, ref_fresh, ref_age, ref_complete = assemble_reference(sub, mask, image_r, stamp_r, sequence)
        np.testing.assert_array_equal(to, ref_to)  # NaN where NaN
        np.testing.assert_array_equal(image_k, image_r)
        np.testing.assert_array_equal(stamp_k, stamp_r)
        np.testing.assert_array_equal(fresh, ref_fresh)
        np.testing.assert_array_equal(age, ref_age)
        assert age.dtype == ref_age.dtype and fresh.dtype == ref_fresh.dtype and to.dtype == ref_to.dtype
        assert complete == ref_complete and type(complete) is bool
        completes.add(complete)
        to[0, 0] = -99.0  # the returned image is a copy, not the running image
        assert image_k[0, 0] != -99.0
    assert completes == {False, True}


def test_assembler_returns_new_arrays_every_frame():
    cal = Calibration.from_eeprom(random_eeprom(5))
    control = control_word(chess=False)
    assembler = FrameAssembler(cal)
    images = [assembler.push(cal.raw_from_to(_ramp(), 25.0, 3.3, i % 2, control)) for i in range(4)]
    assert not images[0].complete and images[1].complete and images[3].sequence == 4 and not images[3].chess
    kept = images[1].to.copy()
    assert images[1].to is not images[3].to and images[1].age is not images[3].age
    np.testing.assert_array_equal(images[1].to, kept)  # later pushes do not write into earlier images
    assert (images[3].age[images[3].fresh] == 0).all() and (images[3].age[~images[3].fresh] == 1).all()


def test_assembler_image_equals_one_built_by_its_constructor():
    import dataclasses

    from controller.sensor.assembler import Image

    cal = Calibration.from_eeprom(random_eeprom(5))
    assembler = FrameAssembler(cal)
    for i in range(3):
        image = assembler.push(cal.raw_from_to(_ramp(), 25.0, 3.3, i % 2, control_word(chess=True)))
        built = Image(**{f.name: getattr(image, f.name) for f in dataclasses.fields(Image)})
        assert type(image) is Image and list(vars(image)) == list(vars(built))
        assert all(getattr(image, k) is getattr(built, k) for k in vars(built))
        assert image == built and type(image.complete) is bool and type(image.sequence) is int
        with pytest.raises(dataclasses.FrozenInstanceError):
            image.sequence = 0
