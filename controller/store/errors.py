"""The store's exceptions.

All of them are ``ValueError`` subclasses, so the command line's one
``except ValueError`` turns them into a clear message and exit status 2; the
service catches ``StoreError`` around every write and keeps running.
"""

from __future__ import annotations


class StoreError(ValueError):
    """Something the store refused or could not do; the message says what."""


class NotFound(StoreError, LookupError):
    """No such record (alarm id, user name, ...)."""


class SchemaError(StoreError):
    """The database's schema is not one this code can use (e.g. newer than the code)."""


class StoreUnavailable(StoreError):
    """The database could not be reached or written (locked, disk full, server gone).

    The call that raised it changed nothing; a later call may succeed (a
    PostgreSQL connection that broke is reopened on the next call).
    """
