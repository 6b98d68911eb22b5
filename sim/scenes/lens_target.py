"""Measuring a lens, simulated: the heated disc stood close in front of the sensor, then taken away.

What an installer does for ``thermogate calibrate lens`` (docs/installation.md,
"Measuring the lens"), through one run's physics (sim/scenes/world.py): its
lens (core and wings), its sensor's noise, fixed pixel offsets, common offset,
gain and drift (a session of its own: the same offset and gain, its own
drift, noise and pixel offsets), its room. The disc is the run's reference
disc where it has one, else one drawn; how near and where it is stood is
drawn from a stream of its own, so that a measurement can be simulated for
any run without changing its other draws.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from controller.geometry import FieldOfView
from controller.screening.lens_measurement import (
    LensMeasurement,
    LensMeasurementError,
    measure_distance_m,
    measure_lens,
)
from controller.sensor.frame import COLUMNS, ROWS

from .optics import Mounting, Projection, blur
from .physiology import temperature_from_radiance
from .room import ReferenceSpec, Room
from .sensor_errors import SensorErrors
from .world import Physics

DEFAULT_MOUNTING = Mounting(sensor_height_m=1.4, tilt_deg=0.0, mark_distance_m=0.5)


@dataclass(frozen=True)
class LensTarget:
    """The disc as the installer stands it for the measurement."""

    diameter_m: float = 0.07
    distance_m: float = 0.15
    temp_c: float = 38.0
    emissivity: float = 0.97
    centre_px: tuple[float, float] = (ROWS / 2.0, COLUMNS / 2.0)

    @classmethod
    def draw(cls, rng: np.random.Generator, fov: FieldOfView, disc: ReferenceSpec | None = None) -> LensTarget:
        """``disc`` (the run's reference disc: its size, set point and coating), or a disc of 6-10 cm set to
        35-40 degC; stood as near the sensor as docs/installation.md says for the lens (7-10 pixels across:
        lens_measurement.measure_distance_m), near the middle of the view."""
        diameter = float(rng.uniform(0.06, 0.10))
        temp, emissivity = float(rng.uniform(35.0, 40.0)), float(rng.uniform(0.95, 0.99))
        if disc is not None:
            diameter, temp, emissivity = disc.diameter_m, disc.temp_c, disc.emissivity
        near, far = measure_distance_m(diameter, fov)
        return cls(diameter_m=diameter, distance_m=float(rng.uniform(near, far)), temp_c=temp, emissivity=emissivity,
                   centre_px=(ROWS / 2.0 + float(rng.uniform(-1.5, 1.5)), COLUMNS / 2.0 + float(rng.uniform(-2, 2))))


def drawn_target(physics: Physics, fov: FieldOfView, seed: int) -> LensTarget:
    """The disc :func:`lens_target_frames` stands for run ``seed`` when given none: the run's own reference disc
    where it has one."""
    return LensTarget.draw(np.random.default_rng([int(seed), 0x1E45]), fov, physics.reference)


class LensTargetScene:
    """What the sensor sees while its lens is measured, frame by frame: the disc stood near it
    (``disc_in_view``), or taken away. An image is a pure function of the time and that switch, so a virtual
    gate can run the measurement live (sim/scenarios.py, :func:`~sim.scenarios.lens_measurement`) while the
    installer's hand (a test) takes the disc away; :func:`lens_target_frames` records it."""

    def __init__(self, physics: Physics, fov: FieldOfView, seed: int, target: LensTarget | None = None,
                 refresh_hz: float = 8.0, ambient_c: float = 22.0, walls_of: Room | None = None):
        """``walls_of``: the gate's own room (a scene's ``room``), whose walls stand behind the disc, as they do
        when the installer measures the lens at the gate; None: walls drawn from ``seed``."""
        rng = np.random.default_rng([int(seed), 0x1E45])
        drawn = LensTarget.draw(rng, fov, physics.reference)  # drawn always, so that the rest is drawn alike
        self.target = target if target is not None else drawn
        projection = Projection(fov, physics.mounting or DEFAULT_MOUNTING)
        walls = int(rng.integers(1 << 31))
        t = self.target
        spec = ReferenceSpec(diameter_m=t.diameter_m, distance_m=t.distance_m, temp_c=t.temp_c,
                             emissivity=t.emissivity, centre_px=t.centre_px)
        self._with_disc = Room(projection, np.random.default_rng(walls), reference=spec)
        without = Room(projection, np.random.default_rng(walls), reference=False)
        if walls_of is not None:
            self._with_disc.offset_c = without.offset_c = walls_of.offset_c
        self.errors = SensorErrors(refresh_hz, rng, key=int(rng.integers(1 << 31)), netd_1hz_c=physics.netd_1hz_c,
                                   offset_sd_c=physics.pixel_offset_sd_c, common_offset_c=physics.sensor_offset_c,
                                   gain=physics.sensor_gain, drift_scale=physics.drift_scale)
        self.ambient_c = physics.ambient_c if physics.ambient_c is not None else ambient_c
        self.refresh_hz = refresh_hz
        self.ta_c = self.errors.ta_c(self.ambient_c)  # the sensor's own temperature
        self.disc_in_view = True
        self._clean = {True: self._through_lens(self._with_disc, physics),
                       False: self._through_lens(without, physics)}

    def _through_lens(self, room: Room, physics: Physics) -> np.ndarray:
        rad = room.radiance(self.ambient_c).copy()
        room.in_front(rad, self.ambient_c)
        return temperature_from_radiance(blur(rad, physics.psf_sigma_px, physics.psf_wing_share,
                                              physics.psf_wing_sigma_px))

    def image_at(self, t: float, disc: bool | None = None) -> np.ndarray:
        """What the sensor reads at ``t`` seconds, degC (24, 32), with the disc (``disc``; None: as
        ``disc_in_view`` says) or without it."""
        image = self._clean[self.disc_in_view if disc is None else disc].copy()
        self.errors.apply(image, t, [], self.ta_c)
        return image

    def truth(self, seconds: float) -> dict:
        """The disc's apparent temperature (``disc_apparent_c``, before the lens), and what the sensor reads
        above a pixel's truth at it, on average over the first ``seconds`` (``sensor_offset_c``: the common
        offset, the drift then, the gain's part at that temperature)."""
        assert self._with_disc.reference is not None
        app = self._with_disc.reference.apparent_c(self.ambient_c)
        n = max(1, round(seconds * self.refresh_hz))
        drift = float(np.mean([self.errors.drift_c(i / self.refresh_hz) for i in range(n)]))
        e = self.errors
        return {"disc_apparent_c": app, "sensor_offset_c": e.common_offset_c + drift + e.gain * (app - self.ta_c)}


def lens_target_frames(physics: Physics, fov: FieldOfView, seed: int, target: LensTarget | None = None,
                       seconds: float = 10.0, refresh_hz: float = 8.0, ambient_c: float = 22.0,
                       truth: dict | None = None, walls_of: Room | None = None
                       ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames with the disc, frames without it), degC (24, 32), ``seconds`` of each at ``refresh_hz``: the disc
    first, then, after as long again (the installer taking it away, not recorded), the empty scene. ``truth``,
    when given, is filled in with :meth:`LensTargetScene.truth` over the frames with the disc. ``walls_of``: the
    gate's room, whose walls stand behind the disc (:class:`LensTargetScene`)."""
    scene = LensTargetScene(physics, fov, seed, target, refresh_hz, ambient_c, walls_of)
    n = max(1, round(seconds * refresh_hz))
    if truth is not None:
        truth.update(scene.truth(seconds))
    return ([scene.image_at(i / refresh_hz, True) for i in range(n)],
            [scene.image_at(2.0 * seconds + i / refresh_hz, False) for i in range(n)])


@dataclass(frozen=True)
class InstallerMeasurement:
    """What an installer following ``thermogate calibrate lens``'s advice ends with (:func:`measure_as_told`)."""

    measurement: LensMeasurement
    truth: dict  # :meth:`LensTargetScene.truth` of the capture the measurement is of
    target: LensTarget  # the disc as it stood for it
    hotter: bool = False  # the disc was refused as too near the room's temperature and set hotter
    nearer: bool = False  # the lens was too blurred to read the offset: the disc was stood nearer


def measure_as_told(physics: Physics, fov: FieldOfView, seed: int, target: LensTarget,
                    walls_of: Room | None = None) -> InstallerMeasurement:
    """The lens measured with ``target`` stood near the sensor, its set point and coating given, as an installer
    following the command's advice does: where it refuses the disc as set too near the room's temperature, the
    installer sets it as hot as it says and measures again; where it reads no offset for want of pixels wholly on
    the disc, stands it as near as it says and measures again, the second measurement standing unless it is
    refused. LensMeasurementError where the measurement is refused in the end."""

    def capture(t: LensTarget) -> tuple[LensMeasurement, dict]:
        truth: dict = {}
        disc, empty = lens_target_frames(physics, fov, seed, t, truth=truth, walls_of=walls_of)
        return measure_lens(disc, empty, fov, set_point_c=t.temp_c, emissivity=t.emissivity), truth

    hotter = False
    try:
        m, truth = capture(target)
    except LensMeasurementError as exc:
        if exc.hotter_c is None:
            raise
        target, hotter = replace(target, temp_c=exc.hotter_c), True
        m, truth = capture(target)
    if m.offset_across_px is None:
        return InstallerMeasurement(m, truth, target, hotter)
    nearer = replace(target, distance_m=target.distance_m * m.across_px / m.offset_across_px)
    try:
        m, truth = capture(nearer)
    except LensMeasurementError:
        return InstallerMeasurement(m, truth, target, hotter, True)
    return InstallerMeasurement(m, truth, nearer, hotter, True)
