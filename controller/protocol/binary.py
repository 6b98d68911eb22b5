"""Binary messages from the gate: subpage frames and the EEPROM dump.

Layout (all big-endian, see docs/protocol.md): a 20-byte header, the
sensor's 16-bit words exactly as read over I2C, a CRC-32 of everything
before it and, from version 2 on, a 16-byte tag under the gate's sensor key
(:mod:`.mac`) over header, words and CRC.

Decoders take the gate's sensor key K_s and check, in this order: type,
length, magic, kind, version, word count, CRC, tag, then the frame's
sequence and subpage word. Version 1 (no tag) is read only when the caller
says so (``accept_v1``: the upgrade window of docs/protocol.md) or when the
key is :data:`~.mac.UNVERIFIED` (tools that hold no key).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ..sensor.eeprom import EEPROM_WORDS
from ..sensor.frame import F_CONTROL, F_SUBPAGE, FRAME_WORDS
from . import mac
from .errors import ProtocolError

MAGIC = b"TG"
VERSION = 2  # what this controller speaks; 1 is read only during an upgrade
VERSION_1 = 1
KIND_FRAME = 1
KIND_EEPROM = 2
HEADER = struct.Struct(">2sBBIIIHH")  # magic, kind, version, boot, sequence, board ms, words, flags
CRC = struct.Struct(">I")
TAG_BYTES = mac.TAG_BYTES
_WIRE_WORD = np.dtype(">u2")
FRAME_BYTES_V1 = HEADER.size + 2 * FRAME_WORDS + 4  # 1692
EEPROM_BYTES_V1 = HEADER.size + 2 * EEPROM_WORDS + 4  # 1688
FRAME_BYTES = FRAME_BYTES_V1 + TAG_BYTES  # 1708
EEPROM_BYTES = EEPROM_BYTES_V1 + TAG_BYTES  # 1704
FLAG_SENSOR_REINIT = 1
FLAG_I2C_RETRY = 2


@dataclass(frozen=True)
class FrameMessage:
    """One subpage as the gate sent it."""

    boot_id: int  # random per gate boot; a new one means the gate restarted
    sequence: int  # subpages sent since boot, from 1
    board_ms: int  # the gate's millisecond clock when it read the subpage
    flags: int  # FLAG_SENSOR_REINIT | FLAG_I2C_RETRY
    words: np.ndarray  # (834,) uint16: 832 RAM words, control register, subpage number
    version: int = VERSION  # 2: authenticated; 1: accepted unauthenticated (upgrade window)

    @property
    def subpage(self) -> int:
        return int(self.words[F_SUBPAGE])

    @property
    def control(self) -> int:
        return int(self.words[F_CONTROL])


@dataclass(frozen=True)
class EepromMessage:
    boot_id: int
    words: np.ndarray  # (832,) uint16
    version: int = VERSION


def _decode(payload: bytes, kind: int, nwords: int, key, accept_v1: bool):
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ProtocolError("type", f"payload must be bytes, got {type(payload).__name__}")
    if type(payload) is not bytes:
        payload = bytes(payload)  # a bytearray may change under us, a memoryview may count other items
    size_v1 = HEADER.size + 2 * nwords + 4
    size = len(payload)
    if size != size_v1 + TAG_BYTES and size != size_v1:
        raise ProtocolError("length", f"{size} bytes, expected {size_v1 + TAG_BYTES}")
    magic, got_kind, version, boot_id, sequence, board_ms, words, flags = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise ProtocolError("magic", f"starts with {magic!r}, expected {MAGIC!r}")
    if got_kind != kind:
        raise ProtocolError("kind", f"message kind {got_kind}, expected {kind}")
    unverified = key is mac.UNVERIFIED
    if version == VERSION:
        if size != size_v1 + TAG_BYTES:
            raise ProtocolError("length", f"{size} bytes, version {VERSION} has {size_v1 + TAG_BYTES}")
    elif version == VERSION_1 and (accept_v1 or unverified):
        if size != size_v1:
            raise ProtocolError("length", f"{size} bytes, version 1 has {size_v1}")
    elif version == VERSION_1:
        raise ProtocolError("version", "protocol version 1 (unauthenticated) refused; this controller speaks "
                                       "version 2 ([site] accept_protocol_v1 reads version 1 during an upgrade)")
    else:
        raise ProtocolError("version", f"protocol version {version}, this controller speaks {VERSION}")
    if words != nwords:
        raise ProtocolError("length", f"header says {words} words, expected {nwords}")
    (crc,) = CRC.unpack_from(payload, size_v1 - 4)
    actual = zlib.crc32(payload[:size_v1 - 4])  # (a bytes slice: cheaper here than making a memoryview)
    if crc != actual:
        raise ProtocolError("crc", f"CRC 0x{crc:08X} does not match the content (0x{actual:08X})")
    if version == VERSION and not unverified and not mac.tag_matches(key, payload[:size_v1], payload[size_v1:]):
        raise ProtocolError("mac", "the tag does not match this gate's key")
    data = np.frombuffer(payload, dtype=_WIRE_WORD, count=nwords, offset=HEADER.size).astype(np.uint16)
    return boot_id, sequence, board_ms, flags, data, version


def decode_frame(payload: bytes, key, *, accept_v1: bool = False) -> FrameMessage:
    """A frame message, checked under ``key`` (the gate's sensor key K_s, or mac.UNVERIFIED)."""
    boot_id, sequence, board_ms, flags, words, version = _decode(payload, KIND_FRAME, FRAME_WORDS, key, accept_v1)
    if words[F_SUBPAGE] > 1:
        raise ProtocolError("subpage", f"subpage word is {int(words[F_SUBPAGE])}, must be 0 or 1")
    if sequence == 0:
        raise ProtocolError("sequence", "frame sequence numbers start at 1")
    return FrameMessage(boot_id, sequence, board_ms, flags, words, version)


def decode_eeprom(payload: bytes, key, *, accept_v1: bool = False) -> EepromMessage:
    """An EEPROM message, checked under ``key`` (the gate's sensor key K_s, or mac.UNVERIFIED)."""
    boot_id, _sequence, _board_ms, _flags, words, version = _decode(payload, KIND_EEPROM, EEPROM_WORDS, key,
                                                                    accept_v1)
    return EepromMessage(boot_id, words, version)


def _encode(kind: int, words: np.ndarray, nwords: int, boot_id: int, sequence: int, board_ms: int,
            flags: int, key) -> bytes:
    words = np.asarray(words)
    if words.shape != (nwords,):
        raise ValueError(f"expected {nwords} words, got shape {words.shape}")
    version = VERSION_1 if key is None else VERSION
    body = HEADER.pack(MAGIC, kind, version, boot_id, sequence, board_ms & 0xFFFFFFFF, nwords, flags) \
        + words.astype(">u2").tobytes()
    body += CRC.pack(zlib.crc32(body))
    return body if key is None else body + mac.tag(key, body)


def encode_frame(words, boot_id: int, sequence: int, board_ms: int = 0, flags: int = 0, *, key) -> bytes:
    """The bytes a gate sends for one subpage: version 2 tagged under ``key`` (the gate's sensor key
    K_s, ``mac.sensor_key(K)``), or version 1 with ``key=None``."""
    return _encode(KIND_FRAME, words, FRAME_WORDS, boot_id, sequence, board_ms, flags, key)


def encode_eeprom(words, boot_id: int, *, key) -> bytes:
    """The gate's EEPROM message: version 2 under ``key`` (K_s), or version 1 with ``key=None``."""
    return _encode(KIND_EEPROM, words, EEPROM_WORDS, boot_id, 0, 0, 0, key)
