"""Binary messages from the gate: subpage frames and the EEPROM dump.

Layout (all big-endian, see docs/protocol.md): a 20-byte header, the
sensor's 16-bit words exactly as read over I2C, and a CRC-32 of everything
before it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ..sensor.eeprom import EEPROM_WORDS
from ..sensor.frame import F_CONTROL, F_SUBPAGE, FRAME_WORDS
from .errors import ProtocolError

MAGIC = b"TG"
VERSION = 1
KIND_FRAME = 1
KIND_EEPROM = 2
HEADER = struct.Struct(">2sBBIIIHH")  # magic, kind, version, boot, sequence, board ms, words, flags
CRC = struct.Struct(">I")
_WIRE_WORD = np.dtype(">u2")
FRAME_BYTES = HEADER.size + 2 * FRAME_WORDS + 4
EEPROM_BYTES = HEADER.size + 2 * EEPROM_WORDS + 4
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


def _decode(payload: bytes, kind: int, nwords: int, size: int):
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ProtocolError("type", f"payload must be bytes, got {type(payload).__name__}")
    if type(payload) is not bytes:
        payload = bytes(payload)  # a bytearray may change under us, a memoryview may count other items
    if len(payload) != size:
        raise ProtocolError("length", f"{len(payload)} bytes, expected {size}")
    magic, got_kind, version, boot_id, sequence, board_ms, words, flags = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise ProtocolError("magic", f"starts with {magic!r}, expected {MAGIC!r}")
    if got_kind != kind:
        raise ProtocolError("kind", f"message kind {got_kind}, expected {kind}")
    if version != VERSION:
        raise ProtocolError("version", f"protocol version {version}, this controller speaks {VERSION}")
    if words != nwords:
        raise ProtocolError("length", f"header says {words} words, expected {nwords}")
    (crc,) = CRC.unpack_from(payload, size - 4)
    actual = zlib.crc32(payload[:size - 4])  # (a bytes slice: cheaper here than making a memoryview)
    if crc != actual:
        raise ProtocolError("crc", f"CRC 0x{crc:08X} does not match the content (0x{actual:08X})")
    data = np.frombuffer(payload, dtype=_WIRE_WORD, count=nwords, offset=HEADER.size).astype(np.uint16)
    return boot_id, sequence, board_ms, flags, data


def decode_frame(payload: bytes) -> FrameMessage:
    boot_id, sequence, board_ms, flags, words = _decode(payload, KIND_FRAME, FRAME_WORDS, FRAME_BYTES)
    if words[F_SUBPAGE] > 1:
        raise ProtocolError("subpage", f"subpage word is {int(words[F_SUBPAGE])}, must be 0 or 1")
    if sequence == 0:
        raise ProtocolError("sequence", "frame sequence numbers start at 1")
    return FrameMessage(boot_id, sequence, board_ms, flags, words)


def decode_eeprom(payload: bytes) -> EepromMessage:
    boot_id, _sequence, _board_ms, _flags, words = _decode(payload, KIND_EEPROM, EEPROM_WORDS, EEPROM_BYTES)
    return EepromMessage(boot_id, words)


def _encode(kind: int, words: np.ndarray, nwords: int, boot_id: int, sequence: int, board_ms: int,
            flags: int) -> bytes:
    words = np.asarray(words)
    if words.shape != (nwords,):
        raise ValueError(f"expected {nwords} words, got shape {words.shape}")
    body = HEADER.pack(MAGIC, kind, VERSION, boot_id, sequence, board_ms & 0xFFFFFFFF, nwords, flags) \
        + words.astype(">u2").tobytes()
    return body + struct.pack(">I", zlib.crc32(body))


def encode_frame(words, boot_id: int, sequence: int, board_ms: int = 0, flags: int = 0) -> bytes:
    """The bytes a gate sends for one subpage (the simulator's replay path)."""
    return _encode(KIND_FRAME, words, FRAME_WORDS, boot_id, sequence, board_ms, flags)


def encode_eeprom(words, boot_id: int) -> bytes:
    return _encode(KIND_EEPROM, words, EEPROM_WORDS, boot_id, 0, 0, 0)
