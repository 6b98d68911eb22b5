"""A virtual MLX90640: the register-level fake, fed by a scene, in real time.

Every 1/refresh-rate seconds (the rate the firmware wrote into the control
register) it renders the scenario, turns the temperatures into the raw words
the real sensor would hold for the next subpage (the inverse in
``controller.sensor``), and raises the new-data flag. Subpages alternate;
an unread subpage is overwritten, as on the sensor.
"""

from __future__ import annotations

import math

import numpy as np

from controller.sensor import Calibration
from controller.sensor.eeprom import EEPROM_WORDS
from controller.sensor.frame import (
    CTRL_REFRESH_MASK,
    CTRL_REFRESH_SHIFT,
    F_CONTROL,
    F_SUBPAGE,
    RAM_WORDS,
    REFRESH_RATES_HZ,
)

from .firmware_loader import load_firmware

_fw = load_firmware()


class VirtualMLX90640(_fw.fake_mlx90640.FakeMLX90640):
    def __init__(self, eeprom: np.ndarray, scenario, rng: np.random.Generator, vdd: float = 3.3):
        super().__init__([int(w) for w in eeprom])
        self.calibration = Calibration.from_eeprom(eeprom)
        self.scenario = scenario
        self.rng = rng
        self.vdd = vdd
        self.subpage = 1
        self.next_due = 0.0
        self.produced = 0
        self.loaded_truth: dict | None = None
        self.garbage: tuple[list[int], float] | None = None  # (pixels, until t)
        self._ram_bytes = bytearray(2 * RAM_WORDS)
        self._eeprom_bytes = np.asarray(eeprom, dtype=">u2").tobytes()

    @property
    def period_s(self) -> float:
        return 1.0 / REFRESH_RATES_HZ[(self.control & CTRL_REFRESH_MASK) >> CTRL_REFRESH_SHIFT]

    def update(self, t: float) -> bool:
        """Measure the next subpage if one is due by scenario time ``t``; True if one was made.

        The sensor measures on its own clock, every period from the first: the subpage holds the scene at the
        time its measurement was due on that grid, however late the firmware polls (were the scene rendered at
        the poll instead, each run's polling jitter would draw it other noise). Measurements due while nobody
        polled are overwritten by the latest, the grid kept."""
        if t < self.next_due:
            return False
        period = self.period_s
        due = self.next_due + period * math.floor((t - self.next_due) / period)
        self.next_due = due + period
        self.subpage ^= 1
        frame = self.scenario.frame_at(due)
        words = self.calibration.raw_from_to(frame.image, frame.ta, self.vdd, self.subpage, self.control)
        if self.garbage is not None:
            pixels, until = self.garbage
            if due <= until:
                words[pixels] = self.rng.integers(0, 0x10000, size=len(pixels))
            else:
                self.garbage = None
        self.load(words)
        self.loaded_truth = dict(frame.truth, subpage=self.subpage)
        self.produced += 1
        return True

    def load(self, frame_words) -> None:
        words = np.asarray(frame_words, dtype=np.uint16)
        self._ram_bytes[:] = words[:RAM_WORDS].astype(">u2").tobytes()
        self._measured(int(words[F_CONTROL]), int(words[F_SUBPAGE]))

    def _word(self, address):
        if 0x0400 <= address < 0x0400 + RAM_WORDS:
            i = 2 * (address - 0x0400)
            return (self._ram_bytes[i] << 8) | self._ram_bytes[i + 1]
        return super()._word(address)

    def read_into(self, register, buf) -> None:
        """As the register-level fake (which also lands subpages during a read and logs),
        but block copies for the two big regions."""
        if self.fail_reads or self.land_during_read or self.log is not None:
            super().read_into(register, buf)
            return
        n = len(buf)
        if 0x0400 <= register and register + n // 2 <= 0x0400 + RAM_WORDS:
            start = 2 * (register - 0x0400)
            buf[:] = self._ram_bytes[start:start + n]
        elif 0x2400 <= register and register + n // 2 <= 0x2400 + EEPROM_WORDS:
            start = 2 * (register - 0x2400)
            buf[:] = self._eeprom_bytes[start:start + n]
        else:
            super().read_into(register, buf)
