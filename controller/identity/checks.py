"""Field rules for the roster and visitors: one place, used by the CSV import, the CLI and the store.

Every check returns the normalised value or raises ``IdentityError`` (a
``ValueError``) with a sentence for the person who typed it.
"""

from __future__ import annotations

import re

from .records import CARD, KINDS, QR, ROLES, Credential

MAX_NAME = 64
MAX_CREDENTIAL = 128
VISITOR_PREFIX = "TGV1:"  # a visitor pass's QR text (passes.py); never a person's credential

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_PHONE_CHARS = re.compile(r"[\s().-]")
_CARD = re.compile(r"[0-9A-F]+")
_LAST4 = re.compile(r"[0-9]{3}[0-9X]")
# An 18-character resident ID (17 digits and a digit or X) or the old 15-digit one.
_FULL_ID = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9Xx])")
_YES = {"yes", "y", "true", "1", "是"}
_NO = {"no", "n", "false", "0", "否", ""}


class IdentityError(ValueError):
    """A roster or visitor value that cannot be taken, worded for the person who gave it."""


def person_id(v: str) -> str:
    v = v.strip()
    if not _ID.fullmatch(v):
        raise IdentityError(f"id {v!r} must be 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return v


def text(v: str, what: str, *, required: bool = True, limit: int = MAX_NAME) -> str:
    v = v.strip()
    if required and not v:
        raise IdentityError(f"{what} is empty")
    if len(v) > limit:
        raise IdentityError(f"{what} is longer than {limit} characters")
    if not v.isprintable():
        raise IdentityError(f"{what} {v!r} has control characters")
    if _FULL_ID.search(v):
        raise IdentityError(f"{what} looks like it holds an ID number: thermogate never stores one")
    return v


def role(v: str) -> str:
    r = v.strip().lower()
    if r not in ROLES:
        raise IdentityError(f"role {v.strip()!r} is not {'|'.join(ROLES)}")
    return r


def yes_no(v: str, what: str) -> bool:
    w = v.strip().lower()
    if w in _YES:
        return True
    if w in _NO:
        return False
    raise IdentityError(f"{what} {v.strip()!r} is not yes/no (是/否)")


def phone(v: str) -> str:
    """A phone number, checked loosely: 7-15 digits, with an optional leading + and spaces, dashes, brackets."""
    v = v.strip()
    if not v:
        return ""
    digits = _PHONE_CHARS.sub("", v)
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isascii() or not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise IdentityError(f"guardian phone {v!r} is not a phone number (7-15 digits)")
    return v


def credential(kind: str, value: str) -> Credential:
    """A credential in its stored form: a card UID as upper-case hex of 4, 7 or 10 bytes (':', '-' and spaces
    dropped), a QR text as printable text without spaces, ';' or '|'."""
    if kind not in KINDS:
        raise IdentityError(f"credential kind {kind!r} is not {'|'.join(KINDS)}")
    v = value.strip()
    if kind == CARD:
        uid = re.sub(r"[\s:-]", "", v).upper()
        if not _CARD.fullmatch(uid) or len(uid) not in (8, 14, 20):
            raise IdentityError(f"card {v!r} is not a card UID (4, 7 or 10 bytes in hex)")
        return Credential(CARD, uid)
    if not v or len(v) > MAX_CREDENTIAL:
        raise IdentityError(f"QR code {v!r} must be 1-{MAX_CREDENTIAL} characters")
    if not v.isprintable() or any(c.isspace() or c in ";|" for c in v):
        raise IdentityError(f"QR code {v!r} must be printable, without spaces, ';' or '|'")
    if v.upper().startswith(VISITOR_PREFIX):
        raise IdentityError(f"QR code {v!r} starts like a visitor pass ({VISITOR_PREFIX})")
    return Credential(QR, v)


def credential_list(cell: str) -> tuple[Credential, ...]:
    """The credentials cell of the roster: entries separated by ';' or '|', each ``card:UID``, ``qr:TEXT``
    or a bare TEXT (a QR code)."""
    out: list[Credential] = []
    for entry in re.split(r"[;|]", cell):
        entry = entry.strip()
        if not entry:
            continue
        head, sep, rest = entry.partition(":")
        if sep and head.strip().lower() in KINDS:
            c = credential(head.strip().lower(), rest)
        else:
            c = credential(QR, entry)
        if c in out:
            raise IdentityError(f"credential {c} is listed twice")
        out.append(c)
    return tuple(out)


def id_last4(v: str) -> str:
    """The last 4 characters of an ID card (digits; the last may be X). A whole ID number is refused."""
    w = v.strip().upper()
    if _LAST4.fullmatch(w):
        return w
    if len(re.sub(r"\s", "", w)) > 4:
        raise IdentityError("give only the last 4 characters of the ID card: thermogate never stores a whole "
                            "ID number")
    raise IdentityError(f"ID card last 4 {v.strip()!r} must be 4 characters: digits, the last may be X")
