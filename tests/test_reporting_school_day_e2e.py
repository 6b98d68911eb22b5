"""A school day at the gates, end to end: a real controller (SQLite) with ``[report]``, a roster with QR codes
and ``[site] require_identity``, and a virtual gate over a real mosquitto whose queue is the roster's pupils.

The day is squeezed into a few minutes of the controller's time zone around now: a morning session (晨检) that
ends at a minute boundary, a noon session (午检) the minute after, the deadline at the noon session's end. Two
pupils never come (one per class); one comes with a fever, and the doctor decides their case "sent home" through
the cases API the console uses; at noon the others come again (the one sent home does not). The counts, the
absentee lists, the warning and the report delivered to a file drop and a local HTTP receiver are checked
against the simulator's ground truth: who was at the mark, which code they showed, and when.

Each session's gate has a listed queue (``scenario(..., people=[...])``): exactly its pupils, once, then an
empty room, so nobody else can reach the mark however late the gate is stopped or however loaded the machine.
A pupil the gate could not measure (RETRY: on a loaded machine it can miss the frames while they stand) comes
again in another round, a listed queue of just those left; nobody is ever screened twice."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import math
import time

import pytest

from controller.cases.case_store import CaseStore
from controller.cases.steps import Acknowledged, Decision
from controller.identity.people_store import PeopleStore
from controller.identity.roster_import import import_roster
from controller.reporting.counts import absentees, day_counts
from controller.reporting.report_store import ReportStore
from controller.screening.config import ScreeningConfig
from controller.screening.offline import analyze_recording, truth_for
from controller.store import open_store
from sim.runner import GateThread, make_gates
from sim.scenarios import scenario
from sim.scenes import PersonPlan
from sim.synth import scenario_recording
from tests.controller_harness import midday_zone, start_controller
from tests.reporting_day import report_toml
from tests.test_reporting_day import Receiver

pytestmark = pytest.mark.slow

CODE = "4401060009"
A, B = "初一(1)班", "初一(2)班"
ROSTER = {"S1": ("张一", A), "S2": ("张二", A), "S3": ("张三", A), "S4": ("李四", B), "S5": ("李五", B)}
NORMAL_C, FEVER_C = 36.6, 39.0  # core temperatures: clearly afebrile, clearly febrile (threshold 37.3)
# Who comes to each session, in order, with their core temperature. S3 and S5 never come (the day's two
# absences); S2 comes febrile in the morning, is sent home and does not come at noon.
MORNING = {"S1": NORMAL_C, "S2": FEVER_C, "S4": NORMAL_C}
NOON = {"S1": NORMAL_C, "S4": NORMAL_C}
ABSENT = {"S3", "S5"}
SEED = 4  # the scenario seed: draws each pupil's walk and skin (checked below to be far from the threshold)
# The gate's eye band is read with the canthus region's relation, named here so that a change of [screening]
# eye_band's default does not move these pupils' readings (it moves them by about 0.7 degC).
EYE_BAND = "canthus_region"
BASE = "school_queue"
GATE = "sim-1"
LO = 50.0  # the morning session ends at the first minute boundary at least LO s after the gate starts (a
# round takes 6 s of lead-in and 5.5 s per pupil: room for a second one)
SETUP_S = 5.0  # controller start, roster import (under 1 s on an idle machine)


def _plans(pupils: dict[str, float]) -> list[PersonPlan]:
    return [PersonPlan(core, credential=f"QR-{pid}") for pid, core in pupils.items()]


def _pupils(pupils: dict[str, float]):
    """The listed queue: each pupil with their core temperature, scanning their QR code; nobody else. The room
    is school_queue's, whose 6 s lead-in gives a gate just switched on time to learn its reference's reading
    before the first pupil steps up."""
    return scenario(BASE, SEED, people=_plans(pupils))


def _queue(broker, pupils: dict[str, float], boot_seed: int):
    """A virtual gate GATE whose queue is ``pupils`` and no one else, stepping in the background; ``boot_seed``
    draws its boot id (a gate switched on again boots with a new one)."""
    [gate] = make_gates(1, lambda _i: _pupils(pupils), broker.host, broker.port, seed=boot_seed)
    return gate, GateThread([gate]).start()


def _hhmm(t: float, tz) -> str:
    return dt.datetime.fromtimestamp(t, tz).strftime("%H:%M")


def test_the_listed_pupils_are_far_from_the_threshold():
    """The screening on each session's queue, offline at exact frame times (no broker, no load): one decision
    per pupil, PASS or FEVER as meant, each estimate at least 0.5 degC from the threshold (37.3) and from the
    floor below which a reading is withheld (35.5), so the decisions of the day below are not borderline. A
    later round puts a pupil at the same place or an earlier one (person i of a queue is drawn from the seed
    and i), so each core is tried at every place up to the latest it takes."""
    config = ScreeningConfig(eye_band=EYE_BAND)
    places = {core: 1 + max(i for pupils in (MORNING, NOON) for i, c in enumerate(pupils.values()) if c == core)
              for core in (NORMAL_C, FEVER_C)}
    queues = [list(MORNING.values()), list(NOON.values())] + [[core] * n for core, n in places.items()]
    for cores in queues:
        plans = [PersonPlan(core) for core in cores]
        rec = scenario_recording(BASE, scenario(BASE, SEED, people=plans).duration_s + 2, seed=SEED, people=plans)
        decisions = analyze_recording(rec, config)
        got = [(d.decision, p and p["id"], d.estimate_c) for d, p in zip(decisions, truth_for(rec, decisions),
                                                                         strict=True)]
        assert [(d, i) for d, i, _e in got] == [("FEVER" if core == FEVER_C else "PASS", i + 1)
                                                for i, core in enumerate(cores)], (cores, got)
        for _d, _i, estimate in got:
            assert abs(estimate - config.threshold_c) >= 0.5 and estimate - config.min_estimate_c >= 0.5, (cores, got)


def test_a_school_day_at_the_gates(tmp_path, mqtt_broker, mqtt_watch):
    tz = midday_zone()  # 12:xx there now: the whole day fits in the hour, far from midnight
    t0 = time.time()
    m1 = math.ceil((t0 + SETUP_S + LO) / 60) * 60.0  # the morning session's end: a minute boundary
    m2 = m1 + 60.0  # the noon session's end and the deadline
    day = dt.datetime.fromtimestamp(m1, tz).date()

    # The roster (codes = credentials), the reporter and the backup, in the store the controller will open.
    db = tmp_path / "thermogate.db"
    store = open_store(str(db))
    csv = "id,name,role,class,boarder,guardian_phone,credentials,active\n" + "".join(
        f"{pid},{name},student,{cls},no,,QR-{pid},yes\n" for pid, (name, cls) in ROSTER.items())
    imported = import_roster(PeopleStore.beside(store), csv.encode(), time.time())
    assert not [o for o in imported.lines if o.outcome == "refused"], imported.lines
    store.add_user("li", "doctor", "pw-li-123456")
    store.add_user("zhao", "admin", "pw-zhao-123456")
    store.close()

    receiver = Receiver()
    drop = tmp_path / "drop"
    extra = f'[screening]\neye_band = "{EYE_BAND}"\n' + report_toml(
        {"school": "实验小学", "school_code": CODE, "reporter": "li", "backup_reporter": "zhao",
         "deadline": _hhmm(m2, tz), "build_before_min": 1, "dir": str(tmp_path / "archive"), "attempts": 2,
         "retry_s": 5, "timeout_s": 5},
        {"晨检": {"start": _hhmm(m1 - 300, tz), "end": _hhmm(m1, tz), "gates": [GATE]},
         "午检": {"start": _hhmm(m1, tz), "end": _hhmm(m2, tz), "gates": [GATE]}},
        warnings=[{"scope": "class", "what": "fevers_confirmed", "threshold": 1, "days": 1}],
        recipients=[{"type": "file", "name": "bureau-drop", "dir": str(drop)},
                    {"type": "webhook", "name": "bureau-api", "url": receiver.url}])
    watch = mqtt_watch("thermogate/+/result")
    svc = start_controller(tmp_path, mqtt_broker, [GATE], store=str(db), timezone=tz.key,
                           site_extra="require_identity = true", extra=extra)
    try:
        assert svc.dispatcher.connected.wait(10)
        assert svc.reports is not None
        reporter, rs = svc.reports.reporter, ReportStore.beside(svc.store)
        threshold = svc.config.screening.threshold_c

        assert time.time() <= m1 - LO, "setup took longer than SETUP_S"

        worker = svc.workers[GATE]
        boots = itertools.count()  # each round's gate boots afresh (its boot id, its EEPROM) from the next seed
        gates: list = []  # every round's gate, for the print at the end

        def results(gate) -> list[dict]:
            """The results published for ``gate``'s boot (the boot id in each result's uid)."""
            boot = f"{gate.boot_id:08x}"
            return [r for r in (json.loads(p) for _t, p in watch.messages(f"thermogate/{GATE}/result"))
                    if r["uid"].split(":")[1] == boot]

        def screened(gate) -> dict[str, tuple[str, float]]:
            """Ground truth of ``gate``'s results: the code shown by the one person in view on the frame a PASS
            or FEVER was decided on -> (decision, time) of their first, the time the screening's as the
            controller recorded it; each result names that code's pupil."""
            scans = {s.person: s.text for s in gate.scenario.scans(0, gate.t + 1)}
            got: dict[str, tuple[str, float]] = {}
            for r in results(gate):
                if r["decision"] not in ("PASS", "FEVER"):
                    continue
                present = [p["id"] for p in (gate.truth.get(r["sequence"]) or {"people": []})["people"]]
                assert len(present) == 1, (r, present)
                code = scans.get(present[0])
                assert code is not None and r["person"] == {"id": code[3:], "name": ROSTER[code[3:]][0]}, (r, code)
                got.setdefault(code, (r["decision"], dt.datetime.fromisoformat(r["time"]).timestamp()))
            return got

        def settled(gate, after: int) -> bool:
            """The controller has dealt with every frame of ``gate`` up to sequence ``after`` (it has started
            on a later one: one thread handles a gate's frames in order) and every decision it recorded for
            the boot has reached the watch."""
            if worker.boot_id != gate.boot_id or worker.last_sequence <= after:
                return False
            boot = f":{gate.boot_id:08x}:"
            recorded = [s for s in svc.store.screenings(gate=GATE, since=t0 - 1, limit=10_000, snapshots=False)
                        if boot in s.uid]
            return len(results(gate)) == len(recorded)

        def until(done, t_end: float) -> None:
            while not done() and time.time() < t_end:
                time.sleep(0.1)

        def one_round(pupils: dict[str, float], t_end: float) -> dict[str, tuple[str, float]]:
            """A gate switched on with a listed queue of ``pupils``, until the queue has left the view and the
            controller has dealt with every frame up to then (or ``t_end``); what it screened."""
            gate, thread = _queue(mqtt_broker, pupils, next(boots))
            assert gate.boot_id not in {g.boot_id for g in gates}
            gates.append(gate)
            try:
                until(lambda: gate.t > gate.scenario.duration_s + 0.5, t_end)  # everyone has left the view
                after = gate.gate.sequence
                until(lambda: settled(gate, after), t_end)
            finally:
                thread.stop()
            return screened(gate)

        def session(pupils: dict[str, float], t_end: float) -> dict[str, tuple[str, float]]:
            """The pupils come to the gate in rounds, each a listed queue of those not yet screened (PASS or
            FEVER): a pupil told RETRY (a loaded machine can make the gate miss the frames while they stand)
            steps up again in the next round, as a guard would have them do, and nobody else ever comes; no
            round starts after ``t_end``."""
            got: dict[str, tuple[str, float]] = {}
            while (left := {p: c for p, c in pupils.items() if f"QR-{p}" not in got}) and time.time() < t_end:
                for code, v in one_round(left, t_end).items():
                    got.setdefault(code, v)
            return got

        # 晨检: the fever comes; before the doctor decides, a build is "pending", never a zero report.
        g0 = time.time()
        morning = session(MORNING, m1 - 1)
        assert set(morning) == {f"QR-{p}" for p in MORNING}, \
            f"morning screened only {sorted(morning)} by +{m1 - g0:.0f} s: {[results(g) for g in gates]}"
        assert all(at < m1 for _d, at in morning.values()), (morning, m1)
        assert {c: d for c, (d, _at) in morning.items()} == {"QR-S1": "PASS", "QR-S2": "FEVER", "QR-S4": "PASS"}
        morning_rounds = len(gates)
        cases = CaseStore.beside(svc.store)
        [case] = cases.cases(person_id="S2")
        assert case.alarm_id is not None
        assert reporter.build_now(day, time.time()).verdict == "pending"
        cases.add_step(case.id, Acknowledged(), "li", time.time())
        cases.add_step(case.id, Decision(outcome="sent_home", note="复测腋温 38.4"), "li", time.time())
        assert reporter.build_now(day, time.time()).verdict == "cases"

        # 午检 (from the minute boundary on): the two pupils left come again (the one sent home does not).
        time.sleep(max(0.0, m1 - time.time()))
        noon = session(NOON, m2 - 1)
        assert {c: d for c, (d, _at) in noon.items()} == {"QR-S1": "PASS", "QR-S4": "PASS"}, \
            (noon, [results(g) for g in gates[morning_rounds:]])
        assert all(m1 <= at < m2 for _d, at in noon.values()), (noon, m1, m2)

        truth = {"晨检": {c[3:] for c in morning}, "午检": {c[3:] for c in noon}}
        assert truth == {"晨检": set(MORNING), "午检": set(NOON)}, truth  # what the queues were made to do
        assert not ABSENT & (truth["晨检"] | truth["午检"])

        # The report goes out at the deadline (the scheduler looks every 15 s), to both recipients.
        json_file = drop / f"{CODE}-{day}.json"
        wait_until = time.monotonic() + (m2 - time.time()) + 40
        while time.monotonic() < wait_until and not (json_file.exists() and receiver.bodies
                                                     and len(rs.receipts(CODE, day.isoformat())) >= 2):
            time.sleep(0.2)
        receipts = rs.receipts(CODE, day.isoformat())
        assert [(r.recipient, r.ok, r.late) for r in receipts] == [("bureau-drop", True, False),
                                                                     ("bureau-api", True, False)], receipts
        assert all(m2 <= r.at <= m2 + 30 for r in receipts), [(r.at - m2) for r in receipts]
        assert receipts[1].detail == 'HTTP 200: {"receipt": "R-1"}'
        rec = rs.report(CODE, day.isoformat())
        assert rec.status == "sent" and rec.verdict == "cases"

        doc = json.loads(json_file.read_text(encoding="utf-8"))
        [body] = receiver.bodies
        [sent_json] = [f for f in body["files"] if f["name"].endswith(".json")]
        assert json.loads(base64.b64decode(sent_json["content_base64"])) == doc
        assert (body["school_code"], body["date"], body["verdict_code"]) == (CODE, day.isoformat(), "cases")

        _data, counts = day_counts(rs, reporter.config, day, tz, threshold)
        for s, s_doc in zip(counts, doc["sessions"], strict=True):
            assert s.session.name == s_doc["name"]
            for cls in (A, B):
                members = {p for p, (_n, c) in ROSTER.items() if c == cls}
                seen = members & truth[s.session.name]
                want = (len(members), len(seen), len(members - seen))
                [row] = [r for r in s.rows if (r.category, r.group) == ("student", cls)]
                [row_doc] = [r for r in s_doc["rows"] if (r["category"], r["group"]) == ("student", cls)]
                assert (row.expected, row.screened, row.not_screened) == want, (s.session.name, row)
                assert (row_doc["expected"], row_doc["screened"], row_doc["not_screened"]) == want
                assert {a.person_id for a in s.absentees.get(cls, ())} == members - seen
            listed = {a.person_id for a in absentees(rs, reporter.config, day, tz, s.session.name, threshold)}
            assert listed == set(ROSTER) - truth[s.session.name]
        assert listed == ABSENT | {"S2"}  # at noon the pupil sent home is not screened either
        morning_counts = counts[0]
        assert {a.person_id for v in morning_counts.absentees.values() for a in v} == ABSENT
        [fever_row] = [r for r in doc["sessions"][0]["rows"] if (r["category"], r["group"]) == ("student", A)]
        assert (fever_row["fevers_raised"], fever_row["fevers_confirmed"], fever_row["fevers_open"]) == (1, 1, 0)

        # The warning: one confirmed fever in 初一(1)班 crosses the class rule; it is in the report.
        [w] = rs.warnings(day.isoformat())
        assert (w.scope, w.scope_key, w.count) == ("class", A, 1)
        assert [x["scope_key"] for x in doc["warnings"]] == [A]
        assert doc["verdict"]["code"] == "cases" and doc["verdict"]["n"] == 1  # not a zero report
        last_morning, last_noon = (max(at for _d, at in q.values()) for q in (morning, noon))
        print(f"school day: gate on {g0 - t0:.1f} s after the start; morning screened by +{last_morning - g0:.1f} s "
              f"in {morning_rounds} round(s), ended +{m1 - g0:.1f} s; noon screened by +{last_noon - m1:.1f} s after "
              f"its start in {len(gates) - morning_rounds} round(s); deadline +{m2 - g0:.1f} s, delivered "
              f"{receipts[0].at - m2:.1f} s after it")
    finally:
        svc.stop()
        receiver.close()
