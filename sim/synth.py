"""Recordings from scenarios, made offline: no broker, no firmware loop.

Each subpage is the scenario's image at its time, encoded with the sensor
inverse into the words a sensor with the gate's EEPROM would send, exactly as
a virtual gate's sensor does; the ground truth rides along. The sample
recordings in ``sim/recordings/`` are made with ``python -m sim.synth``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from controller.geometry import Lens
from controller.recording import Recording, synthesize
from controller.sensor import Calibration, control_word, random_eeprom

from .scenarios import scenario
from .scenes import PersonPlan

SAMPLES = Path(__file__).resolve().parent / "recordings"
# (file stem, scenario, seconds): small enough to keep in git, long enough for one or two people.
SAMPLE_SET = (("normal_queue-10s", "normal_queue", 10.0), ("fever-30s", "fever", 30.0),
              ("sensor_fault-6s", "sensor_fault", 6.0))
FIXED_CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)


def scenario_recording(name: str, seconds: float, *, seed: int = 0, gate_id: str = "sim-1",
                       variant: str = Lens.NARROW, refresh_hz: float = 8.0, vdd: float = 3.3, world=None,
                       people: Sequence[PersonPlan] | None = None, session: str | None = None) -> Recording:
    """``seconds`` of scenario ``name`` as gate ``gate_id`` would have published it, with ground truth;
    ``world`` (sim.scenes.world.DEV or HELD_OUT) draws its physics, None is the nominal world; ``people``:
    a listed queue (sim/scenarios.py's ``scenario(..., people=)``), its cores in the meta; ``session``: the same
    gate and room with other people (``scenario(..., session=)``), named in the meta."""
    sc = scenario(name, seed, variant=variant, refresh_hz=refresh_hz, world=world, people=people, session=session)
    eeprom = random_eeprom(np.random.default_rng([seed, 1]))  # the EEPROM a VirtualGate with this seed has
    cal = Calibration.from_eeprom(eeprom)
    control = control_word(chess=True, resolution_bits=18, refresh_hz=refresh_hz)
    times = np.arange(int(round(seconds * refresh_hz))) / refresh_hz
    frames, truths = [], []
    for i, t in enumerate(times):
        frame = sc.frame_at(float(t))
        frames.append(cal.raw_from_to(frame.image, frame.ta, vdd, i % 2, control))
        truths.append(dict(frame.truth, subpage=i % 2))
    meta = {"scenario": name, "seed": seed, "variant": variant, "refresh_hz": refresh_hz, "vdd": vdd}
    if world is not None:
        meta["world"] = world.name
    if session is not None:
        meta["session"] = session
    if sc.people is not None:
        meta["people_core_c"] = [p.core_c for p in sc.people]
    return synthesize(eeprom, np.array(frames), times.tolist(), truths, gate_id=gate_id, created=FIXED_CREATED,
                      meta=meta)


def lens_recordings(physics, *, seed: int = 0, gate_id: str = "sim-1", variant: str = Lens.NARROW,
                    refresh_hz: float = 8.0, vdd: float = 3.3, target=None, seconds: float = 10.0
                    ) -> tuple[Recording, Recording]:
    """The two recordings of ``thermogate calibrate lens`` (sim/scenes/lens_target.py): the heated disc stood
    near the gate (``target``, a LensTarget; None: drawn from ``seed``), then the scene without it, through
    ``physics``'s lens and sensor, each ``seconds`` long."""
    from .scenes.lens_target import lens_target_frames
    from .scenes.sensor_errors import SELF_HEATING_C

    eeprom = random_eeprom(np.random.default_rng([seed, 1]))
    cal = Calibration.from_eeprom(eeprom)
    control = control_word(chess=True, resolution_bits=18, refresh_hz=refresh_hz)
    ta = (physics.ambient_c if physics.ambient_c is not None else 22.0) + SELF_HEATING_C
    phases = lens_target_frames(physics, Lens.parse(variant).fov, seed, target, seconds, refresh_hz)
    out = []
    for phase, images in zip(("disc", "empty"), phases, strict=True):
        times = np.arange(len(images)) / refresh_hz
        frames = [cal.raw_from_to(image, ta, vdd, i % 2, control) for i, image in enumerate(images)]
        meta = {"scenario": f"lens measurement, {phase}", "seed": seed, "variant": variant,
                "refresh_hz": refresh_hz, "vdd": vdd}
        out.append(synthesize(eeprom, np.array(frames), times.tolist(), [{"subpage": i % 2} for i in range(len(times))],
                              gate_id=gate_id, created=FIXED_CREATED, meta=meta))
    return out[0], out[1]


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
