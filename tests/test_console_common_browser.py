"""common.js's helpers (t, el, api) on each console page in a real headless Chromium (Debian's, under
Playwright), against a real controller and a real mosquitto: the same helpers on the wall, the cases page
and the Reports page; text from the roster (a name and a class written as HTML) shown as text by the People
view and the Reports page's hand-held reading, never parsed; every POST the pages make carries the session's
CSRF token, and no GET does; a session that ended while a page was open sends that page to the login page
on the user's next action, with nothing saved. test_console_static.py checks the files themselves."""

from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import pytest

from controller.identity.people_store import PeopleStore
from controller.identity.roster_import import import_roster
from controller.store import open_store
from sim.broker import free_port
from tests.console_pages import login, wait, wait_js
from tests.controller_harness import REPO, midday_zone, start_controller

PASSWORD = "common-helpers-pw-3"
PERSON = "S2026009"
NAME = '<img src=x onerror="window.tgPwned=1">Zoë'
CLASS = "<b>初一</b>(9)班"
ROSTER = f"""id,name,role,class,boarder,guardian_phone,credentials,active
{PERSON},{NAME.replace('"', '""').join('""')},student,{CLASS},no,,{PERSON},yes
"""
CATALOGUE = json.loads((REPO / "controller" / "console" / "messages.json").read_text())["zh"]

# Run inside each page: the helpers as that page has them.
PROBE = """async (h) => {
  const TG = window.thermogate;
  const e = TG.el("p", { class: "c", text: h, title: h, hidden: false, disabled: true, "data-n": null,
    dataset: { k: h } }, h, 7, null, undefined, [TG.el("i", {}, "x"), "y"]);
  const plain = TG.el("td", null, h);
  const out = {
    tags: Array.from(e.querySelectorAll("*")).map((n) => n.tagName), text: e.textContent, cls: e.className,
    title: e.getAttribute("title"), hidden: e.hasAttribute("hidden"), disabled: e.getAttribute("disabled"),
    dataN: e.hasAttribute("data-n"), k: e.dataset.k, plainKids: plain.children.length, plainText: plain.textContent,
    t: TG.t("case_title", { id: 7 }), tMissing: TG.t("case_title", {}), tUnknown: TG.t("no_such_key"),
    has: [TG.has("case_title"), TG.has("no_such_key")],
  };
  const me = await TG.api("/api/me");
  out.user = me.user; out.csrf = me.csrf;
  try { await TG.api("/api/alarms/999999/ack", { body: {} }); out.refused = null; }
  catch (err) { out.refused = [err.key, err.message]; }
  return out;
}"""


@pytest.fixture
def controller(tmp_path, mqtt_broker):
    store = open_store(str(tmp_path / "thermogate.db"))
    report = import_roster(PeopleStore.beside(store), ROSTER.encode(), time.time())
    assert report.count("added") == 1, report.summary()
    store.close()
    svc = start_controller(tmp_path, mqtt_broker, ["sim-1"], users=(("ada", "admin"),), password=PASSWORD,
                           http_port=free_port(), timezone=midday_zone().key)  # today's readings: no midnight
    yield svc
    svc.stop()


def probe(page) -> dict:
    got = page.evaluate(PROBE, NAME)
    assert got["tags"] == ["I"]  # the text went in as text: no <img> made of it
    assert got["text"] == NAME + NAME + "7xy" and got["k"] == NAME and got["title"] == NAME
    assert got["cls"] == "c" and not got["hidden"] and got["disabled"] == "" and not got["dataN"]
    assert got["plainKids"] == 0 and got["plainText"] == NAME
    assert got["t"] == CATALOGUE["case_title"].replace("{id}", "7") != "case_title"
    assert got["tMissing"] == CATALOGUE["case_title"] and got["tUnknown"] == "no_such_key"
    assert got["has"] == [True, False]
    assert got["user"] == "ada"
    # Refused after the CSRF check passed (no such alarm, not err_csrf), in the catalogue's words.
    assert got["refused"] is not None and got["refused"][0] == "err_not_found"
    assert got["refused"][1].startswith(CATALOGUE["err_not_found"])
    return got


def test_the_helpers_on_every_page_text_stays_text_and_posts_carry_the_token(controller, pages):
    url = f"http://127.0.0.1:{controller.config.http.port}"
    page = pages(viewport={"width": 1366, "height": 768})
    sent: list[tuple[str, str, str | None]] = []  # (method, path, X-CSRF-Token) of every API request
    page.on("request", lambda r: sent.append((r.method, urlparse(r.url).path, r.headers.get("x-csrf-token")))
            if urlparse(r.url).path.startswith("/api/") else None)

    # The wall (common.js, app.js, people.js): the People view builds the class list with el().
    login(page, url, "ada", PASSWORD)
    wait_js(page, "document.getElementById('who').textContent.startsWith('ada')")
    csrf = probe(page)["csrf"]
    page.goto(url + "/#people")
    page.wait_for_selector(f"#people-table tr[data-person={PERSON}]")
    button = page.locator("#class-list button[data-class]")
    assert button.count() == 1 and button.inner_text() == f"{CLASS} (1)"
    assert page.locator("#class-list b, #class-list img, #export-class b").count() == 0
    assert page.eval_on_selector("#export-class option:last-child", "o => [o.value, o.textContent]") == [CLASS, CLASS]
    assert page.locator(f"#people-table tr[data-person={PERSON}] td").nth(1).inner_text() == NAME

    # The cases page (common.js, cases.js).
    page.goto(url + "/cases")
    wait(lambda: page.evaluate("window.tgCases && window.tgCases.ready"), 10, "the cases page")
    assert probe(page)["csrf"] == csrf
    assert page.inner_text("#cwho").startswith("ada")

    # The Reports page (common.js, reports.js): a hand-held reading for the person, found by name and saved.
    page.goto(url + "/reports#/absences")
    wait(lambda: page.evaluate("window.tgReports && window.tgReports.ready"), 10, "the Reports page")
    assert probe(page)["csrf"] == csrf
    page.wait_for_selector("#manual-card:not([hidden])")
    page.fill("#manual-q", "Zoë")
    match = page.locator(f"#manual-matches button[data-person={PERSON}]")
    match.wait_for()
    assert match.inner_text() == f"{NAME} · {CLASS} · {PERSON}"
    match.click()
    page.fill("#manual-value", "36.6")
    page.click("#manual-form button[type=submit]")
    wait_js(page, "document.getElementById('manual-msg').textContent !== ''")
    assert page.inner_text("#manual-msg") == CATALOGUE["rpt_manual_saved"].replace("{value}", "36.6 °C")
    cell = page.locator(f"#manual-list tr[data-person={PERSON}] td").nth(1)
    assert cell.inner_text() == f"{NAME} ({PERSON})"
    assert page.locator("#manual-list img, #manual-matches img, #manual-list b").count() == 0
    assert page.evaluate("window.tgPwned === undefined")

    # Every POST from the three pages carried the session's token; no GET did.
    posts = [s for s in sent if s[0] == "POST"]
    assert {p for _m, p, _t in posts} >= {"/api/alarms/999999/ack", "/api/manual_readings"}
    assert len([p for _m, p, _t in posts if p == "/api/alarms/999999/ack"]) == 3  # one per page
    assert all(token == csrf for _m, _p, token in posts), posts
    gets = [s for s in sent if s[0] == "GET"]
    assert len(gets) > 10 and all(token is None for _m, _p, token in gets), gets


def end_session(page, url: str) -> None:
    """End the page's session on the server (as signing out in another tab does) and keep its cookie in the
    browser, as a session that expired leaves it."""
    cookies = page.context.cookies()
    csrf = page.evaluate("fetch('/api/me').then(r => r.json()).then(m => m.csrf)")
    assert page.request.post(url + "/logout", headers={"X-CSRF-Token": csrf}).ok
    page.context.add_cookies(cookies)


def test_a_session_ended_elsewhere_sends_the_page_to_the_login_page_and_saves_nothing(controller, pages):
    """api()'s 401: the session ends while a page is open (signed out in another tab, expired, a new password):
    the next thing the user does through api() takes them to the login page, with nothing saved."""
    url = f"http://127.0.0.1:{controller.config.http.port}"
    page = pages(viewport={"width": 1366, "height": 768})
    login(page, url, "ada", PASSWORD)
    page.goto(url + "/reports#/absences")
    wait(lambda: page.evaluate("window.tgReports && window.tgReports.ready"), 10, "the Reports page")
    page.wait_for_selector("#manual-card:not([hidden])")
    page.fill("#manual-q", "Zoë")
    match = page.locator(f"#manual-matches button[data-person={PERSON}]")
    match.wait_for()
    match.click()
    page.fill("#manual-value", "37.9")
    # The session ends on the server; the page still holds its cookie and its token.
    end_session(page, url)
    assert page.evaluate("fetch('/api/me').then(r => r.status)") == 401
    page.click("#manual-form button[type=submit]")
    page.wait_for_url(url + "/login")
    page.wait_for_selector("#username")

    # Signed in again: the reading was not saved.
    login(page, url, "ada", PASSWORD)
    saved = page.evaluate("fetch('/api/manual_readings').then(r => r.json())")
    assert saved["readings"] == [], saved

    # The helper itself, on each page: a 401 throws in the page's words and goes to the login page.
    for path, ready in (("/cases", "window.tgCases && window.tgCases.ready"),
                        ("/reports#/absences", "window.tgReports && window.tgReports.ready")):
        page.goto(url + path)
        wait(lambda ready=ready: page.evaluate(ready), 10, path)
        end_session(page, url)
        page.evaluate("""() => { window.thermogate.api('/api/alarms').then(
            () => sessionStorage.setItem('tgErr', 'answered'),
            (e) => sessionStorage.setItem('tgErr', e.message)); }""")
        page.wait_for_url(url + "/login")
        assert page.evaluate("sessionStorage.getItem('tgErr')") == CATALOGUE["err_login_required"], path
        page.evaluate("sessionStorage.removeItem('tgErr')")
        login(page, url, "ada", PASSWORD)
