"""Authentication on the gate: HMAC-SHA256 both ways.

Commands: a command is accepted only if its tag is right under this gate's
key, it is for this gate and this boot, its counter is higher than any
accepted before (and not absurdly higher), and it was decided on a frame this
gate sent recently (checked against the gate's own clock, so a command
delayed in transit can never act late).

Sensor data: every message the gate sends carries a tag under the sensor key,
derived from the same gate key (``SensorMac``; docs/protocol.md, version 2).
"""

import hashlib
from array import array

from micropython import const

# Actions and the largest argument each takes: open (ms, capped by the door),
# lock, indicate (0 off, 1 pass, 2 alarm, 3 retry, 4 measuring), refresh (rate code 0..7), reboot.
ACTIONS = {"open": 0x7FFFFFFF, "lock": 0, "indicate": 4, "refresh": 7, "reboot": 0}
RING = const(64)  # frames whose send time is remembered, > 2 s at the highest useful rate
MAX_COUNTER = const(0x1FFFFFFFFFFFFF)  # 2**53 - 1: what JSON carries exactly
MAX_JUMP = const(0x1000000)  # 2**24: how far one command may move the counter past the last one
FIRST_MAX = MAX_COUNTER - (1 << 40)  # the first command of a boot leaves room for the controller to resync
VERSION = const(2)
TAG_BYTES = const(16)  # sensor tags: HMAC-SHA256 truncated to 128 bits
SENSOR_KEY_LABEL = b"thermogate sensor v2"

# Refusal reasons, as sent in the ack (docs/protocol.md).
MALFORMED = "malformed"
BAD_VERSION = "bad_version"
WRONG_GATE = "wrong_gate"
BAD_TAG = "bad_tag"
WRONG_BOOT = "wrong_boot"
REPLAYED = "replayed"
STALE = "stale"
BAD_ACTION = "bad_action"
BAD_ARG = "bad_arg"
COUNTER_JUMP = "counter_jump"
REASONS = (MALFORMED, BAD_VERSION, WRONG_GATE, BAD_TAG, WRONG_BOOT, REPLAYED, COUNTER_JUMP, STALE, BAD_ACTION,
           BAD_ARG)


def _hexdigest(digest):
    out = bytearray(2 * len(digest))
    hexchars = b"0123456789abcdef"
    for i, b in enumerate(digest):
        out[2 * i] = hexchars[b >> 4]
        out[2 * i + 1] = hexchars[b & 15]
    return bytes(out)


class Hmac:
    """HMAC-SHA256 (RFC 2104) over hashlib.sha256, which every ESP32 build has."""

    def __init__(self, key):
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key + bytes(64 - len(key))
        self._inner = bytes(b ^ 0x36 for b in key)
        self._outer = bytes(b ^ 0x5C for b in key)

    def digest(self, message):
        inner = hashlib.sha256(self._inner)
        inner.update(message)
        outer = hashlib.sha256(self._outer)
        outer.update(inner.digest())
        return outer.digest()

    def hexdigest(self, message):
        return _hexdigest(self.digest(message))


class SensorMac:
    """Tags for what the gate sends, under K_s = HMAC(gate key, "thermogate sensor v2")."""

    def __init__(self, gate_key):
        self._hmac = Hmac(Hmac(gate_key).digest(SENSOR_KEY_LABEL))
        self._hex = bytearray(2 * TAG_BYTES)

    def seal_binary(self, signed, buf, at):
        """Write the tag of ``signed`` (a view of the bytes it covers) into ``buf[at:at + TAG_BYTES]``."""
        tag = self._hmac.digest(signed)
        for i in range(TAG_BYTES):
            buf[at + i] = tag[i]

    def seal_json(self, label, body):
        """``body`` (a JSON object's bytes) with the "mac" field over label + newline + body, as the last field."""
        inner = hashlib.sha256(self._hmac._inner)
        inner.update(label)
        inner.update(b"\n")
        inner.update(body)
        outer = hashlib.sha256(self._hmac._outer)
        outer.update(inner.digest())
        tag = _hexdigest(outer.digest()[:TAG_BYTES])
        return body[:-1] + b',"mac":"' + tag + b'"}'


def mac_message(gate_id, boot_id, counter, action, arg, sequence):
    """The exact bytes the tag covers (docs/protocol.md, "Commands")."""
    return ("tg1|%s|%d|%d|%s|%d|%d" % (gate_id, boot_id, counter, action, arg, sequence)).encode()


def equal(a, b):
    """Compare two byte strings in time independent of where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


class FrameClock:
    """When each of the last RING frame sequence numbers was sent."""

    def __init__(self):
        self._seq = array("I", [0] * RING)
        self._ms = array("I", [0] * RING)
        self.latest = 0

    def sent(self, sequence, now_ms):
        i = sequence % RING
        self._seq[i] = sequence & 0xFFFFFFFF
        self._ms[i] = now_ms & 0x3FFFFFFF
        self.latest = sequence

    def sent_at(self, sequence):
        """The send time of ``sequence``, or -1 if it is not among the recent frames."""
        if sequence <= 0 or sequence > self.latest or self.latest - sequence >= RING:
            return -1
        i = sequence % RING
        if self._seq[i] != sequence:
            return -1
        return self._ms[i]


def _int(value, lo, hi):
    return type(value) is int and lo <= value <= hi


class CommandGuard:
    """Checks commands for one gate in one boot."""

    def __init__(self, gate_id, key, boot_id, max_age_ms, clock, limits=None):
        """``limits``: a lower maximum argument for some actions on this board (e.g. the fastest refresh
        rate its I2C clock can read)."""
        self.gate_id = gate_id
        self._limits = dict(ACTIONS)
        if limits:
            self._limits.update(limits)
        self.boot_id = boot_id
        self.max_age_ms = max_age_ms
        self.frames = FrameClock()
        self._hmac = Hmac(key)
        self._clock = clock
        self.last_counter = 0
        self.accepted = 0
        self.refused = {}
        for r in REASONS:
            self.refused[r] = 0

    def check(self, cmd):
        """``cmd`` is the decoded JSON (or None if it did not parse).

        Returns (reason, counter): reason is None when the command may act."""
        counter = None
        reason = self._check(cmd)
        if type(cmd) is dict and _int(cmd.get("ctr"), 1, MAX_COUNTER):
            counter = cmd["ctr"]
        if reason is None:
            self.accepted += 1
        else:
            self.refused[reason] += 1
        return reason, counter

    def _check(self, cmd):
        if type(cmd) is not dict:
            return MALFORMED
        if cmd.get("v") != VERSION:
            return BAD_VERSION
        gate, boot, ctr = cmd.get("gate"), cmd.get("boot"), cmd.get("ctr")
        act, arg, seq, tag = cmd.get("act"), cmd.get("arg"), cmd.get("seq"), cmd.get("tag")
        if not (type(gate) is str and _int(boot, 0, 0xFFFFFFFF) and _int(ctr, 1, MAX_COUNTER)
                and type(act) is str and len(act) <= 16 and _int(arg, 0, 0x7FFFFFFF)
                and _int(seq, 0, 0xFFFFFFFF) and type(tag) is str and len(tag) == 64):
            return MALFORMED
        if gate != self.gate_id:
            return WRONG_GATE
        boot, ctr, arg, seq = cmd["boot"], cmd["ctr"], cmd["arg"], cmd["seq"]  # checked ints from here
        expected = self._hmac.hexdigest(mac_message(gate, boot, ctr, act, arg, seq))
        if not equal(expected, tag.encode()):
            return BAD_TAG
        # Authentic from here on: whatever else is wrong, the counter is spent.
        if boot != self.boot_id:
            return WRONG_BOOT
        if ctr <= self.last_counter:
            return REPLAYED
        if ctr > (self.last_counter + MAX_JUMP if self.last_counter else FIRST_MAX):
            return COUNTER_JUMP  # not spent: one command must not lock the gate out for the rest of the boot
        self.last_counter = ctr
        sent = self.frames.sent_at(seq)
        if sent < 0 or self._clock.ticks_diff(self._clock.ticks_ms() & 0x3FFFFFFF, sent) > self.max_age_ms:
            return STALE
        if act not in self._limits:
            return BAD_ACTION
        if arg > self._limits[act]:
            return BAD_ARG
        return None
