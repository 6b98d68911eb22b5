"""The command line on SQLite and PostgreSQL: thermogate report send / confirm / list / absentees / absent,
thermogate screening manual, and the absences section of thermogate people show."""

from __future__ import annotations

import hashlib
import json

import pytest

from controller.cli import main
from controller.reporting.report_store import ReportStore
from controller.store import open_store
from tests import reporting_day as sd
from tests.test_reporting_day import Receiver


@pytest.fixture
def setup(store_url, tmp_path):
    store = open_store(store_url)
    sd.whole_day(store)
    store.close()
    receiver = Receiver()
    drop = tmp_path / "drop"
    config = tmp_path / "controller.toml"
    config.write_text(f'[site]\ntimezone = "Asia/Shanghai"\n\n[store]\nurl = "{store_url}"\n'
                      + sd.config_toml(drop, receiver.url), encoding="utf-8")
    yield config, drop, receiver, store_url
    receiver.close()


def test_report_send_and_resend(setup, capsys):
    config, drop, receiver, url = setup
    assert main(["report", "send", "--config", str(config), "--date", "2026-03-02"]) == 0
    out = capsys.readouterr().out
    assert "4401060001 2026-03-02: cases, signed by zhao" in out
    assert "ok     bureau-drop" in out and 'ok     bureau-api: HTTP 200: {"receipt": "R-1"}' in out
    pdf = drop / "4401060001-2026-03-02.pdf"
    assert f"sha256 {hashlib.sha256(pdf.read_bytes()).hexdigest()}" in out

    assert main(["report", "confirm", "--config", str(config), "--date", "2026-03-02", "--as", "li"]) == 0
    assert main(["report", "send", "--config", str(config), "--date", "2026-03-02"]) == 0  # resend, now confirmed
    assert "signed by li" in capsys.readouterr().out
    assert [b["reporter"] for b in receiver.bodies] == ["zhao", "li"]
    assert main(["report", "list", "--config", str(config), "--json"]) == 0
    [rec] = json.loads(capsys.readouterr().out)
    assert (rec["day"], rec["status"], rec["signed_by"], len(rec["receipts"])) == ("2026-03-02", "sent", "li", 4)

    assert main(["report", "confirm", "--config", str(config), "--date", "2026-03-02", "--as", "wu"]) == 2
    assert "neither the reporter" in capsys.readouterr().err


def test_a_failed_recipient_gives_exit_status_1(setup, capsys):
    config, drop, receiver, url = setup
    receiver.status = 500
    assert main(["report", "send", "--config", str(config), "--date", "2026-03-02"]) == 1
    assert "FAILED bureau-api: HTTP 500" in capsys.readouterr().out
    with open_store(url) as store:
        receipts = ReportStore.beside(store).receipts("4401060001", "2026-03-02")
    assert [(r.recipient, r.ok) for r in receipts] == [("bureau-drop", True), ("bureau-api", False)]


def test_absentees_marks_and_the_persons_file(setup, capsys):
    config, *_ = setup
    args = ["--config", str(config), "--date", "2026-03-02"]
    assert main(["report", "absentees", *args, "--session", "午检", "--json"]) == 0
    assert [(a["person_id"], a["reason"]) for a in json.loads(capsys.readouterr().out)] == [("S2", None),
                                                                                            ("S3", None)]
    assert main(["report", "absent", "S2", *args, "--session", "午检", "--reason", "sick_with_symptoms",
                 "--by", "teacher-chen", "--note", "sent home at 07:30"]) == 0
    assert main(["report", "absentees", *args, "--session", "午检", "--class", "初一(1)班"]) == 0
    out = capsys.readouterr().out
    assert "S2" in out and "sick_with_symptoms" in out and "S3" in out and "not marked" in out
    assert main(["report", "absentees", *args, "--session", "夜检"]) == 2
    assert "no session '夜检'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "absent", "S2", *args, "--session", "午检", "--reason", "flu", "--by", "t"])
    capsys.readouterr()

    assert main(["people", "show", "S3", "--config", str(config), "--json", "--as", "doctor-li"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [absence] = doc["absences"]
    assert (absence["day"], absence["session"], absence["reason"], absence["note"]) == (
        "2026-03-02", "晨检", "sick_with_symptoms", "发热咳嗽")
    assert [f["status"] for f in absence["followups"]] == ["still_sick"]
    assert main(["people", "show", "S3", "--config", str(config), "--as", "doctor-li"]) == 0
    out = capsys.readouterr().out
    assert "Absences (1):" in out and "2026-03-02 晨检" in out and "still_sick by teacher-chen" in out


def test_screening_manual(setup, capsys):
    config, _, _, url = setup
    assert main(["screening", "manual", "--config", str(config), "--person", "S7", "--value", "36.7", "--by",
                 "guard-wu", "--gate", "north-1", "--at", "07:45"]) == 0
    assert "manual reading" in capsys.readouterr().out
    assert main(["screening", "manual", "--config", str(config), "--person", "S7", "--value", "38.0", "--by",
                 "guard-wu"]) == 0
    assert "a confirmed fever in the report" in capsys.readouterr().out
    for bad, message in ((["--person", "NOBODY", "--value", "36.5"], "no person 'NOBODY'"),
                         (["--person", "S7", "--value", "55"], "a reading is 30-45 degC"),
                         (["--person", "S7", "--value", "nan"], "a reading is 30-45 degC")):
        assert main(["screening", "manual", "--store", url, *bad, "--by", "guard-wu"]) == 2
        assert message in capsys.readouterr().err
    with open_store(url) as store:
        readings = ReportStore.beside(store).manual_readings(person_id="S7")
    # by time: 07:45 today in the school's zone may be before or after "now" (the second reading's time)
    assert sorted((m.value_c, m.gate) for m in readings) == [(36.7, "north-1"), (38.0, "")]
