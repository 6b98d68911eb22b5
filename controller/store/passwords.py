"""Password hashing for the console's users: scrypt from the standard library.

A stored hash reads ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<key b64>``, so the
cost can be raised later without invalidating existing passwords. Checking a
password always runs one scrypt, also for a user that does not exist (against
a fixed dummy hash), so the time taken does not tell whether a name exists;
the final comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

LOG2_N = 14  # n = 16384, r = 8: 16 MiB and about 50 ms per check on a small PC
R = 8
P = 1
KEY_BYTES = 32
SALT_BYTES = 16
MAX_PASSWORD_BYTES = 1024


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _check_password(password: str) -> bytes:
    if not isinstance(password, str) or not password:
        raise ValueError("a password must be a non-empty string")
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"a password must be at most {MAX_PASSWORD_BYTES} bytes")
    return raw


def _derive(raw: bytes, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(raw, salt=salt, n=1 << log2_n, r=r, p=p, dklen=KEY_BYTES,
                          maxmem=(1 << log2_n) * r * 128 * 2 + (1 << 20))


def hash_password(password: str) -> str:
    """A new salted hash of ``password`` for the users table."""
    salt = os.urandom(SALT_BYTES)
    key = _derive(_check_password(password), salt, LOG2_N, R, P)
    return f"scrypt${LOG2_N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (a hash_password result); False on any malformed input."""
    try:
        scheme, log2_n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        log2_n, r, p = int(log2_n), int(r), int(p)
        if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 4):
            return False
        salt_b, key_b = base64.b64decode(salt, validate=True), base64.b64decode(key, validate=True)
        raw = _check_password(password)
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(_derive(raw, salt_b, log2_n, r, p), key_b)


def dummy_hash() -> str:
    """What an unknown user's password is checked against, at today's cost, so it costs one scrypt too."""
    return f"scrypt${LOG2_N}${R}${P}${_b64(b'thermogate-dummy')}${_b64(bytes(KEY_BYTES))}"


# The password rule for people choosing a console password (thermogate user, the Settings page); the
# store itself hashes whatever it is given. docs/console.md states the same rule.
MIN_LENGTH = 8
MIN_DISTINCT = 5
COMMON = frozenset("""
password password1 password12 password123 passw0rd p@ssw0rd p@ssword 12345678 123456789 1234567890
87654321 11111111 00000000 88888888 66666666 12341234 11223344 abcd1234 abc12345 a1b2c3d4 1q2w3e4r
1qaz2wsx zaq12wsx qwertyui qwerty12 qwerty123 qwertyuiop asdfghjk asdfghjkl zxcvbnm1 iloveyou
iloveyou1 letmein1 welcome1 welcome123 admin123 admin1234 administrator sunshine princess football
baseball superman trustno1 monkey123 dragon123 woaini1314 woaini520 5201314520 thermogate
thermogate1 school123 teacher1 changeme changeme1 secret123 abcdefgh abcdefg1
""".split())


def weakness(password: str, name: str = "") -> str | None:
    """Why ``password`` is too weak for a console account, or None if it may be used.

    The rule: at least 8 characters, at least 5 different ones, not only digits, not a well-known
    password (such as 12345678, password1 or qwerty123), and not containing the user name.
    """
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(set(password)) < MIN_DISTINCT:
        return f"a password needs at least {MIN_DISTINCT} different characters"
    if password.isdigit():
        return "a password must not be only digits"
    if password.lower() in COMMON:
        return "this password is one of the most common ones: choose another"
    if name and len(name) >= 3 and name.lower() in password.lower():
        return "a password must not contain the user name"
    return None
