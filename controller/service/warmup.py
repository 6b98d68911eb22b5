"""Kernel warm-up: numba's kernels loaded (or compiled) before the first gate's frame."""

from __future__ import annotations

import time


def warm_up_kernels() -> float:
    """Run the whole pipeline once on a synthetic sensor, so numba has loaded (or compiled) every kernel
    before real frames queue up behind it; returns the seconds it took."""
    import numpy as np

    from ..screening.pipeline import GatePipeline
    from ..sensor.frame import SHAPE
    from ..sensor.synthetic import random_eeprom

    start = time.perf_counter()
    eeprom = random_eeprom(np.random.default_rng(0))
    pipeline = GatePipeline("warm-up", eeprom)
    image = np.full(SHAPE, 24.0)
    image[8:14, 12:18] = 35.0
    control = int(pipeline.calibration.params.control_ee)
    for i, subpage in enumerate((0, 1, 0, 1)):
        words = pipeline.calibration.raw_from_to(image, 24.0, 3.3, subpage, control)
        pipeline.push(words, 0.125 * i, i + 1)
    return time.perf_counter() - start
