"""The event store's gates group: the gates, their status history and their calibrations (``GateTables``; ``Store``
in store.py joins the groups over one connection and lock, docs/store.md).
"""

from __future__ import annotations

import json
import time as _time

from .checks import (
    check_gate,
    check_int,
    check_json,
    check_opt_float,
    check_text,
)
from .errors import StoreError
from .query import time_range as _range
from .query import time_s as _time_s
from .query import where_clause as _where
from .records import (
    Calibration,
    Gate,
    GateStatusRecord,
)
from .rows import calibration_from_row
from .tables import Tables, _Tx


class GateTables(Tables):
    """The gates, their status history and their calibrations."""

    def upsert_gate(self, gate_id: str, name: str = "", location: str = "") -> None:
        """Add a gate or update its name and location."""
        check_gate(gate_id)
        check_text(name, "gate name", limit=200)
        check_text(location, "gate location", limit=200)

        def write(tx: _Tx) -> None:
            tx.run("INSERT INTO gates (id, name, location, created_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET name = excluded.name, location = excluded.location",
                   (gate_id, name, location, _time.time()))
            tx.new_gates.add(gate_id)

        self._write(write)

    def gates(self) -> list[Gate]:
        """Every gate the store knows, by id."""
        return [Gate(r["id"], r["name"], r["location"])
                for r in self._read("SELECT id, name, location FROM gates ORDER BY id")]

    def record_gate_status(self, gate_id: str, time: float, online: bool, status: dict) -> int:
        """Add an entry to a gate's status history (e.g. each change of its retained status)."""
        check_gate(gate_id)
        t = _time_s(time)
        text = check_json(status, "status")

        def write(tx: _Tx) -> int:
            tx.gate(gate_id)
            return tx.one("INSERT INTO gate_status (gate, time, online, status) VALUES (?, ?, ?, ?) RETURNING id",
                          (gate_id, t, bool(online), text))["id"]

        return self._write(write)

    def gate_status_history(self, gate_id: str, since: float | None = None, until: float | None = None,
                            limit: int | None = None) -> list[GateStatusRecord]:
        """A gate's status entries in time order (the last ``limit`` of them if given)."""
        where: list[str] = ["gate = ?"]
        params: list[object] = [check_gate(gate_id)]
        _range(where, params, "time", since, until)
        sql = f"SELECT gate, time, online, status, id FROM gate_status{_where(where)} ORDER BY time DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(check_int(limit, "limit", 1))
        rows = self._read(sql, params)
        return [GateStatusRecord(r["gate"], r["time"], bool(r["online"]), json.loads(r["status"]))
                for r in reversed(rows)]

    def purge_gate_status(self, before: float) -> int:
        """Delete status history older than ``before``; how many entries went."""
        t = _time_s(before, "before")
        return self._write(lambda tx: tx.run("DELETE FROM gate_status WHERE time < ?", (t,)).rowcount)

    # ------------------------------------------------------------ calibrations

    def record_calibration(self, gate: str, time: float, offset_c: float, residual_sd_c: float, samples: int,
                           details: dict) -> int:
        """Store a site calibration of a gate; its id."""
        check_gate(gate)
        offset = check_opt_float(offset_c, "offset_c")
        sd = check_opt_float(residual_sd_c, "residual_sd_c")
        if offset is None or sd is None or sd < 0:
            raise StoreError("a calibration needs a finite offset_c and a non-negative residual_sd_c")
        params = (gate, _time_s(time), offset, sd, check_int(samples, "samples", 0), check_json(details, "details"))

        def write(tx: _Tx) -> int:
            tx.gate(gate)
            return tx.one("INSERT INTO calibrations (gate, time, offset_c, residual_sd_c, samples, details) "
                          "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", params)["id"]

        return self._write(write)

    def latest_calibration(self, gate: str) -> Calibration | None:
        rows = self._read("SELECT * FROM calibrations WHERE gate = ? ORDER BY time DESC, id DESC LIMIT 1",
                          (check_gate(gate),))
        return calibration_from_row(rows[0]) if rows else None

    def calibrations(self, gate: str | None = None) -> list[Calibration]:
        """Calibration history in time order."""
        where, params = ([], []) if gate is None else (["gate = ?"], [check_gate(gate)])
        return [calibration_from_row(r) for r in
                self._read(f"SELECT * FROM calibrations{_where(where)} ORDER BY time, id", params)]
