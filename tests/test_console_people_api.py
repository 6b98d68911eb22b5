"""The console's People and Visitors API against a real controller service (real store, real broker):
who may do what, the identity audit with reader and reason, the roster import reported as the CLI reports
it, bad files, visitors with a whole ID number refused, passes that the gate's Resolver accepts or refuses."""

from __future__ import annotations

import re
import time

import pytest

from controller.console.i18n import catalogue
from controller.identity.cli import main as identity_cli
from controller.identity.passes import load_pass_key
from controller.identity.people_store import PeopleStore
from controller.identity.resolve import Resolver
from controller.reporting.report_store import ReportStore
from controller.store import Screening
from tests.test_console_api import CONSOLE, PASSWORD, Rig, console_routes

ROSTER = """id,name,role,class,boarder,guardian_phone,credentials,active
S2026001,张伟,student,初一(1)班,是,138 0013 8000,card:04A1B2C3;S2026001,yes
S2026002,李娜,student,初一(1)班,否,139 0000 1111,S2026002,yes
S2026003,王强,pupil,初一(2)班,否,,,yes
T0001,王老师,staff,数学组,no,,card:04:A1:B2:C4|T0001,yes
"""


@pytest.fixture
def rig(tmp_path, mqtt_broker):
    r = Rig(tmp_path, mqtt_broker)
    svc = r.start()
    for name, role in (("ada", "admin"), ("gus", "guard"), ("doc", "doctor")):
        svc.store.add_user(name, role, PASSWORD)
    yield r
    r.stop()


def people_of(rig) -> PeopleStore:
    return PeopleStore.beside(rig.service.store)


def imported(rig, admin, text: str = ROSTER, **params):
    return admin.post("/api/people/import", params={"name": "roster.csv", **params}, content=text.encode("utf-8"),
                      headers={"Content-Type": "text/csv"})


def test_roles_who_sees_what(rig):
    guard, doctor, admin = rig.client("gus"), rig.client("doc"), rig.client("ada")
    assert imported(rig, admin).status_code == 200
    # Everyone may search the roster; nobody gets a phone number or a credential from the search.
    for c in (guard, doctor, admin):
        r = c.get("/api/people", params={"q": "初一(1)"})
        assert r.status_code == 200
        body = r.json()
        assert [p["id"] for p in body["people"]] == ["S2026001", "S2026002"]
        assert "138" not in r.text and "04A1B2C3" not in r.text and "guardian_phone" not in r.text
        assert {"class": "初一(1)班", "count": 2} in body["classes"]
    # By name, by id, by class (exactly), case-insensitive.
    assert [p["id"] for p in guard.get("/api/people", params={"q": "王"}).json()["people"]] == ["T0001"]
    assert [p["id"] for p in guard.get("/api/people", params={"q": "t0001"}).json()["people"]] == ["T0001"]
    assert [p["id"] for p in guard.get("/api/people", params={"class": "数学组"}).json()["people"]] == ["T0001"]
    why = {"reason_kind": "routine"}
    # A person's file: the doctor and admins, not guards.
    r = guard.post("/api/people/S2026001/file", json=why)
    assert r.status_code == 403 and r.json()["error"] == "err_forbidden"
    assert doctor.post("/api/people/S2026001/file", json=why).status_code == 200
    assert admin.post("/api/people/S2026001/file", json=why).status_code == 200
    # The roster's import and export: admins only.
    for c in (guard, doctor):
        assert imported(rig, c).status_code == 403
        assert c.post("/api/people/export", json={"reason": "x"}).status_code == 403
    # Visitors: guards and admins, not doctors.
    visitor = {"name": "王芳", "id_last4": "123X", "host": "李老师", "purpose": "家长会"}
    assert doctor.post("/api/visitors", json=visitor).status_code == 403
    assert doctor.get("/api/visitors").status_code == 403
    assert doctor.post("/api/visitors/export", json={"reason": "x"}).status_code == 403
    assert guard.post("/api/visitors", json=visitor).status_code == 201
    assert admin.get("/api/visitors").status_code == 200
    # The page lists the views a role may open.
    assert "person_file" not in guard.get("/api/me").json()["can"]
    assert {"people", "visitors"} <= set(guard.get("/api/me").json()["can"])
    assert {"people", "person_file"} <= set(doctor.get("/api/me").json()["can"])
    # Only the two allowed reads are in the identity audit.
    assert [(r.reader, r.action) for r in people_of(rig).reads()] == [("doc", "person_show"),
                                                                      ("ada", "person_show")]


def test_opening_a_file_needs_a_reason_and_is_audited(rig):
    doctor, admin = rig.client("doc"), rig.client("ada")
    assert imported(rig, admin).status_code == 200
    sid = rig.service.store.record_screening(Screening(
        uid="sim-1:t:1", gate="sim-1", time=time.time(), decision="FEVER", reason="", track=1, estimate_c=38.3,
        face_c=35.4, distance_m=0.6, reduced_accuracy=False, boot=1, sequence=1))
    aid = rig.service.store.open_alarm(sid, "sim-1", time.time())
    people_of(rig).link_screening(sid, person_id="S2026001")
    # No reason, an unknown kind, "other" without a text: refused, and nothing is recorded.
    for body in ({}, {"reason_kind": "curious"}, {"reason_kind": "other", "reason": "  "}):
        r = doctor.post("/api/people/S2026001/file", json=body)
        assert r.status_code == 400 and r.json()["error"] == "err_reason_required", body
    r = doctor.post("/api/people/NOBODY/file", json={"reason_kind": "routine"})
    assert r.status_code == 404
    assert people_of(rig).reads() == []
    r = doctor.post("/api/people/S2026001/file", json={"reason_kind": "fever_followup", "reason": "复测 38.3"})
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["person"]["guardian_phone"] == "138 0013 8000"
    assert f["person"]["credentials"] == ["card:04A1B2C3", "qr:S2026001"]
    assert [s["id"] for s in f["screenings"]] == [sid] and f["screenings"][0]["estimate_c"] == 38.3
    gate = rig.service.gates["sim-1"]
    assert gate.name and f["screenings"][0]["gate_name"] == gate.name  # the gate's display name, as on the wall
    assert [a["id"] for a in f["alarms"]] == [aid]
    assert f["rechecks"] == [] and f["absences"] == []
    rig.service.store.dispose_alarm(aid, recheck_c=38.1, outcome="sent_home", user="doc", time=time.time(), note="")
    # Sent home sick: the class teacher marks the absence the next morning and follows it up.
    reports = ReportStore.beside(rig.service.store)
    absence = reports.mark_absence("S2026001", "2026-03-03", "morning", "sick_with_symptoms", "王老师", time.time(),
                                   note="发热")
    reports.follow_up(absence.id, "2026-03-04", "recovering", "王老师", time.time())
    f = admin.post("/api/people/S2026001/file", json={"reason_kind": "other", "reason": "教育局抽查"}).json()
    assert [(a["recheck_c"], a["outcome"], a["by"]) for a in f["rechecks"]] == [(38.1, "sent_home", "doc")]
    [a] = f["absences"]
    assert (a["day"], a["session"], a["reason"], a["marked_by"], a["note"]) == (
        "2026-03-03", "morning", "sick_with_symptoms", "王老师", "发热")
    assert [(u["day"], u["status"]) for u in a["followups"]][-1] == ("2026-03-04", "recovering")
    reads = people_of(rig).reads(subject="S2026001")
    assert [(r.reader, r.action, r.reason) for r in reads] == [
        ("doc", "person_show", "fever_followup: 复测 38.3"), ("ada", "person_show", "other: 教育局抽查")]
    assert reads[0].detail == {"via": "console", "role": "doctor"}


def test_import_reports_each_line_as_the_cli_does(rig, tmp_path, capsys):
    admin = rig.client("ada")
    r = imported(rig, admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"] == {"added": 3, "changed": 0, "unchanged": 0, "refused": 1}
    assert body["committed"] is True and body["encoding"] == "utf-8"
    assert [(o["line"], o["outcome"]) for o in body["lines"]] == [(2, "added"), (3, "added"), (4, "refused"),
                                                                  (5, "added")]
    assert body["lines"][2]["reason"] == "role 'pupil' is not student|staff"
    # The same file through `thermogate people import` on a fresh store prints exactly the same report.
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    capsys.readouterr()
    assert identity_cli(["people", "import", str(path), "--store", str(tmp_path / "cli.db")]) == 1
    cli = capsys.readouterr().out.rstrip("\n").split("\n")
    assert body["report"].split("\n")[1:] == cli[1:]
    assert cli[0] == f"{path} (utf-8):" and body["report"].split("\n")[0] == "roster.csv (utf-8):"
    # Imported again: every good line unchanged, the bad one still refused; the import is in the audit trail.
    again = imported(rig, admin).json()
    assert again["counts"] == {"added": 0, "changed": 0, "unchanged": 3, "refused": 1}
    audit = [e for e in rig.service.store.audit() if e.action == "roster_import"]
    assert len(audit) == 2 and audit[0].user == "ada" and audit[0].detail["added"] == 3
    # --strict as a checkbox: a refused line keeps every line out.
    strict = imported(rig, admin, ROSTER + "S2026009,刘洋,student,初一(2)班,否,,,yes\n", strict="1").json()
    assert strict["committed"] is False and strict["strict"] is True
    assert strict["report"].endswith("nothing imported (--strict and 1 line(s) refused)")
    assert people_of(rig).person("S2026009") is None


def test_bad_roster_files_are_refused_with_nothing_imported(rig):
    admin = rig.client("ada")
    for content, words in ((b"", "empty"), (b"   \n", "empty"),
                           ("名字,班级\n张伟,1班\n".encode(), "line 1: unknown column"),
                           ("id,name,role,class\nS1,张伟,student,一班\n".encode() + b"S2,\xff\xfe,student,x\n",
                            "line 3: not valid UTF-8")):
        r = admin.post("/api/people/import", content=content, headers={"Content-Type": "text/csv"})
        assert r.status_code == 400, (content, r.text)
        assert r.json()["error"] == "err_roster_file" and words in r.json()["detail"], r.json()
    assert people_of(rig).people() == []
    # A GBK file (Excel on a Chinese Windows) is read as GBK.
    r = admin.post("/api/people/import", content=ROSTER.encode("gbk"), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["encoding"] == "gbk" and r.json()["counts"]["added"] == 3
    # A whole school's file is more than the API's 16 kB, and is taken; beyond 2 MB it is refused unread.
    big = "id,name,role,class\n" + "".join(f"S{i:06d},学生{i},student,初二({i % 9 + 1})班\n" for i in range(1200))
    assert len(big.encode()) > 16 * 1024
    r = admin.post("/api/people/import", content=big.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["counts"]["added"] == 1200
    r = admin.post("/api/people/import", content=b"x" * (2 * 1024 * 1024 + 1), headers={"Content-Type": "text/csv"})
    assert r.status_code == 413
    # The other routes keep the 16 kB limit.
    assert admin.post("/api/people/export", content=b"{" + b" " * 20000 + b"}",
                      headers={"Content-Type": "application/json"}).status_code == 413


def test_roster_export_needs_a_reason_and_is_audited(rig):
    admin = rig.client("ada")
    imported(rig, admin)
    r = admin.post("/api/people/export", json={"reason": ""})
    assert r.status_code == 400 and r.json()["error"] == "err_reason_required"
    assert people_of(rig).reads() == []
    r = admin.post("/api/people/export", json={"reason": "期初核对", "class": "初一(1)班"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().split("\r\n")
    assert lines[0] == "id,name,role,class,boarder,guardian_phone,credentials,active" and len(lines) == 3
    # What it writes imports back unchanged.
    back = imported(rig, admin, r.text).json()
    assert back["counts"] == {"added": 0, "changed": 0, "unchanged": 2, "refused": 0}
    [read] = people_of(rig).reads()
    assert (read.reader, read.action, read.subject, read.reason) == ("ada", "people_export", "*", "期初核对")
    assert read.detail["rows"] == 2 and read.detail["class"] == "初一(1)班"


def test_visitor_registration_refuses_a_whole_id_number(rig):
    guard = rig.client("gus")
    ok = {"name": "王芳", "id_last4": "123x", "host": "李老师", "purpose": "家长会"}
    for bad, key in (({"id_last4": "11010519491231002X"}, "err_id_last4"), ({"id_last4": "12345"}, "err_id_last4"),
                     ({"id_last4": "12a4"}, "err_id_last4"),
                     ({"purpose": "证件 110105194912310021"}, "err_visitor"),
                     ({"name": ""}, "err_invalid"), ({"valid_from": "2026-03-02T14:00",
                                                       "valid_until": "2026-03-04T14:00"}, "err_visitor"),
                     ({"valid_until": "yesterday"}, "err_invalid"), ({"valid_until": ["x"]}, "err_invalid"),
                     ({"valid_until": time.time() - 60}, "err_visitor")):
        r = guard.post("/api/visitors", json={**ok, **bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"] == key, (bad, r.json())
    assert people_of(rig).visitors() == []
    r = guard.post("/api/visitors", json=ok)
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["id_last4"] == "123X" and v["issued_by"] == "gus" and v["svg"].lstrip().startswith("<?xml")
    # The window defaults to now until the end of the school's day.
    now = time.time()
    assert now - 2 <= v["valid_from"] <= now and v["until_local"].endswith("00:00:00")
    assert 0 < v["valid_until"] - now <= 86400
    assert "110105" not in str(people_of(rig).visitors())
    assert [e.action for e in rig.service.store.audit() if e.action.startswith("visitor")] == ["visitor_added"]
    # A window in Unix seconds is taken as it is.
    start = int(time.time()) + 3600
    later = guard.post("/api/visitors", json={**ok, "valid_from": start, "valid_until": start + 1800}).json()
    assert (later["valid_from"], later["valid_until"]) == (start, start + 1800)


def test_revoke_and_the_day_list(rig):
    guard, admin = rig.client("gus"), rig.client("ada")
    v = guard.post("/api/visitors", json={"name": "赵六", "id_last4": "0421", "host": "教务处",
                                          "purpose": "送材料"}).json()
    resolver = Resolver(people_of(rig), load_pass_key(rig.service.config.site_dir))
    assert resolver.resolve(v["token"], "qr", time.time()).ok
    day = guard.get("/api/visitors").json()
    assert [(x["pass_id"], x["revoked"]) for x in day["visitors"]] == [(v["pass_id"], False)]
    svg = guard.get(f"/api/visitors/{v['pass_id']}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    page = guard.get(f"/visitors/{v['pass_id']}/pass")
    assert page.status_code == 200 and "赵六" in page.text and "教务处" in page.text and "<svg" in page.text
    assert "<?xml" not in page.text
    r = guard.post(f"/api/visitors/{v['pass_id']}/revoke", json={})
    assert r.status_code == 200 and r.json()["revoked"] and r.json()["revoked_by"] == "gus"
    assert resolver.resolve(v["token"], "qr", time.time()).reason == "revoked"
    assert guard.get("/api/visitors").json()["visitors"][0]["revoked"] is True
    assert 'id="pass-revoked"' in guard.get(f"/visitors/{v['pass_id']}/pass").text
    assert guard.post("/api/visitors/0123456789abcdef/revoke", json={}).status_code == 404
    assert guard.post("/api/visitors/not-a-pass/revoke", json={}).status_code == 400
    assert guard.get("/api/visitors/0123456789abcdef/qr.svg").status_code == 404
    assert guard.get("/api/visitors", params={"date": "03/02/2026"}).status_code == 400
    # Another day has nobody.
    assert admin.get("/api/visitors", params={"date": "2020-01-01"}).json()["visitors"] == []
    # The visitor log: a reason, then the CSV, audited with the reader.
    r = guard.post("/api/visitors/export", json={"reason": ""})
    assert r.status_code == 400 and r.json()["error"] == "err_reason_required"
    r = guard.post("/api/visitors/export", json={"reason": "月度台账", "date": day["date"]})
    assert r.status_code == 200 and r.text.startswith("pass_id,name,id_last4,host,purpose")
    assert "赵六" in r.text and ",0421," in r.text
    [read] = people_of(rig).reads()
    assert (read.reader, read.action, read.reason, read.detail["rows"]) == ("gus", "visitor_export", "月度台账", 1)


def test_every_people_route_needs_a_session_and_csrf(rig):
    anon = rig.client()
    admin = rig.client("ada")
    token = admin.headers.pop("X-CSRF-Token")
    ours = [(m, p) for m, p in console_routes(rig.service) if "people" in p or "visitor" in p]
    assert len(ours) == 10
    for method, path in ours:
        url = path.replace("{person_id}", "S1").replace("{pass_id}", "0123456789abcdef")
        r = anon.request(method, url, json={})
        assert r.status_code == 401 and r.json()["error"] == "err_login_required", (method, path)
        if method == "POST":
            r = admin.post(url, json={"reason": "x", "reason_kind": "routine"})
            assert r.status_code == 403 and r.json()["error"] == "err_csrf", path
    admin.headers["X-CSRF-Token"] = token
    assert people_of(rig).reads() == [] and people_of(rig).visitors() == []


def test_catalogue_has_the_people_pages_keys():
    cat = catalogue()
    js = (CONSOLE / "static" / "people.js").read_text()
    used = set(re.findall(r"""\bt\("([a-z_A-Z0-9]+)"[,)]""", js))
    used |= set(re.findall(r'data-t="([a-zA-Z_0-9]+)"', (CONSOLE / "static" / "index.html").read_text()))
    for api in ("people_api.py", "visitors_api.py"):
        used |= set(re.findall(r"""["'](err_[a-z_0-9]+)["']""", (CONSOLE / api).read_text()))
    used |= {f"prole_{r}" for r in ("student", "staff")} | {f"why_{k}" for k in
                                                             ("routine", "fever_followup", "parent_request", "other")}
    used |= {f"audit_{a}" for a in ("roster_import", "visitor_added", "visitor_revoked")}
    used |= {"vis_name", "vis_host", "vis_purpose", "vis_from", "vis_until", "vis_id_last4", "vis_issued_by"}
    assert len(used) > 60
    missing = sorted(k for k in used if k not in cat["zh"] or k not in cat["en"])
    assert not missing, missing
