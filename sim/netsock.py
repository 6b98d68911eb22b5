"""The gate's network on a host: CPython TCP sockets with MicroPython's stream semantics.

On a board, ``app.open_socket`` gives a MicroPython socket, non-blocking after
a bounded connect: ``readinto`` returns None when nothing is waiting and
``write`` returns None when the send buffer is full. Virtual gates run the
firmware's own MQTT client (firmware/mqtt.py) over a real TCP connection to a
real broker through this adapter, which gives CPython's sockets exactly those
semantics and nothing more.
"""

from __future__ import annotations

import socket

CONNECT_TIMEOUT_S = 3.0


class StreamSocket:
    def __init__(self, sock: socket.socket):
        self._sock = sock

    def readinto(self, buf, nbytes: int | None = None) -> int | None:
        try:
            return self._sock.recv_into(buf, nbytes or 0)
        except BlockingIOError:
            return None

    def write(self, buf) -> int | None:
        try:
            return self._sock.send(buf)
        except BlockingIOError:
            return None

    def close(self) -> None:
        self._sock.close()


def open_socket(host: str, port: int) -> StreamSocket:
    """Connect within CONNECT_TIMEOUT_S, then non-blocking (as app.open_socket on a board)."""
    sock = socket.create_connection((host, port), CONNECT_TIMEOUT_S)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return StreamSocket(sock)
