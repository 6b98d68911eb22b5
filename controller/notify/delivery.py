"""Delivery that never loses an alarm: a queue and a thread per channel, retries, outcomes, alerts.

``Notifier.notify(event)`` returns at once. It renders the event's message,
resolves its routes to contacts, and queues one ``Delivery`` per channel
(with the outbox first, when there is one, so a restart sends what was
waiting). Each channel has its own thread, so a receiver that hangs holds up
only its own channel, for ``timeout_s`` per attempt. A failed attempt is tried
again after ``backoff_s``, doubled each time, up to ``attempts`` in all (an
error another try cannot fix ends it at once). Every attempt gives a
``NotificationOutcome``; a delivery that finally fails, and a route name that
gives nobody, call ``on_failure`` with a ``NotificationFailure`` whose
``detail`` asks a person to call the people not reached.

Escalation (escalation.py): an event under a route with ``escalate_to`` goes
to the next person on call each ``escalate_after_s`` until
``acknowledge(key)``; a thread looks for due steps every ``tick_s``, and
``poll_escalations()`` does the same at once (tests with a hand-moved clock).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from .channels import Channel, DeliveryError, build
from .config import Contact, NotifyConfig
from .escalation import Escalations
from .events import NotifyEvent
from .messages import Message, render
from .routing import by_channel, resolve

log = logging.getLogger("thermogate.notify")


@dataclass(frozen=True)
class Delivery:
    """One message to the contacts of one channel. ``id``: its outbox row (None without an outbox)."""

    key: str
    kind: str
    channel: str
    recipients: tuple[str, ...]  # contact ids
    message: Message
    event: dict  # the event's plain fields (webhook.py sends them)
    drill: bool = False
    id: int | None = None


@dataclass(frozen=True)
class NotificationOutcome:
    """One attempt to deliver: through which channel, to whom (contact ids, comma-separated), when
    (wall clock), whether it went, and why not. ``final``: no further attempt follows."""

    key: str
    channel: str
    recipient: str
    sent_at: float
    ok: bool
    error: str = ""
    attempt: int = 1
    final: bool = True
    escalation: int = 0
    drill: bool = False


@dataclass(frozen=True)
class NotificationFailure:
    """Nobody was reached through a channel after every attempt, or a route gave nobody to tell.
    ``detail`` is the alert's text: who to call, and why."""

    key: str
    kind: str
    channel: str  # "" when the route itself gave nobody
    recipients: tuple[str, ...]  # names (with a mobile where known), "" entries never
    error: str
    drill: bool = False

    @property
    def detail(self) -> str:
        who = "、".join(self.recipients) or "the people on call"
        via = f" over {self.channel}" if self.channel else ""
        drill = "【演练】" if self.drill else ""
        return f"{drill}call {who}: notification failed ({self.kind} {self.key}{via}: {self.error})"


FailureCallback = Callable[[NotificationFailure], None]
"""What the service gives to hear of a notification that did not go: it raises an alert on the console."""

OutcomeCallback = Callable[[NotificationOutcome], None]
"""Optional: each attempt's outcome as it happens (for the case's timeline)."""


class Outbox(Protocol):
    """Where deliveries wait until they are done, so a restart sends what was waiting (outbox.py)."""

    def add(self, delivery: Delivery, at: float) -> int: ...
    def record(self, delivery_id: int, outcome: NotificationOutcome) -> None: ...
    def pending(self) -> list[Delivery]: ...


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    delivery: Delivery = field(compare=False)
    attempt: int = field(default=1, compare=False)


def _who(contact: Contact) -> str:
    return f"{contact.name} {contact.mobile}" if contact.mobile else contact.name


class _ChannelWorker:
    """One channel's queue and thread."""

    def __init__(self, notifier: Notifier, channel: Channel):
        self.channel = channel
        self._n = notifier
        self._heap: list[_Job] = []
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, job: _Job) -> None:
        with self._cond:
            heapq.heappush(self._heap, job)
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._heap and not self._busy

    def stop(self, timeout: float) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stop:
                    return
                job = heapq.heappop(self._heap)
                self._busy = True
            try:
                self._attempt(job)
            finally:
                with self._cond:
                    self._busy = False

    def _send_within(self, d: Delivery, contacts: list[Contact], timeout: float) -> tuple[str, bool]:
        """One attempt, over after ``timeout`` seconds in all, whatever the channel's sockets do (a server
        that trickles its answer a byte at a time keeps each read short but never finishes): the send runs
        in a thread of its own, which its own socket timeouts end soon after. (error or "", permanent)."""
        result: list[tuple[str, bool]] = []

        def send() -> None:
            try:
                self.channel.send(d.message, contacts, event=d.event, timeout=timeout)
                result.append(("", False))
            except DeliveryError as exc:
                result.append((exc.reason, exc.permanent))
            except Exception as exc:  # a fault in a channel must not end the worker, nor lose the message
                log.exception("notify channel %s failed", self.channel.name)
                result.append((f"{type(exc).__name__}: {exc}", False))

        attempt = threading.Thread(target=send, name=f"notify-{self.channel.name}-send", daemon=True)
        attempt.start()
        attempt.join(timeout)
        return result[0] if result else (f"no answer within {timeout:g} s", False)

    def _attempt(self, job: _Job) -> None:
        n, d = self._n, job.delivery
        contacts = [n.config.contacts[c] for c in d.recipients if c in n.config.contacts]
        error, permanent = self._send_within(d, contacts, n.config.timeout_s)
        ok = not error
        final = ok or permanent or job.attempt >= n.config.attempts
        outcome = NotificationOutcome(key=d.key, channel=d.channel, recipient=",".join(d.recipients),
                                      sent_at=n.wall(), ok=ok, error=error, attempt=job.attempt, final=final,
                                      escalation=d.message.escalation, drill=d.drill)
        n._record(d, outcome)
        if not final:
            delay = n.config.backoff_s * 2 ** (job.attempt - 1)
            self.put(_Job(time.monotonic() + delay, next(n._seq), d, job.attempt + 1))
        elif not ok:
            n._fail(NotificationFailure(key=d.key, kind=d.kind, channel=d.channel,
                                        recipients=tuple(_who(c) for c in contacts), error=error, drill=d.drill))


class Notifier:
    """Notifications for a controller: ``notify``, ``acknowledge``, ``outcomes``; ``start`` and ``close``."""

    def __init__(self, config: NotifyConfig, *, on_failure: FailureCallback, on_outcome: OutcomeCallback | None = None,
                 channels: Mapping[str, Channel] | None = None, outbox: Outbox | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 tz: ZoneInfo | None = None, tick_s: float = 0.25, keep_outcomes: int = 10000,
                 still_open: Callable[[NotifyEvent], bool] | None = None):
        """``still_open(event)``: asked before each escalation step; False (the alarm was acknowledged
        elsewhere, on the console) ends the event's escalation. An error in it counts as still open."""
        self.config = config
        self._still_open = still_open
        self.wall = wall
        self._on_failure = on_failure
        self._on_outcome = on_outcome
        self._outbox = outbox
        self._tz = tz
        self._tick_s = tick_s
        self._seq = itertools.count()
        self.escalations = Escalations(clock)
        made = dict(channels or {})
        for name, cfg in config.channels.items():
            made.setdefault(name, build(cfg))
        self._workers = {name: _ChannelWorker(self, ch) for name, ch in made.items()}
        self._outcomes: list[NotificationOutcome] = []
        self._keep = keep_outcomes
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="notify-escalation", daemon=True)
        self._started = False

    # ------------------------------------------------------------ the service's calls

    def start(self) -> Notifier:
        """Start the channels' threads and the escalation clock; re-queue what the outbox still holds."""
        if self._started:
            return self
        self._started = True
        for worker in self._workers.values():
            worker.start()
        self._ticker.start()
        if self._outbox is not None:
            for d in self._outbox.pending():
                self._queue(d)
        return self

    def notify(self, event: NotifyEvent) -> int:
        """Queue the messages for ``event`` (and arm its escalation); never waits on the network.
        Returns how many deliveries were queued (0: no route, or nobody to tell, which is a failure)."""
        queued = 0
        for index, route in enumerate(self.config.routes_for(event.kind)):
            queued += self._send(event, route.to, 0)
            self.escalations.start(event, route, index)
        return queued

    def acknowledge(self, key: str) -> bool:
        """Someone took the event ``key`` in hand: stop its escalation. True if it was still escalating."""
        return self.escalations.acknowledge(key)

    def poll_escalations(self) -> int:
        """Send the escalations that are due now; how many deliveries that queued."""
        queued = 0
        for step in self.escalations.due():
            if not self._open(step.event):
                self.escalations.acknowledge(step.event.key)
                continue
            queued += self._send(step.event, step.names, step.level)
        return queued

    def _open(self, event: NotifyEvent) -> bool:
        if self._still_open is None:
            return True
        try:
            return bool(self._still_open(event))
        except Exception:  # better one message too many than an alarm nobody hears of
            log.exception("notify: could not tell whether %s is still open", event.key)
            return True

    def outcomes(self, key: str | None = None) -> list[NotificationOutcome]:
        with self._lock:
            return [o for o in self._outcomes if key is None or o.key == key]

    def wait_idle(self, timeout: float) -> bool:
        """True once every channel's queue is empty and nothing is being sent (False at ``timeout``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(w.idle() for w in self._workers.values()):
                return True
            time.sleep(0.01)
        return False

    def close(self, timeout: float = 6.0) -> None:
        """Stop the threads; a delivery being sent gets ``timeout`` to finish; what waits stays in the outbox."""
        self._stop.set()
        for worker in self._workers.values():
            worker.stop(timeout)
        if self._ticker.is_alive():
            self._ticker.join(timeout)

    # ------------------------------------------------------------ inside

    def _send(self, event: NotifyEvent, names: Iterable[str], level: int) -> int:
        contacts, missing = resolve(tuple(names), event, self.config)
        for gap in missing:
            self._fail(NotificationFailure(key=event.key, kind=event.kind.value, channel="", recipients=(),
                                           error=gap.why, drill=event.drill))
        message = render(event, escalation=level, tz=self._tz)
        plain = {k: (v.value if k == "kind" else v) for k, v in asdict(event).items()}
        queued = 0
        for channel, people in by_channel(contacts).items():
            d = Delivery(key=event.key, kind=event.kind.value, channel=channel,
                         recipients=tuple(c.id for c in people), message=message, event=plain, drill=event.drill)
            if self._outbox is not None:
                try:
                    d = dataclasses.replace(d, id=self._outbox.add(d, self.wall()))
                except Exception:  # the store failing must not stop the message: it is sent from memory
                    log.exception("notify outbox: could not keep %s for %s", event.key, channel)
            self._queue(d)
            queued += 1
        if not contacts and not missing:
            self._fail(NotificationFailure(key=event.key, kind=event.kind.value, channel="", recipients=(),
                                           error="the route names nobody", drill=event.drill))
        return queued

    def _queue(self, d: Delivery) -> None:
        worker = self._workers.get(d.channel)
        if worker is None:  # a channel removed from the config while a delivery waited in the outbox
            self._record(d, NotificationOutcome(key=d.key, channel=d.channel, recipient=",".join(d.recipients),
                                                sent_at=self.wall(), ok=False, error="no such channel now",
                                                escalation=d.message.escalation, drill=d.drill))
            self._fail(NotificationFailure(key=d.key, kind=d.kind, channel=d.channel, recipients=d.recipients,
                                           error="no such channel now", drill=d.drill))
            return
        worker.put(_Job(time.monotonic(), next(self._seq), d))

    def _record(self, d: Delivery, outcome: NotificationOutcome) -> None:
        with self._lock:
            self._outcomes.append(outcome)
            del self._outcomes[:-self._keep]
        log.info("notification", extra={"key": d.key, "channel": d.channel, "ok": outcome.ok,
                                         "attempt": outcome.attempt, "error": outcome.error})
        if self._outbox is not None and d.id is not None:
            try:
                self._outbox.record(d.id, outcome)
            except Exception:
                log.exception("notify outbox: could not record the outcome of %s", d.key)
        if self._on_outcome is not None:
            try:
                self._on_outcome(outcome)
            except Exception:
                log.exception("notify: the outcome callback failed")

    def _fail(self, failure: NotificationFailure) -> None:
        log.warning("notification failed: %s", failure.detail)
        try:
            self._on_failure(failure)
        except Exception:
            log.exception("notify: the failure callback failed")

    def _tick(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.poll_escalations()
            except Exception:
                log.exception("notify: escalation failed")
