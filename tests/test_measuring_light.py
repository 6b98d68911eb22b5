"""The measuring light (controller/service/measuring_light.py): a real mosquitto, a virtual gate running the
firmware, the controller. The person at the mark sees both lights blink before their decision; a gate whose
firmware does not show it, or a site that turned it off, is sent none; the store keeps each one (migration 9,
SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from controller.store import open_store
from controller.store.backends import backend_for
from controller.store.errors import StoreError
from controller.store.migrations import LATEST_VERSION, MIGRATIONS
from controller.store.records import DoorAction
from controller.store.store import Store
from sim.pytest_plugin import gate_results_until

T0 = 1_780_000_000.0


def _decided(watch, gate: str, n: int, timeout: float) -> list[dict]:
    """The gate's first ``n`` PASS/FEVER results (fewer at the timeout)."""
    decided = lambda rs: [r for r in rs if r["decision"] in ("PASS", "FEVER")]  # noqa: E731
    return decided(gate_results_until(watch, gate, lambda rs: len(decided(rs)) >= n, timeout))


def _blinks(gate) -> int:
    """How many times both lights went on together and off together about 250 ms later: the measuring light's
    blink (a RETRY lights both for 2 s; a PASS or a FEVER one of them)."""
    pins = gate.board.Pin.pins
    green = pins[gate.config.pin_led_green].history
    red = set(pins[gate.config.pin_led_red].history)
    both = [(t, v) for t, v in green if (t, v) in red]  # changes of both lights at the same moment
    return sum(1 for (t0, v0), (t1, v1) in zip(both, both[1:], strict=False)
               if v0 == 1 and v1 == 0 and 200 <= t1 - t0 <= 300)


def test_the_person_at_the_mark_sees_the_measuring_light_before_each_decision(controller_service, virtual_gates,
                                                                               mqtt_watch):
    watch = mqtt_watch(["thermogate/+/result"])
    svc = controller_service(["sim-1"])
    (gate,) = virtual_gates(1, "normal_queue", seed=0)
    decided = _decided(watch, "sim-1", 3, timeout=60)
    assert len(decided) >= 3, decided
    time.sleep(1.0)  # the last acks
    actions = svc.store.door_actions(gate="sim-1")
    lights = [a for a in actions if a.cause == "measuring"]
    assert lights and all(a.action == "indicate" and a.arg == 4 and a.screening_id is None for a in lights)
    assert all(a.ack_ok for a in lights if a.acked_at is not None), lights
    assert sum(a.ack_ok is True for a in lights) >= len(decided)
    # Each decided person saw a measuring light of their own first: one sent after the previous decision's
    # indication and before theirs.
    previous = 0
    for r in decided:
        own = [a.counter for a in actions if a.screening_id == r["screening_id"] and a.action == "indicate"]
        assert own and any(previous < a.counter < own[0] for a in lights), (r, previous, own)
        previous = own[0]
    # The gate blinked both lights together (a decision that comes within the first 250 ms ends the light before
    # its first blink, so not necessarily once per person).
    assert _blinks(gate) >= 1
    assert svc.measuring.sent == len(lights)
    assert not svc.store.alerts(kind="command_refused")


def test_no_measuring_light_for_a_gate_that_does_not_show_it_or_a_site_that_turned_it_off(
        controller_service, virtual_gates, mqtt_watch, monkeypatch):
    import sim.gate

    monkeypatch.setattr(sim.gate._fw.gate, "INDICATIONS", 3)  # firmware that knows off, pass, alarm, retry
    watch = mqtt_watch(["thermogate/+/result"])
    svc = controller_service(["sim-1"])
    virtual_gates(1, "normal_queue", seed=0)
    assert _decided(watch, "sim-1", 2, timeout=60)[1:]
    assert svc.workers["sim-1"].status.indications == 3
    assert not [a for a in svc.store.door_actions(gate="sim-1") if a.cause == "measuring"]
    assert svc.measuring.sent == 0 and not svc.store.alerts(kind="command_refused")


def test_a_site_can_turn_the_measuring_light_off(controller_service, virtual_gates, mqtt_watch):
    watch = mqtt_watch(["thermogate/+/result"])
    svc = controller_service(["sim-1"], doors_extra="measuring_light = false")
    virtual_gates(1, "normal_queue", seed=0)
    assert _decided(watch, "sim-1", 2, timeout=60)[1:]
    assert svc.workers["sim-1"].status.indications == 4
    assert not [a for a in svc.store.door_actions(gate="sim-1") if a.cause == "measuring"]


def _action(counter: int, cause: str, **kw) -> DoorAction:
    return DoorAction(gate="north-1", time=T0 + counter, action="indicate", arg=4 if cause == "measuring" else 1,
                      counter=counter, cause=cause, screening_id=None, user=kw.get("user"), reason=kw.get("reason"))


def test_migration_9_keeps_every_door_action_and_takes_the_measuring_cause(empty_store_url):
    """A version-8 database with door actions: migration 9 keeps them, their ids and their acks, ids go on
    where they left off, and the cause 'measuring' is taken (by the database's own check too)."""
    old = Store(backend_for(empty_store_url), migrations=MIGRATIONS[:8])
    first = old.record_door_action(_action(1, "decision"))
    second = old.record_door_action(_action(2, "manual", user="guard1", reason="visitor"))
    assert old.record_door_ack("north-1", 1, True, "", 0, T0 + 1.2)
    with pytest.raises(StoreError, match="cause"):
        old.record_door_action(_action(3, "measuring"))
    old.close()

    with open_store(empty_store_url) as store:
        assert store.migrations_applied == [9] and store.schema_version() == LATEST_VERSION
        kept = store.door_actions()
        assert [(a.id, a.counter, a.cause, a.ack_ok) for a in kept] == [(first, 1, "decision", True),
                                                                         (second, 2, "manual", None)]
        light = store.record_door_action(_action(3, "measuring"))
        assert light > second and store.door_actions()[-1].cause == "measuring"
        assert store.record_door_ack("north-1", 3, True, "", 0, T0 + 3.1)
        assert [a.id for a in store.unacked_door_actions(sent_before=T0 + 10)] == [second]

        def raw(tx):  # past the store's own check: the table's CHECK still refuses an unknown cause
            tx.run("INSERT INTO door_actions (gate, time, action, arg, counter, cause) "
                   "VALUES ('north-1', ?, 'indicate', 1, 9, 'whim')", (T0,))

        with pytest.raises(Exception, match="(?i)check"):
            store._write(raw)
