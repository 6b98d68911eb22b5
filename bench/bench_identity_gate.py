"""Throughput at one gate with credentials scanned, against the same queue without, in the same run.

Two virtual gates (the firmware on virtual hardware) play the same scenario and seed on one mosquitto, in
real time, each served by its own controller in this process:

- ``scan-1``: every person of the queue scans a QR code on the roster 1 s before stepping onto the mark
  (sim/scenarios.py, SCAN_LEAD_S), and its controller has ``[site] require_identity = true``;
- ``plain-1``: nobody scans, and its controller runs as without identities.

It prints, per gate, the people who reached the mark, the decisions, the PASSes whose door opened and their
rate per minute, and for the scanning gate the PASSes the door rule kept shut (``register_at_gatehouse``:
a read not tied to its screening) and the time from the scan to the screening that took it (the gate's
clock). The simulated people take no longer to scan than to walk: the figures measure what identities cost
the controller and the association (lost ties, a door kept shut), not a person fumbling for a code.

    python bench/bench_identity_gate.py [--seconds 70] [--scenario normal_queue] [--seed 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from controller.app import build_controller
from controller.identity.people_store import PeopleStore
from controller.identity.roster_import import import_roster
from controller.service.config import from_dict
from controller.store import open_store
from sim.broker import MosquittoBroker
from sim.gate_config import provision_keys
from sim.runner import GateThread, make_gates
from sim.scenarios import scenario

CODES = 12  # people of a queue cycle, each with their own code


def code(i: int) -> str:
    return f"BENCH-{i % CODES:03d}"


def controller(tmp: Path, broker, gate: str, require: bool):
    site = tmp / f"site-{gate}"
    provision_keys(site, [gate])
    store = tmp / f"{gate}.db"
    doc = {"mqtt": {"host": broker.host, "port": broker.port, "client_id": f"bench-{gate}"},
           "site": {"dir": str(site), "simulated_gates": [gate], "serve": [gate], "require_identity": require},
           "store": {"url": str(store)}, "http": {"port": 0}}
    if require:
        s = open_store(str(store))
        rows = ["id,name,role,class,credentials"] + [f"B{i:03d},学生{i:02d},student,初一(1)班,{code(i)}"
                                                     for i in range(CODES)]
        import_roster(PeopleStore.beside(s), "\n".join(rows).encode(), time.time())
        s.close()
    return build_controller(from_dict(doc, tmp / "controller.toml"), http=False).start()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=70.0, help="real time the gates run (default 70)")
    ap.add_argument("--scenario", default="normal_queue")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as d, MosquittoBroker() as broker:
        tmp = Path(d)
        results: dict[str, list[dict]] = {"scan-1": [], "plain-1": []}
        lock = threading.Lock()
        services = {g: controller(tmp, broker, g, g == "scan-1") for g in results}
        ties: list[float] = []
        desk = services["scan-1"].credentials
        take = desk.take

        def timed_take(worker, d):
            tied = take(worker, d)
            if tied is not None:
                ties.append(d.time_s - tied.scan_ms / 1000.0)
            return tied

        desk.take = timed_take
        for g, svc in services.items():
            publish = svc.dispatcher.publish

            def tap(topic, payload, qos=1, retain=False, _g=g, _publish=publish):
                if topic.endswith("/result"):
                    with lock:
                        results[_g].append(json.loads(payload))
                _publish(topic, payload, qos, retain)

            svc.decisions.publish = tap  # the result topic, as published
        gates = (make_gates(1, lambda i: scenario(args.scenario, args.seed, credentials=code), broker.host,
                            broker.port, prefix="scan")
                 + make_gates(1, lambda i: scenario(args.scenario, args.seed), broker.host, broker.port,
                              prefix="plain"))
        thread = GateThread(gates).start()
        started = time.monotonic()
        try:
            time.sleep(args.seconds)
        finally:
            thread.stop()
            elapsed = time.monotonic() - started
            time.sleep(1.0)
            for svc in services.values():
                svc.stop()
        sc = gates[0].scenario
        reached = [p for c in range(int(gates[0].t // sc.duration_s) + 1) for p in
                   (sc.scene.person(c, i) for i in range(sc.spec.n_people))
                   if c * sc.duration_s + p.arrive_s < gates[0].t]
        print(f"{args.scenario} seed {args.seed}, {elapsed:.0f} s of real time; {len(reached)} people reached the "
              f"mark at each gate ({len(gates[0].scans)} scans at scan-1)")
        print(f"{'gate':<10}{'decisions':>10}{'PASS':>6}{'door opened':>13}{'per minute':>12}{'FEVER':>7}"
              f"{'RETRY':>7}{'kept shut':>11}")
        for gate, (g, rs) in zip(gates, results.items(), strict=True):
            passed = [r for r in rs if r["decision"] == "PASS"]
            shut = [r for r in rs if r["reason"] == "register_at_gatehouse"]
            levels = [v for _t, v in gate.relay.history]
            opened = sum(1 for k, v in enumerate(levels) if v == 1 and (k == 0 or levels[k - 1] != 1))  # the relay
            print(f"{g:<10}{len(rs):>10}{len(passed):>6}{opened:>13}"
                  f"{opened / elapsed * 60:>12.1f}{sum(r['decision'] == 'FEVER' for r in rs):>7}"
                  f"{sum(r['decision'] == 'RETRY' for r in rs):>7}{len(shut):>11}")
        if ties:
            print(f"scan -> screening that took it (gate clock): median {statistics.median(ties):.2f} s, "
                  f"max {max(ties):.2f} s, {len(ties)} ties")
        named = [r for r in results["scan-1"] if r["decision"] == "PASS" and r["person"]]
        total = sum(r["decision"] == "PASS" for r in results["scan-1"])
        print(f"scan-1 PASSes naming a person: {len(named)} of {total}")


if __name__ == "__main__":
    main()
