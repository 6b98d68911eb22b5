"""The watch's own MQTT connection (:func:`controller.mqtt.link.make_client`): one gate's topics into a queue."""

from __future__ import annotations

import os
import queue
import ssl
import threading
import time

from ..mqtt.link import Broker, LinkError, make_client
from ..protocol.topics import topic


class Link:
    """The watch's own MQTT connection: the gate's four topics into ``inbox`` as (kind, payload,
    time.monotonic() on arrival).

    Its client id is its own (``thermogate-watch-<gate>-<pid>``), so it never
    takes the controller's place on a broker that knows clients by their id.
    paho reconnects by itself; ``connected`` and ``reconnects`` say how it goes.
    A refused subscription to ``result`` (an ACL that lets this login read
    only what a controller reads) is not an error: the view then shows the
    local pipeline's decisions."""

    SUBSCRIPTIONS = (("eeprom", 1), ("frame", 0), ("status", 1), ("result", 1))

    def __init__(self, broker: Broker, gate: str, inbox: queue.Queue[tuple[str, bytes, float]]):
        self.broker = broker
        self.gate = gate
        self.inbox = inbox
        self.connected = False
        self.reconnects = 0
        self.result_readable: bool | None = None
        self.failure: str | None = None
        self._ready = threading.Event()
        self._kinds = {topic(gate, kind): kind for kind, _ in self.SUBSCRIPTIONS}
        self._result_mid: int | None = None
        client = make_client(broker, f"thermogate-watch-{gate}-{os.getpid()}")
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client
        self._sub_mid: int | None = None

    def connect(self, timeout: float = 10.0) -> Link:
        """Connect and subscribe; LinkError if the broker cannot be reached or refuses."""
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise LinkError(f"cannot connect to the MQTT broker at {self.broker}: {exc}") from None
        self.client.loop_start()
        if not self._ready.wait(timeout) or self.failure:
            self.close()
            raise LinkError(self.failure or f"no answer from the MQTT broker at {self.broker} within {timeout:g} s")
        return self

    def close(self, timeout: float | None = None) -> None:
        """Disconnect and stop paho's network thread, waiting at most ``timeout`` seconds for it (None: as
        long as it takes); the thread is a daemon, so a process that exits does not wait for it."""
        try:
            self.client.disconnect()
        finally:
            if timeout is None:
                self.client.loop_stop()
            else:
                stopper = threading.Thread(target=self.client.loop_stop, name="watch-link-close", daemon=True)
                stopper.start()
                stopper.join(timeout)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.failure = f"the broker at {self.broker} refused the connection: {reason_code}"
            self._ready.set()
            client.disconnect()
            return
        if self._ready.is_set():
            self.reconnects += 1
        self.connected = True
        self._sub_mid = client.subscribe([(topic(self.gate, kind), qos) for kind, qos in self.SUBSCRIPTIONS])[1]

    def _on_disconnect(self, _client, _userdata, _flags, _reason_code, _properties) -> None:
        self.connected = False

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        if mid != self._sub_mid:
            return
        refused = [kind for (kind, _), rc in zip(self.SUBSCRIPTIONS, reason_codes, strict=False) if rc.is_failure]
        if set(refused) - {"result"}:
            self.failure = (f"the broker at {self.broker} refused the subscription to "
                            f"{', '.join(topic(self.gate, k) for k in refused)}: this login may not read them")
        self.result_readable = "result" not in refused
        self._ready.set()

    def _on_message(self, _client, _userdata, message) -> None:
        kind = self._kinds.get(message.topic)
        if kind is not None:
            self.inbox.put((kind, bytes(message.payload), time.monotonic()))
