"""Who is at the console: sessions, roles, CSRF tokens and login rate limiting.

Sessions are random tokens in an HttpOnly, SameSite=Strict cookie. The server
keeps only a SHA-256 of each token, and it keeps it in the store's audit trail:
a ``login`` entry names the session's hash and the user's epoch, a ``logout``
entry ends it. On start the book is rebuilt from the last day of audit
entries, so a controller restart does not log the gatehouse out (the page
reconnects on its own) while a logout stays final. The user's role and epoch
are read from the store on every request and every second of a WebSocket, so
removing a user, a new password or a role change takes effect at once, also
when made by ``thermogate user`` in another process.

The CSRF token of a session is HMAC-SHA256(token, "csrf"): nothing more to
store, and it cannot be computed without the cookie, which scripts on other
sites never see.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("thermogate.console")

COOKIE = "tg_session"
SESSION_MAX_S = 24 * 3600.0  # a session lasts at most a day, whatever happens
SESSION_IDLE_S = 12 * 3600.0  # and ends after half a day without a request

# What each role may do. Every view is open to all three roles. Sending the daily report is by name, not by
# role: the reporter and backup reporter of [report], and admins (report_part.ReportsPart.may_send).
PERMISSIONS = {
    # any console user, the class teacher too: log out, who am I, the console's assets, the Reports page
    "signed_in": {"guard", "doctor", "admin", "teacher"},
    "view": {"guard", "doctor", "admin"},  # live wall, history, today, reports, snapshots
    "ack": {"guard", "doctor", "admin"},  # acknowledge an alarm (silences it)
    "dispose": {"doctor", "admin"},  # the re-check reading and the outcome
    "door": {"guard", "admin"},  # open once, hold locked, release
    "admin": {"admin"},  # settings, users, the audit trail; the roster's import and export
    "people": {"guard", "doctor", "admin"},  # search the roster: id, name, class (no phones, no credentials)
    "person_file": {"doctor", "admin"},  # open a person's file (一人一档), with a reason, audited
    "visitors": {"guard", "admin"},  # register visitors, their passes, revoke, the visitor log (audited)
    # "let in at gate X" from a fever case decided back in (cases_api.py): the door opens for that person only
    "let_in": {"guard", "doctor", "admin"},
    # the daily report's absences (absences_api.py): the absentee lists with names, the class teacher's marks
    # and a sick absence's follow-up; a teacher only for the classes the store gives them (user_classes)
    "absences": {"doctor", "admin", "teacher"},
    # the sent-home notices (a case decided sent home: the pupil's name and class); a teacher: their pupils'
    "notices": {"doctor", "admin", "teacher"},
    "manual_reading": {"guard", "doctor", "admin"},  # a hand-held reading for someone a gate could not screen
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
    epoch: int | None = None  # the user's epoch at login (Store.user_session_state); None: not trusted

    def allows(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


class SessionBook:
    """Live sessions by token hash, persisted through the store's audit trail, checked against the store.

    Each session remembers the user's epoch (``Store.user_session_state``) at login. Every request and
    every second of an open WebSocket compares it with the store's: removing the user, adding the name
    again, a new password or ``Store.end_sessions`` (from the console or from ``thermogate user`` in
    another process) moves the epoch on and ends the session at once.
    """

    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._warned = -1e9

    def restore(self) -> int:
        """Rebuild the book from the audit trail of the last SESSION_MAX_S; how many sessions are live."""
        now = self.clock()
        live: dict[str, Session] = {}
        for entry in self.store.audit(since=now - SESSION_MAX_S):
            detail = entry.detail if isinstance(entry.detail, dict) else {}
            h = detail.get("session")
            if entry.action == "login" and h:
                epoch = detail.get("epoch")
                live[h] = Session(entry.user or "", "", h, entry.time, entry.time,
                                  epoch if isinstance(epoch, int) else None)
            elif entry.action == "session_renewed" and h in live and isinstance(detail.get("epoch"), int):
                live[h].epoch = detail["epoch"]
            elif entry.action == "logout" and h:
                live.pop(h, None)
        # A restart counts as activity: the idle clock starts again, the 24 h limit does not.
        for s in live.values():
            s.last_seen = now
        with self._lock:
            self._sessions = live
        return len(live)

    def start(self, user: str, role: str) -> str:
        """A new session for a user who just gave the right password; the cookie's token."""
        token = secrets.token_urlsafe(32)
        h = token_hash(token)
        now = self.clock()
        state = self.store.user_session_state(user)
        epoch = state[1] if state is not None else None
        self.store.record_audit(user, now, "login", {"session": h[:64], "epoch": epoch})
        with self._lock:
            self._sessions[h] = Session(user, role, h, now, now, epoch)
        return token

    def _check(self, h: str, *, touch: bool) -> Session | None:
        now = self.clock()
        with self._lock:
            s = self._sessions.get(h)
        if s is None:
            return None
        if now - s.started > SESSION_MAX_S or now - s.last_seen > SESSION_IDLE_S:
            self._drop(h, "expired")
            return None
        try:
            state = self.store.user_session_state(s.user)
        except Exception as exc:  # the database is away (PostgreSQL restarting): nobody can change users
            # either, so the session stands as last checked, and the live wall stays up meanwhile.
            state = (s.role, s.epoch) if s.role else None
            now_m = time.monotonic()
            if now_m - self._warned > 60:
                self._warned = now_m
                log.warning("sessions checked against their last known state: the store is unreadable",
                            extra={"error": repr(exc)[:200]})
        if state is None or s.epoch is None or state[1] != s.epoch:  # removed, re-added, new password, ended
            self._drop(h, "ended")
            return None
        s.role = state[0]
        if touch:
            s.last_seen = now
        return s

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, with the user's current role; None if there is none.
        A request: it resets the session's idle clock."""
        if not token or len(token) > 200:
            return None
        return self._check(token_hash(token), touch=True)

    def valid(self, token_h: str) -> bool:
        """Whether a session is still live (for the WebSocket's checks); not a request, so the idle
        clock keeps running: a tab nobody uses ends after SESSION_IDLE_S like any other session."""
        return self._check(token_h, touch=False) is not None

    def renew(self, token: str) -> None:
        """Keep the session of ``token`` alive under its user's current epoch (after they changed their
        own password: their other sessions end, this one goes on)."""
        h = token_hash(token)
        with self._lock:
            s = self._sessions.get(h)
        if s is None:
            return
        state = self.store.user_session_state(s.user)
        if state is not None:
            s.epoch = state[1]
            self.store.record_audit(s.user, self.clock(), "session_renewed", {"session": h, "epoch": s.epoch})

    def _drop(self, h: str, reason: str) -> None:
        with self._lock:
            s = self._sessions.pop(h, None)
        if s is not None:
            try:
                self.store.record_audit(s.user, self.clock(), "logout", {"session": h, "why": reason})
            except Exception as exc:  # ended here all the same; after a restart the epoch or the limits end it
                log.error("logout not recorded", extra={"error": repr(exc)[:200]})

    def end(self, token: str, reason: str = "logout") -> None:
        self._drop(token_hash(token), reason)

    def end_user(self, name: str) -> None:
        """Forget every session of a user here at once (the store's epoch already ends them everywhere)."""
        with self._lock:
            for k in [k for k, s in self._sessions.items() if s.user == name]:
                self._sessions.pop(k)

    def alive(self, token_h: str) -> bool:
        """Whether a session is live (same as ``valid``)."""
        return self.valid(token_h)

    def forget_roles(self) -> None:
        """Nothing to forget: roles and epochs are read from the store on every check."""


class LoginLimiter:
    """Failed logins slow further tries down, per client address and per user name, with backoff.

    An attempt is counted *before* its password is checked (``begin``), so concurrent guesses cannot all
    slip in while the first scrypt runs; a success takes its own attempt back (``succeeded``). The first
    ``free`` failures in ``window_s`` cost nothing; after that each further try waits
    ``base_s * 2**(failures - free)`` seconds after the previous one, up to ``max_s``. So a mistyping
    guard waits seconds, never a lock-out against the right password, while a guesser gets about a dozen
    tries in five minutes. Both keys count: many names from one address, and one name from many addresses.
    """

    def __init__(self, free: int = 5, window_s: float = 300.0, base_s: float = 1.0, max_s: float = 60.0,
                 clock=time.monotonic):
        self.free = free
        self.window_s = window_s
        self.base_s = base_s
        self.max_s = max_s
        self.clock = clock
        self._failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> collections.deque:
        q = self._failures[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def _wait(self, q: collections.deque, now: float) -> float:
        if len(q) < self.free:
            return 0.0
        delay = min(self.base_s * 2.0 ** (len(q) - self.free), self.max_s)
        return max(0.0, delay - (now - q[-1]))

    @staticmethod
    def _keys(address: str, name: str) -> tuple[str, str]:
        return f"a:{address}", f"u:{name.lower()}"

    def retry_after(self, address: str, name: str) -> float:
        """Seconds until a login from ``address`` as ``name`` may be tried again (0 if now)."""
        now = self.clock()
        with self._lock:
            return max(self._wait(self._trim(k, now), now) for k in self._keys(address, name))

    def begin(self, address: str, name: str) -> tuple[float, float]:
        """Before checking a password: (seconds to wait, 0 if the try may go ahead; the attempt's ticket).
        A try that may go ahead is counted as a failure from now on, until ``succeeded``."""
        now = self.clock()
        with self._lock:
            keys = self._keys(address, name)
            wait = max(self._wait(self._trim(k, now), now) for k in keys)
            if wait <= 0:
                for k in keys:
                    self._failures[k].append(now)
            if len(self._failures) > 10000:  # bound the memory an attacker can make us use
                for k in [k for k in self._failures if not self._trim(k, now)]:
                    del self._failures[k]
            return wait, now

    def succeeded(self, address: str, name: str, ticket: float) -> None:
        """The password was right: the attempt was no failure, and the name's backoff is over."""
        now = self.clock()
        with self._lock:
            a, u = self._keys(address, name)
            q = self._trim(a, now)
            try:
                q.remove(ticket)
            except ValueError:
                pass
            self._trim(u, now).clear()

    def failed(self, address: str, name: str) -> None:
        """A failure counted without ``begin`` (kept for callers outside the login form)."""
        now = self.clock()
        with self._lock:
            for key in self._keys(address, name):
                self._trim(key, now).append(now)
