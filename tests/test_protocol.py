"""The wire contract (protocol version 2): bytes made by the firmware's own
encoder, read by the controller's decoder; commands signed by the controller,
checked by the firmware's guard; every malformed, forged or unauthenticated
message refused with a reason."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.protocol import (
    UNVERIFIED,
    ProtocolError,
    ack_payload,
    decode_ack,
    decode_eeprom,
    decode_frame,
    decode_status,
    encode_eeprom,
    encode_frame,
    mac,
    parse_topic,
    sensor_key,
    sign_command,
    status_payload,
    topic,
    valid_gate_id,
)
from controller.protocol.binary import EEPROM_BYTES, EEPROM_BYTES_V1, FRAME_BYTES, FRAME_BYTES_V1
from controller.protocol.jsonmsg import seal
from controller.sensor import Calibration, control_word, random_eeprom
from firmware_env import firmware_modules

KEY = bytes(range(100, 132))
KS = sensor_key(KEY)
OTHER = sensor_key(bytes(range(1, 33)))


@pytest.fixture(scope="module")
def fw():
    with firmware_modules() as modules:
        yield modules


def _firmware_frame(fw, words, boot=0xDEADBEEF, seq=7, ms=123456, flags=0, key=KEY):
    msg = fw.wire.frame_message(boot, fw.auth.SensorMac(key))
    msg.words[:] = np.asarray(words, dtype=">u2").tobytes()
    return bytes(msg.seal(seq, ms, flags))


def test_sensor_key_is_hmac_of_the_gate_key_and_differs_from_it(fw):
    import hashlib
    import hmac

    assert KS == hmac.new(KEY, b"thermogate sensor v2", hashlib.sha256).digest() != KEY
    assert len(KS) == 32 and sensor_key(bytes(32)) != sensor_key(bytes(31) + b"\1")
    with pytest.raises(ValueError):
        sensor_key(b"")


def test_firmware_frame_bytes_decode_on_the_controller(fw):
    cal = Calibration.from_eeprom(random_eeprom(2))
    words = cal.raw_from_to(np.full((24, 32), 33.0), 22.0, 3.3, 1, control_word(chess=False))
    payload = _firmware_frame(fw, words, flags=3)
    assert len(payload) == FRAME_BYTES == 1708 and FRAME_BYTES_V1 == 1692
    frame = decode_frame(payload, KS)
    assert (frame.boot_id, frame.sequence, frame.board_ms, frame.flags, frame.version) == (0xDEADBEEF, 7, 123456, 3, 2)
    assert frame.subpage == 1 and frame.control == control_word(chess=False)
    np.testing.assert_array_equal(frame.words, words)
    assert payload == encode_frame(words, 0xDEADBEEF, 7, 123456, 3, key=KS)  # both encoders agree byte for byte
    with pytest.raises(ProtocolError) as info:  # another gate's key
        decode_frame(payload, OTHER)
    assert info.value.reason == "mac"


def test_firmware_eeprom_bytes_decode_on_the_controller(fw):
    ee = random_eeprom(9)
    msg = fw.wire.eeprom_message(42, fw.auth.SensorMac(KEY))
    msg.words[:] = ee.astype(">u2").tobytes()
    payload = bytes(msg.seal(0, 0))
    assert len(payload) == EEPROM_BYTES == 1704 and EEPROM_BYTES_V1 == 1688
    decoded = decode_eeprom(payload, KS)
    assert decoded.boot_id == 42 and decoded.version == 2
    np.testing.assert_array_equal(decoded.words, ee)
    assert payload == encode_eeprom(ee, 42, key=KS)


def test_firmware_json_seal_matches_the_controller(fw):
    sm = fw.auth.SensorMac(KEY)
    for label in (b"status", b"ack"):
        body = b'{"v": 2, "gate": "g", "online": false, "boot": 5}'
        assert bytes(sm.seal_json(label, body)) == seal(body, KS, label)
    will = bytes(sm.seal_json(b"status", b'{"v": 2, "gate": "g", "online": false, "boot": 5}'))
    assert decode_status(will, KS).online is False


def _forged_eeprom_right_crc(ee, boot=42):
    """What an attacker on the broker can make without the key: a valid CRC, and no tag or a made-up one."""
    v2_without_tag = encode_eeprom(ee, boot, key=KS)[:-16]
    return {"no_tag": v2_without_tag, "zero_tag": v2_without_tag + bytes(16),
            "other_key": encode_eeprom(ee, boot, key=OTHER), "version_1": encode_eeprom(ee, boot, key=None),
            "gate_key_not_sensor_key": encode_eeprom(ee, boot, key=KEY)}


def test_a_forged_eeprom_with_a_right_crc_is_refused():
    ee = random_eeprom(5)
    reasons = {}
    for name, payload in _forged_eeprom_right_crc(ee).items():
        with pytest.raises(ProtocolError) as info:
            decode_eeprom(payload, KS)
        reasons[name] = info.value.reason
    assert reasons == {"no_tag": "length", "zero_tag": "mac", "other_key": "mac", "version_1": "version",
                       "gate_key_not_sensor_key": "mac"}


def test_version_1_is_read_only_when_allowed():
    ee = random_eeprom(5)
    v1 = encode_eeprom(ee, 3, key=None)
    assert len(v1) == EEPROM_BYTES_V1
    assert decode_eeprom(v1, KS, accept_v1=True).version == 1
    assert decode_eeprom(v1, UNVERIFIED).version == 1
    frame = encode_frame(np.zeros(834), 3, 1, key=None)
    assert decode_frame(frame, KS, accept_v1=True).version == 1
    with pytest.raises(ProtocolError, match="accept_protocol_v1") as info:
        decode_frame(frame, KS)
    assert info.value.reason == "version"
    # A version-2 message is still checked in full when version 1 is allowed.
    with pytest.raises(ProtocolError) as info:
        decode_frame(encode_frame(np.zeros(834), 3, 1, key=OTHER), KS, accept_v1=True)
    assert info.value.reason == "mac"
    # Version 1 cannot be dressed up: a v1 header on a v2-sized message, and the reverse, are refused.
    v2 = encode_frame(np.zeros(834), 3, 1, key=KS)
    for payload in (_reseal(v2[:3] + b"\x01" + v2[4:]), _reseal(frame[:3] + b"\x02" + frame[4:], tagged=False)):
        with pytest.raises(ProtocolError) as info:
            decode_frame(payload, KS, accept_v1=True)
        assert info.value.reason == "length"


def test_firmware_crc_fallback_matches_zlib(fw):
    data = bytes(range(256)) * 7
    assert fw.wire._crc32_soft(data) == zlib.crc32(data) == fw.wire.checksum(data)


def _reseal(payload: bytes, tagged: bool = True) -> bytes:
    """A changed message with its CRC (and, for a version-2 one, its tag) made right again under KS: so
    that the check after them is the one tested."""
    n = len(payload) - (16 if tagged else 0)
    body = payload[:n - 4]
    body += struct.pack(">I", zlib.crc32(body))
    return body + mac.tag(KS, body) if tagged else body


@pytest.mark.parametrize("mutate, reason", [
    (lambda p: p[:-1], "length"),
    (lambda p: p + b"\0", "length"),
    (lambda p: b"", "length"),
    (lambda p: p[:-16], "length"),  # the tag cut off
    (lambda p: p[:100] + bytes([p[100] ^ 1]) + p[101:], "crc"),
    (lambda p: p[:-20] + b"\0\0\0\0" + p[-16:], "crc"),
    (lambda p: p[:-1] + bytes([p[-1] ^ 1]), "mac"),
    (lambda p: p[:-16] + bytes(16), "mac"),
    (lambda p: _reseal(p[:100] + bytes([p[100] ^ 1]) + p[101:-16], tagged=False) + p[-16:], "mac"),  # CRC fixed
    (lambda p: _reseal(b"XG" + p[2:]), "magic"),
    (lambda p: _reseal(p[:2] + b"\x02" + p[3:]), "kind"),
    (lambda p: _reseal(p[:3] + b"\x03" + p[4:]), "version"),
    (lambda p: _reseal(p[:3] + b"\x01" + p[4:]), "version"),
    (lambda p: _reseal(p[:3] + b"\x01" + p[4:-16], tagged=False), "version"),
    (lambda p: _reseal(p[:16] + b"\x03\x40" + p[18:]), "length"),
    (lambda p: _reseal(p[:8] + b"\0\0\0\0" + p[12:]), "sequence"),
    (lambda p: _reseal(p[:-22] + b"\0\x02" + p[-20:]), "subpage"),
    (lambda p: "text", "type"),
])
def test_malformed_frames_are_refused_with_a_reason(mutate, reason):
    good = encode_frame(random_eeprom(1)[:834].tolist() + [0, 0], 1, 5, key=KS)
    assert decode_frame(good, KS).sequence == 5
    with pytest.raises(ProtocolError) as info:
        decode_frame(mutate(good), KS)
    assert info.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_decode_as_a_frame_or_eeprom(data):
    for decode in (decode_frame, decode_eeprom):
        with pytest.raises(ProtocolError):
            decode(data, KS)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, FRAME_BYTES - 1), st.integers(1, 255))
def test_any_single_corrupted_byte_is_caught(position, xor):
    good = bytearray(encode_frame(np.arange(834) % 2, 9, 3, key=KS))
    good[position] ^= xor
    with pytest.raises(ProtocolError):
        decode_frame(bytes(good), KS)


def test_an_older_frame_sealed_by_the_gate_cannot_be_moved_to_another_boot_or_sequence():
    """Boot id and sequence are inside the tag: a captured frame re-labelled is refused (mac)."""
    good = encode_frame(np.arange(834) % 2, 9, 3, key=KS)
    for offset, value in ((4, 10), (8, 4)):  # boot id, sequence
        changed = bytearray(good)
        struct.pack_into(">I", changed, offset, value)
        body = bytes(changed[:-20])
        forged = body + struct.pack(">I", zlib.crc32(body)) + good[-16:]  # CRC right, the old tag
        with pytest.raises(ProtocolError) as info:
            decode_frame(forged, KS)
        assert info.value.reason == "mac"


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
                 ("g", 1, 1, "indicate", 5, 1), ("g", 2**32, 1, "open", 1, 1)]:
        with pytest.raises(ValueError):
            sign_command(KEY, *args)


def _sealed(obj: dict, label: bytes, key=KS) -> bytes:
    return seal(json.dumps(obj).encode(), key, label)


def test_ack_and_status_decode_and_every_forgery_is_refused():
    good = {"v": 2, "gate": "g", "ctr": 3, "ok": False, "reason": "stale", "act": "open", "applied_ms": 0,
            "seq": 9, "last": 3}
    ack = decode_ack(_sealed(good, b"ack"), KS)
    assert (ack.reason, ack.last, ack.version) == ("stale", 3, 2)
    assert decode_ack(ack_payload(KS, "g", 4, True, "", "open", 3000, 9, 4), KS).last == 4
    sealed = _sealed(good, b"ack")
    forgeries = {
        "not json": (b"[]", "mac_missing"),
        "v1 ack": (json.dumps(dict(good, v=1)).encode(), "version"),
        "no tag": (json.dumps(good).encode(), "mac_missing"),
        "other key": (_sealed(good, b"ack", OTHER), "mac"),
        "status label": (_sealed(good, b"status"), "mac"),
        "changed body": (sealed.replace(b'"stale"', b'"bad_tag"'), "mac"),
        "upper-case hex": (sealed[:-34] + sealed[-34:-2].upper() + b'"}', "mac_missing"),
        "tag one short": (sealed[:-3] + b'"}', "mac_missing"),
        "space before brace": (sealed[:-1] + b" }", "mac_missing"),
        "too large": (_sealed(dict(good, pad="x" * 2000), b"ack"), "too_large"),
        "v3 body": (_sealed(dict(good, v=3), b"ack"), "version"),
        "ok with a reason": (_sealed(dict(good, ok=True), b"ack"), "schema"),
        "no last": (_sealed({k: v for k, v in good.items() if k != "last"}, b"ack"), "schema"),
        "last negative": (_sealed(dict(good, last=-1), b"ack"), "schema"),
        "ctr past 2**53": (_sealed(dict(good, ctr=2**80), b"ack"), "schema"),
        "a list": (seal(b'{"v":2}', KS, b"ack")[:0] + b"[" + seal(b'{"v":2}', KS, b"ack")[1:-1] + b"]", "mac_missing"),
    }
    for name, (payload, reason) in forgeries.items():
        with pytest.raises(ProtocolError) as info:
            decode_ack(payload, KS)
        assert info.value.reason == reason, name
    will = {"v": 2, "gate": "g", "online": False, "boot": 5}
    assert decode_status(_sealed(will, b"status"), KS).online is False
    for payload, reason in [(_sealed(will, b"ack"), "mac"), (json.dumps(will).encode(), "mac_missing"),
                            (json.dumps(dict(will, v=1)).encode(), "version"),
                            (_sealed(dict(will, online=True), b"status"), "schema")]:
        with pytest.raises(ProtocolError) as info:
            decode_status(payload, KS)
        assert info.value.reason == reason


def test_the_status_says_which_indications_the_gate_shows():
    online = {"v": 2, "gate": "g", "online": True, "fw": "0.3.0", "boot": 5, "uptime_s": 1, "rssi": -60,
              "heap_free": 90000, "frames": 8, "frames_unsent": 0, "fps": 8.0, "refresh_hz": 8.0, "sensor_ok": True,
              "i2c_errors": 0, "sensor_resets": 0, "relay": "locked", "door_openings": 0, "cmd_ok": 0,
              "cmd_refused": {}, "mqtt_connects": 1}
    assert decode_status(_sealed(dict(online, ind=4), b"status"), KS).indications == 4
    # Firmware before 0.3.0 does not say: it shows 0-3 (off, pass, alarm, retry), not the measuring light.
    assert decode_status(_sealed(dict(online, fw="0.2.0"), b"status"), KS).indications == 3
    for bad in ("4", 4.0, True, -1, 256, None):
        with pytest.raises(ProtocolError) as info:
            decode_status(_sealed(dict(online, ind=bad), b"status"), KS)
        assert info.value.reason == "schema", bad


def test_version_1_json_is_read_only_when_allowed():
    v1_ack = json.dumps({"v": 1, "gate": "g", "ctr": 3, "ok": False, "reason": "stale", "act": "open",
                         "applied_ms": 0, "seq": 9}).encode()
    ack = decode_ack(v1_ack, KS, accept_v1=True)
    assert ack.version == 1 and ack.last is None
    status = decode_status(json.dumps({"v": 1, "gate": "g", "online": False, "boot": 5}).encode(), KS, accept_v1=True)
    assert status.version == 1
    with pytest.raises(ProtocolError) as info:  # a v2 body without its tag is not version 1
        decode_status(json.dumps({"v": 2, "gate": "g", "online": False, "boot": 5}).encode(), KS, accept_v1=True)
    assert info.value.reason == "mac_missing"


def test_a_json_reader_of_the_whole_payload_sees_mac_as_one_more_field():
    payload = status_payload(KS, {"gate": "g", "online": False, "boot": 5})
    assert set(json.loads(payload)) == {"v", "gate", "online", "boot", "mac"}
    assert len(json.loads(payload)["mac"]) == 32


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
    from controller.protocol.commands import ACTIONS, MAX_COUNTER_STEP, MAX_FIRST_COUNTER, REFUSALS

    assert fw.auth.ACTIONS == ACTIONS
    assert tuple(fw.auth.REASONS) == REFUSALS and "counter_jump" in REFUSALS
    assert fw.auth.MAX_JUMP == MAX_COUNTER_STEP == 2**24
    assert fw.auth.FIRST_MAX == MAX_FIRST_COUNTER == 2**53 - 1 - 2**40
    assert fw.auth.SENSOR_KEY_LABEL == mac.SENSOR_KEY_INFO


def test_commands_are_version_2_and_version_1_only_when_asked(fw):
    cmd = json.loads(sign_command(KEY, "gate-7", 555, 1, "open", 2500, 10).payload())
    assert cmd["v"] == 2
    v1 = json.loads(sign_command(KEY, "gate-7", 555, 1, "open", 2500, 10, version=1).payload())
    assert v1["v"] == 1 and v1["tag"] == cmd["tag"]  # the tagged string is tg1|... in both
    with pytest.raises(ValueError):
        sign_command(KEY, "gate-7", 555, 1, "open", 2500, 10, version=3)
    clock = fw.fakeclock.FakeClock(0)
    guard = _guard(fw, clock)
    guard.frames.sent(10, 0)
    assert guard.check(v1)[0] == "bad_version"  # a version-2 gate takes version 2 only
    assert guard.check(cmd) == (None, 1)


def test_a_huge_counter_cannot_lock_the_gate_out(fw):
    """A leaked key's command with ctr 2**53-1 is refused (counter_jump) and does not spend the counter."""
    from controller.protocol.commands import MAX_COUNTER, MAX_FIRST_COUNTER

    clock = fw.fakeclock.FakeClock(0)
    guard = _guard(fw, clock)
    guard.frames.sent(10, 0)

    def check(ctr):
        return guard.check(json.loads(sign_command(KEY, "gate-7", 555, ctr, "indicate", 1, 10).payload()))[0]

    assert check(MAX_COUNTER) == "counter_jump"
    assert check(MAX_FIRST_COUNTER + 1) == "counter_jump"
    assert check(1000) is None
    assert check(1000 + 2**24 + 1) == "counter_jump"
    assert check(1001) is None  # nothing above was spent


def test_the_worked_example_of_docs_protocol_md(fw):
    """The key and tag printed in docs/protocol.md ("Keys and tags"), from both implementations."""
    k = bytes(range(32))
    ks = "11171f00b5496ed6adcc95367941ae7094d8a23f09b40fa3322b25631e7363f9"
    will = b'{"v":2,"gate":"g","online":false,"boot":5}'
    sent = b'{"v":2,"gate":"g","online":false,"boot":5,"mac":"246d633e8a8a56f1ae66866de00b9ace"}'
    assert sensor_key(k).hex() == ks
    assert seal(will, sensor_key(k), b"status") == sent == bytes(fw.auth.SensorMac(k).seal_json(b"status", will))
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    assert ks in doc and sent.decode() in doc


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=100), st.binary(max_size=3000))
def test_tag_is_hmac_sha256_cut_to_16_bytes(key, data):
    """mac.tag keeps HMAC's padded-key states per key; it must equal the standard library's HMAC."""
    import hmac

    assert mac.tag(key, data) == hmac.digest(key, data, "sha256")[:16]
    assert mac.tag_matches(key, data, mac.tag(key, data))
    assert not mac.tag_matches(key, data + b"x", mac.tag(key, data))


def test_a_result_is_one_json_object_written_once_with_what_the_controller_adds():
    from controller.protocol.result import FEVER, Decision

    d = Decision(gate="g1", time_s=12.34567, decision=FEVER, reason="", track=3, estimate_c=38.12345,
                 face_c=35.0004, distance_m=0.4567, frames=5, sequence=99)
    own = json.loads(d.to_json())
    assert own["v"] == 1 and own["estimate_c"] == 38.123 and own["time_s"] == 12.346 and own["distance_m"] == 0.457
    text = d.to_json(time="2026-01-01T00:00:00.000+00:00", screening_id=17, uid="g1:1:99:3:FEVER", door="")
    body = json.loads(text)
    assert body == {**own, "time": "2026-01-01T00:00:00.000+00:00", "screening_id": 17, "uid": "g1:1:99:3:FEVER",
                    "door": ""}
    assert text == json.dumps(body, separators=(",", ":"), sort_keys=True)  # compact, keys sorted, as before
    with pytest.raises(ValueError, match="decision"):
        d.to_json(decision="PASS")  # the controller's fields never overwrite what the screening decided
