"""How often one gate's frames come, measured from their times.

    rate = FrameRate()
    for t in frame_times:              # seconds on the gate's clock, one per analysed frame
        if rate.update(t):             # the interval changed (and on the first measured one)
            rate.interval_s, rate.scale

The firmware's default refresh is 8 frames a second (``NOMINAL_FRAME_S``), and
the product's frame counts are stated at it: the tracker's windows
(``stable_frames``) and the scene analysis's time constants
(``AnalysisConfig.background_tau_frames`` and the others). A gate set to
another rate (docs/installation.md: 4 Hz for long I2C wires), or a recording
made at one, keeps their time through ``scale``, the frames per nominal
frame. The interval is the median of the last ``INTERVALS`` between frames,
so a late or lost frame does not move it; a gap longer than ``MAX_INTERVAL_S``
is the gate or its link down, not its rate, and is left out.
"""

from __future__ import annotations

import statistics
from collections import deque

NOMINAL_FRAME_S = 0.125  # the firmware's default refresh, 8 frames a second
# Below this rate people who stand 1-2 s are rarely decided: the decision's half second of standing frames and the
# reference's 16-frame window take too long (docs/estimation.md, "At another refresh rate"). The tools warn.
SLOWEST_SCREENING_HZ = 4
INTERVALS = 16
MAX_INTERVAL_S = 2.0  # the slowest refresh's (0.5 Hz)
# The median is worked out again only when an interval entering or leaving the last INTERVALS is this far (a
# share) from it: otherwise every interval is within it of the median kept, so the kept one is too.
RECOMPUTE_SHARE = 0.01


def too_slow_to_screen(refresh_hz: float) -> bool:
    """Whether a sensor refreshing at ``refresh_hz`` is below SLOWEST_SCREENING_HZ (0 or less: a rate not
    known, never flagged). The gate tools' warning, `thermogate watch` and the console's tile ask this."""
    return 0.0 < refresh_hz < SLOWEST_SCREENING_HZ


class FrameRate:
    """The interval between one gate's frames (``NOMINAL_FRAME_S`` until two frames have come)."""

    def __init__(self) -> None:
        self.interval_s = NOMINAL_FRAME_S
        self._last_t: float | None = None
        self._intervals: deque[float] = deque(maxlen=INTERVALS)

    @property
    def scale(self) -> float:
        """Frames at this rate per frame at the nominal rate: 0.5 at 4 Hz, 2 at 16 Hz."""
        return NOMINAL_FRAME_S / self.interval_s

    def update(self, t: float) -> bool:
        """Take the next frame's time (s); whether the interval changed."""
        last, self._last_t = self._last_t, t
        if last is None or not 0.0 < t - last <= MAX_INTERVAL_S:
            return False
        dt, kept = t - last, self._intervals
        leaving = kept[0] if len(kept) == INTERVALS else None
        kept.append(dt)
        near = RECOMPUTE_SHARE * self.interval_s
        if (len(kept) > 1 and abs(dt - self.interval_s) <= near
                and (leaving is None or abs(leaving - self.interval_s) <= near)):
            return False
        before, self.interval_s = self.interval_s, statistics.median(kept)
        return self.interval_s != before or len(kept) == 1
