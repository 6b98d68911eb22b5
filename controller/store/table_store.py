"""What every store over the event store's Backend shares: one connection behind a lock, one transaction a write.

``LockedBackend`` is the plumbing of a store over one Backend (the event
store's ``Store`` is one, with a ``_write`` of its own). A subclass adds only its
queries: ``_write(fn)`` runs ``fn(run)`` in one transaction, ``_read(sql,
params)`` one query, both under the lock and refused with ``StoreError`` once
the store is closed. ``with store.atomic():`` makes the writes inside it, of
that store and of the stores beside it, one transaction (a change and its audit
row).

``TableStore`` is the base of the stores that keep their own tables in the event store's database (the identity tables'
``PeopleStore``, the cases' ``CaseStore``, the reporting tables'
``ReportStore``, the notifications' ``StoreOutbox``): ``Sub.open(url)`` opens
a connection of its own and applies any missing migration;
``Sub.beside(store)`` shares an open event store's connection and lock (the
controller's way: one connection), and its ``close`` leaves the connection to
that store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .backends import Backend, backend_for
from .errors import StoreError
from .migrations import apply_migrations

T = TypeVar("T")
L = TypeVar("L", bound="LockedBackend")
S = TypeVar("S", bound="TableStore")


class LockedBackend:
    """One Backend behind a lock. Safe to share between threads."""

    def __init__(self, backend: Backend, *, lock: threading.RLock | None = None, owns_backend: bool = True):
        self._db = backend
        self._lock = lock if lock is not None else threading.RLock()
        self._owns_backend = owns_backend
        self._closed = False

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def _write(self, fn: Callable[[Any], T]) -> T:
        with self._lock:
            self._check_open()
            with self._db.transaction() as run:
                return fn(run)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction around several writes, of this store and of every store beside it (one connection,
        one lock): a change and its audit row are committed together or not at all. Each write inside is a
        savepoint of it; an exception that leaves the block undoes them all. The lock is held throughout, so
        keep slow work (delivery, files) out of it."""
        with self._lock:
            self._check_open()
            with self._db.transaction():
                yield

    def _read(self, sql: str, params: tuple | list = ()) -> list:
        with self._lock:
            self._check_open()
            return self._db.read(sql, tuple(params))

    def close(self) -> None:
        """Later calls raise StoreError; the connection is closed if this store opened it. Twice is harmless."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._owns_backend:
                    self._db.close()

    def __enter__(self: L) -> L:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TableStore(LockedBackend):
    """Tables of their own in the event store's database, opened alone or beside the event store."""

    @classmethod
    def open(cls: type[S], url: str) -> S:
        """The tables of the store a URL names, on a connection of their own (created and migrated as needed)."""
        backend = backend_for(url)
        try:
            apply_migrations(backend)
            return cls(backend)
        except BaseException:
            backend.close()
            raise

    @classmethod
    def beside(cls: type[S], store: LockedBackend) -> S:
        """Through an open store's own connection and lock (``close`` leaves them to that store)."""
        return cls(store._db, lock=store._lock, owns_backend=False)
