"""Daily reports and the screenings export, on both store backends, through the API and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest

from controller.cli import main
from controller.reports import (
    TOTAL,
    daily_report,
    day_bounds,
    export_screenings,
    is_confirmed_fever,
    read_screenings_csv,
    render_csv,
    render_json,
    render_text,
    report_dict,
)
from controller.store import OUTCOMES, Alarm, Screening, open_store

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 3, 2)
START, END = day_bounds(DAY, TZ)

# (gate, decision, seconds after the day's start, disposition or None):
# a disposition is (status, recheck_c, outcome) -- "open", "acknowledged" or "disposed".
DAY_EVENTS = (
    [("north-1", "PASS", 3600 * 7 + i * 20, None) for i in range(5)]
    + [("north-1", "RETRY", 3600 * 7 + 5 + i * 20, None) for i in range(3)]
    + [("north-1", "BLOCKED", 3600 * 6, None)]
    + [("north-1", "FEVER", 3600 * 7.5, ("disposed", 38.1, "sent_home")),  # confirmed by the reading
       ("north-1", "FEVER", 3600 * 7.6, ("disposed", 36.4, "false_alarm")),  # not a fever
       ("north-1", "FEVER", 3600 * 7.7, ("disposed", None, "admitted"))]  # no reading, admitted: not a fever
    + [("south-2", "PASS", 3600 * 8 + i, None) for i in range(4)]
    + [("south-2", "FEVER", 3600 * 8.1, ("acknowledged", None, None)),  # still open
       ("south-2", "FEVER", 3600 * 8.2, ("disposed", None, "observation_room"))]  # no reading, kept: a fever
    + [("south-2", "PASS", 0.0, None), ("north-1", "PASS", 86400 - 0.001, None)]  # the day's first and last instants
)
OUTSIDE = [
    ("north-1", "PASS", -0.001, None),  # the evening before
    ("north-1", "FEVER", -3600, ("open", None, None)),  # yesterday's alarm, still open
    ("south-2", "FEVER", 86400, ("disposed", 36.2, "false_alarm")),  # next day 00:00:00, a false alarm
    ("south-2", "PASS", 86400 + 3600 * 8, None),
]


def _insert(store, events) -> None:
    for i, (gate, decision, offset, disposition) in enumerate(events):
        t = START + offset
        sid = store.record_screening(Screening(
            uid=f"{gate}/{i}/{offset}", gate=gate, time=t, decision=decision,
            reason="come_closer" if decision == "RETRY" else ("sensor_fault" if decision == "BLOCKED" else ""),
            track=i, estimate_c=38.0 if decision == "FEVER" else (36.5 if decision == "PASS" else None),
            face_c=None, distance_m=0.6, reduced_accuracy=False, boot=1, sequence=i))
        if disposition:
            status, recheck, outcome = disposition
            aid = store.open_alarm(sid, gate, t)
            if status in ("acknowledged", "disposed"):
                store.acknowledge_alarm(aid, "guard-wang", t + 30)
            if status == "disposed":
                store.dispose_alarm(aid, recheck_c=recheck, outcome=outcome, user="dr-li", time=t + 600)


@pytest.fixture
def filled(store):
    store.upsert_gate("north-1", "North entrance")
    store.upsert_gate("south-2", "South entrance")
    store.upsert_gate("east-3", "East entrance (closed this week)")
    _insert(store, DAY_EVENTS + OUTSIDE)
    return store


def expected(events, gate=None) -> dict:
    """The report's figures counted straight from the events inserted (docs/store.md's definitions)."""
    ev = [e for e in events if gate is None or e[0] == gate]
    n = lambda d: sum(1 for e in ev if e[1] == d)  # noqa: E731
    alarms = [e[3] for e in ev if e[3]]
    disposed = [a for a in alarms if a[0] == "disposed"]
    confirmed = sum(1 for _, r, o in disposed
                    if (r >= 37.3 if r is not None else o in ("observation_room", "sent_home")))
    return {"screened": n("PASS") + n("FEVER"), "passed": n("PASS"), "fevers": n("FEVER"), "retried": n("RETRY"),
            "blocked": n("BLOCKED"), "alarms": len(alarms), "confirmed_fevers": confirmed,
            "dispositions": {o: sum(1 for a in disposed if a[2] == o) for o in OUTCOMES},
            "open_alarms": len(alarms) - len(disposed)}


def figures(g) -> dict:
    return {k: getattr(g, k) for k in ("screened", "passed", "fevers", "retried", "blocked", "alarms",
                                       "confirmed_fevers", "dispositions", "open_alarms")}


def test_day_with_fevers_equals_what_was_inserted(filled):
    r = daily_report(filled, DAY, TZ)
    assert [g.gate for g in r.gates] == ["east-3", "north-1", "south-2"]  # every known gate, idle ones too
    assert figures(r.gates[0]) == expected([])
    assert figures(r.gates[1]) == expected(DAY_EVENTS, "north-1")
    assert figures(r.gates[2]) == expected(DAY_EVENTS, "south-2")
    assert figures(r.total) == expected(DAY_EVENTS)
    assert r.total.gate == TOTAL and r.gates[1].name == "North entrance"
    # spelled out once, so a wrong definition in expected() cannot hide
    assert (r.total.screened, r.total.passed, r.total.fevers, r.total.retried, r.total.blocked, r.total.alarms,
            r.total.confirmed_fevers, r.total.open_alarms) == (16, 11, 5, 3, 1, 5, 2, 1)
    assert r.older_open_alarms == 1
    assert not r.zero_report
    assert r.verdict_lines() == ("今日确认发热 2 例。", "Confirmed fevers today: 2.")


def test_zero_report_days(filled):
    after = daily_report(filled, DAY + dt.timedelta(days=1), TZ)  # one false alarm only
    assert (after.total.fevers, after.total.alarms, after.total.confirmed_fevers, after.total.screened) == (1, 1, 0, 2)
    assert after.zero_report
    text = render_text(after)
    assert "零报告：今日无发热病例。" in text and "Zero report: no fever today." in text
    assert not after.no_screening
    assert "Zero report: no fever today." not in render_text(daily_report(filled, DAY, TZ))


def test_a_day_without_screenings_is_not_a_zero_report(filled):
    empty = daily_report(filled, DAY + dt.timedelta(days=5), TZ)  # nothing at all: a holiday, the gates off
    assert figures(empty.total) == expected([]) and [g.screened for g in empty.gates] == [0, 0, 0]
    assert empty.no_screening and not empty.zero_report
    assert empty.verdict_lines() == ("今日无筛查记录：没有人被筛查，不能作零报告。",
                                     "No screening today: nobody was screened, so this is not a zero report.")
    text = render_text(empty)
    assert "No screening today" in text and "Zero report: no fever today." not in text and "零报告：" not in text
    assert list(csv.DictReader(io.StringIO(render_csv(empty))))[-1]["zero_report"] == "no"
    doc = report_dict(empty)
    assert doc["no_screening"] is True and doc["zero_report"] is False


def test_open_alarm_makes_the_zero_report_pending(store):
    _insert(store, [("north-1", "PASS", 100, None), ("north-1", "FEVER", 200, ("open", None, None))])
    r = daily_report(store, DAY, TZ)
    assert not r.zero_report and r.total.confirmed_fevers == 0 and r.total.open_alarms == 1
    text = render_text(r)
    assert "Zero report pending: 1 fever alarm(s) not yet disposed." in text and "零报告待定" in text
    alarm = store.alarms()[0]
    store.dispose_alarm(alarm.id, recheck_c=36.9, outcome="admitted", user="dr-li", time=START + 900)
    assert daily_report(store, DAY, TZ).zero_report  # made again after the disposition


def test_confirmed_fever_rule():
    def alarm(status="disposed", recheck=None, outcome="admitted"):
        return Alarm(1, 1, "g", 0.0, status, None, None, recheck, outcome if status == "disposed" else None,
                     None, None, "")
    assert is_confirmed_fever(alarm(recheck=37.3))
    assert not is_confirmed_fever(alarm(recheck=37.2, outcome="sent_home"))  # the reading decides
    assert is_confirmed_fever(alarm(recheck=38.0, outcome="false_alarm"))
    assert is_confirmed_fever(alarm(outcome="sent_home")) and is_confirmed_fever(alarm(outcome="observation_room"))
    assert not is_confirmed_fever(alarm(outcome="admitted")) and not is_confirmed_fever(alarm(outcome="false_alarm"))
    assert not is_confirmed_fever(alarm(status="open"))
    assert is_confirmed_fever(alarm(recheck=37.0), threshold_c=37.0)


def test_day_bounds_follow_the_zone():
    assert day_bounds(DAY, TZ) == (dt.datetime(2026, 3, 1, 16, tzinfo=dt.timezone.utc).timestamp(),
                                   dt.datetime(2026, 3, 2, 16, tzinfo=dt.timezone.utc).timestamp())
    start, end = day_bounds(dt.date(2026, 3, 8), ZoneInfo("America/New_York"))  # clocks go forward
    assert end - start == 23 * 3600


def test_renderers_carry_the_same_numbers(filled):
    r = daily_report(filled, DAY, TZ)
    rows = list(csv.DictReader(io.StringIO(render_csv(r))))
    assert [row["gate"] for row in rows] == ["east-3", "north-1", "south-2", TOTAL]
    for row, g in zip(rows, (*r.gates, r.total), strict=True):
        assert int(row["screened"]) == g.screened and int(row["confirmed_fevers"]) == g.confirmed_fevers
        assert int(row["open_alarms"]) == g.open_alarms and int(row["retried"]) == g.retried
        assert {o: int(row[f"disposed_{o}"]) for o in OUTCOMES} == g.dispositions
        assert row["date"] == "2026-03-02" and row["timezone"] == "Asia/Shanghai"
    assert [row["zero_report"] for row in rows] == ["", "", "", "no"]
    doc = json.loads(render_json(r))
    assert doc["total"] == {"gate": TOTAL, "name": "", **figures(r.total)}
    assert [g["gate"] for g in doc["gates"]] == ["east-3", "north-1", "south-2"]
    assert doc["zero_report"] is False and doc["verdict"]["en"] == "Confirmed fevers today: 2."
    assert doc["older_open_alarms"] == 1 and doc["threshold_c"] == 37.3
    text = render_text(r)
    total_line = next(line for line in text.splitlines() if line.startswith(TOTAL + " "))
    assert total_line.split()[1:] == ["16", "11", "5", "3", "1", "5", "2", "1"]


@pytest.mark.parametrize("fmt", ["text", "csv", "json"])
def test_cli_daily_report(filled, store_url, capsys, fmt):
    assert main(["report", "daily", "--date", "2026-03-02", "--store", store_url, "--tz", "Asia/Shanghai",
                 "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "text":
        assert "2026-03-02 (Asia/Shanghai)" in out and "Confirmed fevers today: 2." in out
        assert next(x for x in out.splitlines() if x.startswith("north-1")).split()[1:] == \
            [str(v) for k, v in expected(DAY_EVENTS, "north-1").items() if k != "dispositions"]
    elif fmt == "csv":
        total = list(csv.DictReader(io.StringIO(out)))[-1]
        assert (total["gate"], total["screened"], total["alarms"], total["zero_report"]) == (TOTAL, "16", "5", "no")
    else:
        doc = json.loads(out)
        assert figures_from(doc["total"]) == expected(DAY_EVENTS)
    # the next day through the CLI: the zero report, in both languages
    assert main(["report", "daily", "--date", "2026-03-03", "--store", store_url, "--tz", "Asia/Shanghai",
                 "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "text":
        assert "零报告：今日无发热病例。" in out and "Zero report: no fever today." in out
    elif fmt == "csv":
        assert list(csv.DictReader(io.StringIO(out)))[-1]["zero_report"] == "yes"
    else:
        assert json.loads(out)["zero_report"] is True


def figures_from(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("gate", "name")}


def test_cli_report_from_the_controller_config(tmp_path, capsys, monkeypatch):
    db = tmp_path / "school.db"
    with open_store(str(db)) as s:
        _insert(s, DAY_EVENTS)
    (tmp_path / "controller.toml").write_text('[site]\ntimezone = "Asia/Shanghai"\n\n[store]\nurl = "school.db"\n\n'
                                              '[screening]\nthreshold_c = 38.5\n')
    assert main(["report", "daily", "--date", "2026-03-02", "--config", str(tmp_path / "controller.toml"),
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["timezone"] == "Asia/Shanghai" and doc["threshold_c"] == 38.5
    assert doc["total"]["screened"] == 16
    assert doc["total"]["confirmed_fevers"] == 1  # 38.1 is below this site's 38.5; observation_room still counts
    monkeypatch.chdir(tmp_path)  # ./controller.toml is the default
    assert main(["report", "daily", "--date", "2026-03-02", "--format", "csv", "--threshold", "37.3"]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out)))[-1]["confirmed_fevers"] == "2"


def test_cli_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "daily"]) == 2
    assert "no store given" in capsys.readouterr().err
    assert main(["report", "daily", "--store", str(tmp_path / "x.db"), "--tz", "Mars/Olympus"]) == 2
    assert "unknown time zone" in capsys.readouterr().err
    assert main(["export", "--from", "2026-03-05", "--to", "2026-03-01", "--store", str(tmp_path / "x.db")]) == 2
    assert "before --from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "daily", "--date", "2 March"])


def test_export_round_trip(filled, store_url, tmp_path, capsys):
    out = tmp_path / "screenings.csv"
    assert main(["export", "--from", "2026-03-02", "--to", "2026-03-03", "--store", store_url, "--tz",
                 "Asia/Shanghai", "-o", str(out)]) == 0
    assert f"{len(DAY_EVENTS) + 2} screening(s) from 2026-03-02 to 2026-03-03" in capsys.readouterr().err
    with open(out, newline="", encoding="utf-8") as f:
        back = read_screenings_csv(f)
    since, _ = day_bounds(DAY, TZ)
    _, until = day_bounds(DAY + dt.timedelta(days=1), TZ)
    stored = filled.screenings(since=since, until=until, snapshots=False)
    assert back == stored
    assert len(back) == len(DAY_EVENTS) + 2  # the day, plus the next day's two; not the evening before
    assert min(s.time for s in back) == START
    rows = list(csv.DictReader(open(out, newline="", encoding="utf-8")))
    assert rows[0]["local_time"].endswith("+08:00")


def test_export_api_to_a_stream(filled):
    buf = io.StringIO()
    assert export_screenings(filled, START, END, buf) == len(DAY_EVENTS)
    back = read_screenings_csv(io.StringIO(buf.getvalue()))
    assert [s.uid for s in back] == [s.uid for s in filled.screenings(since=START, until=END)]
    with pytest.raises(ValueError, match="not a thermogate screenings export"):
        read_screenings_csv(io.StringIO("a,b\n1,2\n"))
