"""Real local receivers for the notification tests: an HTTP server and SMTP servers on loopback.

``HttpReceiver`` records every request (path, query, headers, body, arrival
time) and answers as told: ``ok`` (200 with ``answer`` as JSON), ``slow`` (the
same after ``delay`` seconds), ``trickle`` (200, then its body a byte every
0.2 s), ``fail`` (500), ``hang`` (holds the request until the receiver stops)
or ``errcode`` (200 with a robot's error). ``closed_port()`` is a port nobody listens on.
``SmtpReceiver`` is aiosmtpd with STARTTLS (a self-signed certificate made
by openssl for 127.0.0.1) and a login, recording each message, or refusing
every recipient with 550.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True)
class Request:
    path: str
    raw_query: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the body had arrived
    wall: float = 0.0  # time.time() then

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class HttpReceiver:
    def __init__(self, mode: str = "ok", answer: dict | None = None):
        self.mode = mode
        self.delay = 0.3
        self.answer = answer if answer is not None else {"errcode": 0, "errmsg": "ok"}
        self.requests: list[Request] = []
        self.arrived = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
                request = Request(parts.path, parts.query, query, dict(self.headers.items()), body, time.monotonic(),
                                  time.time())
                with receiver.arrived:
                    receiver.requests.append(request)
                    receiver.arrived.notify_all()
                mode = receiver.mode
                if mode == "hang":
                    receiver._release.wait(30)
                    return
                if mode == "slow":
                    time.sleep(receiver.delay)
                if mode == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    try:
                        for _ in range(1000):
                            if receiver._release.wait(0.2):
                                return
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    except OSError:  # the sender gave up and closed the connection
                        pass
                    return
                status = 500 if mode == "fail" else 200
                payload = json.dumps(receiver.answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """The first ``count`` requests, once they have arrived (AssertionError at ``timeout``)."""
        end = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = end - time.monotonic()
                assert left > 0, f"{len(self.requests)} of {count} requests arrived in {timeout} s"
                self.arrived.wait(left)
            return list(self.requests[:count])

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port with nobody listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost, made by openssl; (cert, key)."""
    cert, key = directory / "smtp.crt", directory / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


class SmtpReceiver:
    """aiosmtpd on a free loopback port: STARTTLS required, AUTH (``user``/``password``) required."""

    def __init__(self, cert: Path, key: Path, *, refuse: bool = False, user: str = "thermogate",
                 password: str = "s3cret pass"):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list = []
        self.arrived = threading.Condition()
        self.logins: list[str] = []
        receiver = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if refuse:
                    return "550 5.1.1 mailbox unavailable"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                with receiver.arrived:
                    receiver.messages.append((time.monotonic(), envelope.mail_from, list(envelope.rcpt_tos),
                                              message_from_bytes(envelope.content, policy=policy.default),
                                              session.ssl is not None))
                    receiver.arrived.notify_all()
                return "250 Message accepted"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = getattr(auth_data, "login", b"") == user.encode() and getattr(auth_data, "password", b"") == \
                password.encode()
            if ok:
                receiver.logins.append(user)
            return AuthResult(success=ok, handled=False)

        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation notice per login
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(str(cert), str(key))
        self.port = closed_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=tls,
                                     require_starttls=True, auth_required=True, authenticator=authenticator,
                                     ready_timeout=10)
        self.controller.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        end = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count:
                left = end - time.monotonic()
                assert left > 0, f"{len(self.messages)} of {count} messages arrived in {timeout} s"
                self.arrived.wait(left)
            return list(self.messages[:count])

    def close(self) -> None:
        self.controller.stop()
