"""Wi-Fi and MQTT, kept up without ever blocking for long.

Every step is bounded: Wi-Fi joins are polled, not waited on; opening the
broker's socket is bounded by app.open_socket's timeout; after that the MQTT
client (mqtt.py) never waits for the broker at all. Any exception from the
client or the socket, whatever its type, means the link is lost: the socket
is closed and a reconnect is tried later, with exponential backoff and
jitter. Losing the link never stops the frame loop, and never touches the
door (the door's own timer ends any opening).
"""

from micropython import const

from mqtt import MQTTClient

WIFI_JOIN_MS = const(15000)
BACKOFF_BASE_MS = const(1000)
BACKOFF_CAP_MS = const(60000)
RESUBSCRIBE_MS = const(30000)  # a subscription the broker refused is asked for again this often

DOWN = const(0)
JOINING = const(1)
WIFI_UP = const(2)
CONNECTING = const(3)  # CONNECT sent, waiting (in poll) for the CONNACK
UP = const(4)


class Link:
    """One gate's connection to the broker.

    ``on_connect(link)`` runs after every (re)connection, to publish retained
    state and subscribe; ``on_message(topic, msg)`` receives commands and must
    not publish at QoS 1 itself (the gate queues its acks)."""

    def __init__(self, cfg, wlan, open_socket, clock, random_bits, on_connect, on_message, last_will):
        self.cfg = cfg
        self.wlan = wlan
        self._open_socket = open_socket
        self._clock = clock
        self._random_bits = random_bits
        self._on_connect = on_connect
        self._last_will = last_will  # (topic, message)
        self.client = MQTTClient(cfg.gate_id, cfg.mqtt_user, cfg.mqtt_password, cfg.keepalive_s, clock,
                                 on_message, self._on_suback)
        self.state = DOWN
        self.failures = 0
        self.connects = 0
        self.drops = 0
        self.last_error = ""
        self.subscribed = False
        self.sub_refused = 0
        self._topics = []  # (topic, qos) to keep subscribed
        self._resubscribe_at = -1
        self._next_try = clock.ticks_ms()
        self._join_until = 0

    def backoff_ms(self):
        """Exponential in the failures so far, capped, with 50-100 % jitter."""
        delay = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << min(self.failures, 6))
        return delay // 2 + (delay // 2) * self._random_bits(10) // 1023

    def _fail(self, now):
        self.failures += 1
        self._next_try = self._clock.ticks_add(now, self.backoff_ms())

    def _drop(self, now, error=None):
        if error is not None:
            self.last_error = "%s: %s" % (type(error).__name__, error)
            print("link:", self.last_error)
        if self.state >= CONNECTING:
            self.drops += 1
        self.client.close()
        self.subscribed = False
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
            except Exception:
                self.state = DOWN
            self._fail(now)
            return
        if self.state < WIFI_UP:
            self.state = WIFI_UP
            self._next_try = now
        if self.state == WIFI_UP:
            if self._clock.ticks_diff(self._next_try, now) <= 0:
                self._connect(now)
        elif self.state == CONNECTING:
            self._poll(now)
            if self.client.connected:
                self.state = UP
                self.failures = 0
                self.connects += 1
                try:
                    self._on_connect(self)
                except Exception as exc:
                    self._drop(now, exc)
        elif self._resubscribe_at >= 0 and self._clock.ticks_diff(self._resubscribe_at, now) <= 0:
            self._resubscribe_at = -1
            for topic, qos in self._topics:
                self._send_subscribe(topic, qos)

    def _connect(self, now):
        cfg = self.cfg
        try:
            sock = self._open_socket(cfg.mqtt_host, cfg.mqtt_port)
        except Exception as exc:  # unreachable, refused, timed out
            self._drop(now, exc)
            return
        self.state = CONNECTING
        try:
            self.client.start(sock, self._last_will[0], self._last_will[1], True, 1)
        except Exception as exc:
            self.client.sock = sock
            self._drop(now, exc)

    def _poll(self, now):
        try:
            self.client.poll()
        except Exception as exc:
            self._drop(now, exc)

    def publish(self, topic, msg, retain=False, qos=0, header=None):
        """Send if connected; False (and a reconnect later) if not."""
        if self.state != UP:
            return False
        try:
            self.client.publish(topic, msg, retain, qos, header)
            return True
        except Exception as exc:
            self._drop(self._clock.ticks_ms(), exc)
            return False

    def subscribe(self, topic, qos=1):
        """Subscribe now and after every reconnection; a refusal is retried every RESUBSCRIBE_MS."""
        for t, _ in self._topics:
            if t == topic:
                break
        else:
            self._topics.append((topic, qos))
        self._send_subscribe(topic, qos)

    def _send_subscribe(self, topic, qos):
        if self.state != UP:
            return
        try:
            self.client.subscribe(topic, qos)
        except Exception as exc:
            self._drop(self._clock.ticks_ms(), exc)

    def _on_suback(self, topic, granted):
        self.subscribed = granted
        if not granted:
            self.sub_refused += 1
            self.last_error = "subscription refused"
            print("link: the broker refused the subscription to", topic)
            self._resubscribe_at = self._clock.ticks_add(self._clock.ticks_ms(), RESUBSCRIBE_MS)

    def poll(self):
        """Handle what has arrived (commands, acknowledgements) without waiting."""
        if self.state == UP:
            self._poll(self._clock.ticks_ms())

    def frame_header(self, topic, length):
        """The PUBLISH header of a QoS-0 message that is sent again and again (made once)."""
        return self.client.header(topic, length)

    def rssi(self):
        try:
            return self.wlan.status("rssi")
        except Exception:
            return 0
