"""Scale-out: gates partitioned across two controller instances ([site] serve), one broker, one
PostgreSQL. Each gate's frames reach only its own controller (a shared subscription would split
one gate's frames between them and break its tracker); all records land in the one database."""

from __future__ import annotations

import json
import time

from controller.service.config import load_config
from controller.service.service import ControllerService
from controller.store import open_store
from controller_harness import write_config


def test_two_controllers_share_the_gates_and_one_database(tmp_path, mqtt_broker, virtual_gates, mqtt_watch,
                                                          pg_empty_url):  # noqa: F811
    watch = mqtt_watch(["thermogate/+/result", "thermogate/+/cmd"])
    services = []
    for name, share in (("a", "sim-1"), ("b", "sim-2")):
        d = tmp_path / name
        d.mkdir()
        path = write_config(d, mqtt_broker, ["sim-1", "sim-2"], store=pg_empty_url)
        path.write_text(path.read_text().replace("[site]\n", f'[site]\nserve = ["{share}"]\n'))
        services.append(ControllerService(load_config(path), http=False).start())
    a, b = services
    try:
        assert set(a.workers) == {"sim-1"} and set(b.workers) == {"sim-2"}
        virtual_gates(2, "fever", seed=0)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            results = [json.loads(p) for _t, p in watch.messages("/result")]
            if {r["gate"] for r in results if r["decision"] in ("PASS", "FEVER")} == {"sim-1", "sim-2"}:
                break
            time.sleep(0.2)
        # Each controller saw only its own gate's frames: the broker sent it nothing else.
        assert a.workers["sim-1"].frames > 20 and b.workers["sim-2"].frames > 20
        assert a.dispatcher.unknown_gate == 0 and b.dispatcher.unknown_gate == 0
        assert a.metrics.frames.labels(gate="sim-2")._value.get() == 0
        # One decision per frame and gate, from the controller that owns the gate: no duplicates.
        results = [json.loads(p) for _t, p in watch.messages("/result")]
        assert len({r["uid"] for r in results}) == len(results)
        # Command counters are per gate and reserved in the one database: never repeated.
        for gate in ("sim-1", "sim-2"):
            counters = [json.loads(p)["ctr"] for t, p in watch.messages(f"thermogate/{gate}/cmd")]
            assert counters == sorted(set(counters))
    finally:
        for s in services:
            s.stop()
    store = open_store(pg_empty_url)
    try:
        stored = {(s.gate, s.uid) for s in store.screenings(limit=100000, snapshots=False)}
        assert {(r["gate"], r["uid"]) for r in results} <= stored
        assert {g for g, _ in stored} == {"sim-1", "sim-2"}
    finally:
        store.close()
