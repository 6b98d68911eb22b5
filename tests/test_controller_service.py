"""The controller service's parts against a real broker and a real store: configuration, hostile
input on the wire, counters, acks and alerts, a broker restart, the restart guard, discovery."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from controller.protocol import sensor_key, status_payload
from controller.protocol.binary import encode_eeprom, encode_frame
from controller.protocol.commands import Ack
from controller.protocol.result import Decision
from controller.sensor.synthetic import random_eeprom
from controller.service.config import ConfigError, from_dict, load_config
from controller.service.doors import COUNTER_BLOCK, DoorCommander
from controller.service.home_assistant import discovery_messages
from controller.service.registry import GateInfo
from controller.service.service import ControllerService
from controller.store import Screening, open_store
from controller_harness import write_config
from sim.gate_config import simulator_key
from sim.pytest_plugin import wait_for_decision

KS = sensor_key(simulator_key("sim-1"))  # what the simulated gate sim-1 seals its messages with


@pytest.mark.parametrize("doc, message", [
    ({"mqt": {}}, "unknown table(s): mqt"),
    ({"mqtt": {"port": 0}}, "mqtt.port = 0: must be 1..65535"),
    ({"mqtt": {"port": "1883"}}, "mqtt.port must be int"),
    ({"mqtt": {"hots": "x"}}, "unknown key(s) in [mqtt]: hots"),
    ({"mqtt": {"password": "a", "password_file": "b"}}, "not both"),
    ({"site": {"timezone": "Mars/Olympus"}}, "not a known time zone"),
    ({"site": {"simulated_gates": ["Bad_Id"]}}, "is not a gate id"),
    ({"doors": {"open_ms": 60000}}, "doors.open_ms = 60000: must be 100..30000 ms"),
    ({"screening": {"threshold_c": 40.0}}, "screening.threshold_c = 40.0: must be 34..39 degC"),
    ({"gates": {"north-1": {"screening": {"threshold_c": 37.25}}}}, "gates.north-1"),
    ({"gates": {"north-1": {"door": 1}}}, "only a [gates.north-1.screening] table"),
    ({"store": {"retention_days": 0}}, "store.retention_days = 0"),
    ({"home_assistant": {"prefix": "ha/#"}}, "without wildcards"),
])
def test_config_errors_name_the_key(doc, message):
    with pytest.raises(ConfigError) as err:
        from_dict(doc)
    assert message in str(err.value)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[mqtt\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "missing.toml")
    good = tmp_path / "ok.toml"
    good.write_text('[store]\nurl = "x.db"\n[gates.a-1.screening]\nsite_offset_c = 0.4\nvariant = "110"\n')
    config = load_config(good)
    assert config.store_url == str(tmp_path / "x.db")  # relative to the file
    assert config.screening_for("a-1").site_offset_c == 0.4
    assert config.screening_for("a-1", "55").analysis.variant == "110"  # the gate's own table wins
    assert config.screening_for("b-2", "110").analysis.variant == "110"  # the registry's lens


def _publisher(broker):
    from controller.mqtt.link import Broker, connect

    return connect(Broker(broker.host, broker.port), f"hostile-{time.monotonic_ns()}")


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_hostile_messages_are_counted_and_nothing_crashes(controller_service, mqtt_broker, mqtt_watch, virtual_gates):
    watch = mqtt_watch(["thermogate/+/cmd", "thermogate/+/result"])
    svc = controller_service(["sim-1"])
    c = _publisher(mqtt_broker)
    eeprom = random_eeprom(np.random.default_rng(3))
    words = np.zeros(834, dtype=np.uint16)
    good_frame = encode_frame(words, boot_id=7, sequence=1, key=KS)
    bad_crc = bytearray(good_frame)
    bad_crc[-20] ^= 0xFF
    bad_magic = b"XX" + good_frame[2:]
    sends = [
        ("thermogate/sim-1/frame", good_frame),  # before any EEPROM: no_eeprom
        ("thermogate/sim-1/frame", b"short"),
        ("thermogate/sim-1/frame", bytes(bad_crc)),
        ("thermogate/sim-1/frame", bad_magic),
        ("thermogate/sim-1/eeprom", encode_eeprom(eeprom, 7, key=KS)[:-5]),
        ("thermogate/sim-1/status", b"{not json"),
        ("thermogate/sim-1/status", status_payload(KS, {"gate": "sim-1", "online": True, "boot": 7,
                                                        "pad": "x" * 2000})),
        ("thermogate/sim-1/status", status_payload(KS, {"gate": "sim-1", "online": True, "boot": 7}) + b" "),
        ("thermogate/sim-1/status", status_payload(KS, {"gate": "sim-2", "online": False, "boot": 7})),
        ("thermogate/sim-1/status", status_payload(KS, {"gate": "sim-1", "online": True, "boot": 7})),
        ("thermogate/sim-1/ack", b"[]"),
        ("thermogate/sim-1/ack", json.dumps({"v": 1, "gate": "sim-9", "ctr": 1, "ok": True, "reason": "",
                                             "act": "open", "applied_ms": 1, "seq": 1}).encode()),
        ("thermogate/Not_A_Gate/frame", good_frame),
        ("thermogate/nobody-here/frame", good_frame),
        ("thermogate/sim-1/cmd", b'{"v":1}'),  # someone else's command: not ours to act on
        ("other/topic", b"x"),
    ]
    for t, p in sends:
        c.publish(t, p, qos=1).wait_for_publish(5)
    w = svc.workers["sim-1"]
    expected = {"no_eeprom", "length", "crc", "magic", "mac_missing", "too_large", "wrong_gate", "schema",
                "version"}
    assert _wait(lambda: expected <= set(w.errors)), dict(w.errors)
    assert _wait(lambda: svc.dispatcher.unknown_gate >= 1)
    assert svc.dispatcher.unknown_gate == 1 and "nobody-here" not in svc.workers
    # the watch is another client: the one command sent above reaches it in its own time (a loaded machine)
    assert _wait(lambda: watch.messages("/cmd"))
    assert [p for _t, p in watch.messages("/cmd")] == [b'{"v":1}']  # only the one sent above: nothing signed
    # A real gate afterwards is screened as usual: nothing above broke the service.
    virtual_gates(1, "fever", seed=0)
    d = wait_for_decision(watch, "sim-1", timeout=30)
    assert d["decision"] in ("BLOCKED", "PASS", "FEVER", "RETRY")
    c.disconnect()


def test_a_broker_restart_is_survived(controller_service, mqtt_broker, mqtt_watch, virtual_gates):
    watch = mqtt_watch("thermogate/+/result")
    svc = controller_service(["sim-1"])
    virtual_gates(1, "fever", seed=0)
    assert _wait(lambda: svc.workers["sim-1"].frames > 10, 20)
    mqtt_broker.restart()
    before = svc.workers["sim-1"].frames
    assert _wait(lambda: svc.dispatcher.connections >= 2, 30)
    assert _wait(lambda: svc.workers["sim-1"].frames > before + 10, 30)  # subscriptions restored
    d = wait_for_decision(watch, "sim-1", timeout=40, after=watch.count())
    assert d["gate"] == "sim-1"
    assert svc.health()["mqtt_connected"]


class _Published(list):
    def __call__(self, topic, payload, qos=1, retain=False):
        self.append((topic, payload))


def _info(gate="g-1"):
    return GateInfo(gate, b"k" * 32)


def test_counters_never_repeat_across_restarts(tmp_path):
    url = str(tmp_path / "t.db")
    seen = []
    for _restart in range(3):
        store = open_store(url)
        doors = DoorCommander(store, _Published(), {"g-1": _info()})
        seen += [doors.send("g-1", 5, "indicate", 1, 10).counter for _ in range(3)]
        store.close()
    assert seen == sorted(set(seen))
    assert seen[3] > COUNTER_BLOCK  # a restart skips the rest of its block, never back into it


def test_acks_are_matched_and_missing_or_refused_ones_raise_alerts(tmp_path):
    store = open_store(str(tmp_path / "t.db"))
    alerts = []
    doors = DoorCommander(store, _Published(), {"g-1": _info()}, ack_timeout_s=0.5,
                          alerts=lambda g, k, d: alerts.append((g, k)))
    a = doors.send("g-1", 5, "open", 3000, 10)
    b = doors.send("g-1", 5, "open", 3000, 11)
    c = doors.send("g-1", 5, "indicate", 1, 11)
    doors.on_ack(Ack("g-1", a.counter, True, "", "open", 3000, 12))
    doors.on_ack(Ack("g-1", b.counter, False, "stale", "open", 0, 12))
    assert alerts == [("g-1", "command_refused")]
    assert doors.check_timeouts(time.monotonic() + 1.0)[0].counter == c.counter
    assert alerts[-1] == ("g-1", "missing_ack") and doors.pending == 0
    stored = {x.counter: x for x in store.door_actions(gate="g-1")}
    assert stored[a.counter].ack_ok is True and stored[a.counter].applied_ms == 3000
    assert stored[b.counter].ack_ok is False and stored[b.counter].ack_reason == "stale"
    assert stored[c.counter].ack_ok is None
    store.close()


def test_a_restart_right_after_a_decision_lets_nobody_through_twice(tmp_path, mqtt_broker):
    """The first person after a restart may be the one just let through: their PASS is recorded and
    published, but opens nothing by itself, and an alert tells the guard. The next person is normal."""
    config = load_config(write_config(tmp_path, mqtt_broker, ["sim-1", "sim-2"]))
    store = open_store(config.store_url)
    store.record_screening(Screening("u1", "sim-1", time.time() - 2, "PASS", "", 3, 36.5, 35.0, 0.5, False, 1, 9))
    store.record_screening(Screening("u2", "sim-2", time.time() - 600, "PASS", "", 3, 36.5, 35.0, 0.5, False, 1, 9))
    store.close()
    svc = ControllerService(config, http=False)
    sent = _Published()
    svc.doors.publish = sent
    svc.decisions.publish = sent
    try:
        w = svc.workers["sim-1"]
        assert w.resume_until is not None and svc.workers["sim-2"].resume_until is None
        w.boot_id, w.last_sequence = 77, 5
        svc._on_decisions(w, [Decision("sim-1", 1.0, "BLOCKED", "warming_up", 0, None, sequence=2)], time.monotonic())
        svc._on_decisions(w, [Decision("sim-1", 2.0, "PASS", "", 1, 36.4, sequence=5)], time.monotonic())
        assert svc.held == 1 and svc.alerts.is_open("sim-1", "resume_hold")
        assert len(svc.store.screenings(gate="sim-1")) == 3  # recorded all the same
        assert not [t for t, _p in sent if t.endswith("/cmd")]
        result = json.loads([p for t, p in sent if t.endswith("/result")][-1])
        assert result["decision"] == "PASS" and result["door"] == "held"
        svc._on_decisions(w, [Decision("sim-1", 9.0, "PASS", "", 2, 36.6, sequence=60)], time.monotonic())
        opens = [json.loads(p) for t, p in sent if t.endswith("/cmd") and b'"open"' in p]
        assert len(opens) == 1 and opens[0]["seq"] == 60 and w.resume_until is None
    finally:
        svc.stop()


def test_home_assistant_discovery(controller_service, mqtt_watch):
    watch = mqtt_watch("homeassistant/#")
    controller_service(["sim-1"], extra="[home_assistant]\nenabled = true\n")
    expected = {t for t, _ in discovery_messages("sim-1", "")}
    assert _wait(lambda: {t for t, _ in watch.messages("/config")} == expected, 10), watch.messages("/config")
    messages = dict(discovery_messages("sim-1", "x"))
    door = json.loads(messages["homeassistant/binary_sensor/thermogate_sim_1_door/config"])
    assert "command_topic" not in door  # shown, never commanded


def test_manual_door_actions_need_a_reason_and_are_audited(controller_service, virtual_gates, mqtt_watch):
    watch = mqtt_watch("thermogate/+/ack")
    svc = controller_service(["sim-1"])
    (gate,) = virtual_gates(1, "normal_queue", seed=0)
    assert _wait(lambda: svc.workers["sim-1"].last_sequence > 0, 20)
    with pytest.raises(ValueError, match="reason"):
        svc.manual_open("sim-1", "guard1", "  ")
    with pytest.raises(KeyError):
        svc.manual_open("sim-9", "guard1", "delivery")
    action = svc.manual_open("sim-1", "guard1", "delivery van")
    ack = json.loads(watch.wait("thermogate/sim-1/ack", timeout=10)[1])
    assert ack["ok"] and ack["ctr"] == action.counter and ack["act"] == "open"
    assert [t for t, v in gate.relay.history if v == 1]
    svc.set_lock("sim-1", True, "guard1", "incident at the gate")
    assert svc.workers["sim-1"].manual_lock["reason"] == "incident at the gate"
    svc.set_lock("sim-1", False, "guard1", "incident over")
    audit = [(e.user, e.action) for e in svc.store.audit()]
    assert ("guard1", "door_open") in audit and ("guard1", "door_lock") in audit
    assert ("guard1", "door_release") in audit
    stored = [a for a in svc.store.door_actions(gate="sim-1") if a.cause == "manual"]
    assert stored[0].reason == "delivery van" and stored[0].user == "guard1"
