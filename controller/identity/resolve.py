"""What a credential read at a gate means: a person, a visitor with a valid pass, or a refusal.

``Resolver(people, pass_key).resolve(text, kind, at)`` is a pure function of
the store's state (and the site's pass key): one primary-key look-up for a
person's QR code or card, or a signature check and one unique-key look-up for a
visitor pass. It never raises for what a gate sends (garbage is ``unknown``);
it raises ``StoreError`` only when the store cannot be read, which the gate
rule must treat as a refusal.
"""

from __future__ import annotations

from . import passes
from .checks import IdentityError, credential
from .people_store import PeopleStore
from .records import (
    EXPIRED,
    FORGED,
    INACTIVE,
    KINDS,
    OUTSIDE_WINDOW,
    QR,
    REVOKED,
    UNKNOWN,
    PersonRef,
    Resolution,
    VisitorRef,
)

MAX_TEXT = 512  # what a scanner sends beyond this is garbage


class Resolver:
    """Credentials to people and visitors; ``pass_key`` None: no visitor pass is accepted."""

    def __init__(self, people: PeopleStore, pass_key: bytes | None):
        self.people = people
        self.pass_key = pass_key

    def resolve(self, text: str, kind: str, at: float) -> Resolution:
        """Who ``text`` (a QR code's text or a card's UID, as read) names at Unix time ``at``."""
        if kind not in KINDS or not isinstance(text, str) or len(text) > MAX_TEXT:
            return Resolution(kind if kind in KINDS else QR, UNKNOWN)
        if kind == QR and passes.looks_like_pass(text):
            return self._visitor(text, at)
        try:
            c = credential(kind, text)
        except IdentityError:
            return Resolution(kind, UNKNOWN)
        row = self.people.lookup(c.kind, c.text)
        if row is None:
            return Resolution(kind, UNKNOWN)
        person = PersonRef(id=row["id"], name=row["name"], role=row["role"], class_name=row["class_name"],
                           active=bool(row["active"]))
        return Resolution(kind, None if person.active else INACTIVE, person=person)

    def _visitor(self, text: str, at: float) -> Resolution:
        if self.pass_key is None:
            return Resolution(QR, UNKNOWN)
        try:
            claim = passes.verify(self.pass_key, text)
        except passes.PassForged:
            return Resolution(QR, FORGED)
        except passes.PassError:
            return Resolution(QR, UNKNOWN)
        v = self.people.visitor(claim.pass_id)
        if v is None or v.id is None:
            return Resolution(QR, UNKNOWN)  # issued here once, but no longer kept (retention) or another site's
        ref = VisitorRef(id=v.id, pass_id=v.pass_id, name=v.name, host=v.host,
                         valid_from=float(claim.valid_from), valid_until=float(claim.valid_until))
        if v.revoked_at is not None:
            reason = REVOKED
        elif at < claim.valid_from:
            reason = OUTSIDE_WINDOW
        elif at >= claim.valid_until:
            reason = EXPIRED
        else:
            reason = None
        return Resolution(QR, reason, visitor=ref)
