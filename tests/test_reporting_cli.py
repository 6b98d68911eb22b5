"""The command line on SQLite and PostgreSQL: thermogate report send / confirm / list / absentees / absent /
rule, thermogate screening manual, and the absences section of thermogate people show. The changes a person
makes (a mark, a reading, a rule) are in the audit trail under --by."""

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
    with open_store(setup[3]) as store:
        assert [(e.user, e.action, e.detail["person"]) for e in store.audit() if e.action == "absence_marked"] == [
            ("teacher-chen", "absence_marked", "S2")]

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
    # each reading is in the audit trail, with who took it; the refused ones are not
    with open_store(url) as store:
        audit = [(e.user, e.action, e.detail["value_c"]) for e in store.audit() if e.action == "manual_reading"]
    assert sorted(audit) == [("guard-wu", "manual_reading", 36.7), ("guard-wu", "manual_reading", 38.0)]


def test_the_warning_rules_from_the_command_line(setup, capsys):
    config, _, _, url = setup
    cfg = ["--config", str(config)]

    def rules() -> list[dict]:
        assert main(["report", "rule", "list", *cfg, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    toml = rules()
    assert toml and all(r["source"] == "toml" and r["in_force"] for r in toml)
    # Added: the loader's check, no twin of a controller.toml rule, each change audited with --by.
    assert main(["report", "rule", "add", *cfg, "--scope", "grade", "--what", "sick_absences", "--threshold", "4",
                 "--days", "2", "--by", "zhao"]) == 0
    assert capsys.readouterr().out.startswith("added console:")
    [added] = [r for r in rules() if r["source"] == "console"]
    assert (added["spec"], added["enabled"], added["in_force"], added["created_by"]) == (
        "grade:sick_absences>=4/2d", True, True, "zhao")
    rid = str(added["id"])
    for bad, message in ((["--threshold", "0"], "rule.threshold = 0.0: must be 1..100000"),
                         (["--what", "alarm_rate"], "alarm_rate is a school-level rule"),
                         (["--days", "2", "--threshold", "4"], "already")):
        assert main(["report", "rule", "add", *cfg, "--scope", "grade", "--what", "sick_absences", *bad,
                     "--by", "zhao"]) == 2, bad
        assert message in capsys.readouterr().err
    twin = toml[0]
    assert main(["report", "rule", "add", *cfg, "--scope", twin["scope"], "--what", twin["what"], "--threshold",
                 str(twin["threshold"]), "--days", str(twin["days"]), "--by", "zhao"]) == 2
    assert "already" in capsys.readouterr().err
    # Changed (the options given; the rest as it was), disabled, enabled, deleted.
    assert main(["report", "rule", "set", rid, *cfg, "--threshold", "5", "--by", "li"]) == 0
    assert "grade:sick_absences>=4/2d -> grade:sick_absences>=5/2d" in capsys.readouterr().out
    assert main(["report", "rule", "disable", rid, *cfg, "--by", "li"]) == 0
    capsys.readouterr()
    assert main(["report", "rule", "list", *cfg]) == 0
    out = capsys.readouterr().out
    assert f"console:{rid}" in out and "grade:sick_absences>=5/2d" in out and "disabled" in out
    assert [r["in_force"] for r in rules() if r["source"] == "console"] == [False]
    assert main(["report", "rule", "enable", rid, *cfg, "--by", "li"]) == 0
    assert main(["report", "rule", "delete", rid, *cfg, "--by", "li"]) == 0
    assert "its warnings stay" in capsys.readouterr().out
    assert [r for r in rules() if r["source"] == "console"] == []
    assert main(["report", "rule", "enable", rid, *cfg, "--by", "li"]) == 2
    assert f"no warning rule {rid}" in capsys.readouterr().err
    with open_store(url) as store:
        trail = [(e.user, e.action) for e in store.audit() if e.action.startswith("warning_rule")]
    assert trail == [("zhao", "warning_rule_added"), ("li", "warning_rule_changed"), ("li", "warning_rule_disabled"),
                     ("li", "warning_rule_enabled"), ("li", "warning_rule_deleted")]
