"""``AlertBook``: alerts for a person, stored, shown live, one open alert per (gate, kind) at a time.

Alerts still open from before a restart stay open (and can be resolved) in this
run. Every raise and resolve goes to the live view as an ``AlertEvent``.
"""

from __future__ import annotations

import logging
import threading
import time

from .events import AlertEvent, AlertKind

log = logging.getLogger("thermogate.service")

Key = tuple[str | None, AlertKind | str]  # (gate, or None for the whole controller; its kind)


class AlertBook:
    def __init__(self, store, live):
        self.store = store
        self.live = live
        self._open: dict[Key, int | None] = {}
        self._detail: dict[Key, tuple[str, float]] = {}
        self._lock = threading.Lock()
        try:
            for a in store.alerts(open_only=True):
                self._open[(a.gate, a.kind)] = a.id
                self._detail[(a.gate, a.kind)] = (a.detail, a.time)
        except Exception as exc:
            log.error("open alerts not loaded", extra={"error": repr(exc)[:200]})

    def raise_(self, gate: str | None, kind: AlertKind, detail: str) -> None:
        with self._lock:
            if (gate, kind) in self._open:
                return
            self._open[(gate, kind)] = None
            self._detail[(gate, kind)] = (detail, time.time())
        alert_id = None
        try:
            alert_id = self.store.record_alert(gate, time.time(), str(kind), detail)
        except Exception as exc:
            log.error("alert not stored", extra={"gate": gate, "kind": str(kind), "error": repr(exc)[:200]})
        with self._lock:
            self._open[(gate, kind)] = alert_id
        log.warning("alert", extra={"gate": gate, "kind": str(kind), "detail": detail})
        self.live.publish(AlertEvent(gate, kind, alert_id, True, detail))

    def resolve(self, gate: str | None, kind: AlertKind | str) -> None:
        """``kind`` may be one an older version stored (a plain string) and this run still holds open."""
        with self._lock:
            if (gate, kind) not in self._open:
                return
            alert_id = self._open.pop((gate, kind))
            self._detail.pop((gate, kind), None)
        if alert_id is not None:
            try:
                self.store.resolve_alert(alert_id, time.time())
            except Exception as exc:
                log.error("alert not resolved in the store", extra={"error": repr(exc)[:200]})
        self.live.publish(AlertEvent(gate, kind, alert_id, False))

    def open_alerts(self) -> list[dict]:
        """Every open alert, oldest first: what the console shows until it is resolved."""
        with self._lock:
            items = [(key, alert_id, *self._detail.get(key, ("", 0.0))) for key, alert_id in self._open.items()]
        return sorted(({"gate": g, "alert": str(k), "id": i, "detail": d, "time": t} for (g, k), i, d, t in items),
                      key=lambda a: a["time"])

    def dismiss(self, alert_id: int) -> Key | None:
        """Resolve the open alert with this id (a person has dealt with it); its (gate, kind), or None."""
        with self._lock:
            key = next((k for k, i in self._open.items() if i == alert_id), None)
        if key is not None:
            self.resolve(*key)
        return key

    def is_open(self, gate: str | None, kind: AlertKind | str) -> bool:
        with self._lock:
            return (gate, kind) in self._open

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._open)
