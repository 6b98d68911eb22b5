"""The controller's memory under oversized HTTP bodies (issue: 300 MB posts to /login).

Starts ``thermogate controller`` as its own process (with a private mosquitto), reads its resident memory,
sends four 300 MB bodies to POST /login (two with Content-Length, two chunked, all four at once), then
reads it again. Prints one line per measurement.

    .venv/bin/python bench/bench_body_limits.py [--mb 300] [--posts 4]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sim.broker import MosquittoBroker  # noqa: E402
from tests.controller_harness import ControllerProcess, write_config  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(port: int, mb: int, chunked: bool, out: list) -> None:
    block = b"a" * (1 << 20)
    head = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {mb << 20}\r\n\r\n"
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head.encode())
            for _ in range(mb):
                s.sendall((f"{len(block):x}\r\n".encode() + block + b"\r\n") if chunked else block)
                sent += 1
            if chunked:
                s.sendall(b"0\r\n\r\n")
            answer = s.recv(200)
    except OSError as exc:
        answer = f"connection ended: {exc.__class__.__name__}".encode()
    out.append((chunked, sent, answer.split(b"\r\n", 1)[0].decode("latin-1", "replace")))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=300)
    ap.add_argument("--posts", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker() as broker:
        config = write_config(Path(tmp), broker, ["sim-1"])
        controller = ControllerProcess(config, Path(tmp) / "controller.log").start()
        try:
            pid, port = controller.proc.pid, controller.http_port
            time.sleep(1.0)
            before = rss_mb(pid)
            peak = before
            out: list = []
            threads = [threading.Thread(target=post, args=(port, args.mb, i % 2 == 1, out))
                       for i in range(args.posts)]
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                peak = max(peak, rss_mb(pid))
                time.sleep(0.05)
            time.sleep(0.5)
            after = rss_mb(pid)
            print(f"controller RSS before {before:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB "
                  f"({args.posts} posts of {args.mb} MB to /login)")
            for chunked, sent, answer in out:
                print(f"  {'chunked' if chunked else 'Content-Length'}: {sent} MB sent, answer: {answer}")
        finally:
            controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
