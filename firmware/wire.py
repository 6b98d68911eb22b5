"""Gate side of the wire protocol (docs/protocol.md, version 2): binary frame
and EEPROM messages.

Binary messages are built in place in one preallocated buffer per message
kind: the sensor driver reads its words straight into the payload, so a
frame costs no copy. Each message ends with its CRC-32 and a 16-byte tag
under the gate's sensor key (``auth.SensorMac``).
"""

import struct

try:
    from binascii import crc32
except ImportError:  # a build without binascii.crc32: table-driven fallback
    crc32 = None

from micropython import const

MAGIC0 = const(0x54)  # 'T'
MAGIC1 = const(0x47)  # 'G'
KIND_FRAME = const(1)
KIND_EEPROM = const(2)
VERSION = const(2)
HEADER = const(20)
TAG = const(16)
FRAME_WORDS = const(834)
EEPROM_WORDS = const(832)
FRAME_BYTES = const(1708)  # HEADER + 2 * FRAME_WORDS + 4 (CRC) + 16 (tag)
EEPROM_BYTES = const(1704)  # HEADER + 2 * EEPROM_WORDS + 4 + 16
FLAG_SENSOR_REINIT = const(1)  # the sensor was re-initialised since the previous frame
FLAG_I2C_RETRY = const(2)  # reading this frame needed an I2C retry

_HEADER_FMT = ">BBBBIIIHH"

_table = None


def _crc32_soft(data, crc=0):
    global _table
    if _table is None:
        t = []
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            t.append(c)
        _table = t
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def checksum(data):
    """CRC-32 (IEEE 802.3, as zlib.crc32) of a bytes-like object.

    binascii.crc32 already returns it unsigned; masking it again would cost
    one more long-integer allocation per frame."""
    if crc32 is not None:
        return crc32(data)
    return _crc32_soft(data)


class Message:
    """One binary message kind with its preallocated buffer.

    ``words`` is a memoryview of the payload (2 bytes per word, big-endian as
    the sensor sends them) for the driver to read into."""

    def __init__(self, kind, nwords, boot_id, mac):
        self.kind = kind
        self.nwords = nwords
        self.boot_id = boot_id
        self._mac = mac
        self.size = HEADER + 2 * nwords + 4 + TAG
        self.buf = bytearray(self.size)
        mv = memoryview(self.buf)
        self.words = mv[HEADER:HEADER + 2 * nwords]
        self._body = mv[:HEADER + 2 * nwords]
        self._signed = mv[:self.size - TAG]

    def seal(self, sequence, board_ms, flags=0):
        """Write the header, CRC and tag around the words already in place.

        ``sequence`` and ``board_ms`` must be below 2**30 (ticks_ms always
        is; the gate restarts before its sequence gets there): masking them
        to 32 bits would make a long integer, an allocation, per frame."""
        struct.pack_into(_HEADER_FMT, self.buf, 0, MAGIC0, MAGIC1, self.kind, VERSION, self.boot_id,
                         sequence, board_ms, self.nwords, flags)
        struct.pack_into(">I", self.buf, self.size - TAG - 4, checksum(self._body))
        self._mac.seal_binary(self._signed, self.buf, self.size - TAG)
        return self.buf


def frame_message(boot_id, mac):
    return Message(KIND_FRAME, FRAME_WORDS, boot_id, mac)


def eeprom_message(boot_id, mac):
    return Message(KIND_EEPROM, EEPROM_WORDS, boot_id, mac)
