"""A register-level MLX90640 behind the fake I2C bus.

EEPROM at 0x2400, RAM at 0x0400, status register 0x8000, control register
0x800D. The status register works as the datasheet says:

- bits 0-2: the subpage measured last;
- bit 3: new data in RAM; set by the sensor when it finishes a subpage,
  cleared only by writing the register with bit 3 at 0;
- bits 4-5 (overwrite enable, start of measurement): kept as written.

The test loads subpages as 834-word frames in the vendor driver's layout;
reading RAM returns them big-endian, as the real sensor does. With overwrite
enabled a new subpage lands in RAM even while it is being read:
``land_during_read`` holds frames that each land halfway through one of the
next RAM reads, which then returns the first half of the old subpage and the
second half of the new one, and the new-data flag is set again.
``fail_reads`` makes the next reads fail. ``log``, when a list, records every
transfer as (kind, register, words), for tests that check the read sequence.
"""


class FakeMLX90640:
    def __init__(self, eeprom_words):
        self.eeprom = list(eeprom_words)
        self.ram = [0] * 832
        self.status = 0
        self.control = 0x1901
        self.fail_reads = 0
        self.reads = 0
        self.writes = 0
        self.land_during_read = []
        self.log = None

    def load(self, frame_words):
        """A new subpage has been measured."""
        for i in range(832):
            self.ram[i] = frame_words[i]
        self._measured(frame_words[832], frame_words[833])

    def _measured(self, control_word, subpage):
        """The sensor finished a subpage: new-data flag up, its number in bits 0-2."""
        self.control = (self.control & ~0x1000) | (control_word & 0x1000)
        self.status = (self.status & ~0x000F) | 0x0008 | (subpage & 1)

    def _word(self, address):
        if 0x2400 <= address < 0x2400 + 832:
            return self.eeprom[address - 0x2400]
        if 0x0400 <= address < 0x0400 + 832:
            return self.ram[address - 0x0400]
        if address == 0x8000:
            return self.status
        if address == 0x800D:
            return self.control
        raise OSError(5)  # EIO: not a readable address

    def _landing(self, register):
        """The frame that lands during this read, if it is a RAM read and one is due."""
        if self.land_during_read and 0x0400 <= register < 0x0400 + 832:
            return self.land_during_read.pop(0)
        return None

    def read_into(self, register, buf):
        """Fill ``buf`` from ``register`` on (in place, so the fake adds no
        allocation to what the firmware's own is measured against)."""
        self.reads += 1
        if self.fail_reads:
            self.fail_reads -= 1
            raise OSError(116)  # ETIMEDOUT, as a glitching bus gives
        n = len(buf) // 2
        if self.log is not None:
            self.log.append(("read", register, n))
        landing = self._landing(register)
        for i in range(n):
            if landing is not None and i == n // 2:
                self.load(landing)
            w = self._word(register + i)
            buf[2 * i] = w >> 8
            buf[2 * i + 1] = w & 0xFF

    def write(self, register, data):
        value = (data[0] << 8) | data[1]
        self.writes += 1
        if self.log is not None:
            self.log.append(("write", register, value))
        if register == 0x8000:
            # bits 0-2 are the sensor's; bit 3 can only be cleared; the rest is kept as written
            self.status = (self.status & 0x0007) | (self.status & value & 0x0008) | (value & 0xFFF0)
        elif register == 0x800D:
            self.control = value
        else:
            raise OSError(5)
