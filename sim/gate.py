"""A virtual gate: the firmware's own app on virtual hardware, on a real broker.

Only the hardware is simulated: the MLX90640 (fed by a scenario), the pins,
timers, Wi-Fi, the I2C bus and, when fitted, a QR scanner on a UART. The firmware modules run unchanged, their own
MQTT client included, over a real TCP connection to the broker
(``sim.netsock``), and publish what a board would publish. Scenario events (Wi-Fi loss, I2C failures, garbage
pixels) are applied to the hardware at their times.
"""

from __future__ import annotations

import json

import numpy as np

from controller.sensor import random_eeprom

from .clock import RealClock
from .firmware_loader import load_firmware
from .gate_config import gate_config, simulator_key
from .netsock import open_socket
from .sensor import VirtualMLX90640

_fw = load_firmware()
TRUTH_KEPT = 4096  # frames of ground truth a virtual gate remembers (about 8.5 min at 8 Hz)
SCANNER_UART = {"uart": 2, "rx": 16, "tx": 17}  # the QR scanner's wiring, as docs/installation.md gives it
CARD_READER_UART = {"uart": 1, "rx": 18, "tx": 19}  # the PN532's


class VirtualGate:
    def __init__(self, gate_id: str, scenario, host: str, port: int, *, seed: int = 0,
                 key: bytes | None = None, clock: RealClock | None = None, user: str = "", password: str = "",
                 scanner: bool | None = None, card_reader: bool = False):
        """``scanner``: fit a virtual QR scanner (None: when the scenario's people carry credentials). The
        scenario's scans (``Scenario.scans``) are shown to it at their times; ``scan(text)`` shows one now.
        ``card_reader``: fit a virtual PN532; ``hold_card(uid)`` holds a card on it."""
        self.gate_id = gate_id
        self.scenario = scenario
        self.key = key or simulator_key(gate_id)
        self.clock = clock or RealClock()
        self.rng = np.random.default_rng(seed)
        self.eeprom = random_eeprom(np.random.default_rng([seed, 1]))
        self.sensor = VirtualMLX90640(self.eeprom, scenario, self.rng)
        self.board = _fw.machine.Board(self.clock)
        self.board.devices[0x33] = self.sensor
        self.wlan = _fw.network.WLAN()
        self.wlan.up = True
        config = gate_config(gate_id, host, port, self.key, scenario.refresh_hz, user, password)
        if scanner is None:
            scanner = getattr(scenario, "credentials", None) is not None
        self.scanner = None
        if scanner:
            self.scanner = _fw.fake_uart.FakeQRScanner()
            self.board.uart_devices[SCANNER_UART["uart"]] = self.scanner
            config["qr_scanner"] = dict(SCANNER_UART)
        self.card_reader = None
        if card_reader:
            self.card_reader = _fw.fake_pn532.FakePN532()
            self.board.uart_devices[CARD_READER_UART["uart"]] = self.card_reader
            config["card_reader"] = dict(CARD_READER_UART)
        self.scans: list = []  # the scans shown so far: (scenario time, text)
        self._to_scan: list[str] = []  # scan() from another thread: shown on the gate's own next step
        self.config = _fw.config.Config(json.loads(json.dumps(config)))
        # Frame sequence -> ground truth of that subpage, for the latest TRUTH_KEPT frames only:
        # `thermogate sim run` may go on for hours.
        self.truth: dict[int, dict] = {}
        self.reboots = 0
        self._events = sorted(scenario.events, key=lambda e: e.t)
        self._t0 = self.clock.seconds
        self._scanned_to = 0.0
        self._boot()

    def _boot(self) -> None:
        self._reboot_requested = False
        self.truth.clear()  # a new boot numbers its frames from 1 again
        self.gate = _fw.app.build(self.config, hw=self.board, clock=self.clock, wlan=self.wlan,
                                  open_socket=open_socket, random_bits=self._random_bits,
                                  reboot=self._request_reboot, heap_free=lambda: 96000)
        self.relay = self.board.Pin.pins[self.config.pin_relay]
        self.gate.start_sensor()

    def _random_bits(self, n: int) -> int:
        return int(self.rng.integers(0, 1 << n))

    def _request_reboot(self) -> None:
        self._reboot_requested = True

    @property
    def t(self) -> float:
        """Scenario time, seconds."""
        return self.clock.seconds - self._t0

    def step(self) -> None:
        """One round: scenario events, the sensor's measurement, the firmware's step."""
        t = self.t
        while self._events and self._events[0].t <= t:
            self._apply(self._events.pop(0))
        if self.scanner is not None:
            if hasattr(self.scenario, "scans"):
                self._to_scan.extend(s.text for s in self.scenario.scans(self._scanned_to, t))
                self._scanned_to = max(self._scanned_to, t)
            while self._to_scan:
                text = self._to_scan.pop(0)
                self.scans.append((t, text))
                self.scanner.scan(text)
        self.sensor.update(t)
        before = self.gate.sequence
        self.gate.step()
        if self.gate.sequence != before and self.sensor.loaded_truth is not None:
            self.truth[self.gate.sequence] = self.sensor.loaded_truth
            self.truth.pop(self.gate.sequence - TRUTH_KEPT, None)
        if self._reboot_requested:
            self.reboots += 1
            self.close()
            self._boot()

    def scan(self, text: str) -> None:
        """Show a QR code to the gate's scanner: its text and CR LF arrive on the scanner's UART at the
        gate's next step (safe from another thread than the one stepping the gate)."""
        if self.scanner is None:
            raise RuntimeError(f"gate {self.gate_id} has no scanner fitted")
        self._to_scan.append(text)

    def hold_card(self, uid: bytes | None) -> None:
        """Hold a card with this UID (4, 7 or 10 bytes) on the card reader, or take it away (None)."""
        if self.card_reader is None:
            raise RuntimeError(f"gate {self.gate_id} has no card reader fitted")
        self.card_reader.card = None if uid is None else bytes(uid)

    def power_cycle(self) -> None:
        """Power off and on: the connection drops without a goodbye, the board boots afresh (a new
        boot id, sequence numbers from 1, the door locked before anything else)."""
        link = self.gate.link
        if link is not None:
            link.client.close()  # no DISCONNECT: the broker publishes the last will
        self.gate.door.lock()  # the power is off
        self.reboots += 1
        self._boot()

    def switch_scenario(self, scenario) -> None:
        """Carry on with another scenario from its start, without a reboot (the demo's gates cycle)."""
        self.scenario = scenario
        self.sensor.scenario = scenario
        self.sensor.next_due = 0.0
        self._events = sorted(scenario.events, key=lambda e: e.t)
        self._t0 = self.clock.seconds
        self._scanned_to = 0.0
        self.wlan.up = True

    def _apply(self, event) -> None:
        if event.kind == "wifi_down":
            self.wlan.up = False
        elif event.kind == "wifi_up":
            self.wlan.up = True
        elif event.kind == "i2c_fail":
            self.sensor.fail_reads = int(event.params.get("reads", 3))
        elif event.kind == "garbage_pixels":
            self.sensor.garbage = (list(event.params["pixels"]), float(event.params.get("until", self.t + 5)))

    @property
    def boot_id(self) -> int:
        return self.gate.boot_id

    def close(self) -> None:
        link = self.gate.link
        self.gate.door.lock()
        if link is not None:
            link.client.disconnect()
