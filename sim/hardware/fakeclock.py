"""A millisecond clock that moves only when told, with MicroPython's ticks arithmetic."""

PERIOD = 1 << 30  # ticks_ms wraps here on the ESP32


class FakeClock:
    def __init__(self, start=0):
        self.now = start

    def ticks_ms(self):
        return self.now % PERIOD

    def ticks_add(self, ticks, delta):
        return (ticks + delta) % PERIOD

    def ticks_diff(self, end, start):
        return ((end - start + PERIOD // 2) % PERIOD) - PERIOD // 2

    def sleep_ms(self, ms):
        self.now += ms

    def advance(self, ms):
        self.now += ms
