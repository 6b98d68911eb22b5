"""Reports that send themselves: sessions, absences, warnings, the daily report and its delivery (docs/reports.md).

- config.py: ``[report]`` (school, reporter, sessions, warning rules, recipients, the bureau's columns);
- report_store.py: absences and follow-ups, manual readings, warnings, reports and receipts (migration 6);
- counts.py: per session and category, expected / screened / not screened / fevers, and absentee lists;
- warning_rules.py: the ``[[report.warning]]`` rules and the urgent-report draft (疫情快报);
- document.py, pdf.py: the report's content, CSV, JSON and A4 PDF;
- delivery.py, scheduler.py: file drop, webhook, e-mail; ``Reporter.due(now)`` for the service's tick.
- district.py, district_pdf.py: ``thermogate report district``, the schools sharing one database summed.
"""

from .config import ReportConfig, Session, WarningRule, from_table, load_report_config
from .counts import Absentee, GroupCount, SessionCounts, absentees, day_counts
from .records import ABSENCE_REASONS, Absence, FollowUp, ManualReading, Receipt, ReportRecord, ReportWarning
from .report_store import ReportStore, open_report_store
from .scheduler import Reporter, notify_callbacks

__all__ = ["ABSENCE_REASONS", "Absence", "Absentee", "FollowUp", "GroupCount", "ManualReading", "Receipt",
           "ReportConfig", "ReportRecord", "ReportStore", "ReportWarning", "Reporter", "Session", "SessionCounts",
           "WarningRule", "absentees", "day_counts", "from_table", "load_report_config", "notify_callbacks",
           "open_report_store"]
