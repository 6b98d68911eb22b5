"""The accuracy benchmark's commissioning (bench/bench_accuracy.py, :func:`commission`): its people come from a
session of their own at the same gate, never the evaluation's, and its site offset is the product's own fit of
the nurse's sheet, the fit `thermogate calibrate GATE --recording ... --readings` runs."""

from __future__ import annotations

import csv
import json
import math
from datetime import timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from controller.calibrate import cli as calibrate_cli
from controller.cli import main
from controller.recording import Recording
from controller.screening.config import ScreeningConfig
from controller.screening.offline import analyze_recording
from controller.screening.site_calibration import Decided, fit_site_offset, match_by_time, read_sheet
from sim.scenarios import scenario
from sim.scenes.world import DEV
from sim.synth import scenario_recording
from tests.test_worlds import bench

KIND = bench.KIND
SEED = DEV.seed(46)  # a 110 deg DEV gate whose reference is learned, which decides people and whose fit passes
LENS = "110"


def _installed():
    sc = scenario(KIND, SEED, variant=LENS, world=DEV)
    rec = scenario_recording(KIND, sc.duration_s, seed=SEED, variant=LENS, world=DEV)
    first = next(iter(rec.frames())).truth
    return sc, rec, bench.learn_installed_reference(rec, bench.installer_config(sc, first))


def test_a_commissioning_session_is_the_same_gate_with_other_people():
    plans = bench.commissioning_people(DEV, LENS, SEED, 0)
    evaluation = scenario(KIND, SEED, variant=LENS, world=DEV)
    session = scenario(KIND, SEED, variant=LENS, world=DEV, people=plans, session="commissioning-1")
    assert session.physics == evaluation.physics
    # the same room, reference and sensor errors: the empty lead-in frames are the same pixels
    assert np.array_equal(session.frame_at(1.0).image, evaluation.frame_at(1.0).image)
    ours = [evaluation.scene.person(0, i) for i in range(evaluation.spec.n_people)]
    theirs = [session.scene.person(0, i) for i in range(session.spec.n_people)]
    assert {p.physiology.core_c for p in theirs}.isdisjoint(p.physiology.core_c for p in ours)
    assert {p.physiology.canthus_offset_c for p in theirs}.isdisjoint(p.physiology.canthus_offset_c for p in ours)
    assert {p.eye_height_m for p in theirs}.isdisjoint(p.eye_height_m for p in ours)
    # and it is the session's own key that draws them: the same listed queue without it draws other people
    plain = scenario(KIND, SEED, variant=LENS, world=DEV, people=plans)
    listed = [plain.scene.person(0, i) for i in range(plain.spec.n_people)]
    assert {p.eye_height_m for p in theirs}.isdisjoint(p.eye_height_m for p in listed)
    assert {p.physiology.canthus_offset_c for p in theirs}.isdisjoint(p.physiology.canthus_offset_c for p in listed)
    # another session, other people again; the same session, the same people
    again = bench.commissioning_people(DEV, LENS, SEED, 1)
    assert [p.core_c for p in again] != [p.core_c for p in plans]
    assert [p.core_c for p in bench.commissioning_people(DEV, LENS, SEED, 0)] == [p.core_c for p in plans]


def test_commissioning_fits_the_nurses_sheet_with_the_products_fit(tmp_path):
    _sc, _rec, (config, learned, _told) = _installed()
    assert learned == "learned"
    fitted, how = bench.commission(DEV, LENS, SEED, config, learned, readings=10, max_readings=10)
    assert how.note == "fitted" and how.readings == len(how.sheet) == 10 and how.people >= 12
    assert fitted.site_offset_c == how.offset_c and config.site_offset_c == 0.0
    # the sheet is the nurse's: clinical readings to 0.1 degC, near body temperatures, times as written
    assert all(35.0 <= c <= 38.5 and round(c, 1) == c for _t, c in how.sheet)
    # the product's fit of that sheet against the sessions' decisions gives the offset the bench wrote
    decided = []
    for k in range(how.people // bench.COMMISSION_SESSION_PEOPLE):
        plans = bench.commissioning_people(DEV, LENS, SEED, k)
        name = f"commissioning-{k + 1}"
        duration = scenario(KIND, SEED, variant=LENS, world=DEV, people=plans, session=name).duration_s
        rec = scenario_recording(KIND, duration, seed=SEED, variant=LENS, world=DEV, people=plans, session=name)
        start = (rec.created + k * bench.COMMISSION_GAP).timestamp()
        decided += [Decided(start + d.time_s, d.estimate_c, name, (k, d.track, d.time_s))
                    for d in analyze_recording(rec, config) if d.estimate_c is not None]
    sheet = tmp_path / "sheet.csv"
    with open(sheet, "w", newline="") as f:
        csv.writer(f).writerows([("time", "clinical_c"), *how.sheet])
    day = rec.created.astimezone(timezone.utc).date()
    pairs, _labels, _skipped = match_by_time(read_sheet(str(sheet), timezone.utc, [day]), decided, 20.0)
    assert len(pairs) == 10
    assert how.offset_c == pytest.approx(fit_site_offset(pairs).offset_c, abs=1e-9)
    assert how.offset_c != 0.0


def test_the_nurse_reads_on_when_the_fits_standard_error_asks_for_it():
    """docs/installation.md, step 3: a fit of too few readings, or whose standard error is over 0.2 degC, is not
    stored; the nurse takes the further readings the command names and the whole sheet is fitted again, up to
    the bench's limit."""
    _sc, _rec, (config, learned, _told) = _installed()
    _, six = bench.commission(DEV, LENS, SEED, config, learned, readings=6, max_readings=6)
    # at this gate six readings are too few, and their standard error is over 0.2 (0.23)
    assert six.note.startswith("not commissioned: the fit fails the checks (too few readings: 6 used")
    assert "standard error" in six.note and "at least 4 more" in six.note
    asked = max(10, math.ceil(6 * (six.standard_error_c / 0.2) ** 2))  # what the command tells her to reach
    fitted, more = bench.commission(DEV, LENS, SEED, config, learned, readings=6, max_readings=40)
    assert more.readings == asked == 10 and more.sheet[:6] == six.sheet  # she read on as asked; her six stay
    assert more.note == "fitted" and more.standard_error_c <= 0.2 and fitted.site_offset_c == more.offset_c


def test_the_command_and_the_bench_share_one_offline_fit(tmp_path, capsys):
    assert bench.fit_recordings is calibrate_cli.fit_recordings
    path = Path(__file__).resolve().parents[1] / "sim" / "recordings" / "fever-30s.npz"
    rec = Recording.load(path)
    made = [d for d in analyze_recording(rec, ScreeningConfig()) if d.estimate_c is not None]
    assert len(made) >= 3
    sheet = tmp_path / "sheet.csv"
    with open(sheet, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("time", "clinical_c"))
        for d in made[:4]:
            when = rec.created + timedelta(seconds=d.time_s + 1.0)
            w.writerow((when.astimezone(timezone.utc).isoformat(), round(d.estimate_c + 0.3, 1)))
    cal, pairs, _labels, _skipped = calibrate_cli.fit_recordings([(str(path), rec)], str(sheet), ScreeningConfig(),
                                                                 timezone.utc, 20.0, "sim-1")
    assert main(["calibrate", "sim-1", "--recording", str(path), "--readings", str(sheet), "--tz", "UTC"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["pairs"] == len(pairs) == min(4, len(made))
    assert printed["site_offset_c"] == round(cal.offset_c, 2)
    assert cal.offset_c == pytest.approx(0.3, abs=0.06)
