"""The door relay and the indicators, fail-secure.

The relay is driven to "locked" the moment this object exists, and again on
every error. An opening always ends by itself: whatever a command asks, it
lasts at most ``cap_ms``, enforced here and nowhere else.

The end of an opening does not depend on the main loop: a one-shot hardware
timer (``machine.Timer``) locks the relay when the granted time is over,
whatever the loop is doing, even if it is stalled in a network call. ``tick()``
locks it too, should the timer's callback ever be late.
"""

from micropython import const

OFF = const(0)
PASS = const(1)
ALARM = const(2)
RETRY = const(3)
MEASURING = const(4)  # the person at the mark is being measured: hold still (both lights blinking)

# How long each indication lasts, the buzzer pattern and the lights' blinking (on/off period, ms; 0 = silent,
# steady). A measuring light that nothing replaces (the controller lost, the person gone) ends by itself.
_SHOW_MS = (0, 2000, 5000, 2000, 3000)
_BEEP_MS = (0, 0, 250, 0, 0)
_BLINK_MS = (0, 0, 0, 0, 250)


class Door:
    """A relay that unlocks the door while energised (or de-energised if active-low)."""

    def __init__(self, pin, active_high, cap_ms, clock, timer=None):
        self._pin = pin
        self._on = 1 if active_high else 0
        self.cap_ms = cap_ms
        self._clock = clock
        self._timer = timer  # a machine.Timer, one-shot; None only where no timer exists (tests of tick())
        self._expire_cb = self._expire  # bound once: the timer's callback must not allocate
        self._until = 0
        self.is_open = False
        self.openings = 0
        self.timer_locks = 0  # openings ended by the timer rather than by tick()
        self.lock()

    def _expire(self, _timer):
        """The timer's callback: lock, allocating nothing (it may run as an interrupt)."""
        self._pin.value(1 - self._on)
        if self.is_open:
            self.timer_locks += 1
        self.is_open = False

    def lock(self):
        """Close now and cancel any opening."""
        self._pin.value(1 - self._on)
        self.is_open = False
        if self._timer is not None:
            self._timer.deinit()

    def open_for(self, ms):
        """Open for ``ms`` milliseconds, capped; returns the time granted."""
        ms = min(max(int(ms), 0), self.cap_ms)
        if ms == 0:
            self.lock()
            return 0
        self._until = self._clock.ticks_add(self._clock.ticks_ms(), ms)
        self._pin.value(self._on)
        self.is_open = True
        if self._timer is not None:
            try:
                self._timer.init(mode=self._timer.ONE_SHOT, period=ms, callback=self._expire_cb)
            except Exception:
                self.lock()  # no timer, no opening
                raise
        self.openings += 1
        return ms

    def tick(self):
        """Close once the granted time is over; call often."""
        if self.is_open and self._clock.ticks_diff(self._until, self._clock.ticks_ms()) <= 0:
            self.lock()


class Indicators:
    """Green/red LEDs and a buzzer; any of them may be None (not fitted)."""

    def __init__(self, green, red, buzzer, clock):
        self._green = green
        self._red = red
        self._buzzer = buzzer
        self._clock = clock
        self._until = 0
        self._since = 0
        self._lit = False  # the blinking lights' phase
        self.showing = OFF
        self.show(OFF)

    def show(self, kind):
        if kind < OFF or kind > MEASURING:
            kind = OFF
        if kind == MEASURING and self.showing == ALARM:
            return  # the next person's measuring light never cuts a fever's alarm short
        now = self._clock.ticks_ms()
        self.showing = kind
        self._since = now
        self._until = self._clock.ticks_add(now, _SHOW_MS[kind])
        self._lit = kind == MEASURING
        self._set(kind == PASS or kind == RETRY or self._lit, kind == ALARM or kind == RETRY or self._lit,
                  kind == ALARM)

    def tick(self):
        if self.showing == OFF:
            return
        now = self._clock.ticks_ms()
        if self._clock.ticks_diff(self._until, now) <= 0:
            self.show(OFF)
            return
        elapsed = self._clock.ticks_diff(now, self._since)
        period = _BEEP_MS[self.showing]
        if period and self._buzzer is not None:
            self._buzzer.value((elapsed // period) % 2 == 0)
        period = _BLINK_MS[self.showing]
        if period:
            lit = (elapsed // period) % 2 == 0
            if lit != self._lit:  # only on a change of phase: nothing to do, nothing allocated, in between
                self._lit = lit
                _level(self._green, lit)
                _level(self._red, lit)

    def _set(self, green, red, buzzer):
        _level(self._green, green)
        _level(self._red, red)
        _level(self._buzzer, buzzer)


def _level(pin, on):
    if pin is not None:
        pin.value(1 if on else 0)
