"""The controller's event store: every screening, alarm, door action and alert.

One ``Store`` wraps one database connection (SQLite or PostgreSQL, see
backends.py) behind a lock, so the controller's threads can share it. Every
write is one transaction: it happens whole or not at all. Writes that may be
repeated after a crash or a redelivered message are idempotent: a screening
by its ``uid``, an alarm by its screening, a door action by its gate and
counter.

The tables come in groups, each a class of its own module that ``Store`` joins:
gate_tables.py (gates, status, calibrations), screening_tables.py,
alarm_tables.py (alarms, alerts), door_tables.py (counters, door actions,
holds), user_tables.py (users, audit); tables.py has what they share,
checks.py the argument checks, rows.py the rows as records.

Times are Unix seconds (UTC). ``since`` is inclusive and ``until`` exclusive
in every query. Invalid arguments raise ``StoreError`` (a ``ValueError``),
unknown ids ``NotFound``, an unreachable or locked database
``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .alarm_tables import AlarmTables
from .backends import Backend, backend_for
from .door_tables import DoorTables
from .gate_tables import GateTables
from .migrations import MIGRATIONS, Migration, apply_migrations, current_version
from .screening_tables import ScreeningTables
from .table_store import LockedBackend
from .tables import T, _Tx
from .user_tables import UserTables


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


class Store(GateTables, ScreeningTables, AlarmTables, DoorTables, UserTables, LockedBackend):
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
