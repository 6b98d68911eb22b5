"""The reference source in the simulator: which discs can be learned, and how well the learned reading then
corrects a drift.

For each disc (lens, diameter, line-of-sight distance), a normal queue is rendered with that disc in the
upper left. Its reading is learned on the first 10 s (``learn_reference``, as ``thermogate calibrate
reference --recording`` does), then the next 30 s are analysed with 0.8 degC added to the whole image (a
sensor drift). The offset the reference gives should be -0.8 minus the simulated sensor's own drift since the
learning; the error is what is left.

    .venv/bin/python bench/bench_reference.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.geometry import Lens  # noqa: E402
from controller.screening.analysis import AnalysisConfig, Analyzer  # noqa: E402
from controller.screening.config import from_table  # noqa: E402
from controller.screening.reference_source import LearningError, learn_reference, reading_fraction  # noqa: E402
from sim.scenarios import scenario  # noqa: E402
from sim.scenes.room import ReferenceSpec, Room  # noqa: E402

HZ = 8.0
DRIFT_C = 0.8
N, W = Lens.NARROW, Lens.WIDE
DISCS = ((N, 0.07, 0.495), (N, 0.06, 0.9), (N, 0.08, 0.9), (N, 0.06, 1.2), (N, 0.04, 1.2),
         (W, 0.08, 0.3), (W, 0.10, 0.45), (W, 0.06, 0.45), (W, 0.06, 0.9), (W, 0.15, 0.9))


def run(variant: str, diameter: float, distance: float, seed: int = 0) -> str:
    sc = scenario("normal_queue", seed, variant=variant)
    sc.scene.room = Room(sc.scene.projection, np.random.default_rng([seed, 7]),
                         reference=ReferenceSpec(diameter, distance))
    ref = sc.scene.room.reference
    config = AnalysisConfig(variant=variant, reference_box=ref.box_with_margin(1), reference_c=ref.temp_c)
    model = reading_fraction(diameter, distance, Lens.parse(variant).fov)
    head = (f"| {variant}° | {diameter * 100:g} cm | {distance:g} m | {model.across_px:.1f} | "
            f"{model.fraction_worst:.0%} |")
    try:
        learned = learn_reference([sc.frame_at(i / HZ).image for i in range(int(10 * HZ))], config)
    except LearningError as exc:
        return f"{head} not learned: `{exc.reason}` | | |"
    analysis = from_table({"reference": learned.table(config.reference_box), "variant": variant}).analysis
    analyzer, errors, ok, n = Analyzer(analysis), [], 0, 0
    base = sc.frame_at(5.0).truth["drift_c"]
    for i in range(int(30 * HZ)):
        frame = sc.frame_at(10.0 + i / HZ)
        a = analyzer.analyze(frame.image + DRIFT_C)
        if i < analysis.reference_window:
            continue
        n += 1
        if a.reference_ok:
            ok += 1
            errors.append(a.offset_c + DRIFT_C + frame.truth["drift_c"] - base)
    e = np.array(errors) if errors else np.array([np.nan])
    return (f"{head} learned, {learned.pixels} px averaged, {learned.fraction:.0%} | {ok / n:.0%} | "
            f"{e.mean():+.3f} ± {e.std():.3f} (worst {np.abs(e).max():.3f}) |")


def main() -> None:
    print("| lens | disc | distance | px across (model) | contrast, worst (model) | simulator: learning | ok "
          "after | offset error, degC |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for variant, diameter, distance in DISCS:
        print(run(variant, diameter, distance), flush=True)


if __name__ == "__main__":
    main()
