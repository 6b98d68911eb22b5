"""The school-day calendar of [report] (days, holidays, make-up workdays 调休): on a day that is not a school day
no report is due and none is missed; on a make-up workday one is. The school's own date decides, not UTC's:
tested where the two differ (Asia/Shanghai before 08:00) and across New York's daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from controller.config_fields import ConfigError
from controller.reporting.config import from_table
from controller.reporting.report_store import ReportStore
from controller.reporting.scheduler import Reporter
from controller.store import open_store
from tests.reporting_day import report_toml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CODE = "4401060001"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def config(tmp_path, **keys):
    text = report_toml({"school": "示范中学", "school_code": CODE, "reporter": "li", "dir": str(tmp_path / "archive"),
                        **keys},
                       {"晨检": {"start": "06:30", "end": "09:00"}},
                       recipients=[{"type": "file", "name": "bureau-drop", "dir": str(tmp_path / "drop")}])
    return from_table(tomllib.loads(text), tmp_path)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_the_calendar_keys(tmp_path):
    every = config(tmp_path)
    assert all(every.is_school_day(d("2026-10-01") + dt.timedelta(days=i)) for i in range(14))  # the default
    c = config(tmp_path, days=WEEKDAYS, holidays=["2026-10-01..2026-10-07", "2026-05-01"],
               workdays=["2026-09-27", "2026-10-10"])
    school = {x: c.is_school_day(d(x)) for x in ("2026-09-25", "2026-09-26", "2026-09-27", "2026-09-30",
                                                  "2026-10-01", "2026-10-07", "2026-10-08", "2026-10-10",
                                                  "2026-10-11", "2026-05-01", "2026-05-04")}
    assert school == {"2026-09-25": True, "2026-09-26": False, "2026-09-27": True, "2026-09-30": True,
                      "2026-10-01": False, "2026-10-07": False, "2026-10-08": True, "2026-10-10": True,
                      "2026-10-11": False, "2026-05-01": False, "2026-05-04": True}
    assert c.previous_school_day(d("2026-10-08")) == d("2026-09-30")
    assert c.previous_school_day(d("2026-10-12")) == d("2026-10-10")  # the make-up Saturday
    assert c.previous_school_day(d("2026-05-04")) == d("2026-04-30")


@pytest.mark.parametrize("keys, message", [
    ({"days": []}, r"report.days = \[\]: must be a list of different day names"),
    ({"days": ["monday"]}, r"report.days = \['monday'\]"),
    ({"days": ["mon", "mon"]}, r"must be a list of different day names"),
    ({"days": "weekdays"}, r"report.days must be list"),
    ({"holidays": ["2026-10-32"]}, r"report.holidays: '2026-10-32' is not a date like"),
    ({"holidays": ["2026-10-07..2026-10-01"]}, r"'2026-10-07..2026-10-01' must run forward"),
    ({"holidays": ["2026-01-01..2027-06-01"]}, r"366 days at most"),
    ({"holidays": [20261001]}, r"report.holidays: 20261001 is not a date"),
    ({"workdays": ["10/10/2026"]}, r"report.workdays: '10/10/2026' is not a date"),
    ({"holidays": ["2026-10-01..2026-10-07"], "workdays": ["2026-10-03"]},
     r"report.holidays and report.workdays both hold 2026-10-03"),
])
def test_bad_calendar_keys_are_refused(tmp_path, keys, message):
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, **keys)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite://{tmp_path}/thermogate.db")
    yield s
    s.close()


def reporter(store, c, tz):
    alerts: list[str] = []
    return Reporter(ReportStore.beside(store), c, tz, threshold_c=37.3, on_alert=alerts.append), alerts


def local(day: str, hhmm: str, tz, fold: int = 0) -> float:
    return dt.datetime.combine(d(day), dt.time.fromisoformat(hhmm), tzinfo=tz).replace(fold=fold).timestamp()


def test_holidays_and_a_make_up_workday_where_utc_has_another_date(store, tmp_path):
    """Shanghai is UTC+8: the report built at 06:30 local is built on the day before in UTC. 2026-10-01..07 are
    holidays (10-01 06:30 local is 09-30, a school day, in UTC); 10-08 is a school day (its 06:30 is 10-07, a
    holiday, in UTC); Saturday 10-10 is a make-up workday."""
    tz = ZoneInfo("Asia/Shanghai")
    c = config(tmp_path, days=WEEKDAYS, deadline="07:00", holidays=["2026-10-01..2026-10-07"],
               workdays=["2026-10-10"])
    r, alerts = reporter(store, c, tz)
    rs = r.rs
    # The last day before the holidays: built at 06:30, sent at 07:00.
    assert r.due(local("2026-09-30", "06:30", tz)) == ["built 2026-09-30 (no_screening)"]
    assert r.due(local("2026-09-30", "07:00", tz)) == ["sent 2026-09-30"]
    # A holiday: at its build time and its deadline, nothing; UTC's date there is 09-30, a school day.
    at = local("2026-10-01", "06:30", tz)
    assert dt.datetime.fromtimestamp(at, dt.timezone.utc).date() == d("2026-09-30")
    for hhmm in ("06:30", "07:00", "12:00", "23:59"):
        assert r.due(local("2026-10-01", hhmm, tz)) == [], hhmm
    assert rs.report(CODE, "2026-10-01") is None
    for day in ("2026-10-02", "2026-10-03", "2026-10-07"):
        assert r.due(local(day, "07:30", tz)) == [], day
    # The first school day after them: no "missed" for the holidays (09-30 went out), and its report is due,
    # built at 06:30 local although UTC's date is then still 10-07, a holiday.
    at = local("2026-10-08", "06:30", tz)
    assert dt.datetime.fromtimestamp(at, dt.timezone.utc).date() == d("2026-10-07")
    assert r.due(local("2026-10-08", "06:00", tz)) == []
    assert r.due(at) == ["built 2026-10-08 (no_screening)"]
    assert r.due(local("2026-10-08", "07:00", tz)) == ["sent 2026-10-08"]
    # Friday 10-09 goes unreported (the controller was down); Saturday 10-10 is a make-up workday: its morning
    # tells of Friday, and its own report is due.
    assert r.due(local("2026-10-10", "06:30", tz)) == ["missed alert 2026-10-09", "built 2026-10-10 (no_screening)"]
    assert r.due(local("2026-10-10", "07:00", tz)) == ["sent 2026-10-10"]
    # Sunday: nothing due, nothing missed; Monday looks back to the make-up Saturday, which went out.
    assert r.due(local("2026-10-11", "07:00", tz)) == []
    assert r.due(local("2026-10-12", "06:00", tz)) == []
    assert [x.day for x in rs.reports(CODE)] == ["2026-10-10", "2026-10-08", "2026-09-30"]
    assert alerts == ["the report of 2026-10-09 was never built: send it with thermogate report send --date "
                      "2026-10-09"]


def test_a_weekend_across_daylight_saving_changes(store, tmp_path):
    """New York, school on weekdays. Clocks spring forward on Sunday 2026-03-08 and fall back on Sunday
    2026-11-01 (01:30 happens twice): no report on those weekends, at any of their hours; Monday's is built at
    09:30 local (EDT, then EST) and nothing is missed."""
    tz = ZoneInfo("America/New_York")
    c = config(tmp_path, days=WEEKDAYS)
    r, alerts = reporter(store, c, tz)
    assert r.due(local("2026-03-06", "09:30", tz)) == ["built 2026-03-06 (no_screening)"]
    assert r.due(local("2026-03-06", "10:00", tz)) == ["sent 2026-03-06"]
    for day, hhmm in (("2026-03-07", "09:30"), ("2026-03-07", "10:00"), ("2026-03-08", "01:59"),
                      ("2026-03-08", "03:00"), ("2026-03-08", "09:30"), ("2026-03-08", "10:00"),
                      ("2026-03-08", "23:30")):
        assert r.due(local(day, hhmm, tz)) == [], (day, hhmm)
    # Sunday 23:30 EDT is already Monday 03:30 UTC: still Sunday for the school.
    assert dt.datetime.fromtimestamp(local("2026-03-08", "23:30", tz), dt.timezone.utc).date() == d("2026-03-09")
    assert r.due(local("2026-03-09", "09:29", tz)) == []
    assert r.due(local("2026-03-09", "09:30", tz)) == ["built 2026-03-09 (no_screening)"]
    built = r.rs.report(CODE, "2026-03-09").built_at
    assert dt.datetime.fromtimestamp(built, tz).strftime("%H:%M %Z") == "09:30 EDT"
    assert r.due(local("2026-03-09", "10:00", tz)) == ["sent 2026-03-09"]

    # Autumn: Friday 10-30 sent; the weekend, including both 01:30s of Sunday 11-01, nothing.
    assert r.due(local("2026-10-30", "09:30", tz)) == ["missed alert 2026-10-29", "built 2026-10-30 (no_screening)"]
    assert r.due(local("2026-10-30", "10:00", tz)) == ["sent 2026-10-30"]
    first, second = local("2026-11-01", "01:30", tz, fold=0), local("2026-11-01", "01:30", tz, fold=1)
    assert second - first == 3600
    for at in (local("2026-10-31", "10:00", tz), first, second, local("2026-11-01", "10:00", tz)):
        assert r.due(at) == []
    assert r.due(local("2026-11-02", "09:30", tz)) == ["built 2026-11-02 (no_screening)"]
    assert dt.datetime.fromtimestamp(r.rs.report(CODE, "2026-11-02").built_at, tz).strftime("%H:%M %Z") == \
        "09:30 EST"
    assert alerts == ["the report of 2026-10-29 was never built: send it with thermogate report send --date "
                      "2026-10-29"]


def test_every_day_by_default(store, tmp_path):
    """Without days, a Sunday's report is due like any other, and a missed Saturday is told on Sunday."""
    tz = ZoneInfo("Asia/Shanghai")
    r, alerts = reporter(store, config(tmp_path), tz)
    assert r.due(local("2026-10-09", "09:30", tz)) == ["built 2026-10-09 (no_screening)"]
    assert r.due(local("2026-10-09", "10:00", tz)) == ["sent 2026-10-09"]
    assert r.due(local("2026-10-11", "09:30", tz)) == ["missed alert 2026-10-10", "built 2026-10-11 (no_screening)"]


def test_warnings_on_days_off_and_over_school_days(store, tmp_path):
    """School on weekdays. A rule over 3 days counts school days (on a Monday: Thursday to Monday, the weekend
    between). On the weekend a rule warns only of what that day's own events make it cross: Friday's crossing
    is not warned of again on Saturday, while a boarder's fever on Sunday is warned of on Sunday."""
    import dataclasses

    from controller.reporting.config import parse_warning_rule
    from tests import reporting_day as sd

    tz = sd.TZ
    sick3 = parse_warning_rule({"scope": "class", "what": "sick_absences", "threshold": 2, "days": 3}, "w")
    fever1 = parse_warning_rule({"scope": "class", "what": "fevers_confirmed", "threshold": 1, "days": 1}, "w")
    c = dataclasses.replace(config(tmp_path, days=WEEKDAYS), warnings=(sick3, fever1))
    assert [c.is_school_day(d(x)) for x in ("2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08",
                                            "2026-03-09")] == [True, True, False, False, True]
    sd.roster(store)
    r, _ = reporter(store, c, tz)
    rs = r.rs

    def warnings(day: str, hhmm: str) -> list[str]:
        return [x for x in r.due(local(day, hhmm, tz)) if x.startswith("warning")]

    rs.mark_absence("S3", "2026-03-05", "晨检", "sick_with_symptoms", "teacher-chen", local("2026-03-05", "09:10", tz))
    assert warnings("2026-03-05", "09:20") == []
    rs.mark_absence("S4", "2026-03-06", "晨检", "sick_with_symptoms", "teacher-chen", local("2026-03-06", "09:10", tz))
    assert warnings("2026-03-06", "09:20") == ["warning class:sick_absences>=2/3d 初一(1)班"]
    # Saturday: Thursday and Friday still sum to 2 within 3 days, but nothing happened on Saturday.
    assert warnings("2026-03-07", "09:20") == []
    # Sunday: a boarder's fever, taken by hand (a confirmed fever), is that day's own.
    rs.add_manual_reading("S5", 38.4, "dr-li", local("2026-03-08", "08:00", tz))
    assert warnings("2026-03-08", "08:05") == ["warning class:fevers_confirmed>=1/1d 初一(2)班"]
    # Monday: one more sick pupil; over 3 school days (Thursday to Monday) the class has 3.
    rs.mark_absence("S1", "2026-03-09", "晨检", "sick_with_symptoms", "teacher-chen", local("2026-03-09", "09:10", tz))
    assert warnings("2026-03-09", "09:20") == ["warning class:sick_absences>=2/3d 初一(1)班"]
    assert [(w.day, w.count) for w in rs.warnings("2026-03-09")] == [("2026-03-09", 3)]
    assert [w.day for w in rs.warnings("2026-03-07")] == []
