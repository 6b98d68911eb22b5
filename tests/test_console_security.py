"""The console and the controller's HTTP side under attack, against a real controller service (real store,
real broker, real uvicorn): the login race, oversized bodies, held doors across a restart, sessions that end
through the store, TLS, /metrics, Host and X-Forwarded-For, CSV formulas, absurd input, forged acks."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from controller.app import build_controller
from controller.console import auth
from controller.protocol import sensor_key
from controller.protocol.commands import ack_payload
from controller.reports import export_screenings, read_screenings_csv
from controller.service.config import load_config
from controller.service.service import ControllerService
from controller.store import Screening
from controller.store.passwords import weakness
from sim.gate_config import simulator_key
from tests.controller_harness import REPO, write_config
from tests.test_console_api import GATES, PASSWORD, Rig, fever_alarm

WRONG = "not-the-password-1"


def make_rig(tmp_path, broker, extra: str = "") -> Rig:
    r = Rig(tmp_path, broker)
    if extra:
        r.config_path = write_config(tmp_path, broker, GATES, extra=extra)
    svc = r.start()
    for name, role in (("ada", "admin"), ("gus", "guard"), ("doc", "doctor")):
        svc.store.add_user(name, role, PASSWORD)
    return r


@pytest.fixture
def rig(tmp_path, mqtt_broker):
    r = make_rig(tmp_path, mqtt_broker)
    yield r
    r.stop()


@pytest.fixture
def proxied_rig(tmp_path, mqtt_broker):
    """The console behind a reverse proxy on this machine: X-Forwarded-For from 127.0.0.1 is believed."""
    r = make_rig(tmp_path, mqtt_broker, 'trusted_proxies = ["127.0.0.1"]')
    yield r
    r.stop()


def wait_closed(ws, timeout: float = 6.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=0.5)
        except TimeoutError:
            continue
        except Exception:
            return ws.close_code
    return None


def raw_request(port: int, head: str, body: bytes = b"", *, keep_sending: bool = False,
                timeout: float = 8.0) -> bytes:
    """Send a request by hand (headers as given) and read what comes back within ``timeout``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        s.settimeout(timeout)
        got = b""
        try:
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except TimeoutError:
            pass
        return got


# ----------------------------------------------------------------------------- M1, L1: logins


def run_async(coro):
    """Run ``coro`` on a fresh event loop in its own thread: the session-wide Playwright browser keeps an
    event loop running in the main thread once any browser test has run, and asyncio.run refuses that."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_login_attempts_are_counted_before_the_password_check(rig):
    """40 guesses at once from one address, the right password among the last: at most the first five are
    checked at all, the rest are refused with 429 at once, and the right password does not get in."""
    async def burst():
        async with httpx.AsyncClient(base_url=rig.base, timeout=30) as c:
            async def guess(i):
                return await c.post("/login", data={"username": "ada", "password": f"{WRONG}-{i}"})

            async def right():
                await asyncio.sleep(0.05)  # while the first guesses are still being checked
                return await c.post("/login", data={"username": "ada", "password": PASSWORD})

            return await asyncio.gather(*(guess(i) for i in range(39)), right())

    responses = run_async(burst())
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) <= 5, statuses
    assert statuses.count(429) >= 34, statuses
    assert responses[-1].status_code == 429 and "tg_session" not in responses[-1].headers.get("set-cookie", "")
    failed = [e for e in rig.service.store.audit() if e.action == "login_failed"]
    assert len(failed) == statuses.count(401)


def test_password_checks_run_at_most_two_at_a_time(proxied_rig):
    """30 logins from 30 addresses (behind the trusted proxy) as 30 names: none is rate limited, but
    only two scrypts run at once; the rest wait their turn instead of taking every thread and 16 MiB each."""
    store = proxied_rig.service.store
    real = store.verify_user
    running, peak, lock = [0], [0], threading.Lock()

    def counted(name, password):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return real(name, password)
        finally:
            with lock:
                running[0] -= 1

    store.verify_user = counted

    async def flood():
        async with httpx.AsyncClient(base_url=proxied_rig.base, timeout=60) as c:
            return await asyncio.gather(*(c.post("/login", data={"username": f"user{i}", "password": WRONG},
                                                 headers={"X-Forwarded-For": f"10.0.0.{i + 1}"})
                                          for i in range(30)))

    statuses = [r.status_code for r in run_async(flood())]
    assert statuses.count(401) == 30, statuses
    assert 1 <= peak[0] <= 2, peak[0]


def test_wrong_passwords_slow_a_name_down_without_locking_it(rig):
    """Five failures do not lock the name against the right password for the whole window: after a short
    backoff (growing with further failures) the right password gets in."""
    now = [time.monotonic()]
    console = rig.service.http.config.app.state.console
    console.limiter.clock = lambda: now[0]
    c = rig.client()
    for _ in range(5):
        assert c.post("/login", data={"username": "ada", "password": WRONG}).status_code == 401
    r = c.post("/login", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 2
    now[0] += 1.5  # the first backoff is 1 s, not the rest of a 5-minute window
    assert c.post("/login", data={"username": "ada", "password": WRONG}).status_code == 401
    r = c.post("/login", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 429 and 2 <= int(r.headers["retry-after"]) <= 3  # it doubles
    now[0] += 2.5
    r = c.post("/login", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 303, r.text
    # The backoff is capped: a guesser keeps a name waiting at most a minute, never locked out.
    limiter = auth.LoginLimiter(clock=lambda: now[0])
    for _ in range(40):
        wait, _ticket = limiter.begin("10.9.9.9", "victim")
        now[0] += wait + 0.01
    assert limiter.retry_after("10.9.9.8", "victim") <= 60


def test_x_forwarded_for_is_ignored_without_a_configured_proxy(rig):
    """Without [http] trusted_proxies, a client cannot pick its own address with X-Forwarded-For to dodge
    the per-address limit."""
    c = rig.client()
    statuses = [c.post("/login", data={"username": f"name{i}", "password": WRONG},
                       headers={"X-Forwarded-For": f"10.1.2.{i + 1}"}).status_code for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    addresses = {e.detail["address"] for e in rig.service.store.audit() if e.action == "login_failed"}
    assert addresses == {"127.0.0.1"}


def test_x_forwarded_for_is_believed_from_the_configured_proxy(proxied_rig):
    c = proxied_rig.client()
    for i in range(7):
        assert c.post("/login", data={"username": f"name{i}", "password": WRONG},
                      headers={"X-Forwarded-For": f"10.1.2.{i + 1}"}).status_code == 401
    addresses = {e.detail["address"] for e in proxied_rig.service.store.audit() if e.action == "login_failed"}
    assert addresses == {f"10.1.2.{i + 1}" for i in range(7)}
    # A proxy that terminates TLS says so, and the session cookie is then sent Secure only.
    r = c.post("/login", data={"username": "ada", "password": PASSWORD},
               headers={"X-Forwarded-For": "10.1.2.99", "X-Forwarded-Proto": "https"})
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def test_x_forwarded_proto_is_ignored_without_a_configured_proxy(rig):
    r = rig.client().post("/login", data={"username": "ada", "password": PASSWORD},
                          headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 303 and "secure" not in r.headers["set-cookie"].lower()


# ----------------------------------------------------------------------------- M2: bodies and connections


def test_a_huge_login_body_is_refused_on_its_content_length(rig):
    """300 MB announced: 413 at once, before a byte of it is read (it never comes)."""
    head = ("POST /login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/x-www-form-urlencoded\n"
            "Content-Length: 300000000\n")
    got = raw_request(rig.service.http.port, head, b"username=ada&password=")
    assert got.startswith(b"HTTP/1.1 413"), got[:200]


def test_a_chunked_body_is_cut_off_while_it_streams(rig):
    """No Content-Length: the body is counted as it arrives and refused once past the limit, without
    waiting for its end (which never comes)."""
    chunk = b"a" * 65536
    body = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    head = "POST /login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/x-www-form-urlencoded\n" \
           "Transfer-Encoding: chunked\n"
    got = raw_request(rig.service.http.port, head, body)
    assert got.startswith(b"HTTP/1.1 413"), got[:200]
    # The same after login, for the JSON API.
    admin = rig.client("ada")
    cookie = f"tg_session={admin.cookies['tg_session']}"
    head = (f"POST /api/settings HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nCookie: {cookie}\n"
            f"X-CSRF-Token: {admin.headers['X-CSRF-Token']}\nTransfer-Encoding: chunked\n")
    got = raw_request(rig.service.http.port, head, body)
    assert got.startswith(b"HTTP/1.1 413"), got[:200]
    head = (f"POST /api/settings HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nCookie: {cookie}\n"
            f"X-CSRF-Token: {admin.headers['X-CSRF-Token']}\nContent-Length: 1000000000\n")
    assert raw_request(rig.service.http.port, head, b"{").startswith(b"HTTP/1.1 413")


def test_the_server_caps_open_connections(tmp_path, mqtt_broker):
    r = make_rig(tmp_path, mqtt_broker, "max_connections = 8")
    try:
        c = r.client()
        assert c.get("/healthz").status_code in (200, 503) and c.get("/login").status_code == 200
        c.close()
        idle = [socket.create_connection(("127.0.0.1", r.service.http.port), timeout=5) for _ in range(8)]
        try:
            time.sleep(0.3)
            with httpx.Client(base_url=r.base, timeout=5) as fresh:
                assert fresh.get("/login").status_code == 503
        finally:
            for s in idle:
                s.close()
        deadline = time.monotonic() + 10
        while True:  # the idle sockets are gone: served again
            with httpx.Client(base_url=r.base, timeout=5) as fresh:
                if fresh.get("/login").status_code == 200:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        r.stop()


# ----------------------------------------------------------------------------- M3: held doors


def test_a_held_door_stays_held_across_a_restart_and_open_once_needs_a_release(rig):
    guard = rig.client("gus")
    assert guard.post("/api/doors/sim-1/lock", json={"locked": True, "reason": "fire drill"}).status_code == 200
    rig.restart()
    guard.base_url = rig.base
    svc = rig.service
    held = svc.workers["sim-1"].manual_lock
    assert held is not None and held["user"] == "gus" and held["reason"] == "fire drill" and held["restored"]
    assert svc.workers["sim-2"].manual_lock is None
    # The guards see it: on the tile (the gate summary) and as an alert in words.
    tile = {g["gate"]: g for g in guard.get("/api/gates").json()["gates"]}["sim-1"]
    assert tile["manual_lock"]["restored"] is True
    alerts = [a for a in guard.get("/api/alerts").json()["alerts"] if a["alert"] == "hold_restored"]
    assert len(alerts) == 1 and alerts[0]["gate"] == "sim-1" and "fire drill" in alerts[0]["detail"]
    # "Open once" does not slip past the hold: release it first.
    r = guard.post("/api/doors/sim-1/open", json={"reason": "a parent"})
    assert r.status_code == 409 and r.json()["error"] == "err_door_held" and "release" in r.json()["detail"]
    assert not [a for a in svc.store.door_actions() if a.action == "open"]
    assert guard.post("/api/doors/sim-1/lock", json={"locked": False, "reason": "drill over"}).status_code == 200
    assert svc.store.door_holds() == []
    assert not [a for a in guard.get("/api/alerts").json()["alerts"] if a["alert"] == "hold_restored"]
    r = guard.post("/api/doors/sim-1/open", json={"reason": "a parent"})
    assert r.json().get("error") != "err_door_held"  # (no frame from sim-1 yet: refused for that reason only)
    rig.restart()
    assert rig.service.workers["sim-1"].manual_lock is None  # a release is final too


class Published(list):
    def __call__(self, topic, payload, qos=1, retain=False):
        self.append((topic, payload))


def test_a_pass_after_a_restart_does_not_open_a_held_door(tmp_path, mqtt_broker):
    """The hold is what keeps PASSes from opening the door: it must still be in force after a restart."""
    from controller.protocol.result import Decision

    config = load_config(write_config(tmp_path, mqtt_broker, ["sim-1"]))
    svc = ControllerService(config, http=False)
    svc.set_lock("sim-1", True, "gus", "intruder in the yard")
    svc.stop()
    svc = ControllerService(config, http=False)  # a restart (or a crash: the hold was stored first)
    sent = Published()
    svc.doors.publish = sent
    svc.decisions.publish = sent
    try:
        w = svc.workers["sim-1"]
        w.boot_id, w.last_sequence = 77, 5
        svc._on_decisions(w, [Decision("sim-1", 9.0, "PASS", "", 2, 36.6, sequence=60)], time.monotonic())
        commands = [json.loads(p) for t, p in sent if t.endswith("/cmd")]
        assert commands and not [c for c in commands if c["act"] == "open"], commands
        result = json.loads([p for t, p in sent if t.endswith("/result")][-1])
        assert result["decision"] == "PASS" and result["door"] == "locked"
        with pytest.raises(ValueError, match="release it first"):
            svc.manual_open("sim-1", "gus", "a teacher")
        svc.set_lock("sim-1", False, "gus", "all clear")
        svc._on_decisions(w, [Decision("sim-1", 19.0, "PASS", "", 3, 36.5, sequence=90)], time.monotonic())
        assert [c for c in (json.loads(p) for t, p in sent if t.endswith("/cmd")) if c["act"] == "open"]
    finally:
        svc.stop()


# ----------------------------------------------------------------------------- M4, L7: sessions and passwords


def user_cli(rig, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``thermogate user ...`` as its own process, as an admin would run it while the controller runs."""
    return subprocess.run([sys.executable, "-m", "controller.cli", "user", *args, "--config", str(rig.config_path)],
                          input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60)


def test_a_removed_user_re_added_as_admin_does_not_get_the_old_session_back(rig):
    guard, doctor = rig.client("gus"), rig.client("doc")
    assert guard.get("/api/me").json()["role"] == "guard"
    # Removed and added again as admin before the guard's tab makes its next request.
    assert user_cli(rig, "remove", "gus").returncode == 0
    r = user_cli(rig, "add", "gus", "--role", "admin", "--password-stdin", stdin="brand-new-admin-7\n")
    assert r.returncode == 0, r.stderr
    assert guard.get("/api/settings").status_code == 401  # the old cookie is not the new admin's
    assert guard.get("/api/me").status_code == 401
    assert rig.client("gus", "brand-new-admin-7").get("/api/me").json()["role"] == "admin"
    # A removal alone ends the session at once, though the CLI is another process.
    assert user_cli(rig, "remove", "doc").returncode == 0
    assert doctor.get("/api/me").status_code == 401


def test_a_new_password_ends_the_other_sessions(rig):
    a1, a2 = rig.client("ada"), rig.client("ada")
    doctor = rig.client("doc")
    # From the CLI: every session of that user ends.
    assert user_cli(rig, "passwd", "doc", "--password-stdin", stdin="clinic-second-8\n").returncode == 0
    assert doctor.get("/api/me").status_code == 401
    # In the console, a change needs the current password of whoever makes it ...
    r = a1.post("/api/users/ada/password", json={"password": "admin-second-8"})
    assert r.status_code == 403 and r.json()["error"] == "err_current_password"
    r = a1.post("/api/users/ada/password", json={"password": "admin-second-8", "current_password": WRONG})
    assert r.status_code == 403 and r.json()["error"] == "err_current_password"
    assert a2.get("/api/me").status_code == 200
    # ... and ends the user's other sessions, while the one that made it goes on.
    r = a1.post("/api/users/ada/password", json={"password": "admin-second-8", "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    assert a2.get("/api/me").status_code == 401
    assert a1.get("/api/me").json()["user"] == "ada"
    # That survives a restart too (the renewed epoch is on record).
    rig.restart()
    a1.base_url = rig.base
    assert a1.get("/api/me").json()["user"] == "ada"


def test_user_logout_ends_every_session_of_a_user_from_the_cli(rig):
    g1, g2, admin = rig.client("gus"), rig.client("gus"), rig.client("ada")
    url = rig.base.replace("http", "ws") + "/ws"
    with ws_connect(url, additional_headers={"Cookie": f"tg_session={g1.cookies['tg_session']}"},
                    open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["kind"] == "hello"
        r = user_cli(rig, "logout", "gus")
        assert r.returncode == 0, r.stderr
        assert wait_closed(ws) == 4401
    assert g1.get("/api/me").status_code == 401 and g2.get("/api/me").status_code == 401
    assert admin.get("/api/me").status_code == 200  # nobody else's
    assert rig.client("gus").get("/api/me").json()["user"] == "gus"  # the account stays
    assert user_cli(rig, "logout", "nobody").returncode != 0


def test_sessions_stand_while_the_store_cannot_be_read(rig):
    """A database outage (PostgreSQL restarting) must not throw the guards out of the live wall: nobody can
    change users meanwhile either, so sessions stand as last checked until the store answers again."""
    from controller.store import StoreUnavailable

    guard = rig.client("gus")
    url = rig.base.replace("http", "ws") + "/ws"
    store = rig.service.store
    with ws_connect(url, additional_headers={"Cookie": f"tg_session={guard.cookies['tg_session']}"},
                    open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["kind"] == "hello"

        def away(name):
            raise StoreUnavailable("database restarting")

        store.user_session_state = away
        try:
            assert guard.get("/api/me").json()["user"] == "gus"
            assert wait_closed(ws, timeout=3.0) is None  # still open after 3 checks
            assert rig.client().get("/api/me").status_code == 401  # no session is still no session
        finally:
            del store.user_session_state
        store.remove_user("gus")
        assert wait_closed(ws) == 4401  # and once it answers, the checks hold again
    assert guard.get("/api/me").status_code == 401


def test_weak_passwords_are_refused_with_the_rule():
    for weak in ("12345678", "password1", "aaaaaaaa", "abababab", "20250301", "Qwerty123", "gus-is-great"):
        assert weakness(weak, "gus") is not None, weak
    for fine in ("correct-horse-9", "night-shift-7", "门卫值班2025年"):
        assert weakness(fine, "gus") is None, fine


def test_weak_passwords_are_refused_by_the_console_and_the_cli(rig):
    admin = rig.client("ada")
    r = admin.post("/api/users", json={"name": "eve", "role": "guard", "password": "12345678"})
    assert r.status_code == 400 and r.json()["error"] == "err_password_weak"
    r = admin.post("/api/users/gus/password", json={"password": "12345678", "current_password": PASSWORD})
    assert r.status_code == 400 and r.json()["error"] == "err_password_weak"
    r = user_cli(rig, "add", "eve", "--role", "guard", "--password-stdin", stdin="12345678\n")
    assert r.returncode != 0 and "digits" in r.stderr
    assert "eve" not in {u.name for u in rig.service.store.users()}


def test_the_websocket_ends_with_removal_from_the_cli_and_with_the_session_limits(rig):
    url = rig.base.replace("http", "ws") + "/ws"
    guard, doctor = rig.client("gus"), rig.client("doc")
    with ws_connect(url, additional_headers={"Cookie": f"tg_session={guard.cookies['tg_session']}"},
                    open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["kind"] == "hello"
        assert user_cli(rig, "remove", "gus").returncode == 0
        assert wait_closed(ws) == 4401
    # The 24 h limit holds on an open socket, however busy the tab is.
    console = rig.service.http.config.app.state.console
    real = console.sessions.clock
    with ws_connect(url, additional_headers={"Cookie": f"tg_session={doctor.cookies['tg_session']}"},
                    open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["kind"] == "hello"
        console.sessions.clock = lambda: real() + auth.SESSION_MAX_S + 60
        assert wait_closed(ws) == 4401
    console.sessions.clock = real
    assert doctor.get("/api/me").status_code == 401
    # And 12 h without a request ends it too: the socket itself does not count as one.
    admin = rig.client("ada")
    with ws_connect(url, additional_headers={"Cookie": f"tg_session={admin.cookies['tg_session']}"},
                    open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["kind"] == "hello"
        time.sleep(1.5)
        console.sessions.clock = lambda: real() + auth.SESSION_IDLE_S + 60
        assert wait_closed(ws) == 4401
    console.sessions.clock = real


# ----------------------------------------------------------------------------- M5: TLS, /metrics, Host


def make_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it (openssl)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=thermogate test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                       "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                                       "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


def test_tls(tmp_path, mqtt_broker):
    ca, cert, key = make_certificate(tmp_path)
    config = write_config(tmp_path, mqtt_broker, GATES, extra=f'tls_cert = "{cert}"\ntls_key = "{key}"')
    svc = build_controller(load_config(config)).start()
    try:
        svc.store.add_user("ada", "admin", PASSWORD)
        base = f"https://127.0.0.1:{svc.http.port}"
        with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(ca)), timeout=10) as c:
            assert c.get("/login").status_code == 200
            r = c.post("/login", data={"username": "ada", "password": PASSWORD})
            assert r.status_code == 303
            assert "secure" in r.headers["set-cookie"].lower()  # the cookie never goes out in clear
            assert c.get("/api/me").json()["user"] == "ada"
        with httpx.Client(base_url=base, timeout=10) as untrusting:  # the system's CAs do not know it
            with pytest.raises(httpx.ConnectError):
                untrusting.get("/login")
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port gets nothing
            httpx.get(f"http://127.0.0.1:{svc.http.port}/login", timeout=5).raise_for_status()
    finally:
        svc.stop()


def test_tls_settings_are_checked(tmp_path, mqtt_broker):
    from controller.service.config import ConfigError

    with pytest.raises(ConfigError, match="no such file"):
        write_config(tmp_path, mqtt_broker, GATES, extra=f'tls_cert = "{tmp_path}/none.pem"')
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(ConfigError, match="both tls_cert and tls_key"):
        write_config(tmp_path, mqtt_broker, GATES, extra='tls_cert = "c.pem"')


def test_metrics_answer_this_machine_or_the_token(tmp_path, mqtt_broker, rig):
    with httpx.Client(base_url=rig.base, timeout=10) as c:
        assert c.get("/metrics").status_code == 200  # from 127.0.0.1: a Prometheus on this machine
    rig.stop()
    # From the network (here: behind a proxy that says so), not without the token.
    token = "metrics-token-0123456789"
    (tmp_path / "token").mkdir()
    r = make_rig(tmp_path / "token", mqtt_broker, f'metrics_token = "{token}"')
    try:
        with httpx.Client(base_url=r.base, timeout=10) as c:
            assert c.get("/metrics").status_code == 401
            assert c.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
            m = c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert m.status_code == 200 and "thermogate_" in m.text
    finally:
        r.stop()
    (tmp_path / "proxy").mkdir()
    r = make_rig(tmp_path / "proxy", mqtt_broker, 'trusted_proxies = ["127.0.0.1"]')
    try:
        with httpx.Client(base_url=r.base, timeout=10) as c:
            r403 = c.get("/metrics", headers={"X-Forwarded-For": "192.168.1.50"})
            assert r403.status_code == 403 and "fever" not in r403.text.lower()
    finally:
        r.stop()


def test_the_console_listens_on_loopback_unless_told_otherwise(tmp_path):
    from controller.service.config import from_dict

    assert from_dict({}).http.bind == "127.0.0.1"
    assert from_dict({"http": {"bind": "0.0.0.0"}}).http.bind == "0.0.0.0"


def test_a_foreign_host_header_is_refused(rig):
    """DNS rebinding: a page on evil.example re-points its name at the gatehouse; the browser then sends
    Host: evil.example, which the console does not answer."""
    guard = rig.client("gus")
    cookie = guard.cookies["tg_session"]
    with httpx.Client(base_url=rig.base, timeout=10) as c:
        for path in ("/login", "/api/me", "/healthz", "/metrics"):
            r = c.get(path, headers={"Host": f"evil.example:{rig.service.http.port}", "Cookie": f"tg_session={cookie}"})
            assert r.status_code == 400, (path, r.status_code)
        for host in ("127.0.0.1", f"127.0.0.1:{rig.service.http.port}", "localhost:8080", "[::1]:8080",
                     socket.gethostname(), "192.168.1.20"):
            assert c.get("/login", headers={"Host": host}).status_code == 200, host
    handshake = ("GET /ws HTTP/1.1\nHost: evil.example\nUpgrade: websocket\nConnection: Upgrade\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n"
                 f"Cookie: tg_session={cookie}\n")
    assert raw_request(rig.service.http.port, handshake).startswith(b"HTTP/1.1 403")
    ok = handshake.replace("evil.example", "127.0.0.1")
    assert raw_request(rig.service.http.port, ok).startswith(b"HTTP/1.1 101")


def test_allowed_hosts_are_configurable(tmp_path, mqtt_broker):
    r = make_rig(tmp_path, mqtt_broker, 'allowed_hosts = ["gate.school.example", "*.campus.example"]')
    try:
        with httpx.Client(base_url=r.base, timeout=10) as c:
            for host, status in (("gate.school.example", 200), ("north.campus.example:443", 200),
                                 ("campus.example.evil.example", 400), ("school.example", 400)):
                assert c.get("/login", headers={"Host": host}).status_code == status, host
    finally:
        r.stop()


# ----------------------------------------------------------------------------- L3: CSV formulas


def test_csv_exports_do_not_carry_formulas(rig, tmp_path):
    store = rig.service.store
    store.add_user("=cmd", "doctor", PASSWORD)  # a user name an attacker with admin rights might pick
    sid, aid = fever_alarm(store)
    store.acknowledge_alarm(aid, "=cmd", time.time())
    store.dispose_alarm(aid, recheck_c=None, outcome="admitted", user="@SUM(1+1)", time=time.time(),
                        note="=HYPERLINK(\"http://evil.example\",\"click\")")
    store.record_screening(Screening(uid="sim-1:formula", gate="sim-1", time=time.time(), decision="RETRY",
                                     reason="+1-1", track=1, estimate_c=None, face_c=None, distance_m=None,
                                     reduced_accuracy=False, boot=1, sequence=9, snapshot=None))
    admin = rig.client("ada")
    cells = []
    for path in ("/api/alarms.csv", "/api/screenings.csv"):
        r = admin.get(path)
        assert r.status_code == 200
        cells += [c for row in csv.reader(io.StringIO(r.text)) for c in row]
    texts = [c for c in cells if c and not c.replace(".", "", 1).replace("-", "", 1).isdigit()]
    dangerous = [c for c in texts if c[0] in "=+-@\t\r"]
    assert not dangerous, dangerous
    assert "'=cmd" in cells and "'@SUM(1+1)" in cells and "'+1-1" in cells
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    # The store's own export reads back what it wrote.
    buf = io.StringIO()
    export_screenings(store, None, None, buf)
    assert "'+1-1" in buf.getvalue()
    assert "+1-1" in [s.reason for s in read_screenings_csv(io.StringIO(buf.getvalue()))]


# ----------------------------------------------------------------------------- L8: absurd input


def test_absurd_input_gets_a_clear_refusal(rig):
    admin = rig.client("ada")
    for path in ("/api/report?date=9999-12-31", "/api/report?date=0001-01-01", "/report?date=9999-12-31",
                 "/api/screenings?since=9999-12-31T23:59%2B14:00", "/api/alarms?until=0001-01-01T00:00-14:00"):
        r = admin.get(path)
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
    nested = b"[" * 5000
    for path in ("/api/settings", "/api/alarms/1/dispose", "/api/doors/sim-1/open"):
        r = admin.post(path, content=nested, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "err_invalid", (path, r.status_code, r.text[:200])
    r = admin.post("/api/settings", content=b'{"a":' * 3000, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert admin.get("/api/me").status_code == 200  # and the console is fine


def _mqtt(broker):
    from controller.mqtt.link import Broker, connect

    return connect(Broker(broker.host, broker.port), f"attacker-{time.monotonic_ns()}")


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_forged_acks_cannot_fix_a_commands_outcome_and_a_huge_counter_is_refused(controller_service,
                                                                                   mqtt_broker):
    """Acks are version 2, tagged under the gate's sensor key: an ack from anyone else, first or not,
    does not become the recorded outcome of a command, and an absurd counter is a counted refusal."""
    svc = controller_service(("sim-1",))
    worker = svc.workers["sim-1"]
    action = svc.doors.send("sim-1", 7, "open", 3000, 1, cause="manual", user="gus", reason="test")
    ks = sensor_key(simulator_key("sim-1"))
    forger = _mqtt(mqtt_broker)
    forged = [
        ack_payload(sensor_key(b"k" * 32), "sim-1", action.counter, False, "bad_tag", "open", 0, 1, 0),
        json.dumps({"v": 1, "gate": "sim-1", "ctr": action.counter, "ok": False, "reason": "bad_tag",
                    "act": "open", "applied_ms": 0, "seq": 1}).encode(),
        json.dumps({"v": 2, "gate": "sim-1", "ctr": action.counter, "ok": False, "reason": "bad_tag",
                    "act": "open", "applied_ms": 0, "seq": 1, "last": 0}).encode(),
        ack_payload(ks, "sim-1", 2**80, True, "", "open", 3000, 1, 0),
    ]
    for payload in forged:
        forger.publish("thermogate/sim-1/ack", payload, qos=1).wait_for_publish(5)
    assert _wait(lambda: sum(worker.errors.values()) >= len(forged)), dict(worker.errors)
    time.sleep(0.3)
    (recorded,) = [a for a in svc.store.door_actions() if a.counter == action.counter]
    assert recorded.ack_ok is None and recorded.acked_at is None  # nothing forged was taken as the outcome
    # The gate's own ack is then recorded as the outcome.
    forger.publish("thermogate/sim-1/ack", ack_payload(ks, "sim-1", action.counter, True, "", "open", 3000, 1,
                                                       action.counter), qos=1).wait_for_publish(5)
    assert _wait(lambda: [a for a in svc.store.door_actions() if a.counter == action.counter][0].ack_ok is True)
    forger.disconnect()


def test_a_refused_command_the_controller_never_sent_raises_an_alert(controller_service, mqtt_broker):
    """L5: somebody else sends the gate door commands; the gate refuses them and says so in its (genuine)
    ack: the guards get an alert, not just a log line."""
    svc = controller_service(("sim-1",))
    ks = sensor_key(simulator_key("sim-1"))
    c = _mqtt(mqtt_broker)
    c.publish("thermogate/sim-1/ack", ack_payload(ks, "sim-1", 123456, False, "bad_tag", "open", 0, 1, 0),
              qos=1).wait_for_publish(5)
    assert _wait(lambda: svc.alerts.is_open("sim-1", "foreign_command_refused"))
    # A refusal of a command this controller did send is the existing "command_refused" alert, not this one.
    c.disconnect()


def test_no_traceback_in_the_log_for_any_of_it(rig, caplog):
    """The absurd requests above log no traceback either (they are refusals, not failures)."""
    import logging

    caplog.set_level(logging.WARNING)
    admin = rig.client("ada")
    admin.get("/api/report?date=9999-12-31")
    admin.post("/api/settings", content=b"[" * 5000, headers={"Content-Type": "application/json"})
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
