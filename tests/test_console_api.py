"""The console's HTTP API and WebSocket against a real controller service (real store, real broker):
who may do what, CSRF, login rate limiting, input checks, sessions across a restart, the catalogue."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from starlette.routing import Route, WebSocketRoute
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from controller.app import build_controller
from controller.console import codec
from controller.console.i18n import catalogue
from controller.service.config import load_config
from controller.service.events import FrameEvent
from controller.service.service import ControllerService
from controller.store import Screening, encode_snapshot
from tests.controller_harness import REPO, midday_zone, write_config

PASSWORD = "correct-horse-9"
GATES = ["sim-1", "sim-2"]
CONSOLE = REPO / "controller" / "console"

# Paths anyone may fetch: the login form, the stylesheet it uses, and the service's own monitoring.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("GET", "/metrics")}


class Rig:
    def __init__(self, tmp_path: Path, broker):
        self.tmp_path = tmp_path
        # The school's zone is one where it is about noon now (controller_harness.midday_zone): a test's alarms,
        # passes and readings fall on the day its pages then show, whatever the wall clock says.
        self.config_path = write_config(tmp_path, broker, GATES, timezone=midday_zone().key)
        self.service: ControllerService | None = None
        self.clients: list[httpx.Client] = []

    def start(self) -> ControllerService:
        self.service = build_controller(load_config(self.config_path)).start()
        return self.service

    def restart(self) -> ControllerService:
        self.service.stop()
        return self.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.service.http.port}"

    def client(self, user: str | None = None, password: str = PASSWORD) -> httpx.Client:
        c = httpx.Client(base_url=self.base, timeout=10)
        self.clients.append(c)
        if user is not None:
            r = c.post("/login", data={"username": user, "password": password})
            assert r.status_code == 303 and r.headers["location"] == "/", r.text
            c.headers["X-CSRF-Token"] = c.get("/api/me").json()["csrf"]
        return c

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self.service is not None:
            self.service.stop()


@pytest.fixture
def rig(tmp_path, mqtt_broker):
    r = Rig(tmp_path, mqtt_broker)
    svc = r.start()
    for name, role in (("ada", "admin"), ("gus", "guard"), ("doc", "doctor")):
        svc.store.add_user(name, role, PASSWORD)
    yield r
    r.stop()


def fever_alarm(store, gate: str = "sim-1", estimate: float = 38.4) -> tuple[int, int]:
    """A FEVER screening with its snapshot and its alarm, written as the controller writes them."""
    image = np.full((24, 32), 22.0, dtype=np.float32)
    image[6:14, 12:20] = 35.5
    sid = store.record_screening(Screening(
        uid=f"{gate}:test:{time.monotonic_ns()}", gate=gate, time=time.time(), decision="FEVER", reason="",
        track=1, estimate_c=estimate, face_c=35.5, distance_m=0.6, reduced_accuracy=False, boot=1, sequence=5,
        snapshot=encode_snapshot(image)))
    return sid, store.open_alarm(sid, gate, time.time())


def concrete(path: str, alarm_id: int, screening_id: int) -> str:
    return (path.replace("{alarm_id}", str(alarm_id)).replace("{screening_id}", str(screening_id))
            .replace("{gate}", "sim-1").replace("{alert_id}", "1").replace("{name}", "gus")
            .replace("{name:path}", "gus")
            .replace("{name}", "app.js"))


def console_routes(service) -> list[tuple[str, str]]:
    app = service.http.config.app
    out = []
    for r in app.routes:
        if isinstance(r, Route):
            out += [(m, r.path) for m in sorted(r.methods - {"HEAD"})]
        elif isinstance(r, WebSocketRoute):
            out.append(("WS", r.path))
    return out


def test_every_endpoint_refuses_anonymous_requests(rig):
    sid, aid = fever_alarm(rig.service.store)
    anon = rig.client()
    routes = console_routes(rig.service)
    assert len(routes) > 25  # the table is really there
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = concrete(path, aid, sid).replace("/static/{name}", "/static/app.js")
        if method == "WS":
            with pytest.raises(InvalidStatus) as refused:
                ws_connect(rig.base.replace("http", "ws") + url, open_timeout=5).close()
            assert refused.value.response.status_code == 403
        else:
            r = anon.request(method, url, json={})
            if path in ("/", "/report", "/cases", "/reports"):
                assert r.status_code == 303 and r.headers["location"] == "/login", (method, path)
            else:
                assert r.status_code == 401, (method, path, r.status_code, r.text)
                assert r.json()["error"] == "err_login_required"
        checked += 1
    assert checked == len(routes) - len(PUBLIC)
    # The only public asset is the login page's stylesheet.
    assert anon.get("/static/app.css").status_code == 200
    for name in ("app.js", "common.js", "index.html", "messages.json", "alarm.wav", "report.js"):
        assert anon.get(f"/static/{name}").status_code == 401
    # A forged cookie is no session.
    anon.cookies.set("tg_session", "made-up")
    assert anon.get("/api/me").status_code == 401


def test_roles(rig):
    sid, aid = fever_alarm(rig.service.store)
    guard, doctor, admin = rig.client("gus"), rig.client("doc"), rig.client("ada")
    for c in (guard, doctor, admin):
        assert c.get("/api/gates").status_code == 200
        assert c.get("/api/screenings").status_code == 200
        assert c.get(f"/api/alarms/{aid}").status_code == 200
        assert c.get("/api/report").status_code == 200
        assert c.get("/").status_code == 200
    admin_only = [("GET", "/api/settings"), ("POST", "/api/settings"), ("GET", "/api/audit"), ("POST", "/api/users"),
                  ("POST", "/api/users/doc/role"), ("POST", "/api/users/doc/password"),
                  ("POST", "/api/users/doc/remove")]
    for c in (guard, doctor):
        for method, url in admin_only:
            r = c.request(method, url, json={"threshold_c": 36.0, "role": "admin", "password": "x" * 12,
                                             "name": "eve"})
            assert r.status_code == 403, (method, url)
            assert r.json()["error"] == "err_forbidden"
    # Doors: guards and admins, not doctors.
    assert doctor.post("/api/doors/sim-1/lock", json={"reason": "r", "locked": True}).status_code == 403
    assert guard.post("/api/doors/sim-1/lock", json={"reason": "drill", "locked": True}).status_code == 200
    assert admin.post("/api/doors/sim-1/lock", json={"reason": "drill over", "locked": False}).status_code == 200
    # Dispositions: doctors and admins, not guards; anyone may acknowledge.
    body = {"outcome": "sent_home", "recheck_c": 38.2, "note": "mother called"}
    assert guard.post(f"/api/alarms/{aid}/dispose", json=body).status_code == 403
    assert guard.post(f"/api/alarms/{aid}/ack", json={}).status_code == 200
    assert doctor.post(f"/api/alarms/{aid}/dispose", json=body).status_code == 200
    assert admin.get("/api/settings").status_code == 200
    # Nothing refused above reached the store.
    actions = [e.action for e in rig.service.store.audit()]
    assert actions.count("door_lock") == 1 and actions.count("door_release") == 1
    assert "settings_changed" not in actions and "user_added" not in actions


def test_csrf_token_is_required_on_every_state_change(rig):
    sid, aid = fever_alarm(rig.service.store)
    admin = rig.client("ada")
    token = admin.headers.pop("X-CSRF-Token")
    posts = [(p, concrete(p, aid, sid)) for m, p in console_routes(rig.service) if m == "POST" and p != "/login"]
    assert len(posts) >= 10
    for _path, url in posts:
        r = admin.post(url, json={"reason": "x", "locked": True})
        assert r.status_code == 403 and r.json()["error"] == "err_csrf", url
        r = admin.post(url, json={"reason": "x", "locked": True}, headers={"X-CSRF-Token": "0" * 64})
        assert r.status_code == 403, url
    # The right token from another site's page is still refused.
    r = admin.post("/api/doors/sim-1/lock", json={"reason": "x", "locked": True},
                   headers={"X-CSRF-Token": token, "Origin": "http://evil.example"})
    assert r.status_code == 403
    assert rig.service.workers["sim-1"].manual_lock is None
    r = admin.post("/api/doors/sim-1/lock", json={"reason": "x", "locked": True}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and rig.service.workers["sim-1"].manual_lock["user"] == "ada"
    # A login from another site's form is refused too.
    r = rig.client().post("/login", data={"username": "ada", "password": PASSWORD},
                          headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "tg_session" not in r.headers.get("set-cookie", "")


def test_session_cookie_flags_and_security_headers(rig):
    c = rig.client()
    r = c.post("/login", data={"username": "gus", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    page = c.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    # Offline: the page and its script load nothing from another host.
    for text in (page.text, c.get("/static/common.js").text, c.get("/static/app.js").text,
                 c.get("/static/app.css").text):
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), "an asset from elsewhere"
        assert "http://" not in text and "https://" not in text


def test_login_rate_limit(rig):
    c = rig.client()
    for _ in range(5):
        assert c.post("/login", data={"username": "ada", "password": "wrong"}).status_code == 401
    r = c.post("/login", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "tg_session" not in r.headers.get("set-cookie", "")
    assert c.get("/api/me").status_code == 401
    failed = [e for e in rig.service.store.audit() if e.action == "login_failed"]
    assert len(failed) == 5 and failed[0].detail["name"] == "ada"
    # Another name from the same address is limited too (the address counts), ...
    assert c.post("/login", data={"username": "gus", "password": PASSWORD}).status_code == 429
    # ... and the page says so in the default language.
    assert "秒后再试" in c.post("/login", data={"username": "gus", "password": "x"}).text


def test_input_validation(rig):
    sid, aid = fever_alarm(rig.service.store)
    admin = rig.client("ada")

    def refused(method, url, body=None, status=400, key=None):
        r = admin.request(method, url, json=body) if body is not None else admin.request(method, url)
        assert r.status_code == status, (url, r.status_code, r.text)
        if key:
            assert r.json()["error"] == key, r.json()
        return r

    # Doors: a reason is required; unknown gates and bad values are refused.
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": None}):
        refused("POST", "/api/doors/sim-1/open", body, key="err_reason_required")
        refused("POST", "/api/doors/sim-1/lock", {**body, "locked": True}, key="err_reason_required")
    refused("POST", "/api/doors/sim-1/lock", {"reason": "x", "locked": "yes"}, key="err_invalid")
    refused("POST", "/api/doors/nowhere/open", {"reason": "x"}, 404)
    refused("POST", "/api/doors/sim-1/open", {"reason": "x", "ms": 10**9}, key="err_invalid")
    refused("POST", "/api/doors/sim-1/open", {"reason": "x" * 501}, key="err_invalid")
    # Dispositions.
    refused("POST", f"/api/alarms/{aid}/dispose", {"outcome": "cured"}, key="err_outcome")
    refused("POST", f"/api/alarms/{aid}/dispose", {"outcome": "admitted", "recheck_c": 52}, key="err_invalid")
    refused("POST", f"/api/alarms/{aid}/dispose", {"outcome": "admitted", "recheck_c": "hot"}, key="err_invalid")
    refused("POST", f"/api/alarms/{aid}/dispose", {"outcome": "admitted", "recheck_c": True}, key="err_invalid")
    refused("POST", "/api/alarms/99999/dispose", {"outcome": "admitted"}, 404)
    refused("POST", "/api/alarms/abc/ack", {}, key="err_invalid")
    refused("GET", "/api/alarms/99999", status=404)
    # Bodies.
    r = admin.post(f"/api/alarms/{aid}/dispose", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = admin.post(f"/api/alarms/{aid}/dispose", content=b"[1]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = admin.post(f"/api/alarms/{aid}/dispose", content=b" " * 20000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    # Queries.
    refused("GET", "/api/screenings?decision=MAYBE", key="err_invalid")
    refused("GET", "/api/screenings?gate=nowhere", key="err_invalid")
    refused("GET", "/api/screenings?since=yesterday", key="err_invalid")
    refused("GET", "/api/screenings?limit=0", key="err_invalid")
    refused("GET", "/api/screenings?limit=100000", key="err_invalid")
    refused("GET", "/api/alarms?status=whatever", key="err_invalid")
    refused("GET", "/api/report?date=2025-13-45", key="err_invalid")
    assert admin.get("/api/screenings?since=2020-01-01T08:00&until=2999-01-01").status_code == 200
    # Settings and users.
    refused("POST", "/api/settings", {"threshold_c": 45}, key="err_invalid")
    refused("POST", "/api/settings", {"retention_days": 0.5}, key="err_invalid")
    refused("POST", "/api/settings", {}, key="err_invalid")
    refused("POST", "/api/users", {"name": "eve", "role": "root", "password": "x" * 10}, key="err_invalid")
    refused("POST", "/api/users", {"name": "eve", "role": "guard", "password": "short"}, key="err_password_short")
    refused("POST", "/api/users", {"name": "gus", "role": "guard", "password": "another-pass-9"}, key="err_invalid")
    refused("POST", "/api/users/ada/remove", {}, key="err_self")
    refused("POST", "/api/users/nobody/role", {"role": "guard"}, 404)
    # Nothing above changed the alarm.
    assert rig.service.store.alarm(aid).status == "open"


def test_alarm_workflow_history_and_report(rig):
    store = rig.service.store
    sid, aid = fever_alarm(store, estimate=38.6)
    guard, doctor = rig.client("gus"), rig.client("doc")
    active = guard.get("/api/alarms/active").json()["alarms"]
    assert [a["id"] for a in active] == [aid] and active[0]["estimate_c"] == 38.6
    detail = guard.get(f"/api/alarms/{aid}").json()
    snap = detail["snapshot"]
    assert snap["min_c"] == 22.0 and snap["max_c"] == 35.5 and len(snap["data"]) == 2048  # 1536 bytes base64
    assert guard.post(f"/api/alarms/{aid}/ack", json={}).json()["acknowledged_by"] == "gus"
    assert doctor.get("/api/alarms/active").json()["alarms"][0]["status"] == "acknowledged"
    r = doctor.post(f"/api/alarms/{aid}/dispose", json={"outcome": "observation_room", "recheck_c": 37.9,
                                                        "note": "rested 20 min"})
    assert r.status_code == 200 and r.json()["status"] == "disposed"
    assert doctor.post(f"/api/alarms/{aid}/dispose", json={"outcome": "admitted"}).status_code == 400  # once
    assert guard.get("/api/alarms/active").json()["alarms"] == []
    report = guard.get("/api/report").json()
    assert report["total"]["dispositions"]["observation_room"] == 1 and report["total"]["confirmed_fevers"] == 1
    assert report["alarms"][0]["note"] == "rested 20 min"
    page = guard.get("/report").text
    assert "留观室" in page and "rested 20 min" in page and "确认发热" in page
    # History with filters and the CSV exports.
    rows = guard.get("/api/screenings", params={"gate": "sim-1", "decision": "FEVER"}).json()["screenings"]
    assert [s["id"] for s in rows] == [sid]
    assert guard.get("/api/screenings", params={"decision": "PASS"}).json()["screenings"] == []
    assert guard.get("/api/screenings", params={"until": "2000-01-01"}).json()["screenings"] == []
    assert guard.get(f"/api/screenings/{sid}").json()["snapshot"]["max_c"] == 35.5
    csv_text = guard.get("/api/screenings.csv", params={"decision": "FEVER"}).text
    lines = csv_text.strip().split("\n")
    assert lines[0].startswith("id,gate,local_time") and len(lines) == 2 and ",FEVER," in lines[1]
    alarms_csv = guard.get("/api/alarms.csv").text
    assert "observation_room" in alarms_csv and "rested 20 min" in alarms_csv
    actions = [e.action for e in store.audit()]
    assert "alarm_acknowledged" in actions and "alarm_disposed" in actions and "export_screenings" in actions


def test_settings_apply_to_every_gate_now(rig):
    admin = rig.client("ada")
    r = admin.post("/api/settings", json={"threshold_c": 37.8, "retention_days": 14})
    assert r.status_code == 200 and r.json()["changed"] == {"threshold_c": 37.8, "retention_days": 14}
    svc = rig.service
    assert all(w.config.threshold_c == 37.8 for w in svc.workers.values())
    assert svc.config.retention_days == 14
    assert admin.get("/api/me").json()["threshold_c"] == 37.8
    assert [e.detail for e in svc.store.audit() if e.action == "settings_changed"] == \
        [{"threshold_c": 37.8, "retention_days": 14}]


def test_user_management_from_the_console(rig):
    admin = rig.client("ada")
    eve = {"name": "eve", "role": "guard", "password": "night-shift-7"}
    assert admin.post("/api/users", json=eve).status_code == 201
    eve = rig.client("eve", "night-shift-7")
    assert eve.get("/api/me").json()["role"] == "guard"
    assert admin.post("/api/users/eve/role", json={"role": "doctor"}).status_code == 200
    assert eve.get("/api/me").json()["role"] == "doctor"  # at once, same session
    assert admin.post("/api/users/eve/password", json={"password": "new-password-1",
                                                       "current_password": PASSWORD}).status_code == 200
    assert eve.get("/api/me").status_code == 401  # a new password ends her sessions
    rig.client("eve", "new-password-1")
    assert admin.post("/api/users/eve/remove", json={}).status_code == 200
    assert rig.client().post("/login", data={"username": "eve", "password": "new-password-1"}).status_code == 401
    names = {u["name"] for u in admin.get("/api/settings").json()["users"]}
    assert names == {"ada", "gus", "doc"}
    # The last admin stays.
    assert admin.post("/api/users/ada/role", json={"role": "guard"}).json()["error"] == "err_last_admin"


def test_websocket_live_and_refused_after_logout(rig):
    sid, aid = fever_alarm(rig.service.store)
    guard = rig.client("gus")
    cookie = f"tg_session={guard.cookies['tg_session']}"
    url = rig.base.replace("http", "ws") + "/ws"
    with ws_connect(url, additional_headers={"Cookie": cookie}, open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["kind"] == "hello" and hello["user"] == "gus"
        assert {g["gate"] for g in hello["gates"]} == set(GATES)
        assert [a["id"] for a in hello["alarms"]] == [aid]
        # A frame published on the hub arrives as one binary message.
        image = np.linspace(20, 36, 768, dtype=np.float32).reshape(24, 32)
        deadline = time.monotonic() + 5
        got = None
        while got is None and time.monotonic() < deadline:
            rig.service.live.publish(FrameEvent(gate="sim-2", image=image, state="idle", sequence=7,
                                                time=time.time(), face_box=[2, 3, 9, 11], distance_m=0.7,
                                                reference_ok=True, ambient_c=21.0))
            try:
                m = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            if isinstance(m, bytes):
                got = m
        header, pixels = codec.decode_frame(got)
        assert header["gate"] == "sim-2" and header["face_box"] == [2, 3, 9, 11]
        assert np.abs(pixels - image).max() < (36 - 20) / 254
        # Logging out closes the open socket ...
        assert guard.post("/logout").status_code == 204
        code = None
        deadline = time.monotonic() + 5
        while code is None and time.monotonic() < deadline:
            try:
                ws.recv(timeout=1)
            except TimeoutError:
                continue
            except Exception:
                code = ws.close_code
        assert code == 4401
    # ... and a new one is refused.
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, additional_headers={"Cookie": cookie}, open_timeout=5)
    assert refused.value.response.status_code == 403
    # A socket from another site's page is refused even with a live session.
    doc = rig.client("doc")
    with pytest.raises(InvalidStatus):
        ws_connect(url, additional_headers={"Cookie": f"tg_session={doc.cookies['tg_session']}",
                                            "Origin": "http://evil.example"}, open_timeout=5)


def test_sessions_and_alarms_survive_a_controller_restart(rig):
    sid, aid = fever_alarm(rig.service.store)
    guard, doctor = rig.client("gus"), rig.client("doc")
    assert doctor.post("/logout").status_code == 204
    rig.restart()
    for c in (guard, doctor):
        c.base_url = rig.base
    assert guard.get("/api/me").json()["user"] == "gus"  # still logged in
    assert [a["id"] for a in guard.get("/api/alarms/active").json()["alarms"]] == [aid]  # still open
    assert doctor.get("/api/me").status_code == 401  # a logout stays a logout


def test_alerts_are_shown_until_someone_deals_with_them(rig):
    svc = rig.service
    svc.alerts.raise_("sim-1", "resume_hold", "PASS after a restart: open by hand")
    svc.alerts.raise_(None, "store_failed", "disk full")
    guard = rig.client("gus")
    shown = guard.get("/api/alerts").json()["alerts"]
    assert [(a["gate"], a["alert"]) for a in shown] == [("sim-1", "resume_hold"), (None, "store_failed")]
    rig.restart()  # still open after a controller restart (store_failed resolves itself: the store works)
    guard.base_url = rig.base
    shown = guard.get("/api/alerts").json()["alerts"]
    assert [(a["gate"], a["alert"]) for a in shown] == [("sim-1", "resume_hold")]
    alert_id = shown[0]["id"]
    assert rig.client().post(f"/api/alerts/{alert_id}/dismiss", json={}).status_code == 401
    assert guard.post(f"/api/alerts/{alert_id}/dismiss", json={}).json() == {"id": alert_id, "open": False}
    assert guard.get("/api/alerts").json()["alerts"] == []
    assert guard.post(f"/api/alerts/{alert_id}/dismiss", json={}).status_code == 404
    assert ("gus", "alert_dismissed") in [(e.user, e.action) for e in rig.service.store.audit()]
    assert rig.service.store.alerts(open_only=True) == []


@pytest.mark.slow  # 83 s on a shared 2-core machine: a dozen thermogate processes, each hashing passwords
def test_user_cli(tmp_path):
    db = tmp_path / "users.db"

    def run(*args, stdin: str = ""):
        return subprocess.run([sys.executable, "-m", "controller.cli", "user", *args, "--store", str(db)],
                              input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60)

    r = run("add", "root", "--role", "admin", "--password-stdin", stdin="first-password\n")
    assert r.returncode == 0, r.stderr
    assert run("add", "root", "--role", "admin", "--password-stdin", stdin="first-password\n").returncode == 2
    assert "at least 8" in run("add", "x", "--role", "guard", "--password-stdin", stdin="short\n").stderr
    assert "--password-stdin" in run("add", "y", "--role", "guard").stderr  # no terminal to ask on
    assert run("passwd", "root", "--password-stdin", stdin="second-password\n").returncode == 0
    assert run("add", "g", "--role", "guard", "--password-stdin", stdin="guard-password\n").returncode == 0
    assert "last admin" in run("remove", "root").stderr
    assert run("role", "g", "doctor").returncode == 0
    listing = run("list").stdout
    assert re.search(r"^root\s+admin", listing, re.M) and re.search(r"^g\s+doctor", listing, re.M)
    assert run("remove", "g").returncode == 0
    from controller.store import open_store

    with open_store(str(db)) as store:
        assert store.verify_user("root", "second-password") is not None
        assert store.verify_user("root", "first-password") is None
        assert [u.name for u in store.users()] == ["root"]
        assert [e.action for e in store.audit()] == ["user_added", "password_set", "user_added", "user_role",
                                                     "user_removed"]


def test_catalogue_has_every_key_in_both_languages():
    cat = catalogue()
    assert set(cat["zh"]) == set(cat["en"])
    for key in cat["zh"]:
        for lang in ("zh", "en"):
            assert cat[lang][key].strip(), (lang, key)
        assert set(re.findall(r"\{\w+\}", cat["zh"][key])) == set(re.findall(r"\{\w+\}", cat["en"][key])), key
    # Every key the code names is in the catalogue ...
    used = set()
    js = (CONSOLE / "static" / "app.js").read_text() + (CONSOLE / "static" / "common.js").read_text()
    used |= set(re.findall(r"""\bt\("([a-z_A-Z]+)"[,)]""", js))
    used |= set(re.findall(r'data-t="([a-zA-Z_]+)"', (CONSOLE / "static" / "index.html").read_text()))
    used |= set(re.findall(r"""t\(\w+, ['"]([a-z_A-Z]+)['"][,)]""", (CONSOLE / "pages.py").read_text()))
    for py in ("web.py", "api_part.py", "api.py", "alarms_api.py", "doors_api.py", "history_api.py", "admin_api.py",
               "routes.py"):  # the JSON API in its parts
        used |= set(re.findall(r"""["'](err_[a-z_]+)["']""", (CONSOLE / py).read_text()))
    missing = sorted(k for k in used if k not in cat["zh"])
    assert not missing, missing
    # ... and so is every value the app builds keys from.
    from controller.protocol import result as D
    from controller.screening import tracker as T
    from controller.store.records import ALARM_STATUSES, OUTCOMES, ROLES

    dynamic = ([f"dec_{d}" for d in D.DECISIONS] + [f"reason_{r}" for r in D.RETRY_REASONS + D.BLOCKED_REASONS]
               + [f"state_{s}" for s in (*T.STATES, "no_eeprom")]
               + [f"status_{s}" for s in ALARM_STATUSES] + [f"outcome_{o}" for o in OUTCOMES]
               + [f"role_{r}" for r in ROLES] + [f"door_done_{a}" for a in ("open", "lock", "release")])
    assert not [k for k in dynamic if k not in cat["zh"]]


def test_alarm_sound_is_a_wav_that_rings():
    import io
    import wave

    from controller.console.sound import alarm_wav

    with wave.open(io.BytesIO(alarm_wav())) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
        seconds = w.getnframes() / w.getframerate()
    assert 1.0 < seconds < 2.0
    assert np.abs(samples).max() > 20000  # loud
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(samples.size, 1 / 16000)
    peak = freqs[np.argmax(spectrum)]
    assert 600 < peak < 900
