"""The one place between MQTT and the rest: routes each message to its gate's worker.

paho's network thread only sorts messages into queues; one processing thread
does all the work, in order per gate:

- control messages (EEPROM, status, acks) go into one queue that is never
  trimmed;
- frames go into a bounded queue per gate. When the controller falls behind,
  the oldest frames are dropped (and counted), since a newer frame supersedes
  them; a decision is never dropped, because decisions are made after the
  queue, not in it.
- a message on a topic that is not ours, or from a gate id we do not serve,
  is counted and ignored, never processed.

The client reconnects by itself (``reconnect_delay_set``) and subscribes again
on every connection.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt

from ..mqtt.link import Broker, make_client
from ..protocol import ProtocolError
from ..protocol.topics import TOPIC_ROOT, parse_topic
from .config import MqttConfig

log = logging.getLogger("thermogate.mqtt")

SUBSCRIPTIONS = [(f"{TOPIC_ROOT}/+/frame", 0), (f"{TOPIC_ROOT}/+/eeprom", 1), (f"{TOPIC_ROOT}/+/status", 1),
                 (f"{TOPIC_ROOT}/+/ack", 1)]
MAX_JSON = 1024


class Dispatcher:
    def __init__(self, mqtt_config: MqttConfig, workers: dict, *, on_decisions: Callable, on_eeprom: Callable,
                 on_status: Callable, on_ack: Callable, on_tick: Callable, on_frame: Callable | None = None,
                 on_connect: Callable | None = None, metrics=None, tick_s: float = 0.25, partial: bool = False):
        self.config = mqtt_config
        self.partial = partial  # serving a share of the site's gates: subscribe to theirs only
        self.workers = workers  # gate id -> GateWorker
        self.on_decisions = on_decisions  # (worker, [Decision], arrived monotonic)
        self.on_eeprom = on_eeprom  # (worker, rebuilt: bool)
        self.on_status = on_status  # (worker, was_online, is_online)
        self.on_ack = on_ack  # (Ack)
        self.on_tick = on_tick  # () every tick_s
        self.on_frame = on_frame  # (worker) after every frame, for the live view
        self.on_connected = on_connect  # () on every (re)connection, in paho's thread
        self.metrics = metrics
        self.tick_s = tick_s
        self.connected = threading.Event()
        self.connections = 0
        self.unknown_gate = 0
        self.foreign_topics = 0
        self._frames: dict[str, collections.deque] = {g: collections.deque() for g in workers}
        self._control: collections.deque = collections.deque()
        self._ready: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.processed = 0
        # A gate refuses a command about a frame it sent more than max_command_age_s (2 s) ago, so a
        # frame that waited here longer than this is dropped unless it is its gate's newest.
        self.max_frame_age_s = 1.0
        self.client = self._make_client()

    # -- MQTT -----------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        c = self.config
        client = make_client(Broker.of(c), c.client_id, reconnect_s=(1, 15))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection", extra={"reason": str(reason_code)})
            return
        self.connections += 1
        sock = client.socket()
        if sock is not None and hasattr(sock, "setsockopt"):
            try:  # door commands and results go out at once, not after the last segment's delayed ack
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        client.subscribe(self.subscriptions())
        self.connected.set()
        if self.on_connected is not None:
            self.on_connected()
        if self.metrics is not None:
            self.metrics.mqtt_connected.set(1)
        log.info("connected to the broker", extra={"host": self.config.host, "port": self.config.port,
                                                   "connections": self.connections})

    def subscriptions(self) -> list[tuple[str, int]]:
        """Every gate's topics by wildcard, or, for an instance serving a share of the gates
        (``[site] serve``), each of its gates' own topics, so the broker sends it nothing else."""
        if not self.partial:
            return SUBSCRIPTIONS
        return [(f"{TOPIC_ROOT}/{g}/{kind}", qos) for g in sorted(self.workers)
                for kind, qos in (("frame", 0), ("eeprom", 1), ("status", 1), ("ack", 1))]

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected.clear()
        if self.metrics is not None:
            self.metrics.mqtt_connected.set(0)
        if not self._stop.is_set():
            log.warning("lost the broker; reconnecting", extra={"reason": str(reason_code)})

    def _on_message(self, _client, _userdata, message) -> None:
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
        with self._wake:
            if kind == "frame":
                queue = self._frames[gate_id]
                if len(queue) >= self.config.queue_frames:
                    dropped = queue.popleft()
                    queue[0][2] += dropped[2] + 1  # the next frame's sequence gap is ours, not the network's
                    self.workers[gate_id].dropped_frames += 1
                    if self.metrics is not None:
                        self.metrics.frames_dropped.labels(gate=gate_id, where="queue").inc()
                queue.append([payload, arrived, 0])
                self._ready[gate_id] = None
            elif kind in ("eeprom", "status", "ack"):
                self._control.append((gate_id, kind, payload, arrived))
            else:  # cmd and result are ours: an echo, or someone else's
                return
            self._wake.notify()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

    # -- processing -----------------------------------------------------------

    @property
    def backlog(self) -> int:
        with self._wake:
            return sum(len(q) for q in self._frames.values())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="thermogate-dispatch", daemon=True)
        self._thread.start()
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify()
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _next(self):
        """The next thing to do: a control message first, then one frame of the next ready gate."""
        if self._control:
            return "control", self._control.popleft()
        while self._ready:
            gate_id, _ = self._ready.popitem(last=False)
            queue = self._frames[gate_id]
            if len(queue) > 1 and time.monotonic() - queue[0][1] > self.max_frame_age_s:
                self._drop_stale(gate_id, queue)
            if queue:
                item = queue.popleft()
                if queue:
                    self._ready[gate_id] = None  # round robin: back of the line
                return "frame", (gate_id, *item)
        return None

    def _drop_stale(self, gate_id: str, queue: collections.deque) -> None:
        """Frames that waited longer than a command may take are worth nothing to the door: drop all
        but the newest, counted as the controller's own drops."""
        now = time.monotonic()
        dropped = 0
        while len(queue) > 1 and now - queue[0][1] > self.max_frame_age_s:
            item = queue.popleft()
            queue[0][2] += item[2] + 1
            dropped += 1
        self.workers[gate_id].dropped_frames += dropped
        if self.metrics is not None:
            self.metrics.frames_dropped.labels(gate=gate_id, where="queue").inc(dropped)

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        while not self._stop.is_set():
            with self._wake:
                job = self._next()
                if job is None:
                    self._wake.wait(max(0.0, next_tick - time.monotonic()))
                    job = self._next()
            if job is not None:
                try:
                    self._process(*job)
                except Exception:  # a bug must cost one message, never the service
                    log.exception("message processing failed")
                self.processed += 1
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                try:
                    self.on_tick()
                except Exception:
                    log.exception("periodic work failed")

    def _process(self, what: str, item) -> None:
        if what == "frame":
            gate_id, payload, arrived, skipped = item
            worker = self.workers[gate_id]
            decisions = worker.on_frame(payload, skipped)
            if decisions:
                self.on_decisions(worker, decisions, arrived)
            if self.on_frame is not None:
                self.on_frame(worker)
            return
        gate_id, kind, payload, _arrived = item
        worker = self.workers[gate_id]
        if kind == "eeprom":
            self.on_eeprom(worker, worker.on_eeprom(payload))
        elif kind == "status":
            if len(payload) > MAX_JSON:
                worker.refuse("too_large", f"{len(payload)} bytes")
                return
            change = worker.on_status(payload)
            if change is not None:
                self.on_status(worker, *change)
        elif kind == "ack":
            ack = worker.on_ack(payload)  # checked under the gate's key, or refused and counted
            if ack is not None:
                self.on_ack(ack)
