"""A simulated school day on SQLite and PostgreSQL: counts per session and category, absentee lists, a
warning when a rule is crossed, the report built at the deadline minus 30 min and delivered at the deadline
to a local file drop and a local HTTP receiver, with receipts; the zero-report rule; retries and alerts."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from controller.reporting.counts import absentees, day_counts
from controller.reporting.report_store import ReportStore
from controller.reporting.scheduler import Reporter
from controller.store import open_store
from tests import reporting_day as sd
from tests.reporting_day import DAY, TZ, at


class Receiver:
    """A local HTTP receiver (http.server on a free port) that keeps each POST and answers with a receipt."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.bodies.append(json.loads(body))
                answer = json.dumps({"receipt": f"R-{len(receiver.bodies)}"}).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bureau/upload"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def school(store_url, tmp_path, receiver):
    store = open_store(store_url)
    sd.roster(store)
    config = sd.load_config(tmp_path / "drop", receiver.url)
    calls = {"page": [], "warning": [], "alert": []}
    reporter = Reporter(ReportStore.beside(store), config, TZ, threshold_c=37.3,
                        on_page=calls["page"].append, on_warning=calls["warning"].append,
                        on_alert=calls["alert"].append)
    yield store, reporter, calls, tmp_path
    store.close()


def _row(counts, session, category, group=""):
    s = next(x for x in counts if x.session.name == session)
    return next(r for r in s.rows if r.category == category and r.group == group)


def test_a_school_day(school, receiver):
    store, reporter, calls, tmp = school
    rs = reporter.rs
    sd.morning(store)

    # 08:00, inside the morning session: the confirmed fever in 初一(1)班 crosses the class rule at once.
    assert reporter.due(at("08:00")) == ["warning class:fevers_confirmed>=1/1d 初一(1)班"]
    [w] = calls["warning"]
    assert (w.scope, w.scope_key, w.count, w.draft["title"]) == ("class", "初一(1)班", 1, "疫情快报（草稿）")
    assert "初一(1)班" in w.draft["text"] and w.draft["status"] == "draft"
    assert reporter.due(at("08:05")) == []  # once per rule, scope and day (the next look is a minute later)
    assert reporter.due(at("08:10")) == []

    # After the morning session: the absentee lists of each class, before and after the teachers mark them.
    missing = absentees(rs, reporter.config, DAY, TZ, "晨检", 37.3, now=at("09:05"))
    assert [(a.class_name, a.person_id, a.reason) for a in missing] == [("初一(1)班", "S3", None),
                                                                        ("初一(2)班", "S6", None)]
    sd.absences(store)
    assert [(a.person_id, a.reason) for a in absentees(rs, reporter.config, DAY, TZ, "晨检", 37.3,
                                                       class_name="初一(1)班", now=at("09:15"))] == [
        ("S3", "sick_with_symptoms")]
    # The sick absence started its follow-up; today's record is there, so nothing is due today, tomorrow is.
    assert [f.status for f in rs.followups(rs.absences(person_id="S3")[0].id)] == ["still_sick"]
    assert rs.followups_due(DAY.isoformat()) == []
    assert [a.person_id for a in rs.followups_due("2026-03-03")] == ["S3"]
    sd.noon(store)

    _, counts = day_counts(rs, reporter.config, DAY, TZ, 37.3)
    c1, c2 = _row(counts, "晨检", "student", "初一(1)班"), _row(counts, "晨检", "student", "初一(2)班")
    assert (c1.expected, c1.screened, c1.not_screened, c1.fevers_raised, c1.fevers_confirmed, c1.fevers_open,
            c1.absent_sick, c1.absent_unmarked) == (4, 3, 1, 1, 1, 0, 1, 0)
    assert (c2.expected, c2.screened, c2.not_screened, c2.absent_leave) == (3, 2, 1, 1)  # S6 at south-1: not 晨检
    staff = _row(counts, "晨检", "staff")
    assert (staff.expected, staff.screened, staff.manual, staff.not_screened) == (2, 2, 1, 0)
    assert _row(counts, "晨检", "unidentified").screened == 1
    total = _row(counts, "晨检", "all")
    assert (total.expected, total.screened, total.not_screened, total.fevers_raised) == (9, 8, 2, 1)
    # Noon: S2 went home and S3 is still ill: both missing, S2 not marked; the drill's fever counts nowhere.
    n1 = _row(counts, "午检", "student", "初一(1)班")
    assert (n1.expected, n1.screened, n1.not_screened, n1.fevers_raised, n1.absent_unmarked) == (4, 2, 2, 0, 2)
    assert _row(counts, "午检", "student", "初一(2)班").not_screened == 0
    vis = _row(counts, "午检", "visitor")
    assert (vis.expected, vis.screened) == (1, 1)
    assert _row(counts, "午检", "all").fevers_raised == 0
    assert [a.person_id for a in absentees(rs, reporter.config, DAY, TZ, "午检", 37.3)] == ["S2", "S3"]

    # 14:29 nothing; 14:30 (deadline - 30 min) the report is built; nothing is open, so nobody is paged.
    assert reporter.due(at("14:29")) == []
    assert reporter.due(at("14:30")) == ["built 2026-03-02 (cases)"]
    assert calls["page"] == [] and receiver.bodies == []
    rec = rs.report("4401060001", DAY.isoformat())
    assert rec.status == "built" and set(rec.files) == {f"4401060001-{DAY}.{x}" for x in ("pdf", "csv", "json")}

    # 15:00, the deadline: sent to the file drop and the HTTP receiver; the reporter did not confirm, so the
    # backup reporter's name is on it.
    assert reporter.due(at("15:00")) == ["sent 2026-03-02"]
    rec = rs.report("4401060001", DAY.isoformat())
    assert (rec.status, rec.signed_by, rec.late, rec.verdict) == ("sent", "zhao", False, "cases")
    receipts = rs.receipts("4401060001", DAY.isoformat())
    assert [(r.recipient, r.kind, r.ok, r.sent_by, r.late) for r in receipts] == [
        ("bureau-drop", "file", True, "zhao", False), ("bureau-api", "webhook", True, "zhao", False)]
    assert receipts[1].detail == 'HTTP 200: {"receipt": "R-1"}'
    assert all(r.files == rec.files for r in receipts)

    drop = tmp / "drop"
    for name, digest in rec.files.items():
        assert hashlib.sha256((drop / name).read_bytes()).hexdigest() == digest
    assert (drop / f"4401060001-{DAY}.sha256").read_text().count("\n") == 3
    [body] = receiver.bodies
    assert (body["school_code"], body["date"], body["reporter"], body["confirmed"]) == (
        "4401060001", "2026-03-02", "zhao", False)
    for f in body["files"]:
        assert hashlib.sha256(base64.b64decode(f["content_base64"])).hexdigest() == rec.files[f["name"]]

    doc = json.loads((drop / f"4401060001-{DAY}.json").read_text(encoding="utf-8"))
    assert doc["verdict"]["code"] == "cases" and doc["verdict"]["n"] == 1
    assert [c["class"] for c in doc["cases"]] == ["初一(1)班"]  # the drill's alarm is not a case here
    assert [w["scope_key"] for w in doc["warnings"]] == ["初一(1)班"]
    assert doc["reporter"] == {"name": "li", "backup": "zhao", "signed_by": "zhao", "confirmed": False}
    assert "张" not in json.dumps(doc, ensure_ascii=False)  # the report names classes, never pupils
    csv_text = (drop / f"4401060001-{DAY}.csv").read_bytes().decode("utf-8-sig")
    header = csv_text.splitlines()[0].split(",")
    assert header[:8] == ["date", "school_code", "school", "session", "category", "group", "应到人数", "实到人数"]
    assert "晨检,学生,初一(1)班,4,3,1" in csv_text

    assert reporter.due(at("15:05")) == [] and calls["alert"] == []  # sent once, no alert
    assert len(receiver.bodies) == 1


def test_sick_absences_cross_the_grade_rule(school):
    store, reporter, calls, _ = school
    rs = reporter.rs
    rs.mark_absence("S3", "2026-03-01", "晨检", "sick_with_symptoms", "teacher-chen", at("09:00"))
    assert reporter.due(at("09:30")) == []  # one sick absence in 3 days: under the threshold of 2
    rs.mark_absence("S5", DAY.isoformat(), "晨检", "sick_with_symptoms", "teacher-zhou", at("09:31"))
    assert reporter.due(at("09:40")) == ["warning grade:sick_absences>=2/3d 初一"]
    assert calls["warning"][0].count == 2 and calls["warning"][0].scope_key == "初一"
    # Marked again as leave, it no longer counts tomorrow; the day's warning stays recorded once.
    rs.mark_absence("S5", DAY.isoformat(), "晨检", "leave", "teacher-zhou", at("10:00"))
    assert [w.rule for w in rs.warnings(DAY.isoformat())] == ["grade:sick_absences>=2/3d"]


def test_open_alarm_is_never_a_zero_report(school, receiver):
    store, reporter, calls, tmp = school
    sd.screen(store, "north-1", "07:00", "PASS", "S1")
    sid = sd.screen(store, "north-1", "07:05", "FEVER", "S2", estimate=37.9)
    alarm = store.open_alarm(sid, "north-1", at("07:05"))

    assert reporter.due(at("14:30")) == ["built 2026-03-02 (pending)"]
    assert calls["page"] == ["zero report pending: 1 open alarms (示范中学 2026-03-02); "
                             "零报告待定：尚有 1 条发热警报未处置，请处置后再报送。"]
    reporter.due(at("15:00"))
    doc = json.loads((tmp / "drop" / f"4401060001-{DAY}.json").read_text(encoding="utf-8"))
    assert doc["verdict"]["code"] == "pending"
    assert "零报告：" not in (tmp / "drop" / f"4401060001-{DAY}.csv").read_bytes().decode("utf-8-sig")
    assert receiver.bodies[0]["verdict_code"] == "pending"
    assert len(calls["page"]) == 2  # paged again when it went out pending

    # The doctor disposes it as a false alarm; the resend is the zero report.
    store.dispose_alarm(alarm, recheck_c=36.8, outcome="false_alarm", user="li", time=at("15:10"))
    receipts = reporter.send(DAY, at("15:20"))
    assert all(r.ok and r.late for r in receipts)
    assert receiver.bodies[-1]["verdict_code"] == "zero"
    assert receiver.bodies[-1]["verdict"] == "零报告：今日无发热病例。"
    assert len(calls["page"]) == 2


def test_confirmed_report_goes_out_under_the_reporter(school, receiver):
    store, reporter, calls, _ = school
    sd.screen(store, "north-1", "07:00", "PASS", "S1")
    reporter.due(at("14:30"))
    reporter.confirm(DAY, "li", at("14:40"))
    reporter.due(at("15:00"))
    rec = reporter.rs.report("4401060001", DAY.isoformat())
    assert (rec.verdict, rec.signed_by, rec.confirmed_by) == ("zero", "li", "li")
    assert receiver.bodies[0]["reporter"] == "li" and receiver.bodies[0]["confirmed"] is True


def test_a_failing_recipient_is_retried_then_alerted(school, receiver):
    store, reporter, calls, _ = school
    receiver.status = 503
    sd.screen(store, "north-1", "07:00", "PASS", "S1")
    reporter.due(at("14:30"))
    assert reporter.due(at("15:00")) == ["sent 2026-03-02", "late alert 2026-03-02"]
    [late] = calls["alert"]
    assert "not delivered by the deadline 15:00" in late and "bureau-api (HTTP 503)" in late
    assert reporter.due(at("15:00:30")) == []  # retry_s = 60
    assert reporter.due(at("15:01:01")) == ["retried 2026-03-02"]
    assert calls["alert"][-1] == "report of 2026-03-02 to bureau-api failed after 2 attempt(s): HTTP 503"
    assert reporter.due(at("15:05")) == []  # attempts = 2: no more tries, and every failure was told
    receipts = reporter.rs.receipts("4401060001", DAY.isoformat())
    assert [(r.recipient, r.ok, r.attempt) for r in receipts] == [("bureau-drop", True, 1), ("bureau-api", False, 1),
                                                                 ("bureau-api", False, 2)]
    # The receiver is back: a resend from the command line's function reaches it, late and recorded.
    receiver.status = 200
    assert [r.ok for r in reporter.send(DAY, at("15:30"), only_failed=True)] == []  # attempts used up
    assert all(r.ok for r in reporter.send(DAY, at("15:31")))
    assert reporter.rs.report("4401060001", DAY.isoformat()).status == "sent"


def test_a_roster_change_mid_day(school):
    """Someone added at 10:00 is expected at noon, not in the morning; someone who left at 10:00 was expected
    in the morning and is not at noon; a follow-up marked back ends the sick absence's follow-up."""
    from controller.identity.people_store import PeopleStore
    from controller.identity.records import Person

    store, reporter, _, _ = school
    people = PeopleStore.beside(store)
    people.put_person(Person("S8", "张八", "student", "初一(1)班", boarder=False, guardian_phone=""), at("10:00"))
    people.put_person(Person("S7", "李七", "student", "初一(2)班", boarder=False, guardian_phone="", active=False),
                      at("10:00"))
    _, counts = day_counts(reporter.rs, reporter.config, DAY, TZ, 37.3)
    assert _row(counts, "晨检", "student", "初一(1)班").expected == 4
    assert _row(counts, "午检", "student", "初一(1)班").expected == 5
    assert _row(counts, "晨检", "student", "初一(2)班").expected == 3
    assert _row(counts, "午检", "student", "初一(2)班").expected == 2

    rs = reporter.rs
    a = rs.mark_absence("S3", DAY.isoformat(), "晨检", "sick_with_symptoms", "teacher-chen", at("09:10"))
    rs.follow_up(a.id, "2026-03-03", "recovering", "teacher-chen", at("10:00", DAY.replace(day=3)))
    assert [x.person_id for x in rs.followups_due("2026-03-04")] == ["S3"]
    rs.follow_up(a.id, "2026-03-04", "back", "teacher-chen", at("07:30", DAY.replace(day=4)))
    assert rs.followups_due("2026-03-05") == []
    assert [f.status for f in rs.absence_file("S3")[0].followups] == ["still_sick", "recovering", "back"]
    leave = rs.mark_absence("S6", DAY.isoformat(), "晨检", "leave", "teacher-zhou", at("09:12"))
    with pytest.raises(ValueError, match="not a sick absence"):
        rs.follow_up(leave.id, "2026-03-03", "still_sick", "teacher-zhou", at("10:00"))
    with pytest.raises(ValueError, match="reason 'flu'"):
        rs.mark_absence("S6", DAY.isoformat(), "晨检", "flu", "teacher-zhou", at("09:12"))


def test_the_alarm_rate_rule_works_without_a_roster(store_url, tmp_path, receiver):
    """Nobody identified at all: 7 days of 40 screenings and 1 alarm each, then a day of 40 with 4 alarms
    (10 % against a 2.5 % baseline) warns; 2 alarms (5 %, twice the baseline but under min_alarms = 3) do not."""
    store = open_store(store_url)
    try:
        rule = '[[report.warning]]\nscope = "school"\nwhat = "alarm_rate"\nfactor = 2.0\nmin_alarms = 3\n'
        config = sd.load_config(tmp_path / "drop", receiver.url, extra=rule)
        warned = []
        reporter = Reporter(ReportStore.beside(store), config, TZ, threshold_c=37.3, on_warning=warned.append)

        def day_of(day, alarms: int) -> None:
            for i in range(40):
                fever = i < alarms
                sid = sd.screen(store, "north-1", f"07:{i:02d}", "FEVER" if fever else "PASS", day=day)
                if fever:
                    store.open_alarm(sid, "north-1", at(f"07:{i:02d}", day))

        for back in range(7, 0, -1):
            day_of(DAY - dt.timedelta(days=back), 1)
        day_of(DAY, 2)
        assert reporter.due(at("08:00")) == []
        for i in range(2):
            sid = sd.screen(store, "north-1", f"08:1{i}", "FEVER", estimate=38.1)
            store.open_alarm(sid, "north-1", at(f"08:1{i}"))
        assert reporter.due(at("08:30")) == ["warning school:alarm_rate>=2x7d,min3 school"]
        [w] = warned
        assert w.scope == "school" and "前 7 天基线 2.50%" in w.draft["detail"]
        assert w.draft["title"] == "疫情快报（草稿）"
    finally:
        store.close()


def test_warnings_and_pages_go_through_the_notifier(school, receiver):
    """notify_callbacks: a warning and a zero-report page reach the reporter's webhook as REPORT events."""
    from controller.notify import Notifier, from_table
    from controller.reporting.scheduler import notify_callbacks

    store, reporter, _, _ = school
    hook = Receiver()
    try:
        ncfg = from_table({"notify": {
            "attempts": 1, "timeout_s": 5.0,
            "channels": {"hook": {"type": "webhook", "url": hook.url}},
            "contacts": {"li": {"name": "李医生", "channels": ["hook"]}},
            "route": [{"event": "report", "to": ["@reporter"]}]}})
        failures = []
        notifier = Notifier(ncfg, on_failure=failures.append).start()
        try:
            on_page, on_warning = notify_callbacks(notifier, reporter.config)
            reporter.on_page, reporter.on_warning = on_page, on_warning
            sd.screen(store, "north-1", "07:00", "PASS", "S1")
            sid = sd.screen(store, "north-1", "07:10", "FEVER", "S2", estimate=38.4)
            alarm = store.open_alarm(sid, "north-1", at("07:10"))
            store.dispose_alarm(alarm, recheck_c=38.0, outcome="observation_room", user="li", time=at("07:20"))
            sid = sd.screen(store, "north-1", "07:30", "FEVER", "S4", estimate=38.4)
            store.open_alarm(sid, "north-1", at("07:30"))
            reporter.due(at("14:30"))
            assert notifier.wait_idle(10)
        finally:
            notifier.close()
        texts = [b["text"] for b in hook.bodies]
        assert [b["event"] for b in hook.bodies] == ["report", "report"]
        assert "疫情快报（草稿）" in texts[0] and "初一(1)班" in texts[0]
        assert "zero report pending: 1 open alarms" in texts[1]
        assert [r["id"] for r in hook.bodies[0]["recipients"]] == ["li"] and failures == []
    finally:
        hook.close()


def test_a_day_missed_while_the_controller_was_down_is_an_alert(school, receiver):
    store, reporter, calls, _ = school
    sd.screen(store, "north-1", "07:00", "PASS", "S1")
    reporter.due(at("14:30"))
    reporter.due(at("15:00"))
    assert calls["alert"] == []
    # Down from 2026-03-02 evening to 2026-03-04 morning: the 3rd's report was never made.
    assert reporter.due(at("08:00", DAY + dt.timedelta(days=2))) == ["missed alert 2026-03-03"]
    assert calls["alert"] == ["the report of 2026-03-03 was never built: send it with thermogate report send "
                              "--date 2026-03-03"]
    assert reporter.due(at("08:01", DAY + dt.timedelta(days=2))) == []  # told once
    # A new installation has no earlier report: its first morning is not a missed day.
    fresh = Reporter(reporter.rs, dataclasses.replace(reporter.config, school_code="4401069999"), TZ,
                     threshold_c=37.3, on_alert=calls["alert"].append)
    assert fresh.due(at("08:00")) == []
