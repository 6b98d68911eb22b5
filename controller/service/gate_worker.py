"""One gate, as the controller sees it: its EEPROM, its pipeline, its clock and its health.

The worker owns the gate's ``GatePipeline`` (decode, temperatures, analysis,
tracking: the same code ``thermogate analyze`` runs offline). It is fed the
gate's messages in order by the dispatcher and returns the decisions; it
never talks to MQTT or the store itself.

- Every message is checked under the gate's sensor key (protocol version 2,
  docs/protocol.md) before anything is decided from it. Version 1 (no tag) is
  read only with ``[site] accept_protocol_v1``: each such message is counted
  as ``unauthenticated`` and keeps the alert "unauthenticated_sensor_data"
  open for the gate. Commands follow the version of the gate's latest
  message (``wire_version``).
- A new EEPROM (different words) means a new sensor or a recalibration: the
  pipeline is rebuilt from it, an alert "sensor_recalibrated" is raised and a
  log line written (at most one a minute per gate). The same EEPROM again
  (every reconnection re-sends it) changes nothing.
- A new boot id means the gate restarted: its sequence numbers and clock start
  again, so the pipeline starts again too. A frame of a boot the gate has
  already left (a replay of an earlier boot's genuine frames) is refused
  (``old_boot``), as a frame whose sequence is not above the last one of its
  boot is (``out_of_order``).
- Gaps in the sequence numbers are frames that never arrived (a link or a
  broker dropping QoS 0 messages): they are counted.
- Every refused message is counted by reason and none raises.
"""

from __future__ import annotations

import collections
import logging
import math
import time

from ..protocol import ProtocolError, mac
from ..protocol.binary import VERSION, decode_eeprom, decode_frame
from ..protocol.commands import Ack, decode_ack
from ..protocol.result import Decision
from ..protocol.status import GateStatus, decode_status
from ..screening.config import ScreeningConfig
from ..screening.frame_rate import too_slow_to_screen
from ..screening.pipeline import GatePipeline
from ..sensor import EepromError
from ..sensor.noise import netd_1hz_c, too_noisy_to_screen
from .events import AlertKind, FrameEvent, GateSummary
from .registry import GateInfo

log = logging.getLogger("thermogate.gate")

BOARD_WRAP_MS = 1 << 30  # the gate's millisecond clock wraps here (docs/protocol.md)
MAX_FRAME_STEP_MS = 60_000  # more than this between two frames of one boot is a clock jump
NOMINAL_STEP_MS = 125  # one subpage at 8 Hz
RECALIBRATED_LOG_S = 60.0  # at most one "sensor recalibrated" line a minute per gate
MAX_JSON = 1024
OLD_BOOTS = 16  # boot ids remembered after the gate left them (a new boot id is random: 16 never collide in practice)


class GateWorker:
    def __init__(self, info: GateInfo, config: ScreeningConfig, metrics=None, *, accept_v1: bool = False,
                 alerts=None, verify: bool = True):
        """``alerts(gate, kind, detail)`` raises an alert for a person. ``verify=False`` only for a viewer
        that holds no key (``thermogate watch`` without the site's secrets): it checks no tag, reads version 1
        too, and must never command a door."""
        self.info = info
        self.id = info.id
        self.config = config
        self.metrics = metrics
        self.alerts = alerts
        self.accept_v1 = accept_v1
        self.key = mac.sensor_key(info.key) if verify else mac.UNVERIFIED  # K_s: what the gate's messages carry
        self.wire_version = VERSION  # of the gate's latest accepted message: its commands use the same
        self.unauthenticated = 0  # version-1 messages accepted (accept_v1)
        self._seen_v2 = False  # a version-2 message has been accepted from this gate
        self._recalibrated_logged = -RECALIBRATED_LOG_S  # time.monotonic() of the last such log line
        self._recalibrated_quiet = 0  # changes since that line
        self.pipeline: GatePipeline | None = None
        self.eeprom_words: bytes | None = None  # the cached EEPROM, as its raw words
        self.recalibrations = 0
        self.boot_id: int | None = None
        self.old_boots: collections.deque[int] = collections.deque(maxlen=OLD_BOOTS)  # boots it has left
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
        self.last_identity: dict = {}  # who the last decision's credential named: {person, credential} (decisions.py)
        self.resume_until: float | None = None  # after a controller restart: see resume.py
        self.resume_track: int | None = None
        self.manual_lock: dict | None = None  # {"user", "reason", "time"} while held locked from the console
        self.identity: dict | None = None  # the gate's credentials as the console shows them (credentials.py)

    # -- messages ------------------------------------------------------------

    def refuse(self, reason: str, detail: str = "") -> None:
        self.errors[reason] += 1
        if self.metrics is not None:
            self.metrics.decode_errors.labels(gate=self.id, reason=reason).inc()
        if self.errors[reason] in (1, 10, 100, 1000) or self.errors[reason] % 10000 == 0:
            log.warning("message refused", extra={"gate": self.id, "reason": reason, "detail": detail[:200],
                                                  "count": self.errors[reason]})

    def _accepted(self, version: int) -> bool:
        """A message passed its checks: commands follow its version; a version-1 one is counted and alerted.

        False for a version-1 message from a gate already heard speaking version 2 since this controller
        started: a gate does not go back, so that is a downgrade (someone replaying or forging the old,
        untagged format), refused as ``downgrade`` even while version 1 is accepted."""
        if version < VERSION and self.key is not mac.UNVERIFIED and self._seen_v2:
            self.refuse("downgrade", "a version-1 message from a gate that speaks version 2")
            return False
        if version >= VERSION:
            self._seen_v2 = True
        self.wire_version = version
        if version >= VERSION or self.key is mac.UNVERIFIED:
            return True
        self.unauthenticated += 1
        if self.metrics is not None:
            self.metrics.unauthenticated.labels(gate=self.id).inc()
        if self.unauthenticated in (1, 1000) or self.unauthenticated % 100000 == 0:
            log.warning("unauthenticated (protocol version 1) message accepted",
                        extra={"gate": self.id, "count": self.unauthenticated})
        if self.alerts is not None:  # one open alert per gate (the alert book keeps it so)
            self.alerts(self.id, AlertKind.UNAUTHENTICATED_SENSOR_DATA,
                        "the gate speaks protocol version 1: its sensor data is not authenticated "
                        "([site] accept_protocol_v1 is on); re-flash it")
        return True

    def _recalibrated(self) -> None:
        """An authenticated EEPROM whose words differ from the cached one: one alert, and a log line at
        most every RECALIBRATED_LOG_S seconds (a flapping EEPROM once wrote tens of thousands a minute)."""
        self.recalibrations += 1
        if self.metrics is not None:
            self.metrics.recalibrations.labels(gate=self.id).inc()
        self._recalibrated_quiet += 1
        now = time.monotonic()
        if now - self._recalibrated_logged >= RECALIBRATED_LOG_S:
            log.warning("new EEPROM: sensor recalibrated",
                        extra={"gate": self.id, "changes": self._recalibrated_quiet, "total": self.recalibrations})
            self._recalibrated_logged = now
            self._recalibrated_quiet = 0
        if self.alerts is not None:
            self.alerts(self.id, AlertKind.SENSOR_RECALIBRATED,
                        "the gate sent a different EEPROM (a new or recalibrated sensor): check the gate's "
                        "readings before trusting them")

    def on_eeprom(self, payload: bytes) -> bool:
        """The gate's EEPROM; True if it (re)built the pipeline."""
        try:
            message = decode_eeprom(payload, self.key, accept_v1=self.accept_v1)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
            return False
        if not self._accepted(message.version):
            return False
        raw = message.words.tobytes()
        if raw == self.eeprom_words and self.pipeline is not None:
            return False
        try:
            pipeline = GatePipeline(self.id, message.words, self.config)
        except EepromError as exc:
            self.refuse("eeprom", str(exc))
            return False
        if self.eeprom_words is not None and raw != self.eeprom_words:
            self._recalibrated()
        self.eeprom_words = raw
        self.pipeline = pipeline
        self.boot_id = None  # the next frame starts the clock again
        return True

    def on_frame(self, payload: bytes, skipped: int = 0) -> list[Decision]:
        """One frame; ``skipped`` frames just before it were dropped by the dispatcher (not lost in transit)."""
        try:
            message = decode_frame(payload, self.key, accept_v1=self.accept_v1)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
            return []
        if not self._accepted(message.version):
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
            if message.boot_id in self.old_boots:
                self.refuse("old_boot", f"a frame of boot {message.boot_id}, which the gate has left")
                return []
            if self.boot_id is not None:
                self.old_boots.append(self.boot_id)
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
            status = decode_status(payload, self.key, accept_v1=self.accept_v1)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
            return None
        if status.gate_id != self.id:
            self.refuse("wrong_gate", f"status names gate {status.gate_id!r}")
            return None
        if not self._accepted(status.version):
            return None
        was = self.online
        self.status = status
        self.online = status.online
        return was, status.online

    def on_ack(self, payload: bytes) -> Ack | None:
        """An ack from the gate, checked under its key; None if refused."""
        if len(payload) > MAX_JSON:
            self.refuse("too_large", f"{len(payload)} bytes")
            return None
        try:
            ack = decode_ack(payload, self.key, accept_v1=self.accept_v1)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
            return None
        if ack.gate_id != self.id:
            self.refuse("wrong_gate", f"ack names gate {ack.gate_id!r}")
            return None
        if not self._accepted(ack.version):
            return None
        return ack

    def clock_ms(self, board_ms: int, ahead_ms: int = 5_000) -> float | None:
        """The pipeline's clock (``Decision.time_s`` x 1000) at the gate's board time ``board_ms`` of its current
        boot, placed by the latest frame's board time; None before any frame, or for a moment more than
        MAX_FRAME_STEP_MS before the latest frame or more than ``ahead_ms`` after it."""
        if self.boot_id is None:
            return None
        before = (self.last_board_ms - board_ms) % BOARD_WRAP_MS  # across the 2^30 wrap too
        if before > BOARD_WRAP_MS // 2:  # after the latest frame
            after = BOARD_WRAP_MS - before
            return None if after > ahead_ms else float(self._time_ms + after)
        return None if before > MAX_FRAME_STEP_MS else float(self._time_ms - before)

    # -- what the console and the health page show -----------------------------

    @property
    def state(self) -> str:
        if self.pipeline is None:
            return "no_eeprom"
        return self.pipeline.tracker.state

    def summary(self) -> GateSummary:
        s = self.status
        noise = self.pipeline.noise_c if self.pipeline is not None else math.nan
        netd = netd_1hz_c(noise, s.refresh_hz) if s else math.nan
        return GateSummary(
            gate=self.id, name=self.info.name, location=self.info.location, variant=self.info.variant,
            online=self.online, state=self.state, boot=self.boot_id, frames=self.frames,
            lost_frames=self.lost_frames, dropped_frames=self.dropped_frames, errors=dict(self.errors),
            recalibrations=self.recalibrations, last_frame_at=self.last_frame_at,
            protocol=self.wire_version, unauthenticated=self.unauthenticated,
            manual_lock=self.manual_lock, identity=self.identity, reduced_accuracy=not self.config.require_reference,
            sensor_ok=s.sensor_ok if s else None, fps=s.fps if s else None,
            refresh_hz=s.refresh_hz if s else None,
            slow_refresh=bool(s and self.online and too_slow_to_screen(s.refresh_hz)),
            sensor_netd_c=None if not math.isfinite(netd) else round(netd, 3),
            noisy_sensor=bool(s and self.online and too_noisy_to_screen(noise, s.refresh_hz)),
            relay=s.relay if s else None, firmware=s.firmware if s else None, rssi=s.rssi if s else None,
            last_decision=None if self.last_decision is None else {
                "decision": self.last_decision.decision, "reason": self.last_decision.reason,
                "estimate_c": self.last_decision.estimate_c, "track": self.last_decision.track, **self.last_identity},
        )

    def frame_event(self) -> FrameEvent | None:
        """The live view's latest image of this gate, or None before its pipeline has one."""
        if self.pipeline is None:
            return None
        image = getattr(self.pipeline, "image", None)
        if image is None:
            return None
        a = getattr(self.pipeline, "last_analysis", None)
        return FrameEvent(
            gate=self.id, image=image.copy(), fresh=getattr(self.pipeline, "fresh", None), state=self.state,
            sequence=self.last_sequence, time=self.last_frame_at,
            face_box=None if a is None or a.face_box is None else [int(v) for v in a.face_box],
            distance_m=None if a is None else a.distance_m,
            reference_ok=None if a is None else bool(a.reference_ok),
            ambient_c=None if a is None else float(a.ambient_c))

    def status_record(self) -> dict:
        """The gate's latest status as the store keeps its history ({} before the first)."""
        s = self.status
        if s is None:
            return {}
        return {"firmware": s.firmware, "boot": s.boot_id, "uptime_s": s.uptime_s, "rssi": s.rssi,
                "sensor_ok": s.sensor_ok, "fps": s.fps, "relay": s.relay}

    def apply_config(self, config: ScreeningConfig) -> None:
        """New screening settings from now on (a threshold changed at the console): the pipeline and its
        tracker read them at every decision."""
        self.config = config
        if self.pipeline is not None:
            self.pipeline.config = config
            self.pipeline.tracker.config = config


def _words(raw: bytes | None):
    import numpy as np

    return np.frombuffer(raw or b"", dtype=np.uint16).copy()
