"""Topic names: ``thermogate/<gate_id>/<kind>``."""

from __future__ import annotations

import re

from .errors import ProtocolError

TOPIC_ROOT = "thermogate"
KINDS = ("eeprom", "frame", "status", "cmd", "ack", "credential", "result")
GATE_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")


def valid_gate_id(gate_id: str) -> bool:
    """Lowercase letters, digits and hyphens, 1-32 characters, no hyphen at either end."""
    return isinstance(gate_id, str) and GATE_ID.fullmatch(gate_id) is not None


def topic(gate_id: str, kind: str) -> str:
    if not valid_gate_id(gate_id):
        raise ValueError(f"invalid gate id {gate_id!r}: use lowercase letters, digits and hyphens")
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{TOPIC_ROOT}/{gate_id}/{kind}"


def parse_topic(name: str) -> tuple[str, str]:
    """(gate_id, kind) of a topic, or ProtocolError."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != TOPIC_ROOT or parts[2] not in KINDS or not valid_gate_id(parts[1]):
        raise ProtocolError("topic", f"not a thermogate topic: {name[:100]!r}")
    return parts[1], parts[2]
