"""Import the firmware under CPython with only the hardware layer replaced.

``firmware_modules()`` puts the fakes (``sim/hardware``: machine, network,
a fake network with a byte-level MQTT broker, a register-level MLX90640, a
clock) and the firmware directory
first on sys.path, imports the firmware's own modules, and removes them all
again afterwards, so each test starts from a fresh import.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from pathlib import Path

from sim.gate_config import gate_config

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
FAKES = REPO / "sim" / "hardware"
FAKES_CPYTHON = Path(__file__).resolve().parent / "fakes_cpython"
FIRMWARE_MODULES = ("wire", "auth", "door", "mlx90640", "config", "mqtt", "link", "credential", "qr_scanner",
                    "card_reader", "gate", "app")
FAKE_MODULES = ("fake_uart", "machine", "network", "fakenet", "micropython", "fakeclock", "fake_mlx90640",
                "fake_pn532")


@contextlib.contextmanager
def firmware_modules():
    names = FIRMWARE_MODULES + FAKE_MODULES
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    paths = [str(FIRMWARE), str(FAKES), str(FAKES_CPYTHON)]
    sys.path[:0] = paths
    try:
        ns = types.SimpleNamespace(**{n.replace(".", "_"): importlib.import_module(n)
                                      for n in FAKE_MODULES + FIRMWARE_MODULES})
        yield ns
    finally:
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)
        for p in paths:
            sys.path.remove(p)


def config_dict(gate_id: str = "north-1", key_hex: str = "11" * 32, **overrides) -> dict:
    """A valid config.json for tests: a simulated gate's, with ``overrides`` on top."""
    d = gate_config(gate_id, "127.0.0.1", 1883, bytes.fromhex(key_hex), 8, f"gate-{gate_id}", "pw")
    d.update(overrides)
    return d


def fresh_hardware(fw, start_ms: int = 1000):
    """Reset the fake hardware for a newly booted gate: a new clock, no devices or pins, a new
    in-memory broker (pass ``open_socket=broker.open_socket`` to app.build). Returns (clock, broker)."""
    clock = fw.fakeclock.FakeClock(start=start_ms)
    fw.machine.clock = clock
    fw.machine.devices.clear()
    fw.machine.uarts.clear()
    fw.machine.Pin.pins.clear()
    return clock, fw.fakenet.FakeBroker()


def sensor_words(seed: int = 17) -> tuple[list[int], list[list[int]]]:
    """A sensor's EEPROM and two subpages (chess, 8 Hz) of a 36 degC face in a 22 degC room, as plain
    lists of words for the fake MLX90640 under either interpreter."""
    import numpy as np

    from controller.sensor import Calibration, control_word, random_eeprom

    eeprom = random_eeprom(seed)
    cal = Calibration.from_eeprom(eeprom)
    image = np.full((24, 32), 22.0)
    image[5:19, 9:23] = 36.0
    frames = [[int(w) for w in cal.raw_from_to(image, 21.0, 3.3, sp, control_word(chess=True, refresh_hz=8.0))]
              for sp in (0, 1)]
    return [int(w) for w in eeprom], frames
