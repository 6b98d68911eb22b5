"""Hostile input: property-based tests of every decoder and input surface (docs/fuzzing.md).

Each property feeds generated input -- random bytes, valid messages with one
thing wrong, deep-valid messages with arbitrary content -- to the real code and
checks three things: nothing raises but the surface's own error, nothing opens
a door that a correctly signed, fresh, never-seen command did not ask for, and
every refusal shows up in the counter the operators see.

``make test`` runs each property with a small budget. ``bench/fuzz.py``
(``make fuzz``) runs the same functions with THERMOGATE_FUZZ_SCALE set, over
100,000 generated inputs in all, and prints ``TALLY``: inputs tried and
rejections counted, by surface and reason.
"""

from __future__ import annotations

import atexit
import collections
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import struct
import tempfile
import zlib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import numpy as np
import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from controller.protocol import ProtocolError, decode_ack, decode_status, sensor_key, sign_command
from controller.protocol import binary as B
from controller.protocol import mac as M
from controller.protocol.commands import ACTIONS, MAX_COUNTER_STEP, MAX_FIRST_COUNTER, REFUSALS, mac_message
from controller.protocol.jsonmsg import seal
from controller.protocol.result import DECISIONS, Decision
from controller.protocol.topics import KINDS
from controller.screening import config as screening_config
from controller.sensor import Calibration, control_word, random_eeprom
from controller.service import config as service_config

REPO = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- budgets and the tally

SCALE = float(os.environ.get("THERMOGATE_FUZZ_SCALE", "0") or 0)


def budget(short: int, full: int):
    """``short`` examples in ``make test``; ``full`` x THERMOGATE_FUZZ_SCALE in ``make fuzz``."""
    n = max(1, round(full * SCALE)) if SCALE > 0 else short
    return settings(max_examples=n, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class Tally:
    """Inputs tried and what became of them, by surface: "accepted" or the reason it was refused."""

    def __init__(self):
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def add(self, surface: str, outcome: str) -> None:
        self.counts[surface][outcome] += 1

    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())


TALLY = Tally()

# --------------------------------------------------------------------------- shared material

JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=24))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


def deep_nesting(n: int) -> bytes:
    return b"[" * n + b"]" * n


@st.composite
def mutated_bytes(draw, base: bytes, max_extra: int = 64) -> bytes:
    """``base`` with a few bytes flipped, cut, inserted or appended."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "append"]))
        if op in ("flip", "set") and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = data[i] ^ (1 << draw(st.integers(0, 7))) if op == "flip" else draw(st.integers(0, 255))
        elif op == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif op == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            i = draw(st.integers(0, len(data) - 1))
            del data[i:i + draw(st.integers(1, 8))]
        elif op == "append":
            data += draw(st.binary(min_size=1, max_size=max_extra))
    return bytes(data)


class Sensor:
    """One plausible sensor: its EEPROM, its calibration and a few subpages of a person in front of it."""

    _cache: Sensor | None = None

    def __init__(self):
        self.eeprom = random_eeprom(np.random.default_rng(7))
        self.cal = Calibration.from_eeprom(self.eeprom)
        control = control_word(chess=True, refresh_hz=8.0)
        self.frames = []
        for face in (None, 34.5, 36.0, 38.5):
            scene = np.full((24, 32), 23.0)
            if face is not None:
                scene[5:17, 11:21] = face
            for subpage in (0, 1):
                self.frames.append(self.cal.raw_from_to(scene, 24.0, 3.3, subpage, control))

    @classmethod
    def get(cls) -> Sensor:
        if cls._cache is None:
            cls._cache = Sensor()
        return cls._cache


WORKER_KEY = bytes(32)  # every fuzzed worker's gate key (new_worker)
WKS = sensor_key(WORKER_KEY)  # ... and the sensor key its messages must be sealed under
STRANGER_KEYS = st.sampled_from([sensor_key(bytes(31) + b"\1"), WORKER_KEY, bytes(32)])  # not WKS: forgeries
U32 = st.integers(0, 0xFFFFFFFF)
BOOTS = st.sampled_from([1, 2, 0xDEADBEEF]) | U32
SEQUENCES = st.integers(0, 40) | U32


@st.composite
def frame_words(draw) -> np.ndarray:
    """A subpage a sensor could send, sometimes with some of its words replaced by anything."""
    words = draw(st.sampled_from(Sensor.get().frames)).copy()
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 6))):
            index = draw(st.sampled_from([768, 776, 778, 800, 808, 810, 832, 833]) | st.integers(0, 833))
            words[index] = draw(st.integers(0, 0xFFFF))
    return words


@st.composite
def frame_payloads(draw) -> bytes:
    """Bytes on a gate's frame topic: valid (with any content), broken in one place, forged (version 1, another
    key, a right CRC with no tag), or anything."""
    kind = draw(st.sampled_from(["valid", "valid", "header", "mutated", "forged", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=B.FRAME_BYTES + 16) | st.just(b"\0" * B.FRAME_BYTES))
    words = draw(frame_words())
    if kind == "header":  # any header, a correct CRC and tag: the checks after the tag must hold too
        header = B.HEADER.pack(draw(st.sampled_from([B.MAGIC, b"GT", b"\0\0"])),
                               draw(st.sampled_from([B.KIND_FRAME, B.KIND_EEPROM]) | st.integers(0, 255)),
                               draw(st.sampled_from([B.VERSION]) | st.integers(0, 255)), draw(U32), draw(U32),
                               draw(U32), draw(st.sampled_from([834, 832]) | st.integers(0, 0xFFFF)),
                               draw(st.integers(0, 0xFFFF)))
        body = header + words.astype(">u2").tobytes()
        body += struct.pack(">I", zlib.crc32(body))
        return body + M.tag(WKS, body) if draw(st.booleans()) else body
    board_ms = draw(st.integers(0, 4000) | U32)
    args = (words, draw(BOOTS), draw(SEQUENCES), board_ms, draw(st.integers(0, 0xFFFF)))
    if kind == "forged":
        how = draw(st.sampled_from(["v1", "stranger", "no_tag", "zero_tag"]))
        if how == "v1":
            return B.encode_frame(*args, key=None)
        if how == "stranger":
            return B.encode_frame(*args, key=draw(STRANGER_KEYS))
        return B.encode_frame(*args, key=WKS)[:-16] + (bytes(16) if how == "zero_tag" else b"")
    payload = B.encode_frame(*args, key=WKS)
    return payload if kind == "valid" else draw(mutated_bytes(payload))


@st.composite
def eeprom_payloads(draw) -> bytes:
    """Bytes on a gate's eeprom topic: a real EEPROM, one with arbitrary words, broken framing, a forgery
    (version 1, another key, a right CRC with no tag), anything."""
    kind = draw(st.sampled_from(["valid", "words", "words", "mutated", "forged", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=B.EEPROM_BYTES + 16))
    words = Sensor.get().eeprom.copy() if draw(st.booleans()) else random_eeprom(
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    if kind == "words":
        for _ in range(draw(st.integers(1, 12))):
            words[draw(st.integers(0, 0x3F) | st.integers(0, 831))] = draw(st.integers(0, 0xFFFF))
    boot = draw(BOOTS)
    if kind == "forged":
        how = draw(st.sampled_from(["v1", "stranger", "no_tag", "zero_tag"]))
        if how == "v1":
            return B.encode_eeprom(words, boot, key=None)
        if how == "stranger":
            return B.encode_eeprom(words, boot, key=draw(STRANGER_KEYS))
        return B.encode_eeprom(words, boot, key=WKS)[:-16] + (bytes(16) if how == "zero_tag" else b"")
    payload = B.encode_eeprom(words, boot, key=WKS)
    return draw(mutated_bytes(payload)) if kind == "mutated" else payload


FRAME_REASONS = {"type", "length", "magic", "kind", "version", "crc", "mac", "subpage", "sequence"}

# --------------------------------------------------------------------------- 1. binary decoders


@budget(300, 15000)
@given(frame_payloads())
@example(b"")
@example(b"TG" + b"\0" * (B.FRAME_BYTES - 2))
def test_frame_decoder_accepts_only_exact_frames(payload):
    try:
        message = B.decode_frame(payload, WKS)
    except ProtocolError as exc:
        assert exc.reason in FRAME_REASONS, exc
        TALLY.add("frame decoder", exc.reason)
        return
    TALLY.add("frame decoder", "accepted")
    # Whatever it accepts is exactly what the gate, holding the key, would have sent for that content.
    assert B.encode_frame(message.words, message.boot_id, message.sequence, message.board_ms,
                          message.flags, key=WKS) == payload and message.version == 2
    assert message.subpage in (0, 1) and message.sequence >= 1


@budget(100, 5000)
@given(eeprom_payloads())
def test_eeprom_decoder_accepts_only_exact_dumps(payload):
    try:
        message = B.decode_eeprom(payload, WKS)
    except ProtocolError as exc:
        assert exc.reason in FRAME_REASONS, exc
        TALLY.add("eeprom decoder", exc.reason)
        return
    TALLY.add("eeprom decoder", "accepted")
    assert B.encode_eeprom(message.words, message.boot_id, key=WKS) == payload


@budget(50, 1000)
@given(st.one_of(st.text(), st.integers(), st.none(), st.lists(st.integers(0, 255)), st.floats()))
def test_binary_decoders_refuse_what_is_not_bytes(value):
    for decode in (B.decode_frame, B.decode_eeprom):
        with pytest.raises(ProtocolError) as refused:
            decode(value, WKS)
        assert refused.value.reason == "type"
        TALLY.add("frame decoder" if decode is B.decode_frame else "eeprom decoder", "type")


# --------------------------------------------------------------------------- 2. the gate worker


def new_worker(gate_id: str = "fuzz-1"):
    from controller.screening.config import ScreeningConfig
    from controller.service.gate_worker import GateWorker
    from controller.service.registry import GateInfo

    return GateWorker(GateInfo(gate_id, WORKER_KEY), ScreeningConfig(warmup_s=0.0))


ANOMALIES = {"clock_jump"}  # counted by the worker, but the frame is still used
REFUSED_CONTENT = {"frame_data"}  # well-formed on the wire, values no working sensor gives: counted, seen as a fault


def expected_frame_refusal(worker, payload) -> str | None:
    """What the worker must count this frame as, from what it knew before it (None: taken)."""
    try:
        message = B.decode_frame(payload, WKS)
    except ProtocolError as exc:
        return exc.reason
    if worker.pipeline is None:
        return "no_eeprom"
    if message.boot_id != worker.boot_id and message.boot_id in worker.old_boots:
        return "old_boot"  # a boot the gate has left: a replay
    if message.boot_id == worker.boot_id and message.sequence <= worker.last_sequence:
        return "out_of_order"
    return None


def feed(worker, kind: str, payload: bytes, surface: str):
    """One message to the worker; checks that it did not raise and that a refusal was counted once."""
    before = sum(worker.errors.values())
    counted = collections.Counter(worker.errors)
    if kind == "eeprom":
        old = worker.pipeline
        try:
            B.decode_eeprom(payload, WKS)
            decodable = True
        except ProtocolError:
            decodable = False
        rebuilt = worker.on_eeprom(payload)
        refused = sum(worker.errors.values()) - before
        assert refused in (0, 1)
        if rebuilt:
            assert refused == 0 and worker.pipeline is not old and decodable
            TALLY.add(surface, "accepted (eeprom)")
        elif refused:
            (reason,) = (worker.errors - counted).keys()
            TALLY.add(surface, "eeprom " + reason)
        else:  # the same EEPROM again
            assert decodable and worker.pipeline is old and old is not None
            TALLY.add(surface, "accepted (same eeprom again)")
        return []
    expected = expected_frame_refusal(worker, payload)
    pipeline = worker.pipeline
    errors = pipeline.frame_errors if pipeline is not None else 0
    decisions = worker.on_frame(payload)
    if expected is not None:
        assert decisions == [] and sum(worker.errors.values()) == before + 1 and worker.errors[expected] >= 1
        TALLY.add(surface, expected)
        return []
    noted = worker.errors - counted  # taken, with an anomaly counted on the way
    assert set(noted) <= ANOMALIES | REFUSED_CONTENT and all(n == 1 for n in noted.values()), dict(noted)
    for d in decisions:
        assert isinstance(d, Decision) and d.decision in DECISIONS
    # Values no working sensor gives: the tracker sees a fault, and the operators see it counted.
    invalid = (worker.pipeline.frame_errors - (errors if worker.pipeline is pipeline else 0))
    assert invalid in (0, 1) and noted["frame_data"] == invalid, (invalid, dict(noted))
    if invalid:
        TALLY.add(surface, "frame_data")
    else:
        TALLY.add(surface, "accepted" if not noted else f"accepted, {next(iter(noted))} counted")
    return decisions


@budget(60, 3000)
@given(st.lists(st.tuples(st.sampled_from(["frame", "frame", "frame", "eeprom"]), st.data()), min_size=1,
                max_size=14))
def test_gate_worker_never_raises_and_counts_every_refusal(steps):
    worker = new_worker()
    if steps[0][0] == "frame":  # most runs start from the gate's real EEPROM
        assert worker.on_eeprom(B.encode_eeprom(Sensor.get().eeprom, 1, key=WKS))
    for kind, data in steps:
        payload = data.draw(eeprom_payloads() if kind == "eeprom" else frame_payloads())
        feed(worker, kind, payload, "gate worker")
    summary = worker.summary()
    json.dumps(summary.to_dict(), allow_nan=False)  # what the console and /api/gates serialise


@budget(40, 1500)
@given(st.lists(st.tuples(BOOTS, st.integers(1, 12), frame_words()), min_size=1, max_size=24))
def test_gate_worker_with_valid_framing_and_any_content(frames):
    """Every frame well-formed on the wire, so all of them reach the sensor maths and the tracker."""
    worker = new_worker()
    assert worker.on_eeprom(B.encode_eeprom(Sensor.get().eeprom, 1, key=WKS))
    for i, (boot, sequence, words) in enumerate(frames):
        feed(worker, "frame", B.encode_frame(words, boot, sequence, 125 * i, key=WKS), "gate worker (valid framing)")


# --------------------------------------------------------------------------- 3. commands, at the gate

KEY = bytes(range(32))
GATE_KS = sensor_key(KEY)
GATE = "north-1"


@pytest.fixture(scope="module")
def firmware():
    """The firmware's own modules under CPython, on the fake hardware of sim/hardware."""
    from firmware_env import firmware_modules

    with firmware_modules() as fw:
        yield fw


class GateRig:
    """One freshly booted gate on fake hardware, and what is known of it from the wire."""

    def __init__(self, fw, boot_bits: int):
        from firmware_env import config_dict, fresh_hardware

        self.fw = fw
        self.clock, self.broker = fresh_hardware(fw)
        sensor = Sensor.get()
        self.sensor = fw.fake_mlx90640.FakeMLX90640([int(w) for w in sensor.eeprom])
        fw.machine.devices[0x33] = self.sensor
        wlan = fw.network.WLAN()
        wlan.up = True
        self.cfg = fw.config.Config(config_dict(GATE, KEY.hex()))
        self.gate = fw.app.build(self.cfg, clock=self.clock, wlan=wlan, open_socket=self.broker.open_socket,
                                 random_bits=lambda n: boot_bits % (1 << n), reboot=lambda: None,
                                 heap_free=lambda: 90000)
        self.relay = fw.machine.Pin.pins[self.cfg.pin_relay]
        self.open_level = 1 if self.cfg.relay_active_high else 0
        self.gate.start_sensor()
        self.run(100)
        self.sent: dict[int, int] = {}  # frame sequence -> board ms, from the frames on the wire
        self.spent = 0  # the highest counter the gate has seen on an authentic command for its boot
        self.acks: collections.Counter = collections.Counter()
        self.history: list[bytes] = []

    def run(self, ms: int, step_ms: int = 10) -> None:
        for _ in range(ms // step_ms):
            self.gate.step()
            self.clock.advance(step_ms)

    def frame(self, subpage: int) -> None:
        self.sensor.load([int(w) for w in Sensor.get().frames[subpage]])
        self.run(130)
        for payload in self.broker.take(f"thermogate/{GATE}/frame".encode()):
            message = B.decode_frame(payload, GATE_KS)
            self.sent[message.sequence] = message.board_ms

    def openings(self) -> int:
        return sum(1 for _, v in self.relay.history if v == self.open_level)

    def sign(self, action: str, arg: int, *, counter=None, sequence=None, key=KEY, boot=None, gate=GATE) -> bytes:
        counter = self.spent + 1 if counter is None else counter
        sequence = max(self.sent, default=0) if sequence is None else sequence
        boot = self.gate.boot_id if boot is None else boot
        return sign_command(key, gate, boot, counter, action, arg, sequence).payload()

    def verdict(self, raw: bytes) -> bool:
        """May this command act? Decided here from the protocol alone (docs/protocol.md, "Commands"),
        with the controller's HMAC, the frames seen on the wire and the counters spent so far."""
        try:
            cmd = json.loads(raw)
        except (ValueError, RecursionError):
            return False
        if type(cmd) is not dict or cmd.get("v") != 2:
            return False
        gate, boot, ctr, act, arg, seq, tag = (cmd.get(k) for k in ("gate", "boot", "ctr", "act", "arg", "seq", "tag"))
        ints = (boot, 0xFFFFFFFF), (ctr, 2**53 - 1), (arg, 0x7FFFFFFF), (seq, 0xFFFFFFFF)
        if not (type(gate) is str and type(act) is str and len(act) <= 16 and type(tag) is str
                and all(type(v) is int and 0 <= v <= hi for v, hi in ints) and ctr >= 1):
            return False
        if gate != GATE or not hmac.compare_digest(
                tag.encode(), hmac.new(KEY, mac_message(gate, boot, ctr, act, arg, seq), hashlib.sha256)
                .hexdigest().encode()):
            return False
        if boot != self.gate.boot_id or ctr <= self.spent:
            return False
        if ctr > (self.spent + MAX_COUNTER_STEP if self.spent else MAX_FIRST_COUNTER):
            return False  # counter_jump: refused, and not spent
        self.spent = ctr  # authentic and new: spent, whatever else is wrong with it
        latest = max(self.sent, default=0)
        if seq not in self.sent or latest - seq >= 64 or self.clock.ticks_ms() - self.sent[seq] > \
                self.cfg.max_command_age_ms:
            return False
        return act in ACTIONS and arg <= ACTIONS[act]

    def deliver(self, raw: bytes, surface: str) -> None:
        """One command on the gate's cmd topic: exactly one ack, the door opened only if it may act."""
        topic = f"thermogate/{GATE}/cmd".encode()
        # The gate's MQTT client skips a packet larger than it keeps, unread: no ack, nothing done.
        skipped = 2 + len(topic) + 2 + len(raw) > self.fw.mqtt.MAX_PACKET
        may_act = not skipped and self.verdict(raw)
        opened, granted, was_open = self.openings(), self.gate.door.openings, self.relay.value() == self.open_level
        self.broker.inbox.append((topic, raw))
        self.run(20)
        acks = [decode_ack(p, GATE_KS) for p in self.broker.take(f"thermogate/{GATE}/ack".encode())]
        if skipped:
            self.run(2000)  # a long packet is read over several steps
            acks += [decode_ack(p, GATE_KS) for p in self.broker.take(f"thermogate/{GATE}/ack".encode())]
            assert acks == [] and self.openings() == opened and self.gate.door.openings == granted, acks
            TALLY.add(surface, "skipped unread (oversized packet)")
            return
        assert len(acks) == 1, acks
        ack = acks[0]
        assert ack.ok == may_act, (ack, raw[:300])
        act = json.loads(raw)["act"] if may_act else None
        if self.openings() > opened or self.gate.door.openings > granted:  # the relay moved, or an opening began
            assert may_act and act == "open", (ack, raw[:300])
        if may_act and act == "open":  # granted, capped, and the relay driven open
            assert 0 < ack.applied_ms <= self.cfg.door_cap_ms and self.gate.door.openings == granted + 1
            assert was_open or self.openings() > opened
        self.acks[ack.reason or "accepted"] += 1
        self.history.append(raw)
        TALLY.add(surface, ack.reason or "accepted")

    def check_status(self) -> None:
        """The gate's own heartbeat counts every command it was sent: accepted or refused, by reason."""
        status = decode_status(self.gate.status_message(), GATE_KS)
        assert status.cmd_ok == self.acks["accepted"]
        assert {r: n for r, n in status.cmd_refused.items() if n} == \
            {r: n for r, n in self.acks.items() if r != "accepted"}
        assert sum(status.cmd_refused.values()) + status.cmd_ok == len(self.history)


GOOD_ACTIONS = st.sampled_from([("open", 0), ("open", 1000), ("open", 60000), ("lock", 0), ("indicate", 2)])
ANY_ACTIONS = st.tuples(st.sampled_from(["open", "lock", "indicate", "refresh", "reboot", "unlock", "OPEN", ""])
                        | st.text(max_size=20), st.integers(-5, 2**31 + 5) | st.sampled_from([0, 3, 7, 2**31 - 1]))


def raw_tag(key: bytes, fields: dict) -> str:
    return hmac.new(key, mac_message(*(fields[k] for k in ("gate", "boot", "ctr", "act", "arg", "seq"))),
                    hashlib.sha256).hexdigest()


@st.composite
def attack(draw, rig: GateRig) -> tuple[str, bytes]:
    """One command somebody might send: (kind, bytes)."""
    kind = draw(st.sampled_from(["signed", "signed", "forged", "replayed", "stale", "future", "wrong_boot",
                                 "wrong_gate", "truncated", "oversized", "mutated", "resigned", "json", "bytes",
                                 "nested"]))
    latest = max(rig.sent, default=0)
    if kind == "signed":  # right key, gate, boot and a new counter, on the latest frame (which may be old)
        return kind, rig.sign(*draw(GOOD_ACTIONS))
    if kind == "forged":
        key = draw(st.binary(min_size=32, max_size=32) | st.just(b"\0" * 32) | st.just(KEY[:31] + b"\0"))
        return kind, rig.sign("open", 1000, key=key)
    if kind == "replayed" and rig.history:
        return kind, draw(st.sampled_from(rig.history))
    if kind in ("replayed", "stale"):  # an old counter, or a frame that is too old or was never sent
        counter = draw(st.integers(1, max(rig.spent, 1)))
        return kind, rig.sign("open", 1000, counter=counter if kind == "replayed" else None,
                              sequence=draw(st.sampled_from(sorted(rig.sent) or [0])) if kind == "stale" else None)
    if kind == "future":
        return kind, rig.sign("open", 1000, sequence=draw(st.sampled_from([0, latest + 1, latest + 64, 2**32 - 1])))
    if kind == "wrong_boot":
        return kind, rig.sign("open", 1000, boot=draw(U32.filter(lambda b: b != rig.gate.boot_id)))
    if kind == "wrong_gate":
        return kind, rig.sign("open", 1000, gate=draw(st.sampled_from(["north-2", "north-10", "n"])))
    good = rig.sign(*draw(GOOD_ACTIONS))
    if kind == "truncated":
        return kind, good[:draw(st.integers(0, len(good) - 1))]
    if kind == "oversized":
        pad = draw(st.sampled_from([1024, 16384, 100_000]))
        cmd = json.loads(good)
        how = draw(st.sampled_from(["spaces", "field", "tag", "act"]))
        if how == "spaces":
            return kind, good[:-1] + b" " * pad + b"}"
        if how == "field":
            cmd["x"] = "x" * pad
        else:
            cmd[how] = cmd[how] + "0" * pad
        return kind, json.dumps(cmd).encode()
    if kind in ("mutated", "resigned"):
        cmd = json.loads(good)
        for _ in range(draw(st.integers(1, 3))):
            field = draw(st.sampled_from(["v", "gate", "boot", "ctr", "act", "arg", "seq", "tag"])
                         | st.text(max_size=4))
            op = draw(st.sampled_from(["set", "delete", "retype"]))
            if op == "delete":
                cmd.pop(field, None)
            elif op == "retype" and field in cmd:
                v = cmd[field]
                cmd[field] = draw(st.sampled_from([str(v), [v], {"v": v}, None, True,
                                                   float(v) if isinstance(v, int) else v]))
            else:
                cmd[field] = draw(JSON_VALUES | st.integers(-2, 2**64) | st.sampled_from(["open", "reboot"]))
        if kind == "resigned":  # a correct tag over whatever the fields now are: the checks after the tag
            action, arg = draw(ANY_ACTIONS)
            cmd.update(act=action, arg=arg)
            try:
                cmd["tag"] = raw_tag(KEY, cmd)
            except (KeyError, TypeError):
                pass
        return kind, json.dumps(cmd).encode()
    if kind == "json":
        return kind, json.dumps(draw(JSON_VALUES)).encode()
    if kind == "nested":
        return kind, deep_nesting(draw(st.sampled_from([100, 999, 1000, 5000, 100_000])))
    return "bytes", draw(st.binary(max_size=300) | mutated_bytes(good))


@budget(40, 3000)
@given(boot_bits=st.integers(0, 2**32 - 1), data=st.data())
def test_no_generated_command_opens_the_door_unless_signed_fresh_and_new(firmware, boot_bits, data):
    rig = GateRig(firmware, boot_bits)
    for _ in range(data.draw(st.integers(1, 30), label="steps")):
        step = data.draw(st.sampled_from(["frame", "wait", "command", "command", "command"]), label="step")
        if step == "frame":
            rig.frame(data.draw(st.integers(0, 1)))
        elif step == "wait":
            rig.run(data.draw(st.sampled_from([10, 500, 1890, 2000, 2110, 6000])))
        else:
            kind, raw = data.draw(attack(rig), label="command")
            rig.deliver(raw, f"firmware cmd/{kind}")
    rig.check_status()


# --------------------------------------------------------------------------- 4. status and acks (JSON)

STATUS = {"v": 2, "gate": GATE, "online": True, "fw": "0.1.0", "boot": 7, "uptime_s": 12, "rssi": -60,
          "heap_free": 90000, "frames": 96, "frames_unsent": 0, "fps": 8.0, "refresh_hz": 8.0, "sensor_ok": True,
          "i2c_errors": 0, "sensor_resets": 0, "relay": "locked", "door_openings": 0, "cmd_ok": 1,
          "cmd_refused": {r: 0 for r in REFUSALS}, "mqtt_connects": 1}
ACK = {"v": 2, "gate": GATE, "ctr": 5, "ok": False, "reason": "stale", "act": "open", "applied_ms": 0, "seq": 40,
       "last": 5}
JSON_REASONS = {"too_large", "mac_missing", "mac", "json", "schema", "version"}


def sealed(body: bytes, label: bytes, key: bytes = WKS) -> bytes:
    """``body`` with its tag, when it is a JSON object's text (anything else is sent as it is)."""
    if body.startswith(b"{") and body.endswith(b"}") and body != b"{}":
        return seal(body, key, label)
    return body


@st.composite
def json_payloads(draw, template: dict, label: bytes) -> bytes:
    """A message like ``template`` with fields changed, removed or added, sealed under the worker's key for
    ``label`` (or forged: unsealed, another key, the other label, bytes changed after sealing); any JSON, sealed
    or not; or any bytes."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "json", "bytes", "nested", "big", "forged"]))
    if kind == "json":
        body = json.dumps(draw(JSON_VALUES)).encode()
        return sealed(body, label) if draw(st.booleans()) else body
    if kind == "bytes":
        return draw(st.binary(max_size=1100) | mutated_bytes(sealed(json.dumps(template).encode(), label)))
    if kind == "nested":
        return deep_nesting(draw(st.integers(1, 600))) if draw(st.booleans()) else b"[" * draw(st.integers(1, 1024))
    if kind == "big":
        return sealed(json.dumps({**template, "pad": "x" * draw(st.integers(900, 1100))}).encode(), label)
    if kind == "forged":
        body = json.dumps(template).encode()
        how = draw(st.sampled_from(["unsealed", "v1", "stranger", "other_label"]))
        if how == "unsealed":
            return body
        if how == "v1":
            return json.dumps({k: v for k, v in {**template, "v": 1}.items() if k != "last"}).encode()
        if how == "stranger":
            return sealed(body, label, draw(STRANGER_KEYS))
        return sealed(body, b"ack" if label == b"status" else b"status")
    d = json.loads(json.dumps(template))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(template)) | st.text(max_size=6))
        op = draw(st.sampled_from(["set", "set", "delete", "refused"]))
        if op == "delete":
            d.pop(key, None)
        elif op == "refused" and isinstance(d.get("cmd_refused"), dict):
            d["cmd_refused"][draw(st.sampled_from(REFUSALS) | st.text(max_size=6))] = draw(JSON_VALUES)
        else:
            d[key] = draw(JSON_VALUES | st.sampled_from([True, False, 0, -1, 2**63, "open", "", None,
                                                        math.nan, math.inf]))
    return sealed(json.dumps(d).encode(), label)


def check_json_decoder(decode, payload: bytes, surface: str):
    try:
        value = decode(payload)
    except ProtocolError as exc:
        assert exc.reason in JSON_REASONS, exc
        TALLY.add(surface, exc.reason)
        return None
    TALLY.add(surface, "accepted")
    return value


@budget(200, 8000)
@given(json_payloads(STATUS, b"status"))
@example(b"[" * 1024)  # deeper than Python's recursion limit, within the size limit
@example(sealed(json.dumps({**STATUS, "fps": math.nan}).encode(), b"status"))  # NaN reached the console's strict JSON
@example(sealed(json.dumps({**STATUS, "refresh_hz": 10**400}).encode(), b"status"))  # float() of it: OverflowError
@example(seal(b'{"v":2,"x":' + b"[" * 480 + b"]" * 480 + b"}", WKS, b"status"))  # deep, inside a right tag
def test_status_decoder_raises_only_protocol_errors(payload):
    status = check_json_decoder(lambda p: decode_status(p, WKS), payload, "status (json)")
    if status is not None:
        assert isinstance(status.gate_id, str) and isinstance(status.online, bool)
        assert math.isfinite(status.fps) and math.isfinite(status.refresh_hz)
        # What the worker keeps of it goes to the console and the store as strict JSON.
        worker = new_worker(GATE)
        assert worker.on_status(payload) is not None or worker.errors["wrong_gate"] == 1
        json.dumps(worker.summary().to_dict(), allow_nan=False)


@budget(200, 8000)
@given(json_payloads(ACK, b"ack"))
@example(b"[" * 1024)
@example(sealed(json.dumps({**ACK, "ctr": 2**80}).encode(), b"ack"))  # a counter the store cannot take
def test_ack_decoder_raises_only_protocol_errors(payload):
    ack = check_json_decoder(lambda p: decode_ack(p, WKS), payload, "ack (json)")
    if ack is not None:
        assert ack.ok == (ack.reason == "") and (ack.ok or ack.reason in REFUSALS)
        assert ack.counter is None or (type(ack.counter) is int and 1 <= ack.counter <= 2**53 - 1)
        assert type(ack.last) is int and 0 <= ack.last <= 2**53 - 1 and ack.version == 2
        # Whatever is accepted carried the worker's own tag for an ack.
        assert payload[-42:-34] == b',"mac":"' and M.tag_matches(WKS, b"ack\n" + payload[:-42] + b"}",
                                                                    bytes.fromhex(payload[-34:-2].decode()))


# --------------------------------------------------------------------------- 5. TOML configuration


TOML_SCALARS = (st.text(max_size=16) | st.integers(-2**63, 2**63 - 1) | st.floats() | st.booleans()
                | st.datetimes() | st.dates() | st.times())
TOML_VALUES = st.recursive(TOML_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)

# Values near each key's edges, so generated documents get past the first check often.
PLAUSIBLE = {
    "host": st.sampled_from(["127.0.0.1", "", "broker.local"]), "port": st.sampled_from([0, 1, 1883, 65535, 65536]),
    "user": st.just("controller"), "password": st.sampled_from(["", "pw"]),
    "password_file": st.sampled_from(["pw.txt", "gbk.txt", "a-dir", "missing", "a\0b", "/dev/null", ""]),
    "client_id": st.sampled_from(["", "c", "x" * 64, "x" * 65]), "keepalive_s": st.sampled_from([4, 5, 600, 601]),
    "queue_frames": st.sampled_from([3, 4, 4096, 4097]), "tls_ca": st.sampled_from(["", "pw.txt", "a-dir", "a\0b"]),
    "dir": st.sampled_from(["site", "", "a\0b", "/"]),
    "timezone": st.sampled_from(["Asia/Shanghai", "UTC", "", "America", "zone.tab", "/etc/passwd", "../x",
                                 "UTC\0", "Etc", "right/UTC", "Asia/Shanghai "]),
    "simulated_gates": st.lists(st.sampled_from(["sim-1", "SIM", "", "a" * 40]) | TOML_SCALARS, max_size=3),
    "serve": st.lists(st.sampled_from(["north-*", "", "a/b", "[", "*"]) | TOML_SCALARS, max_size=3),
    "url": st.sampled_from(["thermogate.db", "", "postgresql://u@h/db", "sqlite:x", "a\0b"]),
    "retention_days": st.sampled_from([0, 1, 3650, 3651]), "open_ms": st.sampled_from([99, 100, 30000, 30001]),
    "ack_timeout_s": st.sampled_from([0.1, 0.2, 60, 60.5, math.nan]), "bind": st.just("0.0.0.0"),
    "accept_protocol_v1": st.sampled_from([True, False, "true", 1]),
    "enabled": st.booleans(), "prefix": st.sampled_from(["homeassistant", "", "a/#", "+"]),
    "threshold_c": st.sampled_from([33.9, 34.0, 37.3, 37.35, 39.0, math.inf, math.nan, 38]),
    "site_offset_c": st.sampled_from([0.0, 3.0, -3.1, math.nan]), "stable_frames": st.sampled_from([1, 2, 32, 33]),
    "min_face_width_px": st.sampled_from([0.5, 1.0, 16.0, math.nan]), "drift_window": st.sampled_from([-1, 0, 1001]),
    "distance_m": st.sampled_from([[0.25, 1.3], [1.3, 0.25], [0.0, 1.0], [True, 2], [0.5], [0.5, math.nan]]),
    "variant": st.sampled_from(["55", "110", 55, "", None]) .filter(lambda v: v is not None),
    "box": st.sampled_from([[3, 3, 7, 7], [0, 0, 24, 32], [0, 0, 25, 32], [3, 3, 3, 7], [True, 0, 1, 1], False]),
    "temp_c": st.sampled_from([25, 45.0, 24.9, math.nan]),
}
TABLE_KEYS = {"mqtt": ["host", "port", "user", "password", "password_file", "client_id", "keepalive_s",
                       "queue_frames", "tls_ca"],
              "site": ["dir", "timezone", "simulated_gates", "serve", "accept_protocol_v1"],
              "store": ["url", "retention_days"],
              "doors": ["open_ms", "ack_timeout_s"], "http": ["bind", "port"],
              "home_assistant": ["enabled", "prefix"],
              "screening": sorted(f.key for f in screening_config.FIELDS) + ["variant", "reference"],
              "reference": ["box", "temp_c", "apparent_c", "apparent_sd_c", "background_c", "pixels", "drift_c",
                            "min_fraction"]}


@st.composite
def toml_tables(draw, name: str):
    table = {}
    names = st.sampled_from(TABLE_KEYS[name])
    for key in draw(st.lists(st.one_of(*[names] * 9, st.text(max_size=6)), max_size=6)):
        if key == "reference":
            table[key] = draw(toml_tables("reference") | TOML_VALUES)
        else:
            table[key] = draw(PLAUSIBLE.get(key, TOML_VALUES) | TOML_VALUES if draw(st.booleans())
                              else PLAUSIBLE.get(key, TOML_VALUES))
    return table


@st.composite
def toml_documents(draw) -> dict:
    doc = {}
    names = st.sampled_from(sorted(set(TABLE_KEYS) - {"reference"}) + ["gates"])
    for name in draw(st.lists(st.one_of(*[names] * 9, st.text(max_size=6)), max_size=7)):
        if name == "gates":
            doc[name] = draw(st.dictionaries(st.sampled_from(["north-1", "N", "-x"]) | st.text(max_size=6),
                                             st.fixed_dictionaries({"screening": toml_tables("screening")})
                                             | TOML_VALUES, max_size=2) | TOML_VALUES)
        elif name in TABLE_KEYS:
            doc[name] = draw(toml_tables(name) | TOML_VALUES if draw(st.integers(0, 5)) == 0 else toml_tables(name))
        else:
            doc[name] = draw(TOML_VALUES)
    return doc


class ConfigDir:
    """A directory with the files a config may name: a password, one in GBK, a subdirectory."""

    _path: Path | None = None

    @classmethod
    def get(cls) -> Path:
        if cls._path is None:
            cls._path = Path(tempfile.mkdtemp(prefix="thermogate-fuzz-config-"))
            atexit.register(shutil.rmtree, cls._path, True)
            (cls._path / "pw.txt").write_text("secret\n")
            (cls._path / "gbk.txt").write_bytes("口令".encode("gbk"))
            (cls._path / "a-dir").mkdir()
        return cls._path


def load_checked(doc_or_text, surface: str):
    base = ConfigDir.get()
    try:
        if isinstance(doc_or_text, dict):
            config = service_config.from_dict(doc_or_text, base / "controller.toml")
        else:
            path = base / "controller.toml"
            path.write_bytes(doc_or_text if isinstance(doc_or_text, bytes) else doc_or_text.encode("utf-8", "replace"))
            config = service_config.load_config(path)
    except service_config.ConfigError as exc:
        TALLY.add(surface, config_reason(str(exc)))
        return None
    TALLY.add(surface, "accepted")
    config.tz  # noqa: B018 -- a time zone that loads
    for gate_id in config.gate_screening:
        config.screening_for(gate_id)
    return config


KNOWN_KEYS = {key for keys in TABLE_KEYS.values() for key in keys}


def config_reason(message: str) -> str:
    """A short name for what a ConfigError was about: the key it names, or the kind of problem."""
    if "not valid TOML" in message:
        return "TOML syntax"
    if "not UTF-8" in message:
        return "not UTF-8"
    if "unknown table" in message or "unknown key" in message:
        return "unknown table or key"
    if re.search(r"\bgates\.[^ ]*: not a gate id", message):
        return "gates.<id> not a gate id"
    named = re.search(r"\b(mqtt|site|store|doors|http|home_assistant|screening|gates)\.([A-Za-z_]+)", message)
    if named and (named.group(2) in KNOWN_KEYS or named.group(1) == "gates"):
        return f"{named.group(1)}.{named.group(2) if named.group(1) != 'gates' else '<id>'}"
    if "must be a table" in message or "table may go here" in message:
        return "not a table"
    return "other: " + message[-40:]


@budget(150, 5000)
@given(toml_documents())
@example({"mqtt": {"password_file": "gbk.txt"}})  # not UTF-8: UnicodeDecodeError
@example({"mqtt": {"password_file": "a\0b"}})  # a NUL in a path: ValueError
@example({"site": {"timezone": "America"}})  # a directory of zones, not a zone
def test_controller_config_from_dict_raises_only_config_errors(doc):
    load_checked(doc, "config from_dict")


VALID_TEXT = """
[mqtt]
host = "127.0.0.1"
port = 1883
user = "controller"
password_file = "pw.txt"
queue_frames = 64

[site]
dir = "site"
timezone = "Asia/Shanghai"
simulated_gates = ["sim-1", "sim-2"]

[store]
url = "thermogate.db"
retention_days = 30

[doors]
open_ms = 3000
ack_timeout_s = 3.0

[screening]
threshold_c = 37.3
variant = "110"

[screening.reference]
box = [3, 3, 7, 7]
temp_c = 35.0

[gates.sim-1.screening]
site_offset_c = 0.4
"""


@budget(300, 6000)
@given(st.text(max_size=400) | mutated_bytes(VALID_TEXT.encode()) | st.binary(max_size=200)
       | st.builds(lambda t: t.encode("gbk", "replace"), st.text(max_size=40)))
@example(VALID_TEXT.encode())
@example("# 学校\n".encode("gbk"))  # a config saved in GBK: UnicodeDecodeError
def test_controller_config_file_raises_only_config_errors(text):
    load_checked(text, "config file")


@budget(150, 5000)
@given(toml_tables("screening") | TOML_VALUES)
@example({"max_spread_c": math.nan})  # was accepted: readings could never agree, so nobody was ever decided
@example({"warmup_s": math.inf})
def test_screening_table_raises_only_config_errors(table):
    try:
        config = screening_config.from_table(table)
    except screening_config.ConfigError as exc:
        TALLY.add("config [screening]", config_reason(str(exc)))
        return
    TALLY.add("config [screening]", "accepted")
    assert 34.0 <= config.threshold_c <= 39.0
    for name, value in vars(config).items():  # nan would make every comparison in the tracker false
        assert not isinstance(value, float) or math.isfinite(value), (name, value)


# --------------------------------------------------------------------------- 6. the dispatcher, whole


DISPATCH_GATES = ("g-1", "g-2")
TOPIC_RULE = re.compile(r"thermogate/([a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?)/([a-z]+)")


@st.composite
def mqtt_messages(draw) -> paho.MQTTMessage:
    """What paho hands the dispatcher: a topic (any bytes a broker might pass on) and a payload."""
    which = draw(st.sampled_from(["ours", "ours", "ours", "unknown", "foreign"]))
    kind = draw(st.sampled_from(KINDS))
    if which == "ours":
        gate = draw(st.sampled_from(DISPATCH_GATES))
        topic = f"thermogate/{gate}/{kind}".encode()
    elif which == "unknown":
        gate = draw(st.sampled_from(["g-3", "north-1", "0"]) | st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True))
        topic = f"thermogate/{gate}/{kind}".encode()
    else:
        gate = draw(st.sampled_from(DISPATCH_GATES))
        topic = draw(st.sampled_from([f"thermogate/{gate}/{kind}/x", f"thermogate//{kind}", f"Thermogate/{gate}/{kind}",
                                      f"thermogate/{gate.upper()}/{kind}", f"thermogate/+/{kind}", "$SYS/broker/load",
                                      f"thermogate/{gate}/frames", f"thermogate/-{gate}/{kind}", ""]).map(str.encode)
                     | st.text(max_size=40).map(str.encode) | st.binary(max_size=40)
                     | st.just(f"thermogate/{gate}/".encode() + b"\xff\xfe"))  # not UTF-8
    if kind == "frame":
        payload = draw(frame_payloads())
    elif kind == "eeprom":
        payload = draw(eeprom_payloads())
    elif kind in ("status", "ack"):
        template = {**(STATUS if kind == "status" else ACK), "gate": draw(st.sampled_from(DISPATCH_GATES + ("x",)))}
        label = kind.encode()
        payload = draw(json_payloads(template, label) | st.just(sealed(json.dumps(template).encode(), label))
                       | st.just(sealed(json.dumps({**template, "pad": "x" * 2000}).encode(), label)))
    else:
        payload = draw(st.binary(max_size=200))
    message = paho.MQTTMessage(mid=0, topic=topic)
    message.payload = payload
    return message


def topic_class(raw: bytes) -> tuple[str, str | None, str | None]:
    """("foreign" | "unknown" | "ours", gate, kind), decided here from docs/protocol.md's topic rule."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "foreign", None, None
    m = TOPIC_RULE.fullmatch(text)
    if m is None or m.group(2) not in KINDS:
        return "foreign", None, None
    return ("ours" if m.group(1) in DISPATCH_GATES else "unknown"), m.group(1), m.group(2)


@budget(60, 2500)
@given(queue=st.sampled_from([4, 64]), messages=st.lists(mqtt_messages(), min_size=1, max_size=20),
       start_with_eeprom=st.booleans())
@example(queue=64, messages=[paho.MQTTMessage(mid=0, topic=b"thermogate/g-1/\xff\xfe")], start_with_eeprom=False)
def test_dispatcher_never_raises_never_publishes_and_counts_everything(queue, messages, start_with_eeprom):
    from controller.service.config import MqttConfig
    from controller.service.dispatcher import Dispatcher
    from controller.service.frame_queue import QueuedFrame

    calls: list[tuple] = []
    published: list[tuple] = []
    workers = {g: new_worker(g) for g in DISPATCH_GATES}
    if start_with_eeprom:
        for w in workers.values():
            assert w.on_eeprom(B.encode_eeprom(Sensor.get().eeprom, 1, key=WKS))
    d = Dispatcher(MqttConfig(queue_frames=queue), workers,
                   on_decisions=lambda w, ds, t: calls.append(("decisions", w.id, ds)),
                   on_eeprom=lambda w, rebuilt: calls.append(("eeprom", w.id, rebuilt)),
                   on_status=lambda w, was, now: calls.append(("status", w.id)),
                   on_ack=lambda ack: calls.append(("ack", ack.gate_id)), on_tick=lambda: None,
                   on_frame=lambda w: calls.append(("frame", w.id)),
                   on_credential=lambda w, payload: calls.append(("credential", w.id)))
    d.transport.client.publish = lambda *a, **k: published.append(a)  # the dispatcher's only way out to MQTT
    expected = collections.Counter()
    frames_in = collections.Counter()
    for message in messages:
        where, gate, kind = topic_class(message._topic)
        d.on_message(message)
        expected[where] += 1
        if where == "ours" and kind == "frame":
            frames_in[gate] += 1
        TALLY.add("dispatcher topics", {"foreign": "foreign topic", "unknown": "unknown gate"}.get(where, "accepted"))
    assert d.foreign_topics == expected["foreign"] and d.unknown_gate == expected["unknown"]
    frames_done = collections.Counter()
    while True:
        job = d.queue.take()
        if job is None:
            break
        worker = workers[job.gate]
        kind = "frame" if isinstance(job, QueuedFrame) else job.kind
        payload = job.payload
        before, n = sum(worker.errors.values()), len(calls)
        counted = collections.Counter(worker.errors)
        refusal = expected_frame_refusal(worker, payload) if kind == "frame" else None
        d.process(job)
        new = calls[n:]
        refused = sum(worker.errors.values()) - before
        noted = set(worker.errors - counted)
        if kind == "frame":
            frames_done[worker.id] += 1
            assert (refused == 1 and refusal in noted) if refusal else noted <= ANOMALIES | REFUSED_CONTENT
            assert all(c[0] != "decisions" for c in new) or refusal is None
        elif kind == "eeprom":
            assert new and new[-1][0] == "eeprom" and (new[-1][2] is False or refused == 0)
        else:  # status and ack: passed on, or refused and counted once
            assert (len(new) == 1 and refused == 0) or (not new and refused == 1), (new, refused)
        outcome = next(iter(noted - ANOMALIES), None)
        TALLY.add(f"dispatcher {kind}", outcome or "accepted")
    for gate in DISPATCH_GATES:  # every frame either processed or dropped by the bounded queue, and counted
        assert frames_done[gate] + workers[gate].dropped_frames == frames_in[gate]
    assert published == []


# --------------------------------------------------------------------------- 7. HTTP: the console and the service


HTTP_GATES = ["sim-1", "sim-2"]
HTTP_PASSWORD = "correct-horse-9"
USERS = {"ada": "admin", "gus": "guard", "doc": "doctor"}
DOOR_ROLES = {"guard", "admin"}


class HttpRig:
    """A real ControllerService (its store, gates and console) behind starlette's TestClient.

    The service is not started: there is no broker, and the MQTT client's publish is replaced by a
    recorder, so every command the console makes is seen. sim-1 has sent its EEPROM and a frame,
    so a door command for it can really be made."""

    def __init__(self, directory: Path):
        import warnings

        with warnings.catch_warnings():  # starlette 1.x suggests httpx2; httpx is what the tests install
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient

        from controller.app import install_console
        from controller.console.auth import token_hash
        from controller.service.http import build_app
        from controller.service.service import ControllerService
        from tests.controller_harness import write_config

        path = write_config(directory, SimpleNamespace(host="127.0.0.1", port=1883), HTTP_GATES)
        self.service = ControllerService(service_config.load_config(path), http=False)
        self.published: list[tuple] = []
        self.service.dispatcher.transport.client.publish = lambda topic, payload=None, qos=0, retain=False: \
            self.published.append((topic, payload))
        worker = self.service.workers["sim-1"]
        assert worker.on_eeprom(B.encode_eeprom(Sensor.get().eeprom, 9, key=worker.key))
        worker.on_frame(B.encode_frame(Sensor.get().frames[0], 9, 1, 0, key=worker.key))
        self.app = build_app(self.service, (install_console,))
        self.console = self.app.state.console
        self.client = TestClient(self.app, base_url="http://localhost", raise_server_exceptions=False)
        self.token_hash = token_hash
        self.tokens: dict[str, str] = {}
        self.ended = self.console.sessions.start("gus", "guard")
        self.console.sessions.end(self.ended)
        sid = self.service.store.record_screening(__import__("controller.store", fromlist=["Screening"]).Screening(
            uid="fuzz:1", gate="sim-1", time=1.7e9, decision="FEVER", reason="", track=1, estimate_c=38.4,
            face_c=35.5, distance_m=0.6, reduced_accuracy=False, boot=9, sequence=1, snapshot=None))
        self.alarm_id = self.service.store.open_alarm(sid, "sim-1", 1.7e9)
        self.screening_id = sid
        self.reset()

    def reset(self) -> None:
        """Before each example: the three users with their roles, and a live session for each."""
        store = self.service.store
        present = {u.name: u.role for u in store.users()}
        for name, role in USERS.items():
            if name not in present:
                store.add_user(name, role, HTTP_PASSWORD)
            elif present[name] != role:
                store.set_role(name, role)
        for gate_id, worker in self.service.workers.items():  # no door held over from the last example
            if worker.manual_lock is not None:
                self.service.set_lock(gate_id, False, "ada", "next example")
        for name, role in USERS.items():
            token = self.tokens.get(name)
            if token is None or not self.console.sessions.alive(self.token_hash(token)):
                self.tokens[name] = self.console.sessions.start(name, role)

    def door_commands(self) -> int:
        return sum(1 for topic, _ in self.published if topic.endswith("/cmd"))

    def close(self) -> None:
        self.client.close()
        self.service.stop()


@pytest.fixture(scope="module")
def http_rig(tmp_path_factory):
    rig = HttpRig(tmp_path_factory.mktemp("http-fuzz"))
    yield rig
    rig.close()


PATHS = ["/login", "/logout", "/", "/report", "/static/{static}", "/api/me", "/api/gates", "/api/alarms/active",
         "/api/alarms.csv", "/api/alarms", "/api/alarms/{id}", "/api/alarms/{id}/ack", "/api/alarms/{id}/dispose",
         "/api/doors", "/api/doors/{gate}/open", "/api/doors/{gate}/lock", "/api/screenings.csv", "/api/screenings",
         "/api/screenings/{id}", "/api/report", "/api/audit", "/api/settings", "/api/users", "/api/users/{name}/role",
         "/api/users/{name}/password", "/api/users/{name}/remove", "/healthz", "/metrics", "/ws", "/api/{any}",
         "/{any}"]
SAFE_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
PARAMS = {
    "id": st.sampled_from(["{alarm}", "{screening}", "0", "-1", "1", "99999999999999999999", "abc", "1.5", "1e3",
                           "%00", "%2e%2e", "٣"]),
    "gate": st.sampled_from(["sim-1", "sim-2", "nope", "SIM-1", "sim-1%2Fopen", "sim%2D1", "%00"]),
    "name": st.sampled_from(["gus", "ada", "doc", "nobody", "ad%2Fa", "%20ada", ""]),
    "static": st.sampled_from(["app.js", "common.js", "app.css", "index.html", "alarm.wav", "messages.json",
                               "report.js", "..%2Froutes.py", "%2e%2e%2fapi.py", "nope.js", "app.js%00", "."]),
}
QUERY = {"gate": st.sampled_from(["sim-1", "x", ""]), "since": st.sampled_from(
    ["0", "-1", "1e300", "nan", "inf", "2025-03-01", "2025-03-01T08:00", "0001-01-01", "9999-12-31T23:59+14:00",
     "0001-01-01T00:00-14:00", "2025-13-01", "1.7e9"]), "until": st.sampled_from(["1e11", "2025-03-01T08:00:00Z"]),
    "limit": st.sampled_from(["0", "1", "1000", "1001", "x", "1" * 30]), "offset": st.sampled_from(["-1", "0", "1e9"]),
    "status": st.sampled_from(["open", "acknowledged", "x"]), "decision": st.sampled_from(["PASS", "FEVER", "x"]),
    "date": st.sampled_from(["2025-03-01", "0001-01-01", "9999-12-31", "2025-02-30", "today"]),
    "lang": st.sampled_from(["en", "zh", "xx", ""]), "sessions": st.sampled_from(["1", "0"])}
BODY_FIELDS = {"reason": st.sampled_from(["", " ", "late bus", "x" * 501]), "ms": st.sampled_from(
    [99, 100, 3000, 30000, 30001, "3000", -1, 1e400, "nan"]), "locked": st.sampled_from([True, False, 1, "true"]),
    "outcome": st.sampled_from(["confirmed", "false_alarm", "x"]), "recheck_c": st.sampled_from([37.0, 50, "x"]),
    "note": st.just("n"), "threshold_c": st.sampled_from([33.9, 34.0, 37.45, 39.0, "38", True]),
    "retention_days": st.sampled_from([0, 1, 1.5, 3650, 3651]), "name": st.sampled_from(["zed", "", "gus"]),
    "role": st.sampled_from(["guard", "doctor", "admin", "root"]),
    "password": st.sampled_from(["short", "long-enough-1", "x" * 300])}


@st.composite
def http_requests(draw, rig: HttpRig) -> dict:
    template = draw(st.sampled_from(PATHS))
    path = template
    for key, strategy in PARAMS.items():
        path = path.replace("{" + key + "}", draw(strategy))
    path = path.replace("{any}", quote(draw(SAFE_TEXT), safe="/"))
    path = path.replace("{alarm}", str(rig.alarm_id)).replace("{screening}", str(rig.screening_id))
    if draw(st.integers(0, 9)) == 0:
        path += draw(st.sampled_from(["/", "//", "/x", "?", "%", "%zz", "/..", "#frag"]))
    method = draw(st.sampled_from(["GET"] * 4 + ["POST"] * 4
                                  + ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"]))
    query = draw(st.dictionaries(st.sampled_from(sorted(QUERY)) | SAFE_TEXT,
                                 st.deferred(lambda: st.one_of(*QUERY.values())) | SAFE_TEXT, max_size=3))
    who = draw(st.sampled_from(["anonymous", "gus", "ada", "ada", "doc", "garbage", "ended"]))
    csrf = draw(st.sampled_from(["right", "right", "right", "wrong", "missing", "another's"]))
    origin = draw(st.sampled_from([None, None, "same", "cross", "null", "cross referer"]))
    kind = draw(st.sampled_from(["json", "json", "none", "bytes", "any json", "form", "huge"]))
    if kind == "json":
        body = json.dumps(draw(st.dictionaries(st.sampled_from(sorted(BODY_FIELDS)) | SAFE_TEXT,
                                               st.one_of(*BODY_FIELDS.values()) | JSON_VALUES, max_size=4))).encode()
    elif kind == "any json":
        body = json.dumps(draw(JSON_VALUES)).encode()
    elif kind == "bytes":
        body = draw(st.binary(max_size=200))
    elif kind == "form":
        body = draw(st.sampled_from([f"username=gus&password={HTTP_PASSWORD}", "username=&password=",
                                     "username=ada&password=wrong", "a=" + "x" * 5000, "%%%&&&="])).encode()
    elif kind == "huge":
        body = b'{"reason": "' + b"x" * 20000 + b'"}'
    else:
        body = None
    headers = {}
    if draw(st.booleans()):
        headers["content-type"] = draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                                       "text/plain", "multipart/form-data; boundary=x"]))
    if draw(st.integers(0, 3)) == 0:
        headers["accept"] = "text/html"
    return {"method": method, "path": path, "query": query, "who": who, "csrf": csrf, "origin": origin,
            "body": body, "headers": headers}


def door_request(rig: HttpRig) -> st.SearchStrategy:
    """A door command exactly as the console page sends it, from each kind of visitor."""
    actions = st.sampled_from([("/api/doors/sim-1/open", b'{"reason": "late bus"}'),
                               ("/api/doors/sim-1/open", b'{"reason": "late bus", "ms": 2000}'),
                               ("/api/doors/sim-1/lock", b'{"reason": "drill", "locked": true}'),
                               ("/api/doors/sim-1/lock", b'{"reason": "drill over", "locked": false}')])
    return st.builds(lambda action, who, csrf, origin: {
        "method": "POST", "path": action[0], "body": action[1], "query": {}, "who": who, "csrf": csrf,
        "origin": origin, "headers": {"content-type": "application/json"}}, actions,
        st.sampled_from(["anonymous", "gus", "ada", "doc", "garbage", "ended"]),
        st.sampled_from(["right", "wrong", "missing", "another's"]), st.sampled_from([None, "same", "cross", "null"]))


def send(rig: HttpRig, r: dict):
    from controller.console.auth import COOKIE, csrf_for

    token = {"anonymous": None, "garbage": "not-a-session", "ended": rig.ended}.get(r["who"], rig.tokens.get(r["who"]))
    headers = dict(r["headers"])
    if token is not None:
        headers["cookie"] = f"{COOKIE}={token}"
        if r["csrf"] == "right":
            headers["x-csrf-token"] = csrf_for(token)
        elif r["csrf"] == "wrong":
            headers["x-csrf-token"] = "0" * 64
        elif r["csrf"] == "another's":
            headers["x-csrf-token"] = csrf_for(rig.tokens["ada" if r["who"] != "ada" else "gus"])
    if r["origin"] == "same":
        headers["origin"] = "http://localhost"
    elif r["origin"] == "cross":
        headers["origin"] = "http://evil.example"
    elif r["origin"] == "null":
        headers["origin"] = "null"
    elif r["origin"] == "cross referer":
        headers["referer"] = "http://evil.example/page"
    rig.client.cookies.clear()
    return rig.client.request(r["method"], r["path"], params=r["query"], content=r["body"], headers=headers,
                              follow_redirects=False)


def authorised_door_request(rig: HttpRig, r: dict) -> bool:
    """A valid session of a user whose role may work doors, its CSRF token, and no other origin."""
    roles = {u.name: u.role for u in rig.service.store.users()}
    return (r["method"] == "POST" and r["who"] in USERS and roles.get(r["who"]) in DOOR_ROLES
            and r["csrf"] == "right" and r["origin"] in (None, "same"))


def check_http(rig: HttpRig, r: dict, surface: str):
    commands = rig.door_commands()
    response = send(rig, r)
    status = response.status_code
    bare = r["path"].split("?")[0].split("#")[0]
    assert status < 500 or (status == 503 and bare == "/healthz"), (status, r, response.text[:300])
    made = rig.door_commands() - commands
    if made:
        assert authorised_door_request(rig, r) and re.fullmatch(r"/api/doors/[^/]+/(open|lock)", bare), r
    TALLY.add(surface, f"accepted {status}" if status < 300 else str(status))
    return response, made


@budget(80, 2500)
@given(data=st.data())
def test_http_never_errors_and_no_door_command_without_session_and_csrf(http_rig, data):
    http_rig.reset()
    for _ in range(data.draw(st.integers(1, 4), label="requests")):
        check_http(http_rig, data.draw(http_requests(http_rig), label="request"), "http (any request)")


@budget(60, 800)
@given(r=st.data())
def test_http_door_commands_need_exactly_a_session_with_door_rights_and_its_csrf_token(http_rig, r):
    http_rig.reset()
    request = r.draw(door_request(http_rig))
    response, made = check_http(http_rig, request, "http door commands")
    if authorised_door_request(http_rig, request):  # and the right ones do go through
        assert response.status_code == 200, response.text
        assert made == (0 if b'"locked": false' in request["body"] else 1)  # a release sends nothing
    else:
        assert made == 0 and response.status_code in (401, 403)


# --------------------------------------------------------------------------- for bench/fuzz.py


def fixture_names(fn) -> list[str]:
    import inspect

    return list(inspect.signature(fn).parameters)


class fuzz_resources:
    """What the module-scoped fixtures give, for running the properties outside pytest."""

    def __enter__(self) -> dict:
        from firmware_env import firmware_modules

        self._firmware = firmware_modules()
        self._dir = tempfile.TemporaryDirectory(prefix="thermogate-fuzz-")
        self._http = HttpRig(Path(self._dir.name))
        return {"firmware": self._firmware.__enter__(), "http_rig": self._http}

    def __exit__(self, *exc) -> None:
        self._http.close()
        self._firmware.__exit__(None, None, None)
        self._dir.cleanup()
