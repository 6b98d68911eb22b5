"""Credentials read at the gate: debounced, numbered, tagged, sent at QoS 1.

A reader (``qr_scanner.QRScanner``, ``card_reader.PN532``) leaves each code it
reads in its own buffer; ``Credentials.offer`` turns it into one `credential`
message (docs/protocol.md): a new code, or the same one after more than
DEBOUNCE_MS of silence, is an event; the same code read again sooner (a
scanner in continuous mode, a card left on the reader) is not. Each event
gets the next number of this boot, so the controller can tell a replay.

They are published after the client's poll, and only while the client has
more than KEEP_SLOTS of its QoS-1 window free: a burst of reads then waits
for PUBACKs instead of overflowing the window (which drops the link).
While the link is down, at most MAX_QUEUED of the latest credentials wait;
an older one is dropped and counted. A credential older than MAX_AGE_MS is
never sent: the person who showed it has long passed the gate.

Allocation: nothing while no code arrives. An event costs its JSON text and
tag (a few hundred bytes, freed by the collector once it is sent).
"""

import json

from micropython import const

MAX_TEXT = const(256)  # the longest code, in bytes; the readers drop a longer one
DEBOUNCE_MS = const(2000)  # the same code again within this is the same event
MAX_QUEUED = const(4)  # credentials kept while the link is down; older ones are dropped
MAX_AGE_MS = const(30000)  # a credential this old is not sent
KEEP_SLOTS = const(2)  # QoS-1 slots (mqtt.MAX_INFLIGHT) left for the acks of a PASS's open and indicate
LABEL = b"credential"
PROTOCOL = const(2)


class Debounce:
    """The last code of one reader and when it was last seen; comparing allocates nothing."""

    def __init__(self, clock):
        self._clock = clock
        self._code = bytearray(MAX_TEXT)
        self._n = 0
        self._seen = 0

    def fresh(self, code, n, now):
        """True if ``code[:n]`` is a new event; False for the same code seen less than DEBOUNCE_MS ago.

        Every sighting restarts the window, so a card held on the reader is one event."""
        same = n == self._n and self._clock.ticks_diff(now, self._seen) < DEBOUNCE_MS
        if same:
            mine = self._code
            for i in range(n):
                if mine[i] != code[i]:
                    same = False
                    break
        self._seen = now
        if same:
            return False
        for i in range(n):
            self._code[i] = code[i]
        self._n = n
        return True


class Credentials:
    """The credential messages of one gate in one boot, and their counters (reported in the status)."""

    def __init__(self, gate_id, boot_id, mac, topic, clock):
        self.gate_id = gate_id
        self.boot_id = boot_id
        self._mac = mac
        self.topic = topic
        self._clock = clock
        self.number = 0  # credentials of this boot so far: the "n" of the latest
        self._queue = []  # (ms read, payload), oldest first, at most MAX_QUEUED
        self.sent = 0
        self.repeats = 0  # reads within the debounce window, not sent
        self.dropped = 0  # lost while the link was down (queue full) or too old when it came back

    def offer(self, kind, debounce, code, n, now):
        """A code the reader of ``kind`` ("qr" or "card") just read, in ``code[:n]`` (printable ASCII)."""
        if not debounce.fresh(code, n, now):
            self.repeats += 1
            return False
        self.number += 1
        text = bytes(code[:n]).decode()
        body = json.dumps({"v": PROTOCOL, "gate": self.gate_id, "boot": self.boot_id, "n": self.number,
                           "kind": kind, "text": text, "t_ms": now & 0x3FFFFFFF})
        self._queue.append((now, self._mac.seal_json(LABEL, body.encode())))
        if len(self._queue) > MAX_QUEUED:
            self._queue.pop(0)
            self.dropped += 1
        return True

    def send(self, link, now):
        """Publish what waits, oldest first, at QoS 1 (never from inside the client's poll)."""
        queue = self._queue
        while queue:
            read_at, payload = queue[0]
            if self._clock.ticks_diff(now, read_at) > MAX_AGE_MS:
                queue.pop(0)
                self.dropped += 1
                continue
            if link is None or link.client.free_slots() <= KEEP_SLOTS:
                return  # no link, or PUBACKs still awaited: a full window would drop the link
            if not link.publish(self.topic, payload, False, 1):
                return  # the link is down: kept (the newest MAX_QUEUED) until it is back
            queue.pop(0)
            self.sent += 1

    @property
    def waiting(self):
        return len(self._queue)
