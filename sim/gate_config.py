"""The configuration of a simulated gate: its config.json and its HMAC key.

Kept apart from ``sim.gate`` so that tests can build configs without loading
the firmware modules. :func:`provision_keys` hands the simulated gates' keys
to a controller the way an installer hands a real gate's: in the site's
``secrets.toml``.
"""

from __future__ import annotations

import hashlib


def simulator_key(gate_id: str) -> bytes:
    """The HMAC key of a simulated gate: derived from its id, for simulation only."""
    return hashlib.sha256(b"thermogate-simulator-key:" + gate_id.encode()).digest()


def provision_keys(site_dir, gate_ids) -> None:
    """Write the simulator's keys of ``gate_ids`` into the site's secrets.toml (mode 0600), where a controller
    with ``[site] simulated_gates`` finds them, as it finds a registered gate's (``thermogate gate add``).
    The file's other entries are kept; a gate's existing MQTT password too."""
    from pathlib import Path

    from controller.site import gates as site

    Path(site_dir).mkdir(parents=True, exist_ok=True)
    secrets = site.load_secrets(site_dir)
    for gate_id in gate_ids:
        known = secrets.gates.get(gate_id)
        password = known.mqtt_password if known is not None else site.new_gate_secrets().mqtt_password
        secrets.gates[gate_id] = site.GateSecrets(simulator_key(gate_id).hex(), password)
    site.save_secrets(site_dir, secrets)


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
