"""Visitor passes: a signed QR token that carries the pass id and its window, and the site's pass key.

The token is ``TGV1:`` and 52 base32 characters (upper-case letters and
digits, so the QR code uses its compact alphanumeric mode) of 32 bytes:

    pass id (8 random bytes) | valid from (u32, Unix s) | valid until (u32) | tag (16 bytes)

The tag is HMAC-SHA256 under the site's pass key, over a domain label and the
first 16 bytes, cut to 16 bytes as in the gate protocol. Changing any
character of the token, or making one up, fails the tag: without the key, a
copy of the database does not let anyone make or extend a pass.

The key is 32 random bytes, hex, in ``visitor-pass.key`` in the site
directory beside ``secrets.toml`` (mode 0600, never in git). ``load_pass_key``
refuses a key file others can read, like the site's secrets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from .checks import VISITOR_PREFIX, IdentityError

KEY_FILE = "visitor-pass.key"
_DOMAIN = b"thermogate visitor pass v1\x00"
_BODY = struct.Struct(">8sII")
TAG_BYTES = 16
TOKEN_BYTES = _BODY.size + TAG_BYTES
_TOKEN = re.compile(re.escape(VISITOR_PREFIX) + r"[A-Z2-7]{52}")


class PassError(ValueError):
    """A token that is not a pass this site signed (malformed, altered, or signed with another key)."""


class PassForged(PassError):
    """A well-formed token whose tag does not verify: altered, made up, or signed with another key."""


@dataclass(frozen=True)
class PassClaim:
    """What a verified token says."""

    pass_id: str  # 16 lowercase hex characters
    valid_from: int  # Unix seconds
    valid_until: int


def new_pass_id() -> str:
    return secrets.token_hex(8)


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + body, hashlib.sha256).digest()[:TAG_BYTES]


def issue(key: bytes, pass_id: str, valid_from: int, valid_until: int) -> str:
    """The QR text of a pass."""
    if len(key) < 16:
        raise IdentityError("the visitor pass key is too short")
    if not (0 <= valid_from < valid_until <= 0xFFFFFFFF):
        raise IdentityError("a pass's window must run forwards, in Unix seconds before 2106")
    body = _BODY.pack(bytes.fromhex(pass_id), int(valid_from), int(valid_until))
    return VISITOR_PREFIX + base64.b32encode(body + _tag(key, body)).decode("ascii").rstrip("=")


def looks_like_pass(text: str) -> bool:
    return isinstance(text, str) and text[:len(VISITOR_PREFIX)].upper() == VISITOR_PREFIX


def verify(key: bytes, text: str) -> PassClaim:
    """The claim a token makes, if this key signed it; PassError otherwise."""
    token = text.strip().upper() if isinstance(text, str) else ""
    if not _TOKEN.fullmatch(token):
        raise PassError("not a visitor pass token")
    try:
        raw = base64.b32decode(token[len(VISITOR_PREFIX):] + "====")
    except (binascii.Error, ValueError):
        raise PassError("not a visitor pass token") from None
    if len(raw) != TOKEN_BYTES or base64.b32encode(raw).decode("ascii").rstrip("=") != token[len(VISITOR_PREFIX):]:
        raise PassError("not a visitor pass token")  # (the last character's unused bits must be zero: one spelling)
    body, tag = raw[:_BODY.size], raw[_BODY.size:]
    if not hmac.compare_digest(tag, _tag(key, body)):
        raise PassForged("the pass's signature does not verify")
    pass_id, valid_from, valid_until = _BODY.unpack(body)
    return PassClaim(pass_id.hex(), valid_from, valid_until)


def load_pass_key(site_dir: str | os.PathLike, *, create: bool = False) -> bytes:
    """The site's visitor pass key from ``<site>/visitor-pass.key``; with ``create``, made on first use.

    IdentityError if it is missing (and not ``create``), unreadable, malformed or readable by others."""
    path = Path(site_dir) / KEY_FILE
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by another process just now: read theirs
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            _ignore_in_git(path)
    try:
        if os.name == "posix":
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise IdentityError(f"{path} is readable by other users (mode {mode:04o}): run `chmod 600 {path}`")
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise IdentityError(f"no visitor pass key at {path}: `thermogate visitor add` makes one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IdentityError(f"cannot read the visitor pass key {path}: {exc}") from None
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise IdentityError(f"{path} must hold 64 lowercase hex characters")
    return bytes.fromhex(text)


def _ignore_in_git(path: Path) -> None:
    """Name the key file in the site directory's .gitignore (beside secrets.toml's line)."""
    ignore = path.parent / ".gitignore"
    try:
        lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
        if KEY_FILE not in {line.strip().lstrip("/") for line in lines}:
            with open(ignore, "a", encoding="utf-8") as f:
                f.write(f"{KEY_FILE}\n")
    except OSError:  # the key is still 0600; a read-only site directory only loses the reminder
        pass
