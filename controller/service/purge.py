"""The hourly retention purge: snapshots and the gates' status history past ``[store] retention_days``,
and the records past their ``[retention]`` days (controller/identity/retention.py): people, visitors, reads,
screenings, cases, notifications, absences, hand-held readings.

A purge that fails is logged and tried again an hour later; it never stops the service.
"""

from __future__ import annotations

import logging

from ..cases.case_store import CaseStore
from ..identity.people_store import PeopleStore
from ..identity.retention import purge as purge_identity
from ..notify.outbox import StoreOutbox
from ..reporting.report_store import ReportStore

log = logging.getLogger("thermogate.service")

PURGE_EVERY_S = 3600.0


class HourlyPurge:
    def __init__(self, store):
        self.store = store
        self._last = 0.0  # time.time() of the last purge

    def soon(self) -> None:
        """Purge at the next tick (the retention changed)."""
        self._last = 0.0

    def tick(self, config, now: float) -> None:
        """Purge under ``config`` (a ControllerConfig) if the last purge is an hour old."""
        if now - self._last <= PURGE_EVERY_S:
            return
        self._last = now
        try:
            before = now - config.retention_days * 86400
            purged = self.store.purge_snapshots(before)
            if purged:
                log.info("snapshots purged", extra={"count": purged, "days": config.retention_days})
            trimmed = self.store.purge_gate_status(before)  # the gates' status history, on the same schedule
            if trimmed:
                log.info("gate status history trimmed", extra={"count": trimmed, "days": config.retention_days})
            swept = purge_identity(PeopleStore.beside(self.store), config.retention, now,  # [retention]
                                   cases=CaseStore.beside(self.store), outbox=StoreOutbox.beside(self.store),
                                   reports=ReportStore.beside(self.store))
            if any(swept.values()):
                log.info("records past their retention purged", extra={"counts": swept})
        except Exception as exc:
            log.error("retention purge failed", extra={"error": repr(exc)[:200]})
