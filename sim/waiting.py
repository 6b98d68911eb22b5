"""People who wait for the gate's result: a scenario screened frame by frame, in a closed loop.

A recording made by ``sim.synth.scenario_recording`` keeps every person to
their plan: they stand on the mark for their drawn time and walk on, decided
or not, and stay after they were decided. At a real gate the door opens on a
PASS and stays shut otherwise, so people stand until the gate tells them
something that sends them on, then go. :func:`screen_waiting` renders each
frame, hands it to the controller's pipeline at once, and when the pipeline
gives the person at the mark their result, has them walk on ``react_s`` later:

- PASS: the door opens and they go through;
- FEVER: the door stays shut and they step aside for the school doctor;
- RETRY ``wait_indoors``: they go back in to warm up.

Any other RETRY or BLOCKED keeps them standing, up to their drawn standing
time (the scenario's, or a world's ``stand_s``: their patience). The person a
result is for is the one nearest the sensor in the frame it was decided on, as
``controller.screening.offline.truth_for`` takes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from controller.geometry import Lens
from controller.protocol import result as D
from controller.recording import Recording
from controller.screening.config import ScreeningConfig
from controller.screening.pipeline import GatePipeline

from .scenarios import scenario
from .scenes import PersonPlan
from .synth import SensorWords, record_scenario, scenario_meta

# From the result to stepping off the mark: the door's light and sound, and the first step. An assumption, not
# a measurement (a simple reaction to a light or a tone is 0.2-0.3 s; the step takes longer).
REACT_S = 0.5


def sends_on(d: D.Decision) -> bool:
    """Whether the person given ``d`` walks on from the mark (the door opened, they were sent to the doctor,
    or indoors to warm up)."""
    return d.decision in (D.PASS, D.FEVER) or (d.decision == D.RETRY and d.reason == D.WAIT_INDOORS)


def screen_waiting(name: str, seconds: float, config: ScreeningConfig, *, seed: int = 0, gate_id: str = "sim-1",
                   variant: str = Lens.NARROW, refresh_hz: float = 8.0, vdd: float = 3.3, world=None,
                   people: Sequence[PersonPlan] | None = None, session: str | None = None,
                   react_s: float = REACT_S, on_frame: Callable[[float, GatePipeline], None] | None = None
                   ) -> tuple[Recording, list[D.Decision]]:
    """``seconds`` of scenario ``name`` screened by a gate with ``config`` while it is rendered, each person
    walking on ``react_s`` after a result that sends them on (:func:`sends_on`): the recording of what the gate
    saw (the same format and meta as ``scenario_recording``'s, with ``"waiting": react_s`` in the meta) and the
    pipeline's decisions, the same as ``analyze_recording`` gives on that recording. ``on_frame`` is called as
    ``analyze_recording`` calls it."""
    if not react_s >= 0:
        raise ValueError(f"react_s must be >= 0 s, got {react_s!r}")
    sc = scenario(name, seed, variant=variant, refresh_hz=refresh_hz, world=world, people=people, session=session)
    sensor = SensorWords(seed, refresh_hz, vdd)
    pipeline = GatePipeline(gate_id, sensor.eeprom, config)
    decisions: list[D.Decision] = []

    def screen(i: int, t: float, words: np.ndarray, truth: dict) -> None:
        new = pipeline.push(words, t, i + 1)
        if on_frame is not None:
            on_frame(t, pipeline)
        decisions.extend(new)
        nearby = truth.get("people") or []
        if nearby and any(sends_on(d) for d in new):
            nearest = min(nearby, key=lambda p: p["distance_m"])
            sc.send_on(nearest["id"], t + react_s)

    meta = dict(scenario_meta(sc, name, seed, variant, refresh_hz, vdd, world, session), waiting=react_s)
    return record_scenario(sc, seconds, sensor, gate_id=gate_id, meta=meta, on_frame=screen), decisions
