"""MLX90640 EEPROM: the 832 calibration words and the parameters they encode.

Follows the parameter-extraction part of the Melexis MLX90640 datasheet
(section 11.1, "Calculating the parameters from EEPROM") and the field layout
of its EEPROM map (section 11.1.1). Every field is decoded exactly, as
float64, with no intermediate rounding; the per-pixel constants that the
frame maths needs are derived from these in :mod:`controller.sensor.calibration`.

:func:`parse_eeprom` validates what it reads: a field that no real sensor can
carry (a zero supply-voltage slope, a non-positive sensitivity, too many or
adjacent defective pixels, ...) raises :class:`EepromError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import COLUMNS, PIXELS

EEPROM_WORDS = 832
MAX_DEFECTIVE_PIXELS = 4

# Word indices inside the 832-word dump (EEPROM address 0x2400 + index).
W_CONTROL1_EE = 0x0C  # the control register value the sensor loads at power-up
W_CALIB_MODE = 0x0A  # bit 11: 0 = calibrated in chess mode
W_OCC_SCALES = 0x10  # alphaPTAT | occ row scale | occ column scale | occ remnant scale
W_OFFSET_AVG = 0x11
W_OCC_ROWS = 0x12  # 6 words, 4 rows per word
W_OCC_COLS = 0x18  # 8 words, 4 columns per word
W_ACC_SCALES = 0x20  # alpha scale | acc row scale | acc column scale | acc remnant scale
W_ALPHA_REF = 0x21
W_ACC_ROWS = 0x22
W_ACC_COLS = 0x28
W_GAIN = 0x30
W_PTAT25 = 0x31
W_KV_KT_PTAT = 0x32
W_KVDD_VDD25 = 0x33
W_KV_AVG = 0x34
W_IL_CHESS = 0x35
W_KTA_AVG_CO = 0x36  # row odd / column odd (high byte), row even / column odd (low byte)
W_KTA_AVG_CE = 0x37  # row odd / column even (high byte), row even / column even (low byte)
W_SCALES = 0x38  # resolution (13:12) | kv scale (11:8) | kta scale 1 (7:4) | kta scale 2 (3:0)
W_CP_ALPHA = 0x39
W_CP_OFFSET = 0x3A
W_CP_KV_KTA = 0x3B
W_KSTA_TGC = 0x3C
W_KSTO_12 = 0x3D
W_KSTO_34 = 0x3E
W_CT = 0x3F
W_PIXELS = 0x40


class EepromError(ValueError):
    """An EEPROM dump that cannot come from a working MLX90640."""


def bits(word: int, shift: int, width: int, signed: bool = False) -> int:
    """The field of ``width`` bits starting at bit ``shift``, two's complement if ``signed``."""
    value = (int(word) >> shift) & ((1 << width) - 1)
    if signed and value >= 1 << (width - 1):
        value -= 1 << width
    return value


def bits_array(words: np.ndarray, shift: int, width: int, signed: bool = False) -> np.ndarray:
    """:func:`bits` over an array of words, as int64."""
    value = (words.astype(np.int64) >> shift) & ((1 << width) - 1)
    if signed:
        value = np.where(value >= 1 << (width - 1), value - (1 << width), value)
    return value


def _nibbles(words: np.ndarray) -> np.ndarray:
    """Signed 4-bit fields, least significant nibble of each word first."""
    return np.stack([bits_array(words, 4 * k, 4, signed=True) for k in range(4)], axis=1).ravel()


def pixel_patterns() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: interleaved pattern (row parity), chess pattern, and the
    'conversion pattern' the datasheet uses for the interleaved-mode correction."""
    p = np.arange(PIXELS)
    il = (p // COLUMNS) % 2
    chess = il ^ (p % 2)
    conversion = ((p + 2) // 4 - (p + 3) // 4 + (p + 1) // 4 - p // 4) * (1 - 2 * il)
    return il, chess, conversion


def defective_pixels_adjacent(a: int, b: int) -> bool:
    """True if two pixels touch, including diagonally (the datasheet forbids it)."""
    ra, ca = divmod(a, COLUMNS)
    rb, cb = divmod(b, COLUMNS)
    return abs(ra - rb) <= 1 and abs(ca - cb) <= 1


@dataclass(frozen=True)
class EepromParameters:
    """Everything the EEPROM says about one sensor, decoded to physical units."""

    k_vdd: float
    vdd_25: float
    kv_ptat: float
    kt_ptat: float
    v_ptat_25: float
    alpha_ptat: float
    gain_ee: float
    tgc: float
    resolution_ee: int
    ks_ta: float
    ks_to: np.ndarray  # (4,) per range: below 0 degC, 0..CT3, CT3..CT4, above CT4
    ct: np.ndarray  # (4,) corner temperatures: -40, 0, CT3, CT4
    cp_alpha: np.ndarray  # (2,) compensation pixel sensitivity per subpage
    cp_offset: np.ndarray  # (2,)
    cp_kta: float
    cp_kv: float
    alpha: np.ndarray  # (768,) pixel sensitivity, before TGC and KsTa
    offset: np.ndarray  # (768,)
    kta: np.ndarray  # (768,)
    kv: np.ndarray  # (768,)
    il_chess_c: np.ndarray  # (3,) interleaved-mode corrections C1, C2, C3
    calibrated_in_chess: bool
    broken_pixels: tuple[int, ...]
    outlier_pixels: tuple[int, ...]
    control_ee: int

    @property
    def defective_pixels(self) -> tuple[int, ...]:
        return tuple(sorted(self.broken_pixels + self.outlier_pixels))


def as_words(words, expected: int, what: str) -> np.ndarray:
    """``words`` as a contiguous uint16 array of length ``expected``, or a ValueError."""
    if isinstance(words, np.ndarray) and words.dtype == np.uint16:
        arr = words
    else:
        try:
            arr = np.asarray(words)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what}: not a sequence of 16-bit words ({exc})") from None
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{what}: words must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() > 0xFFFF):
            raise ValueError(f"{what}: words must lie in 0..65535")
        arr = arr.astype(np.uint16)
    if arr.ndim != 1 or arr.shape[0] != expected:
        raise ValueError(f"{what}: expected {expected} words, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def parse_eeprom(words) -> EepromParameters:
    """Decode and validate an 832-word EEPROM dump."""
    ee = as_words(words, EEPROM_WORDS, "EEPROM")
    w = [int(x) for x in ee[:W_PIXELS]]
    pix = ee[W_PIXELS:].astype(np.int64)

    # Supply voltage (datasheet 11.1.1).
    k_vdd = bits(w[W_KVDD_VDD25], 8, 8, signed=True) * 32
    vdd_25 = (bits(w[W_KVDD_VDD25], 0, 8) - 256) * 32 - 8192
    if k_vdd == 0:
        raise EepromError("EEPROM field K_Vdd (word 0x2433, high byte) is 0: no sensor has a flat supply slope")

    # Ambient temperature (11.1.2).
    kv_ptat = bits(w[W_KV_KT_PTAT], 10, 6, signed=True) / 4096.0
    kt_ptat = bits(w[W_KV_KT_PTAT], 0, 10, signed=True) / 8.0
    v_ptat_25 = float(bits(w[W_PTAT25], 0, 16))
    alpha_ptat = bits(w[W_OCC_SCALES], 12, 4) / 4.0 + 8.0
    if kt_ptat == 0:
        raise EepromError("EEPROM field Kt_PTAT (word 0x2432, bits 9:0) is 0")
    if v_ptat_25 <= 0:
        raise EepromError(f"EEPROM field V_PTAT25 (word 0x2431) is {v_ptat_25:.0f}, must be positive")

    # Gain (11.1.7).
    gain_ee = float(bits(w[W_GAIN], 0, 16, signed=True))
    if gain_ee <= 0:
        raise EepromError(f"EEPROM field GAIN (word 0x2430) is {gain_ee:.0f}, must be positive")

    # Offsets (11.1.3).
    occ_rem_scale = bits(w[W_OCC_SCALES], 0, 4)
    occ_col_scale = bits(w[W_OCC_SCALES], 4, 4)
    occ_row_scale = bits(w[W_OCC_SCALES], 8, 4)
    offset_avg = bits(w[W_OFFSET_AVG], 0, 16, signed=True)
    occ_row = _nibbles(ee[W_OCC_ROWS:W_OCC_ROWS + 6])
    occ_col = _nibbles(ee[W_OCC_COLS:W_OCC_COLS + 8])
    rows = np.arange(PIXELS) // COLUMNS
    cols = np.arange(PIXELS) % COLUMNS
    offset = (offset_avg
              + occ_row[rows] * (1 << occ_row_scale)
              + occ_col[cols] * (1 << occ_col_scale)
              + bits_array(pix, 10, 6, signed=True) * (1 << occ_rem_scale)).astype(np.float64)

    # Sensitivity alpha (11.1.4).
    acc_rem_scale = bits(w[W_ACC_SCALES], 0, 4)
    acc_col_scale = bits(w[W_ACC_SCALES], 4, 4)
    acc_row_scale = bits(w[W_ACC_SCALES], 8, 4)
    alpha_scale = bits(w[W_ACC_SCALES], 12, 4) + 30
    alpha_ref = bits(w[W_ALPHA_REF], 0, 16)
    acc_row = _nibbles(ee[W_ACC_ROWS:W_ACC_ROWS + 6])
    acc_col = _nibbles(ee[W_ACC_COLS:W_ACC_COLS + 8])
    alpha = (alpha_ref
             + acc_row[rows] * (1 << acc_row_scale)
             + acc_col[cols] * (1 << acc_col_scale)
             + bits_array(pix, 4, 6, signed=True) * (1 << acc_rem_scale)) / 2.0 ** alpha_scale

    # Kta (11.1.5): the average depends on row and column parity.
    kta_scale1 = bits(w[W_SCALES], 4, 4) + 8
    kta_scale2 = bits(w[W_SCALES], 0, 4)
    kta_avg = np.array([
        bits(w[W_KTA_AVG_CO], 8, 8, signed=True),  # row odd (1-based), column odd
        bits(w[W_KTA_AVG_CE], 8, 8, signed=True),  # row odd, column even
        bits(w[W_KTA_AVG_CO], 0, 8, signed=True),  # row even, column odd
        bits(w[W_KTA_AVG_CE], 0, 8, signed=True),  # row even, column even
    ])
    split = 2 * (rows % 2) + cols % 2
    kta = (kta_avg[split] + bits_array(pix, 1, 3, signed=True) * (1 << kta_scale2)) / 2.0 ** kta_scale1

    # Kv (11.1.6): one value per row/column parity.
    kv_scale = bits(w[W_SCALES], 8, 4)
    kv_avg = np.array([
        bits(w[W_KV_AVG], 12, 4, signed=True),
        bits(w[W_KV_AVG], 4, 4, signed=True),
        bits(w[W_KV_AVG], 8, 4, signed=True),
        bits(w[W_KV_AVG], 0, 4, signed=True),
    ])
    kv = kv_avg[split] / 2.0 ** kv_scale

    # KsTa, TGC (11.1.8, 11.1.9), resolution (11.1.11).
    ks_ta = bits(w[W_KSTA_TGC], 8, 8, signed=True) / 8192.0
    tgc = bits(w[W_KSTA_TGC], 0, 8, signed=True) / 32.0
    resolution_ee = bits(w[W_SCALES], 12, 2)

    # KsTo and corner temperatures (11.1.10).
    step = bits(w[W_CT], 12, 2) * 10
    ct3 = bits(w[W_CT], 4, 4) * step
    ct4 = ct3 + bits(w[W_CT], 8, 4) * step
    ks_to_scale = 2.0 ** (bits(w[W_CT], 0, 4) + 8)
    ks_to = np.array([
        bits(w[W_KSTO_12], 0, 8, signed=True),
        bits(w[W_KSTO_12], 8, 8, signed=True),
        bits(w[W_KSTO_34], 0, 8, signed=True),
        bits(w[W_KSTO_34], 8, 8, signed=True),
    ]) / ks_to_scale
    ct = np.array([-40.0, 0.0, float(ct3), float(ct4)])
    if not 0 < ct3 < ct4:
        raise EepromError(
            f"EEPROM corner temperatures (word 0x243F) give CT3={ct3} and CT4={ct4} degC; "
            "need 0 < CT3 < CT4")

    # Compensation pixels (11.1.12).
    cp_alpha_scale = bits(w[W_ACC_SCALES], 12, 4) + 27
    cp_alpha0 = bits(w[W_CP_ALPHA], 0, 10, signed=True) / 2.0 ** cp_alpha_scale
    cp_alpha1 = cp_alpha0 * (1 + bits(w[W_CP_ALPHA], 10, 6, signed=True) / 128.0)
    cp_offset0 = bits(w[W_CP_OFFSET], 0, 10, signed=True)
    cp_offset1 = cp_offset0 + bits(w[W_CP_OFFSET], 10, 6, signed=True)
    cp_kta = bits(w[W_CP_KV_KTA], 0, 8, signed=True) / 2.0 ** kta_scale1
    cp_kv = bits(w[W_CP_KV_KTA], 8, 8, signed=True) / 2.0 ** kv_scale

    # Interleaved / chess corrections (11.1.13).
    calibrated_in_chess = bits(w[W_CALIB_MODE], 11, 1) == 0
    il_chess_c = np.array([
        bits(w[W_IL_CHESS], 0, 6, signed=True) / 16.0,
        bits(w[W_IL_CHESS], 6, 5, signed=True) / 2.0,
        bits(w[W_IL_CHESS], 11, 5, signed=True) / 8.0,
    ])

    # Defective pixels (11.1.14): a zero word is broken, bit 0 marks an outlier.
    broken = tuple(int(i) for i in np.flatnonzero(pix == 0))
    outliers = tuple(int(i) for i in np.flatnonzero((pix != 0) & (pix & 1 == 1)))
    defective = sorted(broken + outliers)
    if len(defective) > MAX_DEFECTIVE_PIXELS:
        raise EepromError(
            f"EEPROM pixel words flag {len(broken)} broken and {len(outliers)} outlier pixels; "
            f"a sensor in specification has at most {MAX_DEFECTIVE_PIXELS}")
    for i, a in enumerate(defective):
        for b in defective[i + 1:]:
            if defective_pixels_adjacent(a, b):
                raise EepromError(
                    f"EEPROM pixel words flag adjacent defective pixels {divmod(a, COLUMNS)} and "
                    f"{divmod(b, COLUMNS)} (row, column); they cannot be filled from neighbours")

    params = EepromParameters(
        k_vdd=float(k_vdd), vdd_25=float(vdd_25), kv_ptat=kv_ptat, kt_ptat=kt_ptat,
        v_ptat_25=v_ptat_25, alpha_ptat=alpha_ptat, gain_ee=gain_ee, tgc=tgc,
        resolution_ee=resolution_ee, ks_ta=ks_ta, ks_to=ks_to, ct=ct,
        cp_alpha=np.array([cp_alpha0, cp_alpha1]), cp_offset=np.array([float(cp_offset0), float(cp_offset1)]),
        cp_kta=cp_kta, cp_kv=cp_kv, alpha=alpha, offset=offset, kta=kta, kv=kv,
        il_chess_c=il_chess_c, calibrated_in_chess=calibrated_in_chess,
        broken_pixels=broken, outlier_pixels=outliers, control_ee=w[W_CONTROL1_EE])
    _check_sensitivities(params)
    return params


def _check_sensitivities(p: EepromParameters) -> None:
    """Sensitivities must stay positive once TGC and the range corrections apply."""
    alpha_comp = p.alpha - p.tgc * (p.cp_alpha[0] + p.cp_alpha[1]) / 2.0
    bad = np.flatnonzero(alpha_comp <= 0)
    if bad.size:
        r, c = divmod(int(bad[0]), COLUMNS)
        raise EepromError(
            f"EEPROM sensitivity (alpha, words 0x2420-0x242F and pixel words) is not positive "
            f"for {bad.size} pixel(s), first at row {r} column {c}")
    if p.cp_alpha[0] <= 0 or p.cp_alpha[1] <= 0:
        raise EepromError("EEPROM compensation-pixel sensitivity (word 0x2439) is not positive")
    corr = range_alpha_corrections(p.ks_to, p.ct)
    if np.any(corr <= 0) or 1 - p.ks_to[1] * 273.15 <= 0:
        raise EepromError(f"EEPROM KsTo (words 0x243D-0x243F) gives non-positive range corrections {corr}")


def range_alpha_corrections(ks_to: np.ndarray, ct: np.ndarray) -> np.ndarray:
    """Sensitivity correction per temperature range (datasheet 11.2.2.9.1.3)."""
    r3 = 1 + ks_to[1] * (ct[2] - ct[1])
    return np.array([
        1 / (1 + ks_to[0] * (ct[1] - ct[0])),
        1.0,
        r3,
        r3 * (1 + ks_to[2] * (ct[3] - ct[2])),
    ])
