"""The identity tables (migration 3) over the store's own Backend: roster, credentials, visitors, reads.

``PeopleStore`` works on the database the event store uses (SQLite in WAL
mode or PostgreSQL) and leaves the event store's ``Store`` as it is.
``open_people_store(url)`` opens its own connection and applies any missing
migration, like ``open_store``; ``PeopleStore.beside(store)`` shares an open
``Store``'s connection and lock (the controller's way: one connection).

Every write is one transaction. A roster change of one person (the row and its
credentials) is atomic; ``apply_roster(..., strict=True)`` makes a whole file
one transaction. Checks that could refuse a change run as reads before any
write, so a refusal never aborts a PostgreSQL transaction half-way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ..store.errors import NotFound, StoreError
from ..store.query import time_range, time_s, where_clause
from ..store.records import Alarm, Screening
from ..store.table_store import TableStore
from .records import Credential, FileRead, Person, PersonFile, Visitor

ADDED, CHANGED, UNCHANGED = "added", "changed", "unchanged"


def open_people_store(url: str) -> PeopleStore:
    """The identity tables of the store a URL names (created and migrated as needed)."""
    return PeopleStore.open(url)


class CredentialTaken(StoreError):
    """A credential already belongs to someone else."""

    def __init__(self, credential: Credential, owner: str):
        super().__init__(f"{credential} is already bound to {owner}")
        self.credential = credential
        self.owner = owner


class _Rollback(Exception):
    pass


def _person(row, credentials: Iterable[Credential]) -> Person:
    return Person(id=row["id"], name=row["name"], role=row["role"], class_name=row["class_name"],
                  boarder=bool(row["boarder"]), guardian_phone=row["guardian_phone"], active=bool(row["active"]),
                  credentials=tuple(sorted(credentials, key=lambda c: (c.kind, c.text))),
                  created_at=row["created_at"], updated_at=row["updated_at"])


def _visitor(row) -> Visitor:
    return Visitor(pass_id=row["pass_id"], name=row["name"], id_last4=row["id_last4"], host=row["host"],
                   purpose=row["purpose"], valid_from=row["valid_from"], valid_until=row["valid_until"],
                   issued_by=row["issued_by"], issued_at=row["issued_at"], revoked_at=row["revoked_at"],
                   revoked_by=row["revoked_by"], id=row["id"])


class PeopleStore(TableStore):
    """The roster, credentials, visitors and the identity audit. Safe to share between threads; the plumbing
    (``beside``, ``open``, ``_write``, ``_read``, ``close``) is ``TableStore``'s."""

    # ------------------------------------------------------------ people

    def person(self, person_id: str) -> Person | None:
        rows = self._read("SELECT * FROM people WHERE id = ?", (person_id,))
        if not rows:
            return None
        creds = [Credential(r["kind"], r["credential"])
                 for r in self._read("SELECT kind, credential FROM credentials WHERE person_id = ?", (person_id,))]
        return _person(rows[0], creds)

    def people(self, class_name: str | None = None, active: bool | None = None) -> list[Person]:
        """The roster ordered by class and id; ``class_name`` and ``active`` filter it."""
        where, params = [], []
        if class_name is not None:
            where.append("p.class_name = ?")
            params.append(class_name)
        if active is not None:
            where.append("p.active = ?")
            params.append(active)
        clause = where_clause(where)
        rows = self._read(f"SELECT p.* FROM people p{clause} ORDER BY p.class_name, p.id", tuple(params))
        creds: dict[str, list[Credential]] = {}
        for r in self._read("SELECT c.person_id, c.kind, c.credential FROM credentials c JOIN people p "
                            f"ON p.id = c.person_id{clause}", tuple(params)):
            creds.setdefault(r["person_id"], []).append(Credential(r["kind"], r["credential"]))
        return [_person(r, creds.get(r["id"], ())) for r in rows]

    def credential_owner(self, credential: Credential) -> str | None:
        rows = self._read("SELECT person_id FROM credentials WHERE kind = ? AND credential = ?",
                          (credential.kind, credential.text))
        return rows[0]["person_id"] if rows else None

    def lookup(self, kind: str, text: str):
        """The person row a credential names (one primary-key look-up), or None: for resolve()."""
        rows = self._read("SELECT p.id, p.name, p.role, p.class_name, p.active FROM credentials c "
                          "JOIN people p ON p.id = c.person_id WHERE c.kind = ? AND c.credential = ?", (kind, text))
        return rows[0] if rows else None

    def put_person(self, person: Person, time: float, *, moving: frozenset[Credential] = frozenset()) -> str:
        """Add or update one person and set their credentials to exactly ``person.credentials``, atomically.

        ``added``, ``changed`` or ``unchanged``. A credential bound to someone else raises ``CredentialTaken``
        and changes nothing, unless it is in ``moving`` (the same import takes it from its owner).
        """
        return self._write(lambda run: self._put(run, person, time, moving))

    def apply_roster(self, people: list[Person], time: float, *, strict: bool, commit: bool = True,
                     moving: frozenset[Credential] = frozenset()) -> list[tuple[Person, str | Exception]]:
        """Put each person; per person ``(person, added|changed|unchanged)`` or ``(person, the refusal)``.

        ``strict``: one transaction for all, and any refusal (or ``commit=False``) keeps every change out;
        the outcomes still say what each would have been. Otherwise each person is its own transaction.
        """
        if not strict:
            out: list[tuple[Person, str | Exception]] = []
            for p in people:
                try:
                    out.append((p, self.put_person(p, time, moving=moving)))
                except CredentialTaken as exc:
                    out.append((p, exc))
            return out
        results: list[tuple[Person, str | Exception]] = []

        def write(run) -> None:
            for p in people:
                try:
                    results.append((p, self._put(run, p, time, moving)))
                except CredentialTaken as exc:
                    results.append((p, exc))
            if not commit or any(isinstance(r, Exception) for _, r in results):
                raise _Rollback

        try:
            self._write(write)
        except _Rollback:
            pass
        return results

    def _put(self, run, p: Person, time: float, moving: frozenset[Credential]) -> str:
        for c in p.credentials:
            row = run("SELECT person_id FROM credentials WHERE kind = ? AND credential = ?",
                      (c.kind, c.text)).fetchone()
            if row is not None and row["person_id"] != p.id and c not in moving:
                raise CredentialTaken(c, row["person_id"])
        old = run("SELECT * FROM people WHERE id = ?", (p.id,)).fetchone()
        have = {Credential(r["kind"], r["credential"]) for r in run(
            "SELECT kind, credential FROM credentials WHERE person_id = ?", (p.id,)).fetchall()}
        if old is not None and _person(old, have).same_as(p):
            return UNCHANGED
        if old is None:
            run("INSERT INTO people (id, name, role, class_name, boarder, guardian_phone, active, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (p.id, p.name, p.role, p.class_name, p.boarder, p.guardian_phone, p.active, time, time))
        else:
            run("UPDATE people SET name = ?, role = ?, class_name = ?, boarder = ?, guardian_phone = ?, active = ?, "
                "updated_at = ? WHERE id = ?",
                (p.name, p.role, p.class_name, p.boarder, p.guardian_phone, p.active, time, p.id))
        want = set(p.credentials)
        for c in have - want:
            run("DELETE FROM credentials WHERE kind = ? AND credential = ?", (c.kind, c.text))
        for c in want - have:  # a credential moved here from its old owner changes the old owner too
            run("UPDATE people SET updated_at = ? WHERE id = (SELECT person_id FROM credentials "
                "WHERE kind = ? AND credential = ?)", (time, c.kind, c.text))
            run("DELETE FROM credentials WHERE kind = ? AND credential = ?", (c.kind, c.text))
            run("INSERT INTO credentials (kind, credential, person_id, created_at) VALUES (?, ?, ?, ?)",
                (c.kind, c.text, p.id, time))
        return ADDED if old is None else CHANGED

    # ------------------------------------------------------------ a person's file

    def person_file(self, person_id: str, *, limit: int = 500,
                    absences: Callable[[str], tuple] | None = None) -> PersonFile:
        """The file of one person: identity, credentials, their latest screenings, alarms and re-checks, and
        the absences section that ``absences(person_id)`` reads (the reports keep it, a part above identity:
        whoever shows a file passes ``ReportStore.absence_file``; without it the section is empty).

        Reading it is a read of health data: callers record it with ``record_read`` (the CLI does)."""
        person = self.person(person_id)
        if person is None:
            raise NotFound(f"no person {person_id!r} on the roster")
        screenings = tuple(
            Screening(uid=r["uid"], gate=r["gate"], time=r["time"], decision=r["decision"], reason=r["reason"],
                      track=r["track"], estimate_c=r["estimate_c"], face_c=r["face_c"], distance_m=r["distance_m"],
                      reduced_accuracy=bool(r["reduced_accuracy"]), boot=r["boot"], sequence=r["sequence"],
                      id=r["id"])
            for r in self._read("SELECT id, uid, gate, time, decision, reason, track, estimate_c, face_c, distance_m, "
                                "reduced_accuracy, boot, sequence FROM screenings WHERE person_id = ? "
                                "ORDER BY time DESC, id DESC LIMIT ?", (person_id, int(limit))))
        alarms = tuple(
            Alarm(id=r["id"], screening_id=r["screening_id"], gate=r["gate"], time=r["time"], status=r["status"],
                  acknowledged_by=r["acknowledged_by"], acknowledged_at=r["acknowledged_at"],
                  recheck_c=r["recheck_c"], outcome=r["outcome"], disposed_by=r["disposed_by"],
                  disposed_at=r["disposed_at"], note=r["note"])
            for r in self._read("SELECT a.* FROM alarms a JOIN screenings s ON s.id = a.screening_id "
                                "WHERE s.person_id = ? ORDER BY a.time DESC, a.id DESC", (person_id,)))
        return PersonFile(person, screenings, alarms, () if absences is None else tuple(absences(person_id)))

    def link_screening(self, screening_id: int, *, person_id: str | None = None, visitor_id: int | None = None) -> None:
        """Name the person or visitor of a recorded screening (the gate's credential, matched in time)."""
        if (person_id is None) == (visitor_id is None):
            raise StoreError("name either a person or a visitor")

        def write(run) -> None:
            if run("UPDATE screenings SET person_id = ?, visitor_id = ? WHERE id = ?",
                   (person_id, visitor_id, screening_id)).rowcount != 1:
                raise NotFound(f"no screening {screening_id}")

        self._write(write)

    def screening_person(self, screening_id: int | None) -> dict | None:
        """Who a recorded screening names (link_screening): ``{id, name, class}`` of a person,
        ``{id: pass id, name, visitor: True}`` of a visitor, or None."""
        if screening_id is None:
            return None
        rows = self._read("SELECT p.id AS pid, p.name AS pname, p.class_name, v.pass_id, v.name AS vname "
                          "FROM screenings s LEFT JOIN people p ON p.id = s.person_id "
                          "LEFT JOIN visitors v ON v.id = s.visitor_id WHERE s.id = ?", (screening_id,))
        if not rows:
            return None
        r = rows[0]
        if r["pid"] is not None:
            return {"id": r["pid"], "name": r["pname"], "class": r["class_name"]}
        if r["pass_id"] is not None:
            return {"id": r["pass_id"], "name": r["vname"], "visitor": True}
        return None

    # ------------------------------------------------------------ visitors

    def add_visitor(self, v: Visitor) -> Visitor:
        def write(run) -> int:
            return run("INSERT INTO visitors (pass_id, name, id_last4, host, purpose, valid_from, valid_until, "
                       "issued_by, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                       (v.pass_id, v.name, v.id_last4, v.host, v.purpose, v.valid_from, v.valid_until, v.issued_by,
                        v.issued_at)).fetchone()["id"]

        new_id = self._write(write)
        stored = self.visitor(v.pass_id)
        assert stored is not None and stored.id == new_id
        return stored

    def visitor(self, pass_id: str) -> Visitor | None:
        rows = self._read("SELECT * FROM visitors WHERE pass_id = ?", (pass_id,))
        return _visitor(rows[0]) if rows else None

    def visitors(self, since: float | None = None, until: float | None = None) -> list[Visitor]:
        """Visitors whose window overlaps [since, until), by start of window."""
        where, params = [], []
        if since is not None:  # the window overlaps [since, until): it ends after since and starts before until
            where.append("valid_until > ?")
            params.append(time_s(since, "since"))
        if until is not None:
            where.append("valid_from < ?")
            params.append(time_s(until, "until"))
        return [_visitor(r) for r in self._read(f"SELECT * FROM visitors{where_clause(where)} ORDER BY valid_from, id",
                                                tuple(params))]

    def revoke_visitor(self, pass_id: str, by: str, time: float) -> Visitor:
        """Withdraw a pass (the first revocation stands); the visitor."""

        def write(run) -> None:
            if run("SELECT 1 FROM visitors WHERE pass_id = ?", (pass_id,)).fetchone() is None:
                raise NotFound(f"no visitor pass {pass_id!r}")
            run("UPDATE visitors SET revoked_at = ?, revoked_by = ? WHERE pass_id = ? AND revoked_at IS NULL",
                (time, by, pass_id))

        self._write(write)
        v = self.visitor(pass_id)
        assert v is not None
        return v

    # ------------------------------------------------------------ who read what

    def record_read(self, reader: str, action: str, subject: str, reason: str, time: float,
                    detail: dict | None = None) -> int:
        if not reader or not action or not subject:
            raise StoreError("a read needs a reader, an action and a subject")
        text = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False)
        return self._write(lambda run: run(
            "INSERT INTO identity_audit (time, reader, action, subject, reason, detail) VALUES (?, ?, ?, ?, ?, ?) "
            "RETURNING id", (time, reader[:64], action[:64], subject[:64], reason[:1000], text)).fetchone()["id"])

    def reads(self, subject: str | None = None, since: float | None = None) -> list[FileRead]:
        where, params = [], []
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        time_range(where, params, "time", since, None)
        return [FileRead(r["id"], r["time"], r["reader"], r["action"], r["subject"], r["reason"],
                         json.loads(r["detail"]))
                for r in self._read(f"SELECT * FROM identity_audit{where_clause(where)} ORDER BY time, id",
                                    tuple(params))]

    # ------------------------------------------------------------ retention

    def purge_visitors(self, before: float) -> int:
        """Visitors whose window ended before ``before`` (their screenings stay, unnamed); how many."""
        return self._write(lambda run: run("DELETE FROM visitors WHERE valid_until < ?", (float(before),)).rowcount)

    def purge_reads(self, before: float) -> int:
        return self._write(lambda run: run("DELETE FROM identity_audit WHERE time < ?", (float(before),)).rowcount)

    def purge_inactive_people(self, before: float) -> int:
        """People marked inactive and unchanged since ``before``, with their credentials; their screenings
        stay, unnamed. How many."""
        return self._write(lambda run: run("DELETE FROM people WHERE active = ? AND updated_at < ?",
                                           (False, float(before))).rowcount)

    def purge_screenings(self, before: float) -> int:
        """Screenings older than ``before`` and their disposed alarms; a screening with an alarm not yet
        disposed stays, and door commands keep their row without the screening. How many screenings."""
        t = float(before)
        old = ("SELECT s.id FROM screenings s WHERE s.time < ? AND NOT EXISTS (SELECT 1 FROM alarms a "
               "WHERE a.screening_id = s.id AND a.status <> 'disposed')")

        def write(run) -> int:
            run(f"UPDATE door_actions SET screening_id = NULL WHERE screening_id IN ({old})", (t,))
            run(f"DELETE FROM alarms WHERE screening_id IN ({old})", (t,))
            return run(f"DELETE FROM screenings WHERE id IN ({old})", (t,)).rowcount

        return self._write(write)
