"""A private mosquitto broker on a free loopback port, for tests, the demo and users' CI.

``MosquittoBroker`` writes its own configuration into a temporary directory,
starts ``mosquitto`` there, waits until it accepts connections, and can be
stopped and restarted on the same port (to test what a broker restart does).
Given ``config_file`` (e.g. what ``thermogate broker config`` writes), it runs
that configuration's listeners and security instead of its own anonymous one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto")


class BrokerError(RuntimeError):
    pass


def find_mosquitto() -> str:
    """The mosquitto executable, or BrokerError saying how to install it."""
    found = shutil.which("mosquitto") or next((p for p in MOSQUITTO_PATHS if os.access(p, os.X_OK)), None)
    if not found:
        raise BrokerError("mosquitto not found: install it (Debian: sudo apt-get install mosquitto)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MosquittoBroker:
    """``with MosquittoBroker() as broker: ... broker.port ...``"""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", extra_config: str = "",
                 config_file: str | os.PathLike | None = None, own_session: bool = False):
        """``config_file``: a configuration with its own listener on ``host:port`` (which ``start``
        waits for) to use instead of the default anonymous listener; ``extra_config`` follows it.
        ``own_session``: start mosquitto in a session of its own, so a Ctrl-C at the terminal reaches only
        this process, which then stops it last (the demo: its gates and controller go first)."""
        self.host = host
        self.port = port or free_port(host)
        self.extra_config = extra_config
        self.config_file = Path(config_file) if config_file is not None else None
        self._dir = Path(tempfile.mkdtemp(prefix="thermogate-broker-"))
        self._proc: subprocess.Popen | None = None
        self.own_session = own_session

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        conf = self._dir / "mosquitto.conf"
        listener = (f"listener {self.port} {self.host}\nallow_anonymous true\n" if self.config_file is None
                    else self.config_file.read_text().rstrip("\n") + "\n")
        conf.write_text(
            listener +
            "persistence false\n"
            "set_tcp_nodelay true\n"
            f"log_dest file {self._dir / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            + self.extra_config)
        return conf

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        if self.running:
            return self
        conf = self._write_config()
        self._proc = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, start_new_session=self.own_session)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise BrokerError(f"mosquitto exited with {self._proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None

    def kill(self) -> None:
        """Stop without a clean shutdown, as a crash or power cut would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self.stop()

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def log(self) -> str:
        path = self._dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
