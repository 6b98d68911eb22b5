"""The daily report's scheduler in the controller: ``[report]`` made into a running ``ReportThread``.

The reporter pages and warns through the alarms' ``Notifier`` (REPORT events to
the reporter's contact, [notifications.md](../../docs/notifications.md)) when
``[notify]`` has routes, else into the log; a late or failed report, and a
reporter who is not a console user, is a ``report_late`` alert on the console.
"""

from __future__ import annotations

import logging

from ..notify.config import SmtpConfig
from ..reporting.report_store import ReportStore
from ..reporting.scheduler import Reporter, ReportThread, notify_callbacks
from .events import AlertKind

log = logging.getLogger("thermogate.service")


def report_thread(config, store, alerts, notifier) -> ReportThread | None:
    """The scheduler of ``config.report`` (not started), or None when controller.toml has no [report]."""
    if config.report is None:
        return None
    on_page = on_warning = None
    if notifier is not None:
        on_page, on_warning = notify_callbacks(notifier, config.report)
    smtp = {name: c for name, c in config.notify.channels.items() if isinstance(c, SmtpConfig)}
    reporter = Reporter(ReportStore.beside(store), config.report, config.tz, threshold_c=config.screening.threshold_c,
                        smtp=smtp, on_page=on_page, on_warning=on_warning,
                        on_alert=lambda text: alerts.raise_(None, AlertKind.REPORT_LATE, text))
    return ReportThread(reporter)
