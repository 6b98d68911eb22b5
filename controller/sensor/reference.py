"""Plain-numpy MLX90640 temperature maths, straight from the datasheet.

This is the readable version of what :mod:`controller.sensor.kernels` does
fast. It works from :class:`EepromParameters` directly (not from the
per-pixel tables that :class:`Calibration` precomputes), so that tests comparing
the two check the precomputation as well as the kernel. The inverse
(:meth:`Calibration.encode_pixels`) starts from :func:`ir_from_to` and checks
its answer with the forward functions.

Datasheet sections: 11.2.2.2 (Vdd), 11.2.2.3 (Ta), 11.2.2.4-11.2.2.7 (gain,
offset, compensation pixels, interleaved/chess corrections), 11.2.2.8
(emissivity), 11.2.2.9 (To, basic and extended ranges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .eeprom import EepromParameters, as_words, pixel_patterns, range_alpha_corrections
from .frame import (
    A_CP_SP0,
    A_CP_SP1,
    A_GAIN,
    A_PTAT,
    A_VBE,
    A_VDD,
    BAD_CONTROL,
    BAD_PTAT,
    BAD_SUBPAGE,
    BAD_TA,
    BAD_VDD,
    COLUMNS,
    CTRL_CHESS,
    CTRL_RESERVED,
    CTRL_RESOLUTION_MASK,
    CTRL_RESOLUTION_SHIFT,
    F_CONTROL,
    F_SUBPAGE,
    FRAME_WORDS,
    PIXELS,
    READ_ERROR_WORD,
    ROWS,
    TA_RANGE_C,
    VDD_RANGE_V,
    ZERO_GAIN,
    check_tr,
    frame_error,
)

KELVIN = 273.15
TR_OPEN_AIR_SHIFT = 8.0  # reflected temperature = Ta - 8 degC for a sensor in open air (Melexis)

IL_PATTERN, CHESS_PATTERN, CONVERSION_PATTERN = pixel_patterns()


def s16(word) -> int:
    """A 16-bit word as a signed integer."""
    word = int(word)
    return word - 0x10000 if word > 0x7FFF else word


@dataclass(frozen=True)
class FrameState:
    """What the auxiliary words of one subpage say, decoded."""

    vdd: float
    ta: float
    gain: float
    chess: bool
    subpage: int
    cp: tuple[float, float]  # compensated compensation-pixel readings, subpage 0 and 1


def supply_voltage(p: EepromParameters, frame: np.ndarray) -> float:
    """Vdd in volts, with the ADC-resolution correction (11.2.2.2)."""
    res_ram = (int(frame[F_CONTROL]) & CTRL_RESOLUTION_MASK) >> CTRL_RESOLUTION_SHIFT
    correction = 2.0 ** p.resolution_ee / 2.0 ** res_ram
    return (correction * s16(frame[A_VDD]) - p.vdd_25) / p.k_vdd + 3.3


def ambient_temperature(p: EepromParameters, frame: np.ndarray, vdd: float) -> float:
    """Ta in degC from V_PTAT and V_BE (11.2.2.3)."""
    ptat = s16(frame[A_PTAT])
    denominator = ptat * p.alpha_ptat + s16(frame[A_VBE])
    if denominator == 0:
        raise frame_error(BAD_PTAT, 0.0)
    ptat_art = ptat / denominator * 2.0 ** 18
    return (ptat_art / (1 + p.kv_ptat * (vdd - 3.3)) - p.v_ptat_25) / p.kt_ptat + 25.0


def frame_state(p: EepromParameters, frame) -> FrameState:
    """Decode and check the auxiliary part of a subpage."""
    f = as_words(frame, FRAME_WORDS, "frame")
    control = int(f[F_CONTROL])
    subpage = int(f[F_SUBPAGE])
    if subpage not in (0, 1):
        raise frame_error(BAD_SUBPAGE, subpage)
    if control & CTRL_RESERVED:
        raise frame_error(BAD_CONTROL, control)
    vdd = supply_voltage(p, f)
    if not VDD_RANGE_V[0] <= vdd <= VDD_RANGE_V[1]:
        raise frame_error(BAD_VDD, vdd)
    ta = ambient_temperature(p, f, vdd)
    if not TA_RANGE_C[0] <= ta <= TA_RANGE_C[1]:
        raise frame_error(BAD_TA, ta)
    gain_word = s16(f[A_GAIN])
    if gain_word == 0:
        raise frame_error(ZERO_GAIN, 0.0)
    gain = p.gain_ee / gain_word
    chess = bool(control & CTRL_CHESS)
    drift = (1 + p.cp_kta * (ta - 25)) * (1 + p.cp_kv * (vdd - 3.3))
    cp_offset1 = p.cp_offset[1] + (p.il_chess_c[0] if chess != p.calibrated_in_chess else 0.0)
    cp = (s16(f[A_CP_SP0]) * gain - p.cp_offset[0] * drift,
          s16(f[A_CP_SP1]) * gain - cp_offset1 * drift)
    return FrameState(vdd=vdd, ta=ta, gain=gain, chess=chess, subpage=subpage, cp=cp)


def subpage_pattern(chess: bool) -> np.ndarray:
    """Per pixel, the subpage (0 or 1) that measures it in the given reading pattern."""
    return CHESS_PATTERN if chess else IL_PATTERN


def offset_term(p: EepromParameters, state: FrameState) -> np.ndarray:
    """Pixel offset at this frame's Ta and Vdd (11.2.2.5.3)."""
    return p.offset * (1 + p.kta * (state.ta - 25)) * (1 + p.kv * (state.vdd - 3.3))


def pattern_correction(p: EepromParameters, state: FrameState) -> np.ndarray:
    """The interleaved/chess correction, non-zero only when the reading pattern
    differs from the one the sensor was calibrated in (11.2.2.6)."""
    if state.chess == p.calibrated_in_chess:
        return np.zeros(PIXELS)
    return p.il_chess_c[2] * (2 * IL_PATTERN - 1) - p.il_chess_c[1] * CONVERSION_PATTERN


def ir_from_raw(p: EepromParameters, raw: np.ndarray, state: FrameState, emissivity: float) -> np.ndarray:
    """Compensated IR signal per pixel from signed raw counts (all 768)."""
    cp = np.asarray(state.cp)[subpage_pattern(state.chess)]
    ir = raw * state.gain - offset_term(p, state) + pattern_correction(p, state) - p.tgc * cp
    return ir / emissivity


def raw_from_ir(p: EepromParameters, ir: np.ndarray, state: FrameState, emissivity: float) -> np.ndarray:
    """Inverse of :func:`ir_from_raw`, unrounded."""
    cp = np.asarray(state.cp)[subpage_pattern(state.chess)]
    return (ir * emissivity + p.tgc * cp + offset_term(p, state) - pattern_correction(p, state)) / state.gain


def reflected_temperature(state: FrameState, tr: float | None) -> float:
    """``tr``, or Ta - 8 for None; ValueError for NaN, infinity or a value outside frame.TR_RANGE_C."""
    tr = check_tr(tr)
    return state.ta - TR_OPEN_AIR_SHIFT if tr is None else tr


def _ta_tr(state: FrameState, emissivity: float, tr: float | None) -> float:
    """The background radiation term (11.2.2.8)."""
    ta4 = (state.ta + KELVIN) ** 4
    tr4 = (reflected_temperature(state, tr) + KELVIN) ** 4
    return tr4 - (tr4 - ta4) / emissivity


def sensitivity(p: EepromParameters, state: FrameState) -> np.ndarray:
    """alpha_comp per pixel: TGC-compensated, scaled by KsTa (11.2.2.8)."""
    alpha = p.alpha - p.tgc * (p.cp_alpha[0] + p.cp_alpha[1]) / 2.0
    return alpha * (1 + p.ks_ta * (state.ta - 25))


def temperature_range(p: EepromParameters, to: np.ndarray) -> np.ndarray:
    """Index of the extended temperature range (0..3) that ``to`` falls in."""
    return (to >= p.ct[1]).astype(np.int64) + (to >= p.ct[2]) + (to >= p.ct[3])


def to_from_ir(p: EepromParameters, ir: np.ndarray, state: FrameState, emissivity: float = 1.0,
               tr: float | None = None) -> np.ndarray:
    """Object temperature per pixel (11.2.2.9): the basic-range estimate picks
    the range, then the range's KsTo and sensitivity correction give To."""
    ta_tr = _ta_tr(state, emissivity, tr)
    ac = sensitivity(p, state)
    corr = range_alpha_corrections(p.ks_to, p.ct)
    with np.errstate(invalid="ignore", divide="ignore"):
        sx = p.ks_to[1] * np.sqrt(np.sqrt(ac ** 3 * (ir + ac * ta_tr)))
        to = np.sqrt(np.sqrt(ir / (ac * (1 - p.ks_to[1] * KELVIN) + sx) + ta_tr)) - KELVIN
        r = temperature_range(p, np.nan_to_num(to, nan=0.0))
        return np.sqrt(np.sqrt(ir / (ac * corr[r] * (1 + p.ks_to[r] * (to - p.ct[r]))) + ta_tr)) - KELVIN


def ir_from_to(p: EepromParameters, to: np.ndarray, state: FrameState, emissivity: float = 1.0,
               tr: float | None = None) -> np.ndarray:
    """Inverse of :func:`to_from_ir`: the IR signal that reads as ``to``.

    The range and the KsTo term depend on the basic-range estimate, which in
    turn depends on the IR signal; a few fixed-point steps settle it."""
    ta_tr = _ta_tr(state, emissivity, tr)
    ac = sensitivity(p, state)
    corr = range_alpha_corrections(p.ks_to, p.ct)
    radiance = (np.asarray(to, dtype=np.float64) + KELVIN) ** 4 - ta_tr
    first = np.asarray(to, dtype=np.float64)
    ir = radiance  # replaced by each of the steps below
    for _ in range(4):
        r = temperature_range(p, first)
        ir = radiance * ac * corr[r] * (1 + p.ks_to[r] * (first - p.ct[r]))
        sx = p.ks_to[1] * np.sqrt(np.sqrt(np.maximum(ac ** 3 * (ir + ac * ta_tr), 0.0)))
        first = np.sqrt(np.sqrt(np.maximum(ir / (ac * (1 - p.ks_to[1] * KELVIN) + sx) + ta_tr, 0.0))) - KELVIN
    return ir


def fill_defective(p: EepromParameters, to: np.ndarray, chess: bool, subpage: int) -> None:
    """Replace defective pixels of ``subpage`` in the flat image ``to`` from
    neighbours measured in the same subpage, in place.

    Chess pattern: the diagonal neighbours share the subpage; the median of
    the four inside the array, the mean of two on an edge, the one at a
    corner. Interleaved pattern: the neighbours in the same row share the
    subpage; at the ends the single neighbour or the mean of both, inside the
    row an extrapolation from the side whose gradient is smaller (when both
    pixels two steps away are good), else the mean of both. A neighbour that
    is NaN (a read error) sorts last in the median, as in the kernel."""
    pattern = subpage_pattern(chess)
    defective = set(p.defective_pixels)
    for pixel in p.defective_pixels:
        if pattern[pixel] != subpage:
            continue
        r, c = divmod(pixel, COLUMNS)
        if chess:
            vals = np.sort([to[(r + dr) * COLUMNS + c + dc] for dr in (-1, 1) for dc in (-1, 1)
                            if 0 <= r + dr < ROWS and 0 <= c + dc < COLUMNS]).tolist()
            to[pixel] = vals[0] if len(vals) == 1 else (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
        elif c == 0:
            to[pixel] = to[pixel + 1]
        elif c == COLUMNS - 1:
            to[pixel] = to[pixel - 1]
        elif c in (1, COLUMNS - 2) or pixel - 2 in defective or pixel + 2 in defective:
            to[pixel] = (to[pixel - 1] + to[pixel + 1]) / 2
        else:
            right = to[pixel + 1] - to[pixel + 2]
            left = to[pixel - 1] - to[pixel - 2]
            to[pixel] = to[pixel - 1] + left if abs(right) > abs(left) else to[pixel + 1] + right


def subpage_to(p: EepromParameters, frame, emissivity: float = 1.0, tr: float | None = None) -> np.ndarray:
    """(24, 32) float64 To of the pixels this subpage measured, NaN elsewhere.

    A pixel whose word is the driver's read-error mark (0x7FFF) is NaN, and
    so is a defective pixel filled from such a neighbour."""
    f = as_words(frame, FRAME_WORDS, "frame")
    state = frame_state(p, f)
    raw = f[:PIXELS].astype(np.int64)
    marked = raw == READ_ERROR_WORD
    raw = np.where(raw > 0x7FFF, raw - 0x10000, raw).astype(np.float64)
    to = to_from_ir(p, ir_from_raw(p, raw, state, emissivity), state, emissivity, tr)
    to[marked] = np.nan
    fill_defective(p, to, state.chess, state.subpage)
    to[subpage_pattern(state.chess) != state.subpage] = np.nan
    return to.reshape(ROWS, COLUMNS)
