"""MQTT 3.1.1 client for the gate: non-blocking, bounded, no nested waits.

Why not ``umqtt.simple``: its QoS-1 publish waits for the PUBACK in a loop
that runs the message callback again, and after the first byte of a packet it
reads the rest with the socket blocking and no timeout. A silent broker or a
command arriving during that wait hangs the gate (docs/firmware.md).

This client never waits for the broker. ``poll()`` reads what has arrived,
handles at most ``MAX_PACKETS_PER_POLL`` whole packets and returns; PUBACKs,
SUBACKs and PINGRESPs are matched there, and the deadlines they miss are
reported as ``MQTTError``. The only loop that waits is ``_write``, for a
socket whose send buffer is full, and it gives up after ``WRITE_BUDGET_MS``.

The socket comes from ``open_socket(host, port)`` (app.py) and has
MicroPython's non-blocking stream semantics: ``readinto(buf)`` returns the
number of bytes read, 0 at end of stream, or None when nothing is waiting;
``write(buf)`` returns the number of bytes written or None when none could
be. Every error of this module or of the socket means the link is lost: the
caller closes it and reconnects later.
"""

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)

MAX_PACKET = const(2048)  # largest packet body kept; a larger one is skipped unread (commands are < 1 kB)
MAX_PACKETS_PER_POLL = const(8)  # packets handled in one poll(); the rest wait for the next step
MAX_BYTES_PER_POLL = const(8192)  # body bytes read in one poll(): a 64 kB packet takes several steps
MAX_INFLIGHT = const(8)  # QoS-1 publishes and subscriptions awaiting their acknowledgement
WRITE_BUDGET_MS = const(1000)  # the longest a write may wait for room in the socket's send buffer
ACK_TIMEOUT_MS = const(10000)  # CONNACK, PUBACK, SUBACK, PINGRESP: missing after this, the link is dead
SUBACK_REFUSED = const(0x80)


class MQTTError(Exception):
    """The link is unusable: refused, silent, closed or spoke nonsense."""


def _put_remaining(buf, pos, n):
    """Write MQTT's variable-length "remaining length" at ``buf[pos]``; returns the new position."""
    while True:
        byte = n & 0x7F
        n >>= 7
        buf[pos] = byte | 0x80 if n else byte
        pos += 1
        if not n:
            return pos


def _put_str(buf, pos, s):
    n = len(s)
    buf[pos] = n >> 8
    buf[pos + 1] = n & 0xFF
    buf[pos + 2:pos + 2 + n] = s
    return pos + 2 + n


class MQTTClient:
    """One connection's worth of MQTT state; a new connection starts with ``start()``."""

    def __init__(self, client_id, user, password, keepalive_s, clock, on_message, on_suback=None):
        self.client_id = client_id.encode() if type(client_id) is str else client_id
        self.user = user.encode() if user else b""
        self.password = password.encode() if password else b""
        self.keepalive_s = keepalive_s
        self._clock = clock
        self._on_message = on_message  # (topic bytes, payload bytes); must not publish at QoS 1
        self._on_suback = on_suback  # (topic, granted) where granted is False for a refused subscription
        self.sock = None
        self.connected = False
        self.oversized = 0  # incoming packets larger than MAX_PACKET, skipped
        self._pid = 0
        self._inflight_id = [0] * MAX_INFLIGHT  # packet ids awaiting PUBACK / SUBACK (0 = free)
        self._inflight_due = [0] * MAX_INFLIGHT
        self._inflight_topic = [None] * MAX_INFLIGHT  # the topic of a SUBSCRIBE, for on_suback
        self._one = bytearray(1)
        self._body = bytearray(MAX_PACKET)
        self._body_mv = memoryview(self._body)
        self._scratch = bytearray(256)  # where the unkept part of an oversized packet is read and dropped
        self._small = bytearray(4)  # PUBACK, PINGREQ, DISCONNECT
        self._reset_reader()
        self._connect_due = 0
        self._last_rx = 0
        self._ping_due = -1

    # -- connection -------------------------------------------------------------

    def start(self, sock, will_topic=None, will_msg=b"", will_retain=False, will_qos=0, clean=True):
        """Send CONNECT on a socket just opened; ``connected`` turns True when the CONNACK arrives."""
        self.sock = sock
        self.connected = False
        self._reset_reader()
        for i in range(MAX_INFLIGHT):
            self._inflight_id[i] = 0
            self._inflight_topic[i] = None
        flags = 0x02 if clean else 0
        size = 10 + 2 + len(self.client_id)
        if will_topic is not None:
            flags |= 0x04 | (will_qos & 3) << 3 | (0x20 if will_retain else 0)
            size += 4 + len(will_topic) + len(will_msg)
        if self.user:
            flags |= 0x80
            size += 2 + len(self.user)
        if self.password:
            flags |= 0x40
            size += 2 + len(self.password)
        pkt = bytearray(size + 5)
        pkt[0] = _CONNECT
        pos = _put_remaining(pkt, 1, size)
        pos = _put_str(pkt, pos, b"MQTT")
        pkt[pos] = 4  # protocol level 3.1.1
        pkt[pos + 1] = flags
        pkt[pos + 2] = self.keepalive_s >> 8
        pkt[pos + 3] = self.keepalive_s & 0xFF
        pos = _put_str(pkt, pos + 4, self.client_id)
        if will_topic is not None:
            pos = _put_str(pkt, pos, will_topic)
            pos = _put_str(pkt, pos, will_msg)
        if self.user:
            pos = _put_str(pkt, pos, self.user)
        if self.password:
            pos = _put_str(pkt, pos, self.password)
        now = self._clock.ticks_ms()
        self._connect_due = self._clock.ticks_add(now, ACK_TIMEOUT_MS)
        self._last_rx = now
        self._ping_due = -1
        self._write(memoryview(pkt)[:pos])

    def close(self):
        """Drop the connection without a DISCONNECT (the broker then publishes the last will)."""
        sock, self.sock = self.sock, None
        self.connected = False
        if sock is not None:
            try:
                sock.close()
            except Exception:
                pass

    def disconnect(self):
        """A clean goodbye: DISCONNECT, then close (no last will)."""
        try:
            if self.sock is not None:
                self._small[0] = _DISCONNECT
                self._small[1] = 0
                self._write(memoryview(self._small)[:2])
        except Exception:
            pass
        self.close()

    # -- sending ----------------------------------------------------------------

    def _next_pid(self):
        self._pid = self._pid % 0xFFFF + 1
        return self._pid

    def free_slots(self):
        """How many more QoS-1 publishes (or subscriptions) may await their acknowledgement now."""
        free = 0
        for i in range(MAX_INFLIGHT):
            if self._inflight_id[i] == 0:
                free += 1
        return free

    def _track(self, pid, topic):
        for i in range(MAX_INFLIGHT):
            if self._inflight_id[i] == 0:
                self._inflight_id[i] = pid
                self._inflight_due[i] = self._clock.ticks_add(self._clock.ticks_ms(), ACK_TIMEOUT_MS)
                self._inflight_topic[i] = topic
                return
        raise MQTTError("too many unacknowledged messages")

    def header(self, topic, length, retain=False, qos=0):
        """The fixed and variable header of a PUBLISH of ``length`` payload bytes on ``topic``.

        For QoS 0 it never changes, so a caller that sends the same kind of message
        again and again (frames) makes it once and passes it to ``publish``."""
        n = 2 + len(topic) + (2 if qos else 0) + length
        hdr = bytearray(5 + 2 + len(topic) + 2)
        hdr[0] = _PUBLISH | (qos & 3) << 1 | (1 if retain else 0)
        pos = _put_str(hdr, _put_remaining(hdr, 1, n), topic)
        return bytes(hdr[:pos + (2 if qos else 0)])

    def publish(self, topic, msg, retain=False, qos=0, header=None):
        """Send a PUBLISH now; for QoS 1 its PUBACK is awaited by ``poll()``, not here.

        ``header``: one made by ``header()`` for this topic, length, retain and QoS 0."""
        if not self.connected:
            raise MQTTError("not connected")
        if qos:
            hdr = bytearray(self.header(topic, len(msg), retain, 1))
            pid = self._next_pid()
            hdr[-2] = pid >> 8
            hdr[-1] = pid & 0xFF
            self._track(pid, None)
        else:
            hdr = header if header is not None else self.header(topic, len(msg), retain, 0)
        self._write(hdr)
        self._write(msg)

    def subscribe(self, topic, qos=1):
        """Send SUBSCRIBE; the SUBACK (granted or refused) is reported through ``on_suback``."""
        if not self.connected:
            raise MQTTError("not connected")
        pid = self._next_pid()
        size = 2 + 2 + len(topic) + 1
        pkt = bytearray(size + 2)
        pkt[0] = _SUBSCRIBE
        pkt[1] = size  # < 128: topics are short
        pkt[2] = pid >> 8
        pkt[3] = pid & 0xFF
        pos = _put_str(pkt, 4, topic)
        pkt[pos] = qos
        self._track(pid, topic)
        self._write(pkt)

    def _write(self, buf):
        """Write all of ``buf``, waiting at most WRITE_BUDGET_MS for room in the send buffer."""
        sock = self.sock
        if sock is None:
            raise MQTTError("no socket")
        n = sock.write(buf)
        if n is not None and n == len(buf):
            return
        # Rare: the send buffer is full. Wait for room, bounded; slices allocate, but only here.
        clock = self._clock
        give_up = clock.ticks_add(clock.ticks_ms(), WRITE_BUDGET_MS)
        mv = memoryview(buf)
        done = n or 0
        while done < len(buf):
            if clock.ticks_diff(give_up, clock.ticks_ms()) <= 0:
                raise MQTTError("send buffer full for %d ms" % WRITE_BUDGET_MS)
            clock.sleep_ms(1)
            n = sock.write(mv[done:])
            if n:
                done += n

    # -- receiving --------------------------------------------------------------

    def _reset_reader(self):
        self._type = -1  # first byte of the packet being read, -1 while waiting for one
        self._length = 0  # remaining length, as decoded so far
        self._shift = 0
        self._have_length = False
        self._got = 0  # body bytes read so far (only the first MAX_PACKET are kept)

    def poll(self):
        """Read and handle what has arrived, at most MAX_PACKETS_PER_POLL packets; check deadlines.

        Raises MQTTError (or OSError from the socket) when the link is lost."""
        sock = self.sock
        if sock is None:
            raise MQTTError("no socket")
        handled = 0
        budget = MAX_BYTES_PER_POLL
        while handled < MAX_PACKETS_PER_POLL:
            if not self._have_length:
                n = sock.readinto(self._one)
                if n is None:
                    break
                if n == 0:
                    raise MQTTError("closed by the broker")
                byte = self._one[0]
                if self._type < 0:
                    self._type = byte
                    continue
                self._length |= (byte & 0x7F) << self._shift
                self._shift += 7
                if byte & 0x80:
                    if self._shift > 21:
                        raise MQTTError("bad remaining length")
                    continue
                self._have_length = True
            if self._got < self._length:
                if budget <= 0:
                    break  # a long packet: the rest on the next step
                if self._got < MAX_PACKET:
                    n = sock.readinto(self._body_mv[self._got:min(self._length, MAX_PACKET)])
                else:  # beyond what is kept: read into the scratch buffer and forget it
                    n = sock.readinto(self._scratch, min(len(self._scratch), self._length - self._got))
                if n is None:
                    break
                if n == 0:
                    raise MQTTError("closed by the broker")
                self._got += n
                budget -= n
                if self._got < self._length:
                    continue
            kind, length = self._type, self._length
            self._reset_reader()
            self._last_rx = self._clock.ticks_ms()
            self._ping_due = -1
            handled += 1
            self._handle(kind, length)
        self._check_deadlines()

    def _handle(self, kind, length):
        body = self._body
        packet = kind & 0xF0
        if packet == _PUBLISH:
            if length > MAX_PACKET:
                self.oversized += 1
            qos = (kind >> 1) & 3
            tlen = (body[0] << 8) | body[1] if length >= 2 else 0xFFFF
            start = 2 + tlen + (2 if qos else 0)
            if start > min(length, MAX_PACKET):
                raise MQTTError("PUBLISH header beyond what can be read")
            if qos:
                self._small[0] = _PUBACK
                self._small[1] = 2
                self._small[2] = body[start - 2]
                self._small[3] = body[start - 1]
                self._write(self._small)
            if length <= MAX_PACKET:
                self._on_message(bytes(body[2:2 + tlen]), bytes(body[start:length]))
        elif packet == _PUBACK or packet == _SUBACK:
            if length < 2:
                raise MQTTError("short acknowledgement")
            pid = (body[0] << 8) | body[1]
            for i in range(MAX_INFLIGHT):
                if self._inflight_id[i] == pid:
                    self._inflight_id[i] = 0
                    topic, self._inflight_topic[i] = self._inflight_topic[i], None
                    if packet == _SUBACK and self._on_suback is not None:
                        self._on_suback(topic, length >= 3 and body[2] != SUBACK_REFUSED)
                    break
        elif packet == _CONNACK:
            if length < 2:
                raise MQTTError("short CONNACK")
            if body[1] != 0:
                raise MQTTError("connection refused, code %d" % body[1])
            self.connected = True
        elif packet != _PINGRESP:
            raise MQTTError("unexpected packet 0x%02x" % kind)

    def _check_deadlines(self):
        clock = self._clock
        now = clock.ticks_ms()
        if not self.connected:
            if clock.ticks_diff(self._connect_due, now) <= 0:
                raise MQTTError("no CONNACK")
            return
        for i in range(MAX_INFLIGHT):
            if self._inflight_id[i] and clock.ticks_diff(self._inflight_due[i], now) <= 0:
                raise MQTTError("no acknowledgement for packet %d" % self._inflight_id[i])
        # Silence: the gate sends frames all the time, so the broker's keepalive is always met; what must be
        # checked is that the broker still answers. Nothing heard for half the keepalive: ping; no answer: dead.
        if self._ping_due >= 0:
            if clock.ticks_diff(self._ping_due, now) <= 0:
                raise MQTTError("no PINGRESP")
        elif clock.ticks_diff(now, self._last_rx) > self.keepalive_s * 500:
            self._small[0] = _PINGREQ
            self._small[1] = 0
            self._write(memoryview(self._small)[:2])
            self._ping_due = clock.ticks_add(now, ACK_TIMEOUT_MS)
