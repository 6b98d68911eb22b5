"""The credential readers under the real MicroPython (the WebAssembly port on node): the same firmware
files and the same fake UART, scanner and PN532 as tests/test_credential_firmware.py. What the gate sends
is decoded by the controller's own decoder, which checks the tag. The RAM figures of docs/firmware.md for
the readers come from here (allocation per idle poll and per code read)."""

from __future__ import annotations

import json

from firmware_env import FAKES, FIRMWARE, config_dict
from micropython_harness import run_micropython

from controller.protocol.credential import ReplayGuard, decode
from controller.protocol.mac import sensor_key

KEY = bytes(range(7, 39))
KS = sensor_key(KEY)


def _run(script: str) -> dict:
    out = run_micropython(script, [FIRMWARE, FAKES], timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, out
    return json.loads(lines[-1][len("RESULT "):])


DRIVERS = """
import gc, json, sys
import machine, fakeclock, fake_uart, fake_pn532
import qr_scanner, card_reader
from credential import MAX_TEXT

def alloc():
    return gc.mem_alloc()

clock = fakeclock.FakeClock(1000)
machine.clock = clock

# -- the QR scanner --
port = machine.UART(2)
scanner = fake_uart.FakeQRScanner()
scanner.attach(port)
drv = qr_scanner.QRScanner(port)
codes = []
def drain(polls):
    for _ in range(polls):
        n = drv.poll()
        if n:
            codes.append(bytes(drv.code[:n]).decode())
scanner.scan("S-2024-0131", b"\\r")
scanner.scan("https://school.example/p?id=3", b"\\r\\n")
scanner.send(b"noise\\x00\\xff\\r")
scanner.scan("Y" * (MAX_TEXT + 40))
scanner.scan("Z" * MAX_TEXT)
drain(100)
line = b"S-2024-0131\\r\\n"
gc.collect(); gc.disable()
a = alloc()
for _ in range(1000):
    drv.poll()
qr_idle = alloc() - a
got = 0
a = alloc()
for _ in range(100):
    port.feed(line)
    for _ in range(3):
        if drv.poll():
            got += 1
qr_per_code = (alloc() - a) / 100
gc.enable()

# -- the PN532 --
port2 = machine.UART(1)
dev = fake_pn532.FakePN532()
dev.attach(port2)
pn = card_reader.PN532(port2, clock)
uids = []
def run_pn(ms):
    for _ in range(ms // 10):
        n = pn.poll(clock.ticks_ms())
        if n:
            uids.append(bytes(pn.code[:n]).decode())
        clock.advance(10)
run_pn(500)
dev.card = bytes([0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6])
run_pn(300)
dev.card = None
run_pn(300)
# Allocation of the driver alone: the answers are fed into the UART's ring by hand (the fake PN532 itself
# allocates as it parses), so only the driver's own work counts.
port2.peer = None
answer = fake_pn532.ACK + fake_pn532.frame(0xD5, 0x4B, b"\\x01\\x01\\x00\\x04\\x08\\x04\\x11\\x22\\x33\\x44")
empty = fake_pn532.ACK + fake_pn532.frame(0xD5, 0x4B, b"\\x00")
gc.collect(); gc.disable()
a = alloc()
for i in range(100):
    clock.advance(card_reader.POLL_MS)
clock_alloc = alloc() - a  # the fake clock's own (it is not the board's C ticks)
a = alloc()
cards = 0
for i in range(100):
    clock.advance(card_reader.POLL_MS)
    pn.poll(clock.ticks_ms())  # sends InListPassiveTarget
    port2.feed(answer if i % 2 else empty)
    if pn.poll(clock.ticks_ms()):
        cards += 1
pn_per_poll = (alloc() - a - clock_alloc) / 100
gc.enable()
# One credential event: debounce, JSON text, tag (the message then waits in the queue).
import auth, credential
creds = credential.Credentials("west-3", 0x2A5, auth.SensorMac(bytes(32)), b"thermogate/west-3/credential", clock)
deb = credential.Debounce(clock)
code = bytearray(b"S-2024-0131")
gc.collect(); gc.disable()
a = alloc()
for i in range(20):
    code[-1] = 0x30 + i % 10  # a new code each time
    clock.now += 2500
    creds.offer("qr", deb, code, len(code), clock.ticks_ms())
    creds._queue.clear()
per_event = (alloc() - a) / 20
a = alloc()
for i in range(20):
    creds.offer("qr", deb, code, len(code), clock.ticks_ms())  # the same code again at once: debounced
per_repeat = (alloc() - a) / 20
gc.enable()
print("RESULT " + json.dumps({"impl": sys.implementation.name, "codes": codes, "too_long": drv.too_long,
      "per_event": per_event, "per_repeat": per_repeat,
      "garbage": drv.garbage, "qr_idle": qr_idle, "qr_per_code": qr_per_code, "qr_timed": got,
      "uids": uids, "pn_errors": pn.errors, "pn_per_poll": pn_per_poll, "cards": cards}))
"""


def test_drivers_under_micropython():
    result = _run(DRIVERS)
    assert result["impl"] == "micropython"
    assert result["codes"][:3] == ["S-2024-0131", "https://school.example/p?id=3", "Z" * 256]
    assert result["too_long"] == 1 and result["garbage"] == 1
    assert result["qr_timed"] == 100
    assert result["uids"] and set(result["uids"]) == {"04A1B2C3D4E5F6"} and result["pn_errors"] == 0
    assert result["cards"] == 50
    print(f"MicroPython: QR scanner idle poll {result['qr_idle']} bytes per 1,000 polls, "
          f"{result['qr_per_code']:.0f} bytes per code read; PN532 {result['pn_per_poll']:.0f} bytes per poll; "
          f"a credential event (JSON and tag) {result['per_event']:.0f} bytes, a debounced repeat "
          f"{result['per_repeat']:.0f} bytes")
    assert result["per_repeat"] == 0 and 0 < result["per_event"] < 3000
    # The drivers allocate nothing: not while idle, not while reading a code or a card.
    assert result["qr_idle"] == 0 and result["qr_per_code"] == 0 and result["pn_per_poll"] == 0


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
texts = ["S-2024-0131", "S-2024-0131", "V-20261203-0042", "S-2024-0777"]
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
        (1, "qr", "S-2024-0131"), (2, "qr", "V-20261203-0042"), (3, "qr", "S-2024-0777"), (4, "card", "11223344")]
    assert all(c.boot_id == 0x2A5 for c in got)
    counts = json.loads(result["status"])["credentials"]
    assert counts["n"] == 4 and counts["sent"] == 4 and counts["repeats"] >= 1
    readers_built = result["built"] - result["plain_built"]
    per_code = result["per_code"] - result["idle_plain"] / 500 * result["steps_per_code"]
    print(f"MicroPython: the two readers add {readers_built} bytes to building the gate; "
          f"500 idle steps allocate {result['idle_silent']} bytes with both readers (PN532 silent), "
          f"{result['idle_fake_pn']} bytes with the fake PN532 answering (its own parsing included), "
          f"{result['idle_plain']} bytes without readers; {per_code:.0f} bytes per credential sent (read, JSON, tag, "
          f"QoS-1 publish and its PUBACK, the fake broker's share included)")
    # The readers add nothing to an idle step: what is allocated is the fakes' own (the fake clock).
    assert result["idle_silent"] == result["idle_plain"]
    assert 0 < per_code < 16000
