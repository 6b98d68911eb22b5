"""Protocol version 2 on the controller, over a real broker: sensor data is believed only with the gate's
tag. Forged EEPROMs, frames, statuses and acks are refused and counted and change nothing; a replayed
older frame is refused; version 1 is refused unless the site allows it during an upgrade (then counted and
alerted, and commands go out as version 1); a gate's counter is resynchronised after someone else's
commands; a changed EEPROM raises one alert per change and few log lines."""

from __future__ import annotations

import json
import logging
import time

import pytest

from controller.protocol import (
    ack_payload,
    encode_eeprom,
    encode_frame,
    sensor_key,
    status_payload,
)
from controller.protocol.commands import Ack
from controller.protocol.jsonmsg import seal
from controller.screening.config import ScreeningConfig
from controller.service.doors import COUNTER_BLOCK, DoorCommander
from controller.service.gate_worker import GateWorker
from controller.service.registry import GateInfo
from controller.store import open_store
from sim.gate_config import simulator_key
from sim.synth import scenario_recording

GATE = "sim-1"
KS = sensor_key(simulator_key(GATE))
WRONG = sensor_key(simulator_key("sim-2"))  # another gate's key: as good as any attacker's


@pytest.fixture(scope="module")
def recording():
    return scenario_recording("normal_queue", 3.0, gate_id=GATE)


def _words(recording):
    return recording.eeprom_message().words, [f.message.words for f in recording.frames()]


def _publisher(broker):
    from controller.mqtt.link import Broker, connect

    return connect(Broker(broker.host, broker.port), f"test-pub-{time.monotonic_ns()}")


def _send(client, kind, payload, retain=False):
    client.publish(f"thermogate/{GATE}/{kind}", payload, qos=1, retain=retain).wait_for_publish(5)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _status(online=True, boot=7):
    if not online:
        return {"gate": GATE, "online": False, "boot": boot}
    return {"gate": GATE, "online": True, "fw": "t", "boot": boot, "uptime_s": 1, "rssi": -50, "heap_free": 1,
            "frames": 0, "frames_unsent": 0, "fps": 8.0, "refresh_hz": 8, "sensor_ok": True, "i2c_errors": 0,
            "sensor_resets": 0, "relay": "locked", "door_openings": 0, "cmd_ok": 0, "cmd_refused": {},
            "mqtt_connects": 1}


def test_forged_sensor_data_is_refused_and_never_reaches_the_pipeline(controller_service, mqtt_broker, recording):
    svc = controller_service([GATE])
    w = svc.workers[GATE]
    c = _publisher(mqtt_broker)
    eeprom, frames = _words(recording)
    forged_words = eeprom.copy()
    forged_words[0x10:0x20] ^= 0x0101  # what an attacker wants: other calibration, a right CRC
    # Forged EEPROMs first, retained as an attacker would leave them: none builds a pipeline.
    no_tag = encode_eeprom(forged_words, 7, key=KS)[:-16]
    for payload in (no_tag, no_tag + bytes(16), encode_eeprom(forged_words, 7, key=WRONG),
                    encode_eeprom(forged_words, 7, key=None)):
        _send(c, "eeprom", payload, retain=True)
    assert _wait(lambda: sum(w.errors.values()) >= 4), dict(w.errors)
    assert dict(w.errors) == {"length": 1, "mac": 2, "version": 1}
    assert w.pipeline is None and w.eeprom_words is None
    # The true EEPROM builds it; frames under the wrong key, or with a right CRC and no tag, are refused.
    _send(c, "eeprom", encode_eeprom(eeprom, 7, key=KS), retain=True)
    assert _wait(lambda: w.pipeline is not None)
    assert w.eeprom_words == eeprom.tobytes()
    for i in range(4):
        _send(c, "frame", encode_frame(frames[i], 7, i + 1, 125 * i, key=WRONG))
        _send(c, "frame", encode_frame(frames[i], 7, i + 1, 125 * i, key=KS)[:-16] + bytes(16))
    _send(c, "eeprom", encode_eeprom(forged_words, 7, key=WRONG), retain=True)  # and again, now a pipeline runs
    assert _wait(lambda: w.errors["mac"] == 2 + 8 + 1), dict(w.errors)
    assert w.frames == 0 and w.last_sequence == 0 and w.boot_id is None
    assert w.eeprom_words == eeprom.tobytes() and w.recalibrations == 0
    # Forged statuses: an attacker cannot mark the gate offline (or online).
    _send(c, "status", status_payload(KS, _status()))
    assert _wait(lambda: w.online)
    for payload in (status_payload(WRONG, _status(online=False)),
                    json.dumps({"v": 2, **_status(online=False)}).encode(),
                    seal(json.dumps({"v": 2, **_status(online=False)}).encode(), KS, b"ack")):
        _send(c, "status", payload)
    assert _wait(lambda: w.errors["mac"] == 13 and w.errors["mac_missing"] == 1), dict(w.errors)
    assert w.online and not svc.alerts.is_open(GATE, "gate_offline")
    # Genuine frames after all that: accepted, in order.
    for i in range(4):
        _send(c, "frame", encode_frame(frames[i], 7, i + 1, 125 * i, key=KS))
    assert _wait(lambda: w.frames == 4 and w.last_sequence == 4)
    # Refusals are in the metrics and the gate summary, by reason.
    metrics = svc.metrics.render().decode()
    assert f'thermogate_decode_errors_total{{gate="{GATE}",reason="mac"}} 13.0' in metrics
    assert w.summary().errors["mac"] == 13 and w.summary().protocol == 2
    c.disconnect()


def test_a_replayed_older_frame_is_refused(controller_service, mqtt_broker, recording):
    """A frame the gate really sent (right tag), captured and sent again later, moves nothing back."""
    svc = controller_service([GATE])
    w = svc.workers[GATE]
    c = _publisher(mqtt_broker)
    eeprom, frames = _words(recording)
    _send(c, "eeprom", encode_eeprom(eeprom, 9, key=KS), retain=True)
    sealed = [encode_frame(frames[i], 9, i + 1, 125 * i, key=KS) for i in range(8)]
    for p in sealed[:6]:
        _send(c, "frame", p)
    assert _wait(lambda: w.last_sequence == 6)
    for p in (sealed[2], sealed[5]):
        _send(c, "frame", p)
    assert _wait(lambda: w.errors["out_of_order"] == 2), dict(w.errors)
    assert w.last_sequence == 6  # (counted as received, never pushed to the pipeline)
    # The gate restarts (a new boot id); its earlier boot's genuine frames, replayed, are refused too.
    _send(c, "frame", encode_frame(frames[0], 10, 1, 0, key=KS))
    assert _wait(lambda: w.boot_id == 10)
    pipeline = w.pipeline
    for p in (sealed[6], sealed[7]):  # never seen before, but of boot 9, which the gate has left
        _send(c, "frame", p)
    assert _wait(lambda: w.errors["old_boot"] == 2), dict(w.errors)
    assert w.boot_id == 10 and w.last_sequence == 1 and w.pipeline is pipeline
    c.disconnect()


def test_a_forged_ack_does_not_change_a_commands_recorded_outcome(controller_service, mqtt_broker, recording):
    svc = controller_service([GATE])
    w = svc.workers[GATE]
    c = _publisher(mqtt_broker)
    action = svc.doors.send(GATE, 9, "indicate", 1, 5)
    forged = {"gate": GATE, "ctr": action.counter, "ok": False, "reason": "stale", "act": "indicate",
              "applied_ms": 0, "seq": 5, "last": action.counter}
    for payload in (seal(json.dumps({"v": 2, **forged}).encode(), WRONG, b"ack"),
                    seal(json.dumps({"v": 2, **forged}).encode(), KS, b"status"),  # a status tag on an ack
                    json.dumps({"v": 1, **{k: v for k, v in forged.items() if k != "last"}}).encode()):
        _send(c, "ack", payload)
    assert _wait(lambda: w.errors["mac"] == 2 and w.errors["version"] == 1), dict(w.errors)
    stored = [a for a in svc.store.door_actions(gate=GATE) if a.counter == action.counter][0]
    assert stored.ack_ok is None and svc.doors.pending == 1
    assert not svc.alerts.is_open(GATE, "command_refused")
    # The gate's own ack is taken.
    _send(c, "ack", ack_payload(KS, GATE, action.counter, True, "", "indicate", 0, 5, action.counter))
    assert _wait(lambda: svc.doors.pending == 0)
    stored = [a for a in svc.store.door_actions(gate=GATE) if a.counter == action.counter][0]
    assert stored.ack_ok is True
    c.disconnect()


def test_version_1_is_refused_by_default(controller_service, mqtt_broker, recording):
    svc = controller_service([GATE])
    w = svc.workers[GATE]
    c = _publisher(mqtt_broker)
    eeprom, frames = _words(recording)
    _send(c, "eeprom", encode_eeprom(eeprom, 7, key=None), retain=True)
    _send(c, "frame", encode_frame(frames[0], 7, 1, key=None))
    _send(c, "status", json.dumps({"v": 1, **_status()}).encode())
    assert _wait(lambda: w.errors["version"] == 3), dict(w.errors)
    assert w.pipeline is None and not w.online and w.unauthenticated == 0
    assert not svc.alerts.is_open(GATE, "unauthenticated_sensor_data")
    c.disconnect()


def test_version_1_with_the_upgrade_flag_is_accepted_counted_and_alerted(controller_service, mqtt_broker,
                                                                         mqtt_watch, recording):
    watch = mqtt_watch(f"thermogate/{GATE}/cmd")
    svc = controller_service([GATE], site_extra="accept_protocol_v1 = true")
    assert svc.config.accept_protocol_v1
    w = svc.workers[GATE]
    c = _publisher(mqtt_broker)
    eeprom, frames = _words(recording)
    _send(c, "eeprom", encode_eeprom(eeprom, 7, key=None), retain=True)
    for i in range(3):
        _send(c, "frame", encode_frame(frames[i], 7, i + 1, 125 * i, key=None))
    _send(c, "status", json.dumps({"v": 1, **_status()}).encode())
    assert _wait(lambda: w.frames == 3 and w.online)
    assert w.unauthenticated == 5 and w.wire_version == 1
    assert svc.alerts.is_open(GATE, "unauthenticated_sensor_data")
    assert len(svc.store.alerts(gate=GATE, kind="unauthenticated_sensor_data")) == 1  # one open alert, not five
    assert f'thermogate_unauthenticated_messages_total{{gate="{GATE}"}} 5.0' in svc.metrics.render().decode()
    assert w.summary().unauthenticated == 5
    # A version-1 gate only knows version-1 commands.
    svc.manual_open(GATE, "guard", "test")
    cmd = json.loads(watch.wait("/cmd", timeout=5)[1])
    assert cmd["v"] == 1
    # Dismissed while the gate still speaks version 1: it opens again at the next such message.
    alert_id = svc.alerts.open_alerts()[0]["id"]
    assert svc.dismiss_alert(alert_id, "admin") and not svc.alerts.is_open(GATE, "unauthenticated_sensor_data")
    _send(c, "frame", encode_frame(frames[3], 7, 4, 375, key=None))
    assert _wait(lambda: svc.alerts.is_open(GATE, "unauthenticated_sensor_data"))
    # Once re-flashed, the gate's version-2 messages are checked as always, and commands follow.
    _send(c, "frame", encode_frame(frames[4], 7, 5, 500, key=KS))
    assert _wait(lambda: w.frames == 5 and w.wire_version == 2)
    _send(c, "frame", encode_frame(frames[5], 7, 6, 625, key=WRONG))
    assert _wait(lambda: w.errors["mac"] == 1)
    svc.manual_open(GATE, "guard", "test")
    assert _wait(lambda: len(watch.messages("/cmd")) == 2)
    assert json.loads(watch.messages("/cmd")[-1][1])["v"] == 2
    # A gate does not go back: version 1 from it now is a downgrade (someone replaying the untagged format),
    # refused even with the flag on, and commands stay at version 2.
    _send(c, "frame", encode_frame(frames[6], 7, 7, 750, key=None))
    _send(c, "status", json.dumps({"v": 1, **_status()}).encode())
    assert _wait(lambda: w.errors["downgrade"] == 2), dict(w.errors)
    assert w.frames == 5 and w.wire_version == 2
    c.disconnect()


def test_the_upgrade_flag_is_checked_like_every_key():
    from controller.service.config import ConfigError, from_dict

    assert from_dict({"site": {"accept_protocol_v1": True}}).accept_protocol_v1
    assert not from_dict({}).accept_protocol_v1
    with pytest.raises(ConfigError, match="site.accept_protocol_v1 must be bool"):
        from_dict({"site": {"accept_protocol_v1": "yes"}})


class _Published(list):
    def __call__(self, topic, payload, qos=1, retain=False):
        self.append((topic, payload))


def test_a_replayed_refusal_beyond_our_counter_resynchronises_it(tmp_path):
    """Someone with the gate's key sent commands up to a huge counter: our next command is refused as
    replayed with the gate's authenticated 'last'. The persisted counter moves above it, an alert says so,
    and the next command (also after a restart) is above it."""
    url = str(tmp_path / "t.db")
    store = open_store(url)
    alerts = []
    sent = _Published()
    doors = DoorCommander(store, sent, {GATE: GateInfo(GATE, simulator_key(GATE))},
                          alerts=lambda g, k, d: alerts.append((g, k)))
    a = doors.send(GATE, 5, "open", 3000, 10)
    assert a.counter == 1
    huge = 2**53 - 1 - 2**40
    doors.on_ack(Ack(GATE, a.counter, False, "replayed", "open", 0, 11, last=huge))
    assert (GATE, "counter_resync") in alerts and (GATE, "command_refused") in alerts
    b = doors.send(GATE, 5, "open", 3000, 12)
    assert b.counter == huge + 1
    assert json.loads(sent[-1][1])["ctr"] == huge + 1
    # A replayed refusal with 'last' below our next counter (a duplicate delivery) changes nothing.
    alerts.clear()
    doors.on_ack(Ack(GATE, b.counter, False, "replayed", "open", 0, 13, last=b.counter))
    assert doors.send(GATE, 5, "lock", 0, 13).counter == b.counter + 1 and (GATE, "counter_resync") not in alerts
    # An unknown command's refusal (not ours) never moves the counter; nor does a version-1 ack (no last).
    doors.on_ack(Ack(GATE, 999, False, "replayed", "open", 0, 13, last=2**53 - 2))
    c = doors.send(GATE, 5, "lock", 0, 14)
    doors.on_ack(Ack(GATE, c.counter, False, "replayed", "lock", 0, 14, last=None, version=1))
    assert doors.send(GATE, 5, "lock", 0, 14).counter == c.counter + 1 and (GATE, "counter_resync") not in alerts
    store.close()
    # Persisted: a restarted controller continues above 'last'.
    store = open_store(url)
    doors = DoorCommander(store, _Published(), {GATE: GateInfo(GATE, simulator_key(GATE))})
    assert doors.send(GATE, 5, "lock", 0, 15).counter > huge + COUNTER_BLOCK
    store.close()


def test_resync_over_mqtt_with_the_gates_sealed_ack(controller_service, mqtt_broker):
    svc = controller_service([GATE])
    c = _publisher(mqtt_broker)
    a = svc.doors.send(GATE, 9, "indicate", 1, 5)
    last = a.counter + 10**9
    _send(c, "ack", ack_payload(KS, GATE, a.counter, False, "replayed", "indicate", 0, 5, last))
    assert _wait(lambda: svc.alerts.is_open(GATE, "counter_resync"))
    assert svc.doors.send(GATE, 9, "indicate", 1, 6).counter == last + 1
    assert svc.store.alerts(gate=GATE, kind="counter_resync")
    c.disconnect()


def test_an_eeprom_change_raises_one_alert_and_few_log_lines(controller_service, mqtt_broker, recording, caplog):
    svc = controller_service([GATE])
    w = svc.workers[GATE]
    c = _publisher(mqtt_broker)
    eeprom, _frames = _words(recording)
    other = scenario_recording("normal_queue", 0.25, seed=5, gate_id=GATE).eeprom_message().words
    assert other.tobytes() != eeprom.tobytes()
    caplog.set_level(logging.WARNING, logger="thermogate.gate")
    _send(c, "eeprom", encode_eeprom(eeprom, 7, key=KS), retain=True)
    for _ in range(5):  # the same one again, as every reconnection sends it: nothing
        _send(c, "eeprom", encode_eeprom(eeprom, 7, key=KS), retain=True)
    assert _wait(lambda: w.pipeline is not None)
    time.sleep(0.3)
    assert not svc.store.alerts(gate=GATE, kind="sensor_recalibrated") and w.recalibrations == 0
    # Changed within the boot, then across a reboot, flapping: one open alert, few lines.
    for i in range(40):
        _send(c, "eeprom", encode_eeprom(other if i % 2 == 0 else eeprom, 7 if i < 20 else 8, key=KS), retain=True)
    assert _wait(lambda: w.recalibrations == 40), w.recalibrations
    assert len(svc.store.alerts(gate=GATE, kind="sensor_recalibrated", open_only=False)) == 1
    assert svc.alerts.is_open(GATE, "sensor_recalibrated")
    lines = [r for r in caplog.records if r.getMessage() == "new EEPROM: sensor recalibrated"]
    assert len(lines) == 1
    # Once a person has dealt with it, the next change raises a new alert.
    svc.dismiss_alert(svc.store.alerts(gate=GATE, kind="sensor_recalibrated")[0].id, "admin")
    _send(c, "eeprom", encode_eeprom(other, 8, key=KS), retain=True)
    assert _wait(lambda: svc.alerts.is_open(GATE, "sensor_recalibrated"))
    assert len(svc.store.alerts(gate=GATE, kind="sensor_recalibrated", open_only=False)) == 2
    c.disconnect()


def test_the_worker_alone_refuses_what_is_not_sealed_under_its_key(recording):
    """Without MQTT: the same checks where `thermogate watch` and the fuzz tests use the worker."""
    eeprom, frames = _words(recording)
    w = GateWorker(GateInfo(GATE, simulator_key(GATE)), ScreeningConfig())
    assert not w.on_eeprom(encode_eeprom(eeprom, 1, key=WRONG))
    assert w.on_eeprom(encode_eeprom(eeprom, 1, key=KS))
    assert w.on_frame(encode_frame(frames[0], 1, 1, key=WRONG)) == [] and w.frames == 0
    w.on_frame(encode_frame(frames[0], 1, 1, key=KS))
    assert w.frames == 1
    assert w.on_status(status_payload(WRONG, _status())) is None
    assert w.on_ack(ack_payload(WRONG, GATE, 1, True, "", "open", 1, 1, 1)) is None
    assert w.on_ack(ack_payload(KS, "sim-2", 1, True, "", "open", 1, 1, 1)) is None
    assert w.on_ack(ack_payload(KS, GATE, 1, True, "", "open", 1, 1, 1)).last == 1
    assert dict(w.errors) == {"mac": 4, "wrong_gate": 1}


def test_counters_are_reserved_above_a_given_counter(store_url):
    """Store.reserve_counters(above=): the resynchronisation's one write, on both backends."""
    with open_store(store_url) as s:
        assert s.reserve_counters(GATE, 10) == 1
        assert s.reserve_counters(GATE, 5, above=2**53 - 1 - 2**40) == 2**53 - 2**40
        assert s.reserve_counters(GATE, 1) == 2**53 - 2**40 + 5
        assert s.reserve_counters(GATE, 1, above=7) == 2**53 - 2**40 + 6  # never down
        assert s.reserve_counters("sim-2", 1, above=99) == 100  # a gate with no counters yet
    with open_store(store_url) as s:
        assert s.reserve_counters(GATE, 1) == 2**53 - 2**40 + 7
