"""Shared checks for the JSON messages: size, syntax, version, field types."""

from __future__ import annotations

import json

from .errors import ProtocolError

MAX_JSON_BYTES = 1024


def json_object(payload: bytes, what: str) -> dict:
    if len(payload) > MAX_JSON_BYTES:
        raise ProtocolError("too_large", f"{what} of {len(payload)} bytes, limit {MAX_JSON_BYTES}")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ProtocolError("json", f"{what} is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProtocolError("schema", f"{what} must be a JSON object")
    if data.get("v") != 1:
        raise ProtocolError("version", f"{what} version {data.get('v')!r}, this controller speaks 1")
    return data


def field(data: dict, key: str, kinds, what: str):
    value = data.get(key)
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise ProtocolError("schema", f"{what}.{key} is {value!r}")
    return value
