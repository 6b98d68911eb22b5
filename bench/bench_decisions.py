"""Decisions at the mark: `make bench-decisions` (or `python bench/bench_decisions.py [--seeds N] [110 55]`).

Simulated scenes go through the real pipeline offline (recordings: sensor words, the sensor maths, scene
analysis, tracker), with the screening settings an installer writes for the scene's mounting (lens, sensor
height, tilt, mark distance). For every PASS/FEVER it looks up, in the ground truth of the frame it was
decided on, what the person was doing: walking up (``approaching``), standing on the mark (``standing``)
or walking off (``leaving``). It prints:

- the share of decisions taken while standing, and while approaching or leaving;
- the time from standing still (the person's first standing frame) to the decision: median, 90th
  percentile and maximum, and the share of the people who stood on the mark and got a PASS/FEVER;
- the same with the mark checks switched off (no size or place test, no physiological floor), which is how
  the tracker decided before them;
- the hard cases: walking through, standing away from the mark, a face cut off by the image's edge where it
  is read, one cut off only below the nose (measured: people decided, bias and mean absolute error), a face
  chilled from outdoors, a masked face (bias against the unmasked ones of the same runs).

Speed is not what it measures: the figures are decisions and their timing on the scenes' own clocks.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from dataclasses import replace

import numpy as np

from controller.geometry import Lens
from controller.protocol import result as D
from controller.screening.analysis import AnalysisConfig
from controller.screening.config import ScreeningConfig
from controller.screening.offline import analyze_recording, first_standing, truth_for
from sim.scenarios import scenario
from sim.synth import scenario_recording

LATENCY_SETS = ("normal_queue", "fever", "slow_approach", "masked")
HARD = ("walk_through", "far", "cut_off", "chin_cut_off", "cold_face")


def installer_config(name: str, seed: int, variant: str, **overrides) -> ScreeningConfig:
    """The settings for the scene's lens and mounting, as `thermogate gate add` stores them."""
    m = scenario(name, seed, variant=variant).mounting
    return ScreeningConfig(analysis=AnalysisConfig(variant=variant), sensor_height_m=m.sensor_height_m,
                           tilt_deg=m.tilt_deg, mark_distance_m=m.mark_distance_m, **overrides)


def without_mark_checks(config: ScreeningConfig) -> ScreeningConfig:
    """The tracker as it decided before the mark checks: any still face at a valid distance, no floor."""
    return replace(config, mark_tolerance=1.0, lateral_tolerance_m=2.0, size_tolerance=0.5, grow_per_frame=0.5,
                   min_estimate_c=30.0)


def run(name: str, seed: int, variant: str, config: ScreeningConfig):
    """(decision, truth of its person at that frame, that person's first standing time) for one run,
    and every person who stood on the mark (id -> first standing time)."""
    sc = scenario(name, seed, variant=variant)
    rec = scenario_recording(name, sc.duration_s, seed=seed, variant=variant)
    standing = {pid: t for pid, (t, _) in first_standing(rec).items()}
    decisions = analyze_recording(rec, config)
    rows = [(d, p, standing.get(p["id"]) if p else None)
            for d, p in zip(decisions, truth_for(rec, decisions), strict=True)]
    return rows, standing


def verdicts(rows):
    return [(d, p, s) for d, p, s in rows if d.decision in (D.PASS, D.FEVER) and p is not None]


def latency_report(variant: str, seeds: range, checks: bool) -> None:
    rows, stood = [], 0
    decided_ids = set()
    for name in LATENCY_SETS:
        for seed in seeds:
            config = installer_config(name, seed, variant)
            r, standing = run(name, seed, variant, config if checks else without_mark_checks(config))
            rows += r
            stood += len(standing)
            decided_ids |= {(name, seed, p["id"]) for d, p, _ in verdicts(r) if p["id"] in standing}
    v = verdicts(rows)
    phases = Counter(p["phase"] for _, p, _ in v)
    n = len(v)
    label = "with the mark checks" if checks else "mark checks off (as before)"
    print(f"  {label}: {n} PASS/FEVER in {', '.join(LATENCY_SETS)}, seeds {seeds.start}-{seeds.stop - 1}")
    print("    decided while: " + ", ".join(f"{k} {phases[k]} ({phases[k] / n:.0%})"
                                          for k in ("standing", "approaching", "leaving")))
    lat = [d.time_s - s for d, p, s in v if s is not None and p["phase"] == "standing"]
    early = [s - d.time_s for d, p, s in v if s is not None and p["phase"] == "approaching"]
    if lat:
        print(f"    standing still -> decision: median {statistics.median(lat):.2f} s, 90th percentile "
              f"{np.percentile(lat, 90):.2f} s, max {max(lat):.2f} s ({len(lat)} decisions at the mark)")
    if early:
        print(f"    decisions while approaching came {statistics.median(early):.2f} s (median) before the person "
              f"stood still")
    print(f"    people who stood on the mark and got a PASS/FEVER: {len(decided_ids)} of {stood} "
          f"({len(decided_ids) / max(stood, 1):.0%})")


def hard_report(variant: str, seeds: range) -> None:
    for name in HARD:
        rows, firsts, stood = [], {}, 0
        for seed in seeds:
            got, standing = run(name, seed, variant, installer_config(name, seed, variant))
            rows += got
            stood += len(standing)
            for d, p, _ in reversed(verdicts(got)):  # each person's first PASS/FEVER: its error
                firsts[seed, p["id"]] = d.estimate_c - p["core_c"]
        v = verdicts(rows)
        reasons = Counter(d.reason for d, _, _ in rows if d.decision == D.RETRY)
        line = f"  {name:13s} PASS/FEVER {len(v):3d}"
        if name == "cold_face":
            low = [d for d, p, _ in v if d.estimate_c < p["core_c"] - 0.5]
            told = {p["id"] for d, p, _ in rows if p is not None and d.reason == D.WAIT_INDOORS}
            people = {p["id"] for _, p, _ in rows if p is not None}
            line += (f" (of which {len(low)} more than 0.5 degC low), people told wait_indoors "
                     f"{len(told)} of {len(people)}")
        if name == "chin_cut_off" and firsts:
            errors = list(firsts.values())
            line += (f" (people decided {len(errors)} of {stood} who stood, first decisions' bias "
                     f"{np.mean(errors):+.2f}, MAE {np.mean(np.abs(errors)):.2f} degC)")
        print(f"{line}; RETRY reasons: {dict(reasons.most_common())}")
    masked, bare = [], []
    for seed in seeds:
        masked += [d.estimate_c - p["core_c"] for d, p, _ in verdicts(run("masked", seed, variant,
                                                                          installer_config("masked", seed,
                                                                                           variant))[0])]
        bare += [d.estimate_c - p["core_c"] for d, p, _ in verdicts(run("normal_queue", seed, variant,
                                                                        installer_config("normal_queue", seed,
                                                                                         variant))[0])
                 if not p["mask"]]
    if masked and bare:
        print(f"  masked faces: bias {np.mean(masked):+.2f} degC ({len(masked)}), unmasked {np.mean(bare):+.2f} "
              f"({len(bare)}): masked minus unmasked {np.mean(masked) - np.mean(bare):+.2f} degC "
              "(no site offset)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=[Lens.WIDE.value, Lens.NARROW.value])
    parser.add_argument("--seeds", type=int, default=3, help="runs per scenario (default 3)")
    args = parser.parse_args()
    seeds = range(args.seeds)
    for variant in args.variants:
        print(f"== {variant} deg lens, the nominal world's mounting ==")
        latency_report(variant, seeds, checks=True)
        latency_report(variant, seeds, checks=False)
        print("  hard cases:")
        hard_report(variant, seeds)


if __name__ == "__main__":
    main()
