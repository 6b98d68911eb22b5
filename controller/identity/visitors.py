"""Registering a visitor: checks, the one-day pass, and the visitor log as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import math

from ..csv_safe import csv_cell
from . import checks, passes
from .checks import IdentityError
from .people_store import PeopleStore
from .records import Visitor

MAX_WINDOW_S = 24 * 3600  # a pass is for one day at most
LOG_HEADER = ("pass_id", "name", "id_last4", "host", "purpose", "valid_from", "valid_until", "issued_by",
              "issued_at", "revoked_at", "revoked_by")


def register(people: PeopleStore, key: bytes, *, name: str, id_last4: str, host: str, purpose: str,
             valid_from: float, valid_until: float, issued_by: str, now: float) -> tuple[Visitor, str]:
    """Record a visitor and sign their pass; (the visitor, the pass's QR text).

    Only the last 4 characters of the ID card are taken; a window must be at most one day long and not over."""
    start, end = math.floor(valid_from), math.ceil(valid_until)
    if end <= start:
        raise IdentityError("the pass's window must end after it starts")
    if end - start > MAX_WINDOW_S:
        raise IdentityError("a visitor pass is for one day at most (24 hours)")
    if end <= now:
        raise IdentityError("the pass's window is already over")
    visitor = Visitor(pass_id=passes.new_pass_id(), name=checks.text(name, "visitor name"),
                      id_last4=checks.id_last4(id_last4), host=checks.text(host, "host"),
                      purpose=checks.text(purpose, "purpose", limit=200), valid_from=float(start),
                      valid_until=float(end), issued_by=checks.text(issued_by, "issued by"), issued_at=now)
    token = passes.issue(key, visitor.pass_id, start, end)
    return people.add_visitor(visitor), token


def write_log(visitors: list[Visitor], tz: dt.tzinfo, out) -> None:
    """The visitor log as CSV, times as local ISO 8601 (the caller opens ``out`` with newline='')."""

    def when(t: float | None) -> str:
        return "" if t is None else dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")

    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(LOG_HEADER)
    for v in visitors:
        w.writerow([v.pass_id, csv_cell(v.name), v.id_last4, csv_cell(v.host), csv_cell(v.purpose),
                    when(v.valid_from), when(v.valid_until), csv_cell(v.issued_by), when(v.issued_at),
                    when(v.revoked_at), csv_cell(v.revoked_by or "")])
