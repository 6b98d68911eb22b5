"""Fake ``umqtt.simple``: the MQTTClient interface over an in-memory broker.

The broker keeps what was published (with retain flags), a queue of messages
to deliver on check_msg(), and can be taken down to make every socket call
fail with OSError, as a lost connection does."""


class MQTTException(Exception):
    pass


class FakeBroker:
    def __init__(self):
        self.up = True
        self.published = []  # (topic, payload, retain, qos)
        self.retained = {}
        self.inbox = []  # (topic, payload) waiting for the gate
        self.subscriptions = []
        self.connects = 0
        self.last_will = None
        self.clients = []

    def take(self, topic):
        """Payloads published on ``topic`` since the last take."""
        out = [p for (t, p, r, q) in self.published if t == topic]
        self.published = [m for m in self.published if m[0] != topic]
        return out


broker = FakeBroker()


class _Socket:
    def __init__(self):
        self.timeout = None
        self.closed = False

    def settimeout(self, t):
        self.timeout = t

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def close(self):
        self.closed = True


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None):
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.sock = None
        self.cb = None
        self.lw = None
        self.pings = 0

    def _check(self):
        if self.sock is None or not broker.up or self.sock.closed:
            raise OSError(104)  # ECONNRESET

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.lw = (topic, msg, retain, qos)

    def connect(self, clean_session=True, timeout=None):
        if not broker.up:
            raise OSError(113)  # EHOSTUNREACH
        self.sock = _Socket()
        self.sock.settimeout(timeout)
        broker.connects += 1
        broker.last_will = self.lw
        broker.clients.append(self)
        return False

    def disconnect(self):
        self._check()
        self.sock.close()

    def ping(self):
        self._check()
        self.pings += 1

    def publish(self, topic, msg, retain=False, qos=0):
        self._check()
        broker.published.append((bytes(topic), bytes(msg), retain, qos))
        if retain:
            broker.retained[bytes(topic)] = bytes(msg)

    def subscribe(self, topic, qos=0):
        self._check()
        broker.subscriptions.append((bytes(topic), qos))

    def check_msg(self):
        self._check()
        self.sock.setblocking(True)
        while broker.inbox:
            topic, msg = broker.inbox.pop(0)
            self.cb(topic, msg)

    def wait_msg(self):
        self.check_msg()
