"""A fake UART and the devices on it: the bytes a test or the simulator feeds arrive at the firmware's
``machine.UART`` as from a real serial line.

``SerialPort`` is the board's end (``machine.UART`` is one): ``any()``,
``readinto(buf[, nbytes])`` and ``write(buf)`` with the ESP32's non-blocking
semantics (timeout 0: ``readinto`` returns None when nothing is waiting). Its
receive buffer is a fixed ring, as the ESP32's UART driver has (256 bytes by
default there; 1,024 here), and copying in and out allocates nothing, so the
firmware's drivers can be measured through it. A byte that arrives while the
ring is full is lost and counted (``overruns``), as on the board.

``FakeQRScanner`` is a GM65-style scanner: ``scan(text)`` sends the text and
CR LF. Devices are attached to a UART id (``machine.uarts[id] = device``, or a
``Board``'s ``uart_devices``) before the firmware opens that UART.
"""

RX_RING = 1024


class SerialPort:
    def __init__(self):
        self._ring = bytearray(RX_RING)
        self._head = 0
        self._count = 0
        self.overruns = 0
        self.fail = 0  # a test sets n: the next n calls raise OSError, like a UART driver fault
        self.peer = None  # the device: its received(data) gets what the board writes
        self.written = 0

    def _check(self):
        if self.fail:
            self.fail -= 1
            raise OSError(5)  # EIO

    def feed(self, data):
        """Bytes on the line towards the board."""
        for b in data:
            if self._count >= RX_RING:
                self.overruns += 1
                continue
            self._ring[(self._head + self._count) % RX_RING] = b
            self._count += 1

    def any(self):
        self._check()
        return self._count

    def readinto(self, buf, nbytes=-1):
        self._check()
        n = len(buf) if nbytes < 0 else min(nbytes, len(buf))
        if n > self._count:
            n = self._count
        if n <= 0:
            return None
        ring, head = self._ring, self._head
        for i in range(n):
            buf[i] = ring[(head + i) % RX_RING]
        self._head = (head + n) % RX_RING
        self._count -= n
        return n

    def write(self, buf):
        self._check()
        self.written += len(buf)
        if self.peer is not None:
            self.peer.received(bytes(buf))
        return len(buf)


class FakeQRScanner:
    """A scanner module: what it decodes goes out as text and a line end."""

    def __init__(self):
        self.port = None
        self.received_bytes = 0

    def attach(self, port):
        self.port = port
        port.peer = self

    def received(self, data):
        self.received_bytes += len(data)  # configuration commands: the scanner ignores them here

    def scan(self, text, end=b"\r\n"):
        if self.port is None:
            raise OSError("no UART is open to the scanner")
        self.port.feed((text.encode() if isinstance(text, str) else text) + end)

    def send(self, raw):
        """Raw bytes on the line: noise, a partial code."""
        self.port.feed(raw)
