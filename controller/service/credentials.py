"""Credentials read at the gates, checked, resolved, and tied to the screening that follows.

The gate's QR scanner or card reader sends a ``credential`` message
(docs/protocol.md). ``CredentialDesk.receive`` believes it only after:

1. ``controller/protocol/credential.decode`` under the gate's sensor key;
2. the gate's frames: the read must be of the boot the gate's frames come
   from, and its board time no more than the association window before the
   latest frame (nor more than 5 s after it), else ``stale``. This holds after
   a controller restart too, when the replay guard starts empty;
3. a ``ReplayGuard`` of the gate's own (a number not above the last of its
   boot, or a boot the gate has left, is a ``replay``), moved on only by reads
   that passed 1 and 2.

Each refusal is counted for the gate (``worker.errors`` as
``credential_<reason>``, the metric ``thermogate_credentials_total``, the
gate summary's ``identity``) and changes nothing else; no input raises.

An accepted read is resolved at once (``Resolver``: one look-up) and waits,
one per gate, for the gate's next PASS or FEVER (``take``): a screening
decided on a frame from the read's board time to ``window_s`` after it.
A person may scan while already being measured; a second read replaces the
first; one read serves one screening; a read nobody's screening took within
the window is dropped. RETRY and BLOCKED leave it waiting (the person tries
again). The times are the gate's own clock (the frames' board time), so
network delays and the controller's queue do not move a read from one
person to the next.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass

from ..identity import passes
from ..identity.checks import IdentityError
from ..identity.records import Resolution
from ..identity.resolve import Resolver
from ..protocol import ProtocolError
from ..protocol import result as D
from ..protocol.credential import Credential, ReplayGuard, decode
from ..protocol.result import Decision

log = logging.getLogger("thermogate.credentials")

WINDOW_S = 10.0  # [site] identity_window_s: a read serves a screening decided this long after it, at most
STALE = "stale"  # a read of another boot than the frames', or too old by the frames' clock
STORE = "store"  # the store could not be read: treated as a refusal


@dataclass(frozen=True)
class GateCredential:
    """An authenticated read waiting for its screening: what it resolved to (None: the store could not be
    read), when on the pipeline's clock (``scan_ms``), and when it arrived (wall time)."""

    credential: Credential
    resolution: Resolution | None
    scan_ms: float
    received: float

    @property
    def outcome(self) -> str:
        """``ok``, the refusal reason, or ``store``."""
        if self.resolution is None:
            return STORE
        return "ok" if self.resolution.ok else str(self.resolution.reason)

    def person(self) -> dict | None:
        """``{id, name}`` of the person, ``{id, name, visitor: true}`` of a visitor, or None (docs/protocol.md)."""
        r = self.resolution
        if r is None:
            return None
        if r.person is not None:
            return {"id": r.person.id, "name": r.person.name}
        if r.visitor is not None:
            return {"id": r.visitor.pass_id, "name": r.visitor.name, "visitor": True}
        return None


class _Gate:
    def __init__(self) -> None:
        self.replays = ReplayGuard()
        self.pending: GateCredential | None = None
        self.accepted = 0
        self.refused: collections.Counter[str] = collections.Counter()  # decode refusals and stale reads
        self.outcomes: collections.Counter[str] = collections.Counter()  # resolve(): ok or the refusal
        self.expired = 0  # reads no screening took within the window
        self.replaced = 0  # reads replaced by a second one before a screening took them


class CredentialDesk:
    """The credentials of every gate a controller serves. ``resolver`` None: nobody is resolved (every read is
    ``store``). ``site_dir``: where the visitor pass key is, read again while it is missing."""

    def __init__(self, resolver: Resolver | None, *, window_s: float = WINDOW_S, site_dir=None, metrics=None):
        self.resolver = resolver
        self.window_ms = float(window_s) * 1000.0
        self.site_dir = site_dir
        self.metrics = metrics
        self._gates: dict[str, _Gate] = {}

    def _gate(self, gate_id: str) -> _Gate:
        return self._gates.setdefault(gate_id, _Gate())

    def _count(self, worker, result: str) -> None:
        if self.metrics is not None and hasattr(self.metrics, "credentials"):
            self.metrics.credentials.labels(gate=worker.id, result=result).inc()

    def _refuse(self, worker, g: _Gate, reason: str, detail: str) -> None:
        g.refused[reason] += 1
        self._count(worker, reason)
        worker.refuse(f"credential_{reason}", detail)
        self._show(worker, g)

    def receive(self, worker, payload: bytes, now: float | None = None) -> GateCredential | None:
        """A ``credential`` message on ``worker``'s gate's topic: the read, now waiting for its screening, or
        None (refused and counted)."""
        g = self._gate(worker.id)
        now = time.time() if now is None else now
        try:
            cred = decode(bytes(payload), worker.key, worker.id)
        except ProtocolError as exc:
            self._refuse(worker, g, exc.reason, str(exc))
            return None
        except Exception as exc:  # a bug must cost one message, never the gate
            self._refuse(worker, g, "malformed", repr(exc)[:200])
            return None
        scan_ms = worker.clock_ms(cred.board_ms) if cred.boot_id == worker.boot_id else None
        if scan_ms is None or (worker.clock_ms(worker.last_board_ms) or 0.0) - scan_ms > self.window_ms:
            self._refuse(worker, g, STALE, f"read {cred.number} of boot {cred.boot_id:#x} at {cred.board_ms} ms; "
                                           f"frames of boot {worker.boot_id} at {worker.last_board_ms} ms")
            return None
        try:  # only a read that fits the frames moves the replay guard on
            g.replays.check(cred)
        except ProtocolError as exc:
            self._refuse(worker, g, exc.reason, str(exc))
            return None
        resolution = self._resolve(cred, now)
        if g.pending is not None:
            g.replaced += 1
        g.pending = GateCredential(cred, resolution, scan_ms, now)
        g.accepted += 1
        g.outcomes[g.pending.outcome] += 1
        self._count(worker, "accepted")
        log.info("credential read", extra={"gate": worker.id, "kind": cred.kind, "n": cred.number,
                                           "outcome": g.pending.outcome})
        self._show(worker, g)
        return g.pending

    def _resolve(self, cred: Credential, now: float) -> Resolution | None:
        if self.resolver is None:
            return None
        if self.resolver.pass_key is None and self.site_dir is not None and passes.looks_like_pass(cred.text):
            try:  # made by `thermogate visitor add` after the controller started
                self.resolver.pass_key = passes.load_pass_key(self.site_dir)
            except IdentityError:
                pass
        try:
            return self.resolver.resolve(cred.text, cred.kind, now)
        except Exception as exc:  # StoreError: the door rule keeps the door shut
            log.error("credential not resolved: the store could not be read", extra={"error": repr(exc)[:200]})
            return None

    def take(self, worker, d: Decision) -> GateCredential | None:
        """The read this screening is tied to, if any: a PASS or FEVER decided on a frame from the waiting
        read's time to the window after it takes it (and no other screening will)."""
        g = self._gates.get(worker.id)
        if g is None or g.pending is None:
            return None
        t = d.time_s * 1000.0
        p = g.pending
        if t > p.scan_ms + self.window_ms or p.credential.boot_id != worker.boot_id:  # a restart: another clock
            g.pending = None
            g.expired += 1
            self._show(worker, g)
            return None
        if t < p.scan_ms or d.decision not in (D.PASS, D.FEVER):
            return None  # the person before (a read that came in first), or a RETRY: it waits
        g.pending = None
        self._show(worker, g, taken=p)
        return p

    def expire(self, worker) -> None:
        """Drop a read no screening took within the window (called on the tick, by the frames' clock)."""
        g = self._gates.get(worker.id)
        if g is None or g.pending is None:
            return
        now_ms = worker.clock_ms(worker.last_board_ms)
        if (now_ms is None or now_ms - g.pending.scan_ms > self.window_ms
                or g.pending.credential.boot_id != worker.boot_id):
            g.pending = None
            g.expired += 1
            self._show(worker, g)

    def _show(self, worker, g: _Gate, taken: GateCredential | None = None) -> None:
        """The gate summary's ``identity``: counts, refusals by reason, who waits, who was last tied."""
        last = (worker.identity or {}).get("last")
        if taken is not None:
            person = taken.person()
            last = {"name": person["name"] if person else None, "visitor": bool(person and person.get("visitor")),
                    "outcome": taken.outcome, "time": taken.received}
        pending = None
        if g.pending is not None:
            person = g.pending.person()
            pending = {"name": person["name"] if person else None, "outcome": g.pending.outcome}
        worker.identity = {"accepted": g.accepted, "refused": dict(g.refused), "outcomes": dict(g.outcomes),
                           "expired": g.expired, "replaced": g.replaced, "pending": pending, "last": last}
