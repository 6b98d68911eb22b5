"""The resume guard: after a restart, the first PASS at a gate decided on just before it does not open the door.

The person decided on just before a restart may still be at the gate. For a
gate whose last decision is under ``RESUME_WINDOW_S`` old, the first person it
decides on within that window is screened and recorded as usual, but a PASS
does not open the door by itself: an alert asks the guard to open by hand if
they are still waiting. Nobody's door opens twice, and no decision goes
unrecorded. The window's state is the worker's ``resume_until`` and
``resume_track``.
"""

from __future__ import annotations

import logging
import time

from ..protocol import result as D
from .events import AlertKind

log = logging.getLogger("thermogate.service")

RESUME_WINDOW_S = 30.0  # after a restart, a gate decided on this recently waits for an empty view


class ResumeGuard:
    def __init__(self, alerts):
        self.alerts = alerts  # alerts(gate, kind, detail)
        self.held = 0  # decisions held back after the restart

    def arm(self, store, workers: dict) -> None:
        """At start: every gate whose last stored decision (not BLOCKED) is recent waits for its next person."""
        for gate_id, worker in workers.items():
            last = store.screenings(gate=gate_id, limit=1, snapshots=False, newest_first=True)
            if last and last[0].decision != D.BLOCKED and time.time() - last[0].time < RESUME_WINDOW_S:
                worker.resume_until = last[0].time + RESUME_WINDOW_S
                log.info("resuming: the first person is not let through automatically", extra={"gate": gate_id})

    def holds(self, worker, d) -> bool:
        """Whether this decision's door stays shut (a PASS of the person the window waits for); alerted."""
        hold = False
        if worker.resume_until is not None and d.decision != D.BLOCKED:
            if time.time() >= worker.resume_until:
                worker.resume_until = worker.resume_track = None
            elif worker.resume_track is None or worker.resume_track == d.track:
                worker.resume_track = d.track
                hold = d.decision == D.PASS
            else:  # somebody new: screening is back to normal
                worker.resume_until = worker.resume_track = None
        if hold:
            self.held += 1
            self.alerts(worker.id, AlertKind.RESUME_HOLD,
                        "PASS just after a controller restart: the door was not opened by itself, in "
                        "case this person was already let through. Open it by hand if they are waiting.")
        return hold
