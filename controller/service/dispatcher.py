"""The one place between MQTT and the rest: routes each message to its gate's worker.

paho's network thread (``transport.py``) only sorts messages into the
``FrameQueue`` (``frame_queue.py``: control messages first, frames bounded per
gate, the oldest dropped and counted); one processing thread does all the
work, in order per gate, and calls ``on_tick`` every ``tick_s``. A message on
a topic that is not ours, or from a gate id we do not serve, is counted and
ignored, never processed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..protocol import ProtocolError
from ..protocol.topics import TOPIC_ROOT, parse_topic
from .config import MqttConfig
from .frame_queue import ControlMessage, FrameQueue, QueuedFrame
from .transport import MqttTransport

log = logging.getLogger("thermogate.mqtt")

# what the controller reads, at which QoS
KINDS = (("frame", 0), ("eeprom", 1), ("status", 1), ("ack", 1), ("credential", 1))
SUBSCRIPTIONS = [(f"{TOPIC_ROOT}/+/{kind}", qos) for kind, qos in KINDS]
MAX_JSON = 1024


class Dispatcher:
    def __init__(self, mqtt_config: MqttConfig, workers: dict, *, on_decisions: Callable, on_eeprom: Callable,
                 on_status: Callable, on_ack: Callable, on_tick: Callable, on_frame: Callable | None = None,
                 on_connect: Callable | None = None, on_credential: Callable | None = None, metrics=None,
                 tick_s: float = 0.25, partial: bool = False):
        self.partial = partial  # serving a share of the site's gates: subscribe to theirs only
        self.workers = workers  # gate id -> GateWorker
        self.on_decisions = on_decisions  # (worker, [Decision], arrived monotonic)
        self.on_eeprom = on_eeprom  # (worker, rebuilt: bool)
        self.on_status = on_status  # (worker, was_online, is_online)
        self.on_ack = on_ack  # (Ack)
        self.on_tick = on_tick  # () every tick_s
        self.on_frame = on_frame  # (worker) after every frame, for the live view
        self.on_credential = on_credential  # (worker, payload) a credential read at the gate, unchecked
        self.metrics = metrics
        self.tick_s = tick_s
        self.unknown_gate = 0
        self.foreign_topics = 0
        self.processed = 0
        self.queue = FrameQueue(workers, mqtt_config.queue_frames, on_drop=self._dropped)
        self.transport = MqttTransport(mqtt_config, subscriptions=self.subscriptions, on_message=self.on_message,
                                       on_connect=on_connect, metrics=metrics)
        self.connected = self.transport.connected
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def connections(self) -> int:
        return self.transport.connections

    @property
    def backlog(self) -> int:
        return self.queue.backlog

    def subscriptions(self) -> list[tuple[str, int]]:
        """Every gate's topics by wildcard, or, for an instance serving a share of the gates
        (``[site] serve``), each of its gates' own topics, so the broker sends it nothing else."""
        if not self.partial:
            return SUBSCRIPTIONS
        return [(f"{TOPIC_ROOT}/{g}/{kind}", qos) for g in sorted(self.workers) for kind, qos in KINDS]

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.transport.publish(topic, payload, qos=qos, retain=retain)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="thermogate-dispatch", daemon=True)
        self._thread.start()
        self.transport.start()

    def stop(self) -> None:
        self._stop.set()
        self.queue.wake()
        try:
            self.transport.stop()
        finally:
            if self._thread is not None:
                self._thread.join(timeout=5)

    # -- paho's thread: sort ------------------------------------------------------

    def on_message(self, message) -> None:
        try:
            gate_id, kind = parse_topic(message.topic)
        except (ProtocolError, UnicodeDecodeError):  # paho passes on topics that are not UTF-8; .topic raises
            self.foreign_topics += 1
            return
        if gate_id not in self.workers:
            self.unknown_gate += 1
            if self.metrics is not None:
                self.metrics.unknown_gate.inc()
            if self.unknown_gate in (1, 10, 100) or self.unknown_gate % 10000 == 0:
                log.warning("message from an unknown gate ignored",
                            extra={"gate": gate_id, "kind": kind, "count": self.unknown_gate})
            return
        payload = bytes(message.payload)
        arrived = time.monotonic()
        if kind == "frame":
            self.queue.put_frame(gate_id, payload, arrived)
        elif kind in ("eeprom", "status", "ack", "credential"):
            self.queue.put_control(ControlMessage(gate_id, kind, payload, arrived))
        # cmd and result are ours: an echo, or someone else's

    def _dropped(self, gate_id: str, n: int) -> None:
        self.workers[gate_id].dropped_frames += n
        if self.metrics is not None:
            self.metrics.frames_dropped.labels(gate=gate_id, where="queue").inc(n)

    # -- the processing thread ------------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        while not self._stop.is_set():
            job = self.queue.take(timeout=max(0.0, next_tick - time.monotonic()))
            if job is not None:
                try:
                    self.process(job)
                except Exception:  # a bug must cost one message, never the service
                    log.exception("message processing failed")
                self.processed += 1
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                try:
                    self.on_tick()
                except Exception:
                    log.exception("periodic work failed")

    def process(self, job: ControlMessage | QueuedFrame) -> None:
        """One message taken from the queue, handed to its gate's worker and what follows from it."""
        worker = self.workers[job.gate]
        if isinstance(job, QueuedFrame):
            decisions = worker.on_frame(job.payload, job.skipped)
            if decisions:
                self.on_decisions(worker, decisions, job.arrived)
            if self.on_frame is not None:
                self.on_frame(worker)
        elif job.kind == "eeprom":
            self.on_eeprom(worker, worker.on_eeprom(job.payload))
        elif job.kind == "status":
            if len(job.payload) > MAX_JSON:
                worker.refuse("too_large", f"{len(job.payload)} bytes")
                return
            change = worker.on_status(job.payload)
            if change is not None:
                self.on_status(worker, *change)
        elif job.kind == "ack":
            ack = worker.on_ack(job.payload)  # checked under the gate's key, or refused and counted
            if ack is not None:
                self.on_ack(ack)
        elif job.kind == "credential" and self.on_credential is not None:
            self.on_credential(worker, job.payload)  # checked under the gate's key there, refusals counted
