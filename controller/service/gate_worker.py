"""One gate, as the controller sees it: its EEPROM, its pipeline, its clock and its health.

The worker owns the gate's ``GatePipeline`` (decode, temperatures, analysis,
tracking: the same code ``thermogate analyze`` runs offline). It is fed the
gate's messages in order by the dispatcher and returns the decisions; it
never talks to MQTT or the store itself.

- A new EEPROM (different words) means a new sensor or a recalibration: the
  pipeline is rebuilt from it. The same EEPROM again (every reconnection
  re-sends it) changes nothing.
- A new boot id means the gate restarted: its sequence numbers and clock start
  again, so the pipeline starts again too.
- Gaps in the sequence numbers are frames that never arrived (a link or a
  broker dropping QoS 0 messages): they are counted.
- Every refused message is counted by reason and none raises.
"""

from __future__ import annotations

import collections
import logging
import time

from ..protocol import ProtocolError
from ..protocol.binary import decode_eeprom, decode_frame
from ..protocol.status import GateStatus, decode_status
from ..screening.config import ScreeningConfig
from ..screening.decision import Decision
from ..screening.pipeline import GatePipeline
from ..sensor import EepromError
from .registry import GateInfo

log = logging.getLogger("thermogate.gate")

BOARD_WRAP_MS = 1 << 30  # the gate's millisecond clock wraps here (docs/protocol.md)
MAX_FRAME_STEP_MS = 60_000  # more than this between two frames of one boot is a clock jump
NOMINAL_STEP_MS = 125  # one subpage at 8 Hz


class GateWorker:
    def __init__(self, info: GateInfo, config: ScreeningConfig, metrics=None):
        self.info = info
        self.id = info.id
        self.config = config
        self.metrics = metrics
        self.pipeline: GatePipeline | None = None
        self.eeprom_words: bytes | None = None  # the cached EEPROM, as its raw words
        self.recalibrations = 0
        self.boot_id: int | None = None
        self.last_sequence = 0
        self.last_board_ms = 0
        self._time_ms = 0  # the pipeline's clock: the gate's, unwrapped, with jumps taken out
        self.frames = 0
        self.lost_frames = 0  # sequence gaps
        self.dropped_frames = 0  # dropped by the dispatcher's queue
        self.errors: collections.Counter[str] = collections.Counter()
        self.status: GateStatus | None = None
        self.online = False
        self.last_frame_at: float | None = None  # time.time() of the latest frame
        self.last_frame_monotonic: float | None = None
        self.last_decision: Decision | None = None
        self.resume_until: float | None = None  # after a controller restart: see Service._resume_guard
        self.resume_track: int | None = None
        self.manual_lock: dict | None = None  # {"user", "reason", "time"} while held locked from the console

    # -- messages ------------------------------------------------------------

    def refuse(self, reason: str, detail: str = "") -> None:
        self.errors[reason] += 1
        if self.metrics is not None:
            self.metrics.decode_errors.labels(gate=self.id, reason=reason).inc()
        if self.errors[reason] in (1, 10, 100, 1000) or self.errors[reason] % 10000 == 0:
            log.warning("message refused", extra={"gate": self.id, "reason": reason, "detail": detail[:200],
                                                  "count": self.errors[reason]})

    def on_eeprom(self, payload: bytes) -> bool:
        """The gate's EEPROM; True if it (re)built the pipeline."""
        try:
            message = decode_eeprom(payload)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
            return False
        raw = message.words.tobytes()
        if raw == self.eeprom_words and self.pipeline is not None:
            return False
        try:
            pipeline = GatePipeline(self.id, message.words, self.config)
        except EepromError as exc:
            self.refuse("eeprom", str(exc))
            return False
        if self.eeprom_words is not None:
            self.recalibrations += 1
            log.warning("new EEPROM: sensor recalibrated", extra={"gate": self.id})
        self.eeprom_words = raw
        self.pipeline = pipeline
        self.boot_id = None  # the next frame starts the clock again
        return True

    def on_frame(self, payload: bytes, skipped: int = 0) -> list[Decision]:
        """One frame; ``skipped`` frames just before it were dropped by the dispatcher (not lost in transit)."""
        try:
            message = decode_frame(payload)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
            return []
        self.frames += 1
        self.last_frame_at = time.time()  # for display
        self.last_frame_monotonic = time.monotonic()  # for liveness: immune to wall-clock jumps
        if self.metrics is not None:
            self.metrics.frames.labels(gate=self.id).inc()
        if self.pipeline is None:
            self.refuse("no_eeprom", "frame before the gate's EEPROM")
            return []
        if message.boot_id != self.boot_id:
            if self.boot_id is not None:
                log.info("gate restarted", extra={"gate": self.id, "boot": message.boot_id})
                self.pipeline = GatePipeline(self.id, _words(self.eeprom_words), self.config)
            self.boot_id = message.boot_id
            self.last_sequence = message.sequence - 1
            self.last_board_ms = message.board_ms
            self._time_ms = message.board_ms
        elif message.sequence <= self.last_sequence:
            self.refuse("out_of_order", f"sequence {message.sequence} after {self.last_sequence}")
            return []
        gap = message.sequence - self.last_sequence - 1 - skipped
        if gap > 0:
            self.lost_frames += gap
            if self.metrics is not None:
                self.metrics.frames_dropped.labels(gate=self.id, where="sequence").inc(gap)
        self.last_sequence = message.sequence
        step_ms = (message.board_ms - self.last_board_ms) % BOARD_WRAP_MS  # across the 2^30 wrap too
        if step_ms > MAX_FRAME_STEP_MS:
            # The gate's clock jumped (forwards, or backwards, which looks like a huge step): the
            # pipeline's clock goes on by one nominal frame instead, so its timings stay sane.
            self.refuse("clock_jump", f"board clock moved {message.board_ms - self.last_board_ms} ms in one frame")
            step_ms = NOMINAL_STEP_MS
        self.last_board_ms = message.board_ms
        self._time_ms += step_ms
        invalid = self.pipeline.frame_errors
        decisions = self.pipeline.push(message.words, self._time_ms / 1000.0, message.sequence)
        if self.pipeline.frame_errors > invalid:  # values no working sensor gives (the tracker sees a fault)
            self.refuse("frame_data", "subpage values out of range for this sensor")
        return decisions

    def on_status(self, payload: bytes) -> tuple[bool, bool] | None:
        """A status or last will; (was online, is online), or None if refused."""
        try:
            status = decode_status(payload)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
            return None
        if status.gate_id != self.id:
            self.refuse("wrong_gate", f"status names gate {status.gate_id!r}")
            return None
        was = self.online
        self.status = status
        self.online = status.online
        return was, status.online

    # -- what the console and the health page show -----------------------------

    @property
    def state(self) -> str:
        if self.pipeline is None:
            return "no_eeprom"
        return self.pipeline.tracker.state

    def summary(self) -> dict:
        s = self.status
        return {
            "gate": self.id, "name": self.info.name, "location": self.info.location, "variant": self.info.variant,
            "online": self.online, "state": self.state, "boot": self.boot_id, "frames": self.frames,
            "lost_frames": self.lost_frames, "dropped_frames": self.dropped_frames, "errors": dict(self.errors),
            "recalibrations": self.recalibrations, "last_frame_at": self.last_frame_at,
            "manual_lock": self.manual_lock, "reduced_accuracy": not self.config.require_reference,
            "sensor_ok": s.sensor_ok if s else None, "fps": s.fps if s else None,
            "relay": s.relay if s else None, "firmware": s.firmware if s else None, "rssi": s.rssi if s else None,
            "last_decision": None if self.last_decision is None else {
                "decision": self.last_decision.decision, "reason": self.last_decision.reason,
                "estimate_c": self.last_decision.estimate_c, "track": self.last_decision.track},
        }


def _words(raw: bytes | None):
    import numpy as np

    return np.frombuffer(raw or b"", dtype=np.uint16).copy()
