"""The event store's alarms group: the fever alarms (open, acknowledged, disposed) and the alerts for people
(``AlarmTables``; ``Store`` in store.py joins the groups over one connection and lock, docs/store.md).
"""

from __future__ import annotations

from controller.protocol.result import FEVER

from .checks import (
    check_gate,
    check_int,
    check_opt_float,
    check_text,
)
from .errors import NotFound, StoreError
from .query import time_range as _range
from .query import time_s as _time_s
from .query import where_clause as _where
from .records import (
    ALARM_ACKNOWLEDGED,
    ALARM_DISPOSED,
    ALARM_OPEN,
    ALARM_STATUSES,
    OUTCOMES,
    RECHECK_MAX_C,
    RECHECK_MIN_C,
    Alarm,
    Alert,
)
from .rows import alarm_from_row, alert_from_row
from .tables import Tables, _Tx


class AlarmTables(Tables):
    """The fever alarms (open, acknowledged, disposed) and the alerts for people."""

    def open_alarm(self, screening_id: int, gate: str, time: float) -> int:
        """The alarm of a FEVER screening, opened now or earlier (one per screening); its id. A drill's
        screening raises a drill's alarm."""
        sid = check_int(screening_id, "screening id")
        check_gate(gate)
        t = _time_s(time)

        def write(tx: _Tx) -> int:
            s = tx.one("SELECT gate, decision, drill FROM screenings WHERE id = ?", (sid,))
            if s is None:
                raise NotFound(f"no screening {sid} to raise an alarm for")
            if s["gate"] != gate:
                raise StoreError(f"screening {sid} is from gate {s['gate']!r}, not {gate!r}")
            if s["decision"] != FEVER:
                raise StoreError(f"screening {sid} is {s['decision']}, not FEVER: no alarm")
            row = tx.one("INSERT INTO alarms (screening_id, gate, time, status, drill) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (screening_id) DO NOTHING RETURNING id",
                         (sid, gate, t, ALARM_OPEN, bool(s["drill"])))
            if row is None:
                row = tx.one("SELECT id FROM alarms WHERE screening_id = ?", (sid,))
            return row["id"]

        return self._write(write)

    def acknowledge_alarm(self, alarm_id: int, user: str, time: float) -> Alarm:
        """A guard has seen the alarm. Only the first acknowledgement counts; the alarm as it now is."""
        aid = check_int(alarm_id, "alarm id")
        check_text(user, "user", empty=False, limit=64)
        t = _time_s(time)

        def write(tx: _Tx) -> None:
            row = tx.one("SELECT status FROM alarms WHERE id = ?", (aid,))
            if row is None:
                raise NotFound(f"no alarm {aid}")
            if row["status"] == ALARM_OPEN:
                tx.run("UPDATE alarms SET status = ?, acknowledged_by = ?, acknowledged_at = ? WHERE id = ?",
                       (ALARM_ACKNOWLEDGED, user, t, aid))

        self._write(write)
        return self._changed_alarm(aid)

    def dispose_alarm(self, alarm_id: int, *, recheck_c: float | None, outcome: str, user: str, time: float,
                      note: str = "") -> Alarm:
        """The doctor's disposition: re-check reading (30-45 degC, or None), outcome, who, when.

        Acknowledges the alarm too if nobody had. A disposed alarm cannot be
        disposed again (StoreError): the record says what was decided.
        """
        aid = check_int(alarm_id, "alarm id")
        if outcome not in OUTCOMES:
            raise StoreError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        recheck = check_opt_float(recheck_c, "recheck_c")
        if recheck is not None and not RECHECK_MIN_C <= recheck <= RECHECK_MAX_C:
            raise StoreError(f"re-check reading {recheck} degC is outside {RECHECK_MIN_C:g}-{RECHECK_MAX_C:g} degC")
        check_text(user, "user", empty=False, limit=64)
        check_text(note, "note")
        t = _time_s(time)

        def write(tx: _Tx) -> None:
            row = tx.one("SELECT status, disposed_by, disposed_at FROM alarms WHERE id = ?", (aid,))
            if row is None:
                raise NotFound(f"no alarm {aid}")
            if row["status"] == ALARM_DISPOSED:
                raise StoreError(f"alarm {aid} was already disposed by {row['disposed_by']}")
            tx.run("UPDATE alarms SET status = ?, recheck_c = ?, outcome = ?, disposed_by = ?, disposed_at = ?, "
                   "note = ?, acknowledged_by = COALESCE(acknowledged_by, ?), "
                   "acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?",
                   (ALARM_DISPOSED, recheck, outcome, user, t, note, user, t, aid))

        self._write(write)
        return self._changed_alarm(aid)

    def alarms(self, status: str | None = None, gate: str | None = None, since: float | None = None,
               until: float | None = None, *, drills: bool = True) -> list[Alarm]:
        """Alarms in time order, by status, gate and the time they were raised; ``drills=False`` leaves out a
        drill's alarms (the official figures)."""
        where: list[str] = [] if drills else ["NOT drill"]
        params: list = []
        if status is not None:
            if status not in ALARM_STATUSES:
                raise StoreError(f"alarm status must be one of {', '.join(ALARM_STATUSES)}, not {status!r}")
            where.append("status = ?")
            params.append(status)
        if gate is not None:
            where.append("gate = ?")
            params.append(check_gate(gate))
        _range(where, params, "time", since, until)
        return [alarm_from_row(r) for r in self._read(f"SELECT * FROM alarms{_where(where)} ORDER BY time, id", params)]

    def alarm(self, id: int) -> Alarm | None:
        rows = self._read("SELECT * FROM alarms WHERE id = ?", (check_int(id, "alarm id"),))
        return alarm_from_row(rows[0]) if rows else None

    def _changed_alarm(self, aid: int) -> Alarm:
        """The alarm a write just changed (NotFound if it is gone)."""
        alarm = self.alarm(aid)
        if alarm is None:
            raise NotFound(f"no alarm {aid}")
        return alarm

    # ------------------------------------------------------------ alerts

    def record_alert(self, gate: str | None, time: float, kind: str, detail: str) -> int:
        """Raise something a person must act on (``gate`` None for the whole site); its id."""
        if gate is not None:
            check_gate(gate)
        params = (gate, _time_s(time), check_text(kind, "alert kind", empty=False, limit=64),
                  check_text(detail, "alert detail"))

        def write(tx: _Tx) -> int:
            if gate is not None:
                tx.gate(gate)
            return tx.one("INSERT INTO alerts (gate, time, kind, detail) VALUES (?, ?, ?, ?) RETURNING id",
                          params)["id"]

        return self._write(write)

    def resolve_alert(self, id: int, time: float) -> None:
        """Mark an alert resolved (the first resolution time is kept)."""
        aid = check_int(id, "alert id")
        t = _time_s(time)

        def write(tx: _Tx) -> None:
            if tx.one("SELECT id FROM alerts WHERE id = ?", (aid,)) is None:
                raise NotFound(f"no alert {aid}")
            tx.run("UPDATE alerts SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL", (t, aid))

        self._write(write)

    def alerts(self, open_only: bool = True, *, gate: str | None = None, kind: str | None = None) -> list[Alert]:
        """Alerts in time order: the unresolved ones, or all with ``open_only=False``."""
        where: list[str] = []
        params: list = []
        if open_only:
            where.append("resolved_at IS NULL")
        if gate is not None:
            where.append("gate = ?")
            params.append(check_gate(gate))
        if kind is not None:
            where.append("kind = ?")
            params.append(check_text(kind, "alert kind"))
        return [alert_from_row(r) for r in self._read(f"SELECT * FROM alerts{_where(where)} ORDER BY time, id", params)]
