"""The configuration of a simulated gate: its config.json and its HMAC key.

Kept apart from ``sim.gate`` so that tests can build configs without loading
the firmware modules.
"""

from __future__ import annotations

import hashlib


def simulator_key(gate_id: str) -> bytes:
    """The HMAC key of a simulated gate: derived from its id, for simulation only."""
    return hashlib.sha256(b"thermogate-simulator-key:" + gate_id.encode()).digest()


def gate_config(gate_id: str, host: str, port: int, key: bytes, refresh_hz: float, user: str = "",
                password: str = "") -> dict:
    """A config.json for a virtual gate (the board's schema, docs/protocol.md)."""
    return {
        "gate_id": gate_id,
        "wifi": {"ssid": "simulated", "password": ""},
        "mqtt": {"host": host, "port": port, "user": user, "password": password, "keepalive_s": 30},
        "hmac_key": key.hex(),
        "pins": {"sda": 21, "scl": 22, "relay": 26, "relay_active_high": True, "led_green": 25, "led_red": 33,
                 "buzzer": 32, "status_led": 2, "maintenance": 0},
        "i2c_freq": 1000000,
        "refresh_hz": refresh_hz,
        "door_pulse_ms": 3000,
        "door_cap_ms": 5000,
        "status_interval_s": 5,
        "max_command_age_s": 2.0,
    }
