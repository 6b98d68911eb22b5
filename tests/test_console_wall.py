"""The live wall as a guard sees it, in Debian's headless Chromium: every gate above the fold at 1366 x 768
and 1920 x 1080 with 20 fever alarms waiting, the banner bounded (newest first, a count, scrolling), one
display name per gate on every page, the history's snapshots, and Chinese text drawn with a real font."""

from __future__ import annotations

import time

import numpy as np
import pytest

from controller.app import build_controller
from controller.service.config import load_config
from controller.store import Screening, encode_snapshot
from tests.controller_harness import midday_zone, write_config
from tests.test_console_browser import login, wait_js

PASSWORD = "browser-test-pw"
GATES = ["sim-1", "sim-2", "sim-3", "sim-4"]
NAMES = {"sim-1": "东门 1号", "sim-2": "东门 2号", "sim-3": "北门", "sim-4": "西门"}
ALARMS = 20


def _names_table() -> str:
    return "\n".join(f'[gates.{g}]\nname = "{n}"\n' for g, n in NAMES.items())


@pytest.fixture
def wall(tmp_path, mqtt_broker):
    """A controller with four named gates (offline: no virtual gate behind them) and 20 fever alarms."""
    # The school's zone is one where it is about noon now: the alarms of the last minutes are on today's report.
    config = write_config(tmp_path, mqtt_broker, GATES, extra=_names_table(), timezone=midday_zone().key)
    service = build_controller(load_config(config)).start()
    store = service.store
    store.add_user("gus", "guard", PASSWORD)
    image = np.full((24, 32), 22.0, dtype=np.float32)
    image[6:14, 12:20] = 35.6
    now = time.time()
    ids = []
    for i in range(ALARMS):
        gate = GATES[i % 4]
        t = now - (ALARMS - i) * 9.0
        sid = store.record_screening(Screening(
            uid=f"wall:{i}", gate=gate, time=t, decision="FEVER", reason="", track=i, estimate_c=38.5,
            face_c=35.6, distance_m=0.5, reduced_accuracy=False, boot=1, sequence=i, snapshot=encode_snapshot(image)))
        ids.append(store.open_alarm(sid, gate, t))
    yield service, ids
    service.stop()


def _page(browser, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    return context, context.new_page()


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_every_gate_stays_above_the_fold_with_20_alarms(browser, wall, size):
    service, alarm_ids = wall
    context, page = _page(browser, size)
    try:
        url = f"http://127.0.0.1:{service.http.port}"
        login(page, url, "gus")
        page.wait_for_selector("#alarm-banner:not([hidden])")
        wait_js(page, f"document.querySelectorAll('#alarm-list .alarm-item').length === {ALARMS}")
        # Newest first, and the count says how many.
        first = int(page.get_attribute("#alarm-list .alarm-item:first-child", "data-alarm"))
        assert first == alarm_ids[-1]
        assert str(ALARMS) in page.inner_text("#alarm-count")
        banner = page.evaluate("document.getElementById('alarm-banner').getBoundingClientRect().toJSON()")
        assert banner["height"] <= 0.2 * size[1], banner  # bounded: the list scrolls
        assert page.evaluate("(() => { const l = document.getElementById('alarm-list'); "
                             "return l.scrollHeight > l.clientHeight; })()")
        wait_js(page, f"document.querySelectorAll('#wall .tile').length === {len(GATES)}")
        tiles = page.evaluate("Array.from(document.querySelectorAll('#wall .tile')).map(t => "
                              "({gate: t.dataset.gate, r: t.getBoundingClientRect().toJSON()}))")
        for t in tiles:  # whole, in one row, below the banner, above the fold
            assert t["r"]["top"] >= banner["bottom"] - 0.5 and t["r"]["bottom"] <= size[1], (size, t, banner)
            assert t["r"]["height"] > 250 and t["r"]["width"] > 280, t
        assert len({round(t["r"]["top"]) for t in tiles}) == 1
        assert sum(t["r"]["width"] for t in tiles) > 0.9 * size[0]  # four gates share the whole width
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(service.config.path.parent / f"wall-{size[0]}x{size[1]}.png"))
    finally:
        context.close()


def test_one_display_name_on_every_page(browser, wall):
    service, alarm_ids = wall
    context, page = _page(browser, (1366, 768))
    try:
        url = f"http://127.0.0.1:{service.http.port}"
        login(page, url, "gus")
        wait_js(page, "document.querySelectorAll('#wall .tile').length === 4")
        assert page.inner_text("#tile-sim-3 .gate-name").startswith("北门")
        wait_js(page, "document.getElementById('alarm-list').textContent.includes('东门 2号')")
        item = page.inner_text(f"#alarm-list .alarm-item[data-alarm='{alarm_ids[-1]}']")
        assert NAMES[GATES[(ALARMS - 1) % 4]] in item and "sim-" not in item
        page.click(f"#alarm-list .alarm-item[data-alarm='{alarm_ids[-1]}'] .alarm-open")
        page.wait_for_selector("#alarm-dialog[open]")
        assert page.inner_text("#ad-gate") == NAMES[GATES[(ALARMS - 1) % 4]]
        # The scale says what its colours are, and that the face reading is not the body estimate.
        scale = page.inner_text("#ad-scale")
        assert "表观温度" in scale and "35.6 °C" in scale and "38.5 °C" in scale
        page.click("#alarm-dialog [data-close]")
        page.goto(url + "/#history")
        page.wait_for_selector("#hist-table tbody tr")
        assert page.inner_text("#hist-table tbody tr:first-child td:nth-child(2)") == NAMES[GATES[(ALARMS - 1) % 4]]
        page.goto(url + "/report")
        assert "北门" in page.inner_text("#report-alarms") and "sim-3" not in page.inner_text("#report-alarms")
    finally:
        context.close()


def test_the_history_opens_a_stored_snapshot(browser, wall):
    service, _ = wall
    context, page = _page(browser, (1366, 768))
    try:
        url = f"http://127.0.0.1:{service.http.port}"
        login(page, url, "gus")
        page.goto(url + "/#history")
        page.wait_for_selector("#hist-table tbody tr .snap-btn")
        page.click("#hist-table tbody tr:first-child .snap-btn")
        page.wait_for_selector("#snap-dialog[open]")
        colours = page.evaluate("""() => { const c = document.getElementById('sd-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();
            for (let i = 0; i < d.length; i += 4 * 53) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
            return seen.size; }""")
        assert colours > 5, "the snapshot dialog shows no thermal image"
    finally:
        context.close()


# Each glyph drawn alone into a canvas in the page's own font stack: without a CJK font Chromium draws
# the same empty box (tofu) for every character it has no glyph for.
GLYPHS_JS = """chars => {
    const font = getComputedStyle(document.body).fontFamily;
    const draw = ch => { const c = document.createElement('canvas'); c.width = 40; c.height = 40;
        const x = c.getContext('2d'); x.fillStyle = '#fff'; x.font = '28px ' + font; x.textBaseline = 'top';
        x.fillText(ch, 4, 4); const d = x.getImageData(0, 0, 40, 40).data; let s = '';
        for (let i = 3; i < d.length; i += 4) s += d[i] > 100 ? '1' : '0'; return s; };
    return chars.map(draw);
}"""


def test_the_chinese_text_renders_with_a_real_font(browser, wall):
    service, _ = wall
    context, page = _page(browser, (1366, 768))
    try:
        url = f"http://127.0.0.1:{service.http.port}"
        login(page, url, "gus")
        nav = page.inner_text("#nav a[data-view=live]")
        assert nav == "实时监控"
        # U+0378 is unassigned: no font has it, so it is drawn as the missing-glyph box.
        shapes = page.evaluate(GLYPHS_JS, list(nav) + ["\u0378"])
        tofu = shapes[-1]
        for ch, shape in zip(nav, shapes, strict=False):
            assert shape.count("1") > 20, f"{ch!r} draws nothing"
            assert shape != tofu, (f"{ch!r} is drawn as an empty box: no CJK font "
                                   "(apt-get install fonts-noto-cjk; `make test` installs it as root on Debian)")
        assert len(set(shapes[:-1])) == len(nav), "different characters draw the same shape"
    finally:
        context.close()
