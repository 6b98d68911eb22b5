"""A register-level MLX90640 behind the fake I2C bus.

EEPROM at 0x2400, RAM at 0x0400, status register 0x8000 (bit 3: new data,
bit 0: last subpage), control register 0x800D. The test loads subpages as
834-word frames in the vendor driver's layout; reading RAM returns them
big-endian, as the real sensor does. ``fail_reads`` makes the next reads fail.
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

    def load(self, frame_words):
        """A new subpage has been measured."""
        for i in range(832):
            self.ram[i] = frame_words[i]
        self.control = (self.control & ~0x1000) | (frame_words[832] & 0x1000)
        self.status = (self.status & ~0x0009) | 0x0008 | (frame_words[833] & 1)

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

    def read_into(self, register, buf):
        """Fill ``buf`` from ``register`` on (in place, so the fake adds no
        allocation to what the firmware's own is measured against)."""
        self.reads += 1
        if self.fail_reads:
            self.fail_reads -= 1
            raise OSError(116)  # ETIMEDOUT, as a glitching bus gives
        for i in range(len(buf) // 2):
            w = self._word(register + i)
            buf[2 * i] = w >> 8
            buf[2 * i + 1] = w & 0xFF

    def write(self, register, data):
        value = (data[0] << 8) | data[1]
        self.writes += 1
        if register == 0x8000:
            self.status = (self.status & 0x0007) | (value & 0xFFF0)  # writing bit 3 as 0 clears it
        elif register == 0x800D:
            self.control = value
        else:
            raise OSError(5)
