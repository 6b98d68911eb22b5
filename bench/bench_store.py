"""Event-store benchmark: decisions recorded per second on each backend.

One decision here is what the controller writes for a PASS: the screening
with its thermal snapshot, then the door command, each its own commit. Also
the time of one ``reserve_counters`` (the controller takes counters in
blocks, so it runs once per block). SQLite in a temporary directory, with
both durability settings; PostgreSQL in a throw-away database on
$THERMOGATE_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres)
when it is reachable.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time

import numpy as np

from controller.store import DoorAction, Screening, encode_snapshot, open_store

PG_ADMIN_URL = os.environ.get("THERMOGATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def measure(url: str, n: int) -> tuple[float, float]:
    snap = encode_snapshot(np.random.default_rng(1).normal(30.0, 3.0, (24, 32)))
    with open_store(url) as s:
        t0 = time.perf_counter()
        for i in range(n):
            sid = s.record_screening(Screening(uid=f"bench-{i}", gate="bench-1", time=1.78e9 + i, decision="PASS",
                                               reason="", track=i, estimate_c=36.6, face_c=34.0, distance_m=0.6,
                                               reduced_accuracy=False, boot=1, sequence=i, snapshot=snap))
            s.record_door_action(DoorAction("bench-1", 1.78e9 + i, "open", 3000, i + 1, "decision", sid, None, None))
        rate = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(200):
            s.reserve_counters("bench-1", 64)
        reserve = (time.perf_counter() - t0) / 200
    return rate, reserve


def main(n: int = 2000) -> None:
    print(f"event store: {n} decisions (screening + snapshot + door action, one commit each), one thread")
    with tempfile.TemporaryDirectory() as d:
        for label, url in [("sqlite synchronous=full (default)", f"sqlite://{d}/full.db"),
                           ("sqlite synchronous=normal", f"sqlite://{d}/normal.db?synchronous=normal")]:
            rate, reserve = measure(url, n)
            print(f"  {label:<36} {rate:7.0f} decisions/s   reserve_counters {reserve * 1e3:.2f} ms")
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
        print(f"  postgresql: not measured ({str(exc).strip()[:120]})")
        return
    name = f"thermogate_bench_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            rate, reserve = measure(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", n // 4)
            print(f"  {'postgresql ' + str(admin.info.server_version // 10000) + ' (' + admin.info.host + ')':<36} "
                  f"{rate:7.0f} decisions/s   reserve_counters {reserve * 1e3:.2f} ms")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
