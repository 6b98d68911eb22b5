"""One sensor's calibration: EEPROM once, then temperatures per subpage.

Mirrors the two steps of the vendor's C API: extract the parameters once
(:meth:`Calibration.from_eeprom`), then compute each frame
(:meth:`Calibration.subpage_to`). Everything that depends only on the sensor
is folded into per-pixel tables here, so the numba kernel does the least work
per subpage. The inverse (:meth:`Calibration.raw_from_to`) turns a temperature
image back into the words the sensor would have sent; the simulator uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels as K
from . import reference
from .eeprom import EEPROM_WORDS, EepromParameters, as_words, parse_eeprom, range_alpha_corrections
from .frame import (
    A_CP_SP0,
    A_CP_SP1,
    A_GAIN,
    A_PTAT,
    A_VBE,
    A_VDD,
    BAD_CONTROL,
    BAD_SUBPAGE,
    COLUMNS,
    CTRL_RESERVED,
    CTRL_RESOLUTION_MASK,
    CTRL_RESOLUTION_SHIFT,
    F_CONTROL,
    F_SUBPAGE,
    FRAME_WORDS,
    OK,
    PIXELS,
    ROWS,
    TR_FROM_TA,
    FrameError,
    check_tr,
    frame_error,
)

# A subpage with more read-error pixels than this is a failed read, not a few bad pixels.
MAX_READ_ERRORS = 192

# V_BE words the inverse may choose from when it places Ta (a real sensor reads about 19,000-21,000).
_VBE_CANDIDATES = np.arange(18000, 22000, dtype=np.int64)


@dataclass(frozen=True)
class Subpage:
    """The temperatures of one subpage and what its auxiliary words said."""

    to: np.ndarray  # (24, 32) float32, NaN where this subpage did not measure
    ta: float
    vdd: float
    subpage: int
    chess: bool
    read_errors: int = 0  # pixels NaN because the driver marked their word as a read error (0x7FFF)


_U16 = np.dtype(np.uint16)
_F32 = np.dtype(np.float32)
_FRAME_SHAPE = (FRAME_WORDS,)
_IMAGE_SHAPE = (ROWS, COLUMNS)
_NAN = float("nan")


def _frame_array(frame) -> np.ndarray:
    if type(frame) is np.ndarray and frame.dtype is _U16 and frame.shape == _FRAME_SHAPE \
            and frame.flags.c_contiguous:
        return frame
    return as_words(frame, FRAME_WORDS, "frame")


def _check_emissivity(emissivity: float) -> float:
    e = float(emissivity)
    if not 0.0 < e <= 1.0:
        raise ValueError(f"emissivity must be in (0, 1], got {emissivity}")
    return e


class Calibration:
    """Per-sensor constants and the per-subpage temperature computation."""

    def __init__(self, params: EepromParameters, eeprom: np.ndarray):
        self.params = params
        self.eeprom = eeprom.copy()
        self.eeprom.setflags(write=False)
        self._k = _scalar_table(params)
        self._table = _pixel_table(params)

    @classmethod
    def from_eeprom(cls, words) -> Calibration:
        """Validate and decode an 832-word EEPROM dump (raises EepromError / ValueError)."""
        eeprom = as_words(words, EEPROM_WORDS, "EEPROM")
        return cls(parse_eeprom(eeprom), eeprom)

    @property
    def defective_pixels(self) -> tuple[int, ...]:
        """Flat indices (row * 32 + column) of broken and outlier pixels."""
        return self.params.defective_pixels

    # -- forward ---------------------------------------------------------

    def measure(self, frame, emissivity: float = 1.0, tr: float | None = None,
                out: np.ndarray | None = None) -> Subpage:
        """Temperatures of one 834-word subpage, with its Ta and Vdd.

        Raises FrameError when the frame's auxiliary words cannot come from
        this sensor, or when a pixel gives no temperature."""
        image, ta, vdd, subpage, chess, read_errors = self._compute(frame, emissivity, tr, out)
        return Subpage(to=image, ta=ta, vdd=vdd, subpage=subpage, chess=chess, read_errors=read_errors)

    def subpage_to(self, frame, emissivity: float = 1.0, tr: float | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
        """(24, 32) float32 object temperatures in degC, NaN where this subpage did not measure.

        ``tr`` is the reflected temperature; None means Ta - 8 degC, the
        vendor's rule for a sensor in open air; NaN or a value outside
        frame.TR_RANGE_C is a ValueError. A pixel whose word is the driver's
        read-error mark (0x7FFF) is NaN; more than MAX_READ_ERRORS of them in a
        subpage is a FrameError. ``out``, a float32 (24, 32)
        array, is filled and returned instead of a new one."""
        return self._compute(frame, emissivity, tr, out)[0]

    def _compute(self, frame, emissivity, tr, out):
        if out is None:
            out = np.empty(_IMAGE_SHAPE, dtype=np.float32)
        checked = check_tr(tr)  # NaN or out of range: ValueError, never Ta - 8
        tr = TR_FROM_TA if checked is None else checked
        try:
            # Fast path: the kernel's signatures admit only contiguous uint16 frames, writable
            # float32 images and numbers; it checks shapes, the emissivity and tr itself.
            status, value, ta, invalid, subpage, chess, read_errors = K.subpage_to(
                frame, self._k, self._table, out, emissivity, tr)
            if status == K.BAD_SHAPE:
                raise TypeError
        except TypeError:
            frame = as_words(frame, FRAME_WORDS, "frame")
            e = _check_emissivity(emissivity)
            if not (type(out) is np.ndarray and out.dtype is _F32 and out.shape == _IMAGE_SHAPE
                    and out.flags.c_contiguous and out.flags.writeable):
                raise ValueError("out must be a writable C-contiguous float32 array of shape (24, 32)") from None
            status, value, ta, invalid, subpage, chess, read_errors = K.subpage_to(
                np.ascontiguousarray(frame), self._k, self._table, out, e, float(tr))
        if status != OK:
            raise frame_error(status, value)
        if read_errors > MAX_READ_ERRORS:
            raise FrameError(f"frame: {read_errors} pixel(s) of subpage {subpage} carry the driver's read-error "
                             f"mark 0x7FFF: the read failed")
        if invalid:
            pattern = reference.subpage_pattern(chess)
            first = int(np.flatnonzero(~np.isfinite(out.ravel()) & (pattern == subpage))[0])
            raise FrameError(
                f"frame: {invalid} pixel(s) of subpage {subpage} give no temperature (their raw words do "
                f"not fit this sensor's EEPROM), first at row {first // COLUMNS} column {first % COLUMNS}")
        return out, ta, value, subpage, chess, read_errors

    def ambient(self, frame) -> float:
        """The sensor's own temperature Ta in degC."""
        return self._aux(frame)[2]

    def supply_voltage(self, frame) -> float:
        """The sensor's supply voltage in volts."""
        return self._aux(frame)[1]

    def _aux(self, frame):
        status, value, ta, _gain, _chess, _subpage = K.frame_aux(_frame_array(frame), self._k)
        if status != OK:
            raise frame_error(status, value)
        return status, value, ta

    # -- inverse ---------------------------------------------------------

    def aux_frame(self, ta: float, vdd: float, subpage: int, control: int,
                  cp_signal: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """A frame whose auxiliary words read as ``ta`` and ``vdd`` (pixels zero).

        Vdd is placed to the nearest ADC count; Ta through the pair of V_PTAT
        and V_BE words that comes closest. ``cp_signal`` is what the two
        compensation pixels read after their own offset compensation."""
        p = self.params
        if subpage not in (0, 1):
            raise frame_error(BAD_SUBPAGE, subpage)
        if control & CTRL_RESERVED or not 0 <= control <= 0xFFFF:
            raise frame_error(BAD_CONTROL, control)
        frame = np.zeros(FRAME_WORDS, dtype=np.uint16)
        frame[F_CONTROL] = control
        frame[F_SUBPAGE] = subpage

        res_ram = (control & CTRL_RESOLUTION_MASK) >> CTRL_RESOLUTION_SHIFT
        correction = 2.0 ** p.resolution_ee / 2.0 ** res_ram
        frame[A_VDD] = _word(((vdd - 3.3) * p.k_vdd + p.vdd_25) / correction, "Vdd")
        vdd_read = reference.supply_voltage(p, frame)

        ptat_art = ((ta - 25.0) * p.kt_ptat + p.v_ptat_25) * (1 + p.kv_ptat * (vdd_read - 3.3))
        vbe = _VBE_CANDIDATES
        ptat = np.round(ptat_art * vbe / (2.0 ** 18 - ptat_art * p.alpha_ptat))
        valid = (ptat > 0) & (ptat < 0x8000)
        if not valid.any():
            raise ValueError(f"Ta {ta} degC cannot be encoded for this EEPROM")
        art = ptat / (ptat * p.alpha_ptat + vbe) * 2.0 ** 18
        ta_read = (art / (1 + p.kv_ptat * (vdd_read - 3.3)) - p.v_ptat_25) / p.kt_ptat + 25.0
        best = int(np.argmin(np.where(valid, np.abs(ta_read - ta), np.inf)))
        frame[A_PTAT] = int(ptat[best])
        frame[A_VBE] = int(vbe[best])

        # The gain reference scales with the ADC resolution, as on the sensor.
        frame[A_GAIN] = _word(p.gain_ee * 2.0 ** (res_ram - p.resolution_ee), "gain")
        state = reference.frame_state(p, frame)
        drift = (1 + p.cp_kta * (state.ta - 25)) * (1 + p.cp_kv * (state.vdd - 3.3))
        cp_offset1 = p.cp_offset[1] + (p.il_chess_c[0] if state.chess != p.calibrated_in_chess else 0.0)
        frame[A_CP_SP0] = _word((cp_signal[0] + p.cp_offset[0] * drift) / state.gain, "compensation pixel 0")
        frame[A_CP_SP1] = _word((cp_signal[1] + cp_offset1 * drift) / state.gain, "compensation pixel 1")
        return frame

    def encode_pixels(self, frame, image, emissivity: float = 1.0, tr: float | None = None) -> np.ndarray:
        """A copy of ``frame`` with its pixel words set so that each finite
        pixel of ``image`` (24 x 32 degC) reads back as closely as the ADC
        allows. Pixels that are NaN in ``image`` keep their words.

        The reading is continuous and monotonic in the raw count (its
        direction set by the sign of the gain). The analytical inverse gives a
        first count; the best of its neighbours is the answer wherever the
        target lies between the readings two counts below and above it.
        Elsewhere (near the ends of the scale) a bisection over the whole
        16-bit range finds it."""
        p = self.params
        e = _check_emissivity(emissivity)
        out = _frame_array(frame).copy()
        state = reference.frame_state(p, out)
        target = np.asarray(image, dtype=np.float64).reshape(PIXELS)
        todo = np.isfinite(target)
        direction = 1 if state.gain > 0 else -1

        def reading(counts: np.ndarray, pixels: slice | np.ndarray = slice(None)) -> np.ndarray:
            """The temperature each pixel reads for ``counts`` (increasing direction; rows of 768
            for all pixels, or one value per pixel of ``pixels``)."""
            if isinstance(pixels, slice):
                raw = direction * counts.astype(np.float64)
            else:
                raw = np.zeros(PIXELS)
                raw[pixels] = direction * counts
            with np.errstate(invalid="ignore", divide="ignore"):
                to = reference.to_from_ir(p, reference.ir_from_raw(p, raw, state, e), state, e, tr)
            to = to if isinstance(pixels, slice) else to[pixels]
            return np.where(np.isnan(to), -np.inf, to)

        with np.errstate(invalid="ignore", over="ignore"):
            guess = direction * reference.raw_from_ir(
                p, reference.ir_from_to(p, np.where(todo, target, 25.0), state, e, tr), state, e)
        base = np.clip(np.nan_to_num(np.floor(guess), nan=0.0), -0x8000 + 2, 0x7FFF - 3).astype(np.int64)
        # Readings of counts base-2 .. base+3 in one pass: the candidates are base-1 .. base+2,
        # and each candidate's two neighbours give its step.
        offsets = np.arange(-2, 4)[:, None]
        table = reading(base[None, :] + offsets)
        errors = np.abs(table[1:5] - target)
        pick = np.argmin(errors, axis=0)
        columns = np.arange(PIXELS)
        best = base + pick - 1
        best_err = errors[pick, columns]
        with np.errstate(invalid="ignore"):
            half_step = np.abs(table[pick + 2, columns] - table[pick, columns]) / 2
        # The nearest count is among the candidates wherever the target lies between
        # the readings of base-1 and base+2; elsewhere, bisect.
        unsure = np.flatnonzero(todo & ~((table[1] <= target) & (target <= table[4])))
        if unsure.size:
            best[unsure], best_err[unsure] = self._bisect(reading, target, unsure)
            with np.errstate(invalid="ignore"):
                half_step[unsure] = np.abs(reading(np.minimum(best[unsure] + 1, 0x7FFF), unsure)
                                           - reading(np.maximum(best[unsure] - 1, -0x8000), unsure)) / 2
        outside = todo & ~(best_err <= np.maximum(np.nan_to_num(half_step), 0) + 1e-9)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{int(outside.sum())} pixel(s) are outside what the sensor can report at Ta "
                f"{state.ta:.1f} degC; first at row {i // COLUMNS} column {i % COLUMNS}: {target[i]:.2f} degC")
        words = ((direction * best) & 0xFFFF).astype(np.uint16)
        out[:PIXELS] = np.where(todo, words, out[:PIXELS])
        return out

    @staticmethod
    def _bisect(reading, target, pixels):
        """Per pixel of ``pixels``, the count (increasing direction) whose reading is nearest the target."""
        lo = np.full(pixels.size, -0x8000, dtype=np.int64)
        hi = np.full(pixels.size, 0x7FFF, dtype=np.int64)
        goal = target[pixels]
        while np.any(lo < hi):
            mid = (lo + hi) // 2
            short = reading(mid, pixels) < goal
            lo = np.where(short, mid + 1, lo)
            hi = np.where(short, hi, mid)
        under = np.maximum(lo - 1, -0x8000)
        err_at, err_under = np.abs(reading(lo, pixels) - goal), np.abs(reading(under, pixels) - goal)
        return np.where(err_under < err_at, under, lo), np.minimum(err_at, err_under)

    def raw_from_to(self, image, ta: float, vdd: float, subpage: int, control: int,
                    emissivity: float = 1.0, tr: float | None = None,
                    cp_signal: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """The 834 words a sensor with this EEPROM would send for ``image``.

        All finite pixels are encoded, both subpages' (as the sensor's RAM holds
        the other subpage's last values too); decoding the result gives back
        ``image`` on this subpage's pixels to within half an ADC count."""
        frame = self.aux_frame(ta, vdd, subpage, control, cp_signal)
        return self.encode_pixels(frame, image, emissivity, tr)


def _word(value: float, what: str) -> int:
    v = int(round(value))
    if not -0x8000 <= v <= 0x7FFF:
        raise ValueError(f"{what} word {v} does not fit in 16 bits")
    return v & 0xFFFF


def _scalar_table(p: EepromParameters) -> np.ndarray:
    """The per-sensor scalar vector the kernel reads (layout: ``kernels.K_*``)."""
    k = np.full(K.K_LENGTH, -1.0)
    k[K.K_KVDD] = p.k_vdd
    k[K.K_VDD25] = p.vdd_25
    k[K.K_RES_EE] = 2.0 ** p.resolution_ee
    k[K.K_KV_PTAT] = p.kv_ptat
    k[K.K_KT_PTAT] = p.kt_ptat
    k[K.K_VPTAT25] = p.v_ptat_25
    k[K.K_ALPHA_PTAT] = p.alpha_ptat
    k[K.K_GAIN_EE] = p.gain_ee
    k[K.K_TGC] = p.tgc
    k[K.K_KS_TA] = p.ks_ta
    k[K.K_CP_OFF0] = p.cp_offset[0]
    k[K.K_CP_OFF1] = p.cp_offset[1]
    k[K.K_CP_KTA] = p.cp_kta
    k[K.K_CP_KV] = p.cp_kv
    k[K.K_IL_C1] = p.il_chess_c[0]
    k[K.K_CAL_CHESS] = 1.0 if p.calibrated_in_chess else 0.0
    k[K.K_KS_TO:K.K_KS_TO + 4] = p.ks_to
    k[K.K_CT:K.K_CT + 4] = p.ct
    k[K.K_CORR:K.K_CORR + 4] = range_alpha_corrections(p.ks_to, p.ct)
    k[K.K_KS_TO1_BASIC] = 1 - p.ks_to[1] * reference.KELVIN
    k[K.K_FILLS:] = _fill_plans(p).ravel()
    k.setflags(write=False)
    return k


def _pixel_table(p: EepromParameters) -> np.ndarray:
    """Per-pixel constants the kernel reads (rows: ``kernels.P_*``)."""
    rows = np.zeros((K.N_PIXEL_ROWS, PIXELS))
    rows[K.P_OFFSET] = p.offset
    rows[K.P_OFFSET_KTA] = p.offset * p.kta
    rows[K.P_OFFSET_KV] = p.offset * p.kv
    rows[K.P_OFFSET_KTA_KV] = p.offset * p.kta * p.kv
    rows[K.P_PATTERN] = (p.il_chess_c[2] * (2 * reference.IL_PATTERN - 1)
                         - p.il_chess_c[1] * reference.CONVERSION_PATTERN)
    rows[K.P_INV_ALPHA] = 1.0 / (p.alpha - p.tgc * (p.cp_alpha[0] + p.cp_alpha[1]) / 2.0)
    table = rows.astype(np.float32)
    table.setflags(write=False)
    return table


def _fill_plans(p: EepromParameters) -> np.ndarray:
    """How each defective pixel is filled from same-subpage neighbours (the
    rules of :func:`reference.fill_defective`), per (chess, subpage)."""
    plans = np.full((2, 2, K.FILL_SLOTS, K.FILL_FIELDS), -1, dtype=np.int64)
    used = np.zeros((2, 2), dtype=np.int64)
    defective = set(p.defective_pixels)
    for chess in (0, 1):
        pattern = reference.subpage_pattern(bool(chess))
        for pixel in p.defective_pixels:
            r, c = divmod(pixel, COLUMNS)
            if chess:
                nb = [(r + dr) * COLUMNS + c + dc for dr in (-1, 1) for dc in (-1, 1)
                      if 0 <= r + dr < ROWS and 0 <= c + dc < COLUMNS]
                method = {1: K.FILL_COPY, 2: K.FILL_MEAN2, 4: K.FILL_MEDIAN4}[len(nb)]
            elif c == 0:
                method, nb = K.FILL_COPY, [pixel + 1]
            elif c == COLUMNS - 1:
                method, nb = K.FILL_COPY, [pixel - 1]
            elif c in (1, COLUMNS - 2) or pixel - 2 in defective or pixel + 2 in defective:
                method, nb = K.FILL_MEAN2, [pixel - 1, pixel + 1]
            else:
                method, nb = K.FILL_GRADIENT, [pixel - 1, pixel - 2, pixel + 1, pixel + 2]
            subpage = int(pattern[pixel])
            row = plans[chess, subpage, used[chess, subpage]]
            row[0], row[1] = pixel, method
            row[2:2 + len(nb)] = nb
            used[chess, subpage] += 1
    return plans.astype(np.float64)
