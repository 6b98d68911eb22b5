"""Authentication of the gate's sensor messages (protocol version 2, docs/protocol.md).

Each gate has one 32-byte key K (site/secrets.toml, or the simulator's own).
Commands are tagged under K itself; everything the gate sends (EEPROM, frames,
status, acks) is tagged under the sensor key

    K_s = HMAC-SHA256(K, b"thermogate sensor v2")

so that a tag of one direction can never pass as a tag of the other.
:func:`sensor_key` is the one place that derivation is written.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

SENSOR_KEY_INFO = b"thermogate sensor v2"
TAG_BYTES = 16  # the first 16 bytes of HMAC-SHA256


class _Unverified:
    """The ``key`` of a tool that holds no gate key (a recorder, a viewer): structure and CRC are
    checked, the tag is not, and version-1 messages are read too. Never used by the controller service."""

    def __repr__(self) -> str:
        return "UNVERIFIED"


UNVERIFIED = _Unverified()


def sensor_key(gate_key: bytes) -> bytes:
    """K_s, the key the gate's own messages are tagged under, from the gate's 32-byte key K."""
    if not isinstance(gate_key, (bytes, bytearray)) or not gate_key:
        raise ValueError("a gate key is a non-empty byte string")
    return hmac.digest(bytes(gate_key), SENSOR_KEY_INFO, hashlib.sha256)


@functools.lru_cache(maxsize=4096)
def _pads(key: bytes):
    """HMAC-SHA256's inner and outer hash states after the padded key (RFC 2104), computed once per key:
    a tag then costs two hash continuations, not four compressions more (about 40 % less per frame)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))


def tag(key: bytes, data) -> bytes:
    """The 16-byte tag of ``data`` under the sensor key ``key``: HMAC-SHA256, cut to 16 bytes."""
    inner, outer = _pads(bytes(key))
    inner = inner.copy()
    inner.update(data)
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.digest()[:TAG_BYTES]


def tag_matches(key: bytes, data, got: bytes) -> bool:
    """Whether ``got`` is the tag of ``data``, compared in constant time."""
    return hmac.compare_digest(tag(key, data), got)
