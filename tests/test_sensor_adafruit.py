"""Cross-check against an independent implementation: Adafruit's Python port
of the Melexis driver, reading our generated EEPROMs and frames through a
fake I2C bus. 60 sensors x 2 subpages, every combination of reading pattern,
calibration pattern, ADC resolution and TGC, scenes from -20 to 200 degC."""

import numpy as np
import pytest

from adafruit_reference import AdafruitSensor
from controller.sensor import Calibration, control_word, random_eeprom

TOLERANCE_C = 0.01
SETS = 60


def _case(seed: int):
    rng = np.random.default_rng(1000 + seed)
    eeprom = random_eeprom(rng, calibrated_in_chess=seed % 2 == 0, tgc=seed % 3 == 0,
                           broken=seed % 5 == 1, outliers=seed % 7 == 2)
    control = control_word(chess=(seed // 2) % 2 == 0, resolution_bits=16 + (seed // 4) % 4,
                           refresh_hz=(2.0, 4.0, 8.0, 16.0)[seed % 4])
    # A smooth room with hot and cold objects: -20..200 degC across the image.
    yy, xx = np.mgrid[0:24, 0:32]
    image = rng.uniform(15, 30) + rng.uniform(-5, 5) * xx / 31 + rng.uniform(-5, 5) * yy / 23
    spots = rng.integers(0, 768, size=120)
    image.flat[spots] = rng.uniform(-20, 200, size=spots.size)
    ta = float(rng.uniform(0, 50))
    vdd = float(rng.uniform(3.1, 3.5))
    emissivity = float(rng.choice([1.0, 0.98, 0.95]))
    tr = None if seed % 2 else float(ta - rng.uniform(0, 15))
    return rng, eeprom, control, image, ta, vdd, emissivity, tr


@pytest.mark.parametrize("seed", range(SETS))
def test_matches_adafruit(seed):
    rng, eeprom, control, image, ta, vdd, emissivity, tr = _case(seed)
    cal = Calibration.from_eeprom(eeprom)
    adafruit = AdafruitSensor([int(w) for w in eeprom])
    for subpage in (0, 1):
        frame = cal.raw_from_to(image, ta, vdd, subpage, control, cp_signal=tuple(rng.uniform(-4, 4, 2)))
        assert adafruit.ambient([int(w) for w in frame]) == pytest.approx(cal.ambient(frame), abs=1e-9)
        ours = cal.subpage_to(frame, emissivity=emissivity, tr=tr).ravel().astype(np.float64)
        theirs = np.array(adafruit.subpage_to([int(w) for w in frame], emissivity=emissivity, tr=tr))
        measured = ~np.isnan(ours)
        assert measured.sum() == 384
        # Adafruit marks defective pixels -273.15 (in either subpage) rather
        # than filling them: it found the same ones we did.
        defective = np.zeros(768, dtype=bool)
        defective[list(cal.defective_pixels)] = True
        assert np.all(theirs[defective] == -273.15)
        assert np.isnan(theirs[~measured & ~defective]).all()
        compare = measured & ~defective
        np.testing.assert_allclose(ours[compare], theirs[compare], atol=TOLERANCE_C, rtol=0)
