"""The firmware under a real MicroPython: the WebAssembly port on node.

The same firmware files and the same hardware fakes as the CPython tests,
but interpreted by MicroPython itself, so anything that only works on CPython
(a missing module, a str/bytes slip, an unsupported call) fails here.
Results come back as JSON on stdout and are checked with the controller's own
decoders, which verify the protocol-2 tags. The memory figures of
docs/firmware.md come from here: allocation per frame and per command, the
live heap, and the cost of the tag per frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from controller.protocol import decode_ack, decode_eeprom, decode_frame, sign_command
from controller.protocol.mac import sensor_key
from controller.sensor import Calibration, control_word, random_eeprom
from firmware_env import FAKES, FIRMWARE, config_dict
from micropython_harness import run_micropython

KEY = bytes(range(7, 39))
KS = sensor_key(KEY)
BOOT = 0x2A5  # what random_bits(32) returns in the script below


SCENARIO_DIR = Path(__file__).resolve().parent / "mpscenarios"


def _run(script: str, extra: list[Path] = ()) -> dict:
    out = run_micropython(script, [FIRMWARE, FAKES, *extra], timeout=400)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, out
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def scene():
    eeprom = random_eeprom(17)
    cal = Calibration.from_eeprom(eeprom)
    image = np.full((24, 32), 22.0)
    image[5:19, 9:23] = 36.0
    frames = [cal.raw_from_to(image, 21.0, 3.3, sp, control_word(chess=True, refresh_hz=8.0)) for sp in (0, 1)]
    return eeprom, cal, image, frames


SETUP = f"""
KEY = bytes({list(KEY)})
""" + """
import json, sys, gc, binascii
import machine, fakeclock, fake_mlx90640, fakenet
import auth, config, app
broker = fakenet.FakeBroker()
clock = fakeclock.FakeClock(1000)
machine.clock = clock
sensor = fake_mlx90640.FakeMLX90640(EEPROM)
machine.devices[0x33] = sensor
"""


def test_driver_and_encoder_bytes(scene):
    eeprom, cal, image, frames = scene
    script = f"EEPROM = {[int(w) for w in eeprom]}\nFRAMES = {[[int(w) for w in f] for f in frames]}\n" + SETUP + """
import wire
from mlx90640 import MLX90640
drv = MLX90640(machine.I2C(0, freq=1000000))
mac = auth.SensorMac(KEY)
eeprom_msg = wire.eeprom_message(7, mac)
drv.dump_eeprom(eeprom_msg.words)
eeprom_msg.seal(0, 0)
drv.configure(4, chess=True)
frame_msg = wire.frame_message(7, mac)
drv.bind(frame_msg.words)
out = []
for n, f in enumerate(FRAMES):
    sensor.load(f)
    assert drv.data_ready()
    drv.read_subpage()
    assert not drv.data_ready()
    out.append(binascii.hexlify(frame_msg.seal(n + 1, 5000 + n, 0)).decode())
# Allocation while reading and sealing 50 subpages (the frame loop's own work).
gc.collect()
gc.disable()
before = gc.mem_alloc()
for n in range(50):
    sensor.load(FRAMES[n % 2])
    drv.read_subpage()
    frame_msg.seal(100 + n, n, 0)
allocated = gc.mem_alloc() - before
gc.enable()
# The tag's share of sealing a frame: seal with the CRC and the tag, against the CRC alone.
import time
n = 200
t0 = time.ticks_us()
for i in range(n):
    frame_msg.seal(300 + i, i, 0)
t1 = time.ticks_us()
for i in range(n):
    wire.checksum(frame_msg._body)
t2 = time.ticks_us()
print("RESULT " + json.dumps({"impl": sys.implementation.name, "eeprom": binascii.hexlify(eeprom_msg.buf).decode(),
      "frames": out, "control": sensor.control, "alloc_per_frame": allocated / 50,
      "seal_us": time.ticks_diff(t1, t0) / n, "crc_us": time.ticks_diff(t2, t1) / n}))
"""
    result = _run(script)
    assert result["impl"] == "micropython"
    ee = decode_eeprom(bytes.fromhex(result["eeprom"]), KS)
    np.testing.assert_array_equal(ee.words, eeprom)
    for n, hexed in enumerate(result["frames"]):
        frame = decode_frame(bytes.fromhex(hexed), KS)
        assert frame.sequence == n + 1 and frame.boot_id == 7 and frame.board_ms == 5000 + n
        np.testing.assert_array_equal(frame.words, frames[n])
        to = cal.subpage_to(frame.words)
        assert np.nanmax(np.abs(to - image)) < 0.25
    assert (result["control"] >> 7) & 7 == 4 and result["control"] & 0x1000
    # Reading and sealing a subpage allocates the CRC's value (a long integer when above 2**30) and what
    # hashlib allocates for the tag: two SHA-256 objects and their digests. Nothing else.
    print(f"MicroPython: read + seal a subpage allocates {result['alloc_per_frame']:.0f} bytes; "
          f"seal {result['seal_us']:.0f} us of which CRC {result['crc_us']:.0f} us")
    assert result["alloc_per_frame"] <= 600, result["alloc_per_frame"]


def test_gate_commands_and_relay_timing(scene):
    eeprom, cal, image, frames = scene
    cfg = config_dict("west-3", KEY.hex())
    good = lambda ctr, act, arg, seq=1: sign_command(KEY, "west-3", BOOT, ctr, act, arg, seq).payload()  # noqa: E731
    commands = {
        "open": good(1, "open", 60000),
        "forged": sign_command(bytes(32), "west-3", BOOT, 2, "open", 1000, 1).payload(),
        "replayed": good(1, "open", 60000),
        "wrong_boot": sign_command(KEY, "west-3", BOOT + 1, 3, "open", 1000, 1).payload(),
        "stale": good(4, "open", 1000),
        "garbage": b"\x00\x01not json",
    }
    script = (f"EEPROM = {[int(w) for w in eeprom]}\nFRAME = {[int(w) for w in frames[0]]}\n"
              f"CFG = {json.dumps(cfg)!r}\nCMDS = {json.dumps({k: v.decode() for k, v in commands.items()})!r}\n"
              + SETUP + """
import network
wlan = network.WLAN()
wlan.up = True
cfg = config.Config(json.loads(CFG))
gate = app.build(cfg, clock=clock, wlan=wlan, open_socket=broker.open_socket, random_bits=lambda n: 0x2A5,
                 reboot=lambda: None, heap_free=gc.mem_free)
relay = machine.Pin.pins[cfg.pin_relay]
gate.start_sensor()
def run(ms):
    for _ in range(ms // 10):
        gate.step()
        clock.advance(10)
run(100)
sensor.load(FRAME)
run(50)
cmds = json.loads(CMDS)
acks = {}
def send(name):
    broker.inbox.append((b"thermogate/west-3/cmd", cmds[name].encode()))
    run(20)
    acks[name] = [p.decode() for p in broker.take(b"thermogate/west-3/ack")]
send("open")
opened = [h for h in relay.history if h[1] == 1]
run(6000)
for name in ("forged", "replayed", "wrong_boot"):
    send(name)
run(2500)
send("stale")
send("garbage")
frames_out = [binascii.hexlify(p).decode() for p in broker.take(b"thermogate/west-3/frame")]
print("RESULT " + json.dumps({"acks": acks, "history": relay.history, "frames": frames_out,
      "status": gate.status_message().decode()}))
""")
    result = _run(script)
    acks = {name: decode_ack(payloads[0].encode(), KS) for name, payloads in result["acks"].items()}
    assert acks["open"].ok and acks["open"].applied_ms == 5000
    for name, reason in [("forged", "bad_tag"), ("replayed", "replayed"), ("wrong_boot", "wrong_boot"),
                         ("stale", "stale"), ("garbage", "malformed")]:
        assert not acks[name].ok and acks[name].reason == reason, name
    history = result["history"]
    assert history[0][1] == 0  # locked first
    opens = [t for t, v in history if v == 1]
    closes = [t for t, v in history[1:] if v == 0]
    assert len(opens) == 1, history  # only the one valid command ever opened it
    assert 4990 <= closes[0] - opens[0] <= 5010
    frame = decode_frame(bytes.fromhex(result["frames"][0]), KS)
    assert frame.boot_id == BOOT and frame.sequence == 1
    status = json.loads(result["status"])  # its tag is checked in the CPython tests
    assert status["cmd_ok"] == 1 and status["door_openings"] == 1
    assert status["cmd_refused"]["bad_tag"] == 1 and status["cmd_refused"]["stale"] == 1


def test_memory_of_the_whole_loop(scene):
    """Allocation per frame and per command through gate.step() (sensor, tag, MQTT client, door), and what
    building the gate allocates, under MicroPython (tests/mpscenarios/firmware_probe.py; `make bench` prints
    the same figures)."""
    result = run_probe(scene)
    print(f"MicroPython: building the gate allocates {result['built']} bytes; "
          f"{result['per_frame']:.0f} bytes allocated per frame over {result['frames']} frames; "
          f"{result['per_command']:.0f} bytes per command")
    assert result["connected"] and result["frames"] >= 38 and result["hangs"] == 0 and result["acks"] == 10
    # Per frame: the CRC's long integer and hashlib's two SHA-256 objects and digests for the tag, no more.
    assert result["per_frame"] <= 480, result
    assert result["built"] < 24576, result


def run_probe(scene, seconds: int = 5) -> dict:
    eeprom, cal, image, frames = scene
    cfg = config_dict("west-3", KEY.hex(), status_interval_s=60)
    cmds = [sign_command(KEY, "west-3", BOOT, 1 + i, "indicate", 1, 0).payload().decode() for i in range(10)]
    script = (f"import firmware_probe\nfirmware_probe.main({json.dumps(cfg)!r}, {[int(w) for w in eeprom]}, "
              f"{[[int(w) for w in f] for f in frames]}, {cmds!r}, {seconds})\n")
    return _run(script, extra=[SCENARIO_DIR])
