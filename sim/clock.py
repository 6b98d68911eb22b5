"""Real time with MicroPython's ``time`` interface, for virtual gates.

``ticks_ms`` wraps at 2**30 as on the ESP32, so the firmware's wrap-safe
arithmetic runs as it would on a board; ``now`` is milliseconds since the
clock was made, for timestamps on pins and in recordings.
"""

from __future__ import annotations

import threading
import time

PERIOD = 1 << 30


class RealClock:
    def __init__(self, offset_ms: int = 0):
        self._start = time.monotonic()
        self._offset = offset_ms  # start somewhere other than 0, e.g. to test the wrap

    @property
    def now(self) -> int:
        return int((time.monotonic() - self._start) * 1000) + self._offset

    @property
    def seconds(self) -> float:
        """Seconds since the clock was made."""
        return time.monotonic() - self._start

    def ticks_ms(self) -> int:
        return self.now % PERIOD

    def ticks_add(self, ticks: int, delta: int) -> int:
        return (ticks + delta) % PERIOD

    def ticks_diff(self, end: int, start: int) -> int:
        return ((end - start + PERIOD // 2) % PERIOD) - PERIOD // 2

    def sleep_ms(self, ms: int) -> None:
        time.sleep(ms / 1000)

    def call_later(self, ms: int, callback) -> threading.Timer:
        """Run ``callback()`` in ``ms`` from another thread, as a board's hardware timer interrupts its loop;
        the handle's ``cancel()`` stops it (the fake ``machine.Timer`` uses this)."""
        timer = threading.Timer(ms / 1000, callback)
        timer.daemon = True
        timer.start()
        return timer
