"""A flat field, simulated: the heated disc held flat against the sensor's window, filling its whole view.

What an installer does for ``thermogate calibrate flat`` (docs/installation.md,
"Measuring the sensor's pixels"), through a run's own sensor: its fixed pixel
offsets, common offset, gain, drift and noise (sim/scenes/sensor_errors.py), the
same ones the run's frames carry. Out of focus and of one temperature, the
surface is the same scene for every pixel, so each image is that temperature
through the sensor's errors alone; the lens has nothing to blur.

The noise is keyed by time (SensorErrors): the capture's times start at
``start_s``, which a caller sets past the run's own frames, so that the flat
field does not share their noise.
"""

from __future__ import annotations

import numpy as np

from controller.sensor.frame import COLUMNS, ROWS

from .sensor_errors import SensorErrors

CARD_C = 36.0  # the surface's apparent temperature where the run has no reference disc: a disc set near skin


class FlatFieldScene:
    """A surface reading ``card_c`` over the whole view, through the sensor ``errors`` in a room at ``ambient_c``,
    its time 0 at the sensor's ``start_s``."""

    def __init__(self, errors: SensorErrors, ambient_c: float, card_c: float = CARD_C, start_s: float = 0.0):
        self.errors = errors
        self.card_c = float(card_c)
        self.ta_c = errors.ta_c(ambient_c)  # the sensor's own temperature
        self.start_s = float(start_s)

    def image_at(self, t: float) -> np.ndarray:
        """What the sensor reads at ``t`` seconds, degC (24, 32)."""
        image = np.full((ROWS, COLUMNS), self.card_c)
        self.errors.apply(image, self.start_s + t, [], self.ta_c)
        return image
