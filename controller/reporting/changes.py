"""The reporting changes a person makes, each written with its audit row in one transaction: the console's
Reports API and the command line (``thermogate report rule|absent``, ``thermogate screening manual``) both
go through ``ReportChanges``, so a change is never stored without the row that says who made it, nor the
other way round.

The actions in the audit trail: ``warning_rule_added``, ``warning_rule_changed``, ``warning_rule_enabled``,
``warning_rule_disabled``, ``warning_rule_deleted``, ``absence_marked``, ``absence_followup``,
``manual_reading``. What the store refuses (``StoreError``, ``NotFound``, ``RuleExists``) is raised as it
comes, and neither the change nor its row is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ..store import Store
from .config import WarningRule
from .records import Absence, ConsoleRule, FollowUp, ManualReading
from .report_store import ReportStore

T = TypeVar("T")


class ReportChanges:
    """Audited writes to the reporting tables of ``store`` (the event store, which keeps the audit trail)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.rs = ReportStore.beside(store)
        self.clock = clock

    def _audited(self, by: str, action: str, change: Callable[[], T], detail: Callable[[T], dict]) -> T:
        with self.store.atomic():
            out = change()
            self.store.record_audit(by, self.clock(), action, detail(out))
        return out

    # ------------------------------------------------------------ the console's warning rules

    def add_rule(self, rule: WarningRule, by: str, *, enabled: bool = True,
                 taken: tuple[str, ...] = ()) -> ConsoleRule:
        """A console rule (``taken``: the specs of controller.toml's rules, which it may not repeat)."""
        return self._audited(by, "warning_rule_added",
                             lambda: self.rs.add_warning_rule(rule, by, self.clock(), enabled=enabled, taken=taken),
                             lambda c: {"rule": c.rule.key, "spec": c.rule.spec, "enabled": c.enabled})

    def change_rule(self, rule_id: int, rule: WarningRule, by: str, *,
                    taken: tuple[str, ...] = ()) -> tuple[ConsoleRule, ConsoleRule]:
        """What a console rule counts; (before, after)."""
        return self._audited(by, "warning_rule_changed",
                             lambda: self.rs.change_warning_rule(rule_id, rule, by, self.clock(), taken=taken),
                             lambda ba: {"rule": ba[1].rule.key, "before": ba[0].rule.spec, "after": ba[1].rule.spec})

    def enable_rule(self, rule_id: int, enabled: bool, by: str) -> ConsoleRule:
        return self._audited(by, "warning_rule_enabled" if enabled else "warning_rule_disabled",
                             lambda: self.rs.enable_warning_rule(rule_id, enabled, by, self.clock()),
                             lambda c: {"rule": c.rule.key, "spec": c.rule.spec})

    def delete_rule(self, rule_id: int, by: str) -> ConsoleRule:
        """Remove a console rule; the rule as it was (its warnings already stored stay)."""
        return self._audited(by, "warning_rule_deleted", lambda: self.rs.delete_warning_rule(rule_id),
                             lambda c: {"rule": c.rule.key, "spec": c.rule.spec, "enabled": c.enabled})

    # ------------------------------------------------------------ absences and hand-held readings

    def mark_absence(self, person_id: str, day: str, session: str, reason: str, by: str, *,
                     note: str = "") -> Absence:
        return self._audited(by, "absence_marked",
                             lambda: self.rs.mark_absence(person_id, day, session, reason, by, self.clock(), note=note),
                             lambda a: {"person": person_id, "day": a.day, "session": a.session, "reason": reason})

    def follow_up(self, absence_id: int, day: str, status: str, by: str, *, note: str = "") -> FollowUp:
        return self._audited(by, "absence_followup",
                             lambda: self.rs.follow_up(absence_id, day, status, by, self.clock(), note=note),
                             lambda f: {"absence": f.absence_id, "day": f.day, "status": status})

    def add_manual_reading(self, person_id: str, value_c: float, by: str, at: float, *, gate: str = "",
                           note: str = "") -> ManualReading:
        return self._audited(by, "manual_reading",
                             lambda: self.rs.add_manual_reading(person_id, value_c, by, at, gate=gate, note=note),
                             lambda m: {"person": person_id, "value_c": value_c, "gate": gate})
