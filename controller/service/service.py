"""``ControllerService``: the process that runs all day at the school.

It wires the parts together: the gate registry, one ``GateWorker`` per gate,
the ``Dispatcher`` between MQTT and them, the ``DecisionHandler`` and
``DoorCommander`` for what decisions set in motion, the store, alerts, metrics,
the live hub and the HTTP server. See docs/operations.md.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from ..protocol import result as D
from ..store import open_store
from . import live as L
from .decisions import DecisionHandler
from .config import ControllerConfig
from .dispatcher import Dispatcher
from .doors import DoorCommander
from .gate_worker import GateWorker
from .metrics import Metrics
from .registry import GateInfo, load_gates

log = logging.getLogger("thermogate.service")

RESUME_WINDOW_S = 30.0  # after a restart, a gate decided on this recently waits for an empty view
NO_FRAMES_S = 10.0  # a gate online but silent this long raises an alert
PURGE_EVERY_S = 3600.0


class AlertBook:
    """Alerts for a person: stored, shown live, one open alert per (gate, kind) at a time."""

    def __init__(self, store, live, metrics):
        self.store = store
        self.live = live
        self.metrics = metrics
        self._open: dict[tuple[str | None, str], int | None] = {}
        self._detail: dict[tuple[str | None, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        # Alerts still open from before a restart stay open (and can be resolved) in this run.
        try:
            for a in store.alerts(open_only=True):
                self._open[(a.gate, a.kind)] = a.id
                self._detail[(a.gate, a.kind)] = (a.detail, a.time)
        except Exception as exc:
            log.error("open alerts not loaded", extra={"error": repr(exc)[:200]})

    def raise_(self, gate: str | None, kind: str, detail: str) -> None:
        with self._lock:
            if (gate, kind) in self._open:
                return
            self._open[(gate, kind)] = None
            self._detail[(gate, kind)] = (detail, time.time())
        alert_id = None
        try:
            alert_id = self.store.record_alert(gate, time.time(), kind, detail)
        except Exception as exc:
            log.error("alert not stored", extra={"gate": gate, "kind": kind, "error": repr(exc)[:200]})
        with self._lock:
            self._open[(gate, kind)] = alert_id
        log.warning("alert", extra={"gate": gate, "kind": kind, "detail": detail})
        self.live.publish(L.ALERT, {"gate": gate, "alert": kind, "detail": detail, "id": alert_id, "open": True})

    def resolve(self, gate: str | None, kind: str) -> None:
        with self._lock:
            if (gate, kind) not in self._open:
                return
            alert_id = self._open.pop((gate, kind))
            self._detail.pop((gate, kind), None)
        if alert_id is not None:
            try:
                self.store.resolve_alert(alert_id, time.time())
            except Exception as exc:
                log.error("alert not resolved in the store", extra={"error": repr(exc)[:200]})
        self.live.publish(L.ALERT, {"gate": gate, "alert": kind, "id": alert_id, "open": False})

    def open_alerts(self) -> list[dict]:
        """Every open alert, oldest first: what the console shows until it is resolved."""
        with self._lock:
            items = [(key, alert_id, *self._detail.get(key, ("", 0.0))) for key, alert_id in self._open.items()]
        return sorted(({"gate": g, "alert": k, "id": i, "detail": d, "time": t} for (g, k), i, d, t in items),
                      key=lambda a: a["time"])

    def dismiss(self, alert_id: int) -> tuple[str | None, str] | None:
        """Resolve the open alert with this id (a person has dealt with it); its (gate, kind), or None."""
        with self._lock:
            key = next((k for k, i in self._open.items() if i == alert_id), None)
        if key is not None:
            self.resolve(*key)
        return key

    def is_open(self, gate: str | None, kind: str) -> bool:
        with self._lock:
            return (gate, kind) in self._open

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._open)


class DoorHeld(ValueError):
    """A manual "open once" on a gate whose door is held locked: release the hold first."""


class ControllerService:
    def __init__(self, config: ControllerConfig, *, store=None, gates: dict[str, GateInfo] | None = None,
                 http: bool = True):
        self.config = config
        self.started_at = time.time()
        self.metrics = Metrics()
        self.live = L.LiveHub()
        self.store = store if store is not None else open_store(config.store_url)
        self.gates = gates if gates is not None else load_gates(config)
        self.alerts = AlertBook(self.store, self.live, self.metrics)
        self.workers = {g: GateWorker(info, self._screening_for(info), self.metrics,
                                      accept_v1=config.accept_protocol_v1, alerts=self.alerts.raise_)
                        for g, info in self.gates.items()}
        if config.accept_protocol_v1:
            log.warning("[site] accept_protocol_v1 is on: unauthenticated version-1 sensor data is accepted")
        for info in self.gates.values():
            self.store.upsert_gate(info.id, info.name, info.location)
        self.alerts.resolve(None, "store_failed")  # it takes writes again
        self.dispatcher = Dispatcher(config.mqtt, self.workers, on_decisions=self._on_decisions,
                                     on_eeprom=self._on_eeprom, on_status=self._on_status, on_ack=self._on_ack,
                                     on_tick=self._tick, on_frame=self._on_frame, on_connect=self._on_connect,
                                     metrics=self.metrics, partial=bool(config.serve))
        self.doors = DoorCommander(self.store, self.dispatcher.publish, self.gates,
                                   ack_timeout_s=config.doors.ack_timeout_s, alerts=self.alerts.raise_,
                                   metrics=self.metrics, live=self.live,
                                   versions=lambda gate_id: self.workers[gate_id].wire_version)
        self.decisions = DecisionHandler(self.store, self.doors, self.dispatcher.publish,
                                         open_ms=config.doors.open_ms, metrics=self.metrics, live=self.live,
                                         alerts=self.alerts.raise_, resolve_alert=self.alerts.resolve)
        self.held = 0  # decisions held back after a restart (see _resume_guard)
        self._last_purge = 0.0
        self._http_enabled = http
        self.http = None
        self._stopped = threading.Event()
        self.metrics.gates_known.set(len(self.gates))
        self._resume_guard()
        self._restore_holds()

    def _screening_for(self, info: GateInfo):
        """A gate's screening settings; its site offset from its latest stored calibration
        (``thermogate calibrate``) unless controller.toml sets one for it."""
        config = self.config.screening_for(info.id, info.variant, info.screening)
        if "site_offset_c" not in self.config.gate_screening.get(info.id, {}):
            calibration = self.store.latest_calibration(info.id)
            if calibration is not None:
                config = dataclasses.replace(config, site_offset_c=calibration.offset_c)
        return config

    # -- life cycle -------------------------------------------------------------

    def start(self) -> "ControllerService":
        warm_up_kernels()  # compiled (or loaded from numba's cache) before the first gate's frame
        if self._http_enabled:
            from .http import HttpServer, build_app

            self.http = HttpServer(build_app(self), self.config.http.bind, self.config.http.port, self.config.http)
            self.http.start()
        self.dispatcher.start()
        log.info("controller started", extra={"gates": len(self.gates), "store": _redact(self.config.store_url),
                                              "broker": f"{self.config.mqtt.host}:{self.config.mqtt.port}",
                                              "http_port": self.http.port if self.http else None})
        return self

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.dispatcher.stop()
        if self.http is not None:
            self.http.stop()
        self.store.close()
        log.info("controller stopped")

    def wait(self) -> None:
        self._stopped.wait()

    # -- what the dispatcher calls -------------------------------------------------

    def _resume_guard(self) -> None:
        """After a restart the person decided on just before it may still be at the gate. For a
        gate whose last decision is under RESUME_WINDOW_S old, the first person it decides on
        within that window is screened and recorded as usual, but a PASS does not open the door
        by itself: an alert asks the guard to open by hand if they are still waiting. Nobody's
        door opens twice, and no decision goes unrecorded."""
        for gate_id, worker in self.workers.items():
            last = self.store.screenings(gate=gate_id, limit=1, snapshots=False, newest_first=True)
            if last and last[0].decision != D.BLOCKED and time.time() - last[0].time < RESUME_WINDOW_S:
                worker.resume_until = last[0].time + RESUME_WINDOW_S
                log.info("resuming: the first person is not let through automatically", extra={"gate": gate_id})

    def _restore_holds(self) -> None:
        """Doors held locked from the console stay held across a restart or a crash: the hold is in the
        store, and it is put back before the first frame is read, marked ``restored`` and told to the
        guards as an alert until someone releases the door."""
        try:
            holds = self.store.door_holds()
        except Exception as exc:  # an unreadable store must not start the gates unlocked silently
            log.error("door holds not read", extra={"error": repr(exc)[:200]})
            self.alerts.raise_(None, "holds_unknown", "the doors held locked before the restart could not be "
                                                      "read from the store: check every gate's door")
            return
        for hold in holds:
            worker = self.workers.get(hold.gate)
            if worker is None:
                continue
            worker.manual_lock = {"user": hold.user, "reason": hold.reason, "time": hold.time, "restored": True}
            log.warning("door still held locked after the restart", extra={"gate": hold.gate, "user": hold.user})
            self.alerts.raise_(hold.gate, "hold_restored",
                               f"the door is still held locked after a controller restart (by {hold.user}: "
                               f"{hold.reason}); it stays locked until someone releases it")

    def _on_decisions(self, worker: GateWorker, decisions, arrived: float) -> None:
        for d in decisions:
            hold = False
            if worker.resume_until is not None and d.decision != D.BLOCKED:
                if time.time() >= worker.resume_until:
                    worker.resume_until = worker.resume_track = None
                elif worker.resume_track is None or worker.resume_track == d.track:
                    worker.resume_track = d.track
                    hold = d.decision == D.PASS
                else:  # somebody new: screening is back to normal
                    worker.resume_until = worker.resume_track = None
            if hold:
                self.held += 1
                self.alerts.raise_(worker.id, "resume_hold",
                                   "PASS just after a controller restart: the door was not opened by itself, in "
                                   "case this person was already let through. Open it by hand if they are waiting.")
            self.decisions.handle(worker, d, arrived, hold_door=hold)

    def _on_connect(self) -> None:
        if self.config.home_assistant:
            from .home_assistant import discovery_messages

            for info in self.gates.values():
                for t, payload in discovery_messages(info.id, info.name, self.config.home_assistant_prefix):
                    self.dispatcher.publish(t, payload, qos=1, retain=True)

    def _on_frame(self, worker: GateWorker) -> None:
        """The live view: the latest image of a gate, only while someone watches."""
        if not self.live.subscribers or worker.pipeline is None:
            return
        image = getattr(worker.pipeline, "image", None)
        if image is None:
            return
        a = getattr(worker.pipeline, "last_analysis", None)
        self.live.publish(L.FRAME, {
            "gate": worker.id, "image": image.copy(), "fresh": getattr(worker.pipeline, "fresh", None),
            "state": worker.state, "sequence": worker.last_sequence,
            "time": worker.last_frame_at,
            "face_box": None if a is None or a.face_box is None else [int(v) for v in a.face_box],
            "distance_m": None if a is None else a.distance_m,
            "reference_ok": None if a is None else bool(a.reference_ok),
            "ambient_c": None if a is None else float(a.ambient_c)})

    def _on_eeprom(self, worker: GateWorker, rebuilt: bool) -> None:
        if rebuilt:
            self.live.publish(L.GATE, worker.summary())

    def _on_status(self, worker: GateWorker, was_online: bool, is_online: bool) -> None:
        if was_online != is_online or worker.status is None:
            try:
                self.store.record_gate_status(worker.id, time.time(), is_online, _status_dict(worker))
            except Exception as exc:
                log.error("gate status not stored", extra={"gate": worker.id, "error": repr(exc)[:200]})
            if is_online:
                self.alerts.resolve(worker.id, "gate_offline")
                log.info("gate online", extra={"gate": worker.id})
            else:
                self.alerts.raise_(worker.id, "gate_offline", "the gate's connection to the broker was lost")
        if worker.status is not None and not worker.status.sensor_ok and is_online:
            self.alerts.raise_(worker.id, "sensor_fault", "the gate reports its thermal sensor failing")
        elif worker.status is not None and worker.status.sensor_ok:
            self.alerts.resolve(worker.id, "sensor_fault")
        self.live.publish(L.GATE, worker.summary())

    def _on_ack(self, ack) -> None:
        self.doors.on_ack(ack)

    def _tick(self) -> None:
        self.doors.check_timeouts()
        self.decisions.flush_unsaved()
        mono = time.monotonic()
        for worker in self.workers.values():
            last = worker.last_frame_monotonic
            if worker.online and last is not None and mono - last > NO_FRAMES_S:
                self.alerts.raise_(worker.id, "no_frames", f"no frame for more than {NO_FRAMES_S:g} s")
            elif last is not None and mono - last <= NO_FRAMES_S:
                self.alerts.resolve(worker.id, "no_frames")
        now = time.time()
        if now - self._last_purge > PURGE_EVERY_S:
            self._last_purge = now
            try:
                before = now - self.config.retention_days * 86400
                purged = self.store.purge_snapshots(before)
                if purged:
                    log.info("snapshots purged", extra={"count": purged, "days": self.config.retention_days})
                trimmed = self.store.purge_gate_status(before)  # the gates' status history, on the same schedule
                if trimmed:
                    log.info("gate status history trimmed", extra={"count": trimmed,
                                                                   "days": self.config.retention_days})
            except Exception as exc:
                log.error("retention purge failed", extra={"error": repr(exc)[:200]})

    # -- what a person at the console does ---------------------------------------------

    def manual_open(self, gate_id: str, user: str, reason: str, ms: int | None = None):
        """Open a gate's door once, by hand: audited, through the same signed path as a PASS."""
        worker = self._manual_target(gate_id, user, reason)
        if worker.manual_lock is not None:
            held = worker.manual_lock
            raise DoorHeld(f"the door of gate {gate_id} is held locked (by {held.get('user')}: {held.get('reason')}): "
                           f"release it first, then open it")
        if worker.boot_id is None or worker.last_sequence == 0:
            raise ValueError(f"gate {gate_id} has sent no frame yet: a command needs its latest frame")
        ms = self.config.doors.open_ms if ms is None else int(ms)
        action = self.doors.send(gate_id, worker.boot_id, "open", ms, worker.last_sequence, cause="manual",
                                 user=user, reason=reason)
        self.store.record_audit(user, time.time(), "door_open", {"gate": gate_id, "reason": reason, "ms": ms,
                                                                 "counter": action.counter})
        return action

    def set_lock(self, gate_id: str, locked: bool, user: str, reason: str):
        """Hold a gate's door locked (no PASS opens it) until released; both are audited."""
        worker = self._manual_target(gate_id, user, reason)
        action = None
        now = time.time()
        if locked:  # in the store first: a crash right after this still finds the door held
            self.store.set_door_hold(gate_id, user, reason, now)
            worker.manual_lock = {"user": user, "reason": reason, "time": now}
            if worker.boot_id is not None and worker.last_sequence:
                action = self.doors.send(gate_id, worker.boot_id, "lock", 0, worker.last_sequence,
                                         cause="manual", user=user, reason=reason)
        else:
            self.store.clear_door_hold(gate_id)
            worker.manual_lock = None
            self.alerts.resolve(gate_id, "hold_restored")
        self.store.record_audit(user, time.time(), "door_lock" if locked else "door_release",
                                {"gate": gate_id, "reason": reason})
        self.live.publish(L.GATE, worker.summary())
        return action

    def dismiss_alert(self, alert_id: int, user: str) -> bool:
        """A person has dealt with an alert (a missing ack, a held PASS, ...): resolve it, audited."""
        key = self.alerts.dismiss(alert_id)
        if key is None:
            return False
        self.store.record_audit(user, time.time(), "alert_dismissed", {"alert": alert_id, "gate": key[0],
                                                                         "kind": key[1]})
        return True

    def _manual_target(self, gate_id: str, user: str, reason: str) -> GateWorker:
        if gate_id not in self.workers:
            raise KeyError(f"no gate {gate_id!r}")
        if not (isinstance(reason, str) and reason.strip()):
            raise ValueError("a reason is required for every manual door action")
        if not user:
            raise ValueError("a manual door action needs the user who takes it")
        return self.workers[gate_id]

    # -- what an admin at the console changes (controller/console) ----------------------

    def threshold_c(self) -> float:
        """The fever threshold in force for gates without their own ([screening] threshold_c, or as changed)."""
        return self.config.screening.threshold_c

    def apply_settings(self, user: str, *, threshold_c: float | None = None,
                       retention_days: int | None = None) -> dict:
        """Change the fever threshold and/or the snapshot retention now, for this run of the controller.

        controller.toml is not rewritten: after a restart its values apply again. Gates with their own
        ``[gates.<id>.screening] threshold_c`` keep it. Audited; ValueError on a value out of range;
        returns what changed."""
        changed: dict = {}
        if threshold_c is not None:
            screening = dataclasses.replace(self.config.screening, threshold_c=float(threshold_c))  # validates
            for gate_id, worker in self.workers.items():
                if "threshold_c" in self.config.gate_screening.get(gate_id, {}):
                    continue
                worker.config = dataclasses.replace(worker.config, threshold_c=screening.threshold_c)
                if worker.pipeline is not None:  # the tracker reads its config at every decision
                    worker.pipeline.config = worker.config
                    worker.pipeline.tracker.config = worker.config
            self.config = dataclasses.replace(self.config, screening=screening, screening_table={
                **self.config.screening_table, "threshold_c": screening.threshold_c})
            changed["threshold_c"] = screening.threshold_c
        if retention_days is not None:
            if not 1 <= int(retention_days) <= 3650:
                raise ValueError("retention_days must be 1..3650")
            self.config = dataclasses.replace(self.config, retention_days=int(retention_days))
            self._last_purge = 0.0  # purge with the new retention at the next tick
            changed["retention_days"] = int(retention_days)
        if changed:
            self.store.record_audit(user, time.time(), "settings_changed", changed)
            log.info("settings changed from the console", extra={"user": user, **changed})
        return changed

    # -- what the HTTP side shows ----------------------------------------------------

    def _gates_online(self) -> int:
        mono = time.monotonic()
        return sum(1 for w in self.workers.values()
                   if w.last_frame_monotonic is not None and mono - w.last_frame_monotonic <= NO_FRAMES_S)

    def refresh_gauges(self) -> None:
        online = self._gates_online()
        self.metrics.gates_online.set(online)
        self.metrics.backlog.set(self.dispatcher.backlog)
        self.metrics.alerts_open.set(self.alerts.count)
        try:  # open or acknowledged: every fever alarm the doctor has not disposed of yet
            self.metrics.alarms_open.set(len(self.store.alarms(status="open"))
                                         + len(self.store.alarms(status="acknowledged")))
        except Exception as exc:
            log.error("open alarms not counted", extra={"error": repr(exc)[:200]})

    def health(self) -> dict:
        mqtt_ok = self.dispatcher.connected.is_set()
        try:
            self.store.screenings(limit=1, snapshots=False)
            store_ok = True
        except Exception:
            store_ok = False
        now = time.time()
        return {
            "status": "ok" if mqtt_ok and store_ok and not self.decisions.unsaved else "degraded",
            "mqtt_connected": mqtt_ok, "store_ok": store_ok, "uptime_s": round(now - self.started_at, 1),
            "gates": len(self.workers),
            "gates_online": self._gates_online(), "unsaved_decisions": len(self.decisions.unsaved),
            "frame_backlog": self.dispatcher.backlog, "alerts_open": self.alerts.count,
            "unknown_gate_messages": self.dispatcher.unknown_gate,
        }

    def gate_summaries(self) -> list[dict]:
        return [w.summary() for w in self.workers.values()]


def warm_up_kernels() -> float:
    """Run the whole pipeline once on a synthetic sensor, so numba has loaded (or compiled) every kernel
    before real frames queue up behind it; returns the seconds it took."""
    import numpy as np

    from ..screening.pipeline import GatePipeline
    from ..sensor.synthetic import random_eeprom

    start = time.perf_counter()
    eeprom = random_eeprom(np.random.default_rng(0))
    pipeline = GatePipeline("warm-up", eeprom)
    image = np.full((24, 32), 24.0)
    image[8:14, 12:18] = 35.0
    control = int(pipeline.calibration.params.control_ee)
    for i, subpage in enumerate((0, 1, 0, 1)):
        words = pipeline.calibration.raw_from_to(image, 24.0, 3.3, subpage, control)
        pipeline.push(words, 0.125 * i, i + 1)
    return time.perf_counter() - start


def _status_dict(worker: GateWorker) -> dict:
    s = worker.status
    if s is None:
        return {}
    return {"firmware": s.firmware, "boot": s.boot_id, "uptime_s": s.uptime_s, "rssi": s.rssi,
            "sensor_ok": s.sensor_ok, "fps": s.fps, "relay": s.relay}


def _redact(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
