"""The measuring light: the person at the mark is told they are being measured, so that they hold still.

A decision needs about a second of standing frames (docs/estimation.md, "Standing
still to a decision"); a child who sees nothing happen walks on or fidgets. So
when the tracker takes a person's first frame at the mark into its decision
window (``Tracker.measured_now``), the gate is sent ``indicate measuring``: both lights blink
until the decision's own indication replaces them, or for 3 s (the gate ends
it by itself). While the same person is still being measured it is sent again
every ``REPEAT_S`` (a frame BLOCKED or told RETRY is not measured and sends
nothing); a new person gets it at once.

It is sent only to a gate whose status says it shows it (``ind`` >= 4,
firmware 0.3.0 on): an older gate would refuse the argument and raise a
``command_refused`` alert for nothing. Each one is a signed command like any
other, recorded with the cause ``measuring``. It moves no door, and a failure
to send it is logged and costs nothing else. ``[doors] measuring_light = false``
turns it off.
"""

from __future__ import annotations

import logging
import time

from ..protocol.commands import INDICATE
from ..store.records import CAUSE_MEASURING

log = logging.getLogger("thermogate.doors")

REPEAT_S = 2.5  # again while the same person is still measured (the gate shows it for 3 s)


class MeasuringLight:
    def __init__(self, doors, *, enabled: bool = True, repeat_s: float = REPEAT_S, clock=time.monotonic):
        """``doors``: the DoorCommander that signs, records and sends commands."""
        self.doors = doors
        self.enabled = enabled
        self.repeat_s = repeat_s
        self.clock = clock
        self._last: dict[str, tuple[int, float]] = {}  # gate -> (track, when) of the latest measuring light
        self.sent = 0

    def on_frame(self, worker) -> bool:
        """After each analysed frame of ``worker``'s gate: send the light if it is due; True if sent."""
        pipeline = worker.pipeline
        if not self.enabled or pipeline is None or not pipeline.tracker.measured_now:
            return False
        status = worker.status
        if status is None or not status.online or status.indications < INDICATE["measuring"]:
            return False
        track, now = pipeline.tracker.track, self.clock()
        last = self._last.get(worker.id)
        if last is not None and last[0] == track and now - last[1] < self.repeat_s:
            return False
        self._last[worker.id] = (track, now)
        try:
            self.doors.send(worker.id, worker.boot_id or 0, "indicate", INDICATE["measuring"], worker.last_sequence,
                            cause=CAUSE_MEASURING)
        except Exception as exc:  # the store or the link: the screening goes on without the light
            log.error("measuring light not sent", extra={"gate": worker.id, "error": repr(exc)[:200]})
            return False
        self.sent += 1
        return True
