"""The event store's rows as records (records.py): a screening (with or without its snapshot), an alarm, a door
action, an alert, a calibration, a user.
"""

from __future__ import annotations

import json

from .checks import check_bool_or_none
from .records import (
    Alarm,
    Alert,
    Calibration,
    DoorAction,
    Screening,
    User,
)

SCREENING_COLUMNS = ("id, uid, gate, time, decision, reason, track, estimate_c, face_c, distance_m, "
                      "reduced_accuracy, boot, sequence, drill")


def screening_from_row(row, with_snapshot: bool) -> Screening:
    snap = row["snapshot"] if with_snapshot else None
    return Screening(uid=row["uid"], gate=row["gate"], time=row["time"], decision=row["decision"],
                     reason=row["reason"], track=row["track"], estimate_c=row["estimate_c"], face_c=row["face_c"],
                     distance_m=row["distance_m"], reduced_accuracy=bool(row["reduced_accuracy"]), boot=row["boot"],
                     sequence=row["sequence"], snapshot=None if snap is None else bytes(snap), id=row["id"],
                     drill=bool(row["drill"]))


def alarm_from_row(row) -> Alarm:
    return Alarm(id=row["id"], screening_id=row["screening_id"], gate=row["gate"], time=row["time"],
                 status=row["status"], acknowledged_by=row["acknowledged_by"], acknowledged_at=row["acknowledged_at"],
                 recheck_c=row["recheck_c"], outcome=row["outcome"], disposed_by=row["disposed_by"],
                 disposed_at=row["disposed_at"], note=row["note"], drill=bool(row["drill"]))


def door_action_from_row(row) -> DoorAction:
    return DoorAction(gate=row["gate"], time=row["time"], action=row["action"], arg=row["arg"],
                      counter=row["counter"], cause=row["cause"], screening_id=row["screening_id"],
                      user=row["user_name"], reason=row["reason"], id=row["id"],
                      ack_ok=check_bool_or_none(row["ack_ok"]),
                      ack_reason=row["ack_reason"], applied_ms=row["applied_ms"], acked_at=row["acked_at"])


def alert_from_row(row) -> Alert:
    return Alert(id=row["id"], gate=row["gate"], time=row["time"], kind=row["kind"], detail=row["detail"],
                 resolved_at=row["resolved_at"])


def calibration_from_row(row) -> Calibration:
    return Calibration(id=row["id"], gate=row["gate"], time=row["time"], offset_c=row["offset_c"],
                       residual_sd_c=row["residual_sd_c"], samples=row["samples"], details=json.loads(row["details"]))


def user_from_row(row) -> User:
    return User(name=row["name"], role=row["role"], created_at=row["created_at"])
