"""End to end over a real mosquitto: a virtual gate (the firmware on virtual hardware) with a QR scanner,
whose scenario's people scan a code just before stepping onto the mark. What arrives on the gate's
`credential` topic is checked with the controller's decoder; a forged and a replayed message on the same
topic are refused."""

from __future__ import annotations

import time

import pytest

from controller.protocol import ProtocolError
from controller.protocol.credential import Credential, ReplayGuard, credential_payload, decode
from controller.protocol.mac import sensor_key
from sim.gate_config import simulator_key
from sim.scenarios import SCAN_LEAD_S, scenario

GATE = "sim-1"


def codes(i: int) -> str | None:
    return None if i % 3 == 2 else f"S-2024-{i:04d}"  # every third person scans nothing


def test_scenario_scans_are_reproducible_and_leave_frames_unchanged():
    plain = scenario("normal_queue", 3)
    scanning = scenario("normal_queue", 3, credentials=codes)
    assert plain.scans(0, 1000) == []
    scans = scanning.scans(0, scanning.duration_s)
    people = [scanning.scene.person(0, i) for i in range(scanning.spec.n_people)]
    expected = [(p.arrive_s - SCAN_LEAD_S, p.id, codes(i)) for i, p in enumerate(people) if codes(i)]
    assert [(s.t, s.person, s.text) for s in scans] == sorted(expected)
    assert len(scans) == 8
    # a window split in two gives the same scans, once each
    half = scanning.duration_s / 2
    assert scanning.scans(0, half) + scanning.scans(half, scanning.duration_s) == scans
    # the next cycle: the same people's codes again, later
    again = scanning.scans(scanning.duration_s, 2 * scanning.duration_s)
    assert [s.text for s in again] == [s.text for s in scans]
    # the images do not depend on who scans
    for t in (4.0, 9.5):
        assert (plain.frame_at(t).image == scanning.frame_at(t).image).all()


def test_virtual_gate_scans_over_mosquitto(virtual_gates, mqtt_watch, mqtt_broker):
    watch = mqtt_watch(f"thermogate/{GATE}/#")
    (gate,) = virtual_gates(1, "normal_queue", seed=3, credentials=codes)
    assert gate.scanner is not None
    ks = sensor_key(simulator_key(GATE))
    replays = ReplayGuard()
    got: list[Credential] = []
    deadline = time.monotonic() + 30
    while len(got) < 2 and time.monotonic() < deadline:
        watch.wait("/credential", timeout=30, after=0)
        got = [decode(p, ks, GATE) for _t, p in watch.messages("/credential")]
        time.sleep(0.1)
    assert [(c.number, c.kind, c.text) for c in got[:2]] == [(1, "qr", "S-2024-0000"), (2, "qr", "S-2024-0001")]
    assert all(c.boot_id == gate.boot_id for c in got)
    # the gate's clock at the read: the scan came about SCAN_LEAD_S before the person stood on the mark
    assert 0 < got[1].board_ms - got[0].board_ms < 10_000
    # scanned from outside the scenario (a visitor at the gate): one message, the next number
    gate.scan("V-20261203-0042")
    watch.wait("/credential", lambda t, p: b"V-20261203-0042" in p, timeout=10)
    payloads = [p for _t, p in watch.messages("/credential")]
    visitor = decode(payloads[-1], ks, GATE)
    assert visitor.text == "V-20261203-0042" and visitor.number == len(payloads)
    for p in payloads:
        decode(p, ks, GATE, replays)

    # A forged credential (another key) and a replayed one, published on the gate's topic by someone else.
    from controller.mqtt.link import Broker, close, connect

    intruder = connect(Broker(mqtt_broker.host, mqtt_broker.port), "intruder")
    try:
        forged = credential_payload(sensor_key(bytes(32)), Credential(GATE, gate.boot_id, 99, "qr", "S-ADMIN", 1))
        before = len(payloads)
        intruder.publish(f"thermogate/{GATE}/credential", forged, qos=1).wait_for_publish(5)
        intruder.publish(f"thermogate/{GATE}/credential", payloads[0], qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while len(watch.messages("/credential")) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        close(intruder)
    arrived = [p for _t, p in watch.messages("/credential")][before:]
    reasons = []
    for p in arrived[:2]:
        with pytest.raises(ProtocolError) as err:
            decode(p, ks, GATE, replays)
        reasons.append(err.value.reason)
    assert sorted(reasons) == ["mac", "replay"]


def test_virtual_gate_card_reader_over_mosquitto(mqtt_broker, mqtt_watch):
    """A virtual gate with a PN532: a card held for 3 s is one credential, its UID in uppercase hex."""
    from sim.gate import VirtualGate
    from sim.runner import GateThread

    watch = mqtt_watch("thermogate/card-1/credential")
    gate = VirtualGate("card-1", scenario("normal_queue", 1), mqtt_broker.host, mqtt_broker.port,
                       card_reader=True)
    assert gate.scanner is None
    thread = GateThread([gate]).start()
    try:
        time.sleep(1.0)
        gate.hold_card(bytes.fromhex("04a1b2c3d4e5f6"))
        watch.wait("/credential", timeout=10)
        time.sleep(3.0)
        gate.hold_card(None)
    finally:
        thread.stop()
    ks = sensor_key(simulator_key("card-1"))
    got = [decode(p, ks, "card-1", ReplayGuard()) for _t, p in watch.messages("/credential")]
    assert [(c.number, c.kind, c.text) for c in got] == [(1, "card", "04A1B2C3D4E5F6")]
