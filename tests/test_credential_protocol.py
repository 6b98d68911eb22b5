"""The `credential` message on the controller's side: what it accepts and each reason it refuses.

Payloads are sealed as a gate seals them (controller.protocol.credential.credential_payload); what the
firmware itself sends is decoded in tests/test_credential_firmware.py and test_firmware_micropython.py."""

from __future__ import annotations

import json

import pytest

from controller.protocol import ProtocolError
from controller.protocol.credential import (
    MAX_TEXT,
    Credential,
    ReplayGuard,
    credential_payload,
    decode,
)
from controller.protocol.jsonmsg import seal
from controller.protocol.mac import sensor_key

KEY = bytes(range(32))
KS = sensor_key(KEY)
GOOD = Credential("north-1", 0xDEADBEEF, 7, "qr", "S-2024-0131", 123456)


def _body(**fields) -> bytes:
    d = {"v": 2, "gate": "north-1", "boot": 0xDEADBEEF, "n": 7, "kind": "qr", "text": "S-2024-0131", "t_ms": 123456}
    d.update(fields)
    return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()


def _refused(payload: bytes, reason: str, gate: str = "north-1", replays: ReplayGuard | None = None) -> None:
    with pytest.raises(ProtocolError) as err:
        decode(payload, KS, gate, replays)
    assert err.value.reason == reason, err.value


def test_a_sealed_credential_is_read_back():
    assert decode(credential_payload(KS, GOOD), KS, "north-1") == GOOD
    card = Credential("north-1", 1, 1, "card", "04A1B2C3D4E5F6", 0)
    assert decode(credential_payload(KS, card), KS, "north-1") == card


def test_the_worked_bytes():
    """The exact payload for a fixed key, so a second implementation can check itself (docs/protocol.md)."""
    payload = credential_payload(KS, GOOD)
    assert payload.startswith(b'{"v":2,"gate":"north-1","boot":3735928559,"n":7,"kind":"qr","text":"S-2024-0131",'
                              b'"t_ms":123456,"mac":"')
    assert payload == seal(payload[:-42] + b"}", KS, b"credential")


def test_mac_wrong_key_or_altered_text():
    _refused(credential_payload(sensor_key(bytes(32)), GOOD), "mac")
    forged = credential_payload(KS, GOOD).replace(b"S-2024-0131", b"S-2024-0999")
    _refused(forged, "mac")
    # a status's tag does not make a credential: the label differs
    _refused(seal(_body(), KS, b"status"), "mac")


def test_mac_missing():
    _refused(_body(), "mac_missing")
    _refused(credential_payload(KS, GOOD)[:-3] + b'"}', "mac_missing")


def test_version():
    _refused(seal(_body(v=3), KS, b"credential"), "version")
    _refused(json.dumps({"v": 1, "gate": "north-1", "text": "x"}).encode(), "version")


@pytest.mark.parametrize("fields", [
    {"kind": "face"}, {"kind": ...}, {"text": 5}, {"text": ""}, {"text": "tab\there"}, {"text": "\u6821\u56ed"},
    {"kind": "card", "text": "04a1b2c3"}, {"kind": "card", "text": "04A1B2"}, {"n": 0}, {"n": -1}, {"n": 2**30},
    {"n": 1.5}, {"n": True}, {"boot": 2**32}, {"t_ms": 2**30}, {"t_ms": ...}, {"gate": 5},
])
def test_malformed(fields):
    _refused(seal(_body(**fields), KS, b"credential"), "malformed")


def test_malformed_json_under_a_good_tag():
    _refused(seal(b'{"v":2,"gate":"north-1",}', KS, b"credential"), "malformed")


def test_too_long():
    _refused(seal(_body(text="A" * (MAX_TEXT + 1)), KS, b"credential"), "too_long")
    assert decode(seal(_body(text="A" * MAX_TEXT), KS, b"credential"), KS, "north-1").text == "A" * MAX_TEXT
    _refused(b"{" + b" " * 1100 + b"}", "too_long")


def test_wrong_gate():
    """A credential of one gate republished on another's topic (same key, as a test; different keys fail
    as `mac` first)."""
    _refused(credential_payload(KS, GOOD), "wrong_gate", gate="south-2")


def test_replay_within_a_boot_and_from_a_left_boot():
    replays = ReplayGuard()
    first = credential_payload(KS, GOOD)
    decode(first, KS, "north-1", replays)
    _refused(first, "replay", replays=replays)  # the same message again
    older = Credential("north-1", GOOD.boot_id, 6, "qr", "S-1", 1)
    _refused(credential_payload(KS, older), "replay", replays=replays)  # a lower number of the same boot
    decode(credential_payload(KS, Credential("north-1", GOOD.boot_id, 8, "qr", "S-2", 2)), KS, "north-1", replays)
    # the gate restarts: a new boot counts from 1 again, and the old boot's messages are refused
    decode(credential_payload(KS, Credential("north-1", 42, 1, "qr", "S-3", 3)), KS, "north-1", replays)
    _refused(credential_payload(KS, Credential("north-1", GOOD.boot_id, 9, "qr", "S-4", 4)), "replay",
             replays=replays)
    # another gate's numbers are its own
    other = Credential("south-2", 42, 1, "qr", "S-3", 3)
    assert decode(credential_payload(KS, other), KS, "south-2", replays) == other


def test_refusals_are_checked_before_the_replay_memory_moves():
    replays = ReplayGuard()
    forged = credential_payload(sensor_key(bytes(32)), Credential("north-1", 5, 100, "qr", "X", 1))
    _refused(forged, "mac", replays=replays)
    # the forgery's number 100 was not recorded: the real number 1 still passes
    assert decode(credential_payload(KS, Credential("north-1", 5, 1, "qr", "X", 1)), KS, "north-1", replays)
