"""Adafruit's MLX90640 driver as an independent reference for the temperature maths.

The PyPI package ``adafruit-circuitpython-mlx90640`` (module ``adafruit_mlx90640``)
is a Python port of the Melexis reference driver.  This helper runs it without
hardware: :class:`FakeMLX90640Bus` emulates an I2C bus carrying one MLX90640, so
the driver reads its EEPROM and frames through its own I2C code, and the
temperatures come from the driver's own ``_GetTa`` and ``_CalculateTo``.

Typical use::

    sensor = AdafruitSensor(eeprom_words)
    to_subpage0 = sensor.subpage_to(frame0_words)   # NaN outside subpage 0
    ta = sensor.ambient(frame0_words)
"""

from __future__ import annotations

import contextlib
import math
import time
import types
from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar

import adafruit_mlx90640

MLX90640_ADDRESS = 0x33

EEPROM_START = 0x2400
EEPROM_WORDS = 832
RAM_START = 0x0400
RAM_WORDS = 832
STATUS_REGISTER = 0x8000
CONTROL_REGISTER = 0x800D

FRAME_WORDS = 834
PIXELS = 768

STATUS_NEW_DATA = 0x0008
STATUS_SUBPAGE_BITS = 0x0007


class FakeMLX90640Bus:
    """An I2C bus (``busio.I2C`` interface) with a single MLX90640 on it.

    Addressing follows the sensor: every transaction starts with a 16-bit
    big-endian register address, data words are 16-bit big-endian and reads
    auto-increment through consecutive addresses.  Mapped memory:

    * EEPROM, 832 words at 0x2400..0x273F (read-only);
    * RAM, 832 words at 0x0400..0x073F (read-only from the bus);
    * status register 0x8000: bits 0..2 last measured subpage (read-only),
      bit 3 new data available (cleared by writing 0 to it, set only by the
      device), bits 4..15 stored as written;
    * control register 0x800D (read/write).

    A device that does not answer is reported as ``OSError`` (like a NACK):
    a wrong device address, a read touching an unmapped word, a write to a
    word that is not a register, or a write that is not address + one word.
    A 2-byte write only sets the address pointer used by the next read.
    """

    def __init__(self, eeprom_words: Sequence[int]) -> None:
        if len(eeprom_words) != EEPROM_WORDS:
            raise ValueError(f"EEPROM must hold {EEPROM_WORDS} words, got {len(eeprom_words)}")
        self.eeprom: list[int] = [_word(w) for w in eeprom_words]
        self.ram: list[int] = [0] * RAM_WORDS
        self.status: int = 0
        self.control: int = 0
        self._pointer: int | None = None
        self._locked = False

    def load_subpage(self, frame_words: Sequence[int]) -> None:
        """Present one measured subpage as the device would after a conversion.

        ``frame_words`` is an 834-word frame in the Melexis layout: 768 pixel
        words, 64 auxiliary words, word 832 the control register and word 833
        the subpage number (0 or 1).  Words 0..831 go to RAM, the control
        register takes word 832 and the status register reports new data for
        that subpage.
        """
        if len(frame_words) != FRAME_WORDS:
            raise ValueError(f"frame must hold {FRAME_WORDS} words, got {len(frame_words)}")
        subpage = frame_words[833]
        if subpage not in (0, 1):
            raise ValueError(f"frame word 833 (subpage) must be 0 or 1, got {subpage}")
        self.ram = [_word(w) for w in frame_words[:RAM_WORDS]]
        self.control = _word(frame_words[832])
        self.status = STATUS_NEW_DATA | subpage

    def try_lock(self) -> bool:
        """Take the bus lock; ``False`` if it is already held."""
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self) -> None:
        """Release the bus lock."""
        self._locked = False

    def writeto(
        self, address: int, buffer: bytes | bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """Write ``buffer[start:end]`` to the device at ``address``.

        Empty: address probe.  2 bytes: set the read pointer.  4 bytes: write
        one register word.  Anything else is refused with ``OSError``.
        """
        self._check(address)
        data = bytes(buffer[start:end])
        if not data:
            return
        if len(data) not in (2, 4):
            raise OSError(f"MLX90640 takes an address and at most one word, not {len(data)} bytes")
        register = int.from_bytes(data[:2], "big")
        if len(data) == 2:
            self._pointer = register
            return
        self._write_word(register, int.from_bytes(data[2:], "big"))
        self._pointer = register

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """Fill ``buffer[start:end]`` with words read from the address pointer on."""
        self._check(address)
        if self._pointer is None:
            raise OSError("MLX90640 read without a register address")
        view = memoryview(buffer)[start:end]
        n_bytes = len(view)
        words = (self._read_word(self._pointer + i) for i in range((n_bytes + 1) // 2))
        raw = b"".join(word.to_bytes(2, "big") for word in words)
        view[:] = raw[:n_bytes]

    def writeto_then_readfrom(
        self,
        address: int,
        out_buffer: bytes | bytearray,
        in_buffer: bytearray,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        """Write ``out_buffer[out_start:out_end]``, then fill ``in_buffer[in_start:in_end]``."""
        self.writeto(address, out_buffer, start=out_start, end=out_end)
        self.readfrom_into(address, in_buffer, start=in_start, end=in_end)

    def _check(self, address: int) -> None:
        if not self._locked:
            raise RuntimeError("I2C bus used without holding its lock")
        if address != MLX90640_ADDRESS:
            raise OSError(f"no I2C device at address 0x{address:02x}")

    def _read_word(self, register: int) -> int:
        if EEPROM_START <= register < EEPROM_START + EEPROM_WORDS:
            return self.eeprom[register - EEPROM_START]
        if RAM_START <= register < RAM_START + RAM_WORDS:
            return self.ram[register - RAM_START]
        if register == STATUS_REGISTER:
            return self.status
        if register == CONTROL_REGISTER:
            return self.control
        raise OSError(f"MLX90640 has no readable word at 0x{register:04x}")

    def _write_word(self, register: int, value: int) -> None:
        value = _word(value)
        if register == STATUS_REGISTER:
            kept = self.status & STATUS_SUBPAGE_BITS
            new_data = self.status & value & STATUS_NEW_DATA
            self.status = kept | new_data | (value & ~0x000F & 0xFFFF)
        elif register == CONTROL_REGISTER:
            self.control = value
        else:
            raise OSError(f"MLX90640 has no writable register at 0x{register:04x}")


def _word(value: int) -> int:
    """Check that ``value`` fits an unsigned 16-bit word and return it as ``int``."""
    value = int(value)
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"not a 16-bit word: {value}")
    return value


class _IsolatedMLX90640(adafruit_mlx90640.MLX90640):
    """The Adafruit driver with its calibration held per instance.

    The upstream class keeps calibration tables in class-level lists that it
    mutates in place (and appends bad pixels to), so two instances would share
    and corrupt each other's calibration.  Fresh instance lists shadow them.
    """

    _FIXED_LISTS: ClassVar[dict[str, int]] = {
        "ksTo": 5,
        "ct": 5,
        "alpha": PIXELS,
        "offset": PIXELS,
        "kta": PIXELS,
        "kv": PIXELS,
        "cpAlpha": 2,
        "cpOffset": 2,
        "ilChessC": 3,
    }
    _GROWING_LISTS: ClassVar[tuple[str, ...]] = ("brokenPixels", "outlierPixels")

    def __init__(self, i2c_bus: FakeMLX90640Bus) -> None:
        for name, size in self._FIXED_LISTS.items():
            setattr(self, name, [0] * size)
        for name in self._GROWING_LISTS:
            setattr(self, name, [])
        super().__init__(i2c_bus, MLX90640_ADDRESS)


def _unisolated_class_lists() -> set[str]:
    """Names of the upstream class's list attributes that the subclass does not shadow."""
    known = set(_IsolatedMLX90640._FIXED_LISTS) | set(_IsolatedMLX90640._GROWING_LISTS)
    shared = {
        name for name, value in vars(adafruit_mlx90640.MLX90640).items() if isinstance(value, list)
    }
    return shared - known


_NO_SLEEP_TIME = types.SimpleNamespace(sleep=lambda _seconds: None, monotonic=time.monotonic)


@contextlib.contextmanager
def _driver_call() -> Iterator[None]:
    """Run driver code with a private EEPROM buffer and without its 1 ms I2C sleeps.

    Only the ``adafruit_mlx90640`` module's own ``time`` and ``eeData`` names
    are swapped, and they are restored on exit.
    """
    saved_time = adafruit_mlx90640.time
    saved_eedata = adafruit_mlx90640.eeData
    adafruit_mlx90640.time = _NO_SLEEP_TIME
    adafruit_mlx90640.eeData = [0] * EEPROM_WORDS
    try:
        yield
    finally:
        adafruit_mlx90640.time = saved_time
        adafruit_mlx90640.eeData = saved_eedata


class AdafruitSensor:
    """One Adafruit driver instance bound to a fake bus holding ``eeprom_words``.

    The calibration is extracted once, at construction; any number of frames
    can then be computed.  Instances are independent of each other.
    """

    def __init__(self, eeprom_words: Sequence[int]) -> None:
        unshadowed = _unisolated_class_lists()
        if unshadowed:
            raise RuntimeError(f"adafruit_mlx90640 class lists left shared: {sorted(unshadowed)}")
        self.bus = FakeMLX90640Bus(eeprom_words)
        with _driver_call():
            self.driver = _IsolatedMLX90640(self.bus)

    def read_frame(self, frame_words: Sequence[int]) -> list[int]:
        """Load ``frame_words`` on the bus and read it back with the driver's ``_GetFrameData``.

        Words 832 (control register) and 833 (subpage) of the result are the
        ones the driver itself reports.
        """
        self.bus.load_subpage(frame_words)
        frame = [0] * FRAME_WORDS
        with _driver_call():
            self.driver._GetFrameData(frame)
        return frame

    def ambient(self, frame_words: Sequence[int]) -> float:
        """Ambient temperature Ta (degC) of a frame, by the driver's ``_GetTa``."""
        frame = self.read_frame(frame_words)
        return self.driver._GetTa(frame)

    def subpage_to(
        self, frame_words: Sequence[int], emissivity: float = 1.0, tr: float | None = None
    ) -> list[float]:
        """Object temperatures (degC) of one subpage, by the driver's ``_CalculateTo``.

        Returns 768 values, index ``row * 32 + col``.  Pixels outside the
        frame's subpage are NaN; pixels the driver treats as broken or outlier
        keep the driver's -273.15.  ``tr`` (reflected temperature) defaults to
        Ta minus the driver's open-air shift (8 degC).
        """
        frame = self.read_frame(frame_words)
        if tr is None:
            tr = self.driver._GetTa(frame) - adafruit_mlx90640.OPENAIR_TA_SHIFT
        result = [math.nan] * PIXELS
        self.driver._CalculateTo(frame, emissivity, tr, result)
        return result


def adafruit_subpage_to(
    eeprom_words: Sequence[int],
    frame_words: Sequence[int],
    emissivity: float = 1.0,
    tr: float | None = None,
) -> list[float]:
    """One-shot :meth:`AdafruitSensor.subpage_to` on a fresh sensor."""
    return AdafruitSensor(eeprom_words).subpage_to(frame_words, emissivity, tr)


def adafruit_ambient(eeprom_words: Sequence[int], frame_words: Sequence[int]) -> float:
    """One-shot :meth:`AdafruitSensor.ambient` on a fresh sensor."""
    return AdafruitSensor(eeprom_words).ambient(frame_words)


def _max_abs_diff(got: Sequence[float], expected: Sequence[float], pixels: Iterable[int]) -> float:
    """Largest ``|got[i] - expected[i]|`` over ``pixels`` (NaN if there are none)."""
    return max((abs(got[i] - expected[i]) for i in pixels), default=math.nan)


def _self_check() -> None:
    """Compare the driver with the Melexis verification data in ../shared/vectors."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "melexis_example_xlsx.json"
    data = json.loads(path.read_text())
    sensor = AdafruitSensor(data["eeprom"])
    emissivity = data["emissivity"]
    bad = set(sensor.driver.brokenPixels) | set(sensor.driver.outlierPixels)
    print(f"bad pixels (driver): {sorted(bad)}")

    image = [math.nan] * PIXELS
    for n, frame in enumerate(data["frames"]):
        subpage = sensor.subpage_to(frame, emissivity)
        computed = [i for i, t in enumerate(subpage) if not math.isnan(t)]
        for i in computed:
            image[i] = subpage[i]
        expected = data[f"expected_to_after_frame{n}"]
        done = [i for i in range(PIXELS) if not math.isnan(image[i])]
        print(
            f"frame {n} (subpage {frame[833]}, Ta {sensor.ambient(frame):.3f} degC): "
            f"{len(computed)} pixels computed; max |diff| vs expected "
            f"this subpage {_max_abs_diff(subpage, expected, computed):.4f}, "
            f"image so far {_max_abs_diff(image, expected, done):.4f} over {len(done)} pixels"
        )


if __name__ == "__main__":
    _self_check()
