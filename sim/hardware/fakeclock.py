"""A millisecond clock that moves only when told, with MicroPython's ticks arithmetic.

Timers (``call_later``, used by the fake ``machine.Timer``) fire while the
clock moves, at their own time, whatever the code that moves it is doing:
as a hardware timer interrupts a board's main loop."""

PERIOD = 1 << 30  # ticks_ms wraps here on the ESP32
# Masks rather than % PERIOD: 2**30 is not a small int on a 32-bit MicroPython, and arithmetic with it
# would allocate, which a board's C ticks functions never do (the firmware's allocation is measured).
_MASK = (1 << 30) - 1
_HALF = 1 << 29


class FakeClock:
    def __init__(self, start=0):
        self.now = start
        self._timers = []  # [due ms, callback, active]

    def ticks_ms(self):
        return self.now & _MASK

    def ticks_add(self, ticks, delta):
        return (ticks + delta) & _MASK

    def ticks_diff(self, end, start):
        return ((end - start + _HALF) & _MASK) - _HALF

    def sleep_ms(self, ms):
        self.advance(ms)

    def advance(self, ms):
        end = self.now + ms
        while self._timers:
            due = [t for t in self._timers if t[2] and t[0] <= end]
            if not due:
                break
            first = min(due, key=lambda t: t[0])
            self.now = max(self.now, first[0])
            first[2] = False
            self._timers.remove(first)
            first[1]()
        self.now = end

    def call_later(self, ms, callback):
        """Run ``callback()`` once ``ms`` from now; returns a handle whose ``cancel()`` stops it."""
        timer = [self.now + ms, callback, True]
        self._timers.append(timer)
        return _Handle(self, timer)


class _Handle:
    def __init__(self, clock, timer):
        self._clock = clock
        self._timer = timer

    def cancel(self):
        if self._timer[2]:
            self._timer[2] = False
            self._clock._timers.remove(self._timer)
