"""The controller's event store: every screening, alarm, door action and alert.

One ``Store`` wraps one database connection (SQLite or PostgreSQL, see
backends.py) behind a lock, so the controller's threads can share it. Every
write is one transaction: it happens whole or not at all. Writes that may be
repeated after a crash or a redelivered message are idempotent: a screening
by its ``uid``, an alarm by its screening, a door action by its gate and
counter.

Times are Unix seconds (UTC). ``since`` is inclusive and ``until`` exclusive
in every query. Invalid arguments raise ``StoreError`` (a ``ValueError``),
unknown ids ``NotFound``, an unreachable or locked database
``StoreUnavailable``.
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from controller.protocol.commands import MAX_COUNTER
from controller.protocol.result import DECISIONS, FEVER
from controller.protocol.topics import valid_gate_id

from . import passwords
from .backends import Backend, backend_for
from .errors import NotFound, StoreError
from .migrations import MIGRATIONS, Migration, apply_migrations, current_version
from .query import finite_number as _finite
from .query import time_range as _range
from .query import time_s as _time_s
from .query import where_clause as _where
from .records import (
    ALARM_ACKNOWLEDGED,
    ALARM_DISPOSED,
    ALARM_OPEN,
    ALARM_STATUSES,
    CAUSE_MANUAL,
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
from .table_store import LockedBackend

T = TypeVar("T")

MAX_TEXT = 4000  # reasons, notes, details: generous, but bounded
MAX_RESERVE = 1_000_000


def open_store(url: str) -> Store:
    """Open (creating and migrating as needed) the store a URL names.

    ``sqlite:///abs/path.db``, ``sqlite:rel/path.db`` or a plain file path:
    SQLite in WAL mode; ``postgresql://user@host:port/db``: PostgreSQL.
    """
    backend = backend_for(url)
    try:
        return Store(backend)
    except BaseException:
        backend.close()
        raise


# ---------------------------------------------------------------- argument checks

def _gate(gate: Any) -> str:
    if not valid_gate_id(gate):
        raise StoreError(f"invalid gate id {gate!r}: 1-32 lowercase letters, digits and hyphens")
    return gate


def _opt_time(t: Any, what: str) -> float | None:
    return None if t is None else _time_s(t, what)


def _int(v: Any, what: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise StoreError(f"{what} must be an integer, not {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise StoreError(f"{what} {v} is out of range {lo}..{hi}")
    return v


def _opt_float(v: Any, what: str) -> float | None:
    return None if v is None else _finite(v, what, "a finite number or None")


def _text(v: Any, what: str, *, empty: bool = True, limit: int = MAX_TEXT) -> str:
    if not isinstance(v, str):
        raise StoreError(f"{what} must be text, not {type(v).__name__}")
    if not empty and not v.strip():
        raise StoreError(f"{what} must not be empty")
    if len(v) > limit:
        raise StoreError(f"{what} is longer than {limit} characters")
    return v


def _opt_text(v: Any, what: str) -> str | None:
    return None if v is None else _text(v, what)


def _user_name(name: Any) -> str:
    _text(name, "user name", empty=False, limit=64)
    if name != name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise StoreError(f"user name {name!r} must not have surrounding spaces or control characters")
    return name


def _role(role: Any) -> str:
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _json(d: Any, what: str) -> str:
    if not isinstance(d, dict):
        raise StoreError(f"{what} must be a dict, not {type(d).__name__}")
    try:
        text = json.dumps(d, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not JSON-serialisable: {exc}") from None
    if len(text) > 100_000:
        raise StoreError(f"{what} is larger than 100,000 characters of JSON")
    return text


def _bool_or_none(v: Any) -> bool | None:
    return None if v is None else bool(v)


# ---------------------------------------------------------------- rows to records

_SCREENING_COLUMNS = ("id, uid, gate, time, decision, reason, track, estimate_c, face_c, distance_m, "
                      "reduced_accuracy, boot, sequence, drill")


def _screening(row, with_snapshot: bool) -> Screening:
    snap = row["snapshot"] if with_snapshot else None
    return Screening(uid=row["uid"], gate=row["gate"], time=row["time"], decision=row["decision"],
                     reason=row["reason"], track=row["track"], estimate_c=row["estimate_c"], face_c=row["face_c"],
                     distance_m=row["distance_m"], reduced_accuracy=bool(row["reduced_accuracy"]), boot=row["boot"],
                     sequence=row["sequence"], snapshot=None if snap is None else bytes(snap), id=row["id"],
                     drill=bool(row["drill"]))


def _alarm(row) -> Alarm:
    return Alarm(id=row["id"], screening_id=row["screening_id"], gate=row["gate"], time=row["time"],
                 status=row["status"], acknowledged_by=row["acknowledged_by"], acknowledged_at=row["acknowledged_at"],
                 recheck_c=row["recheck_c"], outcome=row["outcome"], disposed_by=row["disposed_by"],
                 disposed_at=row["disposed_at"], note=row["note"], drill=bool(row["drill"]))


def _door_action(row) -> DoorAction:
    return DoorAction(gate=row["gate"], time=row["time"], action=row["action"], arg=row["arg"],
                      counter=row["counter"], cause=row["cause"], screening_id=row["screening_id"],
                      user=row["user_name"], reason=row["reason"], id=row["id"], ack_ok=_bool_or_none(row["ack_ok"]),
                      ack_reason=row["ack_reason"], applied_ms=row["applied_ms"], acked_at=row["acked_at"])


def _alert(row) -> Alert:
    return Alert(id=row["id"], gate=row["gate"], time=row["time"], kind=row["kind"], detail=row["detail"],
                 resolved_at=row["resolved_at"])


def _calibration(row) -> Calibration:
    return Calibration(id=row["id"], gate=row["gate"], time=row["time"], offset_c=row["offset_c"],
                       residual_sd_c=row["residual_sd_c"], samples=row["samples"], details=json.loads(row["details"]))


def _user(row) -> User:
    return User(name=row["name"], role=row["role"], created_at=row["created_at"])


def _bump_epoch(tx: _Tx, name: str) -> int:
    """Raise a user name's session epoch by one (from 0 if it had none); the new epoch."""
    return int(tx.one("INSERT INTO user_epochs (name, epoch) VALUES (?, 1) ON CONFLICT (name) "
                      "DO UPDATE SET epoch = user_epochs.epoch + 1 RETURNING epoch", (name,))["epoch"])


class _Tx:
    """One write transaction: ``run`` a statement; ``gate`` makes sure a gate row exists."""

    def __init__(self, run: Callable, store: Store):
        self.run = run
        self._store = store
        self.new_gates: set[str] = set()

    def one(self, sql: str, params: tuple = ()):
        return self.run(sql, params).fetchone()

    def gate(self, gate: str) -> None:
        # Records may name a gate before anyone called upsert_gate (a registry
        # loaded later, a gate added while running): give it a bare row.
        if gate not in self._store._known_gates and gate not in self.new_gates:
            self.run("INSERT INTO gates (id, name, location, created_at) VALUES (?, '', '', ?) "
                     "ON CONFLICT (id) DO NOTHING", (gate, _time.time()))
            self.new_gates.add(gate)


class Store(LockedBackend):
    """The event store. Safe to share between threads; see the module docstring."""

    def __init__(self, backend: Backend, *, migrations: tuple[Migration, ...] = MIGRATIONS):
        super().__init__(backend)
        self._known_gates: set[str] = set()
        self.migrations_applied = apply_migrations(backend, migrations)

    # ------------------------------------------------------------ plumbing (dialect, _read, close: LockedBackend's)

    @property
    def description(self) -> str:
        """Which database, without any password (for logs and status)."""
        return self._db.description

    def schema_version(self) -> int:
        with self._lock:
            self._check_open()
            return current_version(self._db)

    def _write(self, fn: Callable[[_Tx], T]) -> T:
        with self._lock:
            self._check_open()
            tx = None
            with self._db.transaction() as run:
                tx = _Tx(run, self)
                result = fn(tx)
            self._known_gates |= tx.new_gates
            return result

    @contextmanager
    def atomic(self) -> Iterator[None]:
        # As LockedBackend.atomic; a gate row written inside is known only once the whole has committed.
        with self._lock:
            known = set(self._known_gates)
            try:
                with super().atomic():
                    yield
            except BaseException:
                self._known_gates = known
                raise

    # ------------------------------------------------------------ gates

    def upsert_gate(self, gate_id: str, name: str = "", location: str = "") -> None:
        """Add a gate or update its name and location."""
        _gate(gate_id)
        _text(name, "gate name", limit=200)
        _text(location, "gate location", limit=200)

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
        _gate(gate_id)
        t = _time_s(time)
        text = _json(status, "status")

        def write(tx: _Tx) -> int:
            tx.gate(gate_id)
            return tx.one("INSERT INTO gate_status (gate, time, online, status) VALUES (?, ?, ?, ?) RETURNING id",
                          (gate_id, t, bool(online), text))["id"]

        return self._write(write)

    def gate_status_history(self, gate_id: str, since: float | None = None, until: float | None = None,
                            limit: int | None = None) -> list[GateStatusRecord]:
        """A gate's status entries in time order (the last ``limit`` of them if given)."""
        where: list[str] = ["gate = ?"]
        params: list[object] = [_gate(gate_id)]
        _range(where, params, "time", since, until)
        sql = f"SELECT gate, time, online, status, id FROM gate_status{_where(where)} ORDER BY time DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(_int(limit, "limit", 1))
        rows = self._read(sql, params)
        return [GateStatusRecord(r["gate"], r["time"], bool(r["online"]), json.loads(r["status"]))
                for r in reversed(rows)]

    def purge_gate_status(self, before: float) -> int:
        """Delete status history older than ``before``; how many entries went."""
        t = _time_s(before, "before")
        return self._write(lambda tx: tx.run("DELETE FROM gate_status WHERE time < ?", (t,)).rowcount)

    # ------------------------------------------------------------ screenings

    def record_screening(self, s: Screening) -> int:
        """Store a screening; its id. The same ``uid`` again returns the first one's id and changes nothing."""
        if not isinstance(s, Screening):
            raise StoreError(f"record_screening takes a Screening, not {type(s).__name__}")
        _text(s.uid, "screening uid", empty=False, limit=200)
        _gate(s.gate)
        if s.decision not in DECISIONS:
            raise StoreError(f"decision must be one of {', '.join(DECISIONS)}, not {s.decision!r}")
        if s.snapshot is not None and not isinstance(s.snapshot, (bytes, bytearray, memoryview)):
            raise StoreError(f"snapshot must be bytes (encode_snapshot) or None, not {type(s.snapshot).__name__}")
        params = (s.uid, s.gate, _time_s(s.time), s.decision, _text(s.reason, "reason", limit=200),
                  _int(s.track, "track", 0), _opt_float(s.estimate_c, "estimate_c"), _opt_float(s.face_c, "face_c"),
                  _opt_float(s.distance_m, "distance_m"), bool(s.reduced_accuracy),
                  _int(s.boot, "boot", 0), _int(s.sequence, "sequence", 0),
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
        columns = _SCREENING_COLUMNS + (", snapshot" if snapshots else "")
        params += [_int(limit, "limit", 1), _int(offset, "offset", 0)]
        rows = self._read(f"SELECT {columns} FROM screenings{_where(where)} "
                          f"ORDER BY time {order}, id {order} LIMIT ? OFFSET ?", params)
        return [_screening(r, snapshots) for r in rows]

    def iter_screenings(self, since: float | None = None, until: float | None = None, *, gate: str | None = None,
                        snapshots: bool = False, batch: int = 1000):
        """Every matching screening, oldest first, fetched ``batch`` rows at a time (for exports)."""
        where, params = self._screening_filter(gate, None, since, until)
        columns = _SCREENING_COLUMNS + (", snapshot" if snapshots else "")
        last: tuple[float, int] | None = None
        while True:
            w, p = list(where), list(params)
            if last is not None:
                w.append("(time > ? OR (time = ? AND id > ?))")
                p += [last[0], last[0], last[1]]
            rows = self._read(f"SELECT {columns} FROM screenings{_where(w)} ORDER BY time, id LIMIT ?",
                              p + [_int(batch, "batch", 1)])
            for r in rows:
                yield _screening(r, snapshots)
            if len(rows) < batch:
                return
            last = (rows[-1]["time"], rows[-1]["id"])

    @staticmethod
    def _screening_filter(gate, decision, since, until) -> tuple[list[str], list]:
        where: list[str] = []
        params: list = []
        if gate is not None:
            where.append("gate = ?")
            params.append(_gate(gate))
        if decision is not None:
            if decision not in DECISIONS:
                raise StoreError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
            where.append("decision = ?")
            params.append(decision)
        _range(where, params, "time", since, until)
        return where, params

    def with_snapshot(self, ids) -> set[int]:
        """Which of these screening ids still have a stored snapshot (the history's "view" button)."""
        ids = [_int(i, "screening id") for i in ids]
        if not ids:
            return set()
        rows = self._read(f"SELECT id FROM screenings WHERE snapshot IS NOT NULL AND id IN "
                          f"({', '.join('?' * len(ids))})", ids)
        return {r["id"] for r in rows}

    def screening(self, id: int) -> Screening | None:
        """One screening with its snapshot, or None."""
        rows = self._read(f"SELECT {_SCREENING_COLUMNS}, snapshot FROM screenings WHERE id = ?",
                          (_int(id, "screening id"),))
        return _screening(rows[0], True) if rows else None

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

    # ------------------------------------------------------------ alarms

    def open_alarm(self, screening_id: int, gate: str, time: float) -> int:
        """The alarm of a FEVER screening, opened now or earlier (one per screening); its id. A drill's
        screening raises a drill's alarm."""
        sid = _int(screening_id, "screening id")
        _gate(gate)
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
        aid = _int(alarm_id, "alarm id")
        _text(user, "user", empty=False, limit=64)
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
        aid = _int(alarm_id, "alarm id")
        if outcome not in OUTCOMES:
            raise StoreError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        recheck = _opt_float(recheck_c, "recheck_c")
        if recheck is not None and not RECHECK_MIN_C <= recheck <= RECHECK_MAX_C:
            raise StoreError(f"re-check reading {recheck} degC is outside {RECHECK_MIN_C:g}-{RECHECK_MAX_C:g} degC")
        _text(user, "user", empty=False, limit=64)
        _text(note, "note")
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
            params.append(_gate(gate))
        _range(where, params, "time", since, until)
        return [_alarm(r) for r in self._read(f"SELECT * FROM alarms{_where(where)} ORDER BY time, id", params)]

    def alarm(self, id: int) -> Alarm | None:
        rows = self._read("SELECT * FROM alarms WHERE id = ?", (_int(id, "alarm id"),))
        return _alarm(rows[0]) if rows else None

    def _changed_alarm(self, aid: int) -> Alarm:
        """The alarm a write just changed (NotFound if it is gone)."""
        alarm = self.alarm(aid)
        if alarm is None:
            raise NotFound(f"no alarm {aid}")
        return alarm

    # ------------------------------------------------------------ door actions and counters

    def reserve_counters(self, gate: str, n: int, *, above: int = 0) -> int:
        """Raise the gate's persisted command counter by ``n``; the first of the block [first, first + n).

        Strictly increasing across restarts and between processes sharing the
        database; the first block starts at 1. Counters of a block that is
        never used are simply skipped (the gate only needs them to grow).
        ``above``: the block starts above this counter even if the persisted
        one is lower (a gate has authenticated counters up to it, from
        someone else: docs/protocol.md, "Acks").
        """
        _gate(gate)
        _int(n, "n", 1, MAX_RESERVE)
        _int(above, "above", 0, MAX_COUNTER)

        def write(tx: _Tx) -> int:
            tx.gate(gate)
            tx.run("INSERT INTO gate_counters (gate, next_counter) VALUES (?, 1) ON CONFLICT (gate) DO NOTHING",
                   (gate,))
            after = tx.one("UPDATE gate_counters SET next_counter = CASE WHEN next_counter > ? THEN next_counter "
                           "ELSE ? END + ? WHERE gate = ? RETURNING next_counter",
                           (above, above + 1, n, gate))["next_counter"]
            if after - 1 > MAX_COUNTER:
                raise StoreError(f"gate {gate}: command counters exhausted (beyond 2**53-1)")
            return after - n

        return self._write(write)

    def record_door_action(self, a: DoorAction) -> int:
        """Store a command sent to a gate; its id. The same gate and counter again returns the same id.

        A manual action needs a reason. Recording a *different* action under a
        counter already used is refused: a counter is never reused.
        """
        if not isinstance(a, DoorAction):
            raise StoreError(f"record_door_action takes a DoorAction, not {type(a).__name__}")
        _gate(a.gate)
        _text(a.action, "action", empty=False, limit=32)
        if a.cause not in CAUSES:
            raise StoreError(f"cause must be one of {', '.join(CAUSES)}, not {a.cause!r}")
        if a.cause == CAUSE_MANUAL and (a.reason is None or not a.reason.strip()):
            raise StoreError("a manual door action needs a reason")
        params = (a.gate, _time_s(a.time), a.action, _int(a.arg, "arg", 0), _int(a.counter, "counter", 1, MAX_COUNTER),
                  a.cause, None if a.screening_id is None else _int(a.screening_id, "screening id"),
                  None if a.user is None else _text(a.user, "user", limit=64), _opt_text(a.reason, "reason"),
                  _bool_or_none(a.ack_ok), _opt_text(a.ack_reason, "ack reason"),
                  None if a.applied_ms is None else _int(a.applied_ms, "applied_ms"), _opt_time(a.acked_at, "acked_at"))

        def write(tx: _Tx) -> int:
            tx.gate(a.gate)
            row = tx.one("INSERT INTO door_actions (gate, time, action, arg, counter, cause, screening_id, user_name, "
                         "reason, ack_ok, ack_reason, applied_ms, acked_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT (gate, counter) DO NOTHING RETURNING id", params)
            if row is not None:
                return row["id"]
            old = tx.one("SELECT id, action, arg, cause, screening_id FROM door_actions WHERE gate = ? AND counter = ?",
                         (a.gate, a.counter))
            if (old["action"], old["arg"], old["cause"], old["screening_id"]) != (a.action, a.arg, a.cause,
                                                                                 a.screening_id):
                raise StoreError(f"gate {a.gate}: counter {a.counter} was already used for another action "
                                 f"({old['action']} {old['arg']}): counters are never reused")
            return old["id"]

        return self._write(write)

    def record_door_ack(self, gate: str, counter: int, ok: bool, reason: str, applied_ms: int, time: float) -> bool:
        """Match a gate's ack to its command; False if there is no such command.

        Only the first ack of a command is kept (a redelivered ack changes nothing, and returns True).
        """
        _gate(gate)
        _int(counter, "counter", 1, MAX_COUNTER)
        params = (bool(ok), _text(reason, "ack reason", limit=64), _int(applied_ms, "applied_ms"), _time_s(time),
                  gate, counter)

        def write(tx: _Tx) -> bool:
            updated = tx.run("UPDATE door_actions SET ack_ok = ?, ack_reason = ?, applied_ms = ?, acked_at = ? "
                             "WHERE gate = ? AND counter = ? AND acked_at IS NULL", params).rowcount
            if updated:
                return True
            return tx.one("SELECT id FROM door_actions WHERE gate = ? AND counter = ?", (gate, counter)) is not None

        return self._write(write)

    def door_actions(self, gate: str | None = None, since: float | None = None,
                     until: float | None = None) -> list[DoorAction]:
        """Door actions in the order they were sent."""
        where: list[str] = []
        params: list = []
        if gate is not None:
            where.append("gate = ?")
            params.append(_gate(gate))
        _range(where, params, "time", since, until)
        return [_door_action(r) for r in
                self._read(f"SELECT * FROM door_actions{_where(where)} ORDER BY time, id", params)]

    def unacked_door_actions(self, sent_before: float, sent_since: float | None = None) -> list[DoorAction]:
        """Commands sent before ``sent_before`` (and since ``sent_since``) that no ack has answered."""
        where, params = ["acked_at IS NULL"], []
        _range(where, params, "time", sent_since, sent_before)
        return [_door_action(r) for r in
                self._read(f"SELECT * FROM door_actions{_where(where)} ORDER BY time, id", params)]

    # ------------------------------------------------------------ alerts

    def record_alert(self, gate: str | None, time: float, kind: str, detail: str) -> int:
        """Raise something a person must act on (``gate`` None for the whole site); its id."""
        if gate is not None:
            _gate(gate)
        params = (gate, _time_s(time), _text(kind, "alert kind", empty=False, limit=64), _text(detail, "alert detail"))

        def write(tx: _Tx) -> int:
            if gate is not None:
                tx.gate(gate)
            return tx.one("INSERT INTO alerts (gate, time, kind, detail) VALUES (?, ?, ?, ?) RETURNING id",
                          params)["id"]

        return self._write(write)

    def resolve_alert(self, id: int, time: float) -> None:
        """Mark an alert resolved (the first resolution time is kept)."""
        aid = _int(id, "alert id")
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
            params.append(_gate(gate))
        if kind is not None:
            where.append("kind = ?")
            params.append(_text(kind, "alert kind"))
        return [_alert(r) for r in self._read(f"SELECT * FROM alerts{_where(where)} ORDER BY time, id", params)]

    # ------------------------------------------------------------ calibrations

    def record_calibration(self, gate: str, time: float, offset_c: float, residual_sd_c: float, samples: int,
                           details: dict) -> int:
        """Store a site calibration of a gate; its id."""
        _gate(gate)
        offset = _opt_float(offset_c, "offset_c")
        sd = _opt_float(residual_sd_c, "residual_sd_c")
        if offset is None or sd is None or sd < 0:
            raise StoreError("a calibration needs a finite offset_c and a non-negative residual_sd_c")
        params = (gate, _time_s(time), offset, sd, _int(samples, "samples", 0), _json(details, "details"))

        def write(tx: _Tx) -> int:
            tx.gate(gate)
            return tx.one("INSERT INTO calibrations (gate, time, offset_c, residual_sd_c, samples, details) "
                          "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", params)["id"]

        return self._write(write)

    def latest_calibration(self, gate: str) -> Calibration | None:
        rows = self._read("SELECT * FROM calibrations WHERE gate = ? ORDER BY time DESC, id DESC LIMIT 1",
                          (_gate(gate),))
        return _calibration(rows[0]) if rows else None

    def calibrations(self, gate: str | None = None) -> list[Calibration]:
        """Calibration history in time order."""
        where, params = ([], []) if gate is None else (["gate = ?"], [_gate(gate)])
        return [_calibration(r) for r in
                self._read(f"SELECT * FROM calibrations{_where(where)} ORDER BY time, id", params)]

    # ------------------------------------------------------------ users and audit

    def add_user(self, name: str, role: str, password: str) -> User:
        """A new console user (StoreError if the name is taken). Only a scrypt hash is stored."""
        _user_name(name)
        _role(role)
        hashed = self._hash(password)  # slow on purpose: outside the lock
        now = _time.time()

        def write(tx: _Tx) -> None:
            if tx.one("INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                      "ON CONFLICT (name) DO NOTHING RETURNING name", (name, role, hashed, now, now)) is None:
                raise StoreError(f"user {name!r} already exists")

            _bump_epoch(tx, name)  # a name used before starts at a new epoch: its old sessions stay dead

        self._write(write)
        return User(name, role, now)

    @staticmethod
    def _hash(password: str) -> str:
        try:
            return passwords.hash_password(password)
        except ValueError as exc:
            raise StoreError(str(exc)) from None

    def verify_user(self, name: str, password: str) -> User | None:
        """The user if the password is right, else None. Costs one scrypt whether or not the name exists."""
        rows = self._read("SELECT name, role, password_hash, created_at FROM users WHERE name = ?",
                          (name if isinstance(name, str) else "",))
        stored = rows[0]["password_hash"] if rows else passwords.dummy_hash()
        ok = passwords.verify_password(password if isinstance(password, str) else "", stored)
        return _user(rows[0]) if ok and rows else None

    def users(self) -> list[User]:
        return [_user(r) for r in self._read("SELECT name, role, created_at FROM users ORDER BY name")]

    def set_password(self, name: str, password: str) -> None:
        """A new password; it ends every session of the user (their epoch grows)."""
        _user_name(name)
        hashed = self._hash(password)
        self._update_user(name, "password_hash = ?", (hashed,), new_epoch=True)

    def set_role(self, name: str, role: str) -> None:
        _user_name(name)
        self._update_user(name, "role = ?", (_role(role),))

    def _update_user(self, name: str, assignment: str, values: tuple, *, new_epoch: bool = False) -> None:
        def write(tx: _Tx) -> None:
            if not tx.run(f"UPDATE users SET {assignment}, updated_at = ? WHERE name = ?",
                          values + (_time.time(), name)).rowcount:
                raise NotFound(f"no user {name!r}")
            if new_epoch:
                _bump_epoch(tx, name)

        self._write(write)

    def remove_user(self, name: str) -> None:
        """Remove a user; it ends every session of theirs (their epoch grows and outlives them)."""
        _user_name(name)

        def write(tx: _Tx) -> None:
            if not tx.run("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise NotFound(f"no user {name!r}")
            _bump_epoch(tx, name)

        self._write(write)

    def set_user_classes(self, name: str, classes) -> list[str]:
        """The classes a teacher account is limited to (replacing any before); the classes, sorted. Class names
        as on the roster; a class teacher with none sees nothing."""
        _user_name(name)
        if isinstance(classes, str):
            raise StoreError("classes must be a list of class names, not one string")
        names = sorted({_text(c, "class name", empty=False, limit=100).strip() for c in classes})
        if any(not c for c in names):
            raise StoreError("a class name cannot be blank")

        def write(tx: _Tx) -> None:
            if tx.one("SELECT 1 AS x FROM users WHERE name = ?", (name,)) is None:
                raise NotFound(f"no user {name!r}")
            tx.run("DELETE FROM user_classes WHERE user_name = ?", (name,))
            for c in names:
                tx.run("INSERT INTO user_classes (user_name, class_name) VALUES (?, ?)", (name, c))

        self._write(write)
        return names

    def user_classes(self, name: str) -> list[str]:
        """The classes a teacher account may see, sorted (empty for a name without any)."""
        return [r["class_name"] for r in self._read(
            "SELECT class_name FROM user_classes WHERE user_name = ? ORDER BY class_name",
            (name if isinstance(name, str) else "",))]

    def end_sessions(self, name: str) -> int:
        """End every console session of a user, wherever it was started; the user's new epoch."""
        _user_name(name)

        def write(tx: _Tx) -> int:
            if tx.one("SELECT name FROM users WHERE name = ?", (name,)) is None:
                raise NotFound(f"no user {name!r}")
            return _bump_epoch(tx, name)

        return self._write(write)

    def user_session_state(self, name: str) -> tuple[str, int] | None:
        """(role, epoch) of a user, or None if there is no such user: what a console session is checked against."""
        if not isinstance(name, str):
            return None
        rows = self._read("SELECT u.role AS role, COALESCE(e.epoch, 0) AS epoch FROM users u "
                          "LEFT JOIN user_epochs e ON e.name = u.name WHERE u.name = ?", (name,))
        return (rows[0]["role"], int(rows[0]["epoch"])) if rows else None

    # ------------------------------------------------------------ doors held locked

    def set_door_hold(self, gate: str, user: str, reason: str, time: float) -> None:
        """Hold a gate's door locked until released (replaces an earlier hold of that gate)."""
        params = (_gate(gate), _text(user, "user", empty=False, limit=64), _text(reason, "reason", empty=False),
                  _time_s(time))

        def write(tx: _Tx) -> None:
            tx.gate(gate)
            tx.run("INSERT INTO door_holds (gate, user_name, reason, time) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (gate) DO UPDATE SET user_name = excluded.user_name, reason = excluded.reason, "
                   "time = excluded.time", params)

        self._write(write)

    def clear_door_hold(self, gate: str) -> bool:
        """Release a held gate; whether it was held."""
        _gate(gate)
        return self._write(lambda tx: tx.run("DELETE FROM door_holds WHERE gate = ?", (gate,)).rowcount > 0)

    def door_holds(self) -> list[DoorHold]:
        """Every gate held locked now, by gate id."""
        return [DoorHold(r["gate"], r["user_name"], r["reason"], r["time"])
                for r in self._read("SELECT * FROM door_holds ORDER BY gate")]

    def record_audit(self, user: str | None, time: float, action: str, detail: dict) -> int:
        """Note who did what (logins, overrides, dispositions, user changes); its id."""
        params = (None if user is None else _text(user, "user", limit=64), _time_s(time),
                  _text(action, "audit action", empty=False, limit=64), _json(detail, "audit detail"))
        return self._write(lambda tx: tx.one(
            "INSERT INTO audit (user_name, time, action, detail) VALUES (?, ?, ?, ?) RETURNING id", params)["id"])

    def audit(self, since: float | None = None, until: float | None = None) -> list[AuditEntry]:
        """The audit trail in time order."""
        where: list[str] = []
        params: list = []
        _range(where, params, "time", since, until)
        return [AuditEntry(r["id"], r["user_name"], r["time"], r["action"], json.loads(r["detail"]))
                for r in self._read(f"SELECT * FROM audit{_where(where)} ORDER BY time, id", params)]
