"""The controller's side of credentials at the gate, piece by piece: CredentialDesk (checked, counted, tied to
the screening that follows within the window, on the gate's clock) and the door rule. A real GateWorker, a
real store with a roster; the gate's clock is set as its frames would set it. End to end over mosquitto:
tests/test_identity_gate_e2e.py."""

from __future__ import annotations

import time

import pytest

from controller.identity.passes import issue
from controller.identity.people_store import PeopleStore
from controller.identity.records import Resolution
from controller.identity.resolve import Resolver
from controller.identity.roster_import import import_roster
from controller.protocol import result as D
from controller.protocol.credential import Credential, credential_payload
from controller.protocol.mac import sensor_key
from controller.protocol.result import Decision
from controller.screening.config import ScreeningConfig
from controller.service.config import ConfigError, from_dict
from controller.service.credentials import CredentialDesk
from controller.service.door_rule import door_rule
from controller.service.gate_worker import BOARD_WRAP_MS, GateWorker
from controller.service.metrics import Metrics
from controller.service.registry import GateInfo
from controller.store import open_store

KEY = bytes(range(32))
BOOT = 0xDEADBEEF


@pytest.fixture
def people(tmp_path):
    store = open_store(str(tmp_path / "t.db"))
    p = PeopleStore.beside(store)
    import_roster(p, "id,name,role,class,credentials,active\nS1,张伟,student,初一(1)班,S1,yes\n"
                     "S2,李娜,student,初一(2)班,S2,yes\nS3,刘洋,student,初一(1)班,S3,no\n".encode(), time.time())
    yield p
    store.close()


def worker_at(board_ms: int, gate: str = "g1") -> GateWorker:
    """A gate worker whose latest frame was at board time ``board_ms`` of boot BOOT (pipeline clock = board)."""
    w = GateWorker(GateInfo(gate, KEY), ScreeningConfig(), Metrics())
    w.boot_id, w.last_board_ms, w._time_ms = BOOT, board_ms, board_ms
    return w


def read(text: str, n: int, board_ms: int, gate: str = "g1", boot: int = BOOT, key: bytes = KEY) -> bytes:
    return credential_payload(sensor_key(key), Credential(gate, boot, n, "qr", text, board_ms))


def decision(kind: str, at_ms: float, reason: str = "") -> Decision:
    return Decision("g1", at_ms / 1000.0, kind, reason, 1, 36.6 if kind in (D.PASS, D.FEVER) else None)


def test_a_read_is_tied_to_the_next_pass_within_the_window_once(people):
    desk = CredentialDesk(Resolver(people, None), window_s=10)
    w = worker_at(100_000)
    assert desk.receive(w, read("S1", 1, 99_500)).outcome == "ok"
    assert desk.take(w, decision(D.PASS, 99_000)) is None  # decided before the scan: the person before
    assert desk.take(w, decision(D.RETRY, 100_500, D.STEP_BACK)) is None  # a RETRY leaves it waiting
    tied = desk.take(w, decision(D.PASS, 101_000))
    assert tied is not None and tied.person() == {"id": "S1", "name": "张伟"}
    assert desk.take(w, decision(D.PASS, 102_000)) is None  # one read, one screening
    assert w.identity["last"]["name"] == "张伟" and w.identity["pending"] is None


def test_a_second_read_replaces_the_first_and_an_old_one_expires(people):
    desk = CredentialDesk(Resolver(people, None), window_s=10)
    w = worker_at(100_000)
    desk.receive(w, read("S1", 1, 99_000))
    desk.receive(w, read("S2", 2, 99_800))
    assert desk.take(w, decision(D.FEVER, 100_200)).person()["name"] == "李娜"
    desk.receive(w, read("S1", 3, 100_300))
    assert desk.take(w, decision(D.PASS, 110_301)) is None  # past the window: dropped
    assert w.identity["expired"] == 1 and w.identity["replaced"] == 1
    desk.receive(w, read("S1", 4, 100_400))
    w.last_board_ms = w._time_ms = 111_000
    desk.expire(w)  # by the frames' clock, with no decision at all
    assert w.identity["expired"] == 2 and w.identity["pending"] is None


def test_bad_reads_are_counted_and_change_nothing(people):
    metrics = Metrics()
    desk = CredentialDesk(Resolver(people, None), window_s=10, metrics=metrics)
    w = worker_at(100_000)
    good = read("S1", 5, 99_900)
    bad = [b"", b"{}", b"\xff" * 40, b"x" * 5000, read("S1", 6, 99_900, key=bytes(32)),  # forged
           read("S1", 7, 99_900, gate="g2"),  # naming another gate than its topic (same key)
           read("S1", 8, 80_000),  # 20 s before the latest frame: stale
           read("S1", 9, 99_900, boot=1),  # another boot than the frames'
           read("S1", 10, 100_000 + 6_000)]  # from the future
    for payload in bad:
        assert desk.receive(w, payload) is None
    assert desk.receive(w, good) is not None
    assert desk.receive(w, good) is None  # the same message again: a replay
    refused = w.identity["refused"]
    assert refused == {"mac_missing": 3, "too_long": 1, "mac": 1, "wrong_gate": 1, "stale": 3, "replay": 1}, refused
    assert sum(v for k, v in w.errors.items() if k.startswith("credential_")) == 10
    assert w.identity["accepted"] == 1
    text = metrics.render().decode()
    assert 'thermogate_credentials_total{gate="g1",result="stale"} 3.0' in text
    assert 'thermogate_credentials_total{gate="g1",result="accepted"} 1.0' in text


def test_a_restart_of_the_gate_drops_the_waiting_read(people):
    desk = CredentialDesk(Resolver(people, None), window_s=10)
    w = worker_at(100_000)
    desk.receive(w, read("S1", 1, 99_900))
    w.boot_id, w.last_board_ms, w._time_ms = BOOT + 1, 95_000, 100_500  # a new boot: its clock is not the old one
    assert desk.take(w, decision(D.PASS, 100_500)) is None
    assert w.identity["expired"] == 1 and w.identity["pending"] is None


def test_the_gate_clock_wraps(people):
    desk = CredentialDesk(Resolver(people, None), window_s=10)
    w = worker_at(500)  # just after the board's 2^30 ms wrap
    w._time_ms = 5_000_000
    got = desk.receive(w, read("S1", 1, BOARD_WRAP_MS - 1_500))  # read 2 s before the latest frame
    assert got is not None and got.scan_ms == 5_000_000 - 2_000


def test_refusals_and_visitor_passes_resolve(people, tmp_path):
    key = bytes(32)
    resolver = Resolver(people, key)
    desk = CredentialDesk(resolver, window_s=10)
    w = worker_at(100_000)
    assert desk.receive(w, read("S3", 1, 99_900)).outcome == "inactive"
    assert desk.receive(w, read("NOBODY", 2, 99_900)).outcome == "unknown"
    assert desk.receive(w, read(issue(bytes(range(32)), "0011223344556677", 0, 2**31), 3, 99_900)).outcome == "forged"
    assert w.identity["outcomes"] == {"inactive": 1, "unknown": 1, "forged": 1}


def test_an_unreadable_store_counts_as_a_refusal(people):
    class Broken(Resolver):
        def resolve(self, text, kind, at):
            raise OSError("disk gone")

    desk = CredentialDesk(Broken(people, None), window_s=10)
    got = desk.receive(worker_at(100_000), read("S1", 1, 99_900))
    assert got.resolution is None and got.outcome == "store" and got.person() is None


def test_door_rule():
    pass_ = Decision("g", 1.0, D.PASS, "", 1, 36.6)
    ok = Resolution("qr", None)
    refused = Resolution("qr", "expired")
    assert door_rule(pass_, ok, require_identity=True) is pass_
    for r in (None, refused):
        kept = door_rule(pass_, r, require_identity=True)
        assert (kept.decision, kept.reason, kept.estimate_c) == (D.RETRY, D.REGISTER_AT_GATEHOUSE, 36.6)
        assert door_rule(pass_, r, require_identity=False) is pass_
    held = door_rule(pass_, ok, require_identity=False, hold="see_school_doctor")
    assert (held.decision, held.reason) == (D.RETRY, D.SEE_SCHOOL_DOCTOR)
    for other in (D.FEVER, D.RETRY, D.BLOCKED):  # only a PASS is ever changed: a door is never opened by it
        d = Decision("g", 1.0, other, "", 1, None)
        assert door_rule(d, None, require_identity=True, hold="see_school_doctor") is d


def test_a_person_whose_cases_cannot_be_read_is_not_let_in():
    """A person sent home must not walk in because the cases could not be read: the door stays shut."""
    from types import SimpleNamespace

    from controller.service.service import ControllerService

    def unreadable(person_id, at):
        raise OSError("database gone")

    tied = SimpleNamespace(resolution=SimpleNamespace(person=SimpleNamespace(id="S1")))
    hold = ControllerService._hold(SimpleNamespace(holds=unreadable), tied)
    assert hold == D.REGISTER_AT_GATEHOUSE
    kept = door_rule(Decision("g", 1.0, D.PASS, "", 1, 36.6), Resolution("qr", None), require_identity=False,
                     hold=hold)
    assert (kept.decision, kept.reason) == (D.RETRY, D.REGISTER_AT_GATEHOUSE)
    readable = ControllerService._hold(SimpleNamespace(holds=lambda person_id, at: None), tied)
    assert readable is None


def test_config():
    c = from_dict({"site": {"require_identity": True, "identity_window_s": 4},
                   "classes": {"初一(1)班": {"teacher": "李老师", "phone": "138 0013 8001"}}})
    assert (c.require_identity, c.identity_window_s) == (True, 4.0)
    assert c.classes["初一(1)班"].to_dict() == {"name": "李老师", "phone": "138 0013 8001"}
    assert from_dict({}).require_identity is False
    for doc, words in (({"site": {"identity_window_s": 0.5}}, "identity_window_s"),
                       ({"site": {"require_identity": "yes"}}, "require_identity"),
                       ({"classes": {"初一(1)班": {"teacher": "李老师", "phone": "12"}}}, "phone"),
                       ({"classes": {"初一(1)班": {"teacher": "李老师", "mobile": "13800138000"}}}, "mobile"),
                       ({"classes": {"初一(1)班": "李老师"}}, "teacher and phone")):
        with pytest.raises(ConfigError, match=words):
            from_dict(doc)
