"""The gate's link under failure: its own MQTT client, a broker that misbehaves, a loop that stalls.

The scenarios (tests/mpscenarios/gate_scenarios.py) run the whole firmware,
its MQTT client included, against a byte-level fake broker whose sockets raise
where a real socket would block forever. They run twice: under CPython with
only the hardware replaced, and under the real MicroPython (its WebAssembly
port on node). In every scenario the door locks again within the cap (plus one
frame), nothing hangs, nothing resets the board, and the gate ends up back in
service: connected, subscribed, sending frames and obeying a fresh command.

A last test runs a gate over real TCP against a real mosquitto, with the
controller's own signer on the other side.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from controller.protocol import decode_ack, decode_frame, decode_status, sign_command
from controller.protocol.mac import sensor_key
from firmware_env import FAKES, FIRMWARE, config_dict, firmware_modules, sensor_words
from micropython_harness import run_micropython

SCENARIO_DIR = Path(__file__).resolve().parent / "mpscenarios"
KEY = bytes(range(7, 39))
GATE = "west-3"
FRAME_MS = 125

SCENARIOS = ("pass_open_then_indicate", "burst_of_ten", "puback_never_comes", "silent_at_connect",
             "silent_at_subscribe", "silent_during_frames", "silent_during_ack", "reinit_while_command_arrives",
             "message_of_64k", "refused_subscription", "loop_stalled_mid_opening")


@pytest.fixture(scope="module")
def sensor_data():
    return sensor_words()


def check_common(name: str, r: dict) -> None:
    """What must hold in every scenario."""
    assert r["hangs"] == 0 and r["hang"] == "", (name, r)
    assert r["resets"] == 0, (name, r)
    assert r["longest_opening_ms"] <= r["cap_ms"] + FRAME_MS, (name, r)
    assert r["back_in_service"], (name, r)


def check_specific(name: str, r: dict) -> None:
    """What each scenario shows besides."""
    if name == "pass_open_then_indicate":
        assert [tuple(a) for a in r["acks"]] == [("indicate", True, 0), ("open", True, 3000), ("indicate", True, 0)]
        # measuring: both lights, blinking; then the PASS's green, steady
        assert [tuple(x) for x in r["lights"]] == [(1, 1), (0, 0), (1, 0)]
        assert r["openings"] >= 1 and r["drops"] == 0
    elif name == "burst_of_ten":
        assert r["acks"] == 10 and r["ok"] == 10 and list(r["counters"]) == list(range(1, 11)) and r["drops"] == 0
    elif name in ("puback_never_comes", "silent_at_subscribe", "silent_during_ack"):
        assert r["dropped"] >= 1  # the missing acknowledgement was noticed
    elif name == "silent_at_connect":
        assert r["unsent_while_silent"] > 0 and r["connects"] >= 1
    elif name == "silent_during_frames":
        assert r["dropped"] >= 1 and r["unsent"] > 0
        assert r["max_step_ms"] <= 1000 + 10  # the one bounded wait: a full send buffer, WRITE_BUDGET_MS
    elif name == "reinit_while_command_arrives":
        assert r["acks"] == 2 and r["reinits"] == 1 and r["eeproms"] >= 1 and r["drops"] == 0
    elif name == "message_of_64k":
        assert r["oversized"] == 1 and r["acks_for_big"] == 0 and r["drops"] == 0
    elif name == "refused_subscription":
        assert r["subscribed_while_refused"] is False and r["status_subscribed"] is False
        assert r["frames_while_refused"] >= 20  # screening goes on: frames still flow
        assert r["refusals"] == 1
    elif name == "loop_stalled_mid_opening":
        # The loop was stuck for 8 s in one call; the hardware timer still ended the 5 s opening on time.
        assert r["max_step_ms"] >= 8000 and r["timer_locks"] >= 1 and r["openings"] >= 1


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_under_cpython(name, sensor_data):
    eeprom, frames = sensor_data
    with firmware_modules():
        import sys
        sys.path.insert(0, str(SCENARIO_DIR))
        try:
            import gate_scenarios
            r = gate_scenarios.run_scenario(name, config_dict(GATE, KEY.hex()), eeprom, frames, KEY)
        finally:
            sys.path.remove(str(SCENARIO_DIR))
            sys.modules.pop("gate_scenarios", None)
    check_common(name, r)
    check_specific(name, r)


@pytest.mark.slow  # 24 s on a shared 2-core machine (make test-fast leaves it out)
def test_all_scenarios_under_micropython(sensor_data):
    eeprom, frames = sensor_data
    script = (f"EEPROM = {eeprom}\nFRAMES = {frames}\nCFG = {json.dumps(config_dict(GATE, KEY.hex()))!r}\n"
              f"KEY = bytes({list(KEY)})\n" + """
import json, sys
import gate_scenarios
out = gate_scenarios.run_all(json.loads(CFG), EEPROM, FRAMES, KEY)
print("RESULT " + json.dumps({"impl": sys.implementation.name, "scenarios": out}))
""")
    out = run_micropython(script, [FIRMWARE, FAKES, SCENARIO_DIR], timeout=600)
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    assert result["impl"] == "micropython"
    assert sorted(result["scenarios"]) == sorted(SCENARIOS)
    for name, r in result["scenarios"].items():
        check_common(name, r)
        check_specific(name, r)


def test_the_scenarios_sign_as_the_controller_does():
    """The scenarios sign commands with the firmware's HMAC; the controller's signer gives the same tag."""
    with firmware_modules() as fw:
        tag = fw.auth.Hmac(KEY).hexdigest(fw.auth.mac_message(GATE, 7, 3, "open", 3000, 12)).decode()
    assert tag == sign_command(KEY, GATE, 7, 3, "open", 3000, 12).tag


def test_a_gate_on_a_real_mosquitto_obeys_back_to_back_commands(mqtt_broker, sensor_data):
    """The firmware over real TCP (sim.netsock) against mosquitto; a paho client plays the controller:
    open and indicate back to back, five times, and every ack arrives, authenticated, with no reconnection."""
    from sim.clock import RealClock
    from sim.gate_config import gate_config
    from sim.netsock import open_socket

    eeprom, frames = sensor_data
    ks = sensor_key(KEY)
    acks: list[bytes] = []
    seen: dict[str, bytes] = {}
    ctl = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ctl")

    def on_message(client, userdata, message):
        if message.topic.endswith("/ack"):
            acks.append(bytes(message.payload))
        seen[message.topic.rsplit("/", 1)[1]] = bytes(message.payload)

    ctl.on_message = on_message
    ctl.connect(mqtt_broker.host, mqtt_broker.port)
    ctl.subscribe(f"thermogate/{GATE}/#", 1)
    ctl.loop_start()
    try:
        with firmware_modules() as fw:
            clock = RealClock()
            board = fw.machine.Board(clock)
            sensor = fw.fake_mlx90640.FakeMLX90640(eeprom)
            board.devices[0x33] = sensor
            wlan = fw.network.WLAN()
            wlan.up = True
            cfg = fw.config.Config(json.loads(json.dumps(
                gate_config(GATE, mqtt_broker.host, mqtt_broker.port, KEY, 8))))
            gate = fw.app.build(cfg, hw=board, clock=clock, wlan=wlan, open_socket=open_socket,
                                random_bits=lambda n: 77, reboot=lambda: None, heap_free=lambda: 0)
            relay = board.Pin.pins[cfg.pin_relay]
            gate.start_sensor()
            next_frame, n, counter = time.monotonic(), 0, 0
            sent_at: list[float] = []

            def step_for(seconds):
                nonlocal next_frame, n
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    if time.monotonic() >= next_frame:
                        sensor.load(frames[n % 2])
                        n += 1
                        next_frame += FRAME_MS / 1000
                    gate.step()
                    time.sleep(0.002)

            step_for(1.5)
            assert gate.link.state == 4 and gate.link.subscribed
            for _ in range(5):
                for act, arg in (("open", 800), ("indicate", 1)):
                    counter += 1
                    cmd = sign_command(KEY, GATE, gate.boot_id, counter, act, arg, gate.sequence)
                    ctl.publish(f"thermogate/{GATE}/cmd", cmd.payload(), qos=1)
                sent_at.append(time.monotonic())
                step_for(1.2)
            step_for(0.5)
            assert gate.link.drops == 0 and gate.link.connects == 1
            decoded = [decode_ack(p, ks) for p in acks]
            assert [a.counter for a in decoded] == list(range(1, 11))
            assert all(a.ok for a in decoded), decoded
            assert [a.action for a in decoded] == ["open", "indicate"] * 5
            assert decoded[-1].last == 10
            opens = [t for t, v in relay.history if v == 1]
            assert len(opens) == 5 and relay.level == 0
            assert decode_frame(seen["frame"], ks).boot_id == gate.boot_id
            assert decode_status(seen["status"], ks).online
            gate.link.client.disconnect()
    finally:
        ctl.loop_stop()
        ctl.disconnect()
