"""The People and Visitors pages in a real headless Chromium (Debian's package, driven by Playwright) against
a real controller service: a guard registers a visitor and the QR on the screen is a pass the gate accepts
inside its window; an admin imports a roster with a bad line, finds a person and opens their file with a
reason, which the identity audit records.

The pages are photographed at 1366 x 768; with THERMOGATE_SCREENSHOTS=DIR the pictures are kept there
(`THERMOGATE_SCREENSHOTS=docs/img` makes the ones docs/console.md shows).
"""

from __future__ import annotations

import io
import time

import pytest
import zxingcpp
from PIL import Image

from controller.identity.passes import load_pass_key
from controller.identity.people_store import PeopleStore
from controller.identity.resolve import Resolver
from controller.reporting.report_store import ReportStore
from controller.store import Screening
from tests.test_console_browser import login, staffed, wait_js

VIEWPORT = {"width": 1366, "height": 768}
CATALOGUE_IMPORTING = "正在导入"
ROSTER = """id,name,role,class,boarder,guardian_phone,credentials,active
S2026001,张伟,student,初一(1)班,是,138 0013 8000,card:04A1B2C3;S2026001,yes
S2026002,李娜,student,初一(1)班,否,139 0000 1111,S2026002,yes
S2026003,王强,pupil,初一(2)班,否,,,yes
S2026004,陈静,student,初一(2)班,否,137 1234 5678,,yes
T0001,王老师,staff,数学组,no,,card:04:A1:B2:C4|T0001,yes
"""


@pytest.fixture
def controller(tmp_path, mqtt_broker):
    yield from staffed(tmp_path, mqtt_broker, ["sim-1"])


@pytest.fixture
def page(pages):
    return pages(viewport=VIEWPORT)


def fits_the_window(page, selector: str) -> bool:
    """Nothing of the element sticks out sideways at this window size."""
    return page.evaluate("""sel => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.left >= 0 && r.right <= window.innerWidth + 0.5
               && document.documentElement.scrollWidth <= window.innerWidth; }""", selector)


def test_a_guard_registers_a_visitor_and_the_qr_is_a_valid_pass(controller, page, shots):
    url = controller.url
    login(page, url, "gus")
    assert page.inner_text("#nav a[data-view=visitors]") == "访客登记"
    page.click("#nav a[data-view=visitors]")
    page.wait_for_selector("#view-visitors:not([hidden])")
    # The window defaults to now until the end of the school's day.
    assert page.input_value("#visitor-form input[name=valid_from]") != ""
    assert page.input_value("#visitor-form input[name=valid_until]").endswith("T00:00")
    form = "#visitor-form"
    page.fill(f"{form} input[name=name]", "王芳")
    page.fill(f"{form} input[name=host]", "初一(1)班 李老师")
    page.fill(f"{form} input[name=purpose]", "家长会")
    # A whole ID number is refused on the page, and nothing is registered.
    page.locator("#vis-last4").press_sequentially("11010519491231002X")
    page.click("#visitor-submit")
    wait_js(page, "document.getElementById('visitor-msg').textContent.includes('最后4位')")
    people = PeopleStore.beside(controller.service.store)
    assert people.visitors() == []
    page.fill("#vis-last4", "002x")
    page.click("#visitor-submit")
    page.wait_for_selector("#visitor-pass:not([hidden])")
    wait_js(page, "(() => { const i = document.getElementById('vis-qr'); return i.complete && i.naturalWidth > 0; })()")
    [v] = people.visitors()
    assert (v.name, v.id_last4, v.host, v.purpose, v.issued_by) == ("王芳", "002X", "初一(1)班 李老师", "家长会", "gus")
    # The QR shown on the screen, photographed and decoded, is a pass the gate accepts inside its window only.
    png = page.locator("#vis-qr").screenshot()
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    resolver = Resolver(people, load_pass_key(controller.config.site_dir))
    inside = resolver.resolve(code.text, "qr", time.time())
    assert inside.ok and inside.visitor is not None and inside.visitor.name == "王芳"
    assert resolver.resolve(code.text, "qr", v.valid_until).reason == "expired"
    assert resolver.resolve(code.text, "qr", v.valid_from - 1).reason == "outside_window"
    # The day's list shows the visitor; the page fits 1366 x 768.
    page.wait_for_selector(f"#visitors-table tr[data-pass='{v.pass_id}']")
    assert "…002X" in page.inner_text(f"#visitors-table tr[data-pass='{v.pass_id}']")
    assert fits_the_window(page, "#view-visitors")
    page.screenshot(path=str(shots / "console-visitors-1366x768.png"))

    # The printable pass: name, host, window and the same QR.
    pass_page = page.context.new_page()
    pass_page.goto(f"{url}/visitors/{v.pass_id}/pass")
    assert pass_page.inner_text("#pass-name") == "王芳" and "李老师" in pass_page.inner_text("#pass-host")
    assert pass_page.inner_text("#pass-until").endswith("00:00:00")
    [printed] = zxingcpp.read_barcodes(Image.open(io.BytesIO(pass_page.locator("#pass-qr svg").screenshot())))
    assert printed.text == code.text
    pass_page.screenshot(path=str(shots / "console-visitor-pass.png"))
    pass_page.close()

    # Revoked from the list: the gate refuses the same code from then on.
    page.once("dialog", lambda d: d.accept())
    page.click(f"#visitors-table tr[data-pass='{v.pass_id}'] .revoke-btn")
    wait_js(page, "document.getElementById('visitors-list-msg').textContent.includes('已作废')")
    assert resolver.resolve(code.text, "qr", time.time()).reason == "revoked"
    page.wait_for_selector(f"#visitors-table tr.inactive[data-pass='{v.pass_id}']")

    # A guard sees the roster's names and classes, but no file and no import.
    page.click("#nav a[data-view=people]")
    page.wait_for_selector("#view-people:not([hidden])")
    assert not page.is_visible("#import-form") and page.locator(".file-btn").count() == 0


def test_the_rosters_upload_and_download_go_through_the_pages_api(controller, page, tmp_path):
    """The import (the file's bytes) and the export (a CSV back) through common.js's api(): the session's CSRF
    token on both, a refusal in the page's words with the server's detail on a line of its own, the CSV saved
    by the browser. (test_console_static.py checks that no page script calls fetch() itself.)"""
    url = controller.url
    store = controller.service.store
    sent: list[tuple[str, str, str | None]] = []
    page.on("request", lambda r: sent.append((r.method, r.url.split("?")[0].removeprefix(url), r.headers.get(
        "x-csrf-token"))) if r.method == "POST" else None)
    login(page, url, "ada")
    csrf = page.evaluate("thermogate.api('/api/me')")["csrf"]
    page.click("#nav a[data-view=people]")
    page.wait_for_selector("#view-people:not([hidden])")

    def upload(text: str, name: str) -> None:
        page.set_input_files("#import-file", files=[{"name": name, "mimeType": "text/csv",
                                                     "buffer": text.encode("utf-8")}])
        page.evaluate("document.getElementById('import-report').textContent = ''")
        page.click("#import-submit")
        wait_js(page, "(() => { const t = document.getElementById('import-report').textContent; "
                      "return t !== '' && !t.includes('" + CATALOGUE_IMPORTING + "'); })()")

    # A file the server refuses as a whole: the page's words, then the server's detail on a line of its own.
    upload("id;name\nS1;x\n", "wrong.csv")
    lines = page.inner_text("#import-report").split("\n")
    assert lines[0] == page.evaluate("thermogate.t('err_roster_file')") != "err_roster_file"
    assert "header" in lines[1], lines
    assert PeopleStore.beside(store).people() == []
    # The roster itself.
    upload(ROSTER, "roster.csv")
    assert page.inner_text("#import-report").endswith("added 4, changed 0, unchanged 0, refused 1")
    # The export: a CSV saved by the browser, read with a reason.
    page.fill("#export-form input[name=reason]", "期初核对")
    with page.expect_download() as info:
        page.click("#export-form button[type=submit]")
    saved = tmp_path / "roster.csv"
    info.value.save_as(saved)
    assert info.value.suggested_filename == "roster.csv"
    text = saved.read_text(encoding="utf-8-sig")
    assert text.startswith("id,name,role,class") and "S2026004,陈静" in text
    assert [(r.action, r.reason) for r in PeopleStore.beside(store).reads()] == [("people_export", "期初核对")]
    # Both carried the session's token.
    assert [(m, p) for m, p, _ in sent if p.startswith("/api/people/")] == [
        ("POST", "/api/people/import"), ("POST", "/api/people/import"), ("POST", "/api/people/export")]
    assert all(token == csrf for _, p, token in sent if p.startswith("/api/people/"))


def test_an_admin_imports_the_roster_and_opens_a_file_with_a_reason(controller, page, shots, tmp_path):
    url = controller.url
    login(page, url, "ada")
    page.click("#nav a[data-view=people]")
    page.wait_for_selector("#view-people:not([hidden])")
    # The import: a file with a bad line, reported line by line as `thermogate people import` does.
    page.set_input_files("#import-file", files=[{"name": "roster.csv", "mimeType": "text/csv",
                                                 "buffer": ROSTER.encode("utf-8")}])
    assert not page.is_checked("#import-strict")
    page.click("#import-submit")
    wait_js(page, "document.getElementById('import-report').textContent.includes('refused 1')")
    assert page.inner_text("#import-report").split("\n") == [
        "roster.csv (utf-8):",
        "  line 2: added S2026001",
        "  line 3: added S2026002",
        "  line 4: refused: role 'pupil' is not student|staff",
        "  line 5: added S2026004",
        "  line 6: added T0001",
        "added 4, changed 0, unchanged 0, refused 1"]
    people = PeopleStore.beside(controller.service.store)
    assert [p.id for p in people.people()] == ["S2026001", "S2026002", "S2026004", "T0001"]
    # The list by class.
    page.wait_for_selector("#class-list .class-btn[data-class='初一(2)班']")
    page.click("#class-list .class-btn[data-class='初一(2)班']")
    wait_js(page, "document.querySelectorAll('#people-table tbody tr').length === 1")
    assert page.inner_text("#people-table tbody").count("陈静") == 1
    # Search by name, across classes.
    page.click("#class-list .class-btn:not([data-class])")
    page.fill("#people-q", "张伟")
    page.click("#people-form button[type=submit]")
    wait_js(page, "document.querySelectorAll('#people-table tbody tr').length === 1")
    page.wait_for_selector("#people-table tr[data-person=S2026001]")
    assert "138" not in page.inner_text("#people-table")  # no phone numbers in the list
    assert fits_the_window(page, "#view-people")
    page.screenshot(path=str(shots / "console-people-1366x768.png"))

    # Zhang Wei was screened at a gate: a fever, re-checked and sent home by the doctor.
    store = controller.service.store
    sid = store.record_screening(Screening(uid="sim-1:t:1", gate="sim-1", time=time.time() - 3600,
                                           decision="FEVER", reason="", track=1, estimate_c=38.3, face_c=35.4,
                                           distance_m=0.6, reduced_accuracy=False, boot=1, sequence=1))
    aid = store.open_alarm(sid, "sim-1", time.time() - 3600)
    people.link_screening(sid, person_id="S2026001")
    store.dispose_alarm(aid, recheck_c=38.1, outcome="sent_home", user="doc", time=time.time() - 3000,
                        note="家长已接回")
    reports = ReportStore.beside(store)  # and was absent sick the next morning, followed up by the class teacher
    absence = reports.mark_absence("S2026001", "2026-03-03", "上午", "sick_with_symptoms", "班主任", time.time())
    reports.follow_up(absence.id, "2026-03-04", "back", "班主任", time.time())

    # The file opens only with a reason: "other" without a text is refused, and nothing is recorded.
    page.click("#people-table tr[data-person=S2026001] .file-btn")
    page.wait_for_selector("#file-dialog[open]")
    page.select_option("#fd-reason-kind", "other")
    page.click("#fd-open")
    wait_js(page, "document.getElementById('fd-msg').textContent.includes('原因')")
    assert people.reads() == [] and not page.is_visible("#fd-body")
    page.select_option("#fd-reason-kind", "parent_request")
    page.fill("#fd-reason-text", "家长来电询问体温")
    page.click("#fd-open")
    page.wait_for_selector("#fd-body:not([hidden])")
    identity = page.inner_text("#fd-identity")
    assert "138 0013 8000" in identity and "card:04A1B2C3" in identity and "初一(1)班" in identity
    absences = page.inner_text("#fd-absences")
    assert "2026-03-03 上午" in absences and "因病（有症状）" in absences and "2026-03-04 已返校" in absences
    assert "38.3 °C" in page.inner_text("#fd-screenings") and "发热" in page.inner_text("#fd-screenings")
    assert "已处置" in page.inner_text("#fd-alarms")
    assert "38.1 °C" in page.inner_text("#fd-rechecks") and "家长已接回" in page.inner_text("#fd-rechecks")
    [read] = people.reads(subject="S2026001")
    assert (read.reader, read.action, read.reason) == ("ada", "person_show", "parent_request: 家长来电询问体温")
    page.screenshot(path=str(shots / "console-person-file-1366x768.png"))
