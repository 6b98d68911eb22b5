"""What the four parts of the console's Reports page share (``ReportsPart``): the daily report
(reports_api.py: status, send, the reports sent with their receipts and files), the warnings and rules
(report_rules_api.py), the absentee lists, their marks, sick absences' follow-up and the sent-home notices
(absences_api.py), and hand-held readings (manual_readings_api.py). docs/reports.md, docs/console.md.

It works through the controller's own ``Reporter`` (``service.reports.reporter``, made from ``[report]``)
and ``ReportStore.beside(service.store)``; without ``[report]`` the lists are empty and ``configured`` is
false, and what needs the table (send, build, absentees) is a 409 ``err_no_report``.

Who may do what (auth.PERMISSIONS, and one rule by name):

- ``view`` (every role): the reports sent with their receipts and files, any day's status, the warnings and
  their drafts, the rules (controller.toml's and the console's). The report names classes, never pupils.
- send now / resend and build: the reporter and the backup reporter named in ``[report]`` (console users of
  any role) and admins (``may_send``). The reporter or backup who sends confirms it: it goes out under
  their name; an admin's send goes under the name the scheduler would use.
- the console's warning rules (add, change, enable or disable, delete): the same people as send, those who
  manage the report. controller.toml's ``[[report.warning]]`` rules are read-only here. A rule is checked
  by the loader's own ``config.parse_warning_rule`` (400 ``err_warning_rule`` with its words); one that
  counts what another rule counts is a 409 ``err_rule_exists``.
- ``absences`` (doctor, admin, teacher): the absentee lists with names, the marks (sick with symptoms, leave,
  other with a note) and the sick absences' daily follow-up. A ``teacher`` (a class teacher) gets only the
  classes the store gives them (``Store.user_classes``): another class's list, mark or follow-up is a 403
  ``err_not_your_class`` (docs/console.md).
- ``notices`` (doctor, admin, teacher): the sent-home notices (a case decided sent home: the pupil's name,
  class, the decision and whether the message went); a teacher's only for their classes.
- ``manual_reading`` (guard, doctor, admin): enter a hand-held reading for someone a gate could not screen,
  and the day's list of them.

Every change is in the audit trail. The rules, absences, follow-ups and hand-held readings go through
``reporting.changes.ReportChanges``, which writes each with its audit row in one transaction (absence_marked,
absence_followup, manual_reading, warning_rule_added, warning_rule_changed, warning_rule_enabled,
warning_rule_disabled, warning_rule_deleted). Sending and building write their files and receipts as they
go (a delivery is not held inside a transaction); their row (report_sent, report_built) follows them.
"""

from __future__ import annotations

import time

from ..identity.people_store import PeopleStore
from ..reporting.changes import ReportChanges
from ..reporting.report_store import ReportStore
from .auth import Session
from .web import Bad


class ReportsPart:
    """The Reporter, the reporting tables and who may do what, for each part of the Reports API."""

    def __init__(self, console):
        self.console = console
        self.service = console.service
        self.rs = ReportStore.beside(console.service.store)
        self.changes = ReportChanges(console.service.store)  # each change with its audit row, in one transaction
        self.people = PeopleStore.beside(console.service.store)

    @property
    def tz(self):
        return self.service.config.tz

    @property
    def reporter(self):
        """The controller's Reporter, or None without [report]."""
        thread = self.service.reports
        return None if thread is None else thread.reporter

    def _need_reporter(self):
        r = self.reporter
        if r is None:
            raise Bad("err_no_report", "controller.toml has no [report] table (docs/reports.md)", 409)
        return r

    def may_send(self, session: Session) -> bool:
        """Send now / resend: the reporter and the backup named in [report], and admins."""
        r = self.reporter
        if r is None:
            return False
        return session.role == "admin" or session.user in (r.config.reporter, r.config.backup_reporter)

    def _audit(self, user: str, action: str, detail: dict) -> None:
        self.service.store.record_audit(user, time.time(), action, detail)

    def _threshold(self) -> float:
        r = self.reporter
        return r.threshold_c if r is not None else self.service.threshold_c()

    def _scope(self, session: Session) -> set[str] | None:
        """The classes a session may see: None (every class) but for a teacher, their classes only."""
        if session.role != "teacher":
            return None
        return set(self.service.store.user_classes(session.user))

    @staticmethod
    def _in_scope(scope: set[str] | None, class_name: str) -> None:
        if scope is not None and class_name not in scope:
            raise Bad("err_not_your_class", f"{class_name or 'that person'} is not one of your classes", 403)
