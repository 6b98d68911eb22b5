"""The facial-oral study's files, and how well the body model does on them (metrics, cross-validation by subject).

A file has the layout of the study's CSVs (Wang et al., PhysioNet,
doi:10.13026/3bhc-9065): three header rows, the column names in the third,
then one row per subject, with four measurement rounds (suffix 1..4). The
columns read, per subject (docs/estimation.md, "What the model reads"):

- ``SubjectID``;
- ``canthiMax1`` .. ``canthiMax4``: the maximum over both inner canthi, per
  round; their mean over the rounds read is the subject's canthus reading;
- ``RCC1..4`` and ``LCC1..4``: the averages over the right and left
  inner-canthus regions; the mean over the rounds of the two regions' mean
  (rounds with one read use that one) is the subject's canthus region reading,
  what a gate's eye band can see (``body_model``, site ``canthus_region``);
- ``T_FHCC1..4`` and ``T_FHBC1..4``: the forehead's centre and bottom; the
  mean over the rounds of the two sites' mean (rounds with one site read use
  that one) is the forehead reading;
- ``T_atm``: the room temperature;
- ``aveOralM``: the oral temperature in monitor mode, the reference (only for
  evaluation and fitting).

``T_offset1..4`` is not applied: the readings are already corrected against
the camera's blackbody (the two cameras' offsets differ by 1.07 degC on
average, yet their canthus readings of the same person agree within
0.04 degC).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .body_model import BodyModel, fit

ROUNDS = (1, 2, 3, 4)
FEVER_REFERENCE_C = 37.8  # sensitivity counts people at or above this oral temperature ...
AFEBRILE_REFERENCE_C = 36.8  # ... specificity those at or below this ...
NEVER_PASS_REFERENCE_C = 37.3  # ... and nobody at or above this is to be given a PASS (issue 13's target)


@dataclass(frozen=True)
class Subject:
    """One subject's readings in one file."""

    subject: str
    source: str  # the file (camera) it comes from
    canthus_c: float  # mean of canthiMax over the rounds read; NaN if none
    forehead_c: float  # mean of the forehead (centre, bottom) over the rounds read; NaN if none
    ambient_c: float  # T_atm; NaN if empty
    oral_c: float  # aveOralM; NaN if empty
    rounds: int  # rounds with a canthus reading
    canthus_region_c: float = math.nan  # mean over the rounds read of the mean of RCC and LCC; NaN if none

    def eye_c(self, site: str = "canthus") -> float:
        """The eye reading of ``site``: ``canthus`` (canthiMax) or ``canthus_region`` (RCC and LCC averaged)."""
        return self.canthus_region_c if site == "canthus_region" else self.canthus_c

    @property
    def readable(self) -> bool:
        """Has what the product needs: a canthus reading and the room's temperature."""
        return math.isfinite(self.canthus_c) and math.isfinite(self.ambient_c)


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan


def _mean(values: list[float]) -> float:
    vals = [v for v in values if math.isfinite(v)]
    return sum(vals) / len(vals) if vals else math.nan


def _table(path: str | Path) -> tuple[dict[str, int], list[list[str]]]:
    """A study file's column index by name and its subject rows; ValueError naming the problem if it is not
    such a file."""
    p = Path(path)
    try:
        with p.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text (UTF-8) CSV file") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a CSV file ({exc})") from None
    header = next((i for i, row in enumerate(rows[:10]) if row and row[0].strip() == "SubjectID"), None)
    if header is None:
        raise ValueError(f"{path}: no header row starting with SubjectID in the first rows "
                         "(expected the facial-oral layout: names in row 3)")
    names = [n.strip() for n in rows[header]]
    index = {n: i for i, n in enumerate(names) if n}
    return index, [row for row in rows[header + 1:] if row and row[0].strip()]


def _cell(index: dict[str, int], row: list[str], name: str) -> float:
    i = index.get(name)
    return _number(row[i]) if i is not None and i < len(row) else math.nan


def read(path: str | Path, rounds: tuple[int, ...] = ROUNDS) -> list[Subject]:
    """The subjects of one study file, their readings averaged over ``rounds`` (default all four); ValueError
    naming the problem if it is not such a file."""
    if not rounds or any(k not in ROUNDS for k in rounds):
        raise ValueError(f"rounds must be among {ROUNDS}, got {rounds}")
    index, rows = _table(path)
    missing = [n for n in ["T_atm"] + [f"canthiMax{k}" for k in ROUNDS] if n not in index]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")

    def cell(row: list[str], name: str) -> float:
        return _cell(index, row, name)

    subjects = []
    for row in rows:
        canthus = [cell(row, f"canthiMax{k}") for k in rounds]
        forehead = [_mean([cell(row, f"T_FHCC{k}"), cell(row, f"T_FHBC{k}")]) for k in rounds]
        region = [_mean([cell(row, f"RCC{k}"), cell(row, f"LCC{k}")]) for k in rounds]
        subjects.append(Subject(row[0].strip(), Path(path).name, _mean(canthus), _mean(forehead),
                                cell(row, "T_atm"), cell(row, "aveOralM"), sum(math.isfinite(v) for v in canthus),
                                canthus_region_c=_mean(region)))
    return subjects


def read_sites(path: str | Path, sites: list[str], rounds: tuple[int, ...] = ROUNDS) -> np.ndarray:
    """(subjects, sites): each site's reading (a column name without its round suffix, e.g. ``T_FH_Max``)
    averaged over ``rounds``, NaN where none was read, in :func:`read`'s subject order. The study misspells one
    column (``T_LC14`` for round 4 of ``T_LC``); it is read under its intended name."""
    index, rows = _table(path)
    if "T_LC14" in index and "T_LC4" not in index:
        index["T_LC4"] = index["T_LC14"]
    unknown = [s for s in sites if not any(f"{s}{k}" in index for k in ROUNDS)]
    if unknown:
        raise ValueError(f"{path}: no column(s) for {', '.join(unknown)}")
    return np.array([[_mean([_cell(index, row, f"{s}{k}") for k in rounds]) for s in sites] for row in rows],
                    dtype=float).reshape(len(rows), len(sites))


def read_columns(path: str | Path, names: list[str]) -> list[list[str]]:
    """(subjects, names): the text of each named column that is not a round's (e.g. ``Gender``, ``Age``,
    ``Humidity``), stripped, "" where empty, in :func:`read`'s subject order."""
    index, rows = _table(path)
    unknown = [n for n in names if n not in index]
    if unknown:
        raise ValueError(f"{path}: no column(s) {', '.join(unknown)}")
    return [[row[index[n]].strip() if index[n] < len(row) else "" for n in names] for row in rows]


# ---- measures -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metrics:
    n: int
    mae: float
    bias: float  # mean of estimate - reference
    slope: float  # least-squares slope of estimate on reference
    sensitivity: float  # share of reference >= 37.8 given FEVER
    specificity: float  # share of reference <= 36.8 given PASS
    n_fever: int
    n_afebrile: int
    passed_warm: int = 0  # reference >= 37.3 given PASS ...
    n_warm: int = 0  # ... of this many at or above it

    def line(self, label: str = "") -> str:
        head = f"{label:<22s}" if label else ""
        return (f"{head}n {self.n:4d}  MAE {self.mae:.3f}  bias {self.bias:+.3f}  slope {self.slope:.3f}  "
                f"sensitivity {self.sensitivity:.3f} ({self.n_fever})  "
                f"specificity {self.specificity:.3f} ({self.n_afebrile})  "
                f"PASS at oral >= {NEVER_PASS_REFERENCE_C} {self.passed_warm} ({self.n_warm})")

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def metrics(estimate_c, reference_c, threshold_c: float) -> Metrics:
    """The accuracy of estimates against references, with FEVER at or above ``threshold_c``."""
    e = np.asarray(estimate_c, float)
    r = np.asarray(reference_c, float)
    ok = np.isfinite(e) & np.isfinite(r)
    e, r = e[ok], r[ok]
    if e.size < 2:
        raise ValueError(f"need at least two subjects with an estimate and a reference, got {e.size}")
    d = e - r
    slope = float(np.polyfit(r, e, 1)[0]) if np.ptp(r) > 0 else math.nan
    fever, afebrile = r >= FEVER_REFERENCE_C, r <= AFEBRILE_REFERENCE_C
    sens = float(np.mean(e[fever] >= threshold_c)) if fever.any() else math.nan
    spec = float(np.mean(e[afebrile] < threshold_c)) if afebrile.any() else math.nan
    warm = r >= NEVER_PASS_REFERENCE_C
    return Metrics(int(e.size), float(np.mean(np.abs(d))), float(np.mean(d)), slope, sens, spec,
                   int(fever.sum()), int(afebrile.sum()), int(np.sum(warm & (e < threshold_c))), int(warm.sum()))


def estimates(model: BodyModel, subjects: list[Subject], use_forehead: bool = False,
              site: str = "canthus") -> np.ndarray:
    """The model's body estimate for each subject from the eye site ``site`` (``canthus``: canthiMax with the
    maximum's relation; ``canthus_region``: RCC/LCC with the region's), NaN where a reading is missing."""
    return np.array([model.body_c(s.eye_c(site), s.ambient_c, forehead_c=s.forehead_c if use_forehead else None,
                                  site=site)
                     if s.readable else math.nan for s in subjects])


def fit_subjects(subjects: list[Subject]) -> BodyModel:
    """Fit the body model on every subject row that has a reference (the canthus region relation on the rows that
    also have RCC/LCC, when any do)."""
    rows = [s for s in subjects if s.readable and math.isfinite(s.oral_c)]
    region = [s.canthus_region_c for s in rows]
    has_region = sum(math.isfinite(v) for v in region) >= 10
    return fit([s.oral_c for s in rows], [s.ambient_c for s in rows], [s.canthus_c for s in rows],
               [s.forehead_c for s in rows], region if has_region else None)


def subject_folds(subjects: list[Subject], folds: int, seed: int = 0) -> dict[str, int]:
    """A fold for every SubjectID: all of a subject's rows (both cameras) fall in the same fold."""
    ids = sorted({s.subject for s in subjects})
    if not 2 <= folds <= len(ids):
        raise ValueError(f"folds must be 2..{len(ids)} (the number of subjects), got {folds}")
    order = np.random.default_rng(seed).permutation(len(ids))
    return {ids[j]: i % folds for i, j in enumerate(order)}


def cross_validate(subjects: list[Subject], folds: int = 10, seed: int = 0,
                   use_forehead: bool = False, site: str = "canthus") -> np.ndarray:
    """Out-of-fold estimates: each subject's from a model fitted without any of that subject's rows."""
    fold = subject_folds(subjects, folds, seed)
    out = np.full(len(subjects), math.nan)
    for k in range(folds):
        model = fit_subjects([s for s in subjects if fold[s.subject] != k])
        test = [i for i, s in enumerate(subjects) if fold[s.subject] == k]
        out[test] = estimates(model, [subjects[i] for i in test], use_forehead, site)
    return out
