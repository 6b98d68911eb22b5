"""Warning rules added in the console (report_rules, store migration 8) on SQLite and PostgreSQL: the loader's one
check for both kinds of rule, each store operation and its refusals, and the scheduler warning with a console
rule on a real store: a rule changed mid-day counts from the next look without a restart, and a rule edited
after it warned does not warn again for the same class that day."""

from __future__ import annotations

import dataclasses

import pytest

from controller.config_fields import ConfigError
from controller.identity.people_store import PeopleStore
from controller.identity.records import Person
from controller.reporting.config import parse_warning_rule
from controller.reporting.report_store import ReportStore, RuleExists
from controller.reporting.scheduler import Reporter
from controller.reporting.warning_rules import rules_in_force
from controller.store import open_store
from controller.store.errors import NotFound, StoreError
from tests import reporting_day as sd
from tests.reporting_day import DAY, TZ, at


def rule(**fields):
    return parse_warning_rule(fields, "rule")


@pytest.mark.parametrize("fields, message", [
    ({"scope": "district", "what": "fevers_confirmed"}, r"rule.scope = 'district': must be class, grade, school"),
    ({"scope": "class", "what": "coughs"}, r"rule.what = 'coughs': must be fevers_confirmed"),
    ({"scope": "class", "what": "fevers_confirmed", "threshold": 0}, r"rule.threshold = 0.0: must be 1..100000"),
    ({"scope": "class", "what": "fevers_confirmed", "threshold": 0.5}, r"rule.threshold = 0.5: must be 1..100000"),
    ({"scope": "class", "what": "fevers_confirmed", "threshold": "3"}, r"rule.threshold must be int or float"),
    ({"scope": "class", "what": "fevers_confirmed", "threshold": None}, r"rule.threshold must be int or float"),
    ({"scope": "class", "what": "fevers_confirmed", "days": 61}, r"rule.days = 61: must be 1..60"),
    ({"scope": "class", "what": "fevers_confirmed", "days": 1.5}, r"rule.days must be int"),
    ({"scope": "grade", "what": "alarm_rate"}, r"alarm_rate is a school-level rule"),
    ({"scope": "school", "what": "alarm_rate", "factor": 0.5}, r"rule.factor = 0.5: must be 1..1000"),
    ({"what": "sick_absences"}, r"scope and what are required"),
    ({"scope": "class", "what": "sick_absences", "colour": "red"}, r"unknown key\(s\) in \[rule\]: colour"),
])
def test_the_console_form_is_checked_by_the_loaders_own_function(fields, message):
    with pytest.raises(ConfigError, match=message):
        rule(**fields)


def test_a_rules_identity():
    toml = rule(scope="class", what="fevers_confirmed", threshold=3, days=1)
    assert (toml.key, toml.spec, toml.source) == ("class:fevers_confirmed>=3/1d",) * 2 + ("toml",)
    console = parse_warning_rule({"scope": "class", "what": "fevers_confirmed", "threshold": 3}, "rule", rule_id=7)
    assert (console.key, console.spec, console.source) == ("console:7", toml.spec, "console")
    # an edit keeps the number, so the key under which its warnings are stored
    assert dataclasses.replace(console, threshold=2).key == "console:7"


def test_store_operations(store_url):
    with open_store(store_url) as store:
        rs = ReportStore.beside(store)
        assert rs.warning_rules() == []
        a = rs.add_warning_rule(rule(scope="school", what="sick_absences", threshold=5, days=3), "ada", 100.0)
        assert (a.id, a.rule.key, a.enabled, a.created_by, a.created_at, a.updated_by) == (
            a.id, f"console:{a.id}", True, "ada", 100.0, "ada")
        assert a.rule.spec == "school:sick_absences>=5/3d" and isinstance(a.rule.days, int)
        b = rs.add_warning_rule(rule(scope="school", what="alarm_rate", factor=3, min_alarms=2, baseline_days=5),
                                "li", 101.0, enabled=False)
        assert b.id > a.id and not b.enabled and b.rule.spec == "school:alarm_rate>=3x5d,min2"
        assert [c.id for c in rs.warning_rules()] == [a.id, b.id]
        assert [c.id for c in rs.warning_rules(enabled_only=True)] == [a.id]

        # Change: the same number, what it counts now, who changed it.
        before, after = rs.change_warning_rule(a.id, rule(scope="grade", what="sick_absences", threshold=2, days=3),
                                               "li", 102.0)
        assert before.rule.spec == "school:sick_absences>=5/3d" and after.rule.spec == "grade:sick_absences>=2/3d"
        assert (after.id, after.rule.key, after.created_by, after.updated_by, after.updated_at) == (
            a.id, f"console:{a.id}", "ada", "li", 102.0)
        # Disable and enable.
        assert rs.enable_warning_rule(a.id, False, "ada", 103.0).enabled is False
        assert rs.warning_rules(enabled_only=True) == []
        assert rs.enable_warning_rule(a.id, True, "ada", 104.0).enabled is True

        # Refusals: a twin of another console rule or of a controller.toml rule; no such rule; a bad user.
        with pytest.raises(RuleExists, match=f"console rule {a.id} already is grade:sick_absences>=2/3d"):
            rs.add_warning_rule(rule(scope="grade", what="sick_absences", threshold=2, days=3), "ada", 105.0)
        with pytest.raises(RuleExists, match="controller.toml already has"):
            rs.add_warning_rule(rule(scope="class", what="fevers_confirmed", threshold=1), "ada", 105.0,
                                taken=("class:fevers_confirmed>=1/1d",))
        with pytest.raises(RuleExists):
            rs.change_warning_rule(b.id, rule(scope="grade", what="sick_absences", threshold=2, days=3), "ada", 105.0)
        # changing a rule to what it already counts is no twin of itself
        rs.change_warning_rule(a.id, rule(scope="grade", what="sick_absences", threshold=2, days=3), "ada", 106.0)
        for call in (lambda: rs.change_warning_rule(9999, rule(scope="school", what="sick_absences"), "ada", 1.0),
                     lambda: rs.enable_warning_rule(9999, False, "ada", 1.0), lambda: rs.delete_warning_rule(9999),
                     lambda: rs.warning_rule(9999)):
            with pytest.raises(NotFound):
                call()
        with pytest.raises(StoreError):
            rs.add_warning_rule(rule(scope="school", what="fevers_confirmed"), "", 1.0)
        assert len(rs.warning_rules()) == 2

        # Delete: gone; its number is never given to another rule.
        assert rs.delete_warning_rule(b.id).rule.spec == "school:alarm_rate>=3x5d,min2"
        c = rs.add_warning_rule(rule(scope="school", what="alarm_rate", factor=3, min_alarms=2, baseline_days=5),
                                "ada", 107.0)
        assert c.id > b.id and [x.id for x in rs.warning_rules()] == [a.id, c.id]


def test_the_schema_refuses_what_the_loader_refuses(store_url):
    """The table's own checks hold even for a writer that skips parse_warning_rule."""
    with open_store(store_url) as store:
        for scope, what, threshold in (("grade", "alarm_rate", 3.0), ("class", "fevers_confirmed", 0.5),
                                       ("district", "fevers_confirmed", 3.0)):
            with pytest.raises(Exception), store._lock, store._db.transaction() as run:  # noqa: B017 (either driver's)
                run("INSERT INTO report_rules (scope, what, threshold, days, factor, min_alarms, baseline_days, "
                    "enabled, created_by, created_at, updated_by, updated_at) VALUES (?, ?, ?, 1, 2, 3, 7, TRUE, "
                    "'x', 0, 'x', 0)", (scope, what, threshold))
        assert ReportStore.beside(store).warning_rules() == []


def test_a_change_is_stored_with_its_audit_row_or_not_at_all(store_url):
    from controller.reporting.changes import ReportChanges

    with open_store(store_url) as store:
        times: list[float] = []
        changes = ReportChanges(store, clock=lambda: times.pop(0))
        times[:] = [at("09:00")] * 2
        c = changes.add_rule(rule(scope="class", what="sick_absences", threshold=2), "ada")
        assert [(e.user, e.action, e.detail["spec"]) for e in store.audit()] == [
            ("ada", "warning_rule_added", "class:sick_absences>=2/1d")]
        # The audit row refused (a time the trail does not take), after the change was written: undone too.
        nan = float("nan")
        for attempt in (lambda: changes.change_rule(c.id, rule(scope="class", what="sick_absences", threshold=5),
                                                    "ada"),
                        lambda: changes.add_rule(rule(scope="grade", what="sick_absences", threshold=9), "ada"),
                        lambda: changes.enable_rule(c.id, False, "ada")):
            times[:] = [at("09:01"), nan]
            with pytest.raises(StoreError, match="time"):
                attempt()
        times[:] = [nan]
        with pytest.raises(StoreError, match="time"):
            changes.delete_rule(c.id, "ada")
        assert [(x.rule.spec, x.enabled, x.updated_at) for x in changes.rs.warning_rules()] == [
            ("class:sick_absences>=2/1d", True, at("09:00"))]
        assert len(store.audit()) == 1
        # The change refused: no audit row either.
        times[:] = [at("09:05")] * 2
        with pytest.raises(NotFound):
            changes.enable_rule(c.id + 1, False, "ada")
        assert len(store.audit()) == 1


@pytest.fixture
def school(store_url, tmp_path):
    store = open_store(store_url)
    sd.roster(store)
    # of the reporting day's controller.toml rules, the class one only (fevers_confirmed >= 1/1d): no sick absence
    # crosses it
    config = sd.load_config(tmp_path / "drop", "http://127.0.0.1:9/unused")
    config = dataclasses.replace(config, warnings=config.warnings[:1])
    warned = []
    reporter = Reporter(ReportStore.beside(store), config, TZ, threshold_c=37.3, on_warning=warned.append,
                        on_alert=lambda text: None)
    yield store, reporter, warned
    store.close()


def test_the_scheduler_warns_with_a_console_rule(school):
    store, reporter, warned = school
    rs = reporter.rs
    rs.mark_absence("S3", DAY.isoformat(), "晨检", "sick_with_symptoms", "teacher-chen", at("09:10"))
    rs.mark_absence("S5", DAY.isoformat(), "晨检", "sick_with_symptoms", "teacher-zhou", at("09:11"))
    # A console rule for one class at 2 sick absences in a day: neither class has 2. Nothing to warn of.
    one = rs.add_warning_rule(rule(scope="class", what="sick_absences", threshold=2, days=1), "ada", at("09:00"))
    assert reporter.due(at("09:20")) == []
    # Changed mid-day to 1: the same Reporter (no restart) warns at its next look, a minute later, per class.
    rs.change_warning_rule(one.id, rule(scope="class", what="sick_absences", threshold=1, days=1), "ada", at("09:20"))
    assert reporter.due(at("09:20")) == []  # not looked at again within the minute
    assert reporter.due(at("09:21")) == [f"warning console:{one.id} 初一(1)班", f"warning console:{one.id} 初一(2)班"]
    assert [(w.rule, w.scope, w.scope_key, w.count, w.threshold) for w in warned] == [
        (f"console:{one.id}", "class", "初一(1)班", 1, 1), (f"console:{one.id}", "class", "初一(2)班", 1, 1)]
    draft = warned[0].draft
    assert draft["rule"] == f"console:{one.id}" and draft["rule_spec"] == "class:sick_absences>=1/1d"
    assert draft["rule_source"] == "console" and f"控制台规则 {one.id}" in draft["text"]
    # Edited again (over 2 days now): the same rule, so the same classes are not warned of twice today.
    rs.change_warning_rule(one.id, rule(scope="class", what="sick_absences", threshold=1, days=2), "ada", at("09:30"))
    assert reporter.due(at("09:31")) == []
    assert len(rs.warnings(DAY.isoformat())) == 2
    # Disabled, it is not looked at: a third class's sick pupil raises nothing; enabled again, it does.
    rs.enable_warning_rule(one.id, False, "ada", at("09:40"))
    PeopleStore.beside(store).put_person(Person("S8", "周八", "student", "初二(1)班", boarder=False, guardian_phone=""),
                                         at("06:00"))
    rs.mark_absence("S8", DAY.isoformat(), "晨检", "sick_with_symptoms", "teacher-wu", at("09:41"))
    assert reporter.due(at("09:42")) == []
    rs.enable_warning_rule(one.id, True, "ada", at("09:45"))
    assert reporter.due(at("09:46")) == [f"warning console:{one.id} 初二(1)班"]
    # The report lists the console rule's warnings by what they count.
    reporter.build(DAY, at("14:30"), page=False)
    content = rs.report_content("4401060001", DAY.isoformat())
    assert sorted((w["scope_key"], w["rule"], w["rule_spec"]) for w in content["warnings"]) == [
        ("初一(1)班", f"console:{one.id}", "class:sick_absences>=1/1d"),
        ("初一(2)班", f"console:{one.id}", "class:sick_absences>=1/1d"),
        ("初二(1)班", f"console:{one.id}", "class:sick_absences>=1/2d")]
    # Deleted: no longer in force; its warnings stay.
    rs.delete_warning_rule(one.id)
    assert [r.key for r in rules_in_force(rs, reporter.config)] == [r.key for r in reporter.config.warnings]
    assert len(rs.warnings(DAY.isoformat())) == 3


def test_a_console_rule_twin_of_a_toml_rule_is_not_used_twice(school):
    store, reporter, warned = school
    rs = reporter.rs
    # Added before controller.toml gained the same rule: the toml rule alone is in force.
    twin = rs.add_warning_rule(rule(scope="class", what="fevers_confirmed", threshold=1, days=1), "ada", at("06:00"))
    assert twin.rule.spec in {r.spec for r in reporter.config.warnings}
    assert [r.key for r in rules_in_force(rs, reporter.config)] == [r.key for r in reporter.config.warnings]
    sd.morning(store)
    assert reporter.due(at("08:00")) == ["warning class:fevers_confirmed>=1/1d 初一(1)班"]
    assert [w.rule for w in warned] == ["class:fevers_confirmed>=1/1d"]
