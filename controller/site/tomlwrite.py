"""A small TOML writer for the site files (``tomllib`` only reads).

It handles what the site files hold: tables nested in tables, and values that
are strings, booleans, integers, floats and timezone-aware datetimes. Tables
are written after the plain values of their parent, as ``[a.b]`` headers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes written to TOML must be timezone-aware")
        return value.isoformat()
    raise TypeError(f"cannot write a {type(value).__name__} to TOML")


def dumps(doc: Mapping[str, Any], header: str = "") -> str:
    """TOML text for ``doc``; a leading ``header`` is written as ``#`` comment lines."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _table(doc, [], lines)
    return "\n".join(lines).strip("\n") + "\n"


def _table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    plain = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    nested = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (plain or not nested):
        lines.extend(["", "[" + ".".join(_key(p) for p in path) + "]"])
    for key, value in plain.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested.items():
        _table(value, path + [key], lines)
