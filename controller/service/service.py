"""``ControllerService``: the process that runs all day at the school.

It wires the parts together: the gate registry, one ``GateWorker`` per gate,
the ``Dispatcher`` between MQTT and them, the ``DecisionHandler`` and
``DoorCommander`` for what decisions set in motion, the store, the
``AlertBook`` (alerts.py), the ``ResumeGuard`` (resume.py), metrics, the live
hub and the HTTP server. Whoever composes the controller (controller/app.py)
adds to the HTTP app through ``http_extensions``. See docs/operations.md.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence

from ..cases.case_store import CaseStore
from ..identity.checks import IdentityError
from ..identity.passes import load_pass_key
from ..identity.people_store import PeopleStore
from ..identity.resolve import Resolver
from ..protocol.result import FEVER
from ..store import open_store
from .alarm_cases import AlarmCases
from .alerts import AlertBook
from .config import ControllerConfig
from .credentials import CredentialDesk
from .daily_report import report_thread
from .decisions import DecisionHandler
from .dispatcher import Dispatcher
from .door_rule import REGISTER_AT_GATEHOUSE, door_rule
from .doors import DoorCommander
from .drills import DrillDesk
from .events import AlertKind, GateEvent, GateSummary
from .gate_worker import GateWorker
from .live import LiveHub
from .manual_doors import DoorHeld, ManualDoors
from .measuring_light import MeasuringLight
from .metrics import Metrics
from .purge import HourlyPurge
from .registry import GateInfo, load_gates
from .resume import ResumeGuard
from .warmup import warm_up_kernels

log = logging.getLogger("thermogate.service")

__all__ = ["ControllerService", "DoorHeld"]

NO_FRAMES_S = 10.0  # a gate online but silent this long raises an alert


class ControllerService:
    def __init__(self, config: ControllerConfig, *, store=None, gates: dict[str, GateInfo] | None = None,
                 http: bool = True, http_extensions: Sequence[Callable] = ()):
        """``http_extensions``: ``extend(app, service)`` each, called on the HTTP app before it serves (the
        guards' console, controller/app.py)."""
        self.config = config
        self.started_at = time.time()
        self.metrics = Metrics()
        self.live = LiveHub()
        self.store = store if store is not None else open_store(config.store_url)
        self.gates = gates if gates is not None else load_gates(config)
        self.alerts = AlertBook(self.store, self.live)
        self.people = PeopleStore.beside(self.store)
        self.credentials = CredentialDesk(Resolver(self.people, _pass_key(config)), window_s=config.identity_window_s,
                                          site_dir=config.site_dir, metrics=self.metrics)
        self.holds = CaseStore.beside(self.store).hold_for  # a person held until 复课 (controller/cases)
        self.workers = {g: GateWorker(info, self._screening_for(info), self.metrics,
                                      accept_v1=config.accept_protocol_v1, alerts=self.alerts.raise_)
                        for g, info in self.gates.items()}
        if config.accept_protocol_v1:
            log.warning("[site] accept_protocol_v1 is on: unauthenticated version-1 sensor data is accepted")
        for info in self.gates.values():
            self.store.upsert_gate(info.id, info.name, info.location)
        self.alerts.resolve(None, AlertKind.STORE_FAILED)  # it takes writes again
        self.dispatcher = Dispatcher(config.mqtt, self.workers, on_decisions=self._on_decisions,
                                     on_eeprom=self._on_eeprom, on_status=self._on_status, on_ack=self._on_ack,
                                     on_tick=self._tick, on_frame=self._on_frame, on_connect=self._on_connect,
                                     on_credential=self._on_credential,
                                     metrics=self.metrics, partial=bool(config.serve))
        self.doors = DoorCommander(self.store, self.dispatcher.publish, self.gates,
                                   ack_timeout_s=config.doors.ack_timeout_s, alerts=self.alerts.raise_,
                                   metrics=self.metrics, live=self.live,
                                   versions=lambda gate_id: self.workers[gate_id].wire_version)
        self.measuring = MeasuringLight(self.doors, enabled=config.doors.measuring_light)
        # a FEVER alarm's case and notifications ([notify]); drills on the live gates (alarm_cases.py, drills.py)
        self.alarm_cases = AlarmCases(self.store, config, self.alerts,
                                      gate_names={g: info.name or g for g, info in self.gates.items()})
        self.decisions = DecisionHandler(self.store, self.doors, self.dispatcher.publish,
                                         open_ms=config.doors.open_ms, metrics=self.metrics, live=self.live,
                                         alerts=self.alerts.raise_, resolve_alert=self.alerts.resolve,
                                         people=self.people, classes=config.classes, cases=self.alarm_cases)
        self.resume = ResumeGuard(self.alerts.raise_)
        self.purge = HourlyPurge(self.store)
        self._http_enabled = http
        self._http_extensions = tuple(http_extensions)
        self.http = None
        self._stopped = threading.Event()
        self.metrics.gates_known.set(len(self.gates))
        self.resume.arm(self.store, self.workers)
        self.manual = ManualDoors(self.store, self.workers, self.doors, self.alerts, self.live,
                                  open_ms=config.doors.open_ms)
        self.manual.restore()
        self.drills = DrillDesk(self.alarm_cases.cases, self.workers, self._drill_decision, self.store)
        self.drills.restore()
        self.reports = report_thread(config, self.store, self.alerts, self.alarm_cases.notifier)  # [report]

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

    def start(self) -> ControllerService:
        warm_up_kernels()  # compiled (or loaded from numba's cache) before the first gate's frame
        if self._http_enabled:
            from .http import HttpServer, build_app

            app = build_app(self, self._http_extensions)
            self.http = HttpServer(app, self.config.http.bind, self.config.http.port, self.config.http)
            self.http.start()
        self.alarm_cases.start()
        if self.reports is not None:
            self.reports.start()
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
        if self.reports is not None:
            self.reports.stop()
        self.alarm_cases.close()
        self.store.close()
        log.info("controller stopped")

    def wait(self) -> None:
        self._stopped.wait()

    # -- what the dispatcher calls -------------------------------------------------

    @property
    def held(self) -> int:
        """Decisions whose door was held back after the restart (resume.py)."""
        return self.resume.held

    def _on_decisions(self, worker: GateWorker, decisions, arrived: float) -> None:
        for d in decisions:
            tied = self.credentials.take(worker, d)  # the credential read at the gate for this screening
            d = door_rule(d, None if tied is None else tied.resolution, require_identity=self.config.require_identity,
                          hold=self._hold(tied))
            self.decisions.handle(worker, d, arrived, hold_door=self.resume.holds(worker, d), tied=tied,
                                  drill=d.decision == FEVER and self.drills.heated(worker.id))  # drills.py

    def _drill_decision(self, worker: GateWorker, d) -> None:
        """A drill's simulated FEVER, through the normal path, flagged drill (drills.py)."""
        self.decisions.handle(worker, d, time.monotonic(), drill=True)

    def _on_credential(self, worker: GateWorker, payload: bytes) -> None:
        if self.credentials.receive(worker, payload) is not None:
            self.live.publish(GateEvent(worker.summary()))

    def _hold(self, tied) -> str | None:
        """The cases' hold on the person the credential names (``see_school_doctor``), or None."""
        person = None if tied is None or tied.resolution is None else tied.resolution.person
        if person is None:
            return None
        try:
            return self.holds(person.id, time.time())
        except Exception as exc:  # the cases could not be read: a person sent home may not walk in on a
            # failed read, so the door stays shut and the gatehouse checks them (door_rule.py)
            log.error("case hold not read", extra={"person": person.id, "error": repr(exc)[:200]})
            return REGISTER_AT_GATEHOUSE

    def _on_connect(self) -> None:
        if self.config.home_assistant:
            from .home_assistant import discovery_messages

            for info in self.gates.values():
                for t, payload in discovery_messages(info.id, info.name, self.config.home_assistant_prefix):
                    self.dispatcher.publish(t, payload, qos=1, retain=True)

    def _on_frame(self, worker: GateWorker) -> None:
        """The measuring light for the person at the mark; the live view: the latest image of a gate, only while
        someone watches."""
        self.measuring.on_frame(worker)
        if self.live.subscribers:
            event = worker.frame_event()
            if event is not None:
                self.live.publish(event)

    def _on_eeprom(self, worker: GateWorker, rebuilt: bool) -> None:
        if rebuilt:
            self.live.publish(GateEvent(worker.summary()))

    def _on_status(self, worker: GateWorker, was_online: bool, is_online: bool) -> None:
        if was_online != is_online or worker.status is None:
            try:
                self.store.record_gate_status(worker.id, time.time(), is_online, worker.status_record())
            except Exception as exc:
                log.error("gate status not stored", extra={"gate": worker.id, "error": repr(exc)[:200]})
            if is_online:
                self.alerts.resolve(worker.id, AlertKind.GATE_OFFLINE)
                log.info("gate online", extra={"gate": worker.id})
            else:
                self.alerts.raise_(worker.id, AlertKind.GATE_OFFLINE, "the gate's connection to the broker was lost")
        if worker.status is not None and not worker.status.sensor_ok and is_online:
            self.alerts.raise_(worker.id, AlertKind.SENSOR_FAULT, "the gate reports its thermal sensor failing")
        elif worker.status is not None and worker.status.sensor_ok:
            self.alerts.resolve(worker.id, AlertKind.SENSOR_FAULT)
        self.live.publish(GateEvent(worker.summary()))

    def _on_ack(self, ack) -> None:
        self.doors.on_ack(ack)

    def _tick(self) -> None:
        self.doors.check_timeouts()
        self.drills.run_pending()  # a drill's simulated fever, on this thread like the gates' own decisions
        self.decisions.flush_unsaved()
        mono = time.monotonic()
        for worker in self.workers.values():
            self.credentials.expire(worker)
            last = worker.last_frame_monotonic
            if worker.online and last is not None and mono - last > NO_FRAMES_S:
                self.alerts.raise_(worker.id, AlertKind.NO_FRAMES, f"no frame for more than {NO_FRAMES_S:g} s")
            elif last is not None and mono - last <= NO_FRAMES_S:
                self.alerts.resolve(worker.id, AlertKind.NO_FRAMES)
        self.purge.tick(self.config, time.time())

    # -- what a person at the console does ---------------------------------------------

    def manual_open(self, gate_id: str, user: str, reason: str, ms: int | None = None):
        """Open a gate's door once, by hand (manual_doors.py); DoorHeld while it is held locked."""
        return self.manual.open_once(gate_id, user, reason, ms)

    def let_in(self, case_id: int, gate_id: str, user: str, reason: str = ""):
        """"Let in at gate X" from a fever case decided back in: the signed door command of "open once"
        (manual_doors.py) and a ``let_in`` step on the case naming the command. The step is checked first, so a
        case not decided back in opens nothing (``Refused``); DoorHeld while the door is held locked."""
        from ..cases.machine import BACK_IN
        from ..cases.steps import LetIn

        case = self.alarm_cases.cases.case(case_id)
        if case is None:
            raise KeyError(f"no case {case_id}")
        if case.state != BACK_IN:
            from ..cases.machine import Refused
            from ..cases.steps import StepKind

            raise Refused(case.state, StepKind.LET_IN, "the door is opened from the case only for a person "
                          "decided back in, before the case closes")
        why = f"case {case_id}: back in" + (f": {reason}" if reason else "")
        action = self.manual.open_once(gate_id, user, why)
        found = [a.id for a in self.store.door_actions(gate=gate_id, since=action.time - 1)
                 if a.counter == action.counter]
        return action, self.alarm_cases.cases.add_step(
            case_id, LetIn(gate=gate_id, counter=action.counter, door_action_id=found[0] if found else None,
                           note=reason), user, time.time())

    def set_lock(self, gate_id: str, locked: bool, user: str, reason: str):
        """Hold a gate's door locked, or release it (manual_doors.py)."""
        return self.manual.set_lock(gate_id, locked, user, reason)

    def dismiss_alert(self, alert_id: int, user: str) -> bool:
        """A person has dealt with an alert (a missing ack, a held PASS, ...): resolve it, audited."""
        key = self.alerts.dismiss(alert_id)
        if key is None:
            return False
        self.store.record_audit(user, time.time(), "alert_dismissed", {"alert": alert_id, "gate": key[0],
                                                                         "kind": key[1]})
        return True

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
                worker.apply_config(dataclasses.replace(worker.config, threshold_c=screening.threshold_c))
            self.config = dataclasses.replace(self.config, screening=screening, screening_table={
                **self.config.screening_table, "threshold_c": screening.threshold_c})
            changed["threshold_c"] = screening.threshold_c
        if retention_days is not None:
            if not 1 <= int(retention_days) <= 3650:
                raise ValueError("retention_days must be 1..3650")
            self.config = dataclasses.replace(self.config, retention_days=int(retention_days))
            self.purge.soon()  # with the new retention
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
        for gate, worker in list(self.workers.items()):
            if worker.status is not None:
                self.metrics.refresh_hz.labels(gate).set(worker.status.refresh_hz)
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

    def gate_summaries(self) -> list[GateSummary]:
        return [w.summary() for w in self.workers.values()]

    def open_alerts(self) -> list[dict]:
        """Every open alert, oldest first (the console's strip)."""
        return self.alerts.open_alerts()


def _pass_key(config: ControllerConfig) -> bytes | None:
    """The site's visitor pass key, or None until `thermogate visitor add` makes it (then read at the first pass)."""
    try:
        return load_pass_key(config.site_dir)
    except IdentityError:
        return None


def _redact(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
