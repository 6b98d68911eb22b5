"""What happens now, for whoever watches live (the console's WebSocket).

The dispatcher's thread publishes events (events.py, one frozen type per kind);
each subscriber is an asyncio queue in the web server's loop, fed through
``call_soon_threadsafe``. A subscriber that falls behind loses its oldest
*frame* events (a newer image replaces them), never decisions, alarms or
status changes.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from dataclasses import dataclass, field

from .events import FrameEvent, LiveEvent


@dataclass
class Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue())
    max_frames: int = 64
    frames_waiting: collections.Counter = field(default_factory=collections.Counter)
    dropped: int = 0


class LiveHub:
    """Thread-safe fan-out of live events to async subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, loop: asyncio.AbstractEventLoop | None = None, max_frames: int = 64) -> Subscriber:
        sub = Subscriber(loop or asyncio.get_running_loop(), max_frames=max_frames)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, event: LiveEvent) -> None:
        with self._lock:
            subs = list(self._subscribers)
        if not subs:
            return
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(self._deliver, sub, event)
            except RuntimeError:  # its loop has closed
                self.unsubscribe(sub)

    @staticmethod
    def _deliver(sub: Subscriber, event: LiveEvent) -> None:
        if isinstance(event, FrameEvent):
            gate = event.gate
            if sub.frames_waiting[gate] >= max(1, sub.max_frames // 8):
                sub.dropped += 1  # the viewer is behind on this gate: skip, the next image replaces it
                return
            sub.frames_waiting[gate] += 1
        sub.queue.put_nowait(event)

    @staticmethod
    async def next_event(sub: Subscriber) -> LiveEvent:
        event = await sub.queue.get()
        if isinstance(event, FrameEvent):
            sub.frames_waiting[event.gate] -= 1
        return event
