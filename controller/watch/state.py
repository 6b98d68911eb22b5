"""The watch's state: one gate's messages through the controller's own per-gate code.

- :class:`GateWatch` -- the gate's EEPROM, frames, status and results through a
  :class:`~controller.service.gate_worker.GateWorker`; :meth:`GateWatch.view` snapshots it
- :class:`WatchView` -- everything one redraw shows
- :class:`ShownDecision` -- a decision as the view shows it (the controller's, or the local pipeline's)
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..protocol.result import DECISIONS, Decision
from ..protocol.status import GateStatus
from ..screening.analysis import FrameAnalysis
from ..screening.config import ScreeningConfig

FPS_WINDOW_S = 2.0  # frames per second are counted over this window


@dataclass(frozen=True)
class ShownDecision:
    """A decision as the view shows it, from the controller's result topic or the local pipeline."""

    decision: str
    reason: str
    estimate_c: float | None
    track: int
    source: str  # "controller" or "local"
    at: float  # time.monotonic() when it arrived or was made
    reduced_accuracy: bool = False
    drift_alert: bool = False
    door: str = ""  # the controller's result only: "held" or "locked" when the door did not follow the decision

    @classmethod
    def from_decision(cls, d: Decision, at: float) -> ShownDecision:
        return cls(d.decision, d.reason, d.estimate_c, d.track, "local", at, d.reduced_accuracy, d.drift_alert)

    @classmethod
    def from_result(cls, payload: bytes, at: float) -> ShownDecision:
        """A ``result`` message; ValueError if it is not one."""
        try:
            d = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"result is not JSON: {exc}") from None
        if not isinstance(d, dict) or d.get("decision") not in DECISIONS:
            raise ValueError("result has no decision")
        estimate = d.get("estimate_c")
        track = d.get("track")
        return cls(d["decision"], str(d.get("reason") or ""),
                   float(estimate) if isinstance(estimate, (int, float)) and not isinstance(estimate, bool) else None,
                   track if isinstance(track, int) and not isinstance(track, bool) else 0, "controller", at,
                   d.get("reduced_accuracy") is True, d.get("drift_alert") is True,
                   d["door"] if isinstance(d.get("door"), str) else "")


@dataclass(frozen=True)
class WatchView:
    """Everything one redraw shows: a snapshot of :class:`GateWatch`, so that drawing is a pure function."""

    gate: str
    broker: str
    config: ScreeningConfig
    now: float  # time.monotonic() of the snapshot
    connected: bool = True
    reconnects: int = 0
    result_readable: bool | None = None  # None: not known yet; False: the broker refused the subscription
    has_eeprom: bool = False
    status: GateStatus | None = None
    status_at: float | None = None
    frames: int = 0
    fps: float = 0.0
    sequence: int = 0
    lost_frames: int = 0
    refused: Mapping[str, int] = field(default_factory=dict)
    state: str = "no_eeprom"
    image: np.ndarray | None = None
    analysis: FrameAnalysis | None = None
    controller: ShownDecision | None = None
    local: ShownDecision | None = None
    fixed_range: tuple[float, float] | None = None
    source: str = "defaults"  # where the screening settings came from
    noise_c: float = math.nan  # the sensor's noise of one reading, as the pipeline measures it (NaN: not yet)
    held: str | None = None  # why the latest frame gave the person waiting no PASS or FEVER (Tracker.held)


class GateWatch:
    """One gate's messages through the controller's GateWorker, and what the view needs of them."""

    def __init__(self, gate: str, config: ScreeningConfig, broker_label: str = "", source: str = "defaults",
                 clock: Callable[[], float] = time.monotonic, key: bytes | None = None):
        """``key``: the gate's key K, to check its messages' tags; without it (no --config, or a gate the
        site does not know) the view shows what arrives unchecked (it never commands anything)."""
        from ..service.gate_worker import GateWorker
        from ..service.registry import GateInfo

        self.gate = gate
        self.config = config
        self.broker_label = broker_label
        self.source = source
        self.clock = clock
        self.verified = key is not None
        self.worker = GateWorker(GateInfo(gate, key or b"", config.analysis.variant), config, accept_v1=True,
                                 verify=self.verified)
        self.controller: ShownDecision | None = None
        self.local: ShownDecision | None = None
        self.status_at: float | None = None
        self.bad_results = 0
        self._frame_times: deque[float] = deque()
        self._image_id: int | None = None
        self.fixed_range: tuple[float, float] | None = None

    def on_message(self, kind: str, payload: bytes, at: float | None = None) -> bool:
        """One message of the gate's, received at ``at`` (the clock's time; default now); True if the view changed."""
        now = self.clock() if at is None else at
        if kind == "eeprom":
            return self.worker.on_eeprom(payload)
        if kind == "frame":
            for d in self.worker.on_frame(payload):
                self.local = ShownDecision.from_decision(d, now)
            self._frame_times.append(now)
            image = self.worker.pipeline.image if self.worker.pipeline is not None else None
            changed = image is not None and id(image) != self._image_id
            self._image_id = id(image) if image is not None else None
            return changed
        if kind == "status":
            if self.worker.on_status(payload) is None:
                return False
            self.status_at = now
            return True
        if kind == "result":
            try:
                self.controller = ShownDecision.from_result(payload, now)
            except ValueError:
                self.bad_results += 1
                return False
            return True
        return False

    @property
    def frames(self) -> int:
        return self.worker.frames

    @property
    def has_image(self) -> bool:
        return self.worker.pipeline is not None and self.worker.pipeline.image is not None

    def fps(self, now: float) -> float:
        times = self._frame_times
        while times and now - times[0] > FPS_WINDOW_S:
            times.popleft()
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(1e-6, times[-1] - times[0])

    def view(self, *, connected: bool = True, reconnects: int = 0, result_readable: bool | None = None) -> WatchView:
        now = self.clock()
        w = self.worker
        p = w.pipeline
        refused = dict(w.errors)
        if self.bad_results:
            refused["result"] = self.bad_results
        return WatchView(gate=self.gate, broker=self.broker_label, config=self.config, now=now,
                         connected=connected, reconnects=reconnects, result_readable=result_readable,
                         has_eeprom=p is not None, status=w.status, status_at=self.status_at, frames=w.frames,
                         fps=self.fps(now), sequence=w.last_sequence, lost_frames=w.lost_frames, refused=refused,
                         state=w.state, image=p.image if p is not None else None,
                         analysis=p.last_analysis if p is not None else None, controller=self.controller,
                         local=self.local, fixed_range=self.fixed_range, source=self.source,
                         noise_c=p.noise_c if p is not None else math.nan, held=p.held if p is not None else None)


