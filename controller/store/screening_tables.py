"""The event store's screenings group: the screenings, their queries and counts, and their snapshots' purge
(``ScreeningTables``; ``Store`` in store.py joins the groups over one connection and lock, docs/store.md).
"""

from __future__ import annotations

from controller.protocol.result import DECISIONS

from .checks import (
    check_gate,
    check_int,
    check_opt_float,
    check_text,
)
from .errors import StoreError
from .query import time_range as _range
from .query import time_s as _time_s
from .query import where_clause as _where
from .records import (
    Screening,
)
from .rows import SCREENING_COLUMNS, screening_from_row
from .tables import Tables, _Tx


class ScreeningTables(Tables):
    """The screenings, their queries and counts, and their snapshots' purge."""

    def record_screening(self, s: Screening) -> int:
        """Store a screening; its id. The same ``uid`` again returns the first one's id and changes nothing."""
        if not isinstance(s, Screening):
            raise StoreError(f"record_screening takes a Screening, not {type(s).__name__}")
        check_text(s.uid, "screening uid", empty=False, limit=200)
        check_gate(s.gate)
        if s.decision not in DECISIONS:
            raise StoreError(f"decision must be one of {', '.join(DECISIONS)}, not {s.decision!r}")
        if s.snapshot is not None and not isinstance(s.snapshot, (bytes, bytearray, memoryview)):
            raise StoreError(f"snapshot must be bytes (encode_snapshot) or None, not {type(s.snapshot).__name__}")
        params = (s.uid, s.gate, _time_s(s.time), s.decision, check_text(s.reason, "reason", limit=200),
                  check_int(s.track, "track", 0), check_opt_float(s.estimate_c, "estimate_c"),
                  check_opt_float(s.face_c, "face_c"),
                  check_opt_float(s.distance_m, "distance_m"), bool(s.reduced_accuracy),
                  check_int(s.boot, "boot", 0), check_int(s.sequence, "sequence", 0),
                  None if s.snapshot is None else bytes(s.snapshot), bool(s.drill))

        def write(tx: _Tx) -> int:
            tx.gate(s.gate)
            row = tx.one("INSERT INTO screenings (uid, gate, time, decision, reason, track, estimate_c, face_c, "
                         "distance_m, reduced_accuracy, boot, sequence, snapshot, drill) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO NOTHING RETURNING id",
                         params)
            if row is None:
                row = tx.one("SELECT id FROM screenings WHERE uid = ?", (s.uid,))
            return row["id"]

        return self._write(write)

    def screenings(self, gate: str | None = None, decision: str | None = None, since: float | None = None,
                   until: float | None = None, limit: int = 500, offset: int = 0, *,
                   snapshots: bool = True, newest_first: bool = False) -> list[Screening]:
        """Screenings in time order (oldest first unless ``newest_first``); ``snapshots=False`` skips the images."""
        where, params = self._screening_filter(gate, decision, since, until)
        order = "DESC" if newest_first else "ASC"
        columns = SCREENING_COLUMNS + (", snapshot" if snapshots else "")
        params += [check_int(limit, "limit", 1), check_int(offset, "offset", 0)]
        rows = self._read(f"SELECT {columns} FROM screenings{_where(where)} "
                          f"ORDER BY time {order}, id {order} LIMIT ? OFFSET ?", params)
        return [screening_from_row(r, snapshots) for r in rows]

    def iter_screenings(self, since: float | None = None, until: float | None = None, *, gate: str | None = None,
                        snapshots: bool = False, batch: int = 1000):
        """Every matching screening, oldest first, fetched ``batch`` rows at a time (for exports)."""
        where, params = self._screening_filter(gate, None, since, until)
        columns = SCREENING_COLUMNS + (", snapshot" if snapshots else "")
        last: tuple[float, int] | None = None
        while True:
            w, p = list(where), list(params)
            if last is not None:
                w.append("(time > ? OR (time = ? AND id > ?))")
                p += [last[0], last[0], last[1]]
            rows = self._read(f"SELECT {columns} FROM screenings{_where(w)} ORDER BY time, id LIMIT ?",
                              p + [check_int(batch, "batch", 1)])
            for r in rows:
                yield screening_from_row(r, snapshots)
            if len(rows) < batch:
                return
            last = (rows[-1]["time"], rows[-1]["id"])

    @staticmethod
    def _screening_filter(gate, decision, since, until) -> tuple[list[str], list]:
        where: list[str] = []
        params: list = []
        if gate is not None:
            where.append("gate = ?")
            params.append(check_gate(gate))
        if decision is not None:
            if decision not in DECISIONS:
                raise StoreError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
            where.append("decision = ?")
            params.append(decision)
        _range(where, params, "time", since, until)
        return where, params

    def with_snapshot(self, ids) -> set[int]:
        """Which of these screening ids still have a stored snapshot (the history's "view" button)."""
        ids = [check_int(i, "screening id") for i in ids]
        if not ids:
            return set()
        rows = self._read(f"SELECT id FROM screenings WHERE snapshot IS NOT NULL AND id IN "
                          f"({', '.join('?' * len(ids))})", ids)
        return {r["id"] for r in rows}

    def screening(self, id: int) -> Screening | None:
        """One screening with its snapshot, or None."""
        rows = self._read(f"SELECT {SCREENING_COLUMNS}, snapshot FROM screenings WHERE id = ?",
                          (check_int(id, "screening id"),))
        return screening_from_row(rows[0], True) if rows else None

    def screening_counts(self, since: float | None = None, until: float | None = None, *,
                         drills: bool = True) -> dict[str, dict[str, int]]:
        """``{gate: {decision: n}}`` over a time range, counted by the database (for reports); ``drills=False``
        leaves out a drill's screenings (the official figures)."""
        where, params = self._screening_filter(None, None, since, until)
        if not drills:
            where.append("NOT drill")
        out: dict[str, dict[str, int]] = {}
        for r in self._read(f"SELECT gate, decision, COUNT(*) AS n FROM screenings{_where(where)} "
                            "GROUP BY gate, decision", params):
            out.setdefault(r["gate"], {})[r["decision"]] = int(r["n"])
        return out

    def purge_snapshots(self, before: float) -> int:
        """Retention: drop the snapshots of screenings older than ``before``, keeping the rows; how many."""
        t = _time_s(before, "before")
        return self._write(lambda tx: tx.run(
            "UPDATE screenings SET snapshot = NULL WHERE time < ? AND snapshot IS NOT NULL", (t,)).rowcount)
