"""The demo's fallback broker (amqtt in a thread): virtual gates publish through it as through mosquitto."""

from __future__ import annotations

import time

import pytest

from controller.mqtt.link import Broker, close, connect
from controller.protocol.binary import decode_eeprom, decode_frame
from controller.protocol.mac import sensor_key
from controller.protocol.status import decode_status, status_payload
from sim.broker import MosquittoBroker
from sim.embedded_broker import EmbeddedBroker, start_demo_broker
from sim.pytest_plugin import MqttWatch
from sim.runner import GateThread, make_gates
from sim.scenarios import scenario


@pytest.fixture
def embedded():
    with EmbeddedBroker() as broker:
        yield broker


def test_virtual_gates_through_the_embedded_broker(embedded):
    gates = make_gates(2, lambda i: scenario("normal_queue", i), embedded.host, embedded.port, prefix="emb")
    thread = GateThread(gates).start()
    early = MqttWatch(embedded.host, embedded.port, "thermogate/#")
    try:
        for gate in gates:
            _t, frame = early.wait(f"thermogate/{gate.gate_id}/frame", timeout=15)
            msg = decode_frame(frame, sensor_key(gate.key))
            assert msg.sequence >= 1 and msg.words.shape == (834,)
        # A subscriber that comes later still gets each gate's EEPROM and status: they are retained.
        late = MqttWatch(embedded.host, embedded.port, ["thermogate/+/eeprom", "thermogate/+/status"])
        try:
            for gate in gates:
                _t, eeprom = late.wait(f"thermogate/{gate.gate_id}/eeprom", timeout=5)
                assert (decode_eeprom(eeprom, sensor_key(gate.key)).words == gate.eeprom).all()
                _t, status = late.wait(f"thermogate/{gate.gate_id}/status", timeout=5)
                status = decode_status(status, sensor_key(gate.key))
                assert status.online and status.gate_id == gate.gate_id
            assert {r for _t, _p, r, _m in late._messages} == {True}
        finally:
            late.close()
    finally:
        early.close()
        thread.stop()


def test_last_will_when_a_client_drops(embedded):
    key = sensor_key(bytes(32))
    will = status_payload(key, {"gate": "lost-1", "online": False, "boot": 7})
    client = connect(Broker(embedded.host, embedded.port), "lost-1",
                     will=("thermogate/lost-1/status", will, 1, True))
    client.publish("thermogate/lost-1/status", b'{"online": true}', qos=1, retain=True).wait_for_publish(5)
    watch = MqttWatch(embedded.host, embedded.port, "thermogate/lost-1/status")
    try:
        watch.wait("status", lambda _t, p: p == b'{"online": true}', timeout=5)
        client.loop_stop()
        client.socket().close()  # a power cut: no DISCONNECT packet
        _t, payload = watch.wait("status", lambda _t, p: p == will, timeout=10)
        assert not decode_status(payload, key).online
    finally:
        watch.close()
    # ... and it stays retained for whoever subscribes next.
    after = MqttWatch(embedded.host, embedded.port, "thermogate/lost-1/status")
    try:
        assert after.wait("status", timeout=5)[1] == will
    finally:
        after.close()


def test_qos1_reaches_a_subscriber(embedded):
    received: list[tuple[str, bytes, int]] = []
    sub = connect(Broker(embedded.host, embedded.port), "sub", subscriptions=[("thermogate/+/cmd", 1)],
                  on_message=lambda _c, _u, m: received.append((m.topic, bytes(m.payload), m.qos)))
    pub = connect(Broker(embedded.host, embedded.port), "pub")
    try:
        for i in range(20):
            pub.publish("thermogate/g/cmd", str(i).encode(), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while len(received) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [p for _t, p, _q in received] == [str(i).encode() for i in range(20)]
        assert {q for _t, _p, q in received} == {1}
    finally:
        close(pub)
        close(sub)


def test_start_demo_broker_picks_what_is_asked(monkeypatch):
    broker = start_demo_broker(kind="embedded")
    try:
        assert isinstance(broker, EmbeddedBroker) and broker.running
        client = connect(Broker(broker.host, broker.port), "probe")
        close(client)
    finally:
        broker.close()
    assert not broker.running
    monkeypatch.setattr("sim.embedded_broker.find_mosquitto", _no_mosquitto)
    broker = start_demo_broker()
    try:
        assert isinstance(broker, EmbeddedBroker)
    finally:
        broker.close()
    broker = start_demo_broker(kind="mosquitto")
    try:
        assert isinstance(broker, MosquittoBroker) and broker.running
    finally:
        broker.close()


def _no_mosquitto() -> str:
    from sim.broker import BrokerError

    raise BrokerError("mosquitto not found")


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_retained_messages_go_only_to_matching_subscriptions(kind):
    """amqtt 0.12.1 on its own sends a connecting client the retained messages of every filter any other
    client holds (docs/broker.md); the embedded broker must behave as mosquitto does."""
    broker = start_demo_broker(kind=kind)
    try:
        pub = connect(Broker(broker.host, broker.port), "retainer")
        topics = ["thermogate/g1/status", "thermogate/g1/eeprom", "thermogate/g2/status", "other/x"]
        for t in topics:
            pub.publish(t, t.encode(), qos=1, retain=True).wait_for_publish(5)
        close(pub)
        seen = {}
        for i, filters in enumerate((["thermogate/+/eeprom"], ["other/#"], ["thermogate/g1/status"],
                                     ["thermogate/g2/#", "thermogate/+/eeprom"])):
            got: list[str] = []
            sub = connect(Broker(broker.host, broker.port), f"late-{i}", subscriptions=[(f, 1) for f in filters],
                          on_message=lambda _c, _u, m, got=got: got.append(m.topic))
            time.sleep(0.8)
            close(sub)
            seen[tuple(filters)] = sorted(got)
        assert seen == {("thermogate/+/eeprom",): ["thermogate/g1/eeprom"],
                        ("other/#",): ["other/x"],
                        ("thermogate/g1/status",): ["thermogate/g1/status"],
                        ("thermogate/g2/#", "thermogate/+/eeprom"): ["thermogate/g1/eeprom", "thermogate/g2/status"]}
    finally:
        broker.close()


def test_without_mosquitto_or_amqtt_the_demo_names_its_extra(monkeypatch):
    import sys

    from sim.broker import BrokerError

    monkeypatch.setattr("sim.embedded_broker.find_mosquitto", _no_mosquitto)
    monkeypatch.setitem(sys.modules, "amqtt", None)  # as if the [demo] extra were not installed
    with pytest.raises(BrokerError, match=r"thermogate\[demo\]"):
        start_demo_broker()
