"""Recordings from scenarios, made offline: no broker, no firmware loop.

Each subpage is the scenario's image at its time, encoded with the sensor
inverse into the words a sensor with the gate's EEPROM would send, exactly as
a virtual gate's sensor does; the ground truth rides along. The sample
recordings in ``sim/recordings/`` are made with ``python -m sim.synth``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from controller.geometry import Lens
from controller.recording import Recording, synthesize
from controller.sensor import Calibration, control_word, random_eeprom

from .scenarios import scenario
from .scenes import PersonPlan
from .scenes.people import STAND_S

SAMPLES = Path(__file__).resolve().parent / "recordings"
# (file stem, scenario, seconds): small enough to keep in git, long enough for one or two people.
SAMPLE_SET = (("normal_queue-10s", "normal_queue", 10.0), ("fever-30s", "fever", 30.0),
              ("sensor_fault-6s", "sensor_fault", 6.0))
FIXED_CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)


class SensorWords:
    """The words the sensor of a gate whose EEPROM is drawn from ``seed`` (as a VirtualGate with that seed has)
    sends for each image: subpage ``i % 2`` of frame ``i``, chess pattern, 18 bits."""

    def __init__(self, seed: int, refresh_hz: float = 8.0, vdd: float = 3.3):
        self.eeprom = random_eeprom(np.random.default_rng([seed, 1]))
        self.calibration = Calibration.from_eeprom(self.eeprom)
        self.control = control_word(chess=True, resolution_bits=18, refresh_hz=refresh_hz)
        self.vdd = vdd

    def of(self, i: int, image: np.ndarray, ta: float) -> np.ndarray:
        """The 834 words of frame ``i``."""
        return self.calibration.raw_from_to(image, ta, self.vdd, i % 2, self.control)


def scenario_meta(sc, name: str, seed: int, variant: str, refresh_hz: float, vdd: float, world,
                  session: str | None) -> dict:
    """A scenario recording's meta: what it was made from (a world's standing time and draw of the noise where
    they are not its own)."""
    meta = {"scenario": name, "seed": seed, "variant": variant, "refresh_hz": refresh_hz, "vdd": vdd}
    if world is not None:
        meta["world"] = world.name
        if world.stand_s != STAND_S:
            meta["stand_s"] = list(world.stand_s)
        if world.noise_draw:
            meta["noise_draw"] = world.noise_draw
    if session is not None:
        meta["session"] = session
    if sc.people is not None:
        meta["people_core_c"] = [p.core_c for p in sc.people]
    return meta


def scenario_recording(name: str, seconds: float, *, seed: int = 0, gate_id: str = "sim-1",
                       variant: str = Lens.NARROW, refresh_hz: float = 8.0, vdd: float = 3.3, world=None,
                       people: Sequence[PersonPlan] | None = None, session: str | None = None) -> Recording:
    """``seconds`` of scenario ``name`` as gate ``gate_id`` would have published it, with ground truth;
    ``world`` (sim.scenes.world.DEV or HELD_OUT) draws its physics, None is the nominal world; ``people``:
    a listed queue (sim/scenarios.py's ``scenario(..., people=)``), its cores in the meta; ``session``: the same
    gate and room with other people (``scenario(..., session=)``), named in the meta. The people keep to their
    plan whatever the gate would have told them (sim/waiting.py has them wait for it)."""
    sc = scenario(name, seed, variant=variant, refresh_hz=refresh_hz, world=world, people=people, session=session)
    return record_scenario(sc, seconds, SensorWords(seed, refresh_hz, vdd), gate_id=gate_id,
                           meta=scenario_meta(sc, name, seed, variant, refresh_hz, vdd, world, session))


def record_scenario(sc, seconds: float, sensor: SensorWords, *, gate_id: str, meta: dict,
                    on_frame: Callable[[int, float, np.ndarray, dict], None] | None = None) -> Recording:
    """``seconds`` of scenario ``sc`` (a ``Scenario``) through ``sensor``, frame by frame, as a recording with
    ``meta``; ``on_frame(i, t, words, truth)``, if given, is called with each frame before the next is rendered
    (sim/waiting.py's closed loop acts there)."""
    times = np.arange(int(round(seconds * sc.refresh_hz))) / sc.refresh_hz
    frames, truths = [], []
    for i, t in enumerate(times):
        frame = sc.frame_at(float(t))
        words = sensor.of(i, frame.image, frame.ta)
        frames.append(words)
        truths.append(dict(frame.truth, subpage=i % 2))
        if on_frame is not None:
            on_frame(i, float(t), words, frame.truth)
    return synthesize(sensor.eeprom, np.array(frames), times.tolist(), truths, gate_id=gate_id,
                      created=FIXED_CREATED, meta=meta)


def lens_recordings(physics, *, seed: int = 0, gate_id: str = "sim-1", variant: str = Lens.NARROW,
                    refresh_hz: float = 8.0, vdd: float = 3.3, target=None, seconds: float = 10.0
                    ) -> tuple[Recording, Recording]:
    """The two recordings of ``thermogate calibrate lens`` (sim/scenes/lens_target.py): the heated disc stood
    near the gate (``target``, a LensTarget; None: drawn from ``seed``), then the scene without it, through
    ``physics``'s lens and sensor, each ``seconds`` long."""
    from .scenes.lens_target import lens_target_frames
    from .scenes.sensor_errors import SELF_HEATING_C

    sensor = SensorWords(seed, refresh_hz, vdd)
    ta = (physics.ambient_c if physics.ambient_c is not None else 22.0) + SELF_HEATING_C
    phases = lens_target_frames(physics, Lens.parse(variant).fov, seed, target, seconds, refresh_hz)
    out = []
    for phase, images in zip(("disc", "empty"), phases, strict=True):
        times = np.arange(len(images)) / refresh_hz
        frames = [sensor.of(i, image, ta) for i, image in enumerate(images)]
        meta = {"scenario": f"lens measurement, {phase}", "seed": seed, "variant": variant,
                "refresh_hz": refresh_hz, "vdd": vdd}
        out.append(synthesize(sensor.eeprom, np.array(frames), times.tolist(),
                              [{"subpage": i % 2} for i in range(len(times))], gate_id=gate_id,
                              created=FIXED_CREATED, meta=meta))
    return out[0], out[1]


def flat_field_recording(sc, *, seed: int = 0, gate_id: str = "sim-1", vdd: float = 3.3, seconds: float = 10.0,
                         card_c: float | None = None) -> Recording:
    """The recording of ``thermogate calibrate flat`` at scenario ``sc``'s gate (sim/scenarios.py,
    :class:`~sim.scenarios.FlatFieldCapture`): a surface held against its window, reading ``card_c`` (None: the
    set point of ``sc``'s reference disc where it has one), through the sensor ``sc``'s frames come from (the
    words of the EEPROM drawn from ``seed``, as :func:`scenario_recording` makes them), ``seconds`` long."""
    from .scenarios import FlatFieldCapture

    capture = FlatFieldCapture(sc, card_c)
    meta = {"scenario": "flat field", "seed": seed, "variant": sc.variant, "refresh_hz": sc.refresh_hz, "vdd": vdd,
            "card_c": round(capture.scene.card_c, 3)}
    return record_scenario(capture, seconds, SensorWords(seed, sc.refresh_hz, vdd), gate_id=gate_id, meta=meta)


def write_samples(directory: Path = SAMPLES) -> list[Path]:
    paths = []
    for stem, name, seconds in SAMPLE_SET:
        path = directory / f"{stem}.npz"
        scenario_recording(name, seconds).save(path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_samples(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES):
        print(f"{p}: {p.stat().st_size:,} bytes")
