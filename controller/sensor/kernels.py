"""numba kernels: one subpage of raw words to temperatures.

The maths is that of :mod:`controller.sensor.reference`, rearranged so that
everything that depends only on the sensor is computed once by
:class:`controller.sensor.calibration.Calibration` and each subpage costs a few
multiply-adds and two fourth roots per pixel. Inputs are contiguous arrays and
a float64 vector of scalars whose layout is given by the ``K_*`` indices below;
no Python object is touched inside the loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from .frame import (
    A_CP_SP0,
    A_CP_SP1,
    A_GAIN,
    A_PTAT,
    A_VBE,
    A_VDD,
    BAD_CONTROL,
    BAD_EMISSIVITY,
    BAD_PTAT,
    BAD_SUBPAGE,
    BAD_TA,
    BAD_TR,
    BAD_VDD,
    COLUMNS,
    CTRL_CHESS,
    CTRL_RESERVED,
    CTRL_RESOLUTION_MASK,
    CTRL_RESOLUTION_SHIFT,
    F_CONTROL,
    F_SUBPAGE,
    FRAME_WORDS,
    OK,
    PIXELS,
    READ_ERROR_WORD,
    ROWS,
    SUBPAGE_PIXELS,
    TA_RANGE_C,
    TR_FROM_TA,
    TR_RANGE_C,
    VDD_RANGE_V,
    ZERO_GAIN,
)

KELVIN = 273.15

# Layout of the per-sensor scalar vector.
K_KVDD = 0
K_VDD25 = 1
K_RES_EE = 2  # 2 ** resolution_ee
K_KV_PTAT = 3
K_KT_PTAT = 4
K_VPTAT25 = 5
K_ALPHA_PTAT = 6
K_GAIN_EE = 7
K_TGC = 8
K_KS_TA = 9
K_CP_OFF0 = 10
K_CP_OFF1 = 11
K_CP_KTA = 12
K_CP_KV = 13
K_IL_C1 = 14
K_CAL_CHESS = 15  # 1.0 if calibrated in chess mode
K_KS_TO = 16  # 4 values
K_CT = 20  # 4 values
K_CORR = 24  # 4 values: range sensitivity corrections
K_KS_TO1_BASIC = 28  # 1 - KsTo(range 2) * 273.15
N_SCALARS = 29

# Defective-pixel fill plans follow the scalars in the same vector: up to four
# plans per (chess, subpage), six numbers each: target, method, n1, n2, n3, n4
# (target -1 when unused).
K_FILLS = N_SCALARS
FILL_SLOTS = 4
FILL_FIELDS = 6
K_LENGTH = K_FILLS + 2 * 2 * FILL_SLOTS * FILL_FIELDS

FILL_COPY = 0  # n1
FILL_MEAN2 = 1  # (n1 + n2) / 2
FILL_MEDIAN4 = 2  # median of n1..n4
FILL_GRADIENT = 3  # n1 = p-1, n2 = p-2, n3 = p+1, n4 = p+2

# Rows of the per-pixel table (float32, 768 pixels each).
P_OFFSET = 0  # offset
P_OFFSET_KTA = 1  # offset * kta
P_OFFSET_KV = 2  # offset * kv
P_OFFSET_KTA_KV = 3  # offset * kta * kv
P_PATTERN = 4  # interleaved/chess correction, used when the mode differs from calibration
P_INV_ALPHA = 5  # 1 / (alpha - TGC * mean CP alpha)
N_PIXEL_ROWS = 6

_FAST = {"contract", "arcp", "nsz"}  # no assumption about NaN or infinity: those are checked
BAD_SHAPE = -1  # the caller's arrays have the wrong shape (it then checks them itself)


@njit(cache=True, inline="always")
def _s16(word):
    w = np.int32(word)
    return w - ((w & 0x8000) << 1)


@njit(cache=True, error_model="numpy")
def frame_aux(frame, k):
    """Check the control and subpage words and decode Vdd, Ta and gain.

    Returns (status, vdd, ta, gain, chess, subpage); status is a ``frame``
    module code, OK when the frame can be used; on failure the second value is
    the offending quantity."""
    control = np.int32(frame[F_CONTROL])
    subpage = np.int32(frame[F_SUBPAGE])
    if subpage > 1:
        return BAD_SUBPAGE, float(subpage), 0.0, 0.0, False, 0
    if control & CTRL_RESERVED:
        return BAD_CONTROL, float(control), 0.0, 0.0, False, 0
    res_ram = (control & CTRL_RESOLUTION_MASK) >> CTRL_RESOLUTION_SHIFT
    vdd = (k[K_RES_EE] / (1 << res_ram) * _s16(frame[A_VDD]) - k[K_VDD25]) / k[K_KVDD] + 3.3
    if not (VDD_RANGE_V[0] <= vdd <= VDD_RANGE_V[1]):
        return BAD_VDD, vdd, 0.0, 0.0, False, 0
    ptat = float(_s16(frame[A_PTAT]))
    denominator = ptat * k[K_ALPHA_PTAT] + _s16(frame[A_VBE])
    if denominator == 0.0:
        return BAD_PTAT, 0.0, 0.0, 0.0, False, 0
    ptat_art = ptat / denominator * 262144.0
    ta = (ptat_art / (1.0 + k[K_KV_PTAT] * (vdd - 3.3)) - k[K_VPTAT25]) / k[K_KT_PTAT] + 25.0
    if not (TA_RANGE_C[0] <= ta <= TA_RANGE_C[1]):
        return BAD_TA, ta, 0.0, 0.0, False, 0
    gain_word = _s16(frame[A_GAIN])
    if gain_word == 0:
        return ZERO_GAIN, 0.0, 0.0, 0.0, False, 0
    chess = (control & CTRL_CHESS) != 0
    return OK, vdd, ta, k[K_GAIN_EE] / gain_word, chess, subpage


@njit(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
def _pixel_to(raw, o, o_kta, o_kv, o_kta_kv, pattern, inv_alpha, dta, dv, dtadv, gain, bias, pattern_weight,
              inv_e, inv_ksta, ta_tr, ks_to0, ks_to1, ks_to2, ks_to3, ct0, ct2, ct3, corr0, corr2, corr3,
              basic, kelvin, zero, one):
    """To of one pixel from its signed raw count (all float32 scalars)."""
    offset = o + o_kta * dta + o_kv * dv + o_kta_kv * dtadv
    ir = (raw * gain - offset + pattern_weight * pattern + bias) * inv_e
    # ir / alpha_comp, with alpha_comp = alpha * (1 + KsTa (Ta - 25)).
    u = ir * inv_alpha * inv_ksta
    # Basic range: Sx = KsTo2 * alpha_comp * (ir / alpha_comp + TaTr) ** (1/4).
    sx_over_alpha = ks_to1 * np.sqrt(np.sqrt(u + ta_tr))
    to = np.sqrt(np.sqrt(u / (basic + sx_over_alpha) + ta_tr)) - kelvin
    # Extended ranges: the basic estimate picks the range's KsTo and correction.
    above3 = to >= ct3
    above2 = to >= ct2
    above1 = to >= zero
    corr = corr3 if above3 else (corr2 if above2 else (one if above1 else corr0))
    ks_to = ks_to3 if above3 else (ks_to2 if above2 else (ks_to1 if above1 else ks_to0))
    ct = ct3 if above3 else (ct2 if above2 else (zero if above1 else ct0))
    return np.sqrt(np.sqrt(u / (corr * (one + ks_to * (to - ct))) + ta_tr)) - kelvin


def _signatures():
    """The argument types ``subpage_to`` accepts: anything else is a TypeError at the call,
    which lets the caller take its checked slow path instead of paying for checks every time."""
    result = types.Tuple((types.int64, types.float64, types.float64, types.int64, types.int64, types.boolean,
                          types.int64))
    k = types.Array(types.float64, 1, "C", readonly=True)
    table = types.Array(types.float32, 2, "C", readonly=True)
    image = types.Array(types.float32, 2, "C")
    return [result(types.Array(types.uint16, 1, "C", readonly=ro), k, table, image, types.float64, types.float64)
            for ro in (False, True)]


@njit(_signatures(), cache=True, fastmath=_FAST, error_model="numpy")
def subpage_to(frame, k, table, image, emissivity, tr):
    """Temperatures of one subpage, written into ``out``.

    frame: uint16[834]; k: float64[K_LENGTH]; table: float32[N_PIXEL_ROWS,
    768]; image: float32[24, 32], NaN outside the subpage; tr: the reflected
    temperature in TR_RANGE_C, or TR_FROM_TA for Ta - 8 (NaN or anything else
    is BAD_TR).

    Returns (status, value, ta, invalid, subpage, chess, read_errors): on a
    non-OK status, value is the offending quantity and ``image`` is untouched;
    otherwise value is Vdd, read_errors counts pixels of the subpage left NaN
    because the driver marked their word as a read error (READ_ERROR_WORD),
    directly or through the defective-pixel fill, and invalid counts the other
    pixels of the subpage left without a finite temperature."""
    if frame.shape[0] != FRAME_WORDS or image.shape[0] != ROWS or image.shape[1] != COLUMNS:
        return BAD_SHAPE, 0.0, 0.0, 0, 0, False, 0
    if not (0.0 < emissivity <= 1.0):
        return BAD_EMISSIVITY, emissivity, 0.0, 0, 0, False, 0
    if tr != TR_FROM_TA and not (TR_RANGE_C[0] <= tr <= TR_RANGE_C[1]):
        return BAD_TR, tr, 0.0, 0, 0, False, 0
    status, value, ta, gain, chess, subpage = frame_aux(frame, k)
    if status != OK:
        return status, value, ta, 0, 0, False, 0
    vdd = value
    out = image.reshape(PIXELS)
    dta = ta - 25.0
    dv = vdd - 3.3

    mismatch = chess != (k[K_CAL_CHESS] != 0.0)
    drift = (1.0 + k[K_CP_KTA] * dta) * (1.0 + k[K_CP_KV] * dv)
    if subpage == 0:
        cp = _s16(frame[A_CP_SP0]) * gain - k[K_CP_OFF0] * drift
    else:
        cp = _s16(frame[A_CP_SP1]) * gain - (k[K_CP_OFF1] + (k[K_IL_C1] if mismatch else 0.0)) * drift

    tr_c = ta - 8.0 if tr == TR_FROM_TA else tr
    ta4 = (ta + KELVIN) * (ta + KELVIN)
    ta4 *= ta4
    tr4 = (tr_c + KELVIN) * (tr_c + KELVIN)
    tr4 *= tr4

    # The per-pixel work runs in float32, as the vendor's C driver does: its
    # rounding stays far below 0.001 degC and twice as many pixels fit a vector.
    f32 = np.float32
    c_dta = f32(dta)
    c_dv = f32(dv)
    c_dtadv = f32(dta * dv)
    c_gain = f32(gain)
    c_bias = f32(-k[K_TGC] * cp)
    c_pattern = f32(1.0 if mismatch else 0.0)
    c_inv_e = f32(1.0 / emissivity)
    c_inv_ksta = f32(1.0 / (1.0 + k[K_KS_TA] * dta))
    c_ta_tr = f32(tr4 - (tr4 - ta4) / emissivity)
    ks_to0 = f32(k[K_KS_TO])
    ks_to1 = f32(k[K_KS_TO + 1])
    ks_to2 = f32(k[K_KS_TO + 2])
    ks_to3 = f32(k[K_KS_TO + 3])
    ct0 = f32(k[K_CT])
    ct2 = f32(k[K_CT + 2])
    ct3 = f32(k[K_CT + 3])
    corr0 = f32(k[K_CORR])
    corr2 = f32(k[K_CORR + 2])
    corr3 = f32(k[K_CORR + 3])
    basic = f32(k[K_KS_TO1_BASIC])
    kelvin = f32(KELVIN)
    zero = f32(0.0)
    one = f32(1.0)
    nan = f32(np.nan)

    for r in range(ROWS):
        start = r * COLUMNS
        if not chess and (r & 1) != subpage:
            # Interleaved: rows of the other parity are not measured at all.
            for i in range(COLUMNS):
                out[start + i] = nan
            continue
        # Whole rows, contiguous, so the loop vectorises; in chess mode only
        # every other pixel of the row belongs to this subpage and the rest
        # is masked (cheaper than gathering a stride-2 pattern).
        skip = (r + subpage) & 1 if chess else 2
        for i in range(COLUMNS):
            p = start + i
            v = _pixel_to(f32(_s16(frame[p])), table[P_OFFSET, p], table[P_OFFSET_KTA, p],
                          table[P_OFFSET_KV, p], table[P_OFFSET_KTA_KV, p], table[P_PATTERN, p],
                          table[P_INV_ALPHA, p], c_dta, c_dv, c_dtadv, c_gain, c_bias, c_pattern, c_inv_e,
                          c_inv_ksta, c_ta_tr, ks_to0, ks_to1, ks_to2, ks_to3, ct0, ct2, ct3, corr0, corr2,
                          corr3, basic, kelvin, zero, one)
            out[p] = nan if (i & 1) == 1 - skip or frame[p] == READ_ERROR_WORD else v

    mode = 1 if chess else 0
    base = K_FILLS + (mode * 2 + subpage) * FILL_SLOTS * FILL_FIELDS
    for slot in range(FILL_SLOTS):
        plan = base + slot * FILL_FIELDS
        target = int(k[plan])
        if target < 0:
            break
        method = int(k[plan + 1])
        a = out[int(k[plan + 2])]
        if method == FILL_COPY:
            out[target] = a
        elif method == FILL_MEAN2:
            out[target] = (a + out[int(k[plan + 3])]) / 2
        elif method == FILL_MEDIAN4:
            v4 = np.sort(np.array([a, out[int(k[plan + 3])], out[int(k[plan + 4])], out[int(k[plan + 5])]]))
            out[target] = (v4[1] + v4[2]) / 2
        else:
            right = out[int(k[plan + 4])] - out[int(k[plan + 5])]
            left = a - out[int(k[plan + 3])]
            out[target] = a + left if abs(right) > abs(left) else out[int(k[plan + 4])] + right

    # Every pixel outside the subpage is NaN. A NaN inside it is a read error when the pixel's own word
    # carries the mark or it is a defective pixel filled from a neighbour that did; anything else is invalid.
    nonfinite = 0
    marked = 0
    for p in range(PIXELS):
        if not np.isfinite(out[p]):
            nonfinite += 1
            if frame[p] == READ_ERROR_WORD:
                r = p // COLUMNS
                if ((p + r + subpage) & 1 == 0) if chess else ((r & 1) == subpage):
                    marked += 1
    for slot in range(FILL_SLOTS):
        plan = base + slot * FILL_FIELDS
        target = int(k[plan])
        if target < 0:
            break
        if not np.isfinite(out[target]) and frame[target] != READ_ERROR_WORD:
            marked += 1
    return OK, vdd, ta, nonfinite - SUBPAGE_PIXELS - marked, subpage, chess, marked



@njit(cache=True)
def assemble(sub, mask, image, stamp, sequence, to, fresh, age):
    """Merge one subpage into the running image and describe the result, in one pass.

    sub: float32[24, 32], the subpage's temperatures; mask: bool[24, 32], the
    pixels it measured; image: float32[24, 32] and stamp: int64[24, 32], the
    running image and, per pixel, the sequence number of the subpage that last
    measured it (-1 never), both updated in place; sequence: this subpage's
    number. All arrays C-contiguous.

    Fills the caller's new arrays ``to`` (float32, a copy of the image),
    ``fresh`` (bool, measured by this subpage) and ``age`` (int32, subpages
    since measured, -1 never) and returns whether every pixel has been
    measured. The same as :func:`controller.sensor.assembler.assemble_reference`
    (the arrays are allocated by the caller: returning arrays from a kernel
    costs more than the whole pass)."""
    n = image.size
    sub1 = sub.reshape(n)
    mask1 = mask.reshape(n)
    image1 = image.reshape(n)
    stamp1 = stamp.reshape(n)
    to1 = to.reshape(n)
    fresh1 = fresh.reshape(n)
    age1 = age.reshape(n)
    never = 0
    for p in range(n):
        if mask1[p]:
            image1[p] = sub1[p]
            stamp1[p] = sequence
        s = stamp1[p]
        to1[p] = image1[p]
        a = np.int32(sequence - s) if s >= 0 else np.int32(-1)
        never += 1 if s < 0 else 0
        age1[p] = a
        fresh1[p] = a == 0
    return never == 0
