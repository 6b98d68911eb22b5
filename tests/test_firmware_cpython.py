"""The firmware's gate loop under CPython, with only the hardware replaced:
a register-level MLX90640 on a fake I2C bus, recording pins, timers, a fake
Wi-Fi interface, a fake network whose broker speaks MQTT at the byte level
(the firmware's own MQTT client talks to it) and a clock that moves when told.
What the gate sends is decoded with the controller's own decoders, which check
its protocol-2 tags under the gate's sensor key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from controller.protocol import decode_ack, decode_eeprom, decode_frame, decode_status, sign_command
from controller.protocol.mac import sensor_key
from controller.sensor import Calibration, control_word, random_eeprom
from firmware_env import config_dict, firmware_modules, fresh_hardware

KEY = bytes(range(32))
KS = sensor_key(KEY)
GATE = "north-1"


class Rig:
    """One gate on fake hardware, plus what the controller would know of it."""

    def __init__(self, fw, **config):
        self.fw = fw
        self.clock, self.broker = fresh_hardware(fw)
        self.eeprom = random_eeprom(3)
        self.cal = Calibration.from_eeprom(self.eeprom)
        self.sensor = fw.fake_mlx90640.FakeMLX90640([int(w) for w in self.eeprom])
        fw.machine.devices[0x33] = self.sensor
        self.wlan = fw.network.WLAN()
        self.wlan.up = True
        self.reboots = 0
        cfg = fw.config.Config(config_dict(GATE, KEY.hex(), **config))
        self.cfg = cfg
        self.gate = fw.app.build(cfg, clock=self.clock, wlan=self.wlan, open_socket=self.broker.open_socket,
                                 random_bits=lambda n: 512, reboot=self._reboot, heap_free=lambda: 90000)
        self.relay = fw.machine.Pin.pins[cfg.pin_relay]
        self.counter = 0
        self.scene = np.full((24, 32), 24.0)
        self.scene[6:18, 10:22] = 35.5

    def _reboot(self):
        self.reboots += 1

    def topic(self, kind):
        return f"thermogate/{GATE}/{kind}".encode()

    def run(self, ms, step_ms=10):
        for _ in range(ms // step_ms):
            self.gate.step()
            self.clock.advance(step_ms)

    def measure(self, subpage, chess=True):
        """The sensor finishes a subpage of the scene."""
        words = self.cal.raw_from_to(self.scene, 23.0, 3.3, subpage, control_word(chess=chess, refresh_hz=8.0))
        self.sensor.load([int(w) for w in words])
        return words

    def frames(self):
        return [decode_frame(p, KS) for p in self.broker.take(self.topic("frame"))]

    def command(self, action, arg=0, *, seq=None, counter=None, key=KEY, boot=None, gate=GATE, raw=None):
        if raw is None:
            if counter is None:
                self.counter += 1
                counter = self.counter
            seq = self.gate.sequence if seq is None else seq
            boot = self.gate.boot_id if boot is None else boot
            raw = sign_command(key, gate, boot, counter, action, arg, seq).payload()
        self.broker.inbox.append((self.topic("cmd"), raw))
        self.run(20)
        acks = [decode_ack(p, KS) for p in self.broker.take(self.topic("ack"))]
        assert len(acks) == 1
        return acks[0]

    def opened(self):
        """Relay changes to the open level since boot, as (ms, value)."""
        on = 1 if self.cfg.relay_active_high else 0
        return [h for h in self.relay.history if h[1] == on]


@pytest.fixture
def rig():
    with firmware_modules() as fw:
        r = Rig(fw)
        r.gate.start_sensor()
        r.run(100)
        yield r


def test_boot_locks_the_door_first_and_publishes_retained_state(rig):
    assert rig.relay.history[0][1] == 0 and rig.opened() == []
    eeprom = decode_eeprom(rig.broker.retained[rig.topic("eeprom")], KS)
    np.testing.assert_array_equal(eeprom.words, rig.eeprom)
    assert eeprom.boot_id == rig.gate.boot_id
    status = decode_status(rig.broker.retained[rig.topic("status")], KS)
    assert status.online and status.gate_id == GATE and status.relay == "locked" and status.sensor_ok
    topic, will, retain, qos = rig.broker.last_will
    assert topic == rig.topic("status") and retain and qos == 1
    assert decode_status(will, KS).online is False
    assert (rig.topic("cmd"), 1) in rig.broker.subscriptions
    # The sensor was set to the configured rate (8 Hz = code 4) in chess mode.
    assert (rig.sensor.control >> 7) & 7 == 4 and rig.sensor.control & 0x1000


def test_subpages_reach_the_controller_intact(rig):
    sent = []
    for n in range(6):
        sent.append(rig.measure(n % 2))
        rig.run(130)
    frames = rig.frames()
    assert [f.sequence for f in frames] == [1, 2, 3, 4, 5, 6]
    assert {f.boot_id for f in frames} == {rig.gate.boot_id}
    for frame, words in zip(frames, sent, strict=True):
        np.testing.assert_array_equal(frame.words, words)
    cal = Calibration.from_eeprom(decode_eeprom(rig.broker.retained[rig.topic("eeprom")], KS).words)
    image = cal.subpage_to(frames[-1].words)
    measured = ~np.isnan(image)
    assert np.abs(image[measured] - rig.scene[measured]).max() < 0.25


def test_a_valid_open_command_opens_and_the_cap_closes(rig):
    rig.measure(0)
    rig.run(50)
    ack = rig.command("open", 60000)  # asks for a minute
    assert ack.ok and ack.applied_ms == 5000 and ack.counter == 1
    assert len(rig.opened()) == 1
    opened_at = rig.opened()[0][0]
    rig.run(6000)
    closes = [h for h in rig.relay.history if h[0] > opened_at and h[1] == 0]
    assert closes and closes[0][0] - opened_at <= 5000 + 10
    rig.measure(1)  # a fresh frame for the next decision
    rig.run(50)
    ack = rig.command("open", 0)  # 0 means the configured pulse
    assert ack.ok and ack.applied_ms == 3000


@pytest.mark.parametrize("attack, reason", [
    ("forged", "bad_tag"), ("replayed", "replayed"), ("stale", "stale"), ("future", "stale"),
    ("wrong_boot", "wrong_boot"), ("wrong_gate", "wrong_gate"), ("garbage", "malformed"),
    ("truncated", "malformed"), ("unsigned", "malformed"), ("bad_action", "bad_action"), ("bad_arg", "bad_arg"),
    ("version_1", "bad_version"), ("first_huge", "counter_jump"), ("jump", "counter_jump"),
])
def test_bad_commands_never_open_the_door(rig, attack, reason):
    rig.measure(0)
    rig.run(50)
    seq = rig.gate.sequence
    if attack == "replayed":
        good = rig.command("lock")
        assert good.ok
        ack = rig.command("open", 1000, counter=good.counter)
    elif attack == "forged":
        ack = rig.command("open", 1000, key=b"\x00" * 32)
    elif attack == "stale":
        rig.run(2500)  # the frame the decision was made on is now 2.5 s old
        ack = rig.command("open", 1000, seq=seq)
    elif attack == "future":
        ack = rig.command("open", 1000, seq=seq + 5)
    elif attack == "wrong_boot":
        ack = rig.command("open", 1000, boot=rig.gate.boot_id ^ 1)
    elif attack == "wrong_gate":
        ack = rig.command("open", 1000, gate="south-2")
    elif attack == "garbage":
        ack = rig.command("open", raw=b"\xff\xfe{not json")
    elif attack == "truncated":
        ack = rig.command("open", raw=sign_command(KEY, GATE, rig.gate.boot_id, 99, "open", 1000, seq).payload()[:-9])
    elif attack == "unsigned":
        ack = rig.command("open", raw=json.dumps({"v": 2, "gate": GATE, "act": "open", "arg": 1000}).encode())
    elif attack == "version_1":
        ack = rig.command("open", raw=sign_command(KEY, GATE, rig.gate.boot_id, 5, "open", 1000, seq, 1).payload())
    elif attack == "first_huge":  # a leaked key's counter 2**53 - 1 must not lock the gate out for the boot
        ack = rig.command("open", 1000, counter=2**53 - 1)
        assert rig.command("lock", counter=7).ok  # not spent: the next real command still works
    elif attack == "jump":
        assert rig.command("lock", counter=10).ok
        ack = rig.command("open", 1000, counter=10 + 2**24 + 1)
        assert rig.command("lock", counter=11).ok
    elif attack == "bad_action":
        cmd = sign_command(KEY, GATE, rig.gate.boot_id, 50, "open", 1000, seq)
        import hashlib
        import hmac

        from controller.protocol.commands import mac_message
        tag = hmac.new(KEY, mac_message(GATE, rig.gate.boot_id, 50, "unlock", 1000, seq), hashlib.sha256).hexdigest()
        raw = json.loads(cmd.payload())
        raw.update(act="unlock", tag=tag)
        ack = rig.command("open", raw=json.dumps(raw).encode())
    else:
        ack = rig.command("indicate", 0, counter=60)
        cmd = json.loads(sign_command(KEY, GATE, rig.gate.boot_id, 61, "indicate", 3, seq).payload())
        import hashlib
        import hmac

        from controller.protocol.commands import mac_message
        cmd.update(arg=9, tag=hmac.new(KEY, mac_message(GATE, rig.gate.boot_id, 61, "indicate", 9, seq),
                                       hashlib.sha256).hexdigest())
        ack = rig.command("indicate", raw=json.dumps(cmd).encode())
    assert not ack.ok and ack.reason == reason and ack.applied_ms == 0
    assert rig.opened() == []
    rig.run(5000)
    status = decode_status(rig.broker.retained[rig.topic("status")], KS)
    assert status.cmd_refused[reason] >= 1 and status.door_openings == 0


def test_wifi_loss_stops_nothing_and_the_gate_comes_back(rig):
    rig.measure(0)
    rig.run(200)
    rig.command("open", 4000)
    rig.wlan.up = False
    rig.run(500)
    rig.measure(1)
    rig.run(200)
    assert rig.gate.frames_unsent >= 1
    rig.run(4000)  # the door still closes on time with no network
    assert rig.relay.level == 0 and not rig.gate.door.is_open
    connects = rig.broker.connects
    rig.wlan.up = True
    rig.run(5000)
    assert rig.broker.connects == connects + 1
    assert rig.topic("eeprom") in [t for (t, p, r, q) in rig.broker.published if r]
    rig.measure(0)
    rig.run(200)
    assert rig.frames()[-1].sequence == rig.gate.sequence


def test_broker_restart_is_retried_with_backoff(rig):
    link = rig.gate.link
    rig.broker.up = False
    rig.measure(1)
    rig.run(100)  # the publish fails and drops the connection
    assert link.state != 4 and link.failures == 1
    delays = []
    for failures in range(1, 9):
        link.failures = failures
        delays.append(link.backoff_ms())
    assert delays == sorted(delays) and delays[-1] <= 60000 and delays[0] >= 1000
    link.failures = 1
    rig.run(30000)  # attempts keep failing, never raising
    assert link.failures > 1
    rig.broker.up = True
    rig.run(65000)
    assert link.state == 4 and decode_status(rig.broker.retained[rig.topic("status")], KS).mqtt_connects >= 2


def test_i2c_failure_locks_the_door_and_reinitialises_the_sensor(rig):
    rig.measure(0)
    rig.run(50)
    rig.command("open", 5000)
    assert rig.gate.door.is_open
    rig.sensor.fail_reads = 5  # a loose cable: three failed tries, then two more at re-init
    rig.measure(1)
    rig.run(50)
    assert not rig.gate.door.is_open and not rig.gate.sensor_ok
    assert rig.gate.sensor.i2c_errors >= 3
    rig.run(3000)  # re-initialised after the retry delay
    assert rig.gate.sensor_ok and rig.gate.sensor_resets == 1
    rig.measure(0)
    rig.run(100)
    flagged = [f.sequence for f in rig.frames() if f.flags & 1]  # FLAG_SENSOR_REINIT
    assert len(flagged) == 1 and flagged[0] > 1
    status = json.loads(rig.gate.status_message())
    assert status["i2c_errors"] >= 3 and status["sensor_resets"] == 1


def test_reboot_and_refresh_commands(rig):
    rig.measure(0)
    rig.run(50)
    assert rig.command("refresh", 6).ok
    rig.run(50)
    assert (rig.sensor.control >> 7) & 7 == 6
    # 64 Hz needs a faster I2C clock than the 1 MHz this board runs: refused, the rate stays.
    refused = rig.command("refresh", 7)
    assert not refused.ok and refused.reason == "bad_arg"
    rig.run(50)
    assert (rig.sensor.control >> 7) & 7 == 6
    assert rig.command("reboot").ok
    assert rig.reboots >= 1


def test_active_low_relay_is_locked_high():
    with firmware_modules() as fw:
        r = Rig(fw, pins={**config_dict()["pins"], "relay_active_high": False})
        assert r.relay.history[0][1] == 1 and r.relay.level == 1


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("hmac_key"), "hmac_key is missing"),
    (lambda d: d.update(hmac_key="zz" * 32), "64 hex"),
    (lambda d: d.update(gate_id="North 1"), "gate_id"),
    (lambda d: d["pins"].update(relay=21), "GPIO 21 twice"),
    (lambda d: d.update(refresh_hz=3), "refresh_hz"),
    (lambda d: d.update(door_pulse_ms=9000), "door_pulse_ms is 9000"),
    (lambda d: d.update(door_cap_ms=60000), "door_cap_ms"),
    (lambda d: d["mqtt"].update(port="1883"), "mqtt.port must be int"),
    (lambda d: d["wifi"].update(ssid=""), "wifi.ssid is empty"),
    (lambda d: d["pins"].update(relay_active_high=1), "relay_active_high must be bool"),
])
def test_bad_config_is_named(edit, message):
    with firmware_modules() as fw:
        d = config_dict()
        edit(d)
        with pytest.raises(fw.config.ConfigError, match=message):
            fw.config.Config(d)


def test_config_file_errors(tmp_path):
    with firmware_modules() as fw:
        with pytest.raises(fw.config.ConfigError, match="not found"):
            fw.config.load(str(tmp_path / "config.json"))
        (tmp_path / "config.json").write_text("{broken")
        with pytest.raises(fw.config.ConfigError, match="not valid JSON"):
            fw.config.load(str(tmp_path / "config.json"))
        (tmp_path / "config.json").write_text(json.dumps(config_dict()))
        assert fw.config.load(str(tmp_path / "config.json")).gate_id == "north-1"


def test_config_made_by_the_installer_tool_boots_the_firmware(tmp_path):
    """`thermogate gate config` and the board's config.py agree on the schema."""
    from controller.site import gates

    gates.set_site(tmp_path, wifi_ssid="School-IoT", wifi_password="pw", broker_host="192.168.1.10")
    gates.add_gate(tmp_path, "east-2")
    cfg_dict = gates.gate_config(tmp_path, "east-2")
    with firmware_modules() as fw:
        cfg = fw.config.Config(json.loads(json.dumps(cfg_dict)))
        assert cfg.gate_id == "east-2" and cfg.mqtt_user == "gate-east-2" and len(cfg.hmac_key) == 32
        assert cfg.door_cap_ms >= cfg.door_pulse_ms and cfg.refresh_code == 4
        assert cfg.qr_scanner is None and cfg.card_reader is None  # none fitted: the sections are left out
    gates.update_gate(tmp_path, "east-2", settings={"qr_scanner": "uart=2,rx=16,tx=17",
                                                    "card_reader": "uart=1,rx=18,tx=19,baud=57600"})
    with firmware_modules() as fw:
        cfg = fw.config.Config(json.loads(json.dumps(gates.gate_config(tmp_path, "east-2"))))
        assert cfg.qr_scanner == (2, 16, 17, 9600) and cfg.card_reader == (1, 18, 19, 57600)


def _lights(rig):
    """The green and red lights and the buzzer (the fixture's pins), after a frame the next command can name."""
    pins = rig.fw.machine.Pin.pins
    rig.measure(0)
    rig.run(50)
    return pins[25], pins[33], pins[32]


def test_indicators_show_and_clear(rig):
    green, red, buzzer = _lights(rig)
    assert rig.command("indicate", 2).ok  # alarm: red, beeping
    assert red.level == 1 and green.level == 0
    beeps = len(buzzer.history)
    rig.run(2000)
    assert len(buzzer.history) > beeps + 4  # the buzzer pulses
    rig.run(3500)
    assert red.level == 0 and buzzer.level == 0  # over after 5 s
    rig.measure(1)
    rig.run(50)
    assert rig.command("indicate", 1).ok and green.level == 1 and red.level == 0
    rig.run(2100)
    assert green.level == 0


def test_heartbeat_and_socket_timeouts(rig):
    before = len([1 for (t, p, r, q) in rig.broker.published if t == rig.topic("status")])
    for n in range(44):
        rig.measure(n % 2)
        rig.run(120)  # about 8 subpages per second
    statuses = [decode_status(p, KS) for (t, p, r, q) in rig.broker.published if t == rig.topic("status")]
    assert len(statuses) - before == 1  # one heartbeat in 5 s
    assert 7 <= statuses[-1].fps <= 9 and statuses[-1].heap_free == 90000 and statuses[-1].uptime_s >= 5
    # The socket stays non-blocking throughout: nothing ever waits on it, so nothing could hang.
    assert rig.broker.live()[0].timeout == 0 and rig.broker.hangs == 0


def test_the_measuring_light_blinks_both_lights_until_the_decision_replaces_it(rig):
    green, red, buzzer = _lights(rig)
    assert rig.command("indicate", 4).ok  # measuring: both lights blink, no sound
    assert green.level == 1 and red.level == 1
    changes = len(green.history)
    levels = set()
    for _ in range(8):
        rig.run(130)
        levels.add((green.level, red.level))
    assert levels == {(0, 0), (1, 1)} and len(green.history) >= changes + 4  # blinking, the two together
    assert buzzer.level == 0
    assert rig.command("indicate", 1).ok  # the PASS replaces it: green, steady
    rig.run(600)
    assert green.level == 1 and red.level == 0
    rig.measure(1)
    rig.run(50)
    assert rig.command("indicate", 4).ok
    rig.run(3200)  # nothing replaced it: over after 3 s
    assert green.level == 0 and red.level == 0
    status = decode_status(rig.broker.retained[rig.topic("status")], KS)
    assert status.indications == 4 and status.firmware == rig.fw.gate.FIRMWARE_VERSION


def test_the_next_persons_measuring_light_never_cuts_a_fevers_alarm_short(rig):
    green, red, buzzer = _lights(rig)
    assert rig.command("indicate", 2).ok  # FEVER: red, beeping, 5 s
    rig.run(1000)
    rig.measure(1)
    rig.run(50)
    assert rig.command("indicate", 4).ok  # the next person steps onto the mark
    beeps = len(buzzer.history)
    seen = set()
    for _ in range(20):
        rig.run(100)
        seen.add((green.level, red.level))
    assert seen == {(0, 1)} and len(buzzer.history) > beeps + 4  # the alarm goes on: red, steady, and beeping
    rig.run(2000)
    assert (green.level, red.level, buzzer.level) == (0, 0, 0)  # over 5 s after it began
