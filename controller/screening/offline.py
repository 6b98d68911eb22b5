"""Run a recording through the live pipeline, as fast as the CPU allows.

Time comes from the recording's own frame timestamps, never the wall clock,
so an offline run decides exactly what the live controller would have.
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol.result import Decision
from .config import ScreeningConfig
from .pipeline import GatePipeline


def analyze_recording(recording, config: ScreeningConfig | None = None,
                      on_frame: Callable[[float, GatePipeline], None] | None = None) -> list[Decision]:
    """Every decision the pipeline makes on ``recording`` (a ``controller.recording.Recording``), with ``config``
    (default: the default settings); ``on_frame``, if given, is called with each frame's time and the pipeline
    after the pipeline has taken it (its tracker's state, ``held``, the latest analysis)."""
    if config is None:
        config = ScreeningConfig()
    pipeline = GatePipeline(recording.gate_id, recording.eeprom_message().words, config)
    decisions: list[Decision] = []
    for item in recording.frames():
        decisions.extend(pipeline.push(item.message.words, item.time, item.message.sequence))
        if on_frame is not None:
            on_frame(item.time, pipeline)
    return decisions


def first_standing(recording) -> dict[int, tuple[float, dict]]:
    """Each person the recording's ground truth shows standing on the mark: id -> (the time of their first
    standing frame, their truth in it), in the order they first stood; empty without ground truth."""
    out: dict[int, tuple[float, dict]] = {}
    for item in recording.frames():
        for p in (item.truth or {}).get("people") or ():
            if p["phase"] == "standing" and p["id"] not in out:
                out[p["id"]] = (item.time, p)
    return out


def truth_for(recording, decisions: list[Decision]) -> list[dict | None]:
    """For each decision, the ground-truth person it concerns (the one nearest the sensor in
    the frame it was decided on, with that frame's ``room_c``), when the recording carries
    ground truth; None where nobody was in view."""
    by_time = {round(item.time, 6): item.truth for item in recording.frames()}
    out = []
    for d in decisions:
        truth = by_time.get(round(d.time_s, 6)) or {}
        people = truth.get("people") or []
        nearest = min(people, key=lambda p: p["distance_m"]) if people else None
        out.append(dict(nearest, room_c=truth.get("ambient_c")) if nearest else None)
    return out
