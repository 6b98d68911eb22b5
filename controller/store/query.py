"""The pieces of a filtered query every store shares: checked times and a WHERE clause built filter by filter.

A store's listing builds ``where`` (SQL terms) and ``params`` (their values,
in order) and reads ``f"SELECT ... FROM t{where_clause(where)} ..."``. Times are
Unix seconds; ``since`` is inclusive and ``until`` exclusive in every store.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import StoreError


def finite_number(value: Any, what: str, kind: str = "a finite number") -> float:
    """``value`` as a finite float, else StoreError "``what`` must be ``kind``, not ..." (a bool is not a
    number: True would otherwise store as 1.0)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise StoreError(f"{what} must be {kind}, not {value!r}")
    return number


def time_s(t: Any, what: str = "time") -> float:
    """``t`` as finite Unix seconds, else StoreError naming ``what`` (a bool is not a time)."""
    return finite_number(t, what, "finite Unix seconds")


def time_range(where: list[str], params: list, column: str, since: Any, until: Any) -> None:
    """Add ``since <= column < until`` (either bound may be None: no bound)."""
    if since is not None:
        where.append(f"{column} >= ?")
        params.append(time_s(since, "since"))
    if until is not None:
        where.append(f"{column} < ?")
        params.append(time_s(until, "until"))


def where_clause(where: list[str]) -> str:
    """`` WHERE a AND b`` for the terms, or nothing when there are none."""
    return f" WHERE {' AND '.join(where)}" if where else ""
