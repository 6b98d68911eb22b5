"""From the alarm to the first notification delivered: a whole controller, measured at a local receiver.

A real mosquitto, the controller (``build_controller``: store on SQLite, the
notifier with its outbox, the console), a virtual gate playing the ``fever``
scenario, and a webhook channel to a real loopback HTTP receiver
(tests/notify_receivers.py) routed to the doctor on duty and the leader in
charge. For each FEVER alarm: the alarm's time (the controller's clock when it
handled the decision, ``alarms.time``) to the receiver having the whole first
request for it.

Two sources of alarms:

- the virtual fever gate through MQTT and the screening pipeline, for
  ``--seconds`` (default 60): every alarm it raises;
- ``--injected N`` (default 30) FEVER decisions handed to the same decision path
  (``DecisionHandler.handle``) one at a time, for a larger sample.

    .venv/bin/python bench/bench_case.py [--seconds 60] [--injected 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from controller.protocol.result import Decision  # noqa: E402
from controller_harness import notify_toml, start_controller  # noqa: E402
from notify_receivers import HttpReceiver  # noqa: E402
from sim.broker import MosquittoBroker  # noqa: E402
from sim.runner import GateThread, make_gates  # noqa: E402
from sim.scenarios import scenario  # noqa: E402


def first_arrivals(receiver: HttpReceiver, offset: float) -> dict[str, float]:
    """The wall time the first request of each event key arrived."""
    out: dict[str, float] = {}
    for r in list(receiver.requests):
        key = r.json()["key"]
        out.setdefault(key, r.at + offset)
    return out


def show(name: str, delays: list[float]) -> None:
    if not delays:
        print(f"{name:<40} no alarm")
        return
    ms = sorted(d * 1000 for d in delays)
    print(f"{name:<40} n={len(ms):>3}  median {statistics.median(ms):7.1f} ms  "
          f"p90 {ms[int(0.9 * (len(ms) - 1))]:7.1f} ms  max {ms[-1]:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the virtual fever gate runs")
    ap.add_argument("--injected", type=int, default=30, help="FEVER decisions handed to the decision path")
    args = ap.parse_args()
    offset = time.time() - time.monotonic()
    receiver = HttpReceiver("ok")
    broker = MosquittoBroker().start()
    with tempfile.TemporaryDirectory() as tmp:
        svc = start_controller(Path(tmp), broker, ["sim-1"], extra=notify_toml(receiver.url))
        gates = GateThread(make_gates(1, lambda i: scenario("fever", i), broker.host, broker.port, prefix="sim",
                                      seed=0)).start()
        try:
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                time.sleep(0.5)
            time.sleep(2.0)  # the last alarm's message
            arrivals = first_arrivals(receiver, offset)
            gate = [arrivals[f"alarm-{a.id}"] - a.time for a in svc.store.alarms() if f"alarm-{a.id}" in arrivals]
            missing = [a.id for a in svc.store.alarms() if f"alarm-{a.id}" not in arrivals]
            show("virtual fever gate (MQTT, pipeline)", gate)
            if missing:
                print(f"  alarms without a delivered notification: {missing}")
            worker = svc.workers["sim-1"]
            injected = []
            for i in range(args.injected):
                known = {a.id for a in svc.store.alarms()}
                svc.decisions.handle(worker, Decision(gate="sim-1", time_s=float(i), decision="FEVER", reason="",
                                                      track=2_000_000 + i, estimate_c=38.5,
                                                      sequence=worker.last_sequence), time.monotonic())
                alarm = next(a for a in svc.store.alarms() if a.id not in known and a.screening_id is not None
                             and svc.store.screening(a.screening_id).track == 2_000_000 + i)
                key = f"alarm-{alarm.id}"
                deadline = time.monotonic() + 10
                while key not in (arrived := first_arrivals(receiver, offset)) and time.monotonic() < deadline:
                    time.sleep(0.002)
                injected.append(arrived[key] - alarm.time)
                time.sleep(0.2)
            show("decision path, injected one at a time", injected)
            show("both", gate + injected)
        finally:
            gates.stop()
            svc.stop()
            broker.stop()
            receiver.close()


if __name__ == "__main__":
    main()
