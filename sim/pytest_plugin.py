"""pytest fixtures for testing against virtual gates, usable in any site's own CI.

Installed with the package as the pytest plugin ``thermogate`` (entry point
``pytest11``), so they are available without an import:

- ``mqtt_broker``: a private mosquitto on a free loopback port (``.host``,
  ``.port``, ``.restart()``, ``.kill()``).
- ``virtual_gates``: a factory, ``virtual_gates(n=1, scenario="normal_queue",
  seed=0)``, starting ``n`` virtual gates (the real firmware on virtual
  hardware) on that broker, stepping in the background until the test ends.
- ``mqtt_watch``: a factory for a subscriber that collects messages, with
  ``wait(topic_filter, predicate, timeout)``.
- ``wait_for_decision(watch, gate_id, timeout)``: the next screening result a
  controller publishes for a gate; ``gate_results(watch, gate_id)``: every
  one so far; ``gate_results_until(watch, gate_id, done, timeout)``: those, as
  soon as ``done(results)`` holds.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from .broker import MosquittoBroker


class MqttWatch:
    """A subscriber that keeps every message it sees, and can wait for one."""

    def __init__(self, host: str, port: int, topics: str | list[str] = "thermogate/#"):
        from controller.mqtt.link import Broker, connect

        self._messages: list[tuple[str, bytes, bool, float]] = []
        self._lock = threading.Condition()
        subscriptions = [(t, 1) for t in ([topics] if isinstance(topics, str) else topics)]
        self._client = connect(Broker(host, port), f"watch-{id(self):x}", on_message=self._on_message,
                               subscriptions=subscriptions)

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self._messages.append((message.topic, bytes(message.payload), bool(message.retain), time.monotonic()))
            self._lock.notify_all()

    def messages(self, topic_suffix: str = "") -> list[tuple[str, bytes]]:
        with self._lock:
            return [(t, p) for t, p, r, _ in self._messages if t.endswith(topic_suffix)]

    def wait(self, topic_suffix: str, predicate=lambda topic, payload: True, timeout: float = 10.0,
             after: int = 0) -> tuple[str, bytes]:
        """The first message (from index ``after`` on) whose topic ends with ``topic_suffix`` and that
        satisfies ``predicate``; TimeoutError naming what was seen otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for topic, payload, _r, _t in self._messages[after:]:
                    if topic.endswith(topic_suffix) and predicate(topic, payload):
                        return topic, payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({t for t, *_ in self._messages})
                    raise TimeoutError(f"no message on *{topic_suffix} within {timeout} s; topics seen: {seen}")
                self._lock.wait(remaining)

    def count(self) -> int:
        with self._lock:
            return len(self._messages)

    def close(self) -> None:
        from controller.mqtt.link import close

        close(self._client)


def wait_for_decision(watch: MqttWatch, gate_id: str, timeout: float = 10.0, after: int = 0) -> dict:
    """The next screening result published on ``thermogate/<gate_id>/result``, as a dict."""
    _topic, payload = watch.wait(f"thermogate/{gate_id}/result", timeout=timeout, after=after)
    return json.loads(payload)


def gate_results(watch: MqttWatch, gate_id: str) -> list[dict]:
    """Every screening result ``watch`` has seen published for ``gate_id``, oldest first, as dicts."""
    return [json.loads(p) for _t, p in watch.messages(f"thermogate/{gate_id}/result")]


def gate_results_until(watch: MqttWatch, gate_id: str, done, timeout: float) -> list[dict]:
    """:func:`gate_results` as soon as ``done(results)`` holds, or as they are at the timeout (seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = gate_results(watch, gate_id)
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


@pytest.fixture
def mqtt_broker():
    """A private mosquitto on a free loopback port, for this test only."""
    with MosquittoBroker() as broker:
        yield broker


@pytest.fixture
def mqtt_watch(mqtt_broker):
    """Factory: ``mqtt_watch(topics="thermogate/#")`` -> MqttWatch on the test's broker."""
    watches: list[MqttWatch] = []

    def make(topics: str | list[str] = "thermogate/#") -> MqttWatch:
        watches.append(MqttWatch(mqtt_broker.host, mqtt_broker.port, topics))
        return watches[-1]

    yield make
    for w in watches:
        w.close()


@pytest.fixture
def virtual_gates(mqtt_broker):
    """Factory: ``virtual_gates(n=1, scenario_name="normal_queue", seed=0, prefix="sim")`` ->
    the started VirtualGate objects, stepping in the background until the test ends."""
    from .runner import GateThread, make_gates
    from .scenarios import scenario

    threads: list[GateThread] = []

    def start(n: int = 1, scenario_name: str = "normal_queue", seed: int = 0, prefix: str = "sim", **options):
        gates = make_gates(n, lambda i: scenario(scenario_name, seed + i, **options), mqtt_broker.host,
                           mqtt_broker.port, prefix=prefix, seed=seed)
        threads.append(GateThread(gates).start())
        return gates

    yield start
    for t in threads:
        t.stop()


