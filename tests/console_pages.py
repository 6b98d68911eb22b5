"""The console's pages in Chromium, for the browser tests: signing in, and waiting for what a page shows.

The pages themselves come from the ``pages`` fixture (tests/conftest.py): one browser context per page, so
one console user each, and a script error on any of them fails the test.
"""

from __future__ import annotations

import time


def login(page, url: str, user: str, password: str) -> None:
    """Sign ``user`` in on the console's login page; returns on the wall (``/``) it sends them to."""
    page.goto(url + "/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(url + "/")


def wait(predicate, timeout: float, what: str):
    """``predicate()``'s first true answer, asked every 0.1 s; AssertionError naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def wait_js(page, expression: str, arg=None, timeout: float = 20.0) -> None:
    """Poll a JavaScript expression until it is true (Playwright's wait_for_function evaluates strings
    inside the page, which the console's Content-Security-Policy rightly forbids)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(expression, arg):
                return
        except Error as exc:  # the page is navigating (a reload): ask the next one
            if "context was destroyed" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        time.sleep(0.05)
