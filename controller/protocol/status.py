"""The gate's heartbeat (retained JSON) and its last will."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .commands import REFUSALS
from .errors import ProtocolError
from .jsonmsg import field as _field
from .jsonmsg import json_object as _json_object
from .jsonmsg import seal as _seal


@dataclass(frozen=True)
class GateStatus:
    gate_id: str
    online: bool
    boot_id: int
    firmware: str = ""
    uptime_s: int = 0
    rssi: int = 0
    heap_free: int = 0
    frames: int = 0
    frames_unsent: int = 0
    fps: float = 0.0
    refresh_hz: float = 0.0
    sensor_ok: bool = False
    i2c_errors: int = 0
    sensor_resets: int = 0
    relay: str = "locked"
    door_openings: int = 0
    cmd_ok: int = 0
    cmd_refused: dict = field(default_factory=dict)
    mqtt_connects: int = 0
    indications: int = 3  # the highest `indicate` argument the gate shows ("ind"; before firmware 0.3.0: 3, retry)
    version: int = 2  # 2: authenticated; 1: accepted unauthenticated (upgrade window)


_INTS = ("uptime_s", "rssi", "heap_free", "frames", "frames_unsent", "i2c_errors", "sensor_resets",
         "door_openings", "cmd_ok", "mqtt_connects")


def decode_status(payload: bytes, key, *, accept_v1: bool = False) -> GateStatus:
    """A status or last-will message, checked under ``key`` (the gate's sensor key K_s, or
    mac.UNVERIFIED); the last will carries only gate, online and boot."""
    d, version = _json_object(payload, "status", key, b"status", accept_v1)
    gate = _field(d, "gate", (str,), "status")
    online = _field(d, "online", (bool,), "status")
    boot = _field(d, "boot", (int,), "status")
    if not online:
        return GateStatus(gate_id=gate, online=False, boot_id=boot, version=version)
    values = {k: _field(d, k, (int,), "status") for k in _INTS}
    refused = _field(d, "cmd_refused", (dict,), "status")
    if any(k not in REFUSALS or not isinstance(v, int) for k, v in refused.items()):
        raise ProtocolError("schema", f"status.cmd_refused is {refused!r}")
    rates = {k: _field(d, k, (int, float), "status") for k in ("fps", "refresh_hz")}
    if not all(0 <= v <= 1000 for v in rates.values()):  # also NaN (strict JSON downstream) and ints past float
        raise ProtocolError("schema", f"status rates are {rates!r}")
    indications = d.get("ind", 3)  # optional: firmware before 0.3.0 does not say, and knows 0-3
    if type(indications) is not int or not 0 <= indications <= 255:
        raise ProtocolError("schema", f"status.ind is {indications!r}")
    relay = _field(d, "relay", (str,), "status")
    if relay not in ("open", "locked"):
        raise ProtocolError("schema", f"status.relay is {relay!r}")
    return GateStatus(gate_id=gate, online=True, boot_id=boot, firmware=_field(d, "fw", (str,), "status"),
                      fps=float(rates["fps"]), refresh_hz=float(rates["refresh_hz"]),
                      sensor_ok=_field(d, "sensor_ok", (bool,), "status"), relay=relay, cmd_refused=refused,
                      indications=indications, version=version, **values)


def status_payload(key: bytes, status: dict) -> bytes:
    """A version-2 status (or last will) as a gate sends it: ``status`` is the JSON object without "v",
    sealed under the sensor key ``key`` (for simulators and tests)."""
    body = json.dumps({"v": 2, **status}, separators=(",", ":")).encode()
    return _seal(body, key, b"status")
