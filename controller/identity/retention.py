"""How long each kind of record is kept: the ``[retention]`` table of controller.toml, and the purge.

```toml
[retention]            # days; 0 keeps that kind for ever
screenings = 0         # screenings and their disposed alarms (the daily reports count them)
snapshots = 30         # the thermal image of each screening (the same as [store] retention_days)
visitors = 90          # visitors, counted from the end of their pass's window
audit = 1095           # the identity audit: who read whose file, who exported what
people_inactive = 365  # people marked inactive on the roster, counted from their last change
cases = 1095           # fever cases and their steps, counted from when the case was closed
notifications = 90     # delivered messages (the outbox: sent-home notices name the pupil), from delivery
absences = 365         # absences and their follow-ups, from the day (a sick absence followed since stays)
manual_readings = 0    # hand-held readings (the reports count them, like screenings)
```

The controller applies it with the snapshot purge it already runs every hour
(``purge``, through ``PeopleStore.beside(store)`` and the case, outbox and
report stores beside it). Never purged: screenings with an alarm not yet
disposed, a case not closed, a notification not delivered (pending, or failed:
someone was not told).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .people_store import PeopleStore

KINDS = ("screenings", "snapshots", "visitors", "audit", "people_inactive", "cases", "notifications", "absences",
         "manual_readings")
MAX_DAYS = 36500
DAY_S = 86400


class RetentionError(ValueError):
    pass


@dataclass(frozen=True)
class Retention:
    """Days to keep each kind of record; 0: for ever."""

    screenings: int = 0
    snapshots: int = 30
    visitors: int = 90
    audit: int = 1095
    people_inactive: int = 365
    cases: int = 1095
    notifications: int = 90
    absences: int = 365
    manual_readings: int = 0


def from_table(table: object, *, snapshots: int | None = None) -> Retention:
    """A ``[retention]`` table, checked. ``snapshots``: ``[store] retention_days`` when the config gives it
    (giving both is an error: one setting, one place)."""
    if not isinstance(table, dict):
        raise RetentionError("[retention] must be a table")
    unknown = set(table) - set(KINDS)
    if unknown:
        raise RetentionError(f"unknown key(s) in [retention]: {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(KINDS)})")
    if snapshots is not None and "snapshots" in table:
        raise RetentionError("give retention.snapshots or store.retention_days, not both")
    values = {}
    for kind in KINDS:
        if kind not in table:
            continue
        v = table[kind]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_DAYS:
            raise RetentionError(f"retention.{kind} must be whole days 0..{MAX_DAYS} (0: keep for ever), not {v!r}")
        if kind == "snapshots" and v == 0:
            raise RetentionError("retention.snapshots must be 1 day or more")
        values[kind] = v
    if snapshots is not None:
        values["snapshots"] = snapshots
    return Retention(**values)


def purge(people: PeopleStore, retention: Retention, now: float, *, cases=None, outbox=None,
          reports=None) -> dict[str, int]:
    """Delete what has outlived its retention (snapshots are the event store's: ``Store.purge_snapshots``).
    ``cases``, ``outbox``, ``reports``: the CaseStore, StoreOutbox and ReportStore of the same database (a kind
    whose store is not given is left alone).

    Returns how many records of each kind went."""
    done: dict[str, int] = {}
    if retention.screenings:
        done["screenings"] = people.purge_screenings(now - retention.screenings * DAY_S)
    if retention.visitors:
        done["visitors"] = people.purge_visitors(now - retention.visitors * DAY_S)
    if retention.audit:
        done["audit"] = people.purge_reads(now - retention.audit * DAY_S)
    if retention.people_inactive:
        done["people_inactive"] = people.purge_inactive_people(now - retention.people_inactive * DAY_S)
    if retention.cases and cases is not None:
        done["cases"] = cases.purge_closed(now - retention.cases * DAY_S)
    if retention.notifications and outbox is not None:
        done["notifications"] = outbox.purge_delivered(now - retention.notifications * DAY_S)
    if retention.absences and reports is not None:
        # days are the school's local days; a day earlier than the cutoff's UTC date keeps at least N days
        cutoff = dt.datetime.fromtimestamp(now - (retention.absences + 1) * DAY_S, dt.UTC).date()
        done["absences"] = reports.purge_absences(cutoff.isoformat())
    if retention.manual_readings and reports is not None:
        done["manual_readings"] = reports.purge_manual_readings(now - retention.manual_readings * DAY_S)
    return done
