"""Wi-Fi and MQTT, kept up without ever blocking for long.

Every step is bounded: Wi-Fi joins are polled, not waited on; the MQTT
socket carries a timeout on every call; failed connections are retried with
exponential backoff and jitter. Losing the link never stops the frame loop,
and never touches the door (the app locks it on its own).
"""

from micropython import const

SOCKET_TIMEOUT_S = const(5)
WIFI_JOIN_MS = const(15000)
BACKOFF_BASE_MS = const(1000)
BACKOFF_CAP_MS = const(60000)

DOWN = const(0)
JOINING = const(1)
WIFI_UP = const(2)
UP = const(3)


class Link:
    """One gate's connection to the broker.

    ``on_connect(link)`` runs after every (re)connection, to publish retained
    state and subscribe; ``on_message(topic, msg)`` receives commands."""

    def __init__(self, cfg, wlan, make_client, clock, random_bits, on_connect, on_message, last_will):
        self.cfg = cfg
        self.wlan = wlan
        self._make_client = make_client
        self._clock = clock
        self._random_bits = random_bits
        self._on_connect = on_connect
        self._on_message = on_message
        self._last_will = last_will  # (topic, message)
        self.client = None
        self.state = DOWN
        self.failures = 0
        self.connects = 0
        self._next_try = clock.ticks_ms()
        self._join_until = 0
        self._last_sent = 0

    def backoff_ms(self):
        """Exponential in the failures so far, capped, with 50-100 % jitter."""
        delay = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << min(self.failures, 6))
        return delay // 2 + (delay // 2) * self._random_bits(10) // 1023

    def _fail(self, now):
        self.failures += 1
        self._next_try = self._clock.ticks_add(now, self.backoff_ms())

    def _drop(self, now):
        if self.client is not None:
            try:
                self.client.sock.close()
            except Exception:
                pass
        self.client = None
        self.state = WIFI_UP if self.wlan.isconnected() else DOWN
        self._fail(now)

    def tick(self):
        """Advance the connection by at most one bounded step."""
        now = self._clock.ticks_ms()
        if not self.wlan.isconnected():
            if self.state >= WIFI_UP:
                self._drop(now)
                self.state = DOWN
            if self.state == JOINING and self._clock.ticks_diff(self._join_until, now) > 0:
                return
            if self._clock.ticks_diff(self._next_try, now) > 0:
                return
            try:
                self.wlan.active(True)
                self.wlan.connect(self.cfg.wifi_ssid, self.cfg.wifi_password)
                self.state = JOINING
                self._join_until = self._clock.ticks_add(now, WIFI_JOIN_MS)
            except OSError:
                self.state = DOWN
            self._fail(now)
            return
        if self.state < WIFI_UP:
            self.state = WIFI_UP
            self._next_try = now
        if self.state == WIFI_UP:
            if self._clock.ticks_diff(self._next_try, now) <= 0:
                self._connect(now)
            return
        # Up: keep the broker's keepalive satisfied when nothing else is sent.
        client = self.client
        if client is not None and self._clock.ticks_diff(now, self._last_sent) > self.cfg.keepalive_s * 500:
            try:
                client.ping()
                self._last_sent = now
            except OSError:
                self._drop(now)

    def _connect(self, now):
        cfg = self.cfg
        client = self._make_client(cfg.gate_id, cfg.mqtt_host, cfg.mqtt_port, cfg.mqtt_user,
                                   cfg.mqtt_password, cfg.keepalive_s)
        client.set_last_will(self._last_will[0], self._last_will[1], True, 1)
        client.set_callback(self._on_message)
        try:
            try:
                client.connect(timeout=SOCKET_TIMEOUT_S)
            except TypeError:  # an umqtt.simple whose connect() takes no timeout
                client.connect()
            client.sock.settimeout(SOCKET_TIMEOUT_S)
        except Exception:  # OSError, or MQTTException for a refused CONNACK
            self.client = client
            self._drop(now)
            return
        self.client = client
        self.state = UP
        self.failures = 0
        self.connects += 1
        self._last_sent = now
        try:
            self._on_connect(self)
        except OSError:
            self._drop(now)

    def publish(self, topic, msg, retain=False, qos=0):
        """Send if connected; False (and a reconnect later) if not."""
        client = self.client
        if self.state != UP or client is None:
            return False
        try:
            client.publish(topic, msg, retain, qos)
            self._last_sent = self._clock.ticks_ms()
            return True
        except OSError:
            self._drop(self._clock.ticks_ms())
            return False

    def subscribe(self, topic, qos=1):
        if self.client is not None:
            self.client.subscribe(topic, qos)

    def poll(self):
        """Deliver any command waiting on the socket, without blocking."""
        client = self.client
        if self.state != UP or client is None:
            return
        try:
            client.check_msg()
            client.sock.settimeout(SOCKET_TIMEOUT_S)  # check_msg leaves it blocking
        except OSError:
            self._drop(self._clock.ticks_ms())

    def rssi(self):
        try:
            return self.wlan.status("rssi")
        except Exception:
            return 0
