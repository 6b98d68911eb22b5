"""An ``umqtt.simple``-compatible MQTT client backed by paho-mqtt.

The firmware's link layer drives it exactly as it drives ``umqtt.simple`` on
a board: blocking connect with a timeout, publish, subscribe, non-blocking
``check_msg`` delivering to the callback, ``sock.settimeout`` / ``sock.close``.
paho's network thread does the socket work; paho's own reconnection is
switched off, because reconnecting is the firmware's job.
"""

from __future__ import annotations

import queue
import threading

import paho.mqtt.client as mqtt


class MQTTException(Exception):
    pass


class _Socket:
    """What the firmware touches of umqtt's socket: timeouts and close."""

    def __init__(self, owner: "PahoUmqttClient"):
        self._owner = owner
        self.timeout: float | None = None

    def settimeout(self, t: float | None) -> None:
        self.timeout = t

    def setblocking(self, flag: bool) -> None:
        self.timeout = None if flag else 0.0

    def close(self) -> None:
        self._owner._teardown()


class PahoUmqttClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None):
        self.client_id = client_id if isinstance(client_id, str) else client_id.decode()
        self.server = server
        self.port = port or 1883
        self.user = user
        self.password = password
        self.keepalive = keepalive or 60
        self.sock: _Socket | None = None
        self._cb = None
        self._will = None
        self._client: mqtt.Client | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._connected = threading.Event()
        self._refused: int | None = None
        self._alive = False

    def set_callback(self, f) -> None:
        self._cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0) -> None:
        self._will = (bytes(topic).decode(), bytes(msg), retain, qos)

    # paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = reason_code.value
        else:
            self._alive = True
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._alive = False

    def _on_message(self, client, userdata, message) -> None:
        self._inbox.put((message.topic.encode(), bytes(message.payload)))

    def connect(self, clean_session=True, timeout=None) -> bool:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=clean_session, protocol=mqtt.MQTTv311)
        client.reconnect_delay_set(min_delay=3600, max_delay=3600)  # the firmware reconnects, not paho
        if self.user:
            client.username_pw_set(self.user, self.password)
        if self._will:
            topic, msg, retain, qos = self._will
            client.will_set(topic, msg, qos=qos, retain=retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_timeout = timeout or 5.0
        try:
            client.connect(self.server, self.port, keepalive=self.keepalive)
        except (OSError, ValueError) as exc:
            raise OSError(f"connect to {self.server}:{self.port}: {exc}") from None
        self._client = client
        client.loop_start()
        if not self._connected.wait(timeout or 5.0):
            self._teardown()
            raise OSError("no CONNACK within the timeout")
        if self._refused is not None:
            self._teardown()
            raise MQTTException(self._refused)
        self.sock = _Socket(self)
        return False

    def drop(self) -> None:
        """Lose the connection without a DISCONNECT, as a power cut does: the broker sends the last will."""
        client, self._client = self._client, None
        self._alive = False
        if client is not None:
            client.loop_stop()
            sock = client.socket()
            if sock is not None:
                sock.close()

    def _live(self) -> mqtt.Client:
        if self._client is None or not self._alive:
            raise OSError(104, "connection lost")
        return self._client

    def publish(self, topic, msg, retain=False, qos=0) -> None:
        info = self._live().publish(bytes(topic).decode(), bytes(msg), qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(104, f"publish failed: {mqtt.error_string(info.rc)}")

    def subscribe(self, topic, qos=0) -> None:
        result, _mid = self._live().subscribe(bytes(topic).decode(), qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(104, "subscribe failed")

    def ping(self) -> None:
        self._live()  # paho sends its own PINGREQs

    def check_msg(self) -> None:
        self._live()
        while True:
            try:
                topic, payload = self._inbox.get_nowait()
            except queue.Empty:
                return
            if self._cb is not None:
                self._cb(topic, payload)

    def wait_msg(self) -> None:
        self.check_msg()

    def disconnect(self) -> None:
        if self._client is not None:
            self._client.disconnect()
        self._teardown()

    def _teardown(self) -> None:
        client, self._client = self._client, None
        self._alive = False
        if client is not None:
            client.loop_stop()
            try:
                sock = client.socket()
                if sock is not None:
                    sock.close()
            except OSError:
                pass
