"""thermogate report district on the machine's PostgreSQL: several schools' days built and sent through the real
reporting code (Reporter), each school in a schema of its own of one database, then summed per school, session
and category; a pending or unsent school keeps the district pending, a missing one is listed, a school whose
report is in two schemas is not counted; bad stores, dates and lists are errors; the PDF renders."""

from __future__ import annotations

import csv
import io
import json
import secrets
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from controller.cli import main
from controller.reporting.config import CSV_COLUMNS, from_table
from controller.reporting.counts import day_counts
from controller.reporting.district import DISTRICT_TITLE_ZH
from controller.reporting.report_store import ReportStore
from controller.reporting.scheduler import Reporter
from controller.store import open_store
from store_backends import PG_ADMIN_URL
from tests import reporting_day as sd
from tests.reporting_day import DAY, TZ, at

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

A, B, C, D, E, F = "4401060001", "4401060002", "4401060003", "4401060004", "4401069999", "4401060006"
NAMES = {A: "示范中学", B: "第二中学", C: "第三中学", D: "第四中学", E: "外区学校", F: "第六中学"}
MORNING = {"晨检": {"start": "06:30", "end": "09:00", "gates": ["north-1"]}, "午检": {"start": "12:30", "end": "14:30"}}


def _create_database():
    """A database of its own: the session's shared one holds other tests' schemas, with reports of the same
    school codes and day, which the district report would read too."""
    import psycopg

    name = f"thermogate_district_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _school_url(db_url: str, code: str) -> str:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "school_{code}"')
    return f"{db_url}?options=-csearch_path%3Dschool_{code}"


def _config(tmp: Path, code: str, sessions: dict):
    return from_table(tomllib.loads(sd.report_toml(
        {"school": NAMES[code], "school_code": code, "reporter": "li", "backup_reporter": "zhao",
         "deadline": "15:00", "dir": str(tmp / code / "archive")}, sessions,
        recipients=[{"type": "file", "name": "bureau-drop", "dir": str(tmp / code / "drop")}])), tmp)


def _reporter(store, config) -> Reporter:
    return Reporter(ReportStore.beside(store), config, TZ, threshold_c=37.3, on_page=lambda text: None,
                    on_alert=lambda text: None)


def _school(db_url: str, tmp: Path, code: str, sessions: dict, day, *, send: bool = True) -> str:
    """One school's day in its schema, its report sent at the 15:00 deadline (or only built at 14:30)."""
    url = _school_url(db_url, code)
    with open_store(url) as store:
        day(store)
        r = _reporter(store, _config(tmp, code, sessions))
        if send:
            assert all(x.ok for x in r.send(DAY, at("15:00")))
        else:
            r.build(DAY, at("14:30"))
    return url


def day_b(store) -> int:
    """Everyone screened in the morning, S3 with a fever whose alarm stays open; S3 missing at noon."""
    sd.roster(store)
    for i, pid in enumerate(("S1", "S2", "S4", "S5", "S6", "S7", "T1", "T2")):
        sd.screen(store, "north-1", f"07:{10 + i:02d}", "PASS", pid)
    fever = sd.screen(store, "north-1", "07:30", "FEVER", "S3", estimate=38.1)
    for i, pid in enumerate(("S1", "S2", "S4", "S5", "S6", "S7", "T1", "T2")):
        sd.screen(store, "south-1", f"12:{40 + i:02d}", "PASS", pid)
    return store.open_alarm(fever, "north-1", at("07:30"))


def day_everyone(store) -> None:
    """Everyone on the roster passes in the morning: a zero report."""
    sd.roster(store)
    for i, (pid, *_) in enumerate(sd.ROSTER):
        sd.screen(store, "west-1", f"07:{10 + i:02d}", "PASS", pid)


B_SESSIONS = {"晨检": {"start": "07:00", "end": "08:30", "gates": ["north-1"]},
              "午检": {"start": "12:30", "end": "14:30"}}
C_SESSIONS = {"晨间检查": {"start": "06:45", "end": "08:45"}}  # another name for the morning: not merged


def _schools_file(path: Path, codes) -> Path:
    path.write_text("code,name\n" + "".join(f"{c},{NAMES[c]}\n" for c in codes), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def district(pg_database, tmp_path_factory):
    """A (cases, sent), B (pending, sent), C (zero, its session named 晨间检查), E (not on the list) and F (nobody
    screened) in one database; D never reported."""
    tmp = tmp_path_factory.mktemp("district")
    name, url = _create_database()
    try:
        urls = {A: _school(url, tmp, A, MORNING, sd.whole_day), B: _school(url, tmp, B, B_SESSIONS, day_b),
                C: _school(url, tmp, C, C_SESSIONS, day_everyone),
                E: _school(url, tmp, E, C_SESSIONS, day_everyone),
                F: _school(url, tmp, F, {"晨检": {"start": "06:30", "end": "09:00"}}, sd.roster)}
        yield url, urls, tmp
    finally:
        _drop_database(name)


def _run(url: str, schools: Path, out: Path, *extra: str) -> int:
    return main(["report", "district", "--store", url, "--schools", str(schools), "--out", str(out),
                 "--date", DAY.isoformat(), "--district-name", "天河区教育局", "--district-code", "440106", *extra])


def _row(session: dict, scope: str, category: str, school: str | None = None) -> dict:
    return next(r for r in session["rows"] if r["scope"] == scope and r["category"] == category
                and (school is None or r["school_code"] == school))


FIGS = ("expected", "screened", "not_screened", "manual", "fevers_raised", "fevers_confirmed", "fevers_open",
        "absent_sick", "absent_leave", "absent_other", "absent_unmarked")


def test_the_district_sums_each_school_and_session(district, tmp_path, capsys):
    url, urls, _ = district
    out = tmp_path / "out"
    assert _run(url, _schools_file(tmp_path / "schools.csv", (A, B, C, D)), out) == 1  # pending: B open, D missing
    stdout = capsys.readouterr().out
    doc = json.loads((out / "440106-2026-03-02.json").read_text(encoding="utf-8"))

    assert [(e["code"], e["status"], e["verdict"] and e["verdict"]["code"], e["confirmed"], e["open"])
            for e in doc["schools"]] == [(A, "sent", "cases", 1, 0), (B, "sent", "pending", 0, 1),
                                         (C, "sent", "zero", 0, 0), (D, "missing", None, 0, 0)]
    v = doc["verdict"]
    assert (v["code"], v["n"], v["schools"]) == ("pending", 2, [B, D])
    assert "未报送 1 所" in v["zh"] and "警报未处置 1 所" in v["zh"]
    assert [u["code"] for u in doc["unlisted"]] == [F, E]  # reported, not on the list: not summed

    # Sessions by name as each school spells it: 晨检 of A and B (their windows differ), 晨间检查 of C alone.
    sessions = {s["name"]: s for s in doc["sessions"]}
    assert list(sessions) == ["晨检", "午检", "晨间检查"]
    m = sessions["晨检"]
    assert (m["schools"], m["same_window"], m["windows"]) == ([A, B], False, {A: "06:30-09:00", B: "07:00-08:30"})
    assert sessions["晨间检查"]["schools"] == [C] and sessions["午检"]["same_window"]
    # A's morning: 9 expected, 8 screened (one unidentified), S3 and S6 missing, S2's fever confirmed;
    # B's: all 9 screened, S3's fever open.
    pick = ("expected", "screened", "not_screened", "manual", "fevers_raised", "fevers_confirmed", "fevers_open")
    assert [_row(m, "school", "all", s)[k] for s in (A, B) for k in pick] == [9, 8, 2, 1, 1, 1, 0,
                                                                             9, 9, 0, 0, 1, 0, 1]
    assert [_row(m, "district", "student")[k] for k in pick] == [14, 12, 2, 0, 2, 1, 1]
    assert [_row(m, "district", "staff")[k] for k in pick] == [4, 4, 0, 1, 0, 0, 0]
    assert [_row(m, "district", "unidentified")[k] for k in ("expected", "screened")] == [None, 1]
    assert [_row(m, "district", "all")[k] for k in pick] == [18, 17, 2, 1, 2, 1, 1]
    assert (_row(m, "district", "all")["absent_sick"], _row(m, "district", "all")["absent_leave"]) == (1, 1)
    assert [_row(sessions["晨间检查"], "district", "all")[k] for k in ("expected", "screened")] == [9, 9]

    # The sums are those of each school's own counts, read from its schema (not from the stored reports).
    for code, cfg_sessions in ((A, MORNING), (B, B_SESSIONS)):
        with open_store(urls[code]) as store:
            _, counts = day_counts(ReportStore.beside(store), _config(tmp_path, code, cfg_sessions), DAY, TZ, 37.3)
        for c in counts:
            total = next(r for r in c.rows if r.category == "all")
            assert [getattr(total, k) for k in FIGS] == [_row(sessions[c.session.name], "school", "all", code)[k]
                                                         for k in FIGS]
    for s in doc["sessions"]:
        assert [_row(s, "district", "all")[k] for k in FIGS] == [
            sum(r[k] for r in s["rows"] if r["scope"] == "school") for k in FIGS]

    assert [(c["school_code"], c["confirmed"], c["open"]) for c in doc["cases"]] == [(A, True, False),
                                                                                     (B, False, True)]

    lines = stdout.splitlines()
    assert lines[0] == "440106 天河区教育局 2026-03-02: pending"
    assert any(x.split() == [D, "第四中学", "MISSING:", "no", "report", "of", "2026-03-02"] for x in lines)
    assert "schools (3 of 4 reported):" in stdout
    assert f"晨间检查  06:45-08:45  (1 of 3 schools: {C} only)" in stdout
    assert "晨检  windows differ  (2 of 3 schools" in stdout
    assert f"not on the list, not counted: {E} 外区学校" in stdout

    # The CSV: the school's report columns; per session each school's total, then the district's; D's row says
    # it did not report.
    rows = list(csv.DictReader(io.StringIO((out / "440106-2026-03-02.csv").read_bytes().decode("utf-8-sig"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    morning = [(r["school_code"], r["category"], r["expected"], r["screened"]) for r in rows if r["session"] == "晨检"]
    assert morning == [(A, "合计", "9", "8"), (B, "合计", "9", "9"), ("440106", "学生", "14", "12"),
                       ("440106", "教职工", "4", "4"), ("440106", "访客", "0", "0"), ("440106", "未识别", "", "1"),
                       ("440106", "合计", "18", "17")]
    [missing] = [r for r in rows if r["school_code"] == D]
    assert (missing["session"], missing["verdict"], missing["screened"]) == ("", "未报送", "")
    assert next(r for r in rows if r["school_code"] == A)["reporter"] == "zhao"  # signed by the backup
    assert rows[-2]["verdict"].startswith("区域零报告待定")


def test_final_schools_give_the_districts_verdict(district, tmp_path, capsys):
    url, _, _ = district
    assert _run(url, _schools_file(tmp_path / "ac.csv", (A, C)), tmp_path / "ac") == 0
    doc = json.loads((tmp_path / "ac" / "440106-2026-03-02.json").read_text(encoding="utf-8"))
    assert (doc["verdict"]["code"], doc["verdict"]["n"]) == ("cases", 1)
    assert doc["verdict"]["zh"] == "全区今日确认发热 1 例。"
    assert _run(url, _schools_file(tmp_path / "c.csv", (C,)), tmp_path / "c") == 0
    doc = json.loads((tmp_path / "c" / "440106-2026-03-02.json").read_text(encoding="utf-8"))
    assert doc["verdict"]["code"] == "zero"
    # F screened nobody: with C's zero report, the district's is not a zero report either.
    assert _run(url, _schools_file(tmp_path / "cf.csv", (C, F)), tmp_path / "cf") == 0
    doc = json.loads((tmp_path / "cf" / "440106-2026-03-02.json").read_text(encoding="utf-8"))
    assert (doc["verdict"]["code"], doc["verdict"]["schools"]) == ("no_screening", [F])
    capsys.readouterr()


def test_a_school_pending_unsent_or_stored_twice_keeps_the_district_pending(pg_database, tmp_path, capsys):
    name, url = _create_database()
    try:
        _school(url, tmp_path, A, MORNING, sd.whole_day)
        b_url = _school(url, tmp_path, B, B_SESSIONS, day_b)
        c_url = _school(url, tmp_path, C, C_SESSIONS, day_everyone, send=False)  # built at 14:30, not sent
        schools = _schools_file(tmp_path / "schools.csv", (A, B, C))
        out = tmp_path / "out"
        report = out / "440106-2026-03-02.json"

        assert _run(url, schools, out) == 1
        v = json.loads(report.read_text(encoding="utf-8"))["verdict"]
        assert (v["code"], v["schools"]) == ("pending", [B, C])
        assert "已生成未报送 1 所" in v["zh"] and "警报未处置 1 所" in v["zh"]

        # The doctor rules B's alarm a false alarm (36.8 on re-check) and B sends again; C sends at its deadline.
        with open_store(b_url) as store:
            [alarm] = store.alarms(status="open")
            store.dispose_alarm(alarm.id, recheck_c=36.8, outcome="false_alarm", user="li", time=at("15:10"))
            _reporter(store, _config(tmp_path, B, B_SESSIONS)).send(DAY, at("15:20"))
        with open_store(c_url) as store:
            _reporter(store, _config(tmp_path, C, C_SESSIONS)).send(DAY, at("15:00"))
        capsys.readouterr()
        assert _run(url, schools, out) == 0
        doc = json.loads(report.read_text(encoding="utf-8"))
        assert (doc["verdict"]["code"], doc["verdict"]["n"]) == ("cases", 1)  # A's; B's fever was excluded
        assert [e["status"] for e in doc["schools"]] == ["sent", "sent", "sent"]
        assert [e["late"] for e in doc["schools"]] == [False, True, False]  # B's resend came after its deadline

        # A's report found in a second schema too: which is A's cannot be told, so A is not counted.
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'INSERT INTO "school_{B}".reports SELECT * FROM "school_{A}".reports')
        assert _run(url, schools, out) == 1
        doc = json.loads(report.read_text(encoding="utf-8"))
        assert (doc["schools"][0]["status"], doc["schools"][0]["schemas"]) == ("conflict",
                                                                              [f"school_{A}", f"school_{B}"])
        assert doc["verdict"]["schools"] == [A] and "重复或无法读取 1 所" in doc["verdict"]["zh"]
        assert all(r["school_code"] != A for s in doc["sessions"] for r in s["rows"])
        assert f"CONFLICT: reports in 2 schemas: school_{A}, school_{B}" in capsys.readouterr().out

        # B's report content in a version this thermogate does not know: not guessed at, not counted.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'UPDATE "school_{B}".reports SET content = %s WHERE school_code = %s', ('{"v": 2}', B))
        assert _run(url, schools, out) == 1
        doc = json.loads(report.read_text(encoding="utf-8"))
        assert [e["status"] for e in doc["schools"]] == ["conflict", "unreadable", "sent"]
        assert doc["verdict"]["schools"] == [A, B] and "重复或无法读取 2 所" in doc["verdict"]["zh"]
        assert [s["schools"] for s in doc["sessions"]] == [[C]]
        assert "UNREADABLE: a report content this thermogate cannot read" in capsys.readouterr().out
    finally:
        _drop_database(name)


def test_bad_stores_dates_and_lists_are_errors(district, tmp_path, capsys):
    url, _, _ = district
    schools = _schools_file(tmp_path / "schools.csv", (A, B))
    out = tmp_path / "out"
    for store, message in ((f"sqlite://{tmp_path}/school.db", "a SQLite file holds one school"),
                           ("mysql://db/x", "reads the PostgreSQL database"),
                           ("postgresql://postgres@127.0.0.1:1/x", "cannot connect to postgresql"),
                           (url + "_nonexistent", "cannot connect to postgresql")):
        assert _run(store, schools, out) == 2, store
        assert message in capsys.readouterr().err, store
    assert not (tmp_path / "school.db").exists()  # nothing created
    assert _run(url, schools, out, "--date", "2026-03-09") == 2
    assert ("thermogate: error: no school has a report of 2026-03-09 in postgresql "
            in capsys.readouterr().err)
    with pytest.raises(SystemExit) as exc:
        _run(url, schools, out, "--date", "2026-02-30")
    assert exc.value.code == 2 and "is not a date like 2026-03-02" in capsys.readouterr().err
    assert not out.exists()  # no files for an error

    for text, message in (("code,name\n4401060001,A\n4401060001,B\n", "listed twice (line 2 too)"),
                          ("school,title\n4401060001,A\n", "must name the columns code and name"),
                          ("code,name\n44/01,A\n", "school code '44/01'"),
                          ("code,name\n", "no school listed"),
                          ("code,name\n4401060001,\n", "has no name")):
        bad = tmp_path / "bad.csv"
        bad.write_text(text, encoding="utf-8")
        assert _run(url, bad, out) == 2, text
        assert message in capsys.readouterr().err, text
    assert main(["report", "district", "--store", url, "--schools", str(schools), "--out", str(out),
                 "--district-code", "a/b"]) == 2
    assert "--district-code 'a/b'" in capsys.readouterr().err
    assert _run(url, tmp_path / "nope.csv", out) == 2 and "No such file" in capsys.readouterr().err


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # make test installs poppler-utils; without it this must fail, not pass quietly
        pytest.fail(f"{name} not found: install poppler-utils (make test does, as root on Debian)")
    return path


def test_the_pdf_renders(district, tmp_path, capsys):
    url, _, _ = district
    out = tmp_path / "out"
    _run(url, _schools_file(tmp_path / "schools.csv", (A, B, C, D)), out)
    capsys.readouterr()
    pdf = out / "440106-2026-03-02.pdf"
    subprocess.run([_tool("pdftoppm"), "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    [png] = sorted(tmp_path.glob("page*.png"))
    with Image.open(png) as im:
        w, h = im.size
        assert abs(h / w - 297 / 210) < 0.01  # A4 portrait
        gray = im.convert("L")
        assert sum(gray.histogram()[:128]) > 0.01 * w * h  # text and rules, not an empty page
        px = np.asarray(im.convert("RGB")).astype(int)
        orange = ((px[..., 0] > 150) & (px[..., 1] > 70) & (px[..., 1] < 140) & (px[..., 2] < 50)).sum()
        assert orange > 50  # the pending verdict's box, in its colour
    text = subprocess.run([_tool("pdftotext"), "-layout", str(pdf), "-"], check=True, capture_output=True,
                          timeout=60).stdout.decode("utf-8")
    for needed in (DISTRICT_TITLE_ZH, "天河区教育局", "440106", "示范中学", "第二中学", "第四中学", "未报送",
                   "晨检", "晨间检查", "各校时段不同", "区域零报告待定", "外区学校"):
        assert needed in text, needed
    fonts = subprocess.run([_tool("pdffonts"), str(pdf)], check=True, capture_output=True, timeout=60).stdout
    line = next(x for x in fonts.decode().splitlines() if "CJK" in x)
    assert line.split()[-5:-3] == ["yes", "yes"]  # embedded, as a subset
