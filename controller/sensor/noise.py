"""The sensor's own noise, measured on the images it sends (docs/sensor.md, "The sensor's noise").

Each subpage reads half the pixels again (the chess board's squares of one
colour, or every other row). A pixel's
change since its subpage last read it is two readings' noise, plus whatever
moved in front of it: over the half of the array a subpage reads, the median
absolute change about the median (the median takes out a common change, a drift
or the room) is 0.6745 x sqrt(2) x the noise of one reading wherever most
pixels look at something still, a person in view included; so is every other
quantile of the changes' sizes, with its own factor. Changes over CLIP times
the median one are left out (something moved across those pixels), and the
figure is the mean of what the 20th to 70th percentiles of the others give:
it does not snap to the steps of the readings' resolution (not much finer
than the noise) as a median alone does.

Measured only while nobody is in view (a person in front of the sensor moves
more pixels than the steps above leave out: through the 55 deg lens at a near
mark, most of them), on one pair of such images in EVERY (once a second at 8
frames a second), and smoothed over the last several measurements
(SMOOTHING), so that it costs the pipeline next to nothing and follows a
sensor that warms up. The figure is the noise of one reading at the gate's
refresh rate; :func:`netd_1hz_c` gives the datasheet's figure from it (the
noise grows as the square root of the rate: the MLX90640's datasheet gives
0.1 K RMS at 1 Hz).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

EVERY = 8  # measure one pair of consecutive empty images in this many
SMOOTHING = 0.2  # each measurement's weight in the running figure
MIN_PIXELS = 64  # fewer fresh, finite pixels than this measure nothing
# Above this noise (the datasheet's figure, at 1 Hz, as the gate measures it) a gate decides markedly fewer of the
# people who stand at its mark, and later (docs/estimation.md, "The sensor's noise"). The tools warn.
NOISY_NETD_1HZ_C = 0.18
DATASHEET_NETD_1HZ_C = 0.1  # MLX90640 datasheet: NETD 0.1 K RMS at a 1 Hz refresh (typical)
CLIP = 4.0  # a change over this many times the median change is something moving, not noise (3.5 sd)
QUANTILES = np.linspace(0.2, 0.7, 11)  # the quantiles of the other changes' sizes that measure the noise
# the quantiles of |z| for a standard normal z: the q-th quantile of |change| is sqrt(2) x noise x _QUANTILE_Z[q]
_QUANTILE_Z = np.array([NormalDist().inv_cdf((1.0 + q) / 2.0) for q in QUANTILES])


class SensorNoise:
    """The running noise of one reading of one sensor's pixels (degC); NaN until first measured."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None
        self._pairs = 0
        self.noise_c = math.nan
        self.measurements = 0

    def update(self, image: np.ndarray, fresh: np.ndarray, empty: bool = True) -> None:
        """One complete image (24 x 32 degC), which of its pixels the latest subpage read (bool), and whether
        nobody is in view (the analysis found nothing warm): only two empty images in a row are compared, one
        such pair in EVERY."""
        last, self._last = self._last, (image if empty else None)
        if last is None or not empty:
            return
        self._pairs += 1
        if self._pairs % EVERY:
            return
        change = image[fresh].astype(np.float64) - last[fresh]
        change = change[np.isfinite(change)]
        if change.size < MIN_PIXELS:
            return
        change = np.abs(change - np.median(change))
        # Changes far beyond the median's (something moved across those pixels) are left out; each of QUANTILES
        # of the rest then gives the noise, and their mean does not snap to the steps of the readings'
        # resolution as one quantile (a median) does.
        rough = float(np.median(change))
        kept = change[change <= CLIP * rough] if rough > 0.0 else change
        if kept.size < MIN_PIXELS:
            return
        sd = float(np.mean(np.quantile(kept, QUANTILES) / _QUANTILE_Z)) / math.sqrt(2.0)
        self.noise_c = sd if self.measurements == 0 else self.noise_c + SMOOTHING * (sd - self.noise_c)
        self.measurements += 1


def netd_1hz_c(noise_c: float, refresh_hz: float) -> float:
    """The noise of one reading at ``refresh_hz`` as the datasheet states it, at a 1 Hz refresh (the noise
    grows as the square root of the rate: each doubling halves the integration time)."""
    if not (refresh_hz > 0.0) or not math.isfinite(noise_c):
        return math.nan
    return noise_c / math.sqrt(refresh_hz)


def too_noisy_to_screen(noise_c: float, refresh_hz: float) -> bool:
    """Whether a sensor whose readings at ``refresh_hz`` are ``noise_c`` noisy is above NOISY_NETD_1HZ_C (a
    noise or a rate not known is never flagged). ``thermogate watch``, ``calibrate reference`` and the guards'
    console ask this."""
    netd = netd_1hz_c(noise_c, refresh_hz)
    return math.isfinite(netd) and netd > NOISY_NETD_1HZ_C


def describe_noise(noise_c: float, refresh_hz: float) -> str:
    """The noise of one reading, at the gate's rate and (the rate known) as the datasheet states it, e.g. "0.30 degC
    a reading at 8 Hz (0.11 at 1 Hz; the datasheet's typical 0.1)": what ``thermogate watch`` and ``calibrate
    reference`` say."""
    netd = netd_1hz_c(noise_c, refresh_hz)
    if not math.isfinite(netd):
        return f"{noise_c:.2f} degC a reading"
    return (f"{noise_c:.2f} degC a reading at {refresh_hz:g} Hz ({netd:.2f} at 1 Hz; the datasheet's typical "
            f"{DATASHEET_NETD_1HZ_C:g})")
