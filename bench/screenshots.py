"""``python bench/screenshots.py`` (``make screenshots``): the pictures of the console in docs/img/.

Runs a whole console on this machine (bench/console_rig.py: a private
mosquitto, the controller, virtual gates running the firmware) and saves, from
Debian's headless Chromium at 1366 x 768 (a school gatehouse's common screen):

- ``console-alarm.png``: the first fever alarm: the banner and the gate's red tile;
- ``console-alarm-dialog.png``: the alarm opened: the deciding frame's thermal
  snapshot, its colour scale, and the disposition form;
- ``console-live.png``: the live wall while people stand at the gates (four
  gates: fever, normal queue, two people, no reference);
- ``console-wall-20-alarms-1366x768.png`` and ``...-1920x1080.png``: the wall
  after 20 fever alarms, none disposed yet. They are real alarms: four gates
  run the fever scenario (a third of its people febrile) until 20 have been
  raised, about two minutes.

Needs /usr/bin/chromium (``apt-get install -y chromium``) and, for the Chinese
text, a CJK font (``apt-get install -y fonts-noto-cjk``; ``make screenshots``
installs both as root on Debian).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from console_rig import REPO, ConsoleRig, launch_chromium, login

SCENARIOS = ["fever", "normal_queue", "two_people", "no_reference"]
NAMES = ["东门 1号", "东门 2号", "北门", "西门"]
WALL = (1366, 768)
LARGE = (1920, 1080)
ALARMS = 20
ALARMS_WITHIN_S = 600


def _wait(page, expression: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return True
        time.sleep(0.1)
    return False


def _save(page, path: Path) -> None:
    page.screenshot(path=str(path))
    print(f"saved {path}")


def _page(browser, rig, lang: str, size: tuple[int, int]):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    context.add_cookies([{"name": "tg_lang", "value": lang, "url": rig.url}])
    page = context.new_page()
    login(page, rig.url)
    if page.is_visible("#sound-enable"):
        page.click("#sound-enable")
    return context, page


def readme_shots(p, out: Path, lang: str) -> None:
    with ConsoleRig(SCENARIOS, seed=3, names=NAMES) as rig:
        browser = launch_chromium(p)
        _context, page = _page(browser, rig, lang, WALL)
        if not _wait(page, "!!document.querySelector('#alarm-list .alarm-item.open')", 60):
            raise SystemExit("no fever alarm within 60 s")
        time.sleep(1.0)
        _save(page, out / "console-alarm.png")
        page.click("#alarm-list .alarm-item.open .alarm-open")
        page.wait_for_selector("#alarm-dialog[open]")
        time.sleep(0.5)
        _save(page, out / "console-alarm-dialog.png")
        # The doctor's disposition, then the live wall once people stand at the gates again.
        page.click("#ad-ack")
        page.wait_for_selector("#ad-form:not([hidden])")
        page.fill("#ad-form input[name=recheck_c]", "38.6")
        page.check("#ad-form input[value=observation_room]")
        page.click("#ad-save")
        _wait(page, "document.getElementById('ad-msg').textContent.length > 0", 10)
        page.click("#alarm-dialog [data-close]")
        _wait(page, "Object.values(window.tgStats.faces).filter(Boolean).length >= 3 "
                    "&& document.getElementById('alarm-banner').hidden", 40)
        _save(page, out / "console-live.png")
        browser.close()


def twenty_alarms(p, out: Path, lang: str) -> None:
    with ConsoleRig(["fever"] * 4, seed=11, names=NAMES) as rig:
        store = rig.service.store
        deadline = time.monotonic() + ALARMS_WITHIN_S
        while len(store.alarms()) < ALARMS:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(store.alarms())} fever alarms within {ALARMS_WITHIN_S} s")
            time.sleep(1.0)
        print(f"{len(store.alarms())} fever alarms raised")
        browser = launch_chromium(p)
        for size in (WALL, LARGE):
            _context, page = _page(browser, rig, lang, size)
            _wait(page, f"document.querySelectorAll('#alarm-list .alarm-item').length >= {ALARMS}", 20)
            _wait(page, "Object.values(window.tgStats.faces).filter(Boolean).length >= 2", 30)
            _save(page, out / f"console-wall-{ALARMS}-alarms-{size[0]}x{size[1]}.png")
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "img"), help="where the PNGs go")
    parser.add_argument("--lang", default="zh", choices=["zh", "en"])
    parser.add_argument("--only", choices=["readme", "alarms"], help="make one set only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        if args.only in (None, "readme"):
            readme_shots(p, out, args.lang)
        if args.only in (None, "alarms"):
            twenty_alarms(p, out, args.lang)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
