"""The console's security changes as a guard or admin meets them, in headless Chromium (see
test_console_browser.py): a password change in Settings asks for your own current password, a wrong one is
refused in words, and the held door's "open once" says to release it first."""

from __future__ import annotations

from tests import test_console_browser as shared
from tests.test_console_browser import PASSWORD, login, wait_js

# The fixtures this file shares with test_console_browser.py (the browser itself is conftest's).
controller, page = shared.controller, shared.page

NEW = "evening-shift-42"


class Answers:
    """Answers the page's prompt() dialogs from a list, in order, and keeps the messages shown."""

    def __init__(self, page):
        self.replies: list[str] = []
        self.shown: list[str] = []
        page.on("dialog", self._on)

    def _on(self, dialog):
        self.shown.append(dialog.message)
        dialog.accept(self.replies.pop(0) if self.replies else "")


def test_a_password_change_in_settings_needs_your_current_password(controller, page):
    svc = controller.service
    url = controller.url
    login(page, url, "ada")
    page.goto(url + "/#settings")
    page.wait_for_selector("#users-table tr[data-user=gus] button")
    # A wrong current password: refused, said on the page, nothing changed.
    answers = Answers(page)
    answers.replies = [NEW, "not-my-password"]
    page.click("#users-table tr[data-user=gus] button >> nth=0")
    wait_js(page, "document.getElementById('settings-msg').classList.contains('bad')")
    assert len(answers.shown) == 2 and "gus" in answers.shown[0] and "当前密码" in answers.shown[1]
    assert "当前密码" in page.inner_text("#settings-msg")
    assert svc.store.verify_user("gus", NEW) is None and svc.store.verify_user("gus", PASSWORD) is not None
    # The right one: gus's password is changed.
    answers.replies = [NEW, PASSWORD]
    page.click("#users-table tr[data-user=gus] button >> nth=0")
    wait_js(page, "document.getElementById('settings-msg').classList.contains('ok')")
    assert svc.store.verify_user("gus", NEW) is not None


def test_open_once_on_a_held_door_says_to_release_it_first(controller, page):
    svc = controller.service
    url = controller.url
    svc.set_lock("sim-1", True, "ada", "stranger at the fence")
    login(page, url, "gus")
    page.wait_for_selector("#tile-sim-1 .door-btn")
    page.click("#tile-sim-1 .door-btn")
    page.wait_for_selector("#door-dialog[open]")
    page.check("#dd-form input[value=open]")
    page.fill("#dd-reason", "a parent with medicine")
    page.click("#dd-submit")
    wait_js(page, "document.getElementById('dd-msg').textContent.includes('请先解除锁定')")
    assert not [a for a in svc.store.door_actions() if a.action == "open"]
