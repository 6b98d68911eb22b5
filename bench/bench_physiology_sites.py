"""How close to the body any facial reading of the study can bring an unbiased estimate (docs/estimation.md,
"Skin to body, fitted on people", "What is met and what is not").

The product inverts one site's fitted relation (``thermogate model evaluate --cross-validate``: the canthus
maximum, MAE 0.310 degC). This bench asks what reading *more* sites would give, however a gate could read
them: each site is related to body and room as the product's model relates the canthus (site = a + b T_body +
c T_room, least squares with the oral reference as the regressor), the sites' residual covariance is fitted,
and the body is the generalised-least-squares inverse of all of them (``body_model.BodyModel.body_c``'s
method, on any number of sites). Cross-validated as the product is: 10 folds by SubjectID (seed 0, both
cameras' rows of a subject in one fold), FEVER at 37.3 degC, sensitivity at oral >= 37.8, specificity at
<= 36.8, on the subject rows with every site of the widest set read. Then the canthus through curved
relations (CURVES: the room squared, body*room, the body squared), inverted on a grid. For comparison, the
regression of the oral temperature on the canthus and the room (the smallest error on average, at the price of
a slope of 0.6). Last, what else the study knows of each person (PERSON: sex, age, the room's humidity, the
distance to the camera), added to the canthus's relation as it adds the room, and inverted the same way (on
the rows with all of them read, beside the canthus alone on those rows).

    .venv/bin/python bench/bench_physiology_sites.py [CSV ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from controller.screening import facial_oral  # noqa: E402
from controller.screening.config import ScreeningConfig  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "facial-oral"
FILES = ("FLIR_group1.csv", "ICI_group1.csv")
CANTHUS = ["canthiMax"]
REGION = ["RCC", "LCC"]
FOREHEAD = ["T_FHCC", "T_FHBC"]
# Every site of the study's rounds but the mouth's (T_OR, T_OR_Max) and the face's maximum (T_Max, the mouth in
# most round-4 images): the oral thermometer was in or had just left the mouth, which a gate never sees.
FACE = ["T_RC", "T_RC_Dry", "T_RC_Wet", "T_RC_Max", "T_LC", "T_LC_Dry", "T_LC_Wet", "T_LC_Max", "RCC", "LCC",
        "canthiMax", "canthi4Max", "T_FHCC", "T_FHRC", "T_FHLC", "T_FHBC", "T_FHTC", "T_FH_Max", "T_FHC_Max"]
MOUTH = ["T_OR", "T_OR_Max", "T_Max"]
SETS = (("canthus maximum (the product's `predict`)", CANTHUS),
        ("RCC and LCC (what a gate's pixel holds)", REGION),
        ("canthus maximum and forehead", CANTHUS + FOREHEAD),
        ("every canthus and forehead site (19)", FACE),
        ("every site, mouth and face maximum too (22)", FACE + MOUTH))


def inverse_estimates(train_x, train_body, train_room, test_x, test_room) -> np.ndarray:
    """The body whose expected readings the test rows' sites are, weighted by the sites' residual covariance."""
    design = np.column_stack([np.ones_like(train_body), train_body, train_room])
    coef, *_ = np.linalg.lstsq(design, train_x, rcond=None)  # (3, sites): intercept, body, room
    residual = train_x - design @ coef
    weights = np.linalg.inv(np.atleast_2d(np.cov(residual, rowvar=False)))
    gain = coef[1]
    z = test_x - coef[0] - np.outer(test_room, coef[2])
    return (z @ weights @ gain) / (gain @ weights @ gain)


# Curved relations of the canthus to body and room, each inverted on a grid of body temperatures (a curve need
# not have a closed-form inverse): the product's straight one with the room squared, then with body*room,
# then with the body squared.
CURVES = (("room^2", 1), ("room^2, body*room", 2), ("room^2, body*room, body^2", 3))
BODY_GRID_C = np.linspace(33.0, 42.0, 9001)


def _curve_design(body: np.ndarray, room: np.ndarray, terms: int) -> np.ndarray:
    extra = [room * room, body * room, body * body][:terms]
    return np.column_stack([np.ones_like(body), body, room, *extra])


def curved_inverse(terms: int):
    """An estimator (as :func:`inverse_estimates`, one site) whose site = f(body, room) has the first ``terms``
    of CURVES' curved terms; each test row's body is the grid's body whose expected reading is nearest."""
    def estimates(train_x, train_body, train_room, test_x, test_room) -> np.ndarray:
        coef, *_ = np.linalg.lstsq(_curve_design(train_body, train_room, terms), train_x[:, 0], rcond=None)
        out = np.empty(len(test_room))
        for i, (reading, r) in enumerate(zip(test_x[:, 0], test_room, strict=True)):
            expected = _curve_design(BODY_GRID_C, np.full_like(BODY_GRID_C, r), terms) @ coef
            out[i] = BODY_GRID_C[np.argmin(np.abs(expected - reading))]
        return out

    return estimates


# What the study records of each person and the session besides the readings, as numbers: sex as 1 for
# "Female", the age range's middle (the study's ranges: 18-20, 21-25, 21-30, 26-30, 31-40, 41-50, 51-60 and
# ">60", taken as 65), humidity (%) and the camera's distance (m) as given.
PERSON = ("Gender", "Age", "Humidity", "Distance")
PERSON_SETS = (("sex", ["Gender"]), ("age", ["Age"]), ("sex, age", ["Gender", "Age"]),
               ("humidity", ["Humidity"]), ("distance", ["Distance"]), ("all four", list(PERSON)))


def person_number(column: str, text: str) -> float:
    """One PERSON column's text as a number (NaN if empty or not understood)."""
    if column == "Gender":
        return {"female": 1.0, "male": 0.0}.get(text.lower(), np.nan)
    if column == "Age":
        if text.startswith(">"):
            return 65.0 if text[1:].strip().isdigit() else np.nan
        low, _, high = text.partition("-")
        return (float(low) + float(high)) / 2.0 if low.isdigit() and high.isdigit() else np.nan
    try:
        return float(text)
    except ValueError:
        return np.nan


def covariate_inverse(train_x, train_body, train_room, test_x, test_room) -> np.ndarray:
    """As :func:`inverse_estimates` for one site (``x``'s first column) whose relation also has the further
    columns of ``x`` (known of each person, like the room): site = a + b T_body + c T_room + d . covariates."""
    design = np.column_stack([np.ones_like(train_body), train_body, train_room, train_x[:, 1:]])
    coef, *_ = np.linalg.lstsq(design, train_x[:, 0], rcond=None)
    return (test_x[:, 0] - coef[0] - coef[2] * test_room - test_x[:, 1:] @ coef[3:]) / coef[1]


def regression_estimates(train_x, train_body, train_room, test_x, test_room) -> np.ndarray:
    """The oral temperature regressed on the sites and the room (shrinks towards the mean)."""
    design = np.column_stack([np.ones(len(train_body)), train_x, train_room])
    coef, *_ = np.linalg.lstsq(design, train_body, rcond=None)
    return np.column_stack([np.ones(len(test_room)), test_x, test_room]) @ coef


def cross_validated(method, x, body, room, folds: np.ndarray) -> np.ndarray:
    out = np.empty_like(body)
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        out[test] = method(x[train], body[train], room[train], x[test], room[test])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", default=[str(DATA / f) for f in FILES])
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    widest = FACE + MOUTH
    subjects, readings, person = [], [], []
    for path in args.files:
        subjects += facial_oral.read(path)
        readings.append(facial_oral.read_sites(path, widest))
        person += [[person_number(c, t) for c, t in zip(PERSON, row, strict=True)]
                   for row in facial_oral.read_columns(path, list(PERSON))]
    x_all = np.vstack(readings)
    known = np.array(person, dtype=float).reshape(len(person), len(PERSON))
    body = np.array([s.oral_c for s in subjects])
    room = np.array([s.ambient_c for s in subjects])
    keep = np.isfinite(x_all).all(axis=1) & np.isfinite(body) & np.isfinite(room)
    subjects = [s for s, k in zip(subjects, keep, strict=True) if k]
    x_all, body, room, known = x_all[keep], body[keep], room[keep], known[keep]
    fold_of = facial_oral.subject_folds(subjects, args.folds, args.seed)
    folds = np.array([fold_of[s.subject] for s in subjects])
    threshold = ScreeningConfig().threshold_c
    files = ", ".join(Path(f).name for f in args.files)
    print(f"{len(subjects)} subject rows with all {len(widest)} sites read ({files}); "
          f"{args.folds} folds by SubjectID, seed {args.seed}; FEVER at {threshold} degC")
    print(f"{'sites':<48s} {'MAE':>6s} {'bias':>7s} {'slope':>6s} {'sensitivity':>12s} {'specificity':>12s}")

    def row(label: str, estimate: np.ndarray) -> None:
        m = facial_oral.metrics(estimate, body, threshold)
        print(f"{label:<48s} {m.mae:6.3f} {m.bias:+7.3f} {m.slope:6.3f} {m.sensitivity:7.3f} ({m.n_fever:2d}) "
              f"{m.specificity:7.3f} ({m.n_afebrile})")

    for label, sites in SETS:
        x = x_all[:, [widest.index(s) for s in sites]]
        row(label, cross_validated(inverse_estimates, x, body, room, folds))
    x = x_all[:, [widest.index("canthiMax")]]
    for label, terms in CURVES:
        row(f"canthus max, curved: {label}", cross_validated(curved_inverse(terms), x, body, room, folds))
    row("for comparison: oral regressed on canthus, room", cross_validated(regression_estimates, x, body, room, folds))
    x = x_all[:, [widest.index(s) for s in FACE]]
    row("for comparison: oral regressed on the 19 sites", cross_validated(regression_estimates, x, body, room, folds))
    rows = np.isfinite(known).all(axis=1)
    print(f"\nthe canthus maximum and what else the study knows: the {rows.sum()} of these rows with "
          f"{', '.join(PERSON)} all read")
    canthus = x_all[rows][:, [widest.index("canthiMax")]]
    body, room, folds = body[rows], room[rows], folds[rows]
    row("canthus maximum alone", cross_validated(inverse_estimates, canthus, body, room, folds))
    for label, columns in PERSON_SETS:
        x = np.column_stack([canthus, known[rows][:, [PERSON.index(c) for c in columns]]])
        row(f"canthus maximum, and {label}", cross_validated(covariate_inverse, x, body, room, folds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
