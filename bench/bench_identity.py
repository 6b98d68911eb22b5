"""Identity benchmark: a roster import and resolve() at the gate, on SQLite and PostgreSQL.

Imports N people (default 3,000; each with a card and a QR code), then times
2,000 calls of ``Resolver.resolve`` for a card, a QR code, an unknown card and
a visitor pass. SQLite in a temporary directory (``synchronous=full``, the
default); PostgreSQL in a throw-away database on $THERMOGATE_TEST_POSTGRES
(default postgresql://postgres@127.0.0.1:5432/postgres) when it is reachable.

    python bench/bench_identity.py [N]
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time

from controller.identity import visitors
from controller.identity.people_store import open_people_store
from controller.identity.resolve import Resolver
from controller.identity.roster_import import import_roster

CALLS = 2000


def run(url: str, n: int) -> None:
    people = open_people_store(url)
    rows = ["id,name,role,class,boarder,guardian_phone,credentials"]
    rows += [f"S{i:05d},学生{i},student,初{i % 3 + 1}({i % 12 + 1})班,no,,card:{0x04000000 + i:08X};QR{i:05d}"
             for i in range(n)]
    t = time.perf_counter()
    report = import_roster(people, "\n".join(rows).encode(), time.time())
    print(f"  import {n} people: {report.summary()}, {time.perf_counter() - t:.1f} s")
    key = secrets.token_bytes(32)
    now = time.time()
    _, token = visitors.register(people, key, name="王芳", id_last4="0021", host="李老师", purpose="家长会",
                                 valid_from=now, valid_until=now + 3600, issued_by="bench", now=now)
    resolver = Resolver(people, key)
    for label, text, kind in [("card", f"{0x04000000 + n // 2:08X}", "card"), ("qr", f"QR{n // 3:05d}", "qr"),
                              ("unknown card", "FFFFFFFF", "card"), ("visitor pass", token, "qr")]:
        t = time.perf_counter()
        for _ in range(CALLS):
            result = resolver.resolve(text, kind, time.time())
        per = (time.perf_counter() - t) / CALLS
        print(f"  resolve {label:<13} -> {result.reason or 'ok':<8} {per * 1e6:6.0f} us")
    people.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite (synchronous=full)")
        run(os.path.join(tmp, "bench.db"), n)
    admin = os.environ.get("THERMOGATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except Exception as exc:  # no server: SQLite only
        print(f"PostgreSQL not reachable at {admin}: {exc}")
        return
    name = f"thermogate_bench_{secrets.token_hex(4)}"
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        print("PostgreSQL")
        run(admin.rsplit("/", 1)[0] + f"/{name}", n)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


if __name__ == "__main__":
    main()
