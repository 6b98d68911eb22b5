"""The reference source in the simulator: which discs can be learned, and how well the learned reading then
corrects a drift, in the same room and in a warmer one.

For each disc (lens, diameter, line-of-sight distance), a normal queue is rendered with that disc in the
upper left. Its reading is learned on the first 10 s (``learn_reference``, as ``thermogate calibrate
reference --recording`` does), then the next 40 s are analysed with 0.8 degC added to the whole image (a
sensor drift). The offset the reference gives should be -0.8 minus the simulated sensor's own drift since the
learning; the error is what is left, over the frames after the background model has settled (25 s). Then the
same with the room 3 degC warmer than when the disc was learned: a disc's reading takes from the wall behind
what it does not take from the disc, so the error is given as the product works (the drift unmixed from the
wall's change, ``analysis_kernels.unmixed_drift``), also over the first 25 s (the wall then from the frames
themselves), and as it would be taking the reading's change for drift.

    .venv/bin/python bench/bench_reference.py
"""

from __future__ import annotations

import sys
from dataclasses import replace
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
WARMER_C = 3.0
SECONDS = 40.0
SETTLED = 200  # frames: the background model's bootstrap and three time constants (analysis_kernels.SETTLE_TAUS)
N, W = Lens.NARROW, Lens.WIDE
DISCS = ((N, 0.07, 0.495), (N, 0.06, 0.9), (N, 0.08, 0.9), (N, 0.06, 1.2), (N, 0.04, 1.2), (N, 0.03, 1.5),
         (W, 0.08, 0.3), (W, 0.10, 0.45), (W, 0.06, 0.45), (W, 0.06, 0.9), (W, 0.15, 0.9), (W, 0.04, 0.9))


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
        return f"{head} not learned: `{exc.reason}` | | | | | |"
    analysis = from_table({"reference": learned.table(config.reference_box), "variant": variant}).analysis
    base = sc.frame_at(5.0).truth["drift_c"]
    same = _errors(sc, analysis, base)
    warm = scenario("normal_queue", seed, variant=variant)
    warm.scene.room = sc.scene.room
    levels = tuple(a + WARMER_C for a in warm.scene.spec.ambient_levels)
    warm.scene.spec = replace(warm.scene.spec, ambient_levels=levels)
    unmixed = _errors(warm, analysis, base)
    plain = _errors(warm, replace(analysis, reference_background_c=None), base)
    return (f"{head} learned, {learned.pixels} px averaged, {learned.fraction:.0%} | {same[1]} | {same[0]} | "
            f"{unmixed[0]} | {unmixed[2]} | {plain[0]} |")


def _errors(sc, analysis: AnalysisConfig, base: float) -> tuple[str, str, str]:
    """The offset's error over the settled frames of SECONDS after the learning (mean, sd, worst), the share
    of them whose reference is ok, and the error over the frames before (the first 25 s, from the first full
    window); "BLOCKED reason" when none is ok."""
    analyzer, errors, statuses, early, early_statuses = Analyzer(analysis), [], [], [], []
    for i in range(int(SECONDS * HZ)):
        frame = sc.frame_at(10.0 + i / HZ)
        a = analyzer.analyze(frame.image + DRIFT_C)
        error = a.offset_c + DRIFT_C + frame.truth["drift_c"] - base
        if i < SETTLED:
            if a.reference_status != "pending":
                early_statuses.append(a.reference_status)
                if a.reference_ok:
                    early.append(error)
            continue
        statuses.append(a.reference_status)
        if a.reference_ok:
            errors.append(error)
    ok = f"{len(errors) / len(statuses):.0%}"
    return _summary(errors, statuses), ok, _summary(early, early_statuses)


def _summary(errors: list[float], statuses: list[str]) -> str:
    if not errors:
        return f"BLOCKED `reference_{max(set(statuses), key=statuses.count)}`"
    e = np.array(errors)
    return f"{e.mean():+.3f} ± {e.std():.3f} (worst {np.abs(e).max():.3f})"


def main() -> None:
    print(f"| lens | disc | distance | px across (model) | contrast, worst (model) | simulator: learning | ok "
          f"after | offset error, degC | room +{WARMER_C:g} degC: offset error | ... in the first 25 s | ... read as "
          "the reading's change |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for variant, diameter, distance in DISCS:
        print(run(variant, diameter, distance), flush=True)


if __name__ == "__main__":
    main()
