"""The credential readers under the real MicroPython (the WebAssembly port on node): the same firmware
files and the same fake UART, scanner and PN532 as tests/test_credential_firmware.py. What the gate sends
is decoded by the controller's own decoder, which checks the tag. The RAM figures of docs/firmware.md for
the readers come from here (allocation per idle poll and per code read)."""

from __future__ import annotations

import json
from pathlib import Path

from controller.protocol.credential import ReplayGuard, decode
from controller.protocol.mac import sensor_key
from firmware_env import FAKES, FIRMWARE, config_dict
from micropython_harness import run_micropython

KEY = bytes(range(7, 39))
KS = sensor_key(KEY)
SCENARIO_DIR = Path(__file__).resolve().parent / "mpscenarios"


def _run(script: str) -> dict:
    out = run_micropython(script, [FIRMWARE, FAKES], timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, out
    return json.loads(lines[-1][len("RESULT "):])


def test_drivers_and_their_memory_under_micropython():
    """tests/mpscenarios/reader_probe.py: what the drivers read, and what they allocate (`make bench` prints
    the same figures)."""
    cfg = config_dict("west-3", KEY.hex(), status_interval_s=60, qr_scanner={"uart": 2, "rx": 16, "tx": 17})
    out = run_micropython(f"import reader_probe\nreader_probe.main({json.dumps(cfg)!r})\n",
                          [FIRMWARE, FAKES, SCENARIO_DIR], timeout=300)
    result = json.loads([x for x in out.splitlines() if x.startswith("RESULT ")][-1][len("RESULT "):])
    assert result["codes"][:3] == ["S-2024-0131", "https://school.example/p?id=3", "Z" * 256]
    assert result["too_long"] == 1 and result["garbage"] == 1 and result["qr_read"] == 100
    assert result["uids"] and set(result["uids"]) == {"04A1B2C3D4E5F6"} and result["pn_errors"] == 0
    assert result["cards"] == 50 and result["sent"] == 5
    print(f"MicroPython: QR scanner {result['qr_idle']} bytes per 1,000 idle polls, {result['qr_per_code']:.0f} "
          f"per code read; PN532 {result['pn_per_poll']:.0f} per look for a card; the readers' objects "
          f"{result['readers_built']} bytes; a credential event (JSON and tag) {result['per_event']:.0f}, a "
          f"debounced repeat {result['per_repeat']:.0f}; gate.step() idle with a scanner {result['step_idle']} "
          f"per 500 steps, {result['per_credential']:.0f} per credential sent")
    # The drivers allocate nothing, idle or reading; the frame loop with a reader fitted allocates nothing
    # while no code comes; a credential costs its JSON, tag and publish, once.
    assert result["qr_idle"] == 0 and result["qr_per_code"] == 0 and result["pn_per_poll"] == 0
    assert result["per_repeat"] == 0 and result["step_idle"] == 0
    assert 0 < result["per_event"] <= result["per_credential"] < 4000


def test_gate_with_readers_under_micropython():
    cfg = config_dict("west-3", KEY.hex(), status_interval_s=60, qr_scanner={"uart": 2, "rx": 16, "tx": 17},
                      card_reader={"uart": 1, "rx": 18, "tx": 19})
    plain = config_dict("west-3", KEY.hex(), status_interval_s=60)
    script = f"KEY = bytes({list(KEY)})\nCFG = {json.dumps(cfg)!r}\nPLAIN = {json.dumps(plain)!r}\n" + """
import gc, json, sys
import machine, network, fakeclock, fakenet, fake_mlx90640, fake_uart, fake_pn532
import config, app

def build(cfg_text, scanner, pn):
    clock = fakeclock.FakeClock(1000)
    machine.clock = clock
    machine.devices.clear(); machine.uarts.clear(); machine.Pin.pins.clear()
    machine.devices[0x33] = fake_mlx90640.FakeMLX90640([0] * 832)
    machine.uarts[2] = scanner
    machine.uarts[1] = pn
    broker = fakenet.FakeBroker()
    wlan = network.WLAN(); wlan.up = True
    gc.collect(); gc.disable()
    a = gc.mem_alloc()
    gate = app.build(config.Config(json.loads(cfg_text)), clock=clock, wlan=wlan, open_socket=broker.open_socket,
                     random_bits=lambda n: 0x2A5, reboot=lambda: None, heap_free=lambda: 0)
    built = gc.mem_alloc() - a
    gc.enable()
    return gate, clock, broker, built

def idle_alloc(gate, clock, steps):
    gc.collect(); gc.disable()
    a = gc.mem_alloc()
    for _ in range(steps):
        gate.step(); clock.advance(10)
    n = gc.mem_alloc() - a
    gc.enable()
    return n

scanner, pn = fake_uart.FakeQRScanner(), fake_pn532.FakePN532()
gate, clock, broker, built = build(CFG, scanner, pn)
for _ in range(100):
    gate.step(); clock.advance(10)
# The frame loop with both readers fitted, no code shown: the sensor is not answering, so a step is the
# link's poll, the readers' polls (the PN532 sends and parses a look every 200 ms) and the timers.
pn.card = None
fake_pn = idle_alloc(gate, clock, 500)  # includes the fake PN532's own parsing
pn.silent = True  # the fake stops allocating; the driver times out and retries, as with a reader unplugged
idle_silent = idle_alloc(gate, clock, 500)
pn.silent = False
pn.awake = False
for _ in range(200):
    gate.step(); clock.advance(10)
# Codes shown: each is one credential message
gc.collect(); gc.disable()
a = gc.mem_alloc()
texts = ["S-2024-0131", "S-2024-0131", "V \\"1\\" \\\\ 2", "S-2024-0777"]
for t, steps in zip(texts, (5, 300, 300, 300)):  # the second 50 ms after the first: the same event
    scanner.scan(t)
    for _ in range(steps):
        gate.step(); clock.advance(10)
per_code = (gc.mem_alloc() - a) / 3
steps_per_code = 905 / 3
gc.enable()
pn.card = bytes([0x11, 0x22, 0x33, 0x44])
for _ in range(300):
    gate.step(); clock.advance(10)
sent = [p.decode() for p in broker.take(b"thermogate/west-3/credential")]
status = gate.status_message().decode()
plain_gate, pclock, _, plain_built = build(PLAIN, None, None)
for _ in range(100):
    plain_gate.step(); pclock.advance(10)
idle_plain = idle_alloc(plain_gate, pclock, 500)  # the gate without readers, and the fakes, allocate this
print("RESULT " + json.dumps({"impl": sys.implementation.name, "sent": sent, "status": status,
      "built": built, "plain_built": plain_built, "idle_plain": idle_plain, "steps_per_code": steps_per_code,
      "idle_fake_pn": fake_pn, "idle_silent": idle_silent,
      "per_code": per_code}))
"""
    result = _run(script)
    assert result["impl"] == "micropython"
    replays = ReplayGuard()
    got = [decode(p.encode(), KS, "west-3", replays) for p in result["sent"]]
    assert [(c.number, c.kind, c.text) for c in got] == [
        (1, "qr", "S-2024-0131"), (2, "qr", 'V "1" \\ 2'), (3, "qr", "S-2024-0777"), (4, "card", "11223344")]
    assert all(c.boot_id == 0x2A5 for c in got)
    counts = json.loads(result["status"])["credentials"]
    assert counts["sent"] == 4 and counts["dropped"] == 0 and counts["garbage"] == 0
    readers_built = result["built"] - result["plain_built"]
    print(f"MicroPython: the two readers add {readers_built} bytes to building the gate (the fake UARTs' "
          f"1 kB rings included); 500 idle steps allocate {result['idle_silent']} bytes with both readers "
          f"(PN532 silent), {result['idle_plain']} without readers (both: the fake clock's own), "
          f"{result['idle_fake_pn']} with the fake PN532 answering (its own parsing included)")
    # The readers add nothing to an idle step.
    assert result["idle_silent"] == result["idle_plain"]
