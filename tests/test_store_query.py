"""The filters every store shares (controller/store/query.py): a time is finite Unix seconds or a StoreError,
``since`` inclusive and ``until`` exclusive, in the event store and in the stores beside it alike."""

from __future__ import annotations

import math

import pytest

from controller.cases.case_store import CaseStore
from controller.identity.people_store import PeopleStore
from controller.reporting.report_store import ReportStore
from controller.store import StoreError, open_store
from controller.store.query import time_range, time_s, where_clause


def test_times_are_finite_unix_seconds():
    assert time_s(12) == 12.0 and time_s("1.5") == 1.5
    for bad in (math.nan, math.inf, "soon", None, True):
        with pytest.raises(StoreError, match="since"):
            time_s(bad, "since")


def test_a_clause_is_built_term_by_term():
    where: list[str] = ["gate = ?"]
    params: list = ["north-1"]
    time_range(where, params, "time", 10, None)
    time_range(where, params, "time", None, 20)
    assert where_clause(where) == " WHERE gate = ? AND time >= ? AND time < ?" and params == ["north-1", 10.0, 20.0]
    assert where_clause([]) == ""


@pytest.mark.parametrize("bad", [math.nan, "yesterday"])
def test_the_stores_beside_refuse_a_bad_time_as_the_event_store_does(tmp_path, bad):
    store = open_store(str(tmp_path / "t.db"))
    try:
        with pytest.raises(StoreError):
            store.alarms(since=bad)
        with pytest.raises(StoreError):
            CaseStore.beside(store).cases(since=bad)
        with pytest.raises(StoreError):
            CaseStore.beside(store).cases(until=bad)
        with pytest.raises(StoreError):
            PeopleStore.beside(store).visitors(since=bad)
        with pytest.raises(StoreError):
            PeopleStore.beside(store).reads(since=bad)
        with pytest.raises(StoreError):
            ReportStore.beside(store).manual_readings(since=bad)
    finally:
        store.close()
