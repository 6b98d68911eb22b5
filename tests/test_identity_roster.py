"""The roster: import in UTF-8, UTF-8 with BOM and GBK, line-by-line refusals, --strict, export round trip,
a person's file and the audit of every read; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest

from controller.identity import cli
from controller.identity.checks import IdentityError
from controller.identity.people_store import open_people_store
from controller.identity.records import Credential
from controller.identity.roster_import import REFUSED, import_roster
from controller.store import Screening, open_store

T0 = 1_780_000_000.0

HEADER = "id,name,role,class,boarder,guardian_phone,credentials\n"
GOOD = (HEADER
        + "S2026001,张伟,student,初一(1)班,是,138 0013 8000,card:04A1B2C3;S2026001\n"
        + "S2026002,李娜,student,初一(1)班,否,+86 139-0000-1111,qr:S2026002\n"
        + "T0001,王老师,staff,数学组,no,,card:04:a1:b2:c4|T0001\n")


@pytest.fixture
def url(store_url):  # noqa: F811 (the fixture imported above: SQLite, then PostgreSQL)
    return store_url


@pytest.fixture
def people(url):
    p = open_people_store(url)
    yield p
    p.close()


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])  # utf-8-sig: with the byte-order mark
def test_import_detects_the_encoding_and_keeps_chinese_names(people, encoding):
    data = GOOD.encode(encoding)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    report = import_roster(people, data, T0)
    assert report.encoding == encoding
    assert [(o.line, o.person_id, o.outcome) for o in report.lines] == [
        (2, "S2026001", "added"), (3, "S2026002", "added"), (4, "T0001", "added")]
    zhang = people.person("S2026001")
    assert zhang.name == "张伟" and zhang.class_name == "初一(1)班" and zhang.boarder is True
    assert zhang.guardian_phone == "138 0013 8000" and zhang.role == "student" and zhang.active
    assert set(zhang.credentials) == {Credential("card", "04A1B2C3"), Credential("qr", "S2026001")}
    teacher = people.person("T0001")
    assert teacher.class_name == "数学组" and teacher.boarder is False
    assert Credential("card", "04A1B2C4") in teacher.credentials  # colons dropped, upper-cased
    assert [p.id for p in people.people(class_name="初一(1)班")] == ["S2026001", "S2026002"]
    # The same file again changes nothing.
    again = import_roster(people, data, T0 + 60)
    assert {o.outcome for o in again.lines} == {"unchanged"}
    assert people.person("S2026001").updated_at == T0


def test_encoding_override_and_undecodable_files_are_refused_with_the_line(people):
    gbk = GOOD.encode("gbk")
    assert import_roster(people, gbk, T0, encoding="gbk").count("added") == 3
    assert import_roster(people, GOOD.encode("utf-8-sig"), T0, encoding="utf-8").count("unchanged") == 3
    with pytest.raises(IdentityError, match=r"line 2: not valid utf-8"):
        import_roster(people, gbk, T0, encoding="utf-8")
    damaged = GOOD.encode("utf-8").replace("李娜".encode(), b"\xe6\x9d\x8e\xff")  # UTF-8 with a broken byte
    with pytest.raises(IdentityError, match=r"line 3: not valid UTF-8 \(byte 0xff\)"):
        import_roster(people, damaged, T0)
    with pytest.raises(IdentityError, match="unknown encoding"):
        import_roster(people, gbk, T0, encoding="klingon")


def test_bad_header_refuses_the_file(people):
    with pytest.raises(IdentityError, match="line 1: unknown column"):
        import_roster(people, b"id,name,role,class,shoe_size\n", T0)
    with pytest.raises(IdentityError, match="lacks role"):
        import_roster(people, b"id,name,class\nS1,A,1\n", T0)
    with pytest.raises(IdentityError, match="empty"):
        import_roster(people, b"", T0)
    assert people.people() == []


def test_bad_rows_are_refused_line_by_line_and_never_imported(people):
    import_roster(people, (HEADER + "T0009,周老师,staff,语文组,no,,card:0A0B0C0D\n").encode(), T0)
    data = (HEADER
            + "S1,甲,student,初一(1)班,no,,\n"  # 2: good
            + "S2,乙,pupil,初一(1)班,no,,\n"  # 3: role
            + "S3,丙,student,初一(1)班,maybe,,\n"  # 4: boarder
            + "S4,丁,student,初一(1)班,no,12-34,\n"  # 5: phone
            + "S5,戊,student,初一(1)班,no,,card:XYZ\n"  # 6: card UID
            + "S6,己,student,初一(1)班,no,,card:0A0B0C0D\n"  # 7: card of T0009 in the store
            + "S7,庚,student,初一(1)班,no,,shared-1\n"  # 8: credential also on line 9
            + "S8,辛,student,初一(2)班,no,,shared-1\n"  # 9
            + "S9,壬,student,初一(2)班,no,\n"  # 10: too few cells
            + "S1,甲二,student,初一(2)班,no,,\n"  # 11: id also on line 2 (so line 2 is refused too)
            + "S10,,student,初一(2)班,no,,\n"  # 12: no name
            + "S11,癸,student,,no,,\n"  # 13: a student needs a class
            + "S12,子,student,初二(1)班,no,,\n").encode("utf-8")  # 14: good
    report = import_roster(people, data, T0)
    reasons = {o.line: o.reason for o in report.lines if o.outcome == REFUSED}
    assert reasons == {
        2: "id S1 is also on line 11",
        3: "role 'pupil' is not student|staff",
        4: "boarder 'maybe' is not yes/no (是/否)",
        5: "guardian phone '12-34' is not a phone number (7-15 digits)",
        6: "card 'XYZ' is not a card UID (4, 7 or 10 bytes in hex)",
        7: "credential card:0A0B0C0D is already bound to T0009",
        8: "credential qr:shared-1 is also given on line 9",
        9: "credential qr:shared-1 is also given on line 8",
        10: "6 cells, the header has 7",
        11: "id S1 is also on line 2",
        12: "name is empty",
        13: "class is empty",
    }
    assert [(o.line, o.outcome) for o in report.lines if o.outcome != REFUSED] == [(14, "added")]
    assert report.committed
    assert sorted(p.id for p in people.people()) == ["S12", "T0009"]
    assert people.credential_owner(Credential("card", "0A0B0C0D")) == "T0009"
    assert str(report.lines[1]) == "line 3: refused: role 'pupil' is not student|staff"


def test_a_refused_change_keeps_the_whole_old_record(people):
    import_roster(people, GOOD.encode(), T0)
    # S2026002 would get a new name and the card of S2026001 (who keeps it): the line is refused whole.
    report = import_roster(people, (HEADER + "S2026002,李娜娜,student,初一(2)班,no,,card:04A1B2C3\n").encode(),
                           T0 + 10)
    assert [o.outcome for o in report.lines] == [REFUSED]
    li = people.person("S2026002")
    assert li.name == "李娜" and li.class_name == "初一(1)班" and li.credentials == (Credential("qr", "S2026002"),)


def test_a_card_moves_between_two_people_of_the_same_file(people):
    import_roster(people, GOOD.encode(), T0)
    swap = (HEADER + "S2026002,李娜,student,初一(1)班,否,+86 139-0000-1111,card:04A1B2C3;qr:S2026002\n"
            + "S2026001,张伟,student,初一(1)班,是,138 0013 8000,S2026001\n")
    report = import_roster(people, swap.encode(), T0 + 10)
    assert [o.outcome for o in report.lines] == ["changed", "changed"]
    assert people.credential_owner(Credential("card", "04A1B2C3")) == "S2026002"


def test_strict_is_all_or_nothing(people, tmp_path, url, capsys):
    bad = GOOD + "S2026003,赵,student,初一(1)班,no,,\nS2026004,钱,teacher,初一(1)班,no,,\n"
    path = tmp_path / "roster.csv"
    path.write_bytes(bad.encode("gbk"))
    rc, out, _ = run_cli(capsys, "people", "import", str(path), "--store", url, "--strict")
    assert rc == 1
    assert "line 6: refused: role 'teacher' is not student|staff" in out
    assert "nothing imported (--strict and 1 line(s) refused)" in out
    assert people.people() == []
    # Without --strict the good lines go in, the bad one is reported.
    rc, out, _ = run_cli(capsys, "people", "import", str(path), "--store", url)
    assert rc == 1 and "added 4, changed 0, unchanged 0, refused 1" in out
    assert len(people.people()) == 4


def test_strict_rolls_back_on_a_credential_taken_in_the_store(people):
    import_roster(people, (HEADER + "T9,周老师,staff,语文组,no,,card:0A0B0C0D\n").encode(), T0)
    data = (HEADER + "S1,甲,student,初一(1)班,no,,\nS2,乙,student,初一(1)班,no,,card:0a0b0c0d\n").encode()
    report = import_roster(people, data, T0, strict=True)
    assert not report.committed
    assert [(o.line, o.outcome) for o in report.lines] == [(2, "added"), (3, REFUSED)]
    assert [p.id for p in people.people()] == ["T9"]


def test_export_then_import_is_unchanged(people, tmp_path, url, capsys):
    import_roster(people, (GOOD + "S2026009,=HYPERLINK(1),student,初三(2)班,no,,\n").encode("gbk"), T0)
    people.put_person(people.person("S2026002").__class__(
        id="S2026010", name="孙丽", role="student", class_name="初一(2)班", boarder=True,
        guardian_phone="", active=False), T0)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    rc, out, _ = run_cli(capsys, "people", "export", str(first), "--store", url, "--reason", "备份")
    assert rc == 0 and "5 people written" in out
    text = first.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "id,name,role,class,boarder,guardian_phone,credentials,active"
    assert "'=HYPERLINK(1)" in text and "'+86 139-0000-1111" in text  # no formula for a spreadsheet
    assert "S2026010,孙丽,student,初一(2)班,yes,,,no" in text
    report = import_roster(people, first.read_bytes(), T0 + 100)
    assert [o.outcome for o in report.lines] == ["unchanged"] * 5
    rc, out, _ = run_cli(capsys, "people", "import", str(first), "--store", url)
    assert rc == 0 and "(utf-8):" in out and "line 2: unchanged " in out
    assert out.splitlines()[-1] == "added 0, changed 0, unchanged 5, refused 0"
    rc, out, _ = run_cli(capsys, "people", "import", str(first), "--store", url, "-q")
    assert rc == 0 and "line " not in out
    assert people.person("S2026009").name == "=HYPERLINK(1)"
    run_cli(capsys, "people", "export", str(second), "--store", url, "--reason", "again")
    assert second.read_bytes() == first.read_bytes()


def test_show_and_export_are_audited_with_reader_and_reason(people, tmp_path, url, capsys):
    import_roster(people, GOOD.encode(), T0)
    rc, out, _ = run_cli(capsys, "people", "show", "S2026001", "--store", url, "--as", "doctor-liu",
                         "--reason", "fever follow-up")
    assert rc == 0 and "张伟" in out and "138 0013 8000" in out
    rc, _, _ = run_cli(capsys, "people", "export", str(tmp_path / "r.csv"), "--store", url, "--as", "admin",
                       "--reason", "学期初核对", "--class", "初一(1)班")
    assert rc == 0
    reads = people.reads()
    assert [(r.reader, r.action, r.subject, r.reason) for r in reads] == [
        ("doctor-liu", "person_show", "S2026001", "fever follow-up"),
        ("admin", "people_export", "*", "学期初核对")]
    assert reads[1].detail["rows"] == 2 and reads[1].detail["class"] == "初一(1)班"
    assert [r.action for r in people.reads(subject="S2026001")] == ["person_show"]
    # Without --as, the reader is the login name; an export without a reason is refused before it reads.
    run_cli(capsys, "people", "show", "T0001", "--store", url)
    assert people.reads(subject="T0001")[0].reader
    with pytest.raises(SystemExit):
        cli.main(["people", "export", str(tmp_path / "x.csv"), "--store", url])
    assert not (tmp_path / "x.csv").exists()
    # An unknown person: an error, and no read recorded.
    rc, _, err = run_cli(capsys, "people", "show", "NOBODY", "--store", url)
    assert rc == 2 and "no person 'NOBODY'" in err and people.reads(subject="NOBODY") == []


def test_a_persons_file_has_screenings_alarms_rechecks_and_an_empty_absences_section(people, url, capsys):
    import_roster(people, GOOD.encode(), T0)
    with open_store(url) as store:
        ids = []
        for i, (decision, est) in enumerate([("PASS", 36.5), ("FEVER", 38.2), ("FEVER", 37.6)]):
            ids.append(store.record_screening(Screening(
                uid=f"u{i}", gate="north-1", time=T0 + 100 * i, decision=decision, reason="", track=i,
                estimate_c=est, face_c=34.0, distance_m=0.6, reduced_accuracy=False, boot=1, sequence=i)))
        other = store.record_screening(Screening(
            uid="other", gate="north-1", time=T0, decision="FEVER", reason="", track=9, estimate_c=38.0,
            face_c=34.0, distance_m=0.6, reduced_accuracy=False, boot=1, sequence=9))
        for sid in ids:
            people.link_screening(sid, person_id="S2026001")
        a1 = store.open_alarm(ids[1], "north-1", T0 + 100)
        store.open_alarm(ids[2], "north-1", T0 + 200)
        store.open_alarm(other, "north-1", T0)
        store.dispose_alarm(a1, recheck_c=38.4, outcome="sent_home", user="doctor", time=T0 + 400, note="家长接回")
    f = people.person_file("S2026001")
    assert [s.decision for s in f.screenings] == ["FEVER", "FEVER", "PASS"]  # newest first
    assert [a.screening_id for a in f.alarms] == [ids[2], ids[1]]  # not the other person's alarm
    assert [(a.recheck_c, a.outcome) for a in f.rechecks] == [(38.4, "sent_home")]
    assert f.absences == ()
    rc, out, _ = run_cli(capsys, "people", "show", "S2026001", "--store", url, "--json")
    doc = json.loads(out)
    assert [s["decision"] for s in doc["screenings"]] == ["FEVER", "FEVER", "PASS"]
    assert doc["absences"] == [] and len(doc["alarms"]) == 2
    rc, out, _ = run_cli(capsys, "people", "show", "S2026001", "--store", url, "--tz", "Asia/Shanghai")
    assert "Re-checks (1)" in out and "38.4 degC, sent_home by doctor: 家长接回" in out
    assert "Absences (0)" in out
    with pytest.raises(ValueError):
        people.link_screening(ids[0], person_id="S2026001", visitor_id=1)


def test_list_filters_by_class_and_leaves_out_phones(people, url, capsys):
    import_roster(people, GOOD.encode(), T0)
    rc, out, _ = run_cli(capsys, "people", "list", "--store", url, "--class", "数学组", "--json")
    doc = json.loads(out)
    assert [p["id"] for p in doc] == ["T0001"] and "guardian_phone" not in doc[0]
    rc, out, _ = run_cli(capsys, "people", "list", "--store", url)
    assert "S2026001" in out and "张伟" in out and "138" not in out
    assert people.reads() == []  # a list is not a read of anyone's file


def test_a_school_with_a_class_list_refuses_students_of_other_classes(people):
    """[classes] names the school's classes: a student in any other class is refused with the line; staff
    departments are not classes; without a class list the class is not checked."""
    data = (HEADER
            + "S1,甲,student,初一(1)班,no,,\n"  # 2: on the list, but its id is also on line 5
            + "S2,乙,student,初一(9)班,no,,\n"  # 3: not on the list
            + "T1,丙,staff,数学组,no,,\n"  # 4: a department
            + "S1,甲二,student,初一(2)班,no,,\n"  # 5: id also on line 2
            + "S3,丁,student,初一(2)班,no,,\n").encode()  # 6: on the list
    classes = {"初一(1)班": object(), "初一(2)班": object()}  # as [classes] gives them: name -> teacher
    strict = import_roster(people, data, T0, classes=classes, strict=True)
    assert not strict.committed and people.people() == []
    report = import_roster(people, data, T0, classes=classes)
    reasons = {o.line: o.reason for o in report.lines if o.outcome == REFUSED}
    assert reasons == {2: "id S1 is also on line 5",
                       3: "class '初一(9)班' is not one of the school's 2 classes ([classes] in controller.toml)",
                       5: "id S1 is also on line 2"}
    assert sorted(p.id for p in people.people()) == ["S3", "T1"]
    again = import_roster(people, data, T0, classes={})  # no class list: the class is not checked
    assert {o.line for o in again.lines if o.outcome == REFUSED} == {2, 5}
    assert people.person("S2").class_name == "初一(9)班"


def test_people_import_reads_the_class_list_from_the_config(tmp_path, capsys):
    config = tmp_path / "controller.toml"
    config.write_text(f'[store]\nurl = "{tmp_path / "t.db"}"\n\n'
                      '[classes."初一(1)班"]\nteacher = "李老师"\nphone = "138 0013 8001"\n', encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,甲,student,初一(1)班,no,,\nS2,乙,student,初一(9)班,no,,\n", encoding="utf-8")
    rc, out, _ = run_cli(capsys, "people", "import", str(roster), "--config", str(config))
    assert rc == 1 and "line 3: refused: class '初一(9)班' is not one of the school's 1 classes" in out
    assert "line 2: added S1" in out
