"""``thermogate case ...`` on SQLite and PostgreSQL: open a case for an alarm, record steps with --field, list, show
(audited), refusals as a clear error with nothing recorded."""

from __future__ import annotations

import json

import pytest

from controller.cases import open_case_store
from controller.cli import main
from controller.identity.people_store import open_people_store
from controller.identity.records import Person
from controller.store import Screening, open_store

T0 = 1_780_000_000.0


@pytest.fixture
def url(store_url):
    with open_store(store_url) as store, open_people_store(store_url) as people:
        people.put_person(Person("S1", "张伟", "student", "初一(1)班", False, ""), T0 - 10)
        sid = store.record_screening(Screening(
            uid="cli-1", gate="north-1", time=T0, decision="FEVER", reason="", track=1, estimate_c=38.4, face_c=35.0,
            distance_m=0.6, reduced_accuracy=False, boot=1, sequence=1))
        people.link_screening(sid, person_id="S1")
        store.open_alarm(sid, "north-1", T0)
        store.add_user("doc", "doctor", "a long pass phrase")
    return store_url


def _run(url, *words, capsys) -> tuple[int, str, str]:
    code = main(["case", *words, "--store", url, "--tz", "Asia/Shanghai"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_case_from_the_command_line(url, capsys):
    alarm_id = open_store(url).alarms()[0].id
    code, out, _ = _run(url, "open", str(alarm_id), capsys=capsys)
    assert code == 0 and "state open" in out and "person S1" in out
    case_id = open_case_store(url).case_for_alarm(alarm_id).id
    steps = [
        ("acknowledged",),
        ("escorted", "--field", "room=临时观察室"),
        ("recheck", "--field", "instrument=mercury", "--field", "site=axillary", "--field", "value_c=38.4"),
        ("recheck", "--field", "instrument=electronic", "--field", "site=oral", "--field", "value_c=38.2",
         "--field", "time=2026-05-28 08:30"),
        ("symptoms", "--field", "checklist=cough,headache", "--field", "travel=否", "--field", "cluster=是",
         "--field", "cluster_detail=同寝室两人发热"),
        ("decision", "--field", "outcome=sent_home"),
        ("notified", "--field", "recipient=parent", "--field", "by_whom=王老师", "--field", "how=phone"),
    ]
    for words in steps:
        code, out, err = _run(url, "step", str(case_id), *words, "--as", "doc", capsys=capsys)
        assert code == 0, err
        assert f"case {case_id}: {words[0]} recorded by doc" in out
    case = open_case_store(url).case(case_id)
    rechecks = [s.data for s in case.steps if s.kind.value == "recheck"]
    assert [(r.n, r.instrument, r.value_c) for r in rechecks] == [(1, "mercury", 38.4), (2, "electronic", 38.2)]
    assert rechecks[1].time == 1_779_928_200.0  # 08:30 in Shanghai
    assert case.steps[4].data.cluster and not case.steps[4].data.travel
    assert case.state == "sent_home"

    # refused: closed before 复课, 复课 by someone not a doctor, a bad field; nothing is recorded
    for words, message in [
        (("closed", "--as", "doc"), "record 复课"),
        (("cleared_to_return", "--field", "certificate_seen=yes", "--field", "issuer=区医院",
          "--field", "certificate_date=2026-06-01", "--as", "guard9"), "doctor role"),
        (("recheck", "--field", "instrument=mercury", "--field", "site=axillary", "--field", "value_c=46"),
         "outside 30-45"),
        (("notified", "--field", "colour=red"), "unknown field"),
        (("notified", "--field", "recipient"), "name=value"),
    ]:
        code, _, err = _run(url, "step", str(case_id), *words, capsys=capsys)
        assert code == 2 and message in err, err
    assert len(open_case_store(url).timeline(case_id)) == len(steps)

    code, out, _ = _run(url, "step", str(case_id), "cleared_to_return", "--field", "certificate_seen=yes",
                        "--field", "issuer=区人民医院", "--field", "certificate_date=2026-06-01", "--as", "doc",
                        capsys=capsys)
    assert code == 0 and "state cleared" in out
    code, out, _ = _run(url, "list", "--open", capsys=capsys)
    assert code == 0 and "cleared" in out and "1 case(s)" in out
    code, out, _ = _run(url, "show", str(case_id), "--as", "doc", "--reason", "inspection", capsys=capsys)
    assert code == 0 and "张伟" in out and "cleared_to_return" in out and "value_c=38.2 degC" in out
    reads = open_people_store(url).reads(subject="S1")
    assert [(r.reader, r.action, r.reason) for r in reads] == [("doc", "case_show", "inspection")]
    code, out, _ = _run(url, "show", "--alarm", str(alarm_id), "--json", "--as", "doc", capsys=capsys)
    assert code == 0 and json.loads(out)["id"] == case_id
    code, _, err = _run(url, "show", "999", capsys=capsys)
    assert code == 2 and "no case 999" in err


def test_the_step_help_lists_every_kind_and_its_fields(capsys):
    with pytest.raises(SystemExit):
        main(["case", "step", "--help"])
    out = capsys.readouterr().out
    assert "cleared_to_return: certificate_seen, issuer, certificate_date, note" in out
    assert "recheck: n, instrument, site, value_c, time" in out
