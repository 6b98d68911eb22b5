"""The [report] loader: a good table, and each kind of bad input refused with the key named; session bounds
across a daylight-saving change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from controller.config_fields import ConfigError
from controller.reporting.config import from_table, load_report_config
from tests.reporting_day import report_toml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

GOOD = report_toml(
    {"school": "示范中学", "school_code": "4401060001", "reporter": "li", "backup_reporter": "zhao",
     "deadline": "10:00"},
    {"晨检": {"start": "06:30", "end": "09:00", "gates": ["north-1"]}, "午检": {"start": "12:30", "end": "14:30"},
     "晚检": {"start": "18:30", "end": "21:30", "gates": ["dorm-1"], "who": "boarders"}},
    warnings=[{"scope": "class", "what": "fevers_confirmed", "threshold": 3, "days": 1},
              {"scope": "school", "what": "alarm_rate", "factor": 2, "min_alarms": 3}],
    recipients=[{"type": "file", "dir": "drop"}])


def load(text: str, tmp_path=None):
    return from_table(tomllib.loads(text), tmp_path)


def test_a_good_table(tmp_path):
    c = load(GOOD, tmp_path)
    assert [s.name for s in c.sessions] == ["晨检", "午检", "晚检"]
    assert c.sessions[2].who == "boarders" and c.sessions[0].gates == ("north-1",)
    assert c.deadline == dt.time(10) and c.build_before_min == 30
    assert [r.key for r in c.warnings] == ["class:fevers_confirmed>=3/1d", "school:alarm_rate>=2x7d,min3"]
    assert c.recipients[0].dir == str(tmp_path / "drop")
    assert c.grade_of("初一(1)班") == "初一" and c.grade_of("高二（3）班") == "高二"
    assert c.grade_of("幼儿园") == "幼儿园"
    tz = ZoneInfo("Asia/Shanghai")
    assert c.build_at(dt.date(2026, 3, 2), tz) == dt.datetime(2026, 3, 2, 9, 30, tzinfo=tz).timestamp()
    assert from_table({}) is None


def test_the_file_loader(tmp_path):
    path = tmp_path / "controller.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_report_config(path).school == "示范中学"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(ConfigError, match="not valid UTF-8 TOML"):
        load_report_config(path)


@pytest.mark.parametrize("change, message", [
    (('end = "09:00"', 'end = "06:00"'), r"report.sessions.晨检: end 06:00 is not after start 06:30"),
    (('start = "06:30"', 'start = "6h30"'), r"report.sessions.晨检.start = '6h30': must be a time like"),
    (('start = "06:30"', 'start = "24:10"'), r"must be a time like"),
    (('start = "12:30"', 'start = "08:30"'), r"晨检 \(06:30-09:00\) and 午检 \(08:30-14:30\) overlap"),
    (('deadline = "10:00"', 'deadline = "late"'), r"report.deadline = 'late'"),
    (('school_code = "4401060001"', 'school_code = "44 01"'), r"report.school_code"),
    (('reporter = "li"', 'reporter = ""'), r"report.reporter"),
    (('backup_reporter = "zhao"', 'backup_reporter = "li"'), r"someone other than the reporter"),
    (('scope = "class"', 'scope = "district"'), r"report.warning\[0\].scope = 'district': must be class"),
    (('what = "fevers_confirmed"', 'what = "coughs"'), r"report.warning\[0\].what"),
    (('threshold = 3', 'threshold = 0'), r"report.warning\[0\].threshold = 0\.0: must be 1..100000"),
    (('scope = "school"', 'scope = "grade"'), r"alarm_rate is a school-level rule"),
    (('type = "file"', 'type = "fax"'), r"report.recipient\[0\].type = 'fax'"),
    (('who = "boarders"', 'who = "dorm"'), r"report.sessions.晚检.who"),
    (('gates = ["north-1"]', 'gates = ["North 1"]'), r"report.sessions.晨检.gates must be a list of gate ids"),
    (('deadline = "10:00"', 'deadline = "10:00"\nsend_at = "10:00"'), r"unknown key\(s\) in \[report\]: send_at"),
])
def test_bad_input_names_the_key(change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError, match=message):
        load(GOOD.replace(old, new, 1))


def test_sessions_at_different_gates_may_overlap():
    # A dormitory check at dorm-1 while 晨检 runs at north-1 only.
    text = GOOD.replace('start = "18:30"\nend = "21:30"', 'start = "08:00"\nend = "08:45"')
    assert [s.name for s in load(text).sessions] == ["晨检", "晚检", "午检"]


def test_recipients_webhook_and_email(tmp_path):
    (tmp_path / "secret").write_text("s3cret\n")
    text = GOOD + """
[[report.recipient]]
type = "webhook"
url = "https://bureau.example/upload"
secret_file = "secret"

[[report.recipient]]
type = "email"
channel = "mail"
to = ["bureau@edu.example"]

[notify.channels.mail]
type = "smtp"
host = "smtp.example"
from = "gate@school.example"
"""
    c = load(text, tmp_path)
    assert [(r.type, r.name) for r in c.recipients] == [
        ("file", "file:drop"), ("webhook", "webhook:https://bureau.example/upload"),
        ("email", "email:bureau@edu.example")]
    assert c.recipients[1].secret == "s3cret"
    with pytest.raises(ConfigError, match=r"plain http only to this machine"):
        load(text.replace("https://bureau.example", "http://bureau.example"), tmp_path)
    with pytest.raises(ConfigError, match=r"name an smtp channel"):
        load(text.replace('channel = "mail"', 'channel = "post"'), tmp_path)
    with pytest.raises(ConfigError, match=r"report.recipient\[2\].to must be a list of e-mail addresses"):
        load(text.replace('to = ["bureau@edu.example"]', 'to = ["bureau"]'), tmp_path)


def test_columns_rename_only_known_columns():
    c = load(GOOD + '\n[report.columns]\nexpected = "应到人数"\n')
    assert c.header("expected") == "应到人数" and c.header("screened") == "screened"
    with pytest.raises(ConfigError, match=r"report.columns.present: not a report column"):
        load(GOOD + '\n[report.columns]\npresent = "实到"\n')
    with pytest.raises(ConfigError, match=r"two columns get the same header"):
        load(GOOD + '\n[report.columns]\nexpected = "人数"\nscreened = "人数"\n')


def test_a_session_keeps_its_wall_clock_times_across_dst():
    """New York springs forward at 02:00 on 2026-03-08 and falls back on 2026-11-01: 06:30-09:00 stays
    06:30-09:00 local (2 h 30 min) on both days and the days around them."""
    session = load(GOOD).sessions[0]
    tz = ZoneInfo("America/New_York")
    for day in (dt.date(2026, 3, 7), dt.date(2026, 3, 8), dt.date(2026, 11, 1), dt.date(2026, 11, 2)):
        start, end = session.bounds(day, tz)
        assert dt.datetime.fromtimestamp(start, tz).strftime("%Y-%m-%d %H:%M") == f"{day} 06:30"
        assert dt.datetime.fromtimestamp(end, tz).strftime("%H:%M") == "09:00"
        assert end - start == 2.5 * 3600
