"""What the sensor adds to a perfect image: noise, fixed per-pixel offsets, a slow global drift.

- Noise: the MLX90640 datasheet gives a NETD of 0.1 K RMS at a 1 Hz refresh
  rate. Each doubling of the rate halves the integration time, so the noise
  grows as sqrt(rate): 0.28 K at 8 Hz, 0.4 K at 16 Hz. Pixels towards the
  corners see less of the scene through the lens and are noisier; we take
  the noise to rise quadratically with the distance from the centre, to
  1 + EDGE_NOISE_GAIN at the corners (an assumption, not a datasheet figure).
- Per-pixel offsets: what calibration leaves behind, fixed for a sensor,
  OFFSET_SD_C between pixels (assumption).
- Drift: a slow common offset, two sinusoids of periods of minutes to tens of
  minutes (DRIFT), as the die and the package settle (assumption).
- Common offset and gain (drawn per sensor in a world, sim/scenes/world.py;
  zero in the nominal one): every pixel reads ``offset`` too high, and the
  scale of (reading - die temperature) is off by ``gain``: the absolute
  accuracy of an uncalibrated thermopile array, which the heated reference
  is there to correct.
- Garbage pixels: a bad cable corrupts words in transit; those pixels read
  anything (GARBAGE_RANGE_C).

Noise is a pure function of (scene key, t): the generator is rewound and
advanced to a position set by t in microseconds, so a frame can be rendered
again, or out of order, and comes out the same.
"""

from __future__ import annotations

import math

import numpy as np

from controller.sensor.frame import COLUMNS, ROWS

NETD_1HZ_C = 0.1
EDGE_NOISE_GAIN = 0.5
OFFSET_SD_C = 0.15
DRIFT = ((0.08, 420.0), (0.12, 1500.0))  # (amplitude degC, period s)
SELF_HEATING_C = 8.0  # the die runs this much above the room (Melexis: Tr = Ta - 8 in open air)
SELF_HEATING_SPREAD_C = 1.0
GARBAGE_RANGE_C = (-20.0, 200.0)
_DRAWS_PER_FRAME = 4096  # generator positions reserved per microsecond of scene time


def noise_sd_c(refresh_hz: float, netd_1hz_c: float = NETD_1HZ_C) -> float:
    """RMS noise (degC) of a centre pixel at ``refresh_hz``."""
    return netd_1hz_c * math.sqrt(refresh_hz)


class SensorErrors:
    """The errors of one sensor, drawn once from ``rng``; noise keyed by ``key``."""

    def __init__(self, refresh_hz: float, rng: np.random.Generator, key: int, *, netd_1hz_c: float = NETD_1HZ_C,
                 offset_sd_c: float = OFFSET_SD_C, common_offset_c: float = 0.0, gain: float = 0.0,
                 drift_scale: float = 1.0):
        if not refresh_hz > 0:
            raise ValueError(f"refresh_hz must be positive, got {refresh_hz}")
        r = (np.arange(ROWS) + 0.5 - ROWS / 2)[:, None] / (ROWS / 2)
        c = (np.arange(COLUMNS) + 0.5 - COLUMNS / 2)[None, :] / (COLUMNS / 2)
        self.noise_sd = noise_sd_c(refresh_hz, netd_1hz_c) * (1.0 + EDGE_NOISE_GAIN * (r * r + c * c) / 2.0)
        self.offsets = rng.normal(0.0, offset_sd_c, size=(ROWS, COLUMNS))
        self.self_heating_c = SELF_HEATING_C + float(rng.uniform(-SELF_HEATING_SPREAD_C, SELF_HEATING_SPREAD_C))
        self._drift = tuple((a * drift_scale, 2 * math.pi / p, float(rng.uniform(0, 2 * math.pi))) for a, p in DRIFT)
        self.common_offset_c = float(common_offset_c)
        self.gain = float(gain)
        self._bitgen = np.random.PCG64(key)
        self._start = self._bitgen.state
        self._gen = np.random.Generator(self._bitgen)

    def drift_c(self, t: float) -> float:
        """The common offset at time ``t`` (degC)."""
        return sum(a * math.sin(w * t + p) for a, w, p in self._drift)

    def ta_c(self, ambient_c: float) -> float:
        """The sensor's own temperature in a room at ``ambient_c``."""
        return ambient_c + self.self_heating_c

    def apply(self, image: np.ndarray, t: float, garbage: list[int], ta_c: float = 0.0) -> None:
        """Add noise, offsets and drift to ``image`` (degC, in place) and scramble ``garbage`` pixels.

        ``ta_c`` is the die temperature the gain error scales readings about."""
        if self.gain:
            image += self.gain * (image - ta_c)
        if self.common_offset_c:
            image += self.common_offset_c
        self._bitgen.state = self._start
        self._bitgen.advance(round(t * 1e6) * _DRAWS_PER_FRAME)
        noise = self._gen.standard_normal((ROWS, COLUMNS))
        noise *= self.noise_sd
        noise += self.offsets
        image += noise
        image += self.drift_c(t)
        if garbage:
            image.flat[garbage] = self._gen.uniform(*GARBAGE_RANGE_C, size=len(garbage))
