"""The sensor's offset a reference disc tells (``reference_source.disc_offset``), on discs drawn through the
simulator's optics: the sweep its blur check's step and limit (OFFSET_BLUR_STEP_PX, MAX_OFFSET_SPREAD_C) were
chosen on, and the blur the disc measures against the lens's.

The simulator's lens is a Gaussian spread over pixels already averaged; the product's model of a disc is a
Gaussian over the continuous scene, another shape, as a real lens's point spread would be another again. So
the blur a disc measures (``measure_blur``, as ``thermogate calibrate reference`` measures it) is not the
simulator's, and on a small disc the offset read through it errs by tenths of a degree. For each lens, discs
ACROSS pixels across through blurs BLURS, PLACEMENTS random positions on the pixel grid each, a common offset
drawn in +-1.5 degC, the wall and set point known: each disc's blur is measured on its own image and the offset
read through it, with no check and with each (step, limit). Printed per check: how many discs tell the offset,
its error (mean +- sd, worst) and by the disc's size. Two kinds of noise: the time noise of the 20 s a reading
is learned on (NOISE_20S_C per pixel), and that with the sensor's fixed per-pixel offsets
(``sim/scenes/sensor_errors.OFFSET_SD_C``), which no averaging removes.

    .venv/bin/python bench/bench_disc_offset.py [--placements 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.geometry import Lens  # noqa: E402
from controller.screening import reference_source as R  # noqa: E402
from sim.scenes.room import disc_on_wall  # noqa: E402
from sim.scenes.sensor_errors import OFFSET_SD_C  # noqa: E402

ACROSS = (3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0)  # pixels across (horizontally)
BLURS = (0.25, 0.3, 0.35, 0.45, 0.55, 0.65, 0.8, 1.0)  # the simulator's lens, sigma in pixels
WALL_C, SET_C = 22.0, 35.0
MAX_COMMON_OFFSET_C = 1.5
NOISE_20S_C = 0.03  # 0.28 degC per 8 Hz frame (sensor_errors: NETD 0.1 K at 1 Hz), more at the edges, over 160 frames
CHECKS = (("no check", 0.0, np.inf), ("0.1 px, 0.1 degC", 0.1, 0.1),
          ("0.15 px, 0.1 degC (the product's)", R.OFFSET_BLUR_STEP_PX, R.MAX_OFFSET_SPREAD_C),
          ("0.2 px, 0.1 degC", 0.2, 0.1))
SIZE_BINS = ((3.5, 4.5, "3.5-4 px"), (4.5, 5.5, "4.5-5 px"), (5.5, 6.5, "5.5-6 px"), (6.5, 99.0, "7 px"))


class Disc:
    """One disc as the product sees it: its box's contrast against the wall as read, and the blur it measures."""

    def __init__(self, lens: Lens, across: float, sigma: float, rng: np.random.Generator, pixel_sd_c: float):
        fov = lens.fov
        aspect = fov.pixel_aspect
        centre = (12.0 + rng.uniform(0.0, 1.0), 16.0 + rng.uniform(0.0, 1.0))
        self.lens, self.across, self.sigma = lens, across, sigma
        self.offset_c = float(rng.uniform(-MAX_COMMON_OFFSET_C, MAX_COMMON_OFFSET_C))
        image = disc_on_wall(centre, (aspect * across / 2.0, across / 2.0), SET_C, WALL_C, sigma)
        noise = np.hypot(NOISE_20S_C, pixel_sd_c)
        image = image + self.offset_c + rng.normal(0.0, noise, image.shape)
        r0, c0 = int(centre[0] - across), int(centre[1] - across) - 1
        self.contrast = image[r0:int(centre[0] + across) + 2, c0:int(centre[1] + across) + 2] - self.wall_read
        self.pixels = R.plateau_pixels(self.contrast)
        self.measured = R.measure_blur(self.contrast, SET_C - self.wall_read, fov)

    @property
    def wall_read(self) -> float:
        return WALL_C + self.offset_c

    def error(self, step: float, limit: float) -> float | None:
        """The offset told less the true one; None where the disc tells none."""
        if self.measured is None:
            return None
        told = R.disc_offset(self.contrast, self.wall_read, SET_C, self.pixels, self.measured, self.lens.fov,
                             blur_step_px=step, max_spread_c=limit)
        return None if told is None else told - self.offset_c


def _summary(errors: list[float]) -> str:
    if not errors:
        return "-"
    e = np.array(errors)
    return f"{e.mean():+.2f} ± {e.std():.2f}, worst {np.abs(e).max():.2f} ({len(e)})"


def sweep(discs: list[Disc]) -> None:
    print("| check | discs that tell it | error, degC | " + " | ".join(b[2] for b in SIZE_BINS) + " |")
    print("| --- | --- | --- |" + " --- |" * len(SIZE_BINS))
    for name, step, limit in CHECKS:
        told = [(d.across, e) for d in discs if (e := d.error(step, limit)) is not None]
        bins = [_summary([e for a, e in told if lo <= a < hi]) for lo, hi, _ in SIZE_BINS]
        print(f"| {name} | {len(told)} of {len(discs)} | {_summary([e for _, e in told])} | "
              + " | ".join(bins) + " |", flush=True)


def blur_measured(discs: list[Disc]) -> None:
    """The blur the discs measure against the simulator's (median over the discs of 5 px and more, where the
    disc is large enough to show it)."""
    cells = []
    for sigma in BLURS:
        m = [d.measured for d in discs if d.sigma == sigma and d.across >= 5.0 and d.measured is not None]
        cells.append(f"{np.median(m):.2f}" if m else "-")
    print("| simulator's blur, px | " + " | ".join(f"{s:g}" for s in BLURS) + " |")
    print("| --- |" + " --- |" * len(BLURS))
    print("| measured on the disc (median, 5-7 px) | " + " | ".join(cells) + " |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--placements", type=int, default=4, help="random positions per disc size and blur")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for pixel_sd, noise in ((0.0, f"the noise of 20 s ({NOISE_20S_C} degC)"),
                            (OFFSET_SD_C, f"and fixed pixel offsets of {OFFSET_SD_C} degC")):
        for lens in (Lens.NARROW, Lens.WIDE):
            rng = np.random.default_rng([args.seed, int(lens.value), int(pixel_sd * 100)])
            discs = [Disc(lens, across, sigma, rng, pixel_sd)
                     for across in ACROSS for sigma in BLURS for _ in range(args.placements)]
            print(f"\n{lens.value}° lens, {noise}, {len(discs)} discs\n")
            if pixel_sd == 0.0:
                blur_measured(discs)
            sweep(discs)


if __name__ == "__main__":
    main()
