"""Accuracy benchmark: `make bench-accuracy`.

Scenario sets from the simulator go through the real screening pipeline
(sensor maths, scene analysis, tracker) offline. Every PASS/FEVER estimate
is compared with the ground-truth core temperature of the person it was made
for. The site offset is first fitted the way a nurse would: on separate runs
(normal_queue, seeds 100-107), pairing estimates with true temperatures.
The targets are then checked on the estimates made with the reference in
view at 0.3-0.6 m in rooms at 18-28 degC (with the 55 degree lens, whose mark
is at 0.9 m, there are none: its figures are in the other tables).
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from dataclasses import replace

import numpy as np

from controller.screening.config import ScreeningConfig
from controller.screening.offline import analyze_recording, truth_for
from controller.screening.site_calibration import fit_site_offset
from sim.scenarios import scenario
from sim.synth import scenario_recording

EVAL = {"linearity": (0, 1, 2, 3), "fever": (0, 1, 2), "normal_queue": (0, 1), "ambient_sweep": (0, 1),
        "hot_cup": (0,), "two_people": (0,), "glasses": (0,), "hat": (0,), "no_reference": (0,), "far": (0,),
        "cold_arrival": (0,), "sensor_fault": (0,)}
# Every run of a scenario is a sensor of its own (its pixels' fixed offsets and drift come with the run), so one
# gate's calibration cannot be repeated on other people; the site offset is fitted over many separate runs instead.
CALIBRATION_SEEDS = tuple(range(100, 108))
TARGET_DISTANCE_M = (0.3, 0.6)
TARGET_ROOM_C = (18.0, 28.0)


def run(name: str, seed: int, variant: str, config: ScreeningConfig):
    """(decision, person truth at decision, standing-start time of that person) for one run."""
    sc = scenario(name, seed, variant=variant)
    rec = scenario_recording(name, sc.duration_s, seed=seed, variant=variant)
    standing: dict[int, float] = {}
    for f in rec.frames():
        for p in f.truth["people"]:
            if p["phase"] == "standing":
                standing.setdefault(p["id"], f.time)
    decisions = analyze_recording(rec, config)
    return [(d, person, standing.get(person["id"]) if person else None)
            for d, person in zip(decisions, truth_for(rec, decisions))]


def site_offset(variant: str) -> tuple[float, float]:
    pairs = []
    for seed in CALIBRATION_SEEDS:
        for d, person, _ in run("normal_queue", seed, variant, ScreeningConfig(analysis=_analysis(variant))):
            if d.estimate_c is not None and person is not None:
                pairs.append((d.estimate_c, person["core_c"]))
    cal = fit_site_offset(pairs)
    return cal.offset_c, cal.residual_sd_c


def _analysis(variant: str):
    from controller.screening.analysis import AnalysisConfig

    return replace(AnalysisConfig(), variant=variant)


def band(value: float, edges: list[float], labels: list[str]) -> str:
    for edge, label in zip(edges, labels):
        if value < edge:
            return label
    return labels[-1]


def print_bands(measured, title: str, key: str, edges: list[float], labels: list[str]) -> None:
    """MAE and bias of the estimates grouped by the person's ``key`` in bands."""
    print(f"{title:14s} {'n':>4s} {'MAE':>6s} {'bias':>6s}")
    groups = defaultdict(list)
    for _, d, p, _ in measured:
        groups[band(p[key], edges, labels)].append(d.estimate_c - p["core_c"])
    for label in labels:
        if label in groups:
            e = np.array(groups[label])
            print(f"{label:14s} {len(e):4d} {np.mean(np.abs(e)):6.2f} {np.mean(e):+6.2f}")


def slope_of(pairs) -> float:
    return float(np.polyfit([x for x, _ in pairs], [y for _, y in pairs], 1)[0]) if len(pairs) > 2 else float("nan")


def print_targets(measured) -> None:
    """The issue's targets against the estimates made with the reference in view at 0.3-0.6 m in rooms at
    18-28 degC (the slope from the linearity runs among them)."""
    sub = [(n, d, p) for n, d, p, _ in measured if not d.reduced_accuracy
           and TARGET_DISTANCE_M[0] <= p["distance_m"] <= TARGET_DISTANCE_M[1]
           and TARGET_ROOM_C[0] <= p["room_c"] <= TARGET_ROOM_C[1]]
    print(f"targets: reference in view, {TARGET_DISTANCE_M[0]}-{TARGET_DISTANCE_M[1]} m, "
          f"{TARGET_ROOM_C[0]:g}-{TARGET_ROOM_C[1]:g} degC: {len(sub)} estimates")
    if not sub:
        print("  (no estimates in that band with this lens)")
        return
    e = np.array([d.estimate_c - p["core_c"] for _, d, p in sub])
    lin = [(p["core_c"], d.estimate_c) for n, d, p in sub if n == "linearity"]
    hot = [d.decision == "FEVER" for _, d, p in sub if p["core_c"] >= 37.8]
    cool = [d.decision == "PASS" for _, d, p in sub if p["core_c"] <= 36.8]
    rows = [("MAE", "<= 0.30 degC", np.mean(np.abs(e)), np.mean(np.abs(e)) <= 0.3, f"{len(e)}"),
            ("|bias|", "<= 0.10 degC", np.mean(e), abs(np.mean(e)) <= 0.1, f"{len(e)}"),
            ("slope", "0.97-1.03", slope_of(lin), 0.97 <= slope_of(lin) <= 1.03, f"{len(lin)} (linearity)"),
            ("sensitivity >= 37.8", ">= 0.97", np.mean(hot) if hot else float("nan"),
             bool(hot) and np.mean(hot) >= 0.97, f"{len(hot)}"),
            ("specificity <= 36.8", ">= 0.97", np.mean(cool) if cool else float("nan"),
             bool(cool) and np.mean(cool) >= 0.97, f"{len(cool)}")]
    print(f"  {'measure':22s} {'target':>14s} {'measured':>9s}  {'met':4s} n")
    for name, target, value, met, n in rows:
        print(f"  {name:22s} {target:>14s} {value:9.3f}  {'yes' if met else 'NO':4s} {n}")


def report(variant: str) -> None:
    offset, spread = site_offset(variant)
    config = ScreeningConfig(site_offset_c=round(offset, 2), analysis=_analysis(variant))
    print(f"\n== {variant} deg lens: site offset {offset:+.2f} degC fitted on normal_queue seeds "
          f"{CALIBRATION_SEEDS[0]}-{CALIBRATION_SEEDS[-1]} (residual sd {spread:.2f}) ==")
    rows = []
    for name, seeds in EVAL.items():
        for seed in seeds:
            rows += [(name, *r) for r in run(name, seed, variant, config)]

    measured = [(n, d, p, s) for n, d, p, s in rows if d.estimate_c is not None and p is not None]
    errors = np.array([d.estimate_c - p["core_c"] for _, d, p, _ in measured])
    lin = [(p["core_c"], d.estimate_c) for n, d, p, _ in measured if n == "linearity"]
    slope = slope_of(lin)
    print(f"PASS/FEVER estimates: {len(measured)}; MAE {np.mean(np.abs(errors)):.2f}, bias {np.mean(errors):+.2f}, "
          f"slope {slope:.3f} (linearity, {len(lin)} people, core 34.5-41)")
    hot = [d.decision == "FEVER" for _, d, p, _ in measured if p["core_c"] >= 37.8]
    cool = [d.decision == "PASS" for _, d, p, _ in measured if p["core_c"] <= 36.8]
    mid = [d.decision == "FEVER" for _, d, p, _ in measured if 36.8 < p["core_c"] < 37.8]
    print(f"fever sensitivity (core >= 37.8): {np.mean(hot):.3f} of {len(hot)}; "
          f"specificity (core <= 36.8): {np.mean(cool):.3f} of {len(cool)}; "
          f"36.8-37.8 band: {np.mean(mid) if mid else float('nan'):.2f} called FEVER of {len(mid)}")
    latency = [max(d.time_s - s, 0.0) for _, d, p, s in measured if s is not None]
    if latency:
        print(f"standing still -> decision: median {statistics.median(latency):.2f} s, "
              f"90th percentile {np.percentile(latency, 90):.2f} s, max {max(latency):.2f} s")

    print_bands(measured, "by distance", "distance_m", [0.3, 0.6, 0.9, 1.2],
                ["<0.3 m", "0.3-0.6 m", "0.6-0.9 m", "0.9-1.2 m", ">1.2 m"])
    print_bands(measured, "by ambient", "room_c", [18, 22, 26, 28],
                ["<18 degC", "18-22 degC", "22-26 degC", "26-28 degC", ">=28 degC"])

    print_targets(measured)
    relaxed = replace(config, require_reference=False)
    bare = [(d, p) for d, p, _ in run("no_reference", 0, variant, relaxed) if d.estimate_c is not None and p]
    if bare:
        e = np.array([d.estimate_c - p["core_c"] for d, p in bare])
        print(f"without the reference (require_reference = false, every one flagged reduced_accuracy: "
              f"{all(d.reduced_accuracy for d, _ in bare)}): {len(e)} estimates, MAE {np.mean(np.abs(e)):.2f}, "
              f"bias {np.mean(e):+.2f}")

    print(f"{'scenario':14s} {'decns':>6s} {'PASS':>5s} {'FEVER':>5s} {'RETRY':>5s} {'BLOCK':>5s}  MAE   reasons")
    for name in EVAL:
        mine = [(d, p) for n, d, p, _ in rows if n == name]
        count = lambda k: sum(1 for d, _ in mine if d.decision == k)  # noqa: E731
        errs = [abs(d.estimate_c - p["core_c"]) for d, p in mine if d.estimate_c is not None and p is not None]
        reasons = sorted({d.reason for d, _ in mine if d.reason})
        mae = f"{np.mean(errs):5.2f}" if errs else "    -"
        print(f"{name:14s} {len(mine):6d} {count('PASS'):5d} {count('FEVER'):5d} {count('RETRY'):5d} "
              f"{count('BLOCKED'):5d} {mae}  {', '.join(reasons)}")


if __name__ == "__main__":
    for v in sys.argv[1:] or ["110", "55"]:
        report(v)
