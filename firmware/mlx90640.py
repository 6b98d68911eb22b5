"""MLX90640 driver for machine.I2C: raw words only, no maths.

The gate reads the sensor and sends its words on; the controller computes
temperatures. Register names follow the Melexis datasheet. All buffers are
allocated once; reading a subpage allocates nothing.
"""

from micropython import const

ADDRESS = const(0x33)
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
_TRIES = const(3)
RAM_BYTES = const(1664)
EEPROM_BYTES = const(1664)
FRAME_BYTES = const(1668)  # RAM, then the control register, then the subpage number


class SensorError(Exception):
    pass


class MLX90640:
    def __init__(self, i2c, address=ADDRESS):
        self.i2c = i2c
        self.address = address
        self.i2c_errors = 0
        self.retried = False
        self._word = bytearray(2)
        placeholder = memoryview(bytearray(FRAME_BYTES))  # replaced by bind()
        self._ram = self._control = self._tail = placeholder

    def bind(self, buf):
        """Fix the buffer subpages are read into (memoryview of FRAME_BYTES):
        832 RAM words, the control register, the subpage number."""
        self._ram = buf[0:RAM_BYTES]
        self._control = buf[RAM_BYTES:RAM_BYTES + 2]
        self._tail = buf
    # -- register access, retried -------------------------------------------------

    def _read(self, register, buf):
        for attempt in range(_TRIES):
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
        for attempt in range(_TRIES):
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
        """Read the 832 calibration words into ``buf`` (1664 bytes, big-endian)."""
        self._read(_EEPROM, buf)

    def configure(self, refresh_code, chess=True):
        """Set the refresh rate (control register code 0..7) and the reading pattern."""
        control = self.read_register(_REG_CONTROL)
        control = (control & ~_CTRL_REFRESH_MASK) | ((refresh_code & 7) << 7) | _CTRL_SUBPAGES
        control = control | _CTRL_CHESS if chess else control & ~_CTRL_CHESS
        self._write(_REG_CONTROL, control & 0xFFFF)
        if self.read_register(_REG_CONTROL) != control & 0xFFFF:
            raise SensorError("control register did not take 0x%04X" % control)

    def data_ready(self):
        return bool(self.read_register(_REG_STATUS) & _STATUS_NEW_DATA)

    def read_subpage(self):
        """Read the subpage just measured into the bound buffer; returns its number.

        Call when data_ready() is True. Allocates nothing."""
        self.retried = False
        status = self.read_register(_REG_STATUS)
        self._write(_REG_STATUS, _STATUS_CLEAR)
        self._read(_RAM, self._ram)
        self._read(_REG_CONTROL, self._control)
        subpage = status & _STATUS_SUBPAGE
        self._tail[RAM_BYTES + 2] = 0
        self._tail[RAM_BYTES + 3] = subpage
        return subpage
