"""The controller's event store (docs/store.md).

``open_store(url)`` gives a :class:`Store` on SQLite (WAL, the embedded
default) or PostgreSQL (a district gathering many schools), with the same
versioned schema on both. Records are frozen dataclasses (records.py);
thermal snapshots are compact bytes (snapshot.py).
"""

from .errors import NotFound, SchemaError, StoreError, StoreUnavailable
from .migrations import LATEST_VERSION, MIGRATIONS
from .records import (
    ALARM_STATUSES,
    CAUSES,
    OUTCOMES,
    RECHECK_MAX_C,
    RECHECK_MIN_C,
    ROLES,
    Alarm,
    Alert,
    AuditEntry,
    Calibration,
    DoorAction,
    DoorHold,
    Gate,
    GateStatusRecord,
    Screening,
    User,
)
from .snapshot import decode_snapshot, encode_snapshot
from .store import Store, open_store

__all__ = [
    "open_store", "Store", "StoreError", "NotFound", "SchemaError", "StoreUnavailable", "LATEST_VERSION",
    "MIGRATIONS", "Screening", "Alarm", "DoorAction", "DoorHold", "Alert", "Gate", "GateStatusRecord", "Calibration",
    "User",
    "AuditEntry", "OUTCOMES", "ALARM_STATUSES", "CAUSES", "ROLES", "RECHECK_MIN_C", "RECHECK_MAX_C",
    "encode_snapshot", "decode_snapshot",
]
