"""Load on one controller: how many gates at 8 subpages/s it sustains, and its latency.

For each gate count N this starts a private mosquitto (its queue sized for the
run), the real controller process (``thermogate controller``, serving N
simulated gates), and a lightweight replay publisher in this process: every
gate publishes its EEPROM once, then the frames of a sample recording in a
loop at 8 subpages/s, each with its own boot id, sequence numbers and clock,
its own starting point in the recording, and phases spread evenly. A subscriber here takes the controller's results.

Figures per N:
- frames/s published and processed by the controller, frames it dropped (its
  queue), frames lost before it (sequence gaps: the broker dropped them);
- the frame backlog in the controller over the run (from /healthz), first and
  last third: "no growing backlog" means the last third is not above the first;
- latency from publishing the deciding frame to receiving the decision's
  result (both ends in this process, so one clock; the path is publisher ->
  broker -> controller -> broker -> subscriber), p50 / p99 / max, for frames
  sent after the first WARMUP_S seconds (all gates start together, so their
  warm-up decisions come in one burst no real site sees);
- the controller's own histogram, from a frame's arrival to its door command;
- the controller's CPU (cores used) and resident memory.

``--soak-minutes M`` then runs M minutes at 80 % of the largest sustained N and
prints memory every minute (flat memory is the target).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import paho.mqtt.client as mqtt

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from controller.protocol import sensor_key, status_payload  # noqa: E402
from controller.protocol.binary import HEADER, KIND_FRAME, MAGIC, VERSION  # noqa: E402
from controller.protocol.mac import tag  # noqa: E402
from controller.recording import Recording  # noqa: E402
from controller_harness import ControllerProcess, write_config  # noqa: E402
from sim.broker import MosquittoBroker  # noqa: E402
from sim.gate_config import simulator_key  # noqa: E402

RECORDING = REPO / "sim" / "recordings" / "fever-30s.npz"
RATE_HZ = 8.0
WARMUP_S = 6.0  # latency is counted from here on (see run_load)


class Publisher:
    def __init__(self, broker, gates: list[str], recording: Recording):
        self.gates = gates
        self.words = [bytes(recording.frame_payloads[i].tobytes()[HEADER.size:-4]) for i in range(len(recording))]
        # Every message is protocol version 2, sealed under each simulated gate's own sensor key.
        self.keys = {g: sensor_key(simulator_key(g)) for g in gates}
        self.eeprom = {g: recording.sealed_eeprom(self.keys[g]) for g in gates}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"load-pub-{os.getpid()}")
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port, keepalive=60)
        self.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        self.sent: dict[tuple[str, int], float] = {}
        self.published = 0
        self.late_s = 0.0
        self._stop = threading.Event()
        self.boot = {g: (0x10000 + i * 7919) & 0xFFFFFFFF for i, g in enumerate(gates)}

    def announce(self) -> None:
        for g in self.gates:
            self.client.publish(f"thermogate/{g}/eeprom", self.eeprom[g], qos=1, retain=True)
            status = {"gate": g, "online": True, "fw": "load", "boot": self.boot[g], "uptime_s": 1,
                      "rssi": -50, "heap_free": 90000, "frames": 0, "frames_unsent": 0, "fps": 8.0,
                      "refresh_hz": 8, "sensor_ok": True, "i2c_errors": 0, "sensor_resets": 0, "relay": "locked",
                      "door_openings": 0, "cmd_ok": 0, "cmd_refused": {}, "mqtt_connects": 1}
            self.client.publish(f"thermogate/{g}/status", status_payload(self.keys[g], status), qos=1, retain=True)

    def run(self, seconds: float) -> None:
        n = len(self.gates)
        period = 1.0 / RATE_HZ
        start = time.monotonic() + 0.2
        # Gate i publishes at start + i*period/n + k*period.
        k = 0
        topics = [f"thermogate/{g}/frame" for g in self.gates]
        boots = [self.boot[g] for g in self.gates]
        keys = [self.keys[g] for g in self.gates]
        frames = self.words
        nf = len(frames)
        # Each gate starts at its own point of the recording (an even one: subpages alternate), so the
        # gates' people arrive at different times, as at a real site, not all in the same frame.
        starts = [(2 * ((i * 7919) % (nf // 2))) for i in range(n)]
        pack = HEADER.pack
        crc32 = zlib.crc32
        crc = struct.Struct(">I").pack
        end = start + seconds
        while not self._stop.is_set():
            round_start = start + k * period
            if round_start >= end:
                break
            seq = k + 1
            ms = int(k * period * 1000) & 0x3FFFFFFF
            for i in range(n):
                words = frames[(k + starts[i]) % nf]
                due = round_start + i * period / n
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                else:
                    self.late_s = max(self.late_s, now - due)
                body = pack(MAGIC, KIND_FRAME, VERSION, boots[i], seq, ms, 834, 0) + words
                body += crc(crc32(body))
                self.client.publish(topics[i], body + tag(keys[i], body), qos=0)
                self.sent[(self.gates[i], seq)] = time.monotonic()
                self.published += 1
            k += 1

    def close(self) -> None:
        self._stop.set()
        self.client.loop_stop()
        self.client.disconnect()


class ResultWatch:
    def __init__(self, broker):
        self.results: list[tuple[float, dict]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"load-sub-{os.getpid()}")
        self.client.on_message = lambda c, u, m: self.results.append((time.monotonic(), json.loads(m.payload)))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("thermogate/+/result", qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, resident MB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


def _metric(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run_load(gates: int, seconds: float, workdir: Path, memory_every_s: float | None = None,
             synchronous: str = "full") -> dict:
    recording = Recording.load(RECORDING)
    ids = [f"load-{i + 1}" for i in range(gates)]
    queued = max(1000, gates * 8 * 10)
    with MosquittoBroker(extra_config=f"max_queued_messages {queued}\n") as broker:
        d = workdir / f"n{gates}"
        d.mkdir(parents=True, exist_ok=True)
        config = write_config(d, broker, ids, store=f"sqlite:///{d / 'thermogate.db'}?synchronous={synchronous}")
        proc = ControllerProcess(config, d / "controller.log").start()
        base = f"http://127.0.0.1:{proc.http_port}"
        watch = ResultWatch(broker)
        pub = Publisher(broker, ids, recording)
        pub.announce()
        time.sleep(1.0 + gates / 500)  # the EEPROMs in, pipelines built
        cpu0, _ = _proc_stats(proc.proc.pid)
        t0 = time.monotonic()
        backlog: list[tuple[float, int]] = []
        memory: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample():
            next_mem = 0.0
            while not stop.wait(0.5):
                try:
                    h = json.loads(urllib.request.urlopen(base + "/healthz", timeout=2).read())
                    backlog.append((time.monotonic() - t0, h["frame_backlog"]))
                except Exception:
                    pass
                if memory_every_s is not None and time.monotonic() - t0 >= next_mem:
                    memory.append((time.monotonic() - t0, _proc_stats(proc.proc.pid)[1]))
                    next_mem += memory_every_s

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        pub.run(seconds)
        wall = time.monotonic() - t0
        time.sleep(1.5)  # let the last decisions through
        stop.set()
        sampler.join()
        cpu1, rss = _proc_stats(proc.proc.pid)
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        proc.stop()
        pub.close()
        watch.close()
    # Latency after the start-up burst: every gate's warm-up ends in the same second (they all start
    # together), which a site's gates, started over days, never do.
    steady = t0 + WARMUP_S
    lat = [t - pub.sent[(r["gate"], r["sequence"])] for t, r in watch.results
           if (r["gate"], r["sequence"]) in pub.sent and pub.sent[(r["gate"], r["sequence"])] >= steady]
    third = max(1, len(backlog) // 3)
    first = [b for _t, b in backlog[:third]]
    last = [b for _t, b in backlog[-third:]]
    processed = _metric(metrics, "thermogate_frames_total")
    return {
        "gates": gates, "seconds": wall, "published": pub.published, "publish_rate": pub.published / wall,
        "publisher_late_ms": 1000 * pub.late_s, "processed": processed,
        "dropped_queue": _metric(metrics, "thermogate_frames_dropped_total", where="queue"),
        "lost_sequence": _metric(metrics, "thermogate_frames_dropped_total", where="sequence"),
        "decisions": len(watch.results), "latency": lat, "backlog_first": max(first, default=0),
        "backlog_last": max(last, default=0), "backlog_max": max((b for _t, b in backlog), default=0),
        "cpu_cores": (cpu1 - cpu0) / wall, "rss_mb": rss, "memory": memory,
        "internal_p": _histogram_quantiles(metrics, "thermogate_decision_latency_seconds"),
    }


def _histogram_quantiles(text: str, name: str) -> dict:
    """The controller's own arrival-to-command histogram: share of decisions at or below each bound."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    return {b: c / total for b, c in buckets if total}


def sustained(r: dict) -> bool:
    return (r["dropped_queue"] == 0 and r["lost_sequence"] <= 0.001 * r["published"]
            and r["processed"] >= 0.999 * r["published"]
            and r["backlog_last"] <= max(r["gates"], 8 + r["backlog_first"])
            and _percentile(r["latency"], 0.99) <= 0.050)


def line(r: dict) -> str:
    lat = r["latency"]
    return (f"{r['gates']:5d} gates  {r['publish_rate']:7.0f} frames/s sent  processed {r['processed']:.0f}/"
            f"{r['published']}  dropped {r['dropped_queue']:.0f} (queue) {r['lost_sequence']:.0f} (broker)  "
            f"backlog first/last third max {r['backlog_first']}/{r['backlog_last']}  "
            f"latency p50 {1000 * _percentile(lat, 0.5):.1f} p99 {1000 * _percentile(lat, 0.99):.1f} "
            f"max {1000 * max(lat, default=float('nan')):.1f} ms (n={len(lat)})  controller CPU "
            f"{r['cpu_cores']:.2f} cores, RSS {r['rss_mb']:.0f} MB  publisher late by up to "
            f"{r['publisher_late_ms']:.0f} ms  -> {'sustained' if sustained(r) else 'NOT sustained'}\n"
            f"        in the controller, frame arrival to command: "
            + ", ".join(f"{100 * s:.0f} % <= {1000 * b:g} ms" for b, s in r["internal_p"].items() if b <= 0.1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gates", default="50,200,400,600,800,1000",
                        help="comma-separated gate counts to try, in increasing order")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per gate count")
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="then soak at 80 %% of the best N")
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full",
                        help="the SQLite store's synchronous setting (full: the default, an fsync per commit)")
    args = parser.parse_args(argv)
    print(f"load: replaying {RECORDING.name} at {RATE_HZ:g} subpages/s per gate against one controller process "
          f"({os.cpu_count()} cores on this machine, shared by mosquitto, this publisher and the controller); "
          f"SQLite store, synchronous={args.synchronous}")
    best = 0
    with tempfile.TemporaryDirectory(prefix="thermogate-load-") as tmp:
        for n in [int(x) for x in args.gates.split(",")]:
            r = run_load(n, args.seconds, Path(tmp), synchronous=args.synchronous)
            print(line(r), flush=True)
            if sustained(r):
                best = n
            elif r["dropped_queue"] or r["processed"] < 0.99 * r["published"]:
                break  # overloaded: larger counts only drop more
        print(f"largest gate count sustained (p99 <= 50 ms, no growing backlog, no drops): {best}")
        if args.soak_minutes > 0 and best:
            n = max(1, int(0.8 * best))
            r = run_load(n, 60 * args.soak_minutes, Path(tmp), memory_every_s=60, synchronous=args.synchronous)
            print(f"soak {args.soak_minutes:g} min at {n} gates: " + line(r))
            print("  controller RSS by minute: " + ", ".join(f"{m:.0f} MB" for _t, m in r["memory"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
