"""A fake network for the gate's own MQTT client: sockets into an in-memory broker.

The broker speaks MQTT 3.1.1 at the byte level (CONNECT, PUBLISH at QoS 0/1,
PUBACK, SUBSCRIBE, PINGREQ, DISCONNECT, last will, retained messages), so
the firmware's real client code is what talks to it. Tests steer it:

- ``up``: False makes every socket call fail, as an unreachable host does;
- ``silent``: the broker reads but never answers (no CONNACK, SUBACK, PUBACK
  or PINGRESP), as a hung broker or a dead Wi-Fi path does;
- ``answer_connect`` / ``answer_subscribe`` / ``answer_publish``: answer only some
  packets, to go silent at a chosen point;
- ``stalled``: the broker stops reading; the gate's send buffer fills after
  ``SEND_BUFFER`` bytes and writes return None;
- ``refuse_subscriptions``: SUBACK 0x80, as a broker's ACL refusing the topic;
- ``silent_after_delivery``: go silent right after delivering the next command;
- ``sink``: take every write whole and keep nothing (for measuring the gate's own allocations);
- ``inbox``: (topic, payload) pairs delivered to subscribers at QoS 1.

A socket is non-blocking, with MicroPython's stream semantics. If anything
switches it to blocking and then reads with nothing to read, a real socket
would wait forever: here it counts ``broker.hangs`` and raises ``Hang``.

Written in the subset of Python both CPython and MicroPython run.
"""

SEND_BUFFER = 5744  # lwIP's default TCP send buffer on the ESP32 (4 x 1436-byte segments)


class Hang(Exception):
    """A read that would block forever on a real socket."""


def _topic_matches(pattern, topic):
    if pattern == topic:
        return True
    if pattern.endswith(b"/#"):
        return topic.startswith(pattern[:-1])
    return False


def _remaining(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _str(s):
    return bytes([len(s) >> 8, len(s) & 0xFF]) + s


class FakeBroker:
    def __init__(self):
        self.up = True
        self.silent = False
        self.answer_connect = True
        self.answer_subscribe = True
        self.answer_publish = True
        self.stalled = False
        self.refuse_subscriptions = False
        self.silent_after_delivery = False
        self.sink = False
        self.published = []  # (topic, payload, retain, qos), in order
        self.retained = {}
        self.inbox = []  # (topic, payload) waiting for a subscriber
        self.subscriptions = []  # (topic, qos) granted
        self.connects = 0
        self.last_will = None  # (topic, payload, retain, qos) of the latest connection
        self.sockets = []
        self.hangs = 0
        self.pings = 0
        self.pubacks_received = 0
        self.bytes_received = 0
        self.delivered = 0

    def take(self, topic):
        """Payloads published on ``topic`` since the last take."""
        out = [p for (t, p, r, q) in self.published if t == topic]
        self.published = [m for m in self.published if m[0] != topic]
        return out

    def open_socket(self, host, port):
        if not self.up:
            raise OSError(113)  # EHOSTUNREACH
        sock = FakeSocket(self)
        self.sockets.append(sock)
        return sock

    def live(self):
        return [s for s in self.sockets if not s.closed]

    def _publish(self, topic, payload, retain, qos):
        self.published.append((topic, payload, retain, qos))
        if retain:
            if payload:
                self.retained[topic] = payload
            else:
                self.retained.pop(topic, None)


class FakeSocket:
    def __init__(self, broker):
        self.broker = broker
        self.timeout = 0  # non-blocking
        self.closed = False
        self.to_gate = bytearray()
        self.from_gate = bytearray()
        self.unread = 0  # bytes the gate wrote that the broker has not read (stalled)
        self.connected = False
        self.clean_goodbye = False
        self.will = None
        self.subscribed = []
        self._pid = 0

    # -- the socket interface the gate's client uses --------------------------------

    def settimeout(self, t):
        self.timeout = t

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def _check(self):
        if self.closed:
            raise OSError(9)  # EBADF
        if not self.broker.up:
            raise OSError(104)  # ECONNRESET

    def write(self, buf, *rest):
        self._check()
        if self.broker.sink:
            return len(buf)
        data = bytes(buf)
        if self.broker.stalled:
            room = SEND_BUFFER - self.unread
            if room <= 0:
                if self.timeout is None:
                    self.broker.hangs += 1
                    raise Hang("write on a blocking socket whose peer stopped reading")
                return None
            data = data[:room]
            self.unread += len(data)
            return len(data)
        self.from_gate += data
        self.broker.bytes_received += len(data)
        self._serve()
        return len(data)

    def send(self, buf):
        n = self.write(buf)
        if n is None:
            raise OSError(11)  # EAGAIN
        return n

    def readinto(self, buf, nbytes=None):
        self._check()
        self._deliver()
        if not self.to_gate:
            if self.timeout is None:
                self.broker.hangs += 1
                raise Hang("read on a blocking socket with nothing to read")
            return None
        n = len(buf) if nbytes is None else min(nbytes, len(buf))
        n = min(n, len(self.to_gate))
        buf[:n] = self.to_gate[:n]
        self.to_gate = self.to_gate[n:]
        return n

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.connected and not self.clean_goodbye and self.will is not None and self.broker.up:
            topic, payload, retain, qos = self.will
            self.broker._publish(topic, payload, retain, qos)

    # -- the broker's side ------------------------------------------------------

    def _answer(self, packet):
        if not self.broker.silent:
            self.to_gate += packet

    def _deliver(self):
        b = self.broker
        if not b.inbox or not self.connected or b.silent or b.stalled:
            return
        keep = []
        for topic, payload in b.inbox:
            if self._subscribed_to(topic):
                self._pid = self._pid % 0xFFFF + 1
                body = _str(topic) + bytes([self._pid >> 8, self._pid & 0xFF]) + payload
                self.to_gate += bytes([0x32]) + _remaining(len(body)) + body
                b.delivered += 1
                if b.silent_after_delivery:
                    b.silent = True
            else:
                keep.append((topic, payload))
        b.inbox = keep

    def _subscribed_to(self, topic):
        # (a loop, not any() over a generator: its closure would allocate on every idle read)
        for t in self.subscribed:
            if _topic_matches(t, topic):
                return True
        return False

    def _serve(self):
        """Handle every whole packet the gate has written."""
        while True:
            buf = self.from_gate
            if len(buf) < 2:
                return
            length, shift, pos = 0, 0, 1
            while True:
                if pos >= len(buf):
                    return
                byte = buf[pos]
                length |= (byte & 0x7F) << shift
                shift += 7
                pos += 1
                if not byte & 0x80:
                    break
            if len(buf) < pos + length:
                return
            kind, body = buf[0], bytes(buf[pos:pos + length])
            self.from_gate = buf[pos + length:]
            self._packet(kind, body)

    def _packet(self, kind, body):
        b = self.broker
        packet = kind & 0xF0
        if packet == 0x10:  # CONNECT
            flags = body[7]
            pos = 10
            n = (body[pos] << 8) | body[pos + 1]
            pos += 2 + n
            if flags & 0x04:
                n = (body[pos] << 8) | body[pos + 1]
                topic = body[pos + 2:pos + 2 + n]
                pos += 2 + n
                n = (body[pos] << 8) | body[pos + 1]
                payload = body[pos + 2:pos + 2 + n]
                self.will = (topic, payload, bool(flags & 0x20), (flags >> 3) & 3)
                b.last_will = self.will
            self.connected = True
            b.connects += 1
            if b.answer_connect:
                self._answer(b"\x20\x02\x00\x00")
        elif packet == 0x30:  # PUBLISH
            qos = (kind >> 1) & 3
            n = (body[0] << 8) | body[1]
            topic = body[2:2 + n]
            start = 2 + n + (2 if qos else 0)
            b._publish(topic, body[start:], bool(kind & 1), qos)
            if qos and b.answer_publish:
                self._answer(bytes([0x40, 2]) + body[2 + n:start])
        elif packet == 0x40:  # PUBACK for a delivery
            b.pubacks_received += 1
        elif packet == 0x80:  # SUBSCRIBE
            pid = body[:2]
            n = (body[2] << 8) | body[3]
            topic, qos = body[4:4 + n], body[4 + n]
            code = 0x80 if b.refuse_subscriptions else qos
            if code != 0x80:
                self.subscribed.append(topic)
                b.subscriptions.append((topic, qos))
            if b.answer_subscribe:
                self._answer(bytes([0x90, 3]) + pid + bytes([code]))
        elif packet == 0xC0:  # PINGREQ
            b.pings += 1
            self._answer(b"\xd0\x00")
        elif packet == 0xE0:  # DISCONNECT
            self.clean_goodbye = True
            self.close()
