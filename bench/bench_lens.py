"""Measuring a lens: `make bench-lens`.

How well `thermogate calibrate lens` (controller/screening/lens_measurement.py)
finds a lens's wings, on lenses simulated with sim/scenes/lens_target.py:

- DEV's runs of `school_queue` (the gates `make bench-accuracy` screens), as
  drawn (no wings) and with every lens given the same wings (as
  `bench_accuracy.py --dev-wings` gives them);
- lenses drawn over a wider range than DEV's, from a stream of their own:
  core 0.2-1.1 px, no wings in a quarter of them, else 2-30 % of the energy
  in wings of 1.5-4 px, every other physics of a DEV run.

For each: how many lenses the measurement gives wings, the error of the
share and width it gives, by the true share, and the error of the sensor's
own offset it reads (the disc: the run's reference disc, else one drawn;
set hotter where the command refuses it as too near the room's
temperature, stood nearer where it says the lens is too blurred for it to
read the offset at the table's distance, and measured again).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.geometry import Lens  # noqa: E402
from controller.screening.lens_measurement import LensMeasurementError  # noqa: E402
from sim.scenes.lens_target import drawn_target, measure_as_told  # noqa: E402
from sim.scenes.world import DEV  # noqa: E402

KIND = "school_queue"
DEV_WINGS = (None, (0.1, 2.0), (0.2, 3.0))


def measure(job: tuple) -> tuple:
    """(set, lens, true share, true px, measured share, measured px, refused, error of the sensor's offset
    read (NaN: none read), whether the disc was stood nearer, whether it was set hotter). The installer does as
    the command says (sim.scenes.lens_target.measure_as_told): sets a disc refused as too near the room's
    temperature hotter, and stands it nearer where the lens is too blurred for it to read the offset."""
    label, variant, i, wings = job
    physics = DEV.draw(KIND, DEV.seed(i), variant)
    if label == "random":
        rng = np.random.default_rng([i, 0x4C45, int(variant)])
        core = float(rng.uniform(0.2, 1.1))
        share = 0.0 if rng.random() < 0.25 else float(rng.uniform(0.02, 0.30))
        physics = replace(physics, psf_sigma_px=core, psf_wing_share=share,
                          psf_wing_sigma_px=float(rng.uniform(1.5, 4.0)))
    elif wings is not None:
        physics = replace(physics, psf_wing_share=wings[0], psf_wing_sigma_px=wings[1])
    fov = Lens.parse(variant).fov
    try:
        told = measure_as_told(physics, fov, DEV.seed(i), drawn_target(physics, fov, DEV.seed(i)))
    except LensMeasurementError:
        return label, variant, physics.psf_wing_share, physics.psf_wing_sigma_px, 0.0, 0.0, True, math.nan, False, False
    m, truth = told.measurement, told.truth
    offset_err = math.nan if m.sensor_offset_c is None else m.sensor_offset_c - truth["sensor_offset_c"]
    return (label, variant, physics.psf_wing_share, physics.psf_wing_sigma_px, m.wing_share, m.wing_px, False,
            offset_err, told.nearer, told.hotter)


def report(rows: list[tuple], title: str) -> None:
    print(f"-- {title} --")
    print(f"{'lens':>5} {'true share':>12} {'lenses':>6} {'refused':>7} {'wings found':>11} {'share err':>15} "
          f"{'px err (found)':>15} {'set hotter':>10} {'stood nearer':>12} {'offset read':>11} {'offset err':>15}")
    bands = ((0.0, 0.0, "none"), (1e-9, 0.05, "0-5 %"), (0.05, 0.15, "5-15 %"), (0.15, 1.0, "15-30 %"))
    for variant in ("110", "55"):
        for lo, hi, name in bands:
            sel = [r for r in rows if r[1] == variant and lo <= r[2] <= hi and not (hi == 0.0 and r[2] > 0.0)]
            if not sel:
                continue
            ok = [r for r in sel if not r[6]]
            found = [r for r in ok if r[4] > 0.0]
            err = np.array([r[4] - r[2] for r in ok])
            px = np.array([r[5] - r[3] for r in found if r[2] > 0.0])
            share_text = f"{err.mean():+.3f} +- {err.std():.3f}" if len(err) else "-"
            px_text = f"{px.mean():+.2f} +- {px.std():.2f}" if len(px) else "-"
            off = np.array([r[7] for r in ok if not math.isnan(r[7])])
            off_text = f"{off.mean():+.3f} +- {off.std():.3f}" if len(off) else "-"
            print(f"{variant:>5} {name:>12} {len(sel):>6} {len(sel) - len(ok):>7} {len(found):>11} {share_text:>15} "
                  f"{px_text:>15} {sum(r[9] for r in ok):>10} {sum(r[8] for r in ok):>12} {len(off):>11} "
                  f"{off_text:>15}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=60, help="DEV runs per lens (and random lenses per lens)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args(argv)
    jobs = [(("dev" if w is None else f"dev {w[0]:g}:{w[1]:g}"), v, i, w)
            for w in DEV_WINGS for v in ("110", "55") for i in range(args.runs)]
    jobs += [("random", v, i, None) for v in ("110", "55") for i in range(args.runs)]
    t0 = time.perf_counter()
    if args.jobs > 1:
        with get_context("spawn").Pool(args.jobs) as pool:
            rows = pool.map(measure, jobs, chunksize=4)
    else:
        rows = [measure(j) for j in jobs]
    print(f"make bench-lens: thermogate calibrate lens on simulated lenses, {args.runs} per set and lens "
          f"(the run's reference disc, else one of 6-10 cm; 7-10 px across; 10 s with it and 10 s without)")
    for label in dict.fromkeys(r[0] for r in rows):
        report([r for r in rows if r[0] == label], label)
    print(f"{time.perf_counter() - t0:.0f} s. share err: measured minus true share over the lenses measured "
          f"(none found counts as 0); px err: measured minus true width, over lenses with wings found; set hotter: "
          f"discs refused as set too near the room's temperature, measured again set as hot as the command said; "
          f"stood nearer: lenses too blurred for the disc at the table's distance to read the offset, measured again "
          f"with the disc as near as the command said (the figures are the last measurement's); offset err: "
          f"the sensor's offset read (the disc's set point and coating given) minus what the sensor read above the "
          f"truth at the disc's temperature while it stood")


if __name__ == "__main__":
    main()
