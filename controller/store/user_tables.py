"""The event store's users group: the console's users (passwords, roles, a teacher's classes, session epochs) and
the audit trail (``UserTables``; ``Store`` in store.py joins the groups over one connection and lock,
docs/store.md).
"""

from __future__ import annotations

import json
import time as _time

from . import passwords
from .checks import (
    check_json,
    check_role,
    check_text,
    check_user_name,
)
from .errors import NotFound, StoreError
from .query import time_range as _range
from .query import time_s as _time_s
from .query import where_clause as _where
from .records import (
    AuditEntry,
    User,
)
from .rows import user_from_row
from .tables import Tables, _Tx


def _bump_epoch(tx: _Tx, name: str) -> int:
    """Raise a user name's session epoch by one (from 0 if it had none); the new epoch."""
    return int(tx.one("INSERT INTO user_epochs (name, epoch) VALUES (?, 1) ON CONFLICT (name) "
                      "DO UPDATE SET epoch = user_epochs.epoch + 1 RETURNING epoch", (name,))["epoch"])


class UserTables(Tables):
    """The console's users (passwords, roles, a teacher's classes, session epochs) and the audit trail."""

    def add_user(self, name: str, role: str, password: str) -> User:
        """A new console user (StoreError if the name is taken). Only a scrypt hash is stored."""
        check_user_name(name)
        check_role(role)
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
        return user_from_row(rows[0]) if ok and rows else None

    def users(self) -> list[User]:
        return [user_from_row(r) for r in self._read("SELECT name, role, created_at FROM users ORDER BY name")]

    def set_password(self, name: str, password: str) -> None:
        """A new password; it ends every session of the user (their epoch grows)."""
        check_user_name(name)
        hashed = self._hash(password)
        self._update_user(name, "password_hash = ?", (hashed,), new_epoch=True)

    def set_role(self, name: str, role: str) -> None:
        check_user_name(name)
        self._update_user(name, "role = ?", (check_role(role),))

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
        check_user_name(name)

        def write(tx: _Tx) -> None:
            if not tx.run("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise NotFound(f"no user {name!r}")
            _bump_epoch(tx, name)

        self._write(write)

    def set_user_classes(self, name: str, classes) -> list[str]:
        """The classes a teacher account is limited to (replacing any before); the classes, sorted. Class names
        as on the roster; a class teacher with none sees nothing."""
        check_user_name(name)
        if isinstance(classes, str):
            raise StoreError("classes must be a list of class names, not one string")
        names = sorted({check_text(c, "class name", empty=False, limit=100).strip() for c in classes})
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
        check_user_name(name)

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

    # ------------------------------------------------------------ audit

    def record_audit(self, user: str | None, time: float, action: str, detail: dict) -> int:
        """Note who did what (logins, overrides, dispositions, user changes); its id."""
        params = (None if user is None else check_text(user, "user", limit=64), _time_s(time),
                  check_text(action, "audit action", empty=False, limit=64), check_json(detail, "audit detail"))
        return self._write(lambda tx: tx.one(
            "INSERT INTO audit (user_name, time, action, detail) VALUES (?, ?, ?, ?) RETURNING id", params)["id"])

    def audit(self, since: float | None = None, until: float | None = None) -> list[AuditEntry]:
        """The audit trail in time order."""
        where: list[str] = []
        params: list = []
        _range(where, params, "time", since, until)
        return [AuditEntry(r["id"], r["user_name"], r["time"], r["action"], json.loads(r["detail"]))
                for r in self._read(f"SELECT * FROM audit{_where(where)} ORDER BY time, id", params)]
