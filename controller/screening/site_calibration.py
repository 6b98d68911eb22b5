"""The per-site offset: readings of a clinical thermometer against the gate's estimates.

A nurse takes a clinical reading of a few people as they pass the gate and
writes down when (a sheet of ``time, clinical_c``). Each reading is matched
by time to the gate's decision nearest to it (:func:`match_by_time`), across
any number of recordings or the live store's screenings, all pooled; no
track numbers are needed.

The fit is robust (:func:`fit_site_offset`): a reading whose difference from
the estimate lies far from the others (a wrong person, a typo, a thermometer
slip) is listed as an outlier and left out; the offset is the median
difference of the rest. Its uncertainty is given twice: the standard error of
that median (1.2533 sd / sqrt(n)) and a bootstrap 95 % interval. The spread
that remains is reported too: it is the person-to-person variation no offset
can remove.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

import numpy as np

OUTLIER_MADS = 3.5  # a difference further than this many robust sds (1.4826 MAD) from the median is an outlier ...
OUTLIER_FLOOR_C = 0.5  # ... and further than this, whatever the spread
BOOTSTRAP = 2000
MIN_PAIRS = 3
# The checks docs/installation.md ("Commissioning: the site offset") asks of a fit before it is stored: its standard
# error, how many readings it left out, and the spread of the rest.
ACCEPT_SE_C = 0.2
# The standard error rests on the readings' own spread, estimated from them: from a few it can come out half the
# gate's true spread by chance (one time in ten from 5 readings), and the error with it. 10 is the fewest at which
# a gate whose readings spread by 0.5 degC sd (less than the typical 0.6) passes the standard-error check.
ACCEPT_MIN_USED = 10
ACCEPT_OUTLIERS = 2
ACCEPT_RESIDUAL_SD_C = 0.8
# The checks by name, as :meth:`SiteCalibration.failed_checks` gives them; more readings answer the first two.
TOO_FEW, STANDARD_ERROR, OUTLIERS, RESIDUAL_SD = "too few readings", "standard error", "outliers", "residual sd"
MORE_READINGS_ANSWER = frozenset((TOO_FEW, STANDARD_ERROR))


@dataclass(frozen=True)
class SiteCalibration:
    offset_c: float  # add to the gate's estimates
    residual_sd_c: float  # spread of clinical - (estimate + offset), outliers left out
    pairs: int  # readings matched to a decision, outliers included
    standard_error_c: float = math.nan  # of the offset
    ci95_c: tuple[float, float] = (math.nan, math.nan)  # bootstrap 95 % interval of the offset
    outliers: tuple[int, ...] = ()  # indices into the pairs left out of the fit
    used: int = 0  # pairs the offset is fitted on

    def failed_checks(self) -> list[str]:
        """The installation's checks (docs/installation.md) the fit fails, by name (TOO_FEW, STANDARD_ERROR,
        OUTLIERS, RESIDUAL_SD, in that order); empty: it may be stored."""
        return [name for name, failed in ((TOO_FEW, self.used < ACCEPT_MIN_USED),
                                          (STANDARD_ERROR, not self.standard_error_c <= ACCEPT_SE_C),
                                          (OUTLIERS, len(self.outliers) > ACCEPT_OUTLIERS),
                                          (RESIDUAL_SD, not self.residual_sd_c < ACCEPT_RESIDUAL_SD_C)) if failed]

    def problems(self) -> list[str]:
        """Why the fit fails the installation's checks (:meth:`failed_checks`, each said with what to do), or
        nothing: it may be stored."""
        out = []
        for check in self.failed_checks():
            if check == TOO_FEW:
                out.append(f"too few readings: {self.used} used, at least {ACCEPT_MIN_USED} to know their spread: "
                           f"read at least {ACCEPT_MIN_USED - self.used} more people and fit the whole sheet again")
            elif check == STANDARD_ERROR:
                needed = self.readings_needed()
                more = (f"read about {needed - self.used} more people ({needed} in all at this spread) and fit the "
                        f"whole sheet again" if needed is not None else "read more people")
                out.append(f"standard error {self.standard_error_c:.2f} degC is over {ACCEPT_SE_C}: {more}")
            elif check == OUTLIERS:
                out.append(f"{len(self.outliers)} outliers, more than {ACCEPT_OUTLIERS}: check the sheet's times")
            else:
                out.append(f"residual sd {self.residual_sd_c:.2f} degC is not under {ACCEPT_RESIDUAL_SD_C}: "
                           "the gate reads people unevenly (aim, lens, reference)")
        return out

    def readings_needed(self) -> int | None:
        """How many readings the fit would need to use for its standard error to be ACCEPT_SE_C or less, if the
        readings kept their spread (the standard error falls as 1 / sqrt(used)), and at least ACCEPT_MIN_USED;
        None when it is not known."""
        if not (math.isfinite(self.standard_error_c) and self.used > 0):
            return None
        return max(self.used, ACCEPT_MIN_USED,
                   math.ceil(self.used * (self.standard_error_c / ACCEPT_SE_C) ** 2 - 1e-9))

    def summary(self, pairs: list[tuple[float, float]], labels: list[str] | None = None) -> dict:
        """The fit as JSON-ready values, with each outlier's pair and label."""
        return {"site_offset_c": round(self.offset_c, 2), "standard_error_c": round(self.standard_error_c, 3),
                "ci95_c": [round(self.ci95_c[0], 2), round(self.ci95_c[1], 2)],
                "residual_sd_c": round(self.residual_sd_c, 3), "pairs": self.pairs, "used": self.used,
                "outliers": [{"estimate_c": round(pairs[i][0], 2), "clinical_c": round(pairs[i][1], 2),
                              "difference_c": round(pairs[i][1] - pairs[i][0], 2),
                              **({"reading": labels[i]} if labels else {})} for i in self.outliers],
                "problems": self.problems()}


def fit_site_offset(pairs: list[tuple[float, float]], current_offset_c: float = 0.0, seed: int = 0) -> SiteCalibration:
    """``pairs`` of (gate estimate made with ``current_offset_c``, clinical reading); ValueError with fewer than
    MIN_PAIRS, or fewer than MIN_PAIRS left after the outliers."""
    if len(pairs) < MIN_PAIRS:
        raise ValueError(f"need at least {MIN_PAIRS} paired readings, got {len(pairs)}")
    diffs = np.array([clinical - estimate for estimate, clinical in pairs], dtype=float)
    if not np.isfinite(diffs).all():
        raise ValueError("every estimate and clinical reading must be a finite number")
    centre = float(np.median(diffs))
    robust_sd = 1.4826 * float(np.median(np.abs(diffs - centre)))
    bound = max(OUTLIER_MADS * robust_sd, OUTLIER_FLOOR_C)
    outliers = tuple(int(i) for i in np.flatnonzero(np.abs(diffs - centre) > bound))
    kept = np.delete(diffs, outliers)
    if kept.size < MIN_PAIRS:
        raise ValueError(f"only {kept.size} readings agree with each other ({len(outliers)} outliers): "
                         f"need at least {MIN_PAIRS}")
    delta = float(np.median(kept))
    sd = float(kept.std(ddof=1)) if kept.size > 1 else 0.0
    rng = np.random.default_rng(seed)
    boot = np.median(rng.choice(kept, size=(BOOTSTRAP, kept.size), replace=True), axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    ci = (current_offset_c + float(lo), current_offset_c + float(hi))
    return SiteCalibration(current_offset_c + delta, float(np.sqrt(np.mean((kept - delta) ** 2))), len(pairs),
                           1.2533 * sd / math.sqrt(kept.size), ci, outliers, int(kept.size))


# ---------------------------------------------------------------------------------------------- the nurse's sheet


@dataclass(frozen=True)
class Reading:
    line: int  # in the sheet
    text: str  # the time as written
    clinical_c: float
    times: tuple[float, ...]  # the moments (epoch seconds) it may mean: one per candidate date for a bare HH:MM


@dataclass(frozen=True)
class Decided:
    """A PASS/FEVER estimate at a wall-clock moment, from a recording or the store."""

    time: float  # epoch seconds
    estimate_c: float
    source: str  # where it came from (recording file and track, or the store's screening id)
    key: object = field(default=None, compare=False)  # identifies it, so that it is matched once


def _clock(text: str) -> tuple[int, int, int] | None:
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            t = datetime.strptime(text, fmt).time()
        except ValueError:
            continue
        return t.hour, t.minute, t.second
    return None


def bare_time(text: str) -> bool:
    """Whether a sheet's time is a bare ``HH:MM[:SS]`` (no date)."""
    return _clock(text.strip()) is not None


def parse_time(text: str, tz: tzinfo, dates: list[date]) -> tuple[float, ...]:
    """The moments ``text`` may mean: ``HH:MM[:SS]`` on each of ``dates`` in ``tz``, or an ISO date and time
    (``tz`` if it names none). ValueError if it is neither."""
    text = text.strip()
    clock = _clock(text)
    if clock is not None:
        return tuple(datetime(d.year, d.month, d.day, *clock, tzinfo=tz).timestamp() for d in dates)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r}: use HH:MM, HH:MM:SS or an ISO date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return (moment.timestamp(),)


def read_sheet(path: str, tz: tzinfo, dates: list[date]) -> list[Reading]:
    """The readings of a nurse's CSV (columns ``time`` and ``clinical_c``); ValueError naming the bad line."""
    rows = []
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    with f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                text, value = row["time"], row["clinical_c"]
                clinical = float(str(value).replace(",", "."))
                times = parse_time(str(text), tz, dates)
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{path}: line {n}: needs columns time and clinical_c ({exc})") from None
            except ValueError as exc:
                raise ValueError(f"{path}: line {n}: {exc}") from None
            if not 34.0 <= clinical <= 43.0:
                raise ValueError(f"{path}: line {n}: {clinical} degC is not a plausible clinical reading")
            rows.append(Reading(n, str(text).strip(), clinical, times))
    if not rows:
        raise ValueError(f"{path}: no readings")
    return rows


LAG_STEP_S = 0.25


def common_lag(readings: list[Reading], decided: list[Decided], match_s: float) -> float:
    """Seconds to add to the readings' times so that they sit nearest to the decisions (see match_by_time)."""
    if not readings or not decided:
        return 0.0
    times = np.array(sorted(d.time for d in decided))
    moments = np.array([t for r in readings for t in r.times])
    owner = np.array([i for i, r in enumerate(readings) for _ in r.times])
    lags = np.arange(-match_s, match_s + LAG_STEP_S / 2, LAG_STEP_S)
    lags = lags[np.argsort(np.abs(lags), kind="stable")]  # the smallest shift first, so it wins a tie
    best, best_cost = 0.0, math.inf
    for lag in lags:
        shifted = moments + lag
        if len(times) > 1:
            i = np.clip(np.searchsorted(times, shifted), 1, len(times) - 1)
            gap = np.minimum(np.abs(times[i] - shifted), np.abs(times[i - 1] - shifted))
        else:
            gap = np.abs(times[0] - shifted)
        per_reading = np.full(len(readings), np.inf)
        np.minimum.at(per_reading, owner, gap)
        cost = float(np.minimum(per_reading, match_s).sum())
        if cost < best_cost - 1e-9:
            best, best_cost = float(lag), cost
    return best


def match_by_time(readings: list[Reading], decided: list[Decided], match_s: float, what: str = "the gate"
                  ) -> tuple[list[tuple[float, float]], list[str], list[str]]:
    """Each reading paired with the nearest decision in time (within ``match_s``), each decision used once,
    the closest pairs first. (pairs of (estimate, clinical), a label per pair, a message per reading left out).

    A nurse's watch is rarely the gate's clock: the readings' common lag is taken out first, so that a watch
    a few seconds off does not pair a reading with the person before or after. It is the shift, in LAG_STEP_S
    steps within ``match_s``, that brings the readings nearest to decisions overall (each reading's gap
    capped at ``match_s``; the smallest shift on a tie)."""
    lag = common_lag(readings, decided, match_s)
    candidates = []
    for r_i, r in enumerate(readings):
        for d_i, d in enumerate(decided):
            gap = min(abs(d.time - t - lag) for t in r.times)
            if gap <= match_s:
                candidates.append((gap, r_i, d_i))
    candidates.sort()
    taken_r: dict[int, int] = {}
    taken_d: set[int] = set()
    for _gap, r_i, d_i in candidates:
        if r_i in taken_r or d_i in taken_d:
            continue
        taken_r[r_i] = d_i
        taken_d.add(d_i)
    pairs, labels, skipped = [], [], []
    near = {r_i for _, r_i, _ in candidates}
    for r_i, r in enumerate(readings):
        if r_i not in taken_r:
            skipped.append(f"line {r.line} ({r.text}): " + (
                f"the decisions of {what} within {match_s:g} s are nearer other readings" if r_i in near else
                f"no decision of {what} within {match_s:g} s"))
            continue
        d = decided[taken_r[r_i]]
        pairs.append((d.estimate_c, r.clinical_c))
        labels.append(f"line {r.line} ({r.text}) ~ {d.source}")
    return pairs, labels, skipped
