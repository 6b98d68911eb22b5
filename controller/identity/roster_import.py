"""``people import``: a roster file into the store, line by line, and what happened to each line.

Each line is added, changed, unchanged or refused with its reason. A refused
line changes nothing, and neither does a half of a line: a person and their
credentials are written in one transaction. With ``strict`` the whole file is
one transaction and any refused line keeps every line out.

Refused, besides a bad cell: an id that appears on two lines (both lines), a
credential listed for two people in the file (both lines), a credential
bound in the store to a person this file does not give it to, and, when the
school has a class list (``[classes]`` in controller.toml, classes.py), a
student in a class not on it (a staff member's department is not checked).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .checks import IdentityError
from .people_store import ADDED, CHANGED, UNCHANGED, PeopleStore
from .records import Credential
from .roster_csv import RosterLine, decode, parse

REFUSED = "refused"
OUTCOMES = (ADDED, CHANGED, UNCHANGED, REFUSED)


@dataclass(frozen=True)
class LineOutcome:
    line: int
    person_id: str
    outcome: str  # added | changed | unchanged | refused
    reason: str = ""

    def __str__(self) -> str:
        if self.outcome == REFUSED:
            return f"line {self.line}: refused: {self.reason}"
        return f"line {self.line}: {self.outcome} {self.person_id}"


@dataclass(frozen=True)
class ImportReport:
    encoding: str
    strict: bool
    lines: tuple[LineOutcome, ...]
    committed: bool  # False: --strict and something was refused, so nothing was written

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.lines if o.outcome == outcome)

    def summary(self) -> str:
        counts = ", ".join(f"{o} {self.count(o)}" for o in OUTCOMES)
        if not self.committed:
            return f"{counts}: nothing imported (--strict and {self.count(REFUSED)} line(s) refused)"
        return counts


def _file_conflicts(lines: list[RosterLine]) -> dict[int, str]:
    """Line -> reason, for ids and credentials that two lines of the file claim."""
    reasons: dict[int, str] = {}
    by_id: dict[str, list[int]] = {}
    by_cred: dict[Credential, list[RosterLine]] = {}
    for rl in lines:
        if rl.person is None:
            continue
        by_id.setdefault(rl.person.id, []).append(rl.line)
        for c in rl.person.credentials:
            by_cred.setdefault(c, []).append(rl)
    for pid, at in by_id.items():
        if len(at) > 1:
            for n in at:
                others = ", ".join(str(m) for m in at if m != n)
                reasons.setdefault(n, f"id {pid} is also on line {others}")
    for c, rls in by_cred.items():
        owners = {rl.person.id for rl in rls if rl.person is not None}
        if len(owners) > 1:
            for rl in rls:
                others = ", ".join(str(o.line) for o in rls if o is not rl)
                reasons.setdefault(rl.line, f"credential {c} is also given on line {others}")
    return reasons


def _unknown_classes(lines: list[RosterLine], classes: Collection[str]) -> dict[int, str]:
    """Line -> reason, for a student whose class is not on the school's class list."""
    out = {}
    for rl in lines:
        p = rl.person
        if p is not None and p.role == "student" and p.class_name not in classes:
            out[rl.line] = (f"class {p.class_name!r} is not one of the school's {len(classes)} classes "
                            f"([classes] in controller.toml)")
    return out


def import_roster(people: PeopleStore, data: bytes, time: float, *, encoding: str | None = None,
                  strict: bool = False, classes: Collection[str] | None = None) -> ImportReport:
    """Import a roster file's bytes. A file that cannot be read at all (encoding, header) raises IdentityError.
    ``classes``: the school's class list ([classes]); when it names any, a student in another class is
    refused."""
    text, used = decode(data, encoding)
    lines = parse(text)
    conflicts = _file_conflicts(lines)
    if classes:
        for n, why in _unknown_classes(lines, frozenset(classes)).items():
            conflicts.setdefault(n, why)
    outcomes: dict[int, LineOutcome] = {}
    ok: list[RosterLine] = []
    for rl in lines:
        reason = rl.error or conflicts.get(rl.line)
        if reason is not None or rl.person is None:
            outcomes[rl.line] = LineOutcome(rl.line, rl.person_id, REFUSED, reason or "unreadable")
        else:
            ok.append(rl)
    # A credential this file moves from one person to another (its old owner's line no longer lists it).
    listed = {c: rl.person.id for rl in ok if rl.person is not None for c in rl.person.credentials}
    in_file = {rl.person.id for rl in ok if rl.person is not None}
    moving = frozenset(c for c in listed if (owner := people.credential_owner(c)) is not None
                       and owner != listed[c] and owner in in_file)
    before = {p.id: p for p in people.people()}  # outcomes are told against the roster as it was
    results = people.apply_roster([rl.person for rl in ok if rl.person is not None], time, strict=strict,
                                  commit=not (strict and outcomes), moving=moving)
    for rl, (_, result) in zip(ok, results, strict=True):
        if isinstance(result, Exception):
            outcomes[rl.line] = LineOutcome(rl.line, rl.person_id, REFUSED, f"credential {result}")
        else:
            # Against the roster before the file: a person an earlier line took a credential from is changed.
            was = before.get(rl.person_id)
            if was is None:
                outcome = ADDED
            elif rl.person is not None and was.same_as(rl.person):
                outcome = UNCHANGED
            else:
                outcome = CHANGED
            outcomes[rl.line] = LineOutcome(rl.line, rl.person_id, outcome)
    ordered = tuple(outcomes[n] for n in sorted(outcomes))
    committed = not (strict and any(o.outcome == REFUSED for o in ordered))
    return ImportReport(used, strict, ordered, committed)


__all__ = ["import_roster", "ImportReport", "LineOutcome", "IdentityError", "REFUSED", "OUTCOMES"]
