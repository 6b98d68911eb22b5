"""Running the controller for end-to-end tests: its config file, in-process or as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.service.config import load_config
from sim.gate_config import provision_keys

REPO = Path(__file__).resolve().parent.parent


def midday_zone() -> ZoneInfo:
    """A whole-hour time zone in which it is now between 12:00 and 13:00 (``Etc/GMT-8`` is UTC+8): a school
    day placed there has hours of room before and after a test's own time, so a test whose sessions and
    deadline are set relative to now never meets midnight, whatever the wall clock says."""
    offset = 12 - time.gmtime().tm_hour  # -11 .. +12 hours, all of them zones of the tz database
    return ZoneInfo("Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}")


def write_config(directory: Path, broker, simulated: list[str], *, store: str | None = None, http_port: int = 0,
                 extra: str = "", site_extra: str = "", doors_extra: str = "", timezone: str = "Asia/Shanghai") -> Path:
    """A controller.toml in ``directory`` for ``broker`` serving the simulated gates ``simulated`` (their keys
    in ``directory``/site/secrets.toml); ``site_extra`` goes into its [site] table, ``doors_extra`` into
    [doors], ``extra`` at the end;
    ``timezone`` is the school's (``[site] timezone``)."""
    store = store or str(directory / "thermogate.db")
    path = directory / "controller.toml"
    path.write_text(f"""
[mqtt]
host = "{broker.host}"
port = {broker.port}
client_id = "controller-{os.getpid()}-{time.monotonic_ns() % 100000}"

[site]
dir = "{directory / 'site'}"
timezone = "{timezone}"
simulated_gates = {simulated!r}
{site_extra}

[store]
url = "{store}"

[doors]
open_ms = 3000
ack_timeout_s = 3.0
{doors_extra}

[http]
bind = "127.0.0.1"
port = {http_port}
{extra}
""".replace("'", '"'))
    load_config(path)  # fail here, not in the service, if the test wrote nonsense
    provision_keys(directory / "site", simulated)  # the simulated gates' keys, where the controller reads keys
    return path


def notify_toml(url: str, *, contacts: str = "", escalation: str = "", routes: str = "") -> str:
    """A [notify] table for tests: one webhook channel ``ops`` to ``url`` (a tests/notify_receivers.py receiver),
    the doctor on duty ``dr-wang`` and the leader ``leader-li``, both told of every fever. ``contacts`` adds
    [notify.contacts.*] tables, ``escalation`` goes into the fever route, ``routes`` adds [[notify.route]]s."""
    return f"""
[notify]
timeout_s = 2
attempts = 2
backoff_s = 0.2

[notify.channels.ops]
type = "webhook"
url = "{url}"

[notify.contacts.dr-wang]
name = "王医生"
mobile = "13800001111"
channels = ["ops"]

[notify.contacts.leader-li]
name = "李主任"
mobile = "13900002222"
channels = ["ops"]
{contacts}
[[notify.route]]
event = "fever"
to = ["dr-wang", "leader-li"]
{escalation}
{routes}"""


def run_live_command(argv: list[str], scene, broker, monkeypatch, capsys, on_prompt=None) -> tuple[int, list[str]]:
    """``thermogate argv`` against one virtual gate (the real firmware code) rendering ``scene`` on ``broker``, the
    installer answering each prompt with Enter; ``on_prompt(n)``, if given, acts before the n-th answer (1, 2,
    ...: the installer's hand). (its exit status, what it wrote to stderr before each prompt)."""
    from controller.cli import main as thermogate
    from sim.runner import GateThread, make_gates

    prompts: list[str] = []

    def installer(_prompt: str = "") -> str:
        prompts.append(capsys.readouterr().err)
        if on_prompt is not None:
            on_prompt(len(prompts))
        return ""

    monkeypatch.setattr("builtins.input", installer)
    thread = GateThread(make_gates(1, lambda _i: scene, broker.host, broker.port)).start()
    try:
        return thermogate(argv), prompts
    finally:
        thread.stop()


def start_controller(directory: Path, broker, simulated: list[str], *, users=(), password: str = "", **config):
    """The whole controller in this process (``build_controller``: service, console, notifier) on
    ``write_config(directory, broker, simulated, **config)``, started, with the console ``users`` ((name, role)
    pairs) sharing ``password``. The caller stops it."""
    from controller.app import build_controller

    service = build_controller(load_config(write_config(directory, broker, simulated, **config))).start()
    try:
        for name, role in users:
            service.store.add_user(name, role, password)
    except BaseException:
        service.stop()
        raise
    return service


class ControllerProcess:
    """``thermogate controller --config`` as a child process, killable like a real one."""

    def __init__(self, config: Path, log: Path):
        self.config = config
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.http_port = 0

    def start(self, timeout: float = 60.0) -> ControllerProcess:
        ready = self.config.parent / f"ready-{time.monotonic_ns()}"
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "controller", "--config",
                                      str(self.config), "--ready-file", str(ready)], cwd=REPO, stdout=out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"controller not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        self.http_port = int(ready.read_text())
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
                return -9
        return self.proc.returncode
