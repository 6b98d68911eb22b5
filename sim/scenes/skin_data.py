"""The study's people, as the simulator draws them: one row per subject of the facial-oral study, its own offsets.

Each row of ``skin_residuals.json`` (beside this file) is one subject of the
facial-oral study (Wang et al., PhysioNet, doi:10.13026/3bhc-9065, CC0) seen by
one camera: the oral temperature and the subject's departures from the fitted
relations (:mod:`controller.screening.body_model`, ``body_model.json``) of

- the canthus maximum (``canthiMax``),
- the canthus region average (``RCC`` and ``LCC`` averaged), and
- the forehead (``T_FHCC`` and ``T_FHBC``).

A simulated person draws one such row (:func:`sim.scenes.physiology.sample_residuals`),
so their canthus maximum, canthus region and forehead scatter together as
one person's do: the gap between the maximum and the region average, in
particular, is the fitted relations' difference (0.65 degC in a 22 degC room,
falling by 0.03 degC per degC of room) plus that subject's own gap.

The file also records what the study says about that gap (:func:`gap_summary`):
its mean, spread and dependence on room and body, which
``tests/test_scenes.py`` holds the simulator's faces to.

    python -m sim.scenes.skin_data [CSV ...]     # rewrite skin_residuals.json from the study's files
"""

from __future__ import annotations

import argparse
import json
import math
from functools import cache
from pathlib import Path

import numpy as np

from controller.screening import facial_oral
from controller.screening.body_model import CITATION, BodyModel, default_model, file_sha256

DATA_FILE = Path(__file__).with_name("skin_residuals.json")
STUDY_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "facial-oral"
STUDY_FILES = ("FLIR_group1.csv", "ICI_group1.csv")


def _rows(subjects: list[facial_oral.Subject]) -> list[facial_oral.Subject]:
    return [s for s in subjects if s.readable and math.isfinite(s.oral_c) and math.isfinite(s.canthus_region_c)
            and math.isfinite(s.forehead_c)]


def gap_summary(subjects: list[facial_oral.Subject]) -> dict:
    """The canthus maximum minus the canthus region average, per subject row (means over the rounds): its mean,
    sd, 5th-95th percentiles, and its least-squares dependence on room and oral temperature (degC per degC)."""
    rows = _rows(subjects)
    gap = np.array([s.canthus_c - s.canthus_region_c for s in rows])
    body = np.array([s.oral_c for s in rows])
    room = np.array([s.ambient_c for s in rows])
    x = np.column_stack([np.ones_like(body), body, room])
    coef, *_ = np.linalg.lstsq(x, gap, rcond=None)
    return {"n": len(rows), "mean_c": round(float(gap.mean()), 4), "sd_c": round(float(gap.std(ddof=1)), 4),
            "p5_c": round(float(np.percentile(gap, 5)), 4), "p95_c": round(float(np.percentile(gap, 95)), 4),
            "per_body": round(float(coef[1]), 4), "per_room": round(float(coef[2]), 4),
            "room_range_c": [float(room.min()), float(room.max())],
            "by_camera": {f: round(float(np.mean([s.canthus_c - s.canthus_region_c for s in rows if s.source == f])),
                                   4) for f in sorted({s.source for s in rows})}}


def residual_table(subjects: list[facial_oral.Subject], model: BodyModel) -> list[list[float]]:
    """Per subject row with all three sites read: [oral, canthus, region, forehead residual], sorted by oral."""
    region = model.canthus_region
    if region is None:
        raise ValueError("the body model has no canthus_region relation (refit with `thermogate model fit`)")
    out = []
    for s in _rows(subjects):
        b, a = s.oral_c, s.ambient_c
        out.append([round(b, 3), round(s.canthus_c - model.canthus.expected_c(b, a), 3),
                    round(s.canthus_region_c - region.expected_c(b, a), 3),
                    round(s.forehead_c - model.forehead.expected_c(b, a), 3)])
    out.sort(key=lambda r: r[0])
    return out


def build(paths: list[Path], model: BodyModel | None = None) -> dict:
    """The document ``skin_residuals.json`` holds, from the study's files ``paths``."""
    model = model or default_model()
    subjects = [s for p in paths for s in facial_oral.read(p)]
    table = residual_table(subjects, model)
    return {"what": "per-subject offsets of the facial-oral study from body_model.json's relations, which the "
                    "simulator's people draw (sim/scenes/skin_data.py); rewrite with `python -m sim.scenes.skin_data`",
            "data": CITATION,
            "sources": [{"file": p.name, "sha256": file_sha256(p)} for p in paths],
            "columns": ["body_c", "canthus_c", "canthus_region_c", "forehead_c"],
            "canthus_gap": gap_summary(subjects),
            "rows": table}


@cache
def stored() -> dict:
    return json.loads(DATA_FILE.read_text())


def residual_rows() -> np.ndarray:
    """The stored rows, (n, 4): oral, canthus, canthus region and forehead residual (degC)."""
    rows = np.array(stored()["rows"], dtype=float)
    if rows.ndim != 2 or rows.shape[1] != 4 or len(rows) < 10:
        raise ValueError(f"{DATA_FILE} holds no usable rows (rewrite it with `python -m sim.scenes.skin_data`)")
    return rows


def canthus_gap() -> dict:
    """The study's canthus maximum minus region average, as stored (:func:`gap_summary`)."""
    return dict(stored()["canthus_gap"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="rewrite sim/scenes/skin_residuals.json from the facial-oral study")
    ap.add_argument("files", nargs="*", type=Path, default=[STUDY_DIR / f for f in STUDY_FILES])
    args = ap.parse_args(argv)
    doc = build(args.files)
    DATA_FILE.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    gap = doc["canthus_gap"]
    print(f"{DATA_FILE}: {len(doc['rows'])} rows; canthus maximum - region average {gap['mean_c']:.3f} "
          f"(sd {gap['sd_c']:.3f}), {gap['per_room']:+.4f} per degC of room, {gap['per_body']:+.4f} per degC of body")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
