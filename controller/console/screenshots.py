"""``python -m controller.console.screenshots``: the README's pictures of the console.

Runs a whole console on this machine (controller/console/rig.py: a private
mosquitto, the controller, four virtual gates: fever, normal queue, two people,
no reference) and saves, from Debian's headless Chromium:

- ``docs/img/console-live.png``: the live wall while people stand at the gates;
- ``docs/img/console-alarm.png``: a fever alarm: the banner and the gate's red tile;
- ``docs/img/console-alarm-dialog.png``: the alarm opened: the deciding frame's
  thermal snapshot and the disposition form.

Needs /usr/bin/chromium (``apt-get install -y chromium``) and, for the Chinese
text, a CJK font (``apt-get install -y fonts-noto-cjk``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .rig import ConsoleRig, launch_chromium, login

REPO = Path(__file__).resolve().parent.parent.parent
SCENARIOS = ["fever", "normal_queue", "two_people", "no_reference"]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "img"), help="where the PNGs go")
    parser.add_argument("--lang", default="zh", choices=["zh", "en"])
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with ConsoleRig(SCENARIOS, seed=3) as rig, sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 860})
        context.add_cookies([{"name": "tg_lang", "value": args.lang, "url": rig.url}])
        page = context.new_page()
        login(page, rig.url)
        if page.is_visible("#sound-enable"):
            page.click("#sound-enable")
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
