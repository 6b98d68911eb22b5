"""The event store on both backends: SQLite (a file in tmp_path) and the machine's PostgreSQL."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
import threading
import time

import numpy as np
import pytest

from controller.store import (
    LATEST_VERSION,
    MIGRATIONS,
    DoorAction,
    NotFound,
    SchemaError,
    Screening,
    Store,
    StoreError,
    StoreUnavailable,
    decode_snapshot,
    encode_snapshot,
    open_store,
    passwords,
)
from controller.store.backends import backend_for
from controller.store.migrations import Migration

T0 = 1_780_000_000.0  # a fixed instant, so the tests do not depend on today


def screening(uid: str, gate: str = "north-1", t: float = T0, decision: str = "PASS", **kw) -> Screening:
    fields = dict(uid=uid, gate=gate, time=t, decision=decision, reason="", track=1,
                  estimate_c=36.6 if decision in ("PASS", "FEVER") else None, face_c=34.1, distance_m=0.62,
                  reduced_accuracy=False, boot=7, sequence=100, snapshot=None)
    if decision == "FEVER":
        fields["estimate_c"] = 38.2
    fields.update(kw)
    return Screening(**fields)


def fever(store: Store, uid: str, gate: str = "north-1", t: float = T0) -> tuple[int, int]:
    sid = store.record_screening(screening(uid, gate, t, "FEVER"))
    return sid, store.open_alarm(sid, gate, t)


# ---------------------------------------------------------------- opening, URLs, migrations

def test_sqlite_urls_wal_and_foreign_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url, path in [(f"sqlite://{tmp_path}/a.db", tmp_path / "a.db"), (str(tmp_path / "b.db"), tmp_path / "b.db"),
                      ("sqlite:rel/c.db", tmp_path / "rel" / "c.db"), ("d.db", tmp_path / "d.db")]:
        with open_store(url) as s:
            assert s.dialect == "sqlite"
            s.upsert_gate("north-1")
        assert path.exists(), url
        raw = sqlite3.connect(path)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        raw.close()
    db = backend_for(f"sqlite://{tmp_path}/a.db?busy_timeout_ms=250")
    assert db.read("PRAGMA foreign_keys")[0][0] == 1
    assert db.read("PRAGMA busy_timeout")[0][0] == 250
    assert db.read("PRAGMA synchronous")[0][0] == 2  # FULL
    db.close()


@pytest.mark.parametrize("url, message", [
    ("", "empty"), ("mysql://x/y", "unknown store URL scheme"), ("sqlite://", "names no database"),
    ("sqlite:///x.db?cache=1", "unknown SQLite store option"), ("sqlite:///x.db?synchronous=off", "synchronous"),
])
def test_bad_urls(url, message):
    with pytest.raises(StoreError, match=message):
        open_store(url)


def test_not_a_database(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        open_store(str(tmp_path / "junk.db"))


def test_postgres_unreachable_is_a_clear_error():
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        open_store("postgresql://postgres:secret@127.0.0.1:1/none?connect_timeout=2")
    try:
        open_store("postgresql://postgres:secret@127.0.0.1:1/none")
    except StoreUnavailable as exc:
        assert "secret" not in str(exc)


def test_migrations_on_empty_db_and_reopen(empty_store_url):
    s = open_store(empty_store_url)
    assert s.migrations_applied == list(range(1, LATEST_VERSION + 1)) and s.schema_version() == LATEST_VERSION
    sid = s.record_screening(screening("u1"))
    s.close()
    with open_store(empty_store_url) as again:
        assert again.migrations_applied == []
        assert again.schema_version() == LATEST_VERSION
        assert again.screening(sid).uid == "u1"


def test_next_migration_applies_once_and_older_code_refuses_newer_db(empty_store_url):
    open_store(empty_store_url).close()
    n = LATEST_VERSION + 1
    nxt = Migration(n, "test table", ("CREATE TABLE extra (id {pk}, note TEXT NOT NULL)",))
    s = Store(backend_for(empty_store_url), migrations=MIGRATIONS + (nxt,))
    assert s.migrations_applied == [n] and s.schema_version() == n
    s.close()
    s = Store(backend_for(empty_store_url), migrations=MIGRATIONS + (nxt,))
    assert s.migrations_applied == []
    s.close()
    with pytest.raises(SchemaError, match=f"schema version {n}, newer than this thermogate knows"):
        open_store(empty_store_url)


def test_failed_migration_leaves_previous_version(empty_store_url):
    open_store(empty_store_url).close()
    n = LATEST_VERSION + 1
    bad = Migration(n, "broken", ("CREATE TABLE half (x {bigint})", "CREATE TABLE half (x {bigint})"))
    with pytest.raises(StoreError):
        Store(backend_for(empty_store_url), migrations=MIGRATIONS + (bad,))
    with open_store(empty_store_url) as s:
        assert s.schema_version() == LATEST_VERSION
    # the half-made table went with the rolled-back transaction: the fixed migration applies cleanly
    good = Migration(n, "fixed", ("CREATE TABLE half (x {bigint})",))
    s = Store(backend_for(empty_store_url), migrations=MIGRATIONS + (good,))
    assert s.migrations_applied == [n]
    s.close()


def test_closed_store_refuses(store):
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.screenings()
    store.close()  # twice is harmless


# ---------------------------------------------------------------- gates

def test_gates_and_status_history(store):
    store.upsert_gate("north-1", "North entrance", "Building A")
    store.upsert_gate("north-1", "North entrance, left", "Building A")
    store.record_screening(screening("u1", gate="south-2"))  # an unregistered gate gets a bare row
    assert [(g.id, g.name, g.location) for g in store.gates()] == [
        ("north-1", "North entrance, left", "Building A"), ("south-2", "", "")]
    for i in range(5):
        store.record_gate_status("north-1", T0 + i, i != 3, {"rssi": -50 - i, "fw": "1.0"})
    hist = store.gate_status_history("north-1")
    assert [h.time for h in hist] == [T0 + i for i in range(5)]
    assert [h.online for h in hist] == [True, True, True, False, True]
    assert hist[2].status == {"rssi": -52, "fw": "1.0"}
    assert [h.time for h in store.gate_status_history("north-1", since=T0 + 3)] == [T0 + 3, T0 + 4]
    assert [h.time for h in store.gate_status_history("north-1", limit=2)] == [T0 + 3, T0 + 4]
    assert store.gate_status_history("south-2") == []
    assert store.purge_gate_status(T0 + 2) == 2
    assert len(store.gate_status_history("north-1")) == 3
    with pytest.raises(StoreError, match="invalid gate id"):
        store.upsert_gate("North 1")
    with pytest.raises(StoreError, match="JSON"):
        store.record_gate_status("north-1", T0, True, {"x": float("nan")})


# ---------------------------------------------------------------- screenings

def test_screening_round_trip_and_idempotent_insert(store):
    snap = encode_snapshot(np.full((24, 32), 30.25))
    s = screening("north-1/7/100", reason="", track=42, reduced_accuracy=True, snapshot=snap, face_c=None)
    sid = store.record_screening(s)
    got = store.screening(sid)
    assert got == Screening(**{**s.__dict__, "id": sid})
    assert isinstance(got.snapshot, bytes) and np.all(decode_snapshot(got.snapshot) == 30.25)
    # the same uid again: same id, nothing changed, no second row
    again = store.record_screening(screening("north-1/7/100", decision="FEVER", track=1))
    assert again == sid
    assert store.screening(sid) == got
    assert len(store.screenings()) == 1
    assert store.screening(sid + 1000) is None


def test_screening_queries(store):
    decisions = ["PASS", "FEVER", "RETRY", "PASS", "BLOCKED", "PASS"]
    ids = [store.record_screening(screening(f"u{i}", gate="a-1" if i % 2 else "b-2", t=T0 + i, decision=d,
                                            reason="come_closer" if d == "RETRY" else ""))
           for i, d in enumerate(decisions)]
    assert [s.id for s in store.screenings()] == ids
    assert [s.id for s in store.screenings(newest_first=True, limit=2)] == ids[::-1][:2]
    assert [s.id for s in store.screenings(gate="a-1")] == ids[1::2]
    assert [s.decision for s in store.screenings(decision="PASS")] == ["PASS"] * 3
    assert [s.id for s in store.screenings(since=T0 + 2, until=T0 + 4)] == ids[2:4]
    assert [s.id for s in store.screenings(limit=2, offset=3)] == ids[3:5]
    assert [s.id for s in store.iter_screenings(batch=4)] == ids
    assert [s.id for s in store.iter_screenings(since=T0 + 1, until=T0 + 5, batch=2)] == ids[1:5]
    assert store.screening_counts() == {"a-1": {"FEVER": 1, "PASS": 2}, "b-2": {"PASS": 1, "RETRY": 1, "BLOCKED": 1}}
    assert store.screening_counts(since=T0 + 3) == {"a-1": {"PASS": 2}, "b-2": {"BLOCKED": 1}}


@pytest.mark.parametrize("change, message", [
    ({"decision": "MAYBE"}, "decision must be one of"), ({"gate": "Gate 1"}, "invalid gate id"),
    ({"estimate_c": float("nan")}, "estimate_c"), ({"time": float("inf")}, "finite"), ({"uid": ""}, "uid"),
    ({"track": -1}, "track"), ({"boot": 1.5}, "boot"), ({"snapshot": "text"}, "snapshot"),
])
def test_screening_validation(store, change, message):
    with pytest.raises(StoreError, match=message):
        store.record_screening(dataclasses.replace(screening("bad"), **change))
    assert store.screenings() == []


def test_purge_snapshots_keeps_rows_and_counts(store):
    snap = encode_snapshot(np.zeros((24, 32)))
    for i in range(6):
        store.record_screening(screening(f"u{i}", t=T0 + i * 86400, decision="PASS" if i % 3 else "FEVER",
                                         snapshot=snap))
    counts = store.screening_counts()
    assert store.purge_snapshots(T0 + 3 * 86400) == 3
    assert store.purge_snapshots(T0 + 3 * 86400) == 0  # already gone
    rows = store.screenings()
    assert len(rows) == 6 and store.screening_counts() == counts
    assert [r.snapshot is None for r in rows] == [True] * 3 + [False] * 3


# ---------------------------------------------------------------- alarms

def test_alarm_lifecycle(store):
    sid, aid = fever(store, "f1")
    assert store.open_alarm(sid, "north-1", T0 + 5) == aid  # once per screening
    a = store.alarm(aid)
    assert (a.status, a.screening_id, a.gate, a.time, a.note) == ("open", sid, "north-1", T0, "")
    a = store.acknowledge_alarm(aid, "guard1", T0 + 10)
    assert (a.status, a.acknowledged_by, a.acknowledged_at) == ("acknowledged", "guard1", T0 + 10)
    a = store.acknowledge_alarm(aid, "guard2", T0 + 11)  # the first acknowledgement stands
    assert a.acknowledged_by == "guard1"
    a = store.dispose_alarm(aid, recheck_c=38.4, outcome="sent_home", user="dr-li", time=T0 + 300, note="called parent")
    assert (a.status, a.recheck_c, a.outcome, a.disposed_by, a.disposed_at, a.note) == (
        "disposed", 38.4, "sent_home", "dr-li", T0 + 300, "called parent")
    assert a.acknowledged_by == "guard1"
    with pytest.raises(StoreError, match="already disposed by dr-li"):
        store.dispose_alarm(aid, recheck_c=None, outcome="admitted", user="x", time=T0 + 400)
    assert store.acknowledge_alarm(aid, "guard3", T0 + 500).status == "disposed"


def test_dispose_implies_acknowledge_and_validates(store):
    _, aid = fever(store, "f1")
    for kw, message in [({"outcome": "cured"}, "outcome must be one of"), ({"recheck_c": 29.9}, "outside 30-45"),
                        ({"recheck_c": 45.1}, "outside 30-45"), ({"recheck_c": float("nan")}, "finite"),
                        ({"user": ""}, "user")]:
        args = {"recheck_c": 36.8, "outcome": "admitted", "user": "dr-li", "time": T0 + 60, **kw}
        with pytest.raises(StoreError, match=message):
            store.dispose_alarm(aid, **args)
        assert store.alarm(aid).status == "open"
    for edge in (30.0, 45.0):
        _, other = fever(store, f"edge{edge}")
        assert store.dispose_alarm(other, recheck_c=edge, outcome="admitted", user="d", time=T0).recheck_c == edge
    a = store.dispose_alarm(aid, recheck_c=None, outcome="false_alarm", user="dr-li", time=T0 + 60)
    assert (a.acknowledged_by, a.acknowledged_at, a.recheck_c) == ("dr-li", T0 + 60, None)


def test_alarm_refusals_and_queries(store):
    pass_id = store.record_screening(screening("p1"))
    with pytest.raises(StoreError, match="not FEVER"):
        store.open_alarm(pass_id, "north-1", T0)
    with pytest.raises(NotFound):
        store.open_alarm(9999, "north-1", T0)
    _, a1 = fever(store, "f1", "north-1", T0)
    with pytest.raises(StoreError, match="is from gate 'north-1'"):
        store.open_alarm(store.alarm(a1).screening_id, "south-2", T0)
    _, a2 = fever(store, "f2", "south-2", T0 + 100)
    _, a3 = fever(store, "f3", "north-1", T0 + 200)
    store.acknowledge_alarm(a2, "g", T0 + 101)
    store.dispose_alarm(a3, recheck_c=36.5, outcome="admitted", user="d", time=T0 + 201)
    assert [a.id for a in store.alarms()] == [a1, a2, a3]
    assert [a.id for a in store.alarms(status="open")] == [a1]
    assert [a.id for a in store.alarms(status="acknowledged")] == [a2]
    assert [a.id for a in store.alarms(gate="north-1")] == [a1, a3]
    assert [a.id for a in store.alarms(since=T0 + 50, until=T0 + 200)] == [a2]
    with pytest.raises(NotFound):
        store.acknowledge_alarm(9999, "g", T0)
    with pytest.raises(NotFound):
        store.dispose_alarm(9999, recheck_c=None, outcome="admitted", user="d", time=T0)
    with pytest.raises(StoreError, match="alarm status"):
        store.alarms(status="closed")
    assert store.alarm(9999) is None


# ---------------------------------------------------------------- door actions and counters

def door(counter: int, action: str = "open", t: float = T0, **kw) -> DoorAction:
    fields = dict(gate="north-1", time=t, action=action, arg=3000 if action == "open" else 1, counter=counter,
                  cause="decision", screening_id=None, user=None, reason=None)
    fields.update(kw)
    return DoorAction(**fields)


def test_door_actions_and_acks(store):
    sid = store.record_screening(screening("p1"))
    i1 = store.record_door_action(door(1, screening_id=sid))
    i2 = store.record_door_action(door(2, "indicate", t=T0 + 1, screening_id=sid))
    i3 = store.record_door_action(door(3, t=T0 + 2, cause="manual", user="guard1", reason="visitor with escort"))
    assert store.record_door_action(door(1, screening_id=sid)) == i1  # the same command again: same row
    with pytest.raises(StoreError, match="counter 1 was already used"):
        store.record_door_action(door(1, "lock", arg=0))
    with pytest.raises(StoreError, match="needs a reason"):
        store.record_door_action(door(9, cause="manual", user="guard1", reason=" "))
    with pytest.raises(StoreError, match="cause"):
        store.record_door_action(door(9, cause="whim"))
    assert store.record_door_ack("north-1", 1, True, "", 3000, T0 + 0.2) is True
    assert store.record_door_ack("north-1", 1, False, "replayed", 0, T0 + 0.9) is True  # redelivered: kept first
    assert store.record_door_ack("north-1", 2, False, "stale", 0, T0 + 1.3) is True
    assert store.record_door_ack("north-1", 77, True, "", 3000, T0) is False
    assert store.record_door_ack("south-2", 1, True, "", 3000, T0) is False
    got = store.door_actions()
    assert [a.id for a in got] == [i1, i2, i3]
    assert (got[0].ack_ok, got[0].ack_reason, got[0].applied_ms, got[0].acked_at) == (True, "", 3000, T0 + 0.2)
    assert (got[1].ack_ok, got[1].ack_reason) == (False, "stale")
    assert (got[2].cause, got[2].user, got[2].reason, got[2].ack_ok, got[2].acked_at) == (
        "manual", "guard1", "visitor with escort", None, None)
    assert got[0] == door(1, screening_id=sid, id=i1, ack_ok=True, ack_reason="", applied_ms=3000,
                          acked_at=T0 + 0.2)
    assert [a.id for a in store.door_actions(since=T0 + 1)] == [i2, i3]
    assert [a.id for a in store.door_actions(gate="south-2")] == []
    assert [a.id for a in store.unacked_door_actions(sent_before=T0 + 10)] == [i3]
    assert store.unacked_door_actions(sent_before=T0 + 2) == []  # sent at T0 + 2 exactly: not before


def test_counters_start_at_one_and_grow_across_reopen(store_url):
    with open_store(store_url) as s:
        assert s.reserve_counters("north-1", 1) == 1
        assert s.reserve_counters("north-1", 10) == 2
        assert s.reserve_counters("south-2", 5) == 1  # per gate
        assert s.reserve_counters("north-1", 1) == 12
        with pytest.raises(StoreError):
            s.reserve_counters("north-1", 0)
    with open_store(store_url) as s:
        assert s.reserve_counters("north-1", 3) == 13
        assert s.reserve_counters("south-2", 1) == 6


def test_counters_from_two_threads_never_overlap(store_url):
    shared = open_store(store_url)
    other = open_store(store_url)  # a second connection, as a second process would have
    blocks: list[tuple[int, int]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(s: Store, n: int) -> None:
        try:
            for _ in range(40):
                first = s.reserve_counters("north-1", n)
                with lock:
                    blocks.append((first, n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(shared, 3)), threading.Thread(target=worker, args=(shared, 1)),
               threading.Thread(target=worker, args=(other, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()
    other.close()
    assert not errors
    used = sorted(c for first, n in blocks for c in range(first, first + n))
    assert used == list(range(1, 1 + 40 * (3 + 1 + 2)))  # every counter exactly once, none skipped


# ---------------------------------------------------------------- alerts, calibrations

def test_alerts(store):
    a1 = store.record_alert("north-1", T0, "missing_ack", "no ack for open #12 within 2 s")
    a2 = store.record_alert(None, T0 + 1, "store_full", "disk 98% full")
    a3 = store.record_alert("south-2", T0 + 2, "gate_offline", "no status for 60 s")
    assert [a.id for a in store.alerts()] == [a1, a2, a3]
    store.resolve_alert(a1, T0 + 5)
    store.resolve_alert(a1, T0 + 9)  # the first resolution stands
    assert [a.id for a in store.alerts()] == [a2, a3]
    everything = store.alerts(open_only=False)
    assert [(a.id, a.resolved_at) for a in everything] == [(a1, T0 + 5), (a2, None), (a3, None)]
    assert (everything[1].gate, everything[1].kind, everything[1].detail) == (None, "store_full", "disk 98% full")
    assert [a.id for a in store.alerts(gate="south-2")] == [a3]
    assert [a.id for a in store.alerts(open_only=False, kind="missing_ack")] == [a1]
    with pytest.raises(NotFound):
        store.resolve_alert(9999, T0)


def test_calibrations(store):
    assert store.latest_calibration("north-1") is None
    store.record_calibration("north-1", T0, 0.35, 0.12, 40, {"ambient_c": 21.5, "source": "blackbody"})
    c2 = store.record_calibration("north-1", T0 + 86400, 0.41, 0.10, 55, {"ambient_c": 19.0})
    store.record_calibration("south-2", T0 + 2 * 86400, -0.2, 0.2, 30, {})
    latest = store.latest_calibration("north-1")
    assert (latest.id, latest.offset_c, latest.residual_sd_c, latest.samples, latest.details) == (
        c2, 0.41, 0.10, 55, {"ambient_c": 19.0})
    assert [c.gate for c in store.calibrations()] == ["north-1", "north-1", "south-2"]
    assert len(store.calibrations("north-1")) == 2
    with pytest.raises(StoreError):
        store.record_calibration("north-1", T0, math.nan, 0.1, 1, {})


# ---------------------------------------------------------------- users and audit

def test_users(store, monkeypatch):
    monkeypatch.setattr(passwords, "LOG2_N", 10)  # the cost under test elsewhere; the code path is the same
    u = store.add_user("li.wei", "guard", "correct horse battery")
    assert (u.name, u.role) == ("li.wei", "guard")
    store.add_user("dr-zhang", "doctor", "stethoscope-42")
    assert store.verify_user("li.wei", "correct horse battery").role == "guard"
    assert store.verify_user("li.wei", "wrong") is None
    assert store.verify_user("nobody", "correct horse battery") is None
    with pytest.raises(StoreError, match="already exists"):
        store.add_user("li.wei", "admin", "x")
    with pytest.raises(StoreError, match="role must be one of"):
        store.add_user("x", "janitor", "pw")
    with pytest.raises(StoreError, match="password"):
        store.add_user("x", "guard", "")
    store.set_role("li.wei", "admin")
    store.set_password("li.wei", "new secret")
    assert store.verify_user("li.wei", "correct horse battery") is None
    assert store.verify_user("li.wei", "new secret").role == "admin"
    assert [x.name for x in store.users()] == ["dr-zhang", "li.wei"]
    store.remove_user("dr-zhang")
    assert [x.name for x in store.users()] == ["li.wei"]
    for call in (lambda: store.remove_user("dr-zhang"), lambda: store.set_role("ghost", "guard"),
                 lambda: store.set_password("ghost", "pw")):
        with pytest.raises(NotFound):
            call()
    # no plaintext anywhere in the table: only scrypt hashes
    rows = store._read("SELECT * FROM users")
    flat = " ".join(str(v) for r in rows for v in (r[k] for k in r.keys()))
    assert "new secret" not in flat and rows[0]["password_hash"].startswith("scrypt$")


def test_user_epoch_ends_sessions_across_removal_re_add_and_new_password(store, monkeypatch):
    """A console session is valid under the epoch it started with: removal, a re-add of the same name
    and a new password each move the epoch on, so sessions started before can be told dead."""
    monkeypatch.setattr(passwords, "LOG2_N", 10)
    assert store.user_session_state("li") is None
    store.add_user("li", "guard", "first secret 1")
    role, first = store.user_session_state("li")
    assert role == "guard"
    store.set_role("li", "doctor")
    assert store.user_session_state("li") == ("doctor", first)  # a role change is read live, no new epoch
    store.set_password("li", "second secret 2")
    second = store.user_session_state("li")[1]
    assert second > first
    store.remove_user("li")
    assert store.user_session_state("li") is None
    store.add_user("li", "admin", "third secret 3")  # the same name again, as admin
    role, third = store.user_session_state("li")
    assert role == "admin" and third > second  # the guard's old sessions do not come back as admin
    assert store.end_sessions("li") == third + 1 == store.user_session_state("li")[1]
    with pytest.raises(NotFound):
        store.end_sessions("ghost")


def test_door_holds_persist(store_url):
    with open_store(store_url) as s:
        assert s.door_holds() == []
        s.set_door_hold("north-1", "li", "fire drill", T0)
        s.set_door_hold("north-2", "li", "broken glass", T0 + 1)
        s.set_door_hold("north-1", "wang", "still the drill", T0 + 2)  # a second hold replaces the first
        with pytest.raises(StoreError):
            s.set_door_hold("north-1", "li", "   ", T0)
    with open_store(store_url) as s:  # what a controller restart reads back
        holds = s.door_holds()
        assert [(h.gate, h.user, h.reason, h.time) for h in holds] == [
            ("north-1", "wang", "still the drill", T0 + 2), ("north-2", "li", "broken glass", T0 + 1)]
        assert s.clear_door_hold("north-1") is True
        assert s.clear_door_hold("north-1") is False
        assert [h.gate for h in s.door_holds()] == ["north-2"]


def test_sqlite_files_are_private(tmp_path):
    """The database and its WAL and shared-memory files hold hashes, snapshots and fever records: 0600."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = tmp_path / "private.db"
        with open_store(str(path)) as s:
            s.record_screening(screening("p1"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()
                     if p.name.startswith("private.db")}
            assert set(modes) == {"private.db", "private.db-wal", "private.db-shm"}, modes
            assert set(modes.values()) == {0o600}, modes
        # A database an older version made 0644 is tightened when it is opened.
        os.chmod(path, 0o644)
        with open_store(str(path)) as s:
            s.upsert_gate("north-1")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_unknown_user_costs_one_scrypt_too(monkeypatch, tmp_path):
    with open_store(str(tmp_path / "u.db")) as s:
        s.add_user("li", "guard", "pw-1")
        seen = []
        real = passwords.verify_password
        monkeypatch.setattr(passwords, "verify_password", lambda p, h: seen.append(h) or real(p, h))
        assert s.verify_user("ghost", "pw-1") is None
        assert s.verify_user("li", "pw-1") is not None
    assert seen[0] == passwords.dummy_hash() and seen[1].startswith("scrypt$14$")
    assert passwords.verify_password("anything", passwords.dummy_hash()) is False
    assert passwords.verify_password("pw", "md5$abc") is False


def test_audit(store):
    store.record_audit("li.wei", T0, "login", {})
    store.record_audit("li.wei", T0 + 5, "door_open", {"gate": "north-1", "reason": "delivery", "ms": 3000})
    store.record_audit(None, T0 + 9, "controller_start", {"version": "0.1.0"})
    entries = store.audit()
    assert [(e.user, e.action) for e in entries] == [("li.wei", "login"), ("li.wei", "door_open"),
                                                     (None, "controller_start")]
    assert entries[1].detail == {"gate": "north-1", "reason": "delivery", "ms": 3000}
    assert [e.action for e in store.audit(since=T0 + 5)] == ["door_open", "controller_start"]
    with pytest.raises(StoreError):
        store.record_audit("x", T0, "", {})


def test_atomic_commits_a_change_and_its_audit_row_together(store):
    from controller.reporting.report_store import ReportStore

    rs = ReportStore.beside(store)
    store.upsert_gate("north-1")
    # Both writes, of two stores on one connection, commit together.
    with store.atomic():
        rs.add_warning("2026-03-02", "school:fevers_confirmed>=1/1d", "school", "示范中学", "fevers_confirmed",
                       1, 1, T0, {})
        store.record_audit("li", T0, "warning_seen", {"n": 1})
    assert len(rs.warnings("2026-03-02")) == 1 and [e.action for e in store.audit()] == ["warning_seen"]
    # An error after the first write undoes it: neither the change nor its audit row is kept.
    with pytest.raises(StoreError, match="audit action"):
        with store.atomic():
            rs.add_warning("2026-03-03", "school:fevers_confirmed>=1/1d", "school", "示范中学", "fevers_confirmed",
                           1, 1, T0, {})
            store.record_screening(screening("in-the-undone-unit", t=T0, gate="east-9"))  # a new gate's bare row
            store.record_audit("li", T0, "", {})  # refused
    assert rs.warnings("2026-03-03") == [] and len(store.audit()) == 1
    assert store.screenings(gate="east-9") == []
    # The gate row was undone with the rest: a later screening at that gate writes it again.
    store.record_screening(screening("after", t=T0 + 1, gate="east-9"))
    assert [s.gate for s in store.screenings(gate="east-9")] == ["east-9"]
    # A write refused inside the block but caught there is undone alone (a savepoint); the rest commits.
    with store.atomic():
        store.record_audit("li", T0 + 2, "kept", {})
        with pytest.raises(StoreError):
            rs.mark_absence("nobody", "2026-03-02", "晨检", "sick_with_symptoms", "li", T0)
    assert [e.action for e in store.audit()] == ["warning_seen", "kept"]
    # A closed store refuses the block.
    store.close()
    with pytest.raises(StoreError, match="closed"):
        with store.atomic():
            pass


# ---------------------------------------------------------------- threads, connection loss

def test_threads_share_one_store(store):
    def work(k: int) -> None:
        for i in range(25):
            sid = store.record_screening(screening(f"t{k}-{i}", t=T0 + i, decision="FEVER" if i % 5 == 0 else "PASS"))
            if i % 5 == 0:
                store.open_alarm(sid, "north-1", T0 + i)
            store.screenings(limit=5)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.screening_counts() == {"north-1": {"PASS": 80, "FEVER": 20}}
    assert len(store.alarms()) == 20


def test_postgres_connection_loss_recovers(pg_url):
    import psycopg

    with open_store(pg_url) as s:
        s.record_screening(screening("before"))
        pid = s._db.conn.info.backend_pid
        with psycopg.connect(pg_url.split("?")[0], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.05)
        with pytest.raises(StoreUnavailable):
            s.record_screening(screening("lost"))
        s.record_screening(screening("after"))  # reconnected
        assert [x.uid for x in s.screenings()] == ["before", "after"]


def test_sqlite_locked_by_another_writer_is_unavailable(tmp_path):
    path = tmp_path / "locked.db"
    with open_store(f"sqlite://{path}?busy_timeout_ms=100") as s:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            s.record_screening(screening("u1"))
        other.execute("ROLLBACK")
        other.close()
        s.record_screening(screening("u1"))
        assert len(s.screenings()) == 1


# ---------------------------------------------------------------- snapshots

def test_snapshot_round_trip():
    rng = np.random.default_rng(3)
    image = rng.normal(28.0, 4.0, (24, 32))
    image[5, 7] = np.nan
    image[0, 0], image[0, 1], image[0, 2] = 1e6, -np.inf, -40.0
    data = encode_snapshot(image)
    assert data[0] == 1 and len(data) < 24 * 32 * 2
    back = decode_snapshot(data)
    assert back.shape == (24, 32) and back.dtype == np.float64
    assert np.isnan(back[5, 7]) and np.isnan(back).sum() == 1
    assert (back[0, 0], back[0, 1], back[0, 2]) == (327.67, -327.67, -40.0)
    mask = ~np.isnan(image) & np.isfinite(image) & (np.abs(image) < 300)
    assert np.max(np.abs(back[mask] - image[mask])) <= 0.005 + 1e-9
    assert encode_snapshot(back) == data  # stable once quantised
    assert np.array_equal(decode_snapshot(encode_snapshot(image.astype(np.float32))), back, equal_nan=True)


@pytest.mark.parametrize("bad, message", [
    (b"", "empty"), (b"\x02" + b"x" * 10, "version 2"), (b"\x01not zlib", "corrupt"),
    (b"\x01" + __import__("zlib").compress(b"\0" * 100), "corrupt"),
    (b"\x01" + __import__("zlib").compress(b"\0" * 10_000_000), "corrupt"),
    ("text", "bytes"),
])
def test_snapshot_rejects_malformed(bad, message):
    with pytest.raises(ValueError, match=message):
        decode_snapshot(bad)


def test_snapshot_rejects_wrong_images():
    with pytest.raises(ValueError, match="24x32"):
        encode_snapshot(np.zeros((32, 24)))
    with pytest.raises(ValueError, match="dtype"):
        encode_snapshot(np.zeros((24, 32), dtype=complex))
    truncated = encode_snapshot(np.zeros((24, 32)))[:-3]
    with pytest.raises(ValueError):
        decode_snapshot(truncated)
