"""The pieces of a filtered query every store shares: checked times and a WHERE clause built filter by filter.

A store's listing builds ``where`` (SQL terms) and ``params`` (their values,
in order) and reads ``f"SELECT ... FROM t{where_clause(where)} ..."``. Times are
Unix seconds; ``since`` is inclusive and ``until`` exclusive in every store.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import StoreError


def time_s(t: Any, what: str = "time") -> float:
    """``t`` as finite Unix seconds, else StoreError naming ``what`` (a bool is not a time)."""
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise StoreError(f"{what} must be Unix seconds, not {t!r}") from None
    if isinstance(t, bool) or not math.isfinite(value):
        raise StoreError(f"{what} must be finite Unix seconds, not {t!r}")
    return value


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
