"""Plausible random MLX90640 EEPROMs, for tests and the simulator.

Each field is drawn as its raw bit pattern, within the spread seen on real
sensors (the Melexis example device and the typical values in the datasheet's
EEPROM map), so every encoding path of :func:`parse_eeprom` is exercised:
negative and positive nibbles, both calibration modes, every ADC resolution,
optional TGC, and up to four non-adjacent broken or outlier pixels.
"""

from __future__ import annotations

import numpy as np

from . import eeprom as E
from .frame import COLUMNS, PIXELS, ROWS

_PIXEL_ADJACENT = E.defective_pixels_adjacent


def _field(value: int, shift: int, width: int) -> int:
    """Place a (possibly negative) value into a bit field."""
    lo, hi = -(1 << (width - 1)), (1 << width) - 1
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit {width} bits")
    return (value & ((1 << width) - 1)) << shift


def _nibble_words(rng: np.random.Generator, count: int, lo: int, hi: int) -> list[int]:
    values = rng.integers(lo, hi + 1, size=count)
    return [sum(_field(int(values[4 * w + k]), 4 * k, 4) for k in range(4)) for w in range(count // 4)]


def random_eeprom(rng: np.random.Generator | int | None = None, *, calibrated_in_chess: bool = True,
                  resolution_bits: int = 18, tgc: bool = False, broken: int = 0,
                  outliers: int = 0) -> np.ndarray:
    """An 832-word EEPROM a working sensor could carry, drawn from ``rng``.

    ``resolution_bits`` is the ADC resolution the sensor was calibrated at
    (16..19); ``tgc`` gives it a non-zero temperature-gradient coefficient;
    ``broken`` and ``outliers`` place that many defective pixels (four at
    most in all, never adjacent)."""
    rng = np.random.default_rng(rng)
    if broken + outliers > E.MAX_DEFECTIVE_PIXELS:
        raise ValueError(f"at most {E.MAX_DEFECTIVE_PIXELS} defective pixels")
    if resolution_bits not in (16, 17, 18, 19):
        raise ValueError("resolution_bits must be 16..19")
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731 - inclusive draw
    ee = np.zeros(E.EEPROM_WORDS, dtype=np.int64)

    ee[0x07:0x0A] = rng.integers(0, 0x10000, size=3)  # device id
    ee[E.W_CALIB_MODE] = _field(0 if calibrated_in_chess else 1, 11, 1)
    ee[E.W_CONTROL1_EE] = 0x1901
    ee[0x0F] = 0xBE33  # I2C address 0x33

    # Offsets: average, row/column/remnant scales and corrections.
    occ_row_scale, occ_col_scale, occ_rem_scale = r(1, 3), r(1, 3), r(0, 2)
    ee[E.W_OCC_SCALES] = (_field(r(2, 6), 12, 4) | _field(occ_row_scale, 8, 4)
                          | _field(occ_col_scale, 4, 4) | _field(occ_rem_scale, 0, 4))
    ee[E.W_OFFSET_AVG] = _field(r(-150, 50), 0, 16)
    ee[E.W_OCC_ROWS:E.W_OCC_ROWS + 6] = _nibble_words(rng, ROWS, -8, 7)
    ee[E.W_OCC_COLS:E.W_OCC_COLS + 8] = _nibble_words(rng, COLUMNS, -8, 7)

    # Sensitivity: reference around 2.5e-8..6e-8, corrections a few per cent.
    alpha_scale_code = r(7, 9)
    alpha_ref = int(rng.uniform(2.5e-8, 6e-8) * 2.0 ** (alpha_scale_code + 30))
    row_scale = max(int(np.log2(alpha_ref * 0.02)), 0)
    ee[E.W_ACC_SCALES] = (_field(alpha_scale_code, 12, 4) | _field(row_scale, 8, 4)
                          | _field(row_scale, 4, 4) | _field(max(row_scale - 3, 0), 0, 4))
    ee[E.W_ALPHA_REF] = alpha_ref
    ee[E.W_ACC_ROWS:E.W_ACC_ROWS + 6] = _nibble_words(rng, ROWS, -8, 7)
    ee[E.W_ACC_COLS:E.W_ACC_COLS + 8] = _nibble_words(rng, COLUMNS, -8, 7)

    ee[E.W_GAIN] = r(4500, 6500)
    ee[E.W_PTAT25] = r(11500, 12800)
    ee[E.W_KV_KT_PTAT] = _field(r(5, 12), 10, 6) | _field(r(320, 360), 0, 10)
    ee[E.W_KVDD_VDD25] = _field(r(-110, -90), 8, 8) | _field(r(110, 130), 0, 8)
    ee[E.W_KV_AVG] = _nibble_words(rng, 4, 2, 7)[0]
    ee[E.W_IL_CHESS] = _field(r(-3, 3), 11, 5) | _field(r(2, 10), 6, 5) | _field(r(2, 14), 0, 6)
    ee[E.W_KTA_AVG_CO] = _field(r(35, 75), 8, 8) | _field(r(35, 75), 0, 8)
    ee[E.W_KTA_AVG_CE] = _field(r(35, 75), 8, 8) | _field(r(35, 75), 0, 8)
    ee[E.W_SCALES] = (_field(resolution_bits - 16, 12, 2) | _field(r(3, 5), 8, 4)
                      | _field(r(4, 6), 4, 4) | _field(r(1, 3), 0, 4))
    ee[E.W_CP_ALPHA] = _field(r(-6, 6), 10, 6) | _field(r(70, 130), 0, 10)
    ee[E.W_CP_OFFSET] = _field(r(-8, 8), 10, 6) | _field(r(-110, -30), 0, 10)
    ee[E.W_CP_KV_KTA] = _field(r(3, 8), 8, 8) | _field(r(20, 50), 0, 8)
    tgc_code = int(rng.choice([-1, 1])) * r(1, 32) if tgc else 0
    ee[E.W_KSTA_TGC] = _field(r(-30, -10), 8, 8) | _field(tgc_code, 0, 8)
    ee[E.W_KSTO_12] = _field(r(-125, -85), 8, 8) | _field(r(-125, -85), 0, 8)
    ee[E.W_KSTO_34] = _field(r(-125, -85), 8, 8) | _field(r(-125, -85), 0, 8)
    ee[E.W_CT] = _field(2, 12, 2) | _field(10, 8, 4) | _field(15, 4, 4) | _field(11, 0, 4)

    # Pixel words: offset | alpha | kta | outlier flag (clear). A zero word
    # would mean a broken pixel, so draw again where one comes out zero.
    n = PIXELS
    pixels = np.zeros(n, dtype=np.int64)
    todo = np.ones(n, dtype=bool)
    while todo.any():
        k = int(todo.sum())
        word = ((rng.integers(-32, 32, size=k) & 0x3F) << 10 | (rng.integers(-32, 32, size=k) & 0x3F) << 4
                | (rng.integers(-4, 4, size=k) & 0x7) << 1)
        pixels[todo] = word
        todo = pixels == 0

    defective: list[int] = []
    while len(defective) < broken + outliers:
        candidate = int(rng.integers(0, n))
        if all(not _PIXEL_ADJACENT(candidate, d) for d in defective):
            defective.append(candidate)
    for i, pixel in enumerate(defective):
        pixels[pixel] = 0 if i < broken else pixels[pixel] | 1
    ee[E.W_PIXELS:] = pixels

    words = ee.astype(np.uint16)
    E.parse_eeprom(words)  # what it makes must always be valid
    return words
