"""The event store's argument checks: each raises StoreError naming what is wrong (a gate id, a time, a
bounded text, a user name, a role, a JSON detail).
"""

from __future__ import annotations

import json
from typing import Any

from controller.protocol.topics import valid_gate_id

from .errors import StoreError
from .query import finite_number as _finite
from .query import time_s as _time_s
from .records import (
    ROLES,
)

MAX_TEXT = 4000  # reasons, notes, details: generous, but bounded
MAX_RESERVE = 1_000_000


def check_gate(gate: Any) -> str:
    if not valid_gate_id(gate):
        raise StoreError(f"invalid gate id {gate!r}: 1-32 lowercase letters, digits and hyphens")
    return gate


def check_opt_time(t: Any, what: str) -> float | None:
    return None if t is None else _time_s(t, what)


def check_int(v: Any, what: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise StoreError(f"{what} must be an integer, not {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise StoreError(f"{what} {v} is out of range {lo}..{hi}")
    return v


def check_opt_float(v: Any, what: str) -> float | None:
    return None if v is None else _finite(v, what, "a finite number or None")


def check_text(v: Any, what: str, *, empty: bool = True, limit: int = MAX_TEXT) -> str:
    if not isinstance(v, str):
        raise StoreError(f"{what} must be text, not {type(v).__name__}")
    if not empty and not v.strip():
        raise StoreError(f"{what} must not be empty")
    if len(v) > limit:
        raise StoreError(f"{what} is longer than {limit} characters")
    return v


def check_opt_text(v: Any, what: str) -> str | None:
    return None if v is None else check_text(v, what)


def check_user_name(name: Any) -> str:
    check_text(name, "user name", empty=False, limit=64)
    if name != name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise StoreError(f"user name {name!r} must not have surrounding spaces or control characters")
    return name


def check_role(role: Any) -> str:
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def check_json(d: Any, what: str) -> str:
    if not isinstance(d, dict):
        raise StoreError(f"{what} must be a dict, not {type(d).__name__}")
    try:
        text = json.dumps(d, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not JSON-serialisable: {exc}") from None
    if len(text) > 100_000:
        raise StoreError(f"{what} is larger than 100,000 characters of JSON")
    return text


def check_bool_or_none(v: Any) -> bool | None:
    return None if v is None else bool(v)


# ---------------------------------------------------------------- rows to records
