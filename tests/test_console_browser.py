"""The console in a real headless Chromium (Debian's package, driven by Playwright) against a real
controller service, a real mosquitto and a virtual gate running the firmware: a guard's shift.

Chromium comes from Debian (`apt-get install -y chromium`; `make test` installs it). Playwright's
own browser download is never used.
"""

from __future__ import annotations

import time

import pytest

from controller.app import build_controller
from controller.service.config import load_config
from controller.service.service import ControllerService
from sim.broker import free_port
from tests.console_pages import login as console_login
from tests.console_pages import wait_js
from tests.controller_harness import midday_zone, write_config

PASSWORD = "browser-test-pw"
NOTE = "家长已接回 note-4711"
REASON = "校车司机送药 reason-0815"


class Controller:
    """A ControllerService on a fixed port, so that a restart comes back where the page looks for it."""

    def __init__(self, tmp_path, broker, gates):
        # The school's zone is one where it is about noon now: an alarm and the day's report the page then
        # opens fall on the same school day, whatever the wall clock says.
        self.config = load_config(write_config(tmp_path, broker, gates, http_port=free_port(),
                                               timezone=midday_zone().key))
        self.service: ControllerService | None = None

    def start(self) -> ControllerService:
        self.service = build_controller(self.config).start()
        return self.service

    def restart(self) -> ControllerService:
        self.service.stop()
        time.sleep(1.0)
        return self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.http.port}"


def staffed(tmp_path, broker, gates):
    """A fixture's body: a Controller started with an admin (ada) and a guard (gus), stopped after the test."""
    c = Controller(tmp_path, broker, gates)
    svc = c.start()
    svc.store.add_user("ada", "admin", PASSWORD)
    svc.store.add_user("gus", "guard", PASSWORD)
    yield c
    c.service.stop()


@pytest.fixture
def controller(tmp_path, mqtt_broker):
    yield from staffed(tmp_path, mqtt_broker, ["sim-1", "sim-2"])  # sim-2 is registered but never comes online


@pytest.fixture
def page(pages):
    return pages(viewport={"width": 1280, "height": 900})


def login(page, url: str, user: str) -> None:
    """``user`` signed in with the tests' password, on the wall with its socket connected."""
    console_login(page, url, user, PASSWORD)
    page.wait_for_selector("#conn.ok", timeout=10000)


def audio_playing(page, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate("!document.getElementById('alarm-audio').paused"):
            return True
        time.sleep(0.1)
    return False


def canvas_signature(page, selector: str) -> int:
    return page.evaluate("""sel => { const c = document.querySelector(sel);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;
        for (let i = 0; i < d.length; i += 37) h = (h * 31 + d[i]) | 0; return h; }""", selector)


def ws_refused(page) -> bool:
    return page.evaluate("""() => new Promise(resolve => {
        const ws = new WebSocket('ws://' + location.host + '/ws');
        ws.onopen = () => { ws.close(); resolve(false); };
        ws.onerror = () => resolve(true);
        ws.onclose = () => resolve(true);
    })""")


def test_a_guards_shift(controller, virtual_gates, page):
    url = controller.url
    # Login: a wrong password is refused on the page, the right one opens the live wall.
    page.goto(url + "/")
    assert page.url == url + "/login"
    page.fill("#username", "ada")
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    assert "用户名或密码错误" in page.inner_text("#login-error")
    login(page, url, "ada")
    assert page.inner_text("#nav a[data-view=live]") == "实时监控"

    # A tile updating from a virtual gate; the absent gate shows offline.
    virtual_gates(1, "fever", seed=0)
    page.wait_for_selector("#tile-sim-1 .online.ok", timeout=20000)
    wait_js(page, "window.tgStats.drawn > 8")
    first = canvas_signature(page, "#tile-sim-1 canvas")
    wait_js(page, "n => window.tgStats.drawn > n + 8", page.evaluate("window.tgStats.drawn"))
    assert canvas_signature(page, "#tile-sim-1 canvas") != first
    assert "离线" in page.inner_text("#tile-sim-2 .online")
    assert "sim-1" in page.inner_text("#tile-sim-1 .gate-name")
    assert "刷新率" not in page.inner_text("#tile-sim-1 .health")  # 8 Hz: not flagged as slow
    if page.is_visible("#sound-enable"):
        page.click("#sound-enable")  # the guard's first click of the shift lets the page play sound

    # The fever scenario: banner, red tile, the alarm sound playing.
    page.wait_for_selector("#alarm-banner:not([hidden]) .alarm-item.open", timeout=45000)
    assert "sim-1" in page.inner_text("#alarm-list")
    assert page.is_visible("#tile-sim-1.alarm")
    assert audio_playing(page), "the alarm sound does not play"
    store = controller.service.store
    alarm_id = int(page.get_attribute("#alarm-list .alarm-item.open", "data-alarm"))
    assert store.alarm(alarm_id).status == "open"

    # A reload and a controller restart: the alarm is still there, and the page reconnects by itself.
    page.reload()
    page.wait_for_selector(f"#alarm-list .alarm-item.open[data-alarm='{alarm_id}']", timeout=10000)
    controller.restart()
    page.wait_for_selector("#conn.bad", timeout=10000)
    page.wait_for_selector("#conn.ok", timeout=30000)
    page.wait_for_selector(f"#alarm-list .alarm-item.open[data-alarm='{alarm_id}']", timeout=10000)
    store = controller.service.store

    # The alarm opens with the deciding frame's thermal snapshot; acknowledge, then the disposition.
    page.click(f"#alarm-list .alarm-item[data-alarm='{alarm_id}'] .alarm-open")
    page.wait_for_selector("#alarm-dialog[open]")
    assert "sim-1" in page.inner_text("#ad-gate")
    assert page.evaluate("""() => { const c = document.getElementById('ad-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
        return seen.size; }""") > 20  # a real image, not a blank canvas
    page.click("#ad-ack")
    wait_js(page, f"!document.querySelector(\"#alarm-list .alarm-item.open[data-alarm='{alarm_id}']\")")
    assert store.alarm(alarm_id).acknowledged_by == "ada"
    page.wait_for_selector("#ad-form:not([hidden])")
    page.fill("#ad-form input[name=recheck_c]", "38.4")
    page.check("#ad-form input[value=sent_home]")
    page.fill("#ad-form textarea[name=note]", NOTE)
    page.click("#ad-save")
    wait_js(page, "document.getElementById('ad-msg').textContent.includes('处置已保存')")
    alarm = store.alarm(alarm_id)
    assert (alarm.status, alarm.outcome, alarm.recheck_c, alarm.note, alarm.disposed_by) == \
        ("disposed", "sent_home", 38.4, NOTE, "ada")
    page.click("#alarm-dialog [data-close]")
    assert not page.is_visible(f"#alarm-list .alarm-item[data-alarm='{alarm_id}']")
    if not page.is_visible("#alarm-list .alarm-item.open"):  # no newer fever in the meantime
        assert not audio_playing(page, timeout=2.0)

    # The disposition is in the day's report (and the printable page).
    page.goto(url + "/#today")
    wait_js(page, "document.querySelector('#today-dispositions').textContent.includes('送回家 1')")
    page.goto(url + "/report")
    assert NOTE in page.inner_text("#report-alarms")
    assert "送回家 1" in page.inner_text("#report-dispositions")
    assert page.is_visible("#print-btn")

    # A door override: refused without a reason, sent with one, and in the audit trail.
    page.goto(url + "/")
    page.wait_for_selector("#tile-sim-1 .door-btn")
    page.click("#tile-sim-1 .door-btn")
    page.wait_for_selector("#door-dialog[open]")
    page.click("#dd-submit")
    assert "必须填写原因" in page.inner_text("#dd-msg")
    assert not [e for e in store.audit() if e.action == "door_open"]
    page.fill("#dd-reason", REASON)
    page.click("#dd-submit")
    wait_js(page, "document.getElementById('dd-msg').textContent.includes('已发送开门指令')")
    opened = [e for e in store.audit() if e.action == "door_open"]
    assert len(opened) == 1 and opened[0].user == "ada" and opened[0].detail["reason"] == REASON
    manual = [a for a in store.door_actions(gate="sim-1") if a.cause == "manual"]
    assert len(manual) == 1 and manual[0].action == "open" and manual[0].reason == REASON
    page.click("#door-dialog [data-close]")
    page.goto(url + "/#history")
    page.wait_for_selector("#audit-table tr[data-action=door_open]")
    assert REASON in page.inner_text("#audit-table tr[data-action=door_open]")

    # An alert a person must act on shows on the page until someone deals with it.
    page.goto(url + "/")
    page.wait_for_selector("#conn.ok")
    controller.service.alerts.raise_("sim-1", "command_refused", "open refused by the gate: stale")
    page.wait_for_selector("#alert-bar:not([hidden]) li[data-alert=command_refused]")
    assert "闸机拒绝了开门指令" in page.inner_text("#alert-bar")
    page.click("#alert-bar li[data-alert=command_refused] .alert-dismiss")
    # The dismissed alert leaves the strip (another alert raised meanwhile, e.g. a slow ack under load, may stay).
    page.wait_for_selector("#alert-bar li[data-alert=command_refused]", state="detached")
    assert not controller.service.alerts.is_open("sim-1", "command_refused")

    # Logout: back to the login page, and the WebSocket is refused from then on.
    assert not ws_refused(page)
    page.click("#logout")
    page.wait_for_url(url + "/login")
    assert ws_refused(page)
    assert page.evaluate("fetch('/api/me').then(r => r.status)") == 401
    page.goto(url + "/")
    assert page.url == url + "/login"


def test_a_guard_sees_no_settings_and_can_read_english(controller, page):
    url = controller.url
    login(page, url, "gus")
    assert not page.is_visible("#nav a[data-view=settings]")
    page.goto(url + "/#settings")  # asking for it shows the live wall instead
    assert page.is_visible("#view-live") and not page.is_visible("#view-settings")
    assert page.evaluate("fetch('/api/settings').then(r => r.status)") == 403
    with page.expect_navigation():
        page.select_option("#lang", "en")  # the page reloads in English
    wait_js(page, "document.querySelector('#nav a[data-view=live]').textContent === 'Live'")
    page.wait_for_selector("#tile-sim-1")
    assert "Offline" in page.inner_text("#tile-sim-1 .online")
    assert "Guard" in page.inner_text("#who")
    page.click("#logout")
    page.wait_for_url(url + "/login")
    assert "Log in" in page.inner_text("#login-submit")


def test_a_gate_refreshing_too_slowly_is_flagged_on_its_tile(controller, virtual_gates, page):
    """A gate set below 4 Hz (frame_rate.SLOWEST_SCREENING_HZ) decides few people: its tile says so, in red,
    and asks the guard to call the installer; the gate that is offline is not flagged."""
    login(page, controller.url, "gus")
    virtual_gates(1, "normal_queue", seed=0, refresh_hz=2.0)
    page.wait_for_selector("#tile-sim-1 .online.ok", timeout=20000)
    page.wait_for_selector("#tile-sim-1 .health.bad", timeout=10000)
    assert "传感器刷新率 2 Hz 过低" in page.inner_text("#tile-sim-1 .health")
    assert "刷新率" not in page.inner_text("#tile-sim-2 .health")
    summary = next(s for s in controller.service.gate_summaries() if s.gate == "sim-1")
    assert (summary.refresh_hz, summary.slow_refresh) == (2.0, True)


def test_a_noisy_sensor_is_flagged_on_its_tile(controller, virtual_gates, page):
    """A gate whose sensor is noisier than sensor.noise.NOISY_NETD_1HZ_C (as its pipeline measures it on its
    images while nobody is in view) decides fewer people: its tile says so, in red, with the noise, and asks the
    guard to call the installer; a gate with a typical sensor is not flagged."""
    from dataclasses import replace

    from controller.sensor.noise import NOISY_NETD_1HZ_C
    from sim.scenes.world import DEV

    login(page, controller.url, "gus")
    noisy = replace(DEV, netd_1hz_c=(0.3, 0.3))  # 0.3 degC at 1 Hz at the array's centre: 0.85 a reading at 8 Hz
    virtual_gates(1, "normal_queue", seed=0, world=noisy)
    page.wait_for_selector("#tile-sim-1 .online.ok", timeout=20000)
    # from its first status once the noise is measured (a status every 5 s)
    wait_js(page, "document.querySelector('#tile-sim-1 .health').textContent.includes('噪声')")
    assert "传感器噪声过大" in page.inner_text("#tile-sim-1 .health")
    assert "bad" in page.get_attribute("#tile-sim-1 .health", "class")
    assert "噪声" not in page.inner_text("#tile-sim-2 .health")
    summary = next(s for s in controller.service.gate_summaries() if s.gate == "sim-1")
    assert summary.noisy_sensor and summary.sensor_netd_c > NOISY_NETD_1HZ_C
    assert summary.sensor_netd_c == pytest.approx(0.3 * 1.15, rel=0.15)  # its corners noisier than its centre
