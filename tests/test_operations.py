"""What an operator's dashboard and the retention schedule see: the open-alarm gauge and the status history."""

from __future__ import annotations

import time

import httpx
import numpy as np

from controller.app import build_controller
from controller.service.config import load_config
from controller.store import Screening, encode_snapshot
from tests.controller_harness import write_config

DAY = 86400.0


def _alarm(store, n: int) -> int:
    sid = store.record_screening(Screening(
        uid=f"ops:{n}", gate="sim-1", time=time.time() - n, decision="FEVER", reason="", track=n, estimate_c=38.4,
        face_c=35.5, distance_m=0.5, reduced_accuracy=False, boot=1, sequence=n,
        snapshot=encode_snapshot(np.full((24, 32), 30.0, dtype=np.float32))))
    return store.open_alarm(sid, "sim-1", time.time() - n)


def _gauge(base: str) -> float:
    text = httpx.get(base + "/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("thermogate_alarms_open "))
    return float(line.split()[1])


def test_the_open_alarms_gauge_counts_alarms_not_yet_disposed(tmp_path, mqtt_broker):
    service = build_controller(load_config(write_config(tmp_path, mqtt_broker, ["sim-1"]))).start()
    try:
        base = f"http://127.0.0.1:{service.http.port}"
        store = service.store
        assert _gauge(base) == 0
        a, b, c = _alarm(store, 1), _alarm(store, 2), _alarm(store, 3)
        store.acknowledge_alarm(b, user="gus", time=time.time())
        store.acknowledge_alarm(c, user="gus", time=time.time())
        store.dispose_alarm(c, recheck_c=36.8, outcome="false_alarm", user="doc", time=time.time())
        assert _gauge(base) == 2  # a open, b acknowledged; c disposed
        store.dispose_alarm(b, recheck_c=38.1, outcome="sent_home", user="doc", time=time.time())
        assert _gauge(base) == 1 and store.alarm(a).status == "open"
    finally:
        service.stop()


def test_the_retention_schedule_trims_the_gate_status_history(tmp_path, mqtt_broker):
    service = build_controller(load_config(write_config(tmp_path, mqtt_broker, ["sim-1"]))).start()
    try:
        store = service.store
        now = time.time()
        store.record_gate_status("sim-1", now - 10 * DAY, True, {"online": True})
        store.record_gate_status("sim-1", now - 3 * DAY, False, {"online": False})
        store.record_gate_status("sim-1", now - 60, True, {"online": True})
        service.apply_settings("ada", retention_days=5)  # the next tick purges with the new retention
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kept = [round((now - r.time) / DAY) for r in store.gate_status_history("sim-1")]
            if 10 not in kept:
                break
            time.sleep(0.1)
        assert 10 not in kept and 3 in kept and 0 in kept, kept
    finally:
        service.stop()
