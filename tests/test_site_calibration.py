"""Site calibration as a nurse works: a sheet of (time, clinical_c), matched to decisions by time across any
number of recordings, pooled; the offset with its uncertainty, and the outliers listed and left out."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from controller.cli import main
from controller.screening.offline import analyze_recording, truth_for
from controller.screening.site_calibration import (
    Decided,
    Reading,
    SiteCalibration,
    fit_site_offset,
    match_by_time,
    parse_time,
    read_sheet,
)
from sim.synth import scenario_recording

TZ = ZoneInfo("Asia/Shanghai")


def test_the_fit_lists_outliers_and_gives_its_uncertainty():
    rng = np.random.default_rng(4)
    estimates = rng.uniform(36.0, 37.0, 30)
    clinical = estimates + 0.4 + rng.normal(0.0, 0.15, 30)
    clinical[[3, 17]] += (2.0, -1.5)  # a typo and another person's reading
    pairs = list(zip(estimates, clinical, strict=True))
    fit = fit_site_offset(pairs, current_offset_c=0.1)
    assert fit.outliers == (3, 17) and fit.used == 28 and fit.pairs == 30
    assert fit.offset_c == pytest.approx(0.5, abs=0.1)
    assert fit.ci95_c[0] < fit.offset_c < fit.ci95_c[1] and fit.ci95_c[1] - fit.ci95_c[0] < 0.3
    assert 0.01 < fit.standard_error_c < 0.1 and fit.residual_sd_c == pytest.approx(0.15, abs=0.06)
    summary = fit.summary(pairs, [f"r{i}" for i in range(30)])
    assert [o["reading"] for o in summary["outliers"]] == ["r3", "r17"]
    assert summary["outliers"][0]["difference_c"] == pytest.approx(clinical[3] - estimates[3], abs=0.01)
    # Without the outliers' pull: the plain median of everything is off by their weight.
    clean = fit_site_offset(pairs[:3] + pairs[4:17] + pairs[18:], current_offset_c=0.1)
    assert clean.offset_c == pytest.approx(fit.offset_c, abs=1e-9) and clean.outliers == ()


def test_too_few_readings_that_agree_are_refused():
    with pytest.raises(ValueError, match="at least 3"):
        fit_site_offset([(36.5, 37.0), (36.4, 36.9)])
    with pytest.raises(ValueError, match="agree"):
        fit_site_offset([(36.5, 37.0), (36.4, 36.9), (36.5, 39.5)])
    with pytest.raises(ValueError, match="finite"):
        fit_site_offset([(36.5, 37.0), (36.4, float("nan")), (36.5, 36.9)])


def test_matching_by_time_uses_each_decision_once_and_the_nearest_first():
    decided = [Decided(100.0, 36.5, "a"), Decided(106.0, 36.7, "b"), Decided(300.0, 36.9, "c")]
    readings = [Reading(2, "r1", 37.0, (100.5,)), Reading(3, "r2", 37.1, (104.5,)), Reading(4, "r3", 37.2, (106.5,)),
                Reading(5, "r4", 37.3, (200.0,))]
    pairs, labels, skipped = match_by_time(readings, decided, 20.0, "g-1")
    # The common lag (-0.5 s) out, r1 sits on a and r3 on b; r2 is left with no decision of its own, r4 far
    # from any.
    assert pairs == [(36.5, 37.0), (36.7, 37.2)] and "~ a" in labels[0] and "~ b" in labels[1]
    assert skipped == ["line 3 (r2): the decisions of g-1 within 20 s are nearer other readings",
                       "line 5 (r4): no decision of g-1 within 20 s"]


def test_a_bare_clock_time_means_that_time_on_each_day_given():
    days = [datetime(2026, 3, 2).date(), datetime(2026, 3, 3).date()]
    both = parse_time("08:10:05", TZ, days)
    assert [datetime.fromtimestamp(t, TZ).isoformat() for t in both] == ["2026-03-02T08:10:05+08:00",
                                                                         "2026-03-03T08:10:05+08:00"]
    assert parse_time("2026-03-02T08:00:30", TZ, days) == (datetime(2026, 3, 2, 8, 0, 30, tzinfo=TZ).timestamp(),)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_time("noon", TZ, days)


def test_bad_sheets_name_the_line(tmp_path):
    sheet = tmp_path / "s.csv"
    for text, message in (("time,clinical_c\n08:00,hot\n", "line 2"), ("when,reading\n08:00,36.5\n", "columns"),
                          ("time,clinical_c\n08:00,52.0\n", "plausible"), ("time,clinical_c\n", "no readings")):
        sheet.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_sheet(str(sheet), TZ, [datetime(2026, 3, 2).date()])


def test_calibrate_pools_a_nurses_sheet_over_several_recordings(tmp_path, capsys):
    """Two recordings made on different mornings, one sheet: ISO times for the first, bare clock times for the
    second, from a watch 3 s slow (people pass 5.5 s apart, so the lag is taken out before matching); one
    reading is another person's, one matches no decision."""
    starts = (datetime(2026, 3, 2, 8, 0, 0, tzinfo=TZ), datetime(2026, 3, 3, 8, 10, 0, tzinfo=TZ))
    rows, expected = [], []
    rng = np.random.default_rng(11)
    for n, (name, start) in enumerate(zip(("normal_queue", "fever"), starts, strict=True)):
        recording = scenario_recording(name, 45.0, seed=n)
        recording.created = start
        recording.save(tmp_path / f"r{n}.npz")
        decisions = [d for d in analyze_recording(recording) if d.estimate_c is not None]
        for d, person in zip(decisions, truth_for(recording, decisions), strict=True):
            clinical = round(person["core_c"] + float(rng.normal(0.0, 0.1)), 1)
            moment = start + timedelta(seconds=d.time_s - 3.0 + float(rng.uniform(-1.0, 1.0)))  # her watch: 3 s slow
            rows.append((moment.isoformat(timespec="seconds") if n == 0 else moment.strftime("%H:%M:%S"), clinical))
            expected.append(clinical - d.estimate_c)
    assert len(rows) >= 8
    rows[1] = (rows[1][0], round(rows[1][1] + 2.5, 1))  # another person's thermometer reading
    rows.append(((starts[1] + timedelta(minutes=30)).strftime("%H:%M"), 36.8))  # nobody passed then
    sheet = tmp_path / "nurse.csv"
    sheet.write_text("time,clinical_c\n" + "".join(f"{t},{c}\n" for t, c in rows))
    code = main(["calibrate", "sim-1", "--recording", str(tmp_path / "r0.npz"), "--recording",
                 str(tmp_path / "r1.npz"), "--readings", str(sheet), "--tz", "Asia/Shanghai"])
    out, err = capsys.readouterr()
    assert code == 0, err
    fit = json.loads(out)
    assert fit["recordings"] == 2 and fit["pairs"] == len(rows) - 1 and fit["used"] == len(rows) - 2, err
    assert [o["reading"].split(" ")[1] for o in fit["outliers"]] == ["3"]  # sheet line 3 is rows[1]
    kept = [e for i, e in enumerate(expected) if i != 1]
    assert fit["site_offset_c"] == pytest.approx(float(np.median(kept)), abs=0.02)
    assert fit["ci95_c"][0] <= fit["site_offset_c"] <= fit["ci95_c"][1] and fit["standard_error_c"] > 0
    assert "no decision of sim-1 within 20 s" in err and "outlier, left out: line 3" in err


def test_a_watch_a_few_seconds_off_still_pairs_each_reading_with_its_own_person():
    decided = [Decided(100.0 + 5.5 * i, 36.0 + 0.1 * i, f"d{i}") for i in range(8)]
    readings = [Reading(i + 2, f"r{i}", 36.5 + 0.1 * i, (100.0 + 5.5 * i - 3.5,)) for i in range(8)]
    pairs, labels, skipped = match_by_time(readings, decided, 20.0)
    assert not skipped and all(c - e == pytest.approx(0.5) for e, c in pairs)


def test_a_fit_is_checked_as_the_installation_asks():
    """docs/installation.md stores a fit only with at least 10 readings used, a standard error of 0.2 degC or less,
    at most 2 outliers and a residual sd under 0.8 degC; ``problems`` says which check fails, and the command's
    summary carries them."""
    good = SiteCalibration(0.3, 0.5, 20, standard_error_c=0.15, outliers=(1,), used=19)
    assert good.problems() == [] and good.summary([(36.0, 36.5)] * 20)["problems"] == []
    vague = SiteCalibration(0.3, 0.5, 12, standard_error_c=0.35, used=12)
    assert [p.split()[0] for p in vague.problems()] == ["standard"]
    # 12 readings at 0.35: 12 x (0.35 / 0.2) ** 2 = 36.75, so 37 in all, 25 more; at 0.21 with 20, 22.05: 23 in all
    assert vague.readings_needed() == 37 and "read about 25 more people (37 in all" in vague.problems()[0]
    assert SiteCalibration(0.3, 0.6, 20, standard_error_c=0.21, used=20).readings_needed() == 23
    # a few readings that happen to agree are not enough: their spread is not known
    lucky = SiteCalibration(0.3, 0.2, 5, standard_error_c=0.12, used=5)
    assert [p.split()[0] for p in lucky.problems()] == ["too"] and "at least 5 more" in lucky.problems()[0]
    assert lucky.readings_needed() == 10
    assert lucky.failed_checks() == ["too few readings"] and vague.failed_checks() == ["standard error"]
    assert good.failed_checks() == []
    assert SiteCalibration(0.3, 0.3, 10, standard_error_c=0.12, used=10).problems() == []
    assert good.readings_needed() == good.used == 19  # it passes: no more needed
    slips = SiteCalibration(0.3, 0.5, 20, standard_error_c=0.15, outliers=(1, 2, 3), used=17)
    assert "3 outliers" in slips.problems()[0]
    uneven = SiteCalibration(0.3, 0.9, 20, standard_error_c=0.2, used=20)
    assert "residual sd 0.90" in uneven.problems()[0]
    unknown = SiteCalibration(0.3, math.nan, 20, used=20)  # no uncertainty known: never stored unchecked
    assert len(unknown.problems()) == 2 and unknown.readings_needed() is None
    assert unknown.failed_checks() == ["standard error", "residual sd"]
    assert slips.failed_checks() == ["outliers"] and uneven.failed_checks() == ["residual sd"]
    assert "read more people" in unknown.problems()[0]
