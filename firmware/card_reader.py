"""An NXP PN532 13.56 MHz reader on a UART (HSU), reading ISO/IEC 14443A card UIDs without waiting.

The PN532 (for example the common "PN532 NFC module V3" boards, set to HSU
with their two switches) answers commands in frames (NXP PN532 User Manual
UM0701-02, 6.2):

    00 00 FF LEN LCS TFI CMD data... DCS 00

where LEN counts TFI, CMD and data, LCS = -LEN, DCS = -(TFI + CMD + data)
(mod 256), TFI is D4 to the PN532 and D5 from it, and the answer's CMD is the
command's plus one. The PN532 first answers every command with an ACK frame
(00 00 FF 00 FF 00).

The driver is a small state machine that ``poll()`` advances by what has
arrived, at most RX_CHUNK bytes a call:

1. wake the PN532 from its power-up sleep (0x55 0x55 and a long preamble)
   with SAMConfiguration (normal mode);
2. RFConfiguration item 5: try a passive activation twice, not forever, so
   that a poll with no card ends at once (its default is to wait for a card);
3. every POLL_MS: InListPassiveTarget (one target, 106 kbps type A); the
   answer holds the card's UID (NFCID1: 4, 7 or 10 bytes), which is left in
   ``code`` as uppercase hex and returned as its length.

A missing answer (RESPONSE_MS), a bad checksum or an error frame counts in
``errors`` and starts again from step 1 after RETRY_MS: a reader unplugged
and plugged back in recovers by itself.

No allocation: the commands are built once, and answers are copied byte by
byte into a fixed buffer.
"""

from micropython import const

RX_CHUNK = const(64)
FRAME_MAX = const(64)  # the longest answer kept; an InListPassiveTarget answer with a 10-byte UID is 28
POLL_MS = const(200)  # between two looks for a card
RESPONSE_MS = const(200)  # an answer later than this is a fault (a poll with no card answers in ~20 ms)
RETRY_MS = const(1000)  # after a fault, wake the reader again this much later
_HEX = b"0123456789ABCDEF"

_SAM = const(0x14)
_RF = const(0x32)
_LIST = const(0x4A)

_WAKING = const(0)  # SAMConfiguration sent
_CONFIGURING = const(1)  # RFConfiguration sent
_LISTING = const(2)  # InListPassiveTarget sent
_IDLE = const(3)  # waiting for the next poll or retry


def frame(cmd, data):
    """A normal information frame from the host to the PN532."""
    body = bytes((0xD4, cmd)) + bytes(data)
    out = bytearray(b"\x00\x00\xff")
    out.append(len(body))
    out.append((0x100 - len(body)) & 0xFF)
    out.extend(body)
    out.append((0x100 - sum(body)) & 0xFF)
    out.append(0)
    return bytes(out)


# 0x55 0x55 and zeros: a long preamble wakes the PN532 from its low-power state (UM0701-02, 7.2.11)
WAKE = b"\x55\x55" + bytes(14) + frame(_SAM, (0x01, 0x14, 0x00))  # normal mode, 1 s virtual card timeout, no IRQ
CONFIGURE = frame(_RF, (0x05, 0xFF, 0x01, 0x01))  # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation = 1 retry
LIST = frame(_LIST, (0x01, 0x00))  # at most one target, 106 kbps ISO/IEC 14443 type A


def uart(hw, cfg):
    """The reader's UART: (uart id, rx pin, tx pin, baud rate) from config.card_reader."""
    uart_id, rx, tx, baud = cfg
    return hw.UART(uart_id, baudrate=baud, bits=8, parity=None, stop=1, rx=rx, tx=tx, timeout=0, timeout_char=0)


class PN532:
    KIND = "card"  # the "kind" of its credential messages

    def __init__(self, uart, clock):
        self._uart = uart
        self._clock = clock
        self._rx = bytearray(RX_CHUNK)
        self._f = bytearray(FRAME_MAX)  # the answer being assembled
        self._got = 0
        self.code = bytearray(20)  # the UID in hex: 10 bytes at most
        self._state = _IDLE
        self._next_state = _WAKING
        self._due = clock.ticks_ms()
        self._sent_at = 0
        self.ready = False  # woken and configured
        self.cards = 0
        self.errors = 0

    def _send(self, command, state, now):
        self._uart.write(command)
        self._state = state
        self._sent_at = now
        self._got = 0

    def _fault(self, now):
        self.errors += 1
        self.ready = False
        self._state = _IDLE
        self._next_state = _WAKING
        self._due = self._clock.ticks_add(now, RETRY_MS)

    def poll(self, now):
        """The length of a UID now in ``code`` (uppercase hex), or 0."""
        clock = self._clock
        if self._state == _IDLE:
            if clock.ticks_diff(self._due, now) > 0:
                return 0
            if self._next_state == _WAKING:
                self._send(WAKE, _WAKING, now)
            else:
                self._send(LIST, _LISTING, now)
            return 0
        waiting = self._uart.any()
        if waiting:
            got = self._uart.readinto(self._rx, min(waiting, RX_CHUNK))
            rx, f = self._rx, self._f
            for i in range(got or 0):
                if self._got < FRAME_MAX:
                    f[self._got] = rx[i]
                    self._got += 1
            answer = self._answer()
            if answer > 0:
                return self._handle(answer, now)
            if answer < 0:
                self._fault(now)
                return 0
        if clock.ticks_diff(now, self._sent_at) > RESPONSE_MS:
            self._fault(now)
        return 0

    def _answer(self):
        """Where the answer's TFI byte starts in the buffer (> 0) once a whole valid answer is there;
        0 while it is incomplete; -1 for a broken or error frame. ACK frames before it are skipped."""
        f, got, i = self._f, self._got, 0
        while True:
            while i + 1 < got and not (f[i] == 0x00 and f[i + 1] == 0xFF):  # the start code 00 FF
                i += 1
            if i + 3 >= got:
                return 0 if got < FRAME_MAX else -1
            length, lcs = f[i + 2], f[i + 3]
            if length == 0 and lcs == 0xFF:  # ACK
                i += 4
                continue
            if (length + lcs) & 0xFF or length < 2:
                return -1
            if i + 4 + length >= got:  # data and DCS not all here yet
                return 0 if i + 5 + length <= FRAME_MAX else -1
            total = 0
            for k in range(i + 4, i + 5 + length):
                total += f[k]
            if total & 0xFF or f[i + 4] != 0xD5:  # DCS, or an error frame (TFI 0x7F)
                return -1
            return i + 4

    def _handle(self, at, now):
        f = self._f
        cmd = f[at + 1]
        state = self._state
        if state == _WAKING and cmd == _SAM + 1:
            self._send(CONFIGURE, _CONFIGURING, now)
            return 0
        if state == _CONFIGURING and cmd == _RF + 1:
            self.ready = True
        elif state == _LISTING and cmd == _LIST + 1:
            n = self._uid(at)
            self._state = _IDLE
            self._next_state = _LISTING
            self._due = self._clock.ticks_add(now, POLL_MS)
            return n
        else:
            self._fault(now)
            return 0
        self._state = _IDLE
        self._next_state = _LISTING
        self._due = now
        return 0

    def _uid(self, at):
        """The UID of an InListPassiveTarget answer (D5 4B NbTg Tg SENS_RES(2) SEL_RES NFCIDLength
        NFCID1...) written into ``code`` as hex; 0 if no card answered."""
        f = self._f
        length = f[at - 2]  # LEN: TFI, CMD and data
        if length < 3 or f[at + 2] == 0:  # no target
            return 0
        uid_len = f[at + 7] if length >= 8 else 0
        if (uid_len != 4 and uid_len != 7 and uid_len != 10) or length < 8 + uid_len:
            self.errors += 1
            return 0
        code = self.code
        for k in range(uid_len):
            b = f[at + 8 + k]
            code[2 * k] = _HEX[b >> 4]
            code[2 * k + 1] = _HEX[b & 15]
        self.cards += 1
        return 2 * uid_len
