"""Escalation: an event nobody acknowledges goes to the next person on call, one after another.

``Escalations`` only keeps time; it sends nothing. ``start`` arms an event
under its route; ``due(now)`` gives the steps whose time has come (the first
``escalate_after_s`` after the event was notified, each next one
``escalate_after_s`` later); ``acknowledge`` disarms it. The clock is injected
(``time.monotonic`` in the controller), so tests move time by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .config import Route
from .events import NotifyEvent


@dataclass(frozen=True)
class Step:
    """The ``level``-th escalation (1 first) of ``event``: tell ``names``."""

    event: NotifyEvent
    level: int
    names: tuple[str, ...]


@dataclass
class _Armed:
    event: NotifyEvent
    route: Route
    level: int  # escalations already made
    due: float


class Escalations:
    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._armed: dict[tuple[str, int], _Armed] = {}  # (event key, route index)
        self._lock = threading.Lock()

    def start(self, event: NotifyEvent, route: Route, index: int = 0) -> bool:
        """Arm ``event`` under ``route`` (the ``index``-th route of its kind); False if it never escalates."""
        if not route.escalate_to or route.escalate_after_s is None:
            return False
        with self._lock:
            self._armed.setdefault((event.key, index),
                                   _Armed(event, route, 0, self._clock() + route.escalate_after_s))
        return True

    def acknowledge(self, key: str) -> bool:
        """Stop escalating the event ``key``; True if it was armed."""
        with self._lock:
            gone = [k for k in self._armed if k[0] == key]
            for k in gone:
                del self._armed[k]
        return bool(gone)

    def armed(self, key: str) -> bool:
        with self._lock:
            return any(k[0] == key for k in self._armed)

    def next_due(self) -> float | None:
        with self._lock:
            return min((a.due for a in self._armed.values()), default=None)

    def due(self, now: float | None = None) -> list[Step]:
        """The steps due at ``now`` (the clock's time by default), each given once."""
        now = self._clock() if now is None else now
        steps: list[Step] = []
        with self._lock:
            for k, a in list(self._armed.items()):
                while a.due <= now and a.level < len(a.route.escalate_to):
                    a.level += 1
                    steps.append(Step(a.event, a.level, (a.route.escalate_to[a.level - 1],)))
                    a.due += a.route.escalate_after_s or 0.0
                if a.level >= len(a.route.escalate_to):
                    del self._armed[k]
        return steps
