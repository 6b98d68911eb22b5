"""Identities on the guards' wall, in Debian's headless Chromium: a controller with a roster, [classes] and
[site] require_identity, a virtual gate whose people scan QR codes (the fever scenario: every other person
febrile or borderline) and one person who shows a code nobody registered. The tile names the person of its
last decision, or says why the door stayed shut; the fever banner names the person, their class and class
teacher, also after a reload."""

from __future__ import annotations

import time

import pytest

from controller.identity.people_store import PeopleStore
from controller.identity.roster_import import import_roster
from controller.store import open_store
from tests.test_console_browser import PASSWORD, login, wait_js

pytestmark = pytest.mark.browser

NAMES = ("周一", "吴二", "郑三", "王四", "冯五", "陈六")
ROSTER = "id,name,role,class,credentials\n" + "".join(
    f"P{i},{n},student,初三({1 + i % 2})班,CODE-{i}\n" for i, n in enumerate(NAMES))
CLASSES = """
[classes."初三(1)班"]
teacher = "钱老师"
phone = "137 0000 0031"
[classes."初三(2)班"]
teacher = "孔老师"
phone = "137 0000 0032"
"""


def code(i: int) -> str:
    return "COURIER-77" if i % 6 == 2 else f"CODE-{i % 6}"  # person 2 of six: a normal reading, not registered


def test_names_on_the_tile_and_the_banner(tmp_path, browser, controller_service, virtual_gates):
    store = open_store(str(tmp_path / "thermogate.db"))
    import_roster(PeopleStore.beside(store), ROSTER.encode(), time.time())
    store.add_user("gus", "guard", PASSWORD)
    store.close()
    svc = controller_service(["sim-1"], http=True, site_extra="require_identity = true", extra=CLASSES)
    virtual_gates(1, "fever", seed=0, credentials=code)
    url = f"http://127.0.0.1:{svc.http.port}"
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, url, "gus")
        teachers = {"钱老师 137 0000 0031", "孔老师 137 0000 0032"}
        wait_js(page, """() => [...document.querySelectorAll('#alarm-list .alarm-text')].some(e =>
                   /初三\\([12]\\)班 · 班主任 /.test(e.textContent))""", timeout=60)
        banner = [e.inner_text() for e in page.query_selector_all("#alarm-list .alarm-text")]
        named = [b for b in banner if "班主任" in b]
        assert named and all(any(n in b for n in NAMES) and any(t in b for t in teachers) for b in named), banner
        # the tile names whoever was decided on last, on every 2 s summary too
        wait_js(page, """names => names.some(n => document.querySelector('#tile-sim-1 .last').textContent
                   .includes(n))""", list(NAMES), timeout=30)
        # the courier: a normal reading, the door kept shut, the tile says why
        wait_js(page, """() => document.querySelector('#tile-sim-1 .last').textContent
                   .includes('重测') && document.querySelector('#tile-sim-1 .last').textContent
                   .includes('(请到门卫室登记) · 未知码')""", timeout=60)
        page.reload()
        page.wait_for_selector("#conn.ok", timeout=10000)
        wait_js(page, """() => [...document.querySelectorAll('#alarm-list .alarm-text')].some(e =>
                   e.textContent.includes('班主任'))""", timeout=10)
        assert not errors, errors
    finally:
        context.close()
