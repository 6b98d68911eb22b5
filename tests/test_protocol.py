"""The wire contract: bytes made by the firmware's own encoder, read by the
controller's decoder; commands signed by the controller, checked by the
firmware's guard; every malformed message refused with a reason."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.protocol import (
    ProtocolError, decode_ack, decode_eeprom, decode_frame, decode_status, encode_eeprom, encode_frame,
    parse_topic, sign_command, topic, valid_gate_id,
)
from controller.protocol.binary import EEPROM_BYTES, FRAME_BYTES
from controller.sensor import Calibration, control_word, random_eeprom
from firmware_env import firmware_modules

KEY = bytes(range(100, 132))


@pytest.fixture(scope="module")
def fw():
    with firmware_modules() as modules:
        yield modules


def _firmware_frame(fw, words, boot=0xDEADBEEF, seq=7, ms=123456, flags=0):
    msg = fw.wire.frame_message(boot)
    msg.words[:] = np.asarray(words, dtype=">u2").tobytes()
    return bytes(msg.seal(seq, ms, flags))


def test_firmware_frame_bytes_decode_on_the_controller(fw):
    cal = Calibration.from_eeprom(random_eeprom(2))
    words = cal.raw_from_to(np.full((24, 32), 33.0), 22.0, 3.3, 1, control_word(chess=False))
    payload = _firmware_frame(fw, words, flags=3)
    assert len(payload) == FRAME_BYTES == 1692
    frame = decode_frame(payload)
    assert (frame.boot_id, frame.sequence, frame.board_ms, frame.flags) == (0xDEADBEEF, 7, 123456, 3)
    assert frame.subpage == 1 and frame.control == control_word(chess=False)
    np.testing.assert_array_equal(frame.words, words)
    assert payload == encode_frame(words, 0xDEADBEEF, 7, 123456, 3)  # both encoders agree byte for byte


def test_firmware_eeprom_bytes_decode_on_the_controller(fw):
    ee = random_eeprom(9)
    msg = fw.wire.eeprom_message(42)
    msg.words[:] = ee.astype(">u2").tobytes()
    payload = bytes(msg.seal(0, 0))
    assert len(payload) == EEPROM_BYTES == 1688
    decoded = decode_eeprom(payload)
    assert decoded.boot_id == 42
    np.testing.assert_array_equal(decoded.words, ee)
    assert payload == encode_eeprom(ee, 42)


def test_firmware_crc_fallback_matches_zlib(fw):
    data = bytes(range(256)) * 7
    assert fw.wire._crc32_soft(data) == zlib.crc32(data) == fw.wire.checksum(data)


def _reseal(payload: bytes) -> bytes:
    body = payload[:-4]
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize("mutate, reason", [
    (lambda p: p[:-1], "length"),
    (lambda p: p + b"\0", "length"),
    (lambda p: b"", "length"),
    (lambda p: p[:100] + bytes([p[100] ^ 1]) + p[101:], "crc"),
    (lambda p: p[:-4] + b"\0\0\0\0", "crc"),
    (lambda p: _reseal(b"XG" + p[2:]), "magic"),
    (lambda p: _reseal(p[:2] + b"\x02" + p[3:]), "kind"),
    (lambda p: _reseal(p[:3] + b"\x02" + p[4:]), "version"),
    (lambda p: _reseal(p[:16] + b"\x03\x40" + p[18:]), "length"),
    (lambda p: _reseal(p[:8] + b"\0\0\0\0" + p[12:]), "sequence"),
    (lambda p: _reseal(p[:-6] + b"\0\x02" + p[-4:]), "subpage"),
    (lambda p: "text", "type"),
])
def test_malformed_frames_are_refused_with_a_reason(mutate, reason):
    good = encode_frame(random_eeprom(1)[:834].tolist() + [0, 0], 1, 5)
    with pytest.raises(ProtocolError) as info:
        decode_frame(mutate(good))
    assert info.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_decode_as_a_frame_or_eeprom(data):
    for decode in (decode_frame, decode_eeprom):
        with pytest.raises(ProtocolError):
            decode(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, FRAME_BYTES - 1), st.integers(1, 255))
def test_any_single_corrupted_byte_is_caught(position, xor):
    good = bytearray(encode_frame(np.arange(834) % 2, 9, 3))
    good[position] ^= xor
    with pytest.raises(ProtocolError):
        decode_frame(bytes(good))


def _guard(fw, clock, max_age_ms=2000):
    return fw.auth.CommandGuard("gate-7", KEY, 555, max_age_ms, clock)


def test_controller_signed_commands_pass_the_firmware_guard(fw):
    clock = fw.fakeclock.FakeClock(5000)
    guard = _guard(fw, clock)
    guard.frames.sent(10, clock.ticks_ms())
    cmd = sign_command(KEY, "gate-7", 555, 1, "open", 2500, 10)
    assert guard.check(json.loads(cmd.payload())) == (None, 1)
    # Replayed: the same counter, or an older one.
    assert guard.check(json.loads(cmd.payload()))[0] == "replayed"
    # A newer counter on a frame now 2.1 s old is stale.
    clock.advance(2100)
    assert guard.check(json.loads(sign_command(KEY, "gate-7", 555, 2, "open", 1, 10).payload()))[0] == "stale"
    # A frame the gate never sent, or one it no longer remembers, is stale too.
    def check(counter, seq):
        return guard.check(json.loads(sign_command(KEY, "gate-7", 555, counter, "open", 1, seq).payload()))[0]

    guard.frames.sent(11, clock.ticks_ms())
    assert check(20, 12) == "stale"  # not sent yet
    assert check(21, 0) == "stale"  # sequence numbers start at 1
    for later in range(12, 80):  # 64 newer frames push frame 11 out of the gate's memory
        guard.frames.sent(later, clock.ticks_ms())
    assert check(22, 11) == "stale"
    assert check(23, 79) is None
    assert guard.accepted == 2 and guard.refused["replayed"] == 1 and guard.refused["stale"] == 4


def test_tag_covers_every_field(fw):
    clock = fw.fakeclock.FakeClock(0)
    guard = _guard(fw, clock)
    guard.frames.sent(1, 0)
    good = json.loads(sign_command(KEY, "gate-7", 555, 9, "open", 1000, 1).payload())
    for key, value in [("gate", "gate-8"), ("boot", 556), ("ctr", 10), ("act", "lock"), ("arg", 5000), ("seq", 2)]:
        forged = dict(good, **{key: value})
        reason = guard.check(forged)[0]
        assert reason == ("wrong_gate" if key == "gate" else "bad_tag"), key
    assert guard.check(good)[0] is None


def test_firmware_hmac_is_rfc_2104(fw):
    import hashlib
    import hmac

    for key in (b"", b"k", KEY, bytes(64), bytes(range(80))):
        message = b"tg1|gate|1|2|open|3|4"
        assert fw.auth.Hmac(key).digest(message) == hmac.new(key, message, hashlib.sha256).digest()


def test_command_encoder_refuses_what_the_gate_would_refuse():
    for args in [("Gate 1", 1, 1, "open", 1, 1), ("g", 1, 0, "open", 1, 1), ("g", 1, 1, "unlock", 1, 1),
                 ("g", 1, 1, "indicate", 4, 1), ("g", 2**32, 1, "open", 1, 1)]:
        with pytest.raises(ValueError):
            sign_command(KEY, *args)


def test_ack_and_status_from_the_firmware_decode(fw):
    ack = json.dumps({"v": 1, "gate": "g", "ctr": 3, "ok": False, "reason": "stale", "act": "open",
                      "applied_ms": 0, "seq": 9}).encode()
    assert decode_ack(ack).reason == "stale"
    for bad in [b"[]", b"{", json.dumps({"v": 2}).encode(), b"{" + b" " * 2000 + b"}",
                json.dumps({"v": 1, "gate": "g", "ctr": 3, "ok": True, "reason": "stale", "act": "open",
                            "applied_ms": 0, "seq": 9}).encode()]:
        with pytest.raises(ProtocolError):
            decode_ack(bad)
    assert decode_status(json.dumps({"v": 1, "gate": "g", "online": False, "boot": 5}).encode()).online is False
    with pytest.raises(ProtocolError):
        decode_status(json.dumps({"v": 1, "gate": "g", "online": True, "boot": 5}).encode())


def test_topics():
    assert topic("north-1", "frame") == "thermogate/north-1/frame"
    assert parse_topic("thermogate/north-1/cmd") == ("north-1", "cmd")
    for bad in ("thermogate/North/frame", "thermogate/a/b/frame", "other/north-1/frame", "thermogate/x/nope"):
        with pytest.raises(ProtocolError):
            parse_topic(bad)
    assert valid_gate_id("a") and valid_gate_id("gate-12") and not valid_gate_id("-a") and not valid_gate_id("a-")
    assert not valid_gate_id("x" * 33) and valid_gate_id("x" * 32)
    assert not valid_gate_id("a\n") and not valid_gate_id("") and not valid_gate_id(None)


def test_gate_and_controller_agree_on_actions_and_refusals(fw):
    """The firmware cannot import the controller, so both spell these out; they must match."""
    from controller.protocol.commands import ACTIONS, REFUSALS

    assert fw.auth.ACTIONS == ACTIONS
    assert tuple(fw.auth.REASONS) == REFUSALS
