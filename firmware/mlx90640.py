"""MLX90640 driver for machine.I2C: raw words only, no maths.

The gate reads the sensor and sends its words on; the controller computes
temperatures. Register names follow the Melexis datasheet; a subpage is read
the way the Melexis driver's GetFrameData reads it (one status read to see
new data, then clear the flag, read the RAM and read the status again, at
most 5 times while new data keeps landing during the read; then the control
register; the subpage number from the last status read). The EEPROM is read
at 400 kHz, as the Melexis examples do, and frames at the configured clock.
All buffers are allocated once; reading a subpage allocates nothing.
"""

from micropython import const

ADDRESS = const(0x33)
EEPROM_FREQ = const(400000)  # the Melexis examples dump the EEPROM at 400 kHz
_REG_STATUS = const(0x8000)
_REG_CONTROL = const(0x800D)
_EEPROM = const(0x2400)
_RAM = const(0x0400)
_STATUS_NEW_DATA = const(0x0008)
_STATUS_SUBPAGE = const(0x0001)
_STATUS_CLEAR = const(0x0030)  # new-data flag cleared, overwrite enabled
_CTRL_REFRESH_MASK = const(0x0380)
_CTRL_CHESS = const(0x1000)
_CTRL_SUBPAGES = const(0x0001)
_TRIES = const(3)  # attempts per I2C transfer
_RAM_READS = const(5)  # RAM reads per subpage while new data keeps landing (the Melexis driver's bound)
RAM_BYTES = const(1664)
EEPROM_BYTES = const(1664)
FRAME_BYTES = const(1668)  # RAM, then the control register, then the subpage number


class SensorError(Exception):
    pass


class MLX90640:
    def __init__(self, i2c, address=ADDRESS, bus=None, freq=0):
        """``i2c``: the bus at the frame clock ``freq`` (Hz).

        ``bus``: optional; ``bus(hz)`` returns the bus re-initialised at that
        clock. On the ESP32 that is ``machine.I2C(0, scl=..., sda=..., freq=hz)``
        again: constructing the same bus id re-initialises the one peripheral
        (its ``init()`` is not supported). With it the EEPROM is read at 400 kHz
        and the bus goes back to ``freq`` for frames; without it the bus keeps
        the clock it was built with."""
        self.i2c = i2c
        self.address = address
        self._bus = bus
        self.freq = freq
        self.i2c_errors = 0
        self.rereads = 0  # RAM reads repeated because a new subpage landed during the read
        self.retried = False
        self._status = 0
        self._word = bytearray(2)
        placeholder = memoryview(bytearray(FRAME_BYTES))  # replaced by bind()
        self._ram = self._control = self._tail = placeholder

    def bind(self, buf):
        """Fix the buffer subpages are read into (memoryview of FRAME_BYTES):
        832 RAM words, the control register, the subpage number."""
        self._ram = buf[0:RAM_BYTES]
        self._control = buf[RAM_BYTES:RAM_BYTES + 2]
        self._tail = buf

    # -- bus clock and register access, retried ----------------------------------

    def _clock(self, hz):
        if self._bus is None:
            return
        try:
            self.i2c = self._bus(hz)
        except (OSError, ValueError) as exc:
            raise SensorError("I2C bus at %d Hz: %s" % (hz, exc))

    def _read(self, register, buf):
        for _ in range(_TRIES):
            try:
                self.i2c.readfrom_mem_into(self.address, register, buf, addrsize=16)
                return
            except OSError:
                self.i2c_errors += 1
                self.retried = True
        raise SensorError("I2C read of 0x%04X failed %d times" % (register, _TRIES))

    def _write(self, register, value):
        self._word[0] = value >> 8
        self._word[1] = value & 0xFF
        for _ in range(_TRIES):
            try:
                self.i2c.writeto_mem(self.address, register, self._word, addrsize=16)
                return
            except OSError:
                self.i2c_errors += 1
                self.retried = True
        raise SensorError("I2C write of 0x%04X failed %d times" % (register, _TRIES))

    def read_register(self, register):
        self._read(register, self._word)
        return (self._word[0] << 8) | self._word[1]

    # -- datasheet operations ---------------------------------------------------

    def dump_eeprom(self, buf):
        """Read the 832 calibration words into ``buf`` (1664 bytes, big-endian), at
        400 kHz; the bus is back at the frame clock afterwards, even on failure."""
        self._clock(EEPROM_FREQ)
        try:
            self._read(_EEPROM, buf)
        finally:
            self._clock(self.freq)

    def configure(self, refresh_code, chess=True):
        """Set the refresh rate (control register code 0..7) and the reading pattern."""
        control = self.read_register(_REG_CONTROL)
        control = (control & ~_CTRL_REFRESH_MASK) | ((refresh_code & 7) << 7) | _CTRL_SUBPAGES
        control = control | _CTRL_CHESS if chess else control & ~_CTRL_CHESS
        self._write(_REG_CONTROL, control & 0xFFFF)
        if self.read_register(_REG_CONTROL) != control & 0xFFFF:
            raise SensorError("control register did not take 0x%04X" % control)

    def data_ready(self):
        """Read the status register: True if a new subpage is in RAM.

        This is the frame's one status read before the RAM is read:
        read_subpage() goes on from it."""
        self.retried = False
        self._status = self.read_register(_REG_STATUS)
        return bool(self._status & _STATUS_NEW_DATA)

    def read_subpage(self):
        """Read the subpage just measured into the bound buffer; returns its number.

        Call when data_ready() is True. Clears the new-data flag, reads the
        RAM and reads the status again; if a new subpage landed during the
        read, the RAM may mix two subpages, so it is read again (at most 5
        reads in all, then SensorError). Then the control register. The
        subpage number comes from the last status read. Allocates nothing."""
        status = self._status
        for _ in range(_RAM_READS):
            self._write(_REG_STATUS, _STATUS_CLEAR)
            self._read(_RAM, self._ram)
            status = self.read_register(_REG_STATUS)
            if not status & _STATUS_NEW_DATA:
                break
            self.rereads += 1
        else:
            raise SensorError("new data landed during each of %d RAM reads" % _RAM_READS)
        self._status = status
        self._read(_REG_CONTROL, self._control)
        subpage = status & _STATUS_SUBPAGE
        self._tail[RAM_BYTES + 2] = 0
        self._tail[RAM_BYTES + 3] = subpage
        return subpage
