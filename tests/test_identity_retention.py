"""Retention per record kind: the [retention] table, and the purge on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from controller.identity import retention, visitors
from controller.identity.people_store import open_people_store
from controller.identity.records import Credential, Person
from controller.identity.retention import DAY_S, Retention, RetentionError
from controller.store import DoorAction, Screening, open_store

NOW = 1_780_000_000.0
KEY = bytes(32)


@pytest.fixture
def url(store_url):  # noqa: F811 (the fixture imported above: SQLite, then PostgreSQL)
    return store_url


def test_the_retention_table():
    assert retention.from_table({}) == Retention(screenings=0, snapshots=30, visitors=90, audit=1095,
                                                 people_inactive=365)
    assert retention.from_table({"visitors": 30, "screenings": 730}).screenings == 730
    assert retention.from_table({}, snapshots=14).snapshots == 14  # [store] retention_days
    for table, message in [({"photos": 1}, "unknown key"), ({"visitors": -1}, "0..36500"),
                           ({"audit": 1.5}, "whole days"), ({"audit": True}, "whole days"),
                           ({"snapshots": 0}, "1 day or more"), ([], "must be a table")]:
        with pytest.raises(RetentionError, match=message):
            retention.from_table(table)
    with pytest.raises(RetentionError, match="not both"):
        retention.from_table({"snapshots": 10}, snapshots=30)


def _screening(store, uid: str, t: float, decision: str = "PASS") -> int:
    return store.record_screening(Screening(
        uid=uid, gate="north-1", time=t, decision=decision, reason="", track=1, estimate_c=36.6, face_c=34.0,
        distance_m=0.6, reduced_accuracy=False, boot=1, sequence=1))


def test_purge_by_retention(url):
    old, recent = NOW - 400 * DAY_S, NOW - 10 * DAY_S
    with open_store(url) as store, open_people_store(url) as people:
        # People: one inactive for long, one inactive recently, one active for long.
        for pid, active, t in [("gone", False, old), ("left", False, recent), ("stays", True, old)]:
            people.put_person(Person(pid, pid, "student", "初一(1)班", False, "", active=active,
                                     credentials=(Credential("qr", f"qr-{pid}"),)), t)
        s_gone = _screening(store, "a", recent)
        people.link_screening(s_gone, person_id="gone")
        # Visitors: a pass that ended 100 days ago, and one that ended yesterday.
        for start in (NOW - 100 * DAY_S - 3600, NOW - DAY_S - 3600):
            visitors.register(people, KEY, name="王芳", id_last4="0021", host="h", purpose="p", valid_from=start,
                              valid_until=start + 3600, issued_by="g", now=start)
        v_old = people.visitors()[0]
        s_visit = _screening(store, "v", recent)
        people.link_screening(s_visit, visitor_id=v_old.id)
        # Reads of files: one 4 years old, one recent.
        people.record_read("doctor", "person_show", "stays", "", NOW - 4 * 365 * DAY_S)
        people.record_read("doctor", "person_show", "stays", "", recent)
        # Screenings: old ones (one with a disposed alarm and a door command, one with an open alarm), a recent one.
        s_old = _screening(store, "old", old)
        s_fever = _screening(store, "fever", old, "FEVER")
        s_open = _screening(store, "open", old, "FEVER")
        _screening(store, "new", recent)
        store.record_door_action(DoorAction(gate="north-1", time=old, action="open", arg=3000, counter=1,
                                            cause="decision", screening_id=s_old, user=None, reason=None))
        a = store.open_alarm(s_fever, "north-1", old)
        store.dispose_alarm(a, recheck_c=36.9, outcome="false_alarm", user="doctor", time=old + 60)
        store.open_alarm(s_open, "north-1", old)

        done = retention.purge(people, Retention(screenings=365), NOW)
        assert done == {"screenings": 2, "visitors": 1, "audit": 1, "people_inactive": 1}
        assert people.person("gone") is None and people.person("left") and people.person("stays")
        assert people.credential_owner(Credential("qr", "qr-gone")) is None  # its credential went with it
        assert [v.valid_until > NOW - 2 * DAY_S for v in people.visitors()] == [True]
        assert [r.time for r in people.reads()] == [recent]
        kept = {s.uid: s for s in store.screenings()}
        assert set(kept) == {"a", "v", "open", "new"}  # the open alarm's screening stays
        assert [a.screening_id for a in store.alarms()] == [s_open]
        (door,) = store.door_actions()
        assert door.screening_id is None  # the command's row stays
        # The screenings of the people and visitors who went stay, unnamed.
        rows = people._read("SELECT uid, person_id, visitor_id FROM screenings WHERE uid IN ('a', 'v') ORDER BY uid")
        assert [(r["uid"], r["person_id"], r["visitor_id"]) for r in rows] == [("a", None, None), ("v", None, None)]
        # 0 keeps a kind for ever; running again purges nothing more.
        assert retention.purge(people, Retention(screenings=0, visitors=0, audit=0, people_inactive=0), NOW) == {}
        assert retention.purge(people, Retention(screenings=365), NOW) == {
            "screenings": 0, "visitors": 0, "audit": 0, "people_inactive": 0}


def test_controller_toml_retention_and_the_controllers_hourly_purge(tmp_path):
    from controller.service.config import ConfigError, from_dict, load_config
    from controller.service.service import ControllerService

    db = tmp_path / "thermogate.db"
    path = tmp_path / "controller.toml"
    path.write_text(f'[store]\nurl = "{db.name}"\n\n[retention]\nvisitors = 7\nsnapshots = 14\n', encoding="utf-8")
    config = load_config(path)
    assert config.retention == Retention(visitors=7, snapshots=14) and config.retention_days == 14
    assert from_dict({"store": {"retention_days": 20}}).retention.snapshots == 20
    with pytest.raises(ConfigError, match="not both"):
        from_dict({"store": {"retention_days": 20}, "retention": {"snapshots": 10}})
    with pytest.raises(ConfigError, match=r"controller.toml: unknown key\(s\) in \[retention\]: photos"):
        path.write_text('[retention]\nphotos = 1\n', encoding="utf-8")
        load_config(path)

    now = time.time()
    with open_people_store(str(db)) as people:
        for start in (now - 10 * DAY_S, now - 3600):
            visitors.register(people, KEY, name="王芳", id_last4="0021", host="h", purpose="p", valid_from=start,
                              valid_until=start + 7200, issued_by="g", now=start)
    with open_store(str(db)) as store:
        service = ControllerService(config, store=store, gates={}, http=False)
        service._tick()  # the first tick purges, then once an hour
        with open_people_store(str(db)) as people:
            assert [v.valid_until > now for v in people.visitors()] == [True]
