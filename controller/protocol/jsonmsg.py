"""Shared checks for the JSON messages: size, the tag suffix, syntax, version, field types.

Version 2 (docs/protocol.md): the gate builds its JSON object text B and sends
``B[:-1] + ',"mac":"<32 hex>"}'``, the tag being HMAC-SHA256 under its sensor
key over ``label + "\\n" + B`` (label ``status``, ``ack`` or ``credential``), cut to 16 bytes.
The receiver checks the fixed-size suffix and the tag before it parses a byte
of JSON.
"""

from __future__ import annotations

import json
import re

from . import mac
from .errors import ProtocolError

MAX_JSON_BYTES = 1024
VERSION = 2
VERSION_1 = 1
MAC_PREFIX = b',"mac":"'
MAC_SUFFIX_BYTES = len(MAC_PREFIX) + 2 * mac.TAG_BYTES + 2  # 42
_SUFFIX = re.compile(rb',"mac":"([0-9a-f]{32})"\}')
LABELS = (b"status", b"ack", b"credential")


def seal(body: bytes, key: bytes, label: bytes) -> bytes:
    """The version-2 payload of the JSON object text ``body`` (which has "v": 2), tagged under the
    sensor key ``key`` for the topic ``label`` (b"status", b"ack" or b"credential")."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}")
    if not (body.startswith(b"{") and body.endswith(b"}")) or body == b"{}":
        raise ValueError("a sealed body is a non-empty JSON object text")
    return body[:-1] + MAC_PREFIX + mac.tag(key, label + b"\n" + body).hex().encode() + b'"}'


def _parse(text: bytes, what: str):
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ProtocolError("json", f"{what} is not JSON ({exc})") from None


def json_object(payload: bytes, what: str, key, label: bytes, accept_v1: bool = False) -> tuple[dict, int]:
    """The checked JSON object of a status or ack payload, and its version.

    ``key`` is the gate's sensor key K_s (or mac.UNVERIFIED: the tag is not checked, version 1 is read);
    ``accept_v1``: a version-1 object (no tag) is read too, during an upgrade."""
    if len(payload) > MAX_JSON_BYTES:
        raise ProtocolError("too_large", f"{what} of {len(payload)} bytes, limit {MAX_JSON_BYTES}")
    unverified = key is mac.UNVERIFIED
    if isinstance(payload, (bytearray, memoryview)):
        payload = bytes(payload)
    m = _SUFFIX.fullmatch(payload[-MAC_SUFFIX_BYTES:]) if isinstance(payload, bytes) else None
    if m is None:
        # No tag: a version-1 object (read only when allowed), or a forgery or a damaged message.
        data = None
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError, TypeError):
            pass
        v1 = data if isinstance(data, dict) and data.get("v") == VERSION_1 else None
        if v1 is not None and (accept_v1 or unverified):
            return v1, VERSION_1
        if v1 is not None:
            raise ProtocolError("version", f"{what} of protocol version 1 (unauthenticated) refused; this "
                                           "controller speaks version 2 ([site] accept_protocol_v1 reads version 1 "
                                           "during an upgrade)")
        raise ProtocolError("mac_missing", f"{what} does not end in a tag (,\"mac\":\"<32 hex digits>\"}})")
    body = payload[:-MAC_SUFFIX_BYTES] + b"}"
    if not unverified and not mac.tag_matches(key, label + b"\n" + body, bytes.fromhex(m.group(1).decode())):
        raise ProtocolError("mac", f"the {what}'s tag does not match this gate's key")
    data = _parse(body, what)
    if not isinstance(data, dict):
        raise ProtocolError("schema", f"{what} must be a JSON object")
    if data.get("v") != VERSION:
        raise ProtocolError("version", f"{what} version {data.get('v')!r}, this controller speaks {VERSION}")
    return data, VERSION


def field(data: dict, key: str, kinds, what: str):
    value = data.get(key)
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise ProtocolError("schema", f"{what}.{key} is {value!r}")
    return value
