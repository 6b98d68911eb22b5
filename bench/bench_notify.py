"""Notification latency: from ``Notifier.notify(event)`` to the receiver having the request.

Sends N FEVER events (default 50), one at a time, each to one contact, and
times each from the call to the moment a real local receiver has the whole
request (tests/notify_receivers.py): a webhook and a WeCom-robot webhook on a
loopback HTTP server, with no outbox and with the SQLite outbox the controller
uses (migration 5, ``synchronous=full``: an fsync per write), and e-mail to
aiosmtpd over STARTTLS with a login. Loopback only: a real robot adds the
network's round trips.

    .venv/bin/python bench/bench_notify.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from controller.notify import EventKind, Notifier, NotifyEvent, from_table  # noqa: E402
from controller.notify.outbox import open_outbox  # noqa: E402
from notify_receivers import HttpReceiver, SmtpReceiver, self_signed  # noqa: E402


def measure(config, arrivals, count: int, n: int, outbox=None) -> list[float]:
    notifier = Notifier(config, on_failure=lambda f: print("FAILED:", f.detail), outbox=outbox).start()
    times = []
    try:
        for i in range(n):
            event = NotifyEvent(EventKind.FEVER, f"alarm-{i}", time=time.time(), gate="东门 1号", estimate_c=37.9)
            start = time.monotonic()
            notifier.notify(event)
            times.append(arrivals(count + i + 1) - start)
            notifier.wait_idle(5)
    finally:
        notifier.close()
    return times


def show(name: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    print(f"{name:<34} n={len(ms):>3}  median {statistics.median(ms):6.2f} ms  "
          f"p90 {ms[int(0.9 * (len(ms) - 1))]:6.2f} ms  max {ms[-1]:6.2f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "key").write_text("KEY\n")
        (d / "login").write_text("thermogate\ns3cret pass\n")
        http = HttpReceiver()
        cert = self_signed(d)
        smtp = SmtpReceiver(*cert)
        try:
            def config(channel: dict):
                return from_table({"notify": {"channels": {"c": channel},
                                              "contacts": {"dr": {"name": "王医生", "mobile": "13800001111",
                                                                  "email": "wang@school.example", "channels": ["c"]}},
                                              "route": [{"event": "fever", "to": ["dr"]}]}}, d)

            def http_at(k: int) -> float:
                return http.wait_for(k)[k - 1].at

            def smtp_at(k: int) -> float:
                return smtp.wait_for(k)[k - 1][0]

            webhook = config({"type": "webhook", "url": http.url, "secret_file": "key"})
            wecom = config({"type": "wecom", "url": http.url, "key_file": "key"})
            show("webhook, no outbox", measure(webhook, http_at, len(http.requests), n))
            outbox = open_outbox(f"sqlite://{d}/thermogate.db")
            show("webhook, SQLite outbox", measure(webhook, http_at, len(http.requests), n, outbox))
            show("wecom robot, SQLite outbox", measure(wecom, http_at, len(http.requests), n, outbox))
            mail = config({"type": "smtp", "host": "127.0.0.1", "port": smtp.port, "from": "tg@school.example",
                           "login_file": "login", "ca_file": str(cert[0])})
            show("e-mail STARTTLS, SQLite outbox", measure(mail, smtp_at, 0, n, outbox))
            outbox.close()
        finally:
            http.close()
            smtp.close()


if __name__ == "__main__":
    main()
