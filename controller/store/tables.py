"""What the event store's table groups share: ``_Tx``, one write transaction (a statement, a gate's bare row
made on first mention), and ``Tables``, the base of each group (gate_tables.py, screening_tables.py,
alarm_tables.py, door_tables.py, user_tables.py), which ``Store`` (store.py) joins over one connection.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

T = TypeVar("T")


class _Tx:
    """One write transaction: ``run`` a statement; ``gate`` makes sure a gate row exists."""

    def __init__(self, run: Callable, store: Tables):
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


class Tables:
    """A group of the event store's tables: its queries over ``Store``'s connection, lock and transaction."""

    if TYPE_CHECKING:
        _known_gates: set[str]

        def _write(self, fn: Callable[[_Tx], T]) -> T: ...

        def _read(self, sql: str, params: tuple | list = ()) -> list: ...
