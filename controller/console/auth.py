"""Who is at the console: sessions, roles, CSRF tokens and login rate limiting.

Sessions are random tokens in an HttpOnly, SameSite=Strict cookie. The server
keeps only a SHA-256 of each token, and it keeps it in the store's audit trail:
a ``login`` entry names the session's hash, a ``logout`` entry ends it. On start
the book is rebuilt from the last day of audit entries, so a controller restart
does not log the gatehouse out (the page reconnects on its own) while a logout
stays final. The user's role is read from the store on every request, so
removing a user or changing a role takes effect at once.

The CSRF token of a session is HMAC-SHA256(token, "csrf"): nothing more to
store, and it cannot be computed without the cookie, which scripts on other
sites never see.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "tg_session"
SESSION_MAX_S = 24 * 3600.0  # a session lasts at most a day, whatever happens
SESSION_IDLE_S = 12 * 3600.0  # and ends after half a day without a request

# What each role may do. Every view is open to all three roles.
PERMISSIONS = {
    "view": {"guard", "doctor", "admin"},  # live wall, history, today, reports, snapshots
    "ack": {"guard", "doctor", "admin"},  # acknowledge an alarm (silences it)
    "dispose": {"doctor", "admin"},  # the re-check reading and the outcome
    "door": {"guard", "admin"},  # open once, hold locked, release
    "admin": {"admin"},  # settings, users, the audit trail
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def csrf_for(token: str) -> str:
    return hmac.new(token.encode("utf-8", "replace"), b"csrf", hashlib.sha256).hexdigest()


@dataclass
class Session:
    user: str
    role: str
    token_hash: str
    started: float
    last_seen: float

    def allows(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


class SessionBook:
    """Live sessions by token hash, persisted through the store's audit trail."""

    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._roles: tuple[float, dict[str, str]] = (0.0, {})

    def restore(self) -> int:
        """Rebuild the book from the audit trail of the last SESSION_MAX_S; how many sessions are live."""
        now = self.clock()
        live: dict[str, Session] = {}
        for entry in self.store.audit(since=now - SESSION_MAX_S):
            h = entry.detail.get("session") if isinstance(entry.detail, dict) else None
            if entry.action == "login" and h:
                live[h] = Session(entry.user or "", "", h, entry.time, now)
            elif entry.action == "logout" and h:
                live.pop(h, None)
            elif entry.action in ("user_removed", "password_set", "sessions_ended"):
                name = entry.detail.get("name")
                for k in [k for k, s in live.items() if s.user == name and s.started <= entry.time]:
                    live.pop(k)
        with self._lock:
            self._sessions = live
        return len(live)

    def _role_of(self, user: str) -> str | None:
        now = self.clock()
        at, roles = self._roles
        if now - at > 2.0 or user not in roles:  # a cache of 2 s; a name not in it is looked up at once
            roles = {u.name: u.role for u in self.store.users()}
            self._roles = (now, roles)
        return roles.get(user)

    def forget_roles(self) -> None:
        """After a user change: read roles from the store on the next request."""
        self._roles = (0.0, {})

    def start(self, user: str, role: str) -> str:
        """A new session for a user who just gave the right password; the cookie's token."""
        token = secrets.token_urlsafe(32)
        h = token_hash(token)
        now = self.clock()
        self.store.record_audit(user, now, "login", {"session": h[:64]})
        with self._lock:
            self._sessions[h] = Session(user, role, h, now, now)
        return token

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, with the user's current role; None if there is none."""
        if not token or len(token) > 200:
            return None
        h = token_hash(token)
        now = self.clock()
        with self._lock:
            s = self._sessions.get(h)
        if s is None:
            return None
        if now - s.started > SESSION_MAX_S or now - s.last_seen > SESSION_IDLE_S:
            self.end(token, reason="expired")
            return None
        role = self._role_of(s.user)
        if role is None:  # the user was removed
            with self._lock:
                self._sessions.pop(h, None)
            return None
        s.role = role
        s.last_seen = now
        return s

    def end(self, token: str, reason: str = "logout") -> None:
        h = token_hash(token)
        with self._lock:
            s = self._sessions.pop(h, None)
        if s is not None:
            self.store.record_audit(s.user, self.clock(), "logout", {"session": h, "why": reason})

    def end_user(self, name: str) -> None:
        """End every session of a user (removed, or a new password)."""
        with self._lock:
            for k in [k for k, s in self._sessions.items() if s.user == name]:
                self._sessions.pop(k)
        self.forget_roles()

    def alive(self, token_h: str) -> bool:
        with self._lock:
            return token_h in self._sessions


class LoginLimiter:
    """At most ``attempts`` failed logins per ``window_s``, per client address and per user name.

    Both keys count: guessing many names from one address and one name from many
    addresses are both slowed. A success does not erase earlier failures.
    """

    def __init__(self, attempts: int = 5, window_s: float = 300.0, clock=time.monotonic):
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> collections.deque:
        q = self._failures[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def retry_after(self, address: str, name: str) -> float:
        """Seconds until a login from ``address`` as ``name`` may be tried again (0 if now)."""
        now = self.clock()
        with self._lock:
            wait = 0.0
            for key in (f"a:{address}", f"u:{name.lower()}"):
                q = self._trim(key, now)
                if len(q) >= self.attempts:
                    wait = max(wait, self.window_s - (now - q[0]))
            if len(self._failures) > 10000:  # bound the memory an attacker can make us use
                for k in [k for k, q in self._failures.items() if not self._trim(k, now)]:
                    del self._failures[k]
            return wait

    def failed(self, address: str, name: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"a:{address}", f"u:{name.lower()}"):
                self._trim(key, now).append(now)
