"""Connecting to an MQTT broker (paho-mqtt 2.x): one broker address type, one client set-up.

- :class:`Broker` -- host, port, login and TLS of a broker
- :func:`parse_broker` -- ``HOST``, ``HOST:PORT`` or ``mqtt://[USER[:PASSWORD]@]HOST[:PORT]``
- :func:`make_client` -- a clean-session MQTT 3.1.1 client, not yet connected: the controller's
  dispatcher, ``watch``, ``calibrate`` and the simulator's tools all start from it
- :func:`connect` -- a connected, subscribed client with its network loop running in a
  background thread, or :class:`LinkError`
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

DEFAULT_PORT = 1883
CONNECT_TIMEOUT_S = 10.0
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.25, 5.0


class LinkError(RuntimeError):
    """The broker cannot be reached, refused the connection, or went away."""


@dataclass(frozen=True)
class Broker:
    """Where a broker is and how to log in to it. ``tls_ca``: a CA file; connect with TLS, checking the
    broker's certificate against it (empty: plain MQTT)."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None
    tls_ca: str = ""

    @classmethod
    def of(cls, mqtt) -> Broker:
        """The broker of controller.toml's ``[mqtt]`` table (a ``MqttConfig``); a user without a password
        logs in with an empty one."""
        return cls(mqtt.host, mqtt.port, mqtt.user or None, mqtt.password if mqtt.user else None, mqtt.tls_ca)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls_ca else 'mqtt'}://{host}:{self.port}"


def parse_broker(spec: str) -> Broker:
    """``HOST``, ``HOST:PORT``, ``[IPV6]:PORT`` or an ``mqtt://`` URL; ValueError if malformed."""
    text = spec.strip()
    if "://" not in text:
        text = "mqtt://" + text
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as exc:
        raise ValueError(f"broker {spec!r}: {exc}") from None
    if url.scheme != "mqtt":
        raise ValueError(f"broker {spec!r}: only mqtt:// is supported (no TLS), not {url.scheme}://")
    if not url.hostname or url.path not in ("", "/") or url.query or url.fragment:
        raise ValueError(f"broker {spec!r}: expected HOST[:PORT] or mqtt://HOST[:PORT]")
    return Broker(url.hostname, port or DEFAULT_PORT,
                  unquote(url.username) if url.username is not None else None,
                  unquote(url.password) if url.password is not None else None)


def make_client(broker: Broker, client_id: str, *, reconnect_s: tuple[float, float] = (RECONNECT_MIN_S,
                                                                                      RECONNECT_MAX_S),
                will: tuple[str, bytes, int, bool] | None = None) -> mqtt.Client:
    """A clean-session MQTT 3.1.1 client for ``broker``, not connected: its login, TLS (``broker.tls_ca``),
    last will (topic, payload, qos, retain) and reconnection delays (from ``reconnect_s[0]``, doubling up to
    ``reconnect_s[1]``) set. The caller adds its callbacks and connects."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                         protocol=mqtt.MQTTv311)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls_ca:
        client.tls_set(ca_certs=broker.tls_ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if will is not None:
        client.will_set(*will)
    # paho annotates whole seconds, but waits fractions as given (the first retry is after a quarter second)
    client.reconnect_delay_set(*reconnect_s)  # pyright: ignore[reportArgumentType]
    return client


def connect(broker: Broker, client_id: str, *, will: tuple[str, bytes, int, bool] | None = None,
            on_message: Callable[..., None] | None = None,
            on_reconnect: Callable[[mqtt.Client], None] | None = None,
            subscriptions: Sequence[tuple[str, int]] = (), timeout: float = CONNECT_TIMEOUT_S) -> mqtt.Client:
    """A :func:`make_client` client, connected, subscribed, its loop running in a thread.

    ``will`` is (topic, payload, qos, retain). ``subscriptions`` are made on
    every (re)connection, and acknowledged before this returns. If the
    connection drops, the client reconnects by itself (after 0.25 s, doubling
    up to 5 s) and then calls ``on_reconnect(client)`` from its network
    thread. The caller ends with :func:`close`."""
    client = make_client(broker, client_id, will=will)
    connected = threading.Event()
    subscribed = threading.Event()
    failure: list[str] = []

    def on_connect(client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            failure.append(f"the broker refused the connection: {reason_code}")
            connected.set()
            subscribed.set()
            client.disconnect()
            return
        if subscriptions:
            client.subscribe(list(subscriptions))
        else:
            subscribed.set()
        if connected.is_set() and on_reconnect is not None:
            on_reconnect(client)
        connected.set()

    def on_subscribe(_client, _userdata, _mid, reason_codes, _properties):
        bad = [str(rc) for rc in reason_codes if rc.is_failure]
        if bad:
            failure.append(f"the broker refused the subscription: {', '.join(bad)}")
        subscribed.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    if on_message is not None:
        client.on_message = on_message
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except (OSError, ValueError) as exc:
        raise LinkError(f"cannot connect to the MQTT broker at {broker}: {exc}") from None
    client.loop_start()
    deadline = time.monotonic() + timeout
    if not (connected.wait(timeout) and subscribed.wait(max(0.0, deadline - time.monotonic()))) or failure:
        close(client)
        raise LinkError(failure[0] if failure else
                        f"no answer from the MQTT broker at {broker} within {timeout:g} s")
    return client


def close(client: mqtt.Client) -> None:
    """Disconnect cleanly (sending what is queued first) and stop the network thread."""
    try:
        client.disconnect()
    finally:
        client.loop_stop()
