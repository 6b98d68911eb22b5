"""What waits between MQTT and the processing thread: control messages, and frames per gate.

- control messages (EEPROM, status, acks, credentials) go into one queue that is never
  trimmed, and are taken first;
- frames go into a bounded queue per gate, taken round robin. When the
  controller falls behind, the oldest frames are dropped (and counted), since a
  newer frame supersedes them; a frame that waited longer than a door command
  may take is dropped too, unless it is its gate's newest. A decision is never
  dropped, because decisions are made after the queue, not in it.

Thread-safe: paho's network thread puts, the processing thread takes.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# A gate refuses a command about a frame it sent more than max_command_age_s (2 s) ago, so a frame
# that waited here longer than this is dropped unless it is its gate's newest.
MAX_FRAME_AGE_S = 1.0


@dataclass
class QueuedFrame:
    """One frame message waiting; ``skipped``: the frames dropped just before it, here, not on the network."""

    gate: str
    payload: bytes
    arrived: float  # time.monotonic()
    skipped: int = 0


@dataclass(frozen=True)
class ControlMessage:
    """An ``eeprom``, ``status`` or ``ack`` message waiting."""

    gate: str
    kind: str
    payload: bytes
    arrived: float  # time.monotonic()


class FrameQueue:
    def __init__(self, gates, max_frames: int, *, on_drop: Callable[[str, int], None] | None = None,
                 max_age_s: float = MAX_FRAME_AGE_S):
        self.max_frames = max_frames  # per gate
        self.max_age_s = max_age_s
        self.on_drop = on_drop  # (gate, how many) for every drop, under the queue's lock
        self._frames: dict[str, collections.deque[QueuedFrame]] = {g: collections.deque() for g in gates}
        self._control: collections.deque[ControlMessage] = collections.deque()
        self._ready: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Condition()

    def put_frame(self, gate: str, payload: bytes, arrived: float) -> None:
        with self._lock:
            queue = self._frames[gate]
            if len(queue) >= self.max_frames:
                dropped = queue.popleft()
                queue[0].skipped += dropped.skipped + 1  # the next frame's sequence gap is ours, not the network's
                self._dropped(gate, 1)
            queue.append(QueuedFrame(gate, payload, arrived))
            self._ready[gate] = None
            self._lock.notify()

    def put_control(self, message: ControlMessage) -> None:
        with self._lock:
            self._control.append(message)
            self._lock.notify()

    def take(self, timeout: float = 0.0) -> ControlMessage | QueuedFrame | None:
        """The next thing to do, waiting up to ``timeout`` s: a control message first, then one frame of
        the next ready gate; None if there is nothing."""
        with self._lock:
            job = self._next()
            if job is None and timeout > 0:
                self._lock.wait(timeout)
                job = self._next()
            return job

    def wake(self) -> None:
        """End a ``take`` that is waiting (the service is stopping)."""
        with self._lock:
            self._lock.notify_all()

    @property
    def backlog(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._frames.values())

    def _next(self) -> ControlMessage | QueuedFrame | None:
        if self._control:
            return self._control.popleft()
        while self._ready:
            gate, _ = self._ready.popitem(last=False)
            queue = self._frames[gate]
            if len(queue) > 1 and time.monotonic() - queue[0].arrived > self.max_age_s:
                self._drop_stale(gate, queue)
            if queue:
                frame = queue.popleft()
                if queue:
                    self._ready[gate] = None  # round robin: back of the line
                return frame
        return None

    def _drop_stale(self, gate: str, queue: collections.deque[QueuedFrame]) -> None:
        """Frames that waited longer than a command may take are worth nothing to the door: drop all
        but the newest, counted as the controller's own drops."""
        now = time.monotonic()
        dropped = 0
        while len(queue) > 1 and now - queue[0].arrived > self.max_age_s:
            frame = queue.popleft()
            queue[0].skipped += frame.skipped + 1
            dropped += 1
        self._dropped(gate, dropped)

    def _dropped(self, gate: str, n: int) -> None:
        if self.on_drop is not None:
            self.on_drop(gate, n)
