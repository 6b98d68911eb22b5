"""A QR-code scanner module on a UART (GM65 / GM805 style), without ever waiting.

Such modules decode the code themselves and send its text over serial,
terminated by CR or CR LF, at 9600 baud 8N1 by default. ``poll()`` reads what
the UART holds (at most RX_CHUNK bytes a call) into a fixed buffer and
collects the current line in another:

- a line of printable ASCII (0x20..0x7E), 1..MAX_TEXT bytes, is a code: it is
  left in ``code[:n]`` and ``poll()`` returns n;
- a line longer than MAX_TEXT is dropped whole (``too_long``);
- a line holding any other byte (line noise, a scanner at the wrong baud
  rate, a UTF-8 or binary payload) is dropped whole (``garbage``): a code
  with bytes taken out of it would be another person's code;
- empty lines (the LF of a CR LF) are ignored.

No allocation: ``uart.any()`` and ``uart.readinto(buf, n)`` return small
integers, and the bytes are copied one by one.
"""

from micropython import const

from credential import MAX_TEXT

RX_CHUNK = const(64)  # bytes taken from the UART per poll; 9600 baud brings ~1 byte a millisecond
_CR = const(13)
_LF = const(10)


def uart(hw, cfg):
    """The scanner's UART: (uart id, rx pin, tx pin or None, baud rate) from config.qr_scanner."""
    uart_id, rx, tx, baud = cfg
    if tx is None:
        return hw.UART(uart_id, baudrate=baud, bits=8, parity=None, stop=1, rx=rx, timeout=0, timeout_char=0)
    return hw.UART(uart_id, baudrate=baud, bits=8, parity=None, stop=1, rx=rx, tx=tx, timeout=0, timeout_char=0)


class QRScanner:
    KIND = "qr"  # the "kind" of its credential messages

    def __init__(self, uart):
        self._uart = uart
        self._rx = bytearray(RX_CHUNK)
        self._have = 0  # bytes in _rx ...
        self._next = 0  # ... of which this many are handled
        self.code = bytearray(MAX_TEXT)
        self._n = 0  # length of the line being collected
        self._bad = False  # the line being collected holds a byte that is not printable ASCII
        self._long = False  # ... or is longer than MAX_TEXT
        self.codes = 0
        self.too_long = 0
        self.garbage = 0

    def poll(self, now=0):
        """The length of a complete code now in ``code``, or 0; reads only what is waiting."""
        if self._next >= self._have:
            waiting = self._uart.any()
            if not waiting:
                return 0
            got = self._uart.readinto(self._rx, min(waiting, RX_CHUNK))
            if not got:
                return 0
            self._have = got
            self._next = 0
        rx = self._rx
        while self._next < self._have:
            b = rx[self._next]
            self._next += 1
            if b == _CR or b == _LF:
                n = self._end_line()
                if n:
                    return n
            elif self._long:
                pass
            elif self._n >= MAX_TEXT:
                self._long = True
            else:
                if b < 0x20 or b > 0x7E:
                    self._bad = True
                self.code[self._n] = b
                self._n += 1
        return 0

    def _end_line(self):
        n, bad, long = self._n, self._bad, self._long
        self._n = 0
        self._bad = self._long = False
        if long:
            self.too_long += 1
        elif bad:
            self.garbage += 1
        elif n:
            self.codes += 1
            return n
        return 0
