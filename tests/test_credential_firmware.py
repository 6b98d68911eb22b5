"""The gate's credential readers under CPython, with only the hardware faked: a UART fed byte by byte,
a GM65-style QR scanner, a PN532 at the frame level. What the gate sends is decoded by the controller's
own `credential` decoder, which checks the tag."""

from __future__ import annotations

import pytest

from controller.protocol import ProtocolError
from controller.protocol.credential import ReplayGuard, decode
from controller.protocol.mac import sensor_key
from firmware_env import config_dict, firmware_modules, fresh_hardware

KEY = bytes(range(32))
KS = sensor_key(KEY)
GATE = "north-1"
QR = {"uart": 2, "rx": 16, "tx": 17}
CARD = {"uart": 1, "rx": 18, "tx": 19}
TOPIC = f"thermogate/{GATE}/credential".encode()


@pytest.fixture
def fw():
    with firmware_modules() as modules:
        yield modules


class Rig:
    def __init__(self, fw, qr=QR, card=None, card_uid=None, config=None):
        """A gate with the readers ``qr`` and ``card`` on fake UARTs; or, given a loaded ``config``, the
        readers (and key) that config names."""
        if config is not None:
            qr = {"uart": config.qr_scanner[0]} if config.qr_scanner else None
            card = {"uart": config.card_reader[0]} if config.card_reader else None
        self.fw = fw
        self.clock, self.broker = fresh_hardware(fw)
        self.scanner = fw.fake_uart.FakeQRScanner()
        self.pn532 = fw.fake_pn532.FakePN532(card_uid)
        if qr:
            fw.machine.uarts[qr["uart"]] = self.scanner
        if card:
            fw.machine.uarts[card["uart"]] = self.pn532
        fw.machine.devices[0x33] = fw.fake_mlx90640.FakeMLX90640([0] * 832)
        self.wlan = fw.network.WLAN()
        self.wlan.up = True
        extra = {k: v for k, v in (("qr_scanner", qr), ("card_reader", card)) if v}
        self.cfg = config or fw.config.Config(config_dict(GATE, KEY.hex(), **extra))
        self.ks = sensor_key(self.cfg.hmac_key)
        self.gate = fw.app.build(self.cfg, clock=self.clock, wlan=self.wlan, open_socket=self.broker.open_socket,
                                 random_bits=lambda n: 512, reboot=lambda: None, heap_free=lambda: 90000)
        self.replays = ReplayGuard()
        self.run(300)  # connected

    def run(self, ms, step_ms=10):
        for _ in range(ms // step_ms):
            self.gate.step()
            self.clock.advance(step_ms)

    def sent(self):
        return [decode(p, self.ks, GATE, self.replays) for p in self.broker.take(TOPIC)]


# -- the QR scanner ------------------------------------------------------------------------------------------

def scanner_alone(fw):
    port = fw.machine.UART(2)
    scanner = fw.fake_uart.FakeQRScanner()
    scanner.attach(port)
    return scanner, fw.qr_scanner.QRScanner(port)


def codes(drv, polls=200):
    out = []
    for _ in range(polls):
        n = drv.poll()
        if n:
            out.append(bytes(drv.code[:n]).decode())
    return out


def test_scanner_splits_lines_ended_by_cr_crlf_or_lf(fw):
    scanner, drv = scanner_alone(fw)
    assert drv.poll() == 0  # nothing waiting: nothing read
    scanner.scan("A-1", b"\r")
    scanner.scan("B-2", b"\r\n")
    scanner.scan("https://school.example/p?id=3&k=x", b"\n")
    assert codes(drv) == ["A-1", "B-2", "https://school.example/p?id=3&k=x"]
    assert (drv.codes, drv.too_long, drv.garbage) == (3, 0, 0)


def test_scanner_code_split_across_polls(fw):
    scanner, drv = scanner_alone(fw)
    for b in b"S-2024-01":
        scanner.send(bytes([b]))
        assert drv.poll() == 0
    scanner.send(b"31\r\n")
    assert codes(drv) == ["S-2024-0131"]


def test_scanner_too_long_code_is_dropped_and_counted_never_a_crash(fw):
    scanner, drv = scanner_alone(fw)
    limit = fw.credential.MAX_TEXT
    scanner.scan("X" * (limit + 1))
    got = []
    for _ in range(50):  # 5,000 bytes in one line, far beyond every buffer, as fast as the driver reads
        scanner.send(b"Y" * 100)
        got += codes(drv, 3)
    scanner.send(b"\r\n")
    scanner.scan("Z" * limit)  # exactly the limit is a code
    scanner.scan("OK")
    assert got + codes(drv, 200) == ["Z" * limit, "OK"]
    assert drv.too_long == 2 and drv.garbage == 0


def test_scanner_garbage_is_dropped_whole(fw):
    scanner, drv = scanner_alone(fw)
    scanner.send(b"\x00\xff\xfe")  # power-up noise, then the first code's line end
    scanner.scan("S-1")
    scanner.scan(b"S-\x012")  # a control byte inside: not S-2 with a byte taken out
    scanner.scan("\u6821\u56ed".encode())  # UTF-8: not a code this gate takes
    scanner.send(b"\r\n\r\n")  # empty lines: nothing at all
    scanner.scan("S-3")
    assert codes(drv) == ["S-3"]
    assert drv.garbage == 3


# -- the PN532 card reader -----------------------------------------------------------------------------------

def pn532_alone(fw, uid=None):
    clock, _ = fresh_hardware(fw)
    port = fw.machine.UART(1)
    dev = fw.fake_pn532.FakePN532(uid)
    dev.attach(port)
    return clock, dev, fw.card_reader.PN532(port, clock)


def cards(clock, drv, ms, step=10):
    out = []
    for _ in range(ms // step):
        n = drv.poll(clock.ticks_ms())
        if n:
            out.append(bytes(drv.code[:n]).decode())
        clock.advance(step)
    return out


@pytest.mark.parametrize("uid", ["04a1b2c3", "04a1b2c3d4e5f6", "0102030405060708090a"])
def test_pn532_reads_uids_as_uppercase_hex(fw, uid):
    clock, dev, drv = pn532_alone(fw)
    assert cards(clock, drv, 500) == []  # woken, configured, polling: no card
    assert drv.ready and dev.commands[:2] == [0x14, 0x32] and dev.commands[2:] == [0x4A] * (len(dev.commands) - 2)
    dev.card = bytes.fromhex(uid)
    got = cards(clock, drv, 300)
    assert got and set(got) == {uid.upper()}  # re-read every poll; the gate's debounce makes it one event
    assert drv.errors == 0


def test_pn532_unplugged_then_back(fw):
    clock, dev, drv = pn532_alone(fw)
    cards(clock, drv, 300)
    dev.silent = True
    cards(clock, drv, 2000)
    assert drv.errors >= 1 and not drv.ready
    dev.silent, dev.awake = False, False  # plugged back in: asleep again until woken
    dev.card = bytes.fromhex("11223344")
    assert "11223344" in cards(clock, drv, 2500)


def test_pn532_bad_checksum_and_error_frames(fw):
    clock, dev, drv = pn532_alone(fw)
    cards(clock, drv, 300)
    dev.card = bytes.fromhex("a0b0c0d0")
    dev.corrupt = 1
    got = cards(clock, drv, 3000)
    assert drv.errors == 1 and got and set(got) == {"A0B0C0D0"}


# -- the gate: debounce, numbering, tags, the queue while offline ----------------------------------------------

def test_gate_sends_each_read_once_numbered_and_tagged(fw):
    rig = Rig(fw)
    rig.scanner.scan("S-2024-0131")
    rig.run(50)
    rig.scanner.scan("S-2024-0131")  # continuous mode: the same code again 50 ms later
    rig.run(1500)
    rig.scanner.scan("S-2024-0131")  # still within 2 s of the last sighting
    rig.run(50)
    rig.scanner.scan("S-2024-0777")  # another person: at once
    rig.run(2500)
    rig.scanner.scan("S-2024-0777")  # the same after 2 s of silence: a new event
    rig.run(50)
    got = rig.sent()
    assert [(c.number, c.kind, c.text) for c in got] == [(1, "qr", "S-2024-0131"), (2, "qr", "S-2024-0777"),
                                                          (3, "qr", "S-2024-0777")]
    assert {c.boot_id for c in got} == {rig.gate.boot_id}
    assert got[0].board_ms <= got[1].board_ms <= got[2].board_ms
    assert rig.gate.credentials.repeats == 2


def test_gate_json_escapes_and_the_longest_code(fw):
    rig = Rig(fw)
    quoted = 'He said "hi" \\ {"mac":"00"}'
    worst = '"' * fw.credential.MAX_TEXT  # every character escaped: the longest message there is
    rig.scanner.scan(quoted)
    rig.run(50)
    rig.scanner.scan(worst)
    rig.run(50)
    payloads = rig.broker.take(TOPIC)
    assert max(len(p) for p in payloads) < 1024
    assert [decode(p, KS, GATE).text for p in payloads] == [quoted, worst]


def test_gate_card_held_on_the_reader_is_one_event(fw):
    rig = Rig(fw, qr=None, card=CARD)
    rig.run(500)
    rig.pn532.card = bytes.fromhex("04a1b2c3d4e5f6")
    rig.run(5000)  # held 5 s: read every 200 ms
    rig.pn532.card = None
    rig.run(2500)
    rig.pn532.card = bytes.fromhex("04a1b2c3d4e5f6")  # shown again later
    rig.run(500)
    assert [(c.number, c.kind, c.text) for c in rig.sent()] == [(1, "card", "04A1B2C3D4E5F6"),
                                                                (2, "card", "04A1B2C3D4E5F6")]


def test_gate_offline_keeps_the_latest_four_and_drops_stale(fw):
    rig = Rig(fw)
    rig.wlan.up = False
    rig.run(100)
    for i in range(6):
        rig.scanner.scan(f"S-{i}")
        rig.run(100)
    assert rig.gate.credentials.waiting == 4 and rig.gate.credentials.dropped == 2
    rig.wlan.up = True
    rig.run(3000)
    assert [c.text for c in rig.sent()] == ["S-2", "S-3", "S-4", "S-5"]
    # a credential older than MAX_AGE_MS when the link comes back is never sent
    rig.wlan.up = False
    rig.run(100)
    rig.scanner.scan("S-late")
    rig.run(fw.credential.MAX_AGE_MS + 1000, step_ms=100)
    rig.wlan.up = True
    rig.run(3000)
    assert rig.sent() == [] and rig.gate.credentials.dropped == 3


def test_gate_burst_waits_for_pubacks_instead_of_overflowing_the_window(fw):
    """Eight reads while the broker holds back its PUBACKs: the credentials wait with two QoS-1 slots kept for
    a PASS's acks; the link is not dropped for an overflowing window. When the missing PUBACKs drop the link
    (10 s), the gate reconnects and the reads still under 30 s old go out, each once."""
    rig = Rig(fw)
    rig.broker.answer_publish = False
    for i in range(8):
        rig.scanner.scan(f"S-{i}")
        rig.run(100)
    client = rig.gate.link.client
    assert rig.gate.link.drops == 0 and client.free_slots() == fw.credential.KEEP_SLOTS
    assert rig.gate.credentials.waiting == 2 and rig.gate.credentials.dropped == 0
    rig.broker.answer_publish = True
    rig.run(15000, step_ms=50)
    assert rig.gate.link.drops == 1 and rig.gate.credentials.waiting == 0
    # the broker had the six whose PUBACKs it held back; the two that waited went after the reconnection;
    # none twice (the replay guard would refuse it)
    assert [c.text for c in rig.sent()] == [f"S-{i}" for i in range(8)]


def test_gate_replayed_and_forged_credentials_are_refused(fw):
    rig = Rig(fw)
    rig.scanner.scan("S-1")
    rig.run(50)
    payload = rig.broker.take(TOPIC)[0]
    decode(payload, KS, GATE, rig.replays)
    with pytest.raises(ProtocolError) as err:
        decode(payload, KS, GATE, rig.replays)
    assert err.value.reason == "replay"
    with pytest.raises(ProtocolError) as err:
        decode(payload.replace(b"S-1", b"S-9"), KS, GATE, ReplayGuard())
    assert err.value.reason == "mac"


def test_gate_reader_fault_does_not_stop_the_frame_loop(fw):
    rig = Rig(fw)
    rig.gate.readers[0][0]._uart.fail = 3
    steps = rig.gate.uptime_ms
    rig.run(100)
    assert rig.gate.reader_faults == 3 and rig.gate.uptime_ms > steps
    rig.scanner.scan("S-after")
    rig.run(50)
    assert [c.text for c in rig.sent()] == ["S-after"]


def test_status_counts_the_readers(fw):
    rig = Rig(fw, card=CARD)
    rig.scanner.send(b"\x01\x02\r")
    rig.scanner.scan("S-1")
    rig.run(50)
    from controller.protocol import decode_status

    raw = rig.gate.status_message()
    assert len(raw) < 1024
    decode_status(raw, KS)  # the controller still reads the status
    import json

    counts = json.loads(raw)["credentials"]
    assert counts == {"sent": 1, "dropped": 0, "faults": 0, "too_long": 0, "garbage": 1, "card_errors": 0}


def test_status_stays_under_1024_bytes_with_both_readers_and_every_counter_huge(fw):
    fw.machine.uarts[1] = fw.fake_pn532.FakePN532()
    rig = Rig(fw, card=CARD)
    g, big = rig.gate, 99_999_999
    g.cfg.gate_id = "g" * 32
    g.boot_id = 0xFFFFFFFF
    g._heap_free = lambda: 4_000_000
    g.frames_sent = g.frames_unsent = g.sensor_resets = g.acks_dropped = g.reader_faults = big
    g.uptime_ms = big * 1000
    g.sensor.i2c_errors = g.door.openings = g.door.timer_locks = g.guard.accepted = big
    g.guard.refused = {k: big for k in g.guard.refused}
    g.credentials.sent = g.credentials.dropped = big
    for reader, _ in g.readers:
        for counter in ("too_long", "garbage", "errors"):
            if hasattr(reader, counter):
                setattr(reader, counter, big)
    link = g.link
    link.last_error, link.connects, link.drops, link.client.oversized = "x" * 80, big, big, big
    assert len(g.status_message()) < 1024


def test_no_reader_fitted_no_uart_no_field(fw):
    rig = Rig(fw, qr=None)
    assert rig.gate.readers == []
    assert b'"credentials"' not in rig.gate.status_message()


@pytest.mark.parametrize("extra, message", [
    ({"qr_scanner": {"uart": 0, "rx": 16}}, "qr_scanner.uart is 0, must be 1..2"),
    ({"qr_scanner": {"uart": 2, "rx": 16}, "card_reader": {"uart": 2, "rx": 18, "tx": 19}},
     "card_reader.uart 2 is already used"),
    ({"qr_scanner": {"uart": 2, "rx": 21}}, "qr_scanner.rx uses GPIO 21 twice"),
    ({"qr_scanner": {"uart": 2, "rx": 16, "tx": 34}}, "qr_scanner.tx is GPIO 34, which is input-only"),
    ({"qr_scanner": {"uart": 2, "rx": 7}}, "qr_scanner.rx is GPIO 7, which is wired to the SPI flash"),
    ({"card_reader": {"uart": 1, "rx": 18}}, "card_reader.tx is missing"),
    ({"qr_scanner": {"uart": 2, "rx": 16, "baud": 4800}}, "qr_scanner.baud must be one of"),
    ({"qr_scanner": "yes"}, "qr_scanner must be an object or null"),
])
def test_reader_config_errors(fw, extra, message):
    with pytest.raises(fw.config.ConfigError) as err:
        fw.config.Config(config_dict(GATE, KEY.hex(), **extra))
    assert message in str(err.value)


def test_reader_config_accepted(fw):
    cfg = fw.config.Config(config_dict(GATE, KEY.hex(), qr_scanner={"uart": 2, "rx": 35}, card_reader=None))
    assert cfg.qr_scanner == (2, 35, None, 9600) and cfg.card_reader is None
    cfg = fw.config.Config(config_dict(GATE, KEY.hex(), card_reader={"uart": 1, "rx": 18, "tx": 19, "baud": 9600}))
    assert cfg.card_reader == (1, 18, 19, 9600) and cfg.qr_scanner is None


def test_a_gate_flashed_by_the_installer_tool_reads_both_readers(fw, tmp_path):
    """`thermogate gate set --qr-scanner/--card-reader`, the config.json `flash` writes, the board's loader
    reading that file, and the gate it builds: a scanned code and a card each become a credential message."""
    from controller.site import gates
    from controller.site.flash import config_json

    site = tmp_path / "site"
    gates.set_site(site, wifi_ssid="School-IoT", wifi_password="pw", broker_host="127.0.0.1")
    gates.add_gate(site, GATE)
    gates.update_gate(site, GATE, settings={"qr_scanner": "uart=2,rx=35", "card_reader": "uart=1,rx=4,tx=27"})
    (tmp_path / "config.json").write_text(config_json(gates.gate_config(site, GATE)))
    cfg = fw.config.load(str(tmp_path / "config.json"))
    assert cfg.qr_scanner == (2, 35, None, 9600) and cfg.card_reader == (1, 4, 27, 115200)
    rig = Rig(fw, config=cfg)
    assert len(rig.gate.readers) == 2
    rig.scanner.scan("S-2024-0131")
    rig.run(500)
    rig.pn532.card = bytes.fromhex("04a1b2c3d4e5f6")
    rig.run(500)
    assert [(c.kind, c.text) for c in rig.sent()] == [("qr", "S-2024-0131"), ("card", "04A1B2C3D4E5F6")]
