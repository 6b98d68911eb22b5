"""What the credential readers cost, measured under MicroPython (and runnable under CPython with the fakes).

``measure()`` reports, in bytes allocated (the fakes' own allocations kept out of every figure):
- ``qr_idle``: 1,000 polls of the QR scanner driver with nothing waiting;
- ``qr_per_code``: the driver reading one code into its buffer;
- ``pn_per_poll``: one look for a card by the PN532 driver (command out, answer parsed, UID in hex), the
  answers fed into the UART's ring by hand;
- ``per_event`` / ``per_repeat``: ``Credentials.offer`` for a new code (its JSON and tag) / for the same
  code again within the debounce window;
- ``step_idle``: 500 calls of ``gate.step()`` on a gate with a QR scanner, nothing shown;
- ``per_credential``: inside ``gate.step()``, per code shown: read, JSON, tag, QoS-1 publish and its
  PUBACK (the fake broker keeps nothing: ``sink``);
- ``readers_built``: the QR scanner and the PN532 objects and a debounce each, as built;
- ``codes``, ``uids``: what the drivers read, for the caller to check.
"""

import gc
import json

import app
import auth
import card_reader
import config
import credential
import fake_mlx90640
import fake_pn532
import fake_uart
import fakeclock
import fakenet
import machine
import network
import qr_scanner


def _alloc():
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


def _drivers(clock):
    out = {}
    port = machine.UART(2)
    scanner = fake_uart.FakeQRScanner()
    scanner.attach(port)
    port2 = machine.UART(1)
    gc.collect()
    gc.disable()
    a = _alloc()
    drv = qr_scanner.QRScanner(port)
    pn = card_reader.PN532(port2, clock)
    debounces = (credential.Debounce(clock), credential.Debounce(clock))
    out["readers_built"] = _alloc() - a
    gc.enable()
    codes = []
    scanner.scan("S-2024-0131", b"\r")
    scanner.scan("https://school.example/p?id=3", b"\r\n")
    scanner.send(b"noise\x00\xff\r")
    scanner.scan("Y" * (credential.MAX_TEXT + 40))
    scanner.scan("Z" * credential.MAX_TEXT)
    for _ in range(100):
        n = drv.poll()
        if n:
            codes.append(bytes(drv.code[:n]).decode())
    out["codes"], out["too_long"], out["garbage"] = codes, drv.too_long, drv.garbage
    line = b"S-2024-0131\r\n"
    gc.collect()
    gc.disable()
    a = _alloc()
    for _ in range(1000):
        drv.poll()
    out["qr_idle"] = _alloc() - a
    read = 0
    spent = 0
    for _ in range(100):
        port.feed(line)
        a = _alloc()
        for _ in range(3):
            if drv.poll():
                read += 1
        spent += _alloc() - a
    out["qr_per_code"] = spent / 100
    out["qr_read"] = read
    gc.enable()

    # The PN532: woken and configured by the fake, then looks answered by hand.
    dev = fake_pn532.FakePN532()
    dev.attach(port2)
    uids = []
    for t in range(80):
        n = pn.poll(clock.ticks_ms())
        if n:
            uids.append(bytes(pn.code[:n]).decode())
        if t == 50:
            dev.card = bytes([0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6])
        clock.advance(10)
    port2.peer = None
    answer = fake_pn532.ACK + fake_pn532.frame(0xD5, 0x4B, b"\x01\x01\x00\x04\x08\x04\x11\x22\x33\x44")
    empty = fake_pn532.ACK + fake_pn532.frame(0xD5, 0x4B, b"\x00")
    gc.collect()
    gc.disable()
    spent = 0
    cards = 0
    for i in range(100):
        clock.advance(card_reader.POLL_MS)
        a = _alloc()
        pn.poll(clock.ticks_ms())  # sends InListPassiveTarget
        spent += _alloc() - a
        port2.feed(answer if i % 2 else empty)
        a = _alloc()
        if pn.poll(clock.ticks_ms()):
            cards += 1
        spent += _alloc() - a
    out["pn_per_poll"] = spent / 100
    gc.enable()
    out["uids"], out["cards"], out["pn_errors"] = uids, cards, pn.errors

    creds = credential.Credentials("west-3", 0x2A5, auth.SensorMac(bytes(32)), b"thermogate/west-3/credential",
                                   clock)
    code = bytearray(b"S-2024-0131")
    gc.collect()
    gc.disable()
    spent = 0
    for i in range(20):
        code[-1] = 0x30 + i % 10  # a new code each time
        clock.advance(2500)
        a = _alloc()
        creds.offer("qr", debounces[0], code, len(code), clock.ticks_ms())
        spent += _alloc() - a
        creds._queue.clear()
    out["per_event"] = spent / 20
    a = _alloc()
    for _ in range(20):
        creds.offer("qr", debounces[0], code, len(code), clock.ticks_ms())  # again at once: debounced
    out["per_repeat"] = (_alloc() - a) / 20
    gc.enable()
    return out


def _gate(cfg_dict):
    clock = fakeclock.FakeClock(1000)
    machine.clock = clock
    machine.devices.clear()
    machine.uarts.clear()
    machine.Pin.pins.clear()
    machine.devices[0x33] = fake_mlx90640.FakeMLX90640([0] * 832)
    scanner = fake_uart.FakeQRScanner()
    machine.uarts[cfg_dict["qr_scanner"]["uart"]] = scanner
    broker = fakenet.FakeBroker()
    wlan = network.WLAN()
    wlan.up = True
    gate = app.build(config.Config(cfg_dict), clock=clock, wlan=wlan, open_socket=broker.open_socket,
                     random_bits=lambda n: 0x2A5, reboot=lambda: None, heap_free=lambda: 0)
    spent = [0]

    def run(steps):
        for _ in range(steps):
            a = _alloc()
            gate.step()
            spent[0] += _alloc() - a
            clock.advance(10)

    run(100)
    broker.sink = True
    gc.collect()
    gc.disable()
    spent[0] = 0
    run(500)
    step_idle = spent[0]
    spent[0] = 0
    n = 5  # under ``sink`` no PUBACK comes back: 5 fit in the QoS-1 window beside the slots kept for acks
    for i in range(n):
        scanner.scan(f"S-2024-{i:04d}")
        run(5)
    per_credential = spent[0] / n
    gc.enable()
    return {"step_idle": step_idle, "per_credential": per_credential, "sent": gate.credentials.sent}


def measure(cfg_dict):
    clock = fakeclock.FakeClock(1000)
    machine.clock = clock
    out = _drivers(clock)
    out.update(_gate(cfg_dict))
    return out


def main(cfg_json):
    print("RESULT " + json.dumps(measure(json.loads(cfg_json))))
