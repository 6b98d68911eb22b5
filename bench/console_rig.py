"""A whole console on this machine, for the screenshots (bench/screenshots.py) and the console benchmark
(bench/bench_console.py).

A private mosquitto, a real ``ControllerService`` (store, HTTP, console) in
this process, an admin login, and virtual gates running the firmware on
virtual hardware, one scenario each. Everything lives in a temporary
directory and goes when ``stop()`` is called. Tests use their own fixtures
(tests/controller_harness.py) instead.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the controller, and the Chromium launcher of the tests

from chromium import launch_chromium  # noqa: E402, F401  (the rig's users launch the browser from here)

USER = "admin"
PASSWORD = "console-admin-1"


class ConsoleRig:
    def __init__(self, scenarios: list[str], *, idle_gates: int = 0, seed: int = 0, http_port: int = 0,
                 names: list[str] | None = None):
        """``scenarios``: one virtual gate per name (sim-1, ...); ``idle_gates`` more registered gates
        (feed-1, ...) with no virtual gate behind them, for a caller that publishes their frames itself;
        ``names``: display names of the sim gates, in order (the console shows them)."""
        self.names = list(names or [])
        self.scenarios = scenarios
        self.idle_gates = [f"feed-{i + 1}" for i in range(idle_gates)]
        self.seed = seed
        self.http_port = http_port
        self.dir = Path(tempfile.mkdtemp(prefix="thermogate-console-"))
        self.broker = None
        self.service = None
        self.gate_thread = None
        self.gates = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service.http.port}"

    def start(self) -> ConsoleRig:
        from controller.app import build_controller
        from controller.service.config import load_config
        from sim.broker import MosquittoBroker
        from sim.gate_config import provision_keys

        self.broker = MosquittoBroker().start()
        sim_ids = [f"sim-{i + 1}" for i in range(len(self.scenarios))]
        config = self.dir / "controller.toml"
        config.write_text(f"""
[mqtt]
host = "{self.broker.host}"
port = {self.broker.port}
client_id = "console-rig-{time.monotonic_ns() % 100000}"
queue_frames = 16

[site]
dir = "{self.dir / 'site'}"
timezone = "Asia/Shanghai"
simulated_gates = {sim_ids + self.idle_gates!r}

[store]
url = "{self.dir / 'thermogate.db'}"

[http]
bind = "127.0.0.1"
port = {self.http_port}
""".replace("'", '"') + "".join(f'\n[gates.{g}]\nname = "{n}"\n' for g, n in zip(sim_ids, self.names, strict=False)),
                          encoding="utf-8")
        provision_keys(self.dir / "site", sim_ids + self.idle_gates)  # their keys, where the controller reads keys
        self.service = build_controller(load_config(config)).start()
        self.service.store.add_user(USER, "admin", PASSWORD)
        if self.scenarios:
            from sim.runner import GateThread, make_gates
            from sim.scenarios import scenario

            self.gates = make_gates(len(self.scenarios), lambda i: scenario(self.scenarios[i], self.seed + i),
                                    self.broker.host, self.broker.port, seed=self.seed)
            self.gate_thread = GateThread(self.gates).start()
        return self

    def stop(self) -> None:
        if self.gate_thread is not None:
            try:
                self.gate_thread.stop()
            except RuntimeError:
                pass
        if self.service is not None:
            self.service.stop()
        if self.broker is not None:
            self.broker.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ConsoleRig:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def login(page, url: str, user: str = USER, password: str = PASSWORD) -> None:
    page.goto(url + "/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(url + "/")
    page.wait_for_selector("#conn.ok")
