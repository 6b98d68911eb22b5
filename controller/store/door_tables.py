"""The event store's doors group: the door commands' counters, the door actions and their acks, and the gates held
locked (``DoorTables``; ``Store`` in store.py joins the groups over one connection and lock, docs/store.md).
"""

from __future__ import annotations

from controller.protocol.commands import MAX_COUNTER

from .checks import (
    MAX_RESERVE,
    check_bool_or_none,
    check_gate,
    check_int,
    check_opt_text,
    check_opt_time,
    check_text,
)
from .errors import StoreError
from .query import time_range as _range
from .query import time_s as _time_s
from .query import where_clause as _where
from .records import (
    CAUSE_MANUAL,
    CAUSES,
    DoorAction,
    DoorHold,
)
from .rows import door_action_from_row
from .tables import Tables, _Tx


class DoorTables(Tables):
    """The door commands' counters, the door actions and their acks, and the gates held locked."""

    def reserve_counters(self, gate: str, n: int, *, above: int = 0) -> int:
        """Raise the gate's persisted command counter by ``n``; the first of the block [first, first + n).

        Strictly increasing across restarts and between processes sharing the
        database; the first block starts at 1. Counters of a block that is
        never used are simply skipped (the gate only needs them to grow).
        ``above``: the block starts above this counter even if the persisted
        one is lower (a gate has authenticated counters up to it, from
        someone else: docs/protocol.md, "Acks").
        """
        check_gate(gate)
        check_int(n, "n", 1, MAX_RESERVE)
        check_int(above, "above", 0, MAX_COUNTER)

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
        check_gate(a.gate)
        check_text(a.action, "action", empty=False, limit=32)
        if a.cause not in CAUSES:
            raise StoreError(f"cause must be one of {', '.join(CAUSES)}, not {a.cause!r}")
        if a.cause == CAUSE_MANUAL and (a.reason is None or not a.reason.strip()):
            raise StoreError("a manual door action needs a reason")
        params = (a.gate, _time_s(a.time), a.action, check_int(a.arg, "arg", 0),
                  check_int(a.counter, "counter", 1, MAX_COUNTER),
                  a.cause, None if a.screening_id is None else check_int(a.screening_id, "screening id"),
                  None if a.user is None else check_text(a.user, "user", limit=64), check_opt_text(a.reason, "reason"),
                  check_bool_or_none(a.ack_ok), check_opt_text(a.ack_reason, "ack reason"),
                  None if a.applied_ms is None else check_int(a.applied_ms, "applied_ms"),
                  check_opt_time(a.acked_at, "acked_at"))

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
        check_gate(gate)
        check_int(counter, "counter", 1, MAX_COUNTER)
        params = (bool(ok), check_text(reason, "ack reason", limit=64), check_int(applied_ms, "applied_ms"),
                  _time_s(time), gate, counter)

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
            params.append(check_gate(gate))
        _range(where, params, "time", since, until)
        return [door_action_from_row(r) for r in
                self._read(f"SELECT * FROM door_actions{_where(where)} ORDER BY time, id", params)]

    def unacked_door_actions(self, sent_before: float, sent_since: float | None = None) -> list[DoorAction]:
        """Commands sent before ``sent_before`` (and since ``sent_since``) that no ack has answered."""
        where, params = ["acked_at IS NULL"], []
        _range(where, params, "time", sent_since, sent_before)
        return [door_action_from_row(r) for r in
                self._read(f"SELECT * FROM door_actions{_where(where)} ORDER BY time, id", params)]

    # ------------------------------------------------------------ doors held locked

    def set_door_hold(self, gate: str, user: str, reason: str, time: float) -> None:
        """Hold a gate's door locked until released (replaces an earlier hold of that gate)."""
        params = (check_gate(gate), check_text(user, "user", empty=False, limit=64),
                  check_text(reason, "reason", empty=False), _time_s(time))

        def write(tx: _Tx) -> None:
            tx.gate(gate)
            tx.run("INSERT INTO door_holds (gate, user_name, reason, time) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (gate) DO UPDATE SET user_name = excluded.user_name, reason = excluded.reason, "
                   "time = excluded.time", params)

        self._write(write)

    def clear_door_hold(self, gate: str) -> bool:
        """Release a held gate; whether it was held."""
        check_gate(gate)
        return self._write(lambda tx: tx.run("DELETE FROM door_holds WHERE gate = ?", (gate,)).rowcount > 0)

    def door_holds(self) -> list[DoorHold]:
        """Every gate held locked now, by gate id."""
        return [DoorHold(r["gate"], r["user_name"], r["reason"], r["time"])
                for r in self._read("SELECT * FROM door_holds ORDER BY gate")]
