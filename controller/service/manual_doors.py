"""What a person at the console does to a door, and the holds that outlast a restart.

"Open once" goes through the same signed path as a PASS; a hold keeps the door
locked (no PASS opens it) until someone releases it. Both are audited, need a
reason and the user who acts. A hold is in the store first, so a crash right
after it still finds the door held: at start, ``restore`` puts every hold back
before the first frame is read and tells the guards with an alert.
"""

from __future__ import annotations

import logging
import time

from .events import AlertKind, GateEvent
from .gate_worker import GateWorker

log = logging.getLogger("thermogate.service")


class DoorHeld(ValueError):
    """A manual "open once" on a gate whose door is held locked: release the hold first."""


class ManualDoors:
    def __init__(self, store, workers: dict[str, GateWorker], doors, alerts, live, *, open_ms: int):
        self.store = store
        self.workers = workers
        self.doors = doors  # DoorCommander: signs, records and sends
        self.alerts = alerts  # AlertBook
        self.live = live
        self.open_ms = open_ms  # [doors] open_ms: an "open once" without its own duration

    def restore(self) -> None:
        """Doors held locked from the console stay held across a restart or a crash: the hold is in the
        store, and it is put back before the first frame is read, marked ``restored`` and told to the
        guards as an alert until someone releases the door."""
        try:
            holds = self.store.door_holds()
        except Exception as exc:  # an unreadable store must not start the gates unlocked silently
            log.error("door holds not read", extra={"error": repr(exc)[:200]})
            self.alerts.raise_(None, AlertKind.HOLDS_UNKNOWN, "the doors held locked before the restart could not "
                               "be read from the store: check every gate's door")
            return
        for hold in holds:
            worker = self.workers.get(hold.gate)
            if worker is None:
                continue
            worker.manual_lock = {"user": hold.user, "reason": hold.reason, "time": hold.time, "restored": True}
            log.warning("door still held locked after the restart", extra={"gate": hold.gate, "user": hold.user})
            self.alerts.raise_(hold.gate, AlertKind.HOLD_RESTORED,
                               f"the door is still held locked after a controller restart (by {hold.user}: "
                               f"{hold.reason}); it stays locked until someone releases it")

    def open_once(self, gate_id: str, user: str, reason: str, ms: int | None = None):
        """Open a gate's door once, by hand: audited, through the same signed path as a PASS."""
        worker = self._target(gate_id, user, reason)
        if worker.manual_lock is not None:
            held = worker.manual_lock
            raise DoorHeld(f"the door of gate {gate_id} is held locked (by {held.get('user')}: "
                           f"{held.get('reason')}): release it first, then open it")
        if worker.boot_id is None or worker.last_sequence == 0:
            raise ValueError(f"gate {gate_id} has sent no frame yet: a command needs its latest frame")
        ms = self.open_ms if ms is None else int(ms)
        action = self.doors.send(gate_id, worker.boot_id, "open", ms, worker.last_sequence, cause="manual",
                                 user=user, reason=reason)
        self.store.record_audit(user, time.time(), "door_open", {"gate": gate_id, "reason": reason, "ms": ms,
                                                                 "counter": action.counter})
        return action

    def set_lock(self, gate_id: str, locked: bool, user: str, reason: str):
        """Hold a gate's door locked (no PASS opens it) until released; both are audited."""
        worker = self._target(gate_id, user, reason)
        action = None
        now = time.time()
        if locked:  # in the store first: a crash right after this still finds the door held
            self.store.set_door_hold(gate_id, user, reason, now)
            worker.manual_lock = {"user": user, "reason": reason, "time": now}
            if worker.boot_id is not None and worker.last_sequence:
                action = self.doors.send(gate_id, worker.boot_id, "lock", 0, worker.last_sequence,
                                         cause="manual", user=user, reason=reason)
        else:
            self.store.clear_door_hold(gate_id)
            worker.manual_lock = None
            self.alerts.resolve(gate_id, AlertKind.HOLD_RESTORED)
        self.store.record_audit(user, time.time(), "door_lock" if locked else "door_release",
                                {"gate": gate_id, "reason": reason})
        self.live.publish(GateEvent(worker.summary()))
        return action

    def _target(self, gate_id: str, user: str, reason: str) -> GateWorker:
        if gate_id not in self.workers:
            raise KeyError(f"no gate {gate_id!r}")
        if not (isinstance(reason, str) and reason.strip()):
            raise ValueError("a reason is required for every manual door action")
        if not user:
            raise ValueError("a manual door action needs the user who takes it")
        return self.workers[gate_id]
