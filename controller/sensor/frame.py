"""The MLX90640's array and one subpage as the gate sends it: 834 16-bit words.

Words 0..767 are the pixel RAM (row-major, 24 x 32), 768..831 the auxiliary
RAM (datasheet section 9, RAM map at 0x0400), word 832 the control register 1
(0x800D) at the time of the read and word 833 the subpage that was measured
(status register 0x8000, bit 0). This is the layout the Melexis driver calls
``frameData`` and the layout the wire protocol carries.

This module is the controller's and the simulator's one home of the array's
shape and of the refresh rates (the firmware keeps its own ``const()``s:
MicroPython cannot import the controller). It imports nothing.
"""

# The pixel array (datasheet section 7): 24 rows of 32 columns, read in two subpages of half the pixels each.
ROWS = 24
COLUMNS = 32
SHAPE = (ROWS, COLUMNS)
PIXELS = ROWS * COLUMNS  # 768
SUBPAGE_PIXELS = PIXELS // 2  # 384
RAM_WORDS = 832  # RAM 0x0400..0x073F: the pixels, then the auxiliary words
AUX_WORDS = RAM_WORDS - PIXELS  # 64
FRAME_WORDS = RAM_WORDS + 2  # 834: and the control register and the subpage number

# Auxiliary RAM words used by the temperature maths (index in the frame).
A_VBE = 768  # RAM 0x0700: V_BE
A_CP_SP0 = 776  # RAM 0x0708: compensation pixel, subpage 0
A_GAIN = 778  # RAM 0x070A: gain reference
A_PTAT = 800  # RAM 0x0720: V_PTAT
A_CP_SP1 = 808  # RAM 0x0728: compensation pixel, subpage 1
A_VDD = 810  # RAM 0x072A: supply voltage
F_CONTROL = RAM_WORDS  # 832
F_SUBPAGE = RAM_WORDS + 1  # 833

# Control register 1 (0x800D) fields.
CTRL_SUBPAGES_ENABLED = 0x0001
CTRL_REFRESH_SHIFT = 7
CTRL_REFRESH_MASK = 0x0380
CTRL_RESOLUTION_SHIFT = 10
CTRL_RESOLUTION_MASK = 0x0C00
CTRL_CHESS = 0x1000  # 1: chess reading pattern, 0: interleaved (TV) pattern
CTRL_RESERVED = 0xE000

# Refresh rates by control-register code (datasheet table 8): subpages per second.
REFRESH_RATES_HZ = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
# ADC resolution by control-register code.
RESOLUTION_BITS = (16, 17, 18, 19)


def control_word(*, chess: bool = True, resolution_bits: int = 18, refresh_hz: float = 2.0) -> int:
    """Build a control register 1 value with subpage mode enabled."""
    if resolution_bits not in RESOLUTION_BITS:
        raise ValueError(f"ADC resolution must be one of {RESOLUTION_BITS} bits, got {resolution_bits}")
    if refresh_hz not in REFRESH_RATES_HZ:
        raise ValueError(f"refresh rate must be one of {REFRESH_RATES_HZ} Hz, got {refresh_hz}")
    word = CTRL_SUBPAGES_ENABLED
    word |= REFRESH_RATES_HZ.index(refresh_hz) << CTRL_REFRESH_SHIFT
    word |= RESOLUTION_BITS.index(resolution_bits) << CTRL_RESOLUTION_SHIFT
    if chess:
        word |= CTRL_CHESS
    return word


def describe_control(word: int) -> dict:
    """The control register's fields, for messages and status pages."""
    return {
        "chess": bool(word & CTRL_CHESS),
        "resolution_bits": RESOLUTION_BITS[(word & CTRL_RESOLUTION_MASK) >> CTRL_RESOLUTION_SHIFT],
        "refresh_hz": REFRESH_RATES_HZ[(word & CTRL_REFRESH_MASK) >> CTRL_REFRESH_SHIFT],
        "subpages_enabled": bool(word & CTRL_SUBPAGES_ENABLED),
    }

# Bounds outside which a frame cannot come from a working sensor described by
# the EEPROM it is decoded with (datasheet: Vdd 3.3 V +-0.3 V typical, operating
# ambient -40..85 degC; the margins leave room for drift, not for garbage).
VDD_RANGE_V = (2.5, 4.0)
TA_RANGE_C = (-50.0, 130.0)
# The reflected temperature (the surroundings the object mirrors) must be a
# temperature such surroundings can have; NaN or anything outside is an error,
# never a silent default. ``TR_FROM_TA`` asks the kernel for the vendor's
# open-air rule, Ta - 8 degC (the Python API says ``tr=None``).
TR_RANGE_C = (-40.0, 100.0)
TR_FROM_TA = -1000.0  # below absolute zero: cannot be a temperature
# The vendor driver marks a pixel whose RAM read failed with this word: that
# pixel has no temperature (NaN, counted), whatever 0x7FFF would decode to.
READ_ERROR_WORD = 0x7FFF


class FrameError(ValueError):
    """A subpage that cannot be turned into temperatures."""


# Status codes shared by the numba kernels and their Python callers.
OK = 0
BAD_SUBPAGE = 1
BAD_CONTROL = 2
ZERO_GAIN = 3
BAD_PTAT = 4
BAD_VDD = 5
BAD_TA = 6
BAD_EMISSIVITY = 7
BAD_TR = 8

_MESSAGES = {
    BAD_SUBPAGE: "subpage word (833) is {0}, must be 0 or 1",
    BAD_CONTROL: "control register (word 832) 0x{0:04X} has reserved bits 15:13 set",
    ZERO_GAIN: "gain word (778) is 0",
    BAD_PTAT: "PTAT words (768, 800) give a zero denominator",
    BAD_VDD: ("supply voltage {0:.3f} V is outside 2.5..4.0 V: the frame does not match this "
              "sensor's EEPROM, or its auxiliary words are corrupt"),
    BAD_TA: ("ambient temperature {0:.2f} degC is outside -50..130 degC: the frame does not match "
             "this sensor's EEPROM, or its auxiliary words are corrupt"),
}


def frame_error(status: int, value: float) -> ValueError:
    """The error for a kernel status code; ``value`` is the offending quantity."""
    if status == BAD_EMISSIVITY:
        return ValueError(f"emissivity must be in (0, 1], got {value}")
    if status == BAD_TR:
        return ValueError(tr_problem(value))
    if status in (BAD_SUBPAGE, BAD_CONTROL):
        value = int(value)
    return FrameError("frame: " + _MESSAGES[status].format(value))


def tr_problem(tr: float) -> str:
    """Why ``tr`` is not an acceptable reflected temperature."""
    return (f"tr (the reflected temperature) must be a finite temperature in {TR_RANGE_C[0]:g}..{TR_RANGE_C[1]:g} "
            f"degC, got {tr}; leave it out (None) for the open-air rule Ta - 8")


def check_tr(tr: float | None) -> float | None:
    """``tr`` as a float, None kept (Ta - 8); ValueError for NaN, infinity or out of range."""
    if tr is None:
        return None
    try:
        value = float(tr)
    except (TypeError, ValueError):
        raise ValueError(tr_problem(tr)) from None
    if not TR_RANGE_C[0] <= value <= TR_RANGE_C[1]:  # NaN fails too
        raise ValueError(tr_problem(value))
    return value
