"""A virtual gate: the firmware's own app on virtual hardware, on a real broker.

Only the hardware is simulated: the MLX90640 (fed by a scenario), the pins,
timers, Wi-Fi and the I2C bus. The firmware modules run unchanged, their own
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


class VirtualGate:
    def __init__(self, gate_id: str, scenario, host: str, port: int, *, seed: int = 0,
                 key: bytes | None = None, clock: RealClock | None = None, user: str = "", password: str = ""):
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
        self.config = _fw.config.Config(json.loads(json.dumps(
            gate_config(gate_id, host, port, self.key, scenario.refresh_hz, user, password))))
        # Frame sequence -> ground truth of that subpage, for the latest TRUTH_KEPT frames only:
        # `thermogate sim run` may go on for hours.
        self.truth: dict[int, dict] = {}
        self.reboots = 0
        self._events = sorted(scenario.events, key=lambda e: e.t)
        self._t0 = self.clock.seconds
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
