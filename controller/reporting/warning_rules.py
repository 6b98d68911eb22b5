"""Automatic warnings (自动预警): the ``[[report.warning]]`` rules and the console's (report_rules), and the
urgent-report draft (疫情快报).

A rule counts confirmed fevers or sick absences over ``days`` days (today
included; days of school, with the days off between them: ``[report] days``,
holidays and workdays) per class, per grade (``[report] grade_pattern`` on the
class name) or for the school, and warns at ``threshold``. ``alarm_rate``
compares today's alarms per screening with the ``baseline_days`` school days
before, from the gates' decisions alone, so it works without a roster. On a
day off a rule warns only of what that day's own events make it cross. Each warning is stored once per
day, rule and scope with its draft, and handed to the callback (the
notifications of the reporter and the doctor).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..protocol.result import FEVER, PASS
from .config import ReportConfig, WarningRule
from .counts import DayData
from .records import SICK, ConsoleRule, ReportWarning
from .report_store import ReportStore

WarningCallback = Callable[[ReportWarning], None]

WHAT_ZH = {"fevers_confirmed": "确认发热", "sick_absences": "因病缺勤", "alarm_rate": "发热警报率"}
SCOPE_ZH = {"class": "班级", "grade": "年级", "school": "全校"}


@dataclass(frozen=True)
class Crossing:
    rule: WarningRule
    scope_key: str
    count: float
    threshold: float
    detail: str


def _days(config: ReportConfig, day: dt.date, n: int) -> list[dt.date]:
    """``day`` and the ``n - 1`` school days before it, with the days off between them, oldest first: a rule
    over 3 days looks on a Monday at Thursday, Friday, the weekend and Monday (every day is a school day by
    default, so then it is ``n`` calendar days)."""
    first = day
    for _ in range(n - 1):
        before = config.previous_school_day(first)
        if before is None:  # no school day in the year before: the calendar's days
            before = first - dt.timedelta(days=1)
        first = before
    return [first + dt.timedelta(days=i) for i in range((day - first).days + 1)]


def _scope_key(rule: WarningRule, config: ReportConfig, class_name: str) -> str:
    if rule.scope == "school":
        return config.school
    if not class_name:
        return ""
    return class_name if rule.scope == "class" else config.grade_of(class_name)


def rules_in_force(rs: ReportStore, config: ReportConfig) -> tuple[WarningRule, ...]:
    """The rules looked at now: controller.toml's ``[[report.warning]]``, then the console's enabled rules, as
    the store has them at this moment (a change in the console counts from the next look, no restart). A
    console rule that counts what a controller.toml rule counts is left out (its warnings would come twice)."""
    toml = {r.spec for r in config.warnings}
    return config.warnings + tuple(c.rule for c in rs.warning_rules(enabled_only=True) if c.rule.spec not in toml)


def rule_dict(rule: WarningRule, in_force: set[str], stored: ConsoleRule | None = None) -> dict:
    """A rule as the console's Reports API and ``thermogate report rule list --json`` give it: what it counts,
    where it comes from, whether it is enabled and in force (``in_force``: the keys of ``rules_in_force``),
    and for a console rule (``stored``) who added it and who changed it last."""
    out = {"key": rule.key, "spec": rule.spec, "source": rule.source, "id": rule.id, "scope": rule.scope,
           "what": rule.what, "threshold": rule.threshold, "days": rule.days, "factor": rule.factor,
           "min_alarms": rule.min_alarms, "baseline_days": rule.baseline_days,
           "enabled": True if stored is None else stored.enabled, "in_force": rule.key in in_force}
    if stored is not None:
        out.update(created_by=stored.created_by, updated_by=stored.updated_by)
    return out


def evaluate(rs: ReportStore, config: ReportConfig, day: dt.date, tz: dt.tzinfo, threshold_c: float,
             now: float) -> list[Crossing]:
    """The rules in force (``rules_in_force``) crossed on ``day`` as things stand at ``now``. On a day that is
    not a school day a rule is crossed only where that day's own events count toward it (a boarder's fever on
    a Sunday): what the last school days crossed was warned of on them, and is not warned of again."""
    out: list[Crossing] = []
    school_day = config.is_school_day(day)
    cache: dict[dt.date, DayData] = {}

    def data(d: dt.date) -> DayData:
        if d not in cache:
            cache[d] = DayData(rs, d, tz, threshold_c, until=now)
        return cache[d]

    for rule in rules_in_force(rs, config):
        if rule.what == "alarm_rate":
            c = _alarm_rate(rule, config, data, day)
            if c is not None:
                out.append(c)
            continue
        counts: Counter[str] = Counter()
        today: Counter[str] = Counter()  # of which on ``day`` itself
        if rule.what == "fevers_confirmed":
            for d in _days(config, day, rule.days):
                dd = data(d)
                for a in dd.alarms:
                    if a.confirmed:
                        cls = dd.roster[a.person_id]["class_name"] if a.person_id in dd.roster else ""
                        key = _scope_key(rule, config, cls)
                        counts[key] += 1
                        today[key] += d == day
                for m in dd.manual:
                    if m.person_id in dd.roster and dd.manual_fever(m.value_c):
                        key = _scope_key(rule, config, dd.roster[m.person_id]["class_name"])
                        counts[key] += 1
                        today[key] += d == day
        else:  # sick_absences: people marked sick, once per person and day
            first, last = _days(config, day, rule.days)[0], day
            seen = {(a.person_id, a.day, a.class_name) for a in rs.absences(since_day=first.isoformat(),
                                                                           until_day=last.isoformat())
                    if a.reason == SICK}
            for _, d, cls in seen:
                key = _scope_key(rule, config, cls)
                counts[key] += 1
                today[key] += d == day.isoformat()
        for key, n in sorted(counts.items()):
            if key and n >= rule.threshold and (school_day or today[key]):
                out.append(Crossing(rule, key, n, rule.threshold,
                                    f"{SCOPE_ZH[rule.scope]} {key}：{rule.days} 天内{WHAT_ZH[rule.what]} {n} 例"
                                    f"（阈值 {rule.threshold:g}）"))
    return out


def _alarm_rate(rule: WarningRule, config: ReportConfig, data, day: dt.date) -> Crossing | None:
    def rate(d: dt.date) -> tuple[int, int]:
        dd = data(d)
        screened = sum(1 for r in dd.screenings if r["decision"] in (PASS, FEVER))
        return len(dd.alarms), screened

    alarms, screened = rate(day)
    if alarms < rule.min_alarms or screened == 0:
        return None
    base_alarms = base_screened = 0
    for d in _days(config, day, rule.baseline_days + 1)[:-1]:  # the school days before today, and days off between
        a, s = rate(d)
        base_alarms += a
        base_screened += s
    today = alarms / screened
    baseline = base_alarms / base_screened if base_screened else 0.0
    if baseline and today < rule.factor * baseline:
        return None
    detail = (f"全校今日发热警报 {alarms} 次 / 筛查 {screened} 人次（{today:.2%}），"
              f"前 {rule.baseline_days} 天基线 {baseline:.2%}" + ("" if base_screened else "（无基线数据）"))
    return Crossing(rule, "school", round(today, 6), round(rule.factor * baseline, 6), detail)


def _rule_words(rule: WarningRule) -> str:
    return rule.spec if rule.id is None else f"{rule.spec}（控制台规则 {rule.id}）"


def draft(config: ReportConfig, day: dt.date, crossing: Crossing, data: DayData, now: float, tz: dt.tzinfo) -> dict:
    """The urgent-report draft (疫情快报): what the reporter checks, completes and sends upward."""
    at = dt.datetime.fromtimestamp(now, tz).isoformat(timespec="minutes")
    cases = [{"alarm": a.id, "case": a.case_id, "time": dt.datetime.fromtimestamp(a.time, tz).strftime("%H:%M"),
              "class": data.roster[a.person_id]["class_name"] if a.person_id in data.roster else "",
              "state": a.case_state or a.status, "confirmed": a.confirmed} for a in data.alarms]
    text = (f"{config.school}（{config.school_code}）{day.isoformat()} 疫情快报（草稿）：{crossing.detail}。"
            f"触发规则 {_rule_words(crossing.rule)}。请报告人 {config.reporter} 核实后报送。")
    return {"title": "疫情快报（草稿）", "status": "draft", "school": config.school, "school_code": config.school_code,
            "day": day.isoformat(), "raised_at": at, "rule": crossing.rule.key, "rule_spec": crossing.rule.spec,
            "rule_source": crossing.rule.source, "scope": crossing.rule.scope,
            "scope_key": crossing.scope_key, "what": crossing.rule.what, "count": crossing.count,
            "threshold": crossing.threshold, "detail": crossing.detail, "cases_today": cases,
            "reporter": config.reporter, "text": text}


def raise_warnings(rs: ReportStore, config: ReportConfig, day: dt.date, tz: dt.tzinfo, threshold_c: float,
                   now: float, on_warning: WarningCallback | None = None) -> list[ReportWarning]:
    """Evaluate the rules; store each new warning with its draft and call ``on_warning``; the new ones."""
    new: list[ReportWarning] = []
    crossings = evaluate(rs, config, day, tz, threshold_c, now)
    if not crossings:
        return new
    today = DayData(rs, day, tz, threshold_c, until=now)
    for c in crossings:
        w, is_new = rs.add_warning(day.isoformat(), c.rule.key, c.rule.scope, c.scope_key, c.rule.what, c.count,
                                   c.threshold, now, draft(config, day, c, today, now, tz))
        if is_new:
            new.append(w)
            if on_warning is not None:
                on_warning(w)
    return new
