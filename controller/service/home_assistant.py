"""Optional Home Assistant MQTT discovery: each gate appears on a site's existing dashboard.

Per gate, three retained discovery configs under ``<prefix>/`` (default
``homeassistant``), all reading topics that exist anyway:

- ``binary_sensor`` *fever alarm* (device class ``problem``): ON when the gate's
  latest result is a FEVER;
- ``sensor`` *body temperature* (°C): the latest result's estimate;
- ``binary_sensor`` *door* (device class ``lock``): from the gate's status
  (``relay``); ON means unlocked.

The door is shown, never commanded: Home Assistant gets no command topic, since
a door opens only through the controller's signed path.
"""

from __future__ import annotations

import json

from ..protocol.topics import topic


def discovery_messages(gate_id: str, name: str, prefix: str = "homeassistant") -> list[tuple[str, bytes]]:
    """(topic, retained payload) of every discovery config for one gate."""
    uid = f"thermogate_{gate_id.replace('-', '_')}"
    device = {"identifiers": [uid], "name": name or f"thermogate {gate_id}", "manufacturer": "thermogate",
              "model": "thermal screening gate"}
    availability = {"topic": topic(gate_id, "status"),
                    "value_template": "{{ 'online' if value_json.online else 'offline' }}"}
    result = topic(gate_id, "result")
    configs = {
        f"{prefix}/binary_sensor/{uid}_alarm/config": {
            "name": "Fever alarm", "unique_id": f"{uid}_alarm", "device_class": "problem",
            "state_topic": result,
            "value_template": "{{ 'ON' if value_json.decision == 'FEVER' else 'OFF' }}"},
        f"{prefix}/sensor/{uid}_temperature/config": {
            "name": "Body temperature", "unique_id": f"{uid}_temperature", "device_class": "temperature",
            "unit_of_measurement": "°C", "state_topic": result, "suggested_display_precision": 1,
            "value_template": "{{ value_json.estimate_c if value_json.estimate_c is not none else this.state }}"},
        f"{prefix}/binary_sensor/{uid}_door/config": {
            "name": "Door", "unique_id": f"{uid}_door", "device_class": "lock",
            "state_topic": topic(gate_id, "status"),
            "value_template": "{{ 'ON' if value_json.relay == 'open' else 'OFF' }}"},
    }
    out = []
    for t, body in configs.items():
        body.update(device=device, availability=[availability])
        out.append((t, json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()))
    return out
