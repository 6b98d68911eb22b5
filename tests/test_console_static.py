"""The console's pages and their scripts as files: every page loads common.js (t, el, api, $, $$, fmtC) before its own
scripts, no page script has its own copy of those helpers, and every script a page names is there.
test_console_common_browser.py runs the helpers on each page in Chromium."""

from __future__ import annotations

import re

from tests.controller_harness import REPO

CONSOLE = REPO / "controller" / "console"
STATIC = CONSOLE / "static"
# Each page the console serves from static/, with the scripts of its own in the order they run.
PAGES = {"index.html": ["app.js", "people.js"], "cases.html": ["cases.js"], "reports.html": ["reports.js"]}
SHARED = ("t", "el", "api", "$", "$$", "fmtC")


def scripts(html: str) -> list[str]:
    return re.findall(r'<script src="/static/([\w.-]+)"></script>', html)


def own_definitions(js: str) -> set[str]:
    """The names among SHARED that a script defines itself (a function, or a variable holding one)."""
    names = "|".join(re.escape(n) for n in SHARED)
    found = re.findall(rf"\bfunction\s+({names})\s*\(", js)
    found += re.findall(rf"\b(?:const|let|var)\s+({names})\s*=", js)
    return set(found)


def test_every_page_loads_common_js_before_its_own_scripts():
    for page, own in PAGES.items():
        assert scripts((STATIC / page).read_text()) == ["common.js", *own], page


def test_no_page_script_has_its_own_shared_helpers():
    common = (STATIC / "common.js").read_text()
    assert own_definitions(common) == set(SHARED)
    assert "window.thermogate = {" in common
    for js in {name for own in PAGES.values() for name in own}:
        text = (STATIC / js).read_text()
        assert not own_definitions(text), (js, own_definitions(text))
        # The catalogue is fetched in one place too (t() reads what common.js loaded).
        assert "messages.json" not in text, js
        # Every request goes through api() (its CSRF token, its 401): no page sets the token itself, and the
        # only fetch() left outside common.js is the page's first GET /api/me, which says who is signed in.
        assert "X-CSRF-Token" not in text, js
        assert re.findall(r"\bfetch\(([^,)]*)", text) in ([], ['"/api/me"']), js
    # The checks above do see a copy: one put back would be found.
    assert own_definitions("  function el(tag, attrs, text) {\n  const api = async (p) => p;") == {"el", "api"}
    assert own_definitions("  const $$ = (s) => s;\n  function fmtC(v) {") == {"$$", "fmtC"}


def test_every_script_a_page_names_is_there_and_every_script_is_used():
    named = {s for page in PAGES for s in scripts((STATIC / page).read_text())}
    named |= set(re.findall(r'<script src="/static/([\w.-]+)"></script>', (CONSOLE / "pages.py").read_text()))
    assert named == {p.name for p in STATIC.glob("*.js")}
