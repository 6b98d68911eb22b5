"""Signed commands to the gates, their counters, and matching each ack to its command.

A command counter is never reused, even across a restart or a crash: counters
are reserved from the store in blocks (``Store.reserve_counters``), so the
persisted high-water mark is always ahead of every counter sent. A restart
skips the rest of a block, which costs nothing: the gate only asks that each
counter be greater than the last.

A command whose ack does not come within ``ack_timeout_s`` raises an alert
("missing_ack"); a refused command raises one too ("command_refused"), as a
PASS whose opening was refused means a person is waiting at a shut door.

A command is version 2, or version 1 for a gate whose latest message was
version 1 (``versions``: only during an upgrade). When one of our commands is
refused as ``replayed`` and the gate's authenticated ack says it has already
taken counters up to ``last`` at or above our next one, someone else has
signed commands under this gate's key: the persisted counter is raised above
``last`` (so the gate is never locked out by a huge counter) and an alert
"counter_resync" tells a person.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ..protocol import commands as C
from ..protocol.topics import topic
from ..store.records import DoorAction
from .events import AlertKind, DoorEvent

log = logging.getLogger("thermogate.doors")

COUNTER_BLOCK = 256


@dataclass
class Pending:
    action: DoorAction
    sent_monotonic: float
    action_id: int | None


class DoorCommander:
    def __init__(self, store, publish, gates: dict, *, ack_timeout_s: float = 3.0, alerts=None, metrics=None,
                 live=None, versions=None):
        """``publish(topic, payload, qos)`` sends on MQTT; ``gates`` maps ids to GateInfo (their keys);
        ``versions(gate_id)`` is the protocol version of the gate's latest message (default: always 2)."""
        self.versions = versions
        self.store = store
        self.publish = publish
        self.gates = gates
        self.ack_timeout_s = ack_timeout_s
        self.alerts = alerts
        self.metrics = metrics
        self.live = live
        self._lock = threading.Lock()
        self._blocks: dict[str, tuple[int, int]] = {}  # gate -> (next counter, end of block)
        self._pending: dict[tuple[str, int], Pending] = {}

    def _next_counter(self, gate_id: str) -> int:
        nxt, end = self._blocks.get(gate_id, (0, 0))
        if nxt >= end:
            nxt = self.store.reserve_counters(gate_id, COUNTER_BLOCK)
            end = nxt + COUNTER_BLOCK
        self._blocks[gate_id] = (nxt + 1, end)
        return nxt

    def send(self, gate_id: str, boot_id: int, action: str, arg: int, sequence: int, *, cause: str = "decision",
             screening_id: int | None = None, user: str | None = None, reason: str | None = None) -> DoorAction:
        """Sign, record and publish one command; returns what was recorded."""
        info = self.gates[gate_id]
        with self._lock:
            counter = self._next_counter(gate_id)
            version = self.versions(gate_id) if self.versions is not None else C.VERSION
            command = C.sign_command(info.key, gate_id, boot_id, counter, action, arg, sequence, version)
            record = DoorAction(gate=gate_id, time=time.time(), action=action, arg=arg, counter=counter,
                                cause=cause, screening_id=screening_id, user=user, reason=reason)
            try:
                action_id = self.store.record_door_action(record)
            except Exception:
                if action != "indicate":
                    raise  # no door moves without its record
                action_id = None  # the alarm light and buzzer must work even when the disk is full
                log.error("indicator command not recorded", extra={"gate": gate_id, "arg": arg})
            self._pending[(gate_id, counter)] = Pending(record, time.monotonic(), action_id)
        self.publish(topic(gate_id, "cmd"), command.payload(), 1)
        if self.metrics is not None:
            self.metrics.commands.labels(gate=gate_id, action=action).inc()
        log.info("command sent", extra={"gate": gate_id, "action": action, "arg": arg, "counter": counter,
                                        "cause": cause})
        return record

    def on_ack(self, ack: C.Ack) -> None:
        """An ack from a gate: matched to its command and stored."""
        key = (ack.gate_id, ack.counter) if ack.counter is not None else None
        with self._lock:
            pending = self._pending.pop(key, None) if key else None
        if self.metrics is not None:
            self.metrics.acks.labels(gate=ack.gate_id, result="ok" if ack.ok else ack.reason or "refused").inc()
        if pending is None:
            # Not ours (another controller's, or one from before a restart): still on record if we sent it.
            known = False
            if ack.counter is not None:
                try:
                    known = self.store.record_door_ack(ack.gate_id, ack.counter, ack.ok, ack.reason,
                                                       ack.applied_ms, time.time())
                except Exception as exc:
                    log.error("ack not recorded", extra={"gate": ack.gate_id, "error": repr(exc)[:200]})
                    known = True  # cannot tell: no alarm about it
            if not ack.ok:
                log.warning("refusal of an unknown command", extra={"gate": ack.gate_id, "reason": ack.reason,
                                                                    "counter": ack.counter})
                if not known and self.alerts is not None:  # somebody else is sending the gate door commands
                    self.alerts(ack.gate_id, AlertKind.FOREIGN_COMMAND_REFUSED,
                                f"the gate refused a door command this controller never sent ({ack.reason}): "
                                f"someone else is sending commands to it")
            return
        if not ack.ok and ack.reason == "replayed" and ack.last is not None:
            self._resync(ack.gate_id, ack.last)
        if pending.action_id is not None:
            try:
                self.store.record_door_ack(ack.gate_id, ack.counter, ack.ok, ack.reason, ack.applied_ms, time.time())
            except Exception as exc:
                log.error("ack not recorded", extra={"gate": ack.gate_id, "error": repr(exc)[:200]})
        if self.live is not None:
            self.live.publish(DoorEvent(ack.gate_id, pending.action.action, ack.ok, ack.reason, ack.applied_ms,
                                        pending.action.cause))
        if not ack.ok:
            log.warning("command refused", extra={"gate": ack.gate_id, "action": pending.action.action,
                                                  "reason": ack.reason, "counter": ack.counter})
            if self.alerts is not None:
                self.alerts(ack.gate_id, AlertKind.COMMAND_REFUSED,
                            f"{pending.action.action} refused by the gate: {ack.reason}")

    def _resync(self, gate_id: str, last: int) -> None:
        """Our command was refused as replayed, and the gate has authenticated counters up to ``last``: if
        that reaches our next counter, continue above it (persisted) and tell a person."""
        with self._lock:
            nxt, _end = self._blocks.get(gate_id, (0, 0))
            if last < nxt:
                return  # ours are already above it (e.g. the same command delivered twice)
            try:
                first = self.store.reserve_counters(gate_id, COUNTER_BLOCK, above=last)
            except Exception as exc:
                log.error("command counter not resynchronised", extra={"gate": gate_id, "error": repr(exc)[:200]})
                return
            self._blocks[gate_id] = (first, first + COUNTER_BLOCK)
        log.warning("command counter resynchronised", extra={"gate": gate_id, "last": last, "next": first,
                                                             "was": nxt})
        if self.metrics is not None:
            self.metrics.counter_resyncs.labels(gate=gate_id).inc()
        if self.alerts is not None:
            self.alerts(gate_id, AlertKind.COUNTER_RESYNC,
                        f"the gate had accepted command counters up to {last}, beyond ours ({nxt}): someone else "
                        f"signs commands with this gate's key. Rotate its key (thermogate gate add {gate_id} "
                        f"--rotate-secrets) and re-flash it")

    def check_timeouts(self, now: float | None = None) -> list[DoorAction]:
        """Commands whose ack is overdue: each raises one alert and is forgotten."""
        now = time.monotonic() if now is None else now
        with self._lock:
            late = [k for k, p in self._pending.items() if now - p.sent_monotonic > self.ack_timeout_s]
            overdue = [self._pending.pop(k) for k in late]
        for p in overdue:
            a = p.action
            log.warning("no ack", extra={"gate": a.gate, "action": a.action, "counter": a.counter})
            if self.metrics is not None:
                self.metrics.acks.labels(gate=a.gate, result="missing").inc()
            if self.alerts is not None:
                self.alerts(a.gate, AlertKind.MISSING_ACK,
                            f"no acknowledgement of {a.action} (counter {a.counter}) within {self.ack_timeout_s:g} s")
        return [p.action for p in overdue]

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)
