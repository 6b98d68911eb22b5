"""The service's MQTT connection: paho (controller/mqtt's client), connected, subscribed, publishing.

The client reconnects by itself and subscribes again on every connection; what
it receives goes to ``on_message(message)`` in paho's network thread, which must
only sort it (the dispatcher's queue). Door commands and results go out at once
(TCP_NODELAY), and nothing is queued for a broker that is away.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt

from ..mqtt.link import Broker, make_client
from .config import MqttConfig

log = logging.getLogger("thermogate.mqtt")


class MqttTransport:
    def __init__(self, config: MqttConfig, *, subscriptions: Callable[[], list[tuple[str, int]]],
                 on_message: Callable[[mqtt.MQTTMessage], None], on_connect: Callable[[], None] | None = None,
                 metrics=None):
        self.config = config
        self.subscriptions = subscriptions  # () -> [(topic, qos)], made on every connection
        self.on_message = on_message  # (message) in paho's thread
        self.on_connected = on_connect  # () on every (re)connection, in paho's thread
        self.metrics = metrics
        self.connected = threading.Event()
        self.connections = 0
        self._stopping = False
        self.client = make_client(Broker.of(config), config.client_id, reconnect_s=(1, 15))
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _client, _userdata, message: self.on_message(message)

    def start(self) -> None:
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

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

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected.clear()
        if self.metrics is not None:
            self.metrics.mqtt_connected.set(0)
        if not self._stopping:
            log.warning("lost the broker; reconnecting", extra={"reason": str(reason_code)})
