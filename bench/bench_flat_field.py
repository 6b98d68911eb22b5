"""Measuring the sensor's pixel offsets on a flat field: `make bench-flat`.

How well `thermogate calibrate flat` (controller/screening/flat_field.py)
measures a sensor's fixed per-pixel offsets, on the sensors of the runs
`make bench-accuracy` screens (DEV's and HELD_OUT's runs of `school_queue`,
110° lens): the run's reference disc held against the window of the run's
own sensor (sim/synth.py, `flat_field_recording`), through that sensor's
words and the pipeline as the command reads them, for 10 s and for 30 s (the
command's default). Per run: the offsets' true spread (their sd less nothing:
a flat field tells each pixel against the median), the measurement's error
(sd over the pixels, and the worst pixel), and the noise the measurement says
it left; then their median and 90th percentile over the runs, and the runs
refused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.geometry import Lens  # noqa: E402
from controller.screening.analysis import AnalysisConfig  # noqa: E402
from controller.screening.config import ScreeningConfig  # noqa: E402
from controller.screening.flat_field import FlatFieldError, measure_flat_field  # noqa: E402
from controller.service.calibration import reference_images_recording  # noqa: E402
from sim.scenarios import scenario  # noqa: E402
from sim.scenes.world import DEV, HELD_OUT  # noqa: E402
from sim.synth import flat_field_recording  # noqa: E402

KIND = "school_queue"


def measure(world, i: int, seconds: float, variant: str) -> dict | None:
    """One run's sensor measured: its offsets' true spread, the error's sd and worst pixel, the noise left."""
    seed = world.seed(i)
    sc = scenario(KIND, seed, variant=variant, world=world)
    rec = flat_field_recording(sc, seed=seed, seconds=seconds)
    images = reference_images_recording(rec, ScreeningConfig(analysis=AnalysisConfig(variant=variant))).images
    try:
        flat = measure_flat_field(images)
    except FlatFieldError:
        return None
    truth = sc.scene.errors.offsets - np.median(sc.scene.errors.offsets)
    error = flat.offsets_c - truth
    return {"spread": float(truth.std()), "error": float(error.std()), "worst": float(np.abs(error).max()),
            "left": flat.noise_left_c}


def _both(rows: list[dict], key: str) -> str:
    """The median and 90th percentile of ``key`` over ``rows``."""
    v = np.array([r[key] for r in rows])
    return f"{np.median(v):.3f}, {np.percentile(v, 90):.3f}" if len(v) else "-"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=60, help="runs per world (default 60, as make bench-accuracy)")
    ap.add_argument("--lens", choices=Lens.choices(), default=Lens.WIDE.value)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print(f"make bench-flat: {args.runs} runs of {KIND} per world, {args.lens} deg lens; the run's disc held against "
          f"its sensor's window; degC")
    print(f"{'world':9} {'capture':>7} {'refused':>7} {'true spread (median, p90)':>26} "
          f"{'error sd (median, p90)':>23} {'worst pixel (median, p90)':>26} {'noise left (median)':>20}")
    for world in (DEV, HELD_OUT):
        for seconds in (10.0, 30.0):
            rows = [measure(world, i, seconds, args.lens) for i in range(args.runs)]
            done = [r for r in rows if r is not None]

            left = f"{np.median([r['left'] for r in done]):.3f}" if done else "-"
            print(f"{world.name:9} {seconds:6.0f}s {len(rows) - len(done):7d} {_both(done, 'spread'):>26} "
                  f"{_both(done, 'error'):>23} {_both(done, 'worst'):>26} {left:>20}", flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
