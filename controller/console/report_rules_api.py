"""The console's Reports API, the warnings: the day's warnings with their urgent-report drafts, and the rules
(controller.toml's, read-only, and the console's, which admins, the reporter and the backup reporter add,
change, enable or disable and delete through ``reporting.changes.ReportChanges``, each with its audit row).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..config_fields import ConfigError
from ..reporting.config import WarningRule, parse_warning_rule
from ..reporting.records import ConsoleRule
from ..reporting.report_store import RuleExists
from ..reporting.warning_rules import rule_dict, rules_in_force
from .auth import Session
from .report_part import ReportsPart
from .web import Bad, day_value, json_body, local_time, ok


class ReportRulesApi(ReportsPart):
    """The day's warnings and the warning rules."""

    def _rule_json(self, rule: WarningRule, in_force: set[str], stored: ConsoleRule | None = None) -> dict:
        out = rule_dict(rule, in_force, stored)
        if stored is not None:
            out.update(created_local=local_time(stored.created_at, self.tz),
                       updated_local=local_time(stored.updated_at, self.tz))
        return out

    def _rules(self, r) -> list[dict]:
        """controller.toml's rules (read-only here), then the console's, each with whether it is in force."""
        in_force = {w.key for w in rules_in_force(self.rs, r.config)}
        return ([self._rule_json(w, in_force) for w in r.config.warnings]
                + [self._rule_json(c.rule, in_force, c) for c in self.rs.warning_rules()])

    async def warnings(self, request: Request, session: Session):
        """The day's warnings with their urgent-report drafts (疫情快报), and the rules: controller.toml's
        (read-only) and the console's (``can_edit_rules``: admins, the reporter and the backup reporter)."""
        day = day_value(request.query_params.get("date"), self.tz)

        def run():
            r = self.reporter
            ws = [{"id": w.id, "day": w.day, "rule": w.rule, "rule_spec": w.draft.get("rule_spec", w.rule),
                   "scope": w.scope, "scope_key": w.scope_key, "what": w.what, "count": w.count,
                   "threshold": w.threshold, "raised_local": local_time(w.raised_at, self.tz), "draft": w.draft}
                  for w in self.rs.warnings(day.isoformat())]
            return {"configured": r is not None, "date": day.isoformat(), "rules": [] if r is None else self._rules(r),
                    "can_edit_rules": self.may_send(session), "warnings": ws}

        return ok(await run_in_threadpool(run))

    def _rule_editor(self, session: Session):
        """The Reporter, when this user may change the console's rules (the same people as send: admins, the
        reporter and the backup reporter named in [report]); 409 without [report], 403 for anyone else."""
        r = self._need_reporter()
        if not self.may_send(session):
            raise Bad("err_forbidden", "only admins, the reporter and the backup reporter may change the warning "
                                       "rules", 403)
        return r

    @staticmethod
    def _rule_id(request: Request) -> int:
        raw = request.path_params["rule_id"]
        if not raw.isdigit() or len(raw) > 12:
            raise Bad("err_invalid", "a rule's id is a number")
        return int(raw)

    @staticmethod
    def _parsed_rule(data: dict, rule_id: int | None = None) -> WarningRule:
        """The form's rule through the loader's own check (config.parse_warning_rule): what controller.toml
        refuses, the console refuses, with the same words."""
        try:
            return parse_warning_rule({k: v for k, v in data.items() if k != "enabled"}, "rule", rule_id=rule_id)
        except ConfigError as exc:
            raise Bad("err_warning_rule", str(exc)) from None

    @staticmethod
    def _taken(r) -> tuple[str, ...]:
        return tuple(w.spec for w in r.config.warnings)

    async def rule_add(self, request: Request, session: Session):
        """{scope, what, threshold, days, factor, min_alarms, baseline_days, enabled}: a console rule (201)."""
        r = self._rule_editor(session)
        data = await json_body(request)
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise Bad("err_invalid", "enabled must be true or false")
        rule = self._parsed_rule(data)

        def run():
            try:
                c = self.changes.add_rule(rule, session.user, enabled=enabled, taken=self._taken(r))
            except RuleExists as exc:
                raise Bad("err_rule_exists", str(exc), 409) from None
            return {"rule": self._rule_json(c.rule, {w.key for w in rules_in_force(self.rs, r.config)}, c)}

        return ok(await run_in_threadpool(run), 201)

    async def rule_change(self, request: Request, session: Session):
        """The same fields: what a console rule counts. It keeps its number, so a warning it raised today is
        not raised again."""
        r = self._rule_editor(session)
        rule_id = self._rule_id(request)
        data = await json_body(request)
        rule = self._parsed_rule(data, rule_id)

        def run():
            try:
                _, after = self.changes.change_rule(rule_id, rule, session.user, taken=self._taken(r))
            except RuleExists as exc:
                raise Bad("err_rule_exists", str(exc), 409) from None
            return {"rule": self._rule_json(after.rule, {w.key for w in rules_in_force(self.rs, r.config)}, after)}

        return ok(await run_in_threadpool(run))

    async def rule_enable(self, request: Request, session: Session):
        """{enabled: true|false}: a console rule put to use, or set aside (kept, to be enabled again)."""
        r = self._rule_editor(session)
        rule_id = self._rule_id(request)
        data = await json_body(request)
        enabled = data.get("enabled")
        if not isinstance(enabled, bool):
            raise Bad("err_invalid", "enabled must be true or false")

        def run():
            c = self.changes.enable_rule(rule_id, enabled, session.user)
            return {"rule": self._rule_json(c.rule, {w.key for w in rules_in_force(self.rs, r.config)}, c)}

        return ok(await run_in_threadpool(run))

    async def rule_delete(self, request: Request, session: Session):
        """A console rule removed (its warnings already stored stay)."""
        self._rule_editor(session)
        rule_id = self._rule_id(request)
        await json_body(request)

        def run():
            c = self.changes.delete_rule(rule_id, session.user)
            return {"deleted": c.rule.key}

        return ok(await run_in_threadpool(run))


__all__ = ["ReportRulesApi"]
