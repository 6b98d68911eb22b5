"""A fake NXP PN532 on a UART (HSU), at the frame level of the PN532 User Manual (UM0701-02).

It answers what ``firmware/card_reader.py`` sends: SAMConfiguration (0x14),
RFConfiguration (0x32) and InListPassiveTarget (0x4A, one type A target),
each with an ACK frame and then the answer. It sleeps after power-up until a
0x55 wake-up byte arrives, as the real one does. ``card`` is the UID (bytes)
of the card held on it, or None. ``silent`` makes it answer nothing (an
unplugged reader); ``corrupt`` sends the next answer with a wrong checksum.
"""

ACK = b"\x00\x00\xff\x00\xff\x00"


def frame(tfi, cmd, data=b""):
    body = bytes((tfi, cmd)) + bytes(data)
    return (b"\x00\x00\xff" + bytes((len(body), (0x100 - len(body)) & 0xFF)) + body
            + bytes(((0x100 - sum(body)) & 0xFF, 0)))


class FakePN532:
    def __init__(self, card=None):
        self.card = card
        self.port = None
        self.awake = False
        self.silent = False
        self.corrupt = 0
        self.commands = []  # command codes received, in order
        self._buf = b""

    def attach(self, port):
        self.port = port
        port.peer = self

    def received(self, data):
        if self.silent:
            return
        if not self.awake and b"\x55" in data:
            self.awake = True
        self._buf += data
        while True:
            i = self._buf.find(b"\x00\xff")
            if i < 0 or len(self._buf) < i + 4:
                return
            n, lcs = self._buf[i + 2], self._buf[i + 3]
            if (n + lcs) & 0xFF or len(self._buf) < i + 5 + n:
                if (n + lcs) & 0xFF:
                    self._buf = self._buf[i + 2:]
                    continue
                return
            body = self._buf[i + 4:i + 4 + n]
            dcs = self._buf[i + 4 + n]
            self._buf = self._buf[i + 5 + n:]
            if not self.awake or (sum(body) + dcs) & 0xFF or body[0] != 0xD4:
                continue
            self._answer(body[1], body[2:])

    def _answer(self, cmd, data):
        self.commands.append(cmd)
        if cmd == 0x14:
            out = b""
        elif cmd == 0x32:
            out = b""
        elif cmd == 0x4A:
            uid = self.card
            if uid is None:
                out = b"\x00"
            else:
                out = b"\x01\x01\x00\x04\x08" + bytes((len(uid),)) + bytes(uid)
        else:
            self.port.feed(ACK + b"\x00\x00\xff\x01\xff\x7f\x81\x00")  # an error frame
            return
        answer = frame(0xD5, cmd + 1, out)
        if self.corrupt:
            self.corrupt -= 1
            answer = answer[:-2] + bytes(((answer[-2] + 1) & 0xFF, 0))
        self.port.feed(ACK + answer)
