"""``make demo``'s program: it starts everything and reaches decisions, stops cleanly on Ctrl-C, comes back on
the same port at once, and its fevers are occasional."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from sim import demo
from sim.scenarios import scenario

REPO = Path(__file__).resolve().parent.parent
THRESHOLD_C = 37.3


@pytest.mark.slow  # 25 s on a shared 2-core machine (make test-fast leaves it out)
def test_demo_runs_and_decides(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sim.demo", "--seconds", "22", "--http-port", "0",
                          "--dir", str(tmp_path / "demo")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "console:  http://127.0.0.1:" in out.stdout
    assert "login:    demo / " in out.stdout
    db = sqlite3.connect(tmp_path / "demo" / "thermogate.db")
    decisions = {row[0] for row in db.execute("SELECT decision FROM screenings")}
    db.close()
    assert decisions & {"PASS", "FEVER"}, (decisions, out.stdout)  # real screenings, not only warm-up


def _start(tmp_path: Path, port: int, tmp: Path, broker: str) -> tuple[subprocess.Popen, str]:
    """The demo as a terminal runs it: its own process group (a Ctrl-C goes to the whole group)."""
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1", "THERMOGATE_DEMO_BROKER": broker}
    proc = subprocess.Popen([sys.executable, "-m", "sim.demo", "--http-port", str(port), "--dir",
                             str(tmp_path / "demo")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            return proc, "".join(lines)
    _kill_group(proc)
    raise AssertionError(f"the demo did not start: {''.join(lines)}{proc.stderr.read()}")


def _kill_group(proc: subprocess.Popen) -> None:
    """A failed test kills the whole group: the demo's mosquitto as well, never left running."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _ctrl_c(proc: subprocess.Popen) -> tuple[str, str]:
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: to every process of the foreground group
    out, err = proc.communicate(timeout=60)
    return out, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_ctrl_c_stops_cleanly_and_a_restart_gets_the_same_port(tmp_path, broker):
    port = _free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc, started = _start(tmp_path, port, tmp, broker)
    try:
        assert f"console:  http://127.0.0.1:{port}/" in started and f"broker ({broker})" in started, started
        # A guard's tab is open: logged in, its live socket connected, when Ctrl-C comes.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            assert c.post("/login", data={"username": demo.DEMO_USER,
                                          "password": demo.DEMO_PASSWORD}).status_code == 303
            names = [g["name"] for g in sorted(c.get("/api/gates").json()["gates"], key=lambda g: g["gate"])]
            assert names == list(demo.GATE_NAMES)  # the demo's gates have Chinese names on the console
            cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
            # Held open to the end; wait until the demo screens someone, so a live image is flowing.
            ws = ws_connect(f"ws://127.0.0.1:{port}/ws", additional_headers={
                "Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"})
            ws.recv(timeout=10)  # hello
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and isinstance(ws.recv(timeout=10), str):
                pass
            out, err = _ctrl_c(proc)
            ws.close()
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    assert proc.returncode == 0, out + err
    assert "thermogate demo stopped" in out, out + err
    assert "Task was destroyed" not in err and "Traceback" not in err, err
    db = sqlite3.connect(tmp_path / "demo" / "thermogate.db")
    offline = db.execute("SELECT gate, detail FROM alerts WHERE kind = 'gate_offline'").fetchall()
    db.close()
    assert offline == [], offline  # the gates and the controller went before the broker
    assert list(tmp.iterdir()) == [], list(tmp.iterdir())  # no thermogate-broker-* folder left behind
    # Restarted at once: the console is on the same port (the last one left it in TIME_WAIT).
    proc, started = _start(tmp_path, port, tmp, broker)
    try:
        assert f"console:  http://127.0.0.1:{port}/" in started, started
        assert "in use" not in started
        out, err = _ctrl_c(proc)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    assert proc.returncode == 0, out + err


def test_console_port_waits_for_a_listener_then_says_where_it_went():
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        said: list[str] = []
        other = demo.console_port(port, wait_s=0.6, say=said.append)
        assert other != port and re.search(rf"port {port} is still in use .* port {other} instead", said[-1])
        assert "waiting up to" in said[0]


def test_console_port_is_free_again_while_the_last_connection_is_in_time_wait():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server side closes first: its end stays in TIME_WAIT
    server.close()
    client.close()
    with socket.socket() as plain:  # what the demo probed with before: refused for a minute
        try:
            plain.bind(("127.0.0.1", port))
            time_wait = False
        except OSError:
            time_wait = True
    assert time_wait, "the port did not stay in TIME_WAIT: this test shows nothing"
    assert demo.console_port(port, wait_s=0.0, say=lambda m: None) == port


def test_fevers_are_occasional():
    """Every person of each gate's cycle, from the scenarios' own truth: about 1 in 20 is febrile."""
    people = febrile = 0
    for gate, cycle in enumerate(demo.CYCLES):
        for step, (name, seconds) in enumerate(cycle):
            sc = scenario(name, seed=gate + 10 * step)
            seen: dict[int, float] = {}
            t = 0.0
            while t < (sc.duration_s if seconds is None else seconds):
                for p in sc.frame_at(t).truth["people"]:
                    seen[p["id"]] = p["core_c"]
                t += 0.5
            people += len(seen)
            febrile += sum(core >= THRESHOLD_C for core in seen.values())
    share = febrile / people
    print(f"demo: {febrile} febrile of {people} people per cycle ({share:.3f})")
    assert 1 / 30 <= share <= 1 / 12, (febrile, people)
    first_name, first_s = demo.CYCLES[0][0]
    assert first_name == "fever" and first_s <= 30  # the first alarm comes within the first minute
