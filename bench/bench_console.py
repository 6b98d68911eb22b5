"""The console under load, in Debian's headless Chromium: 24 gates at 8 fps in one tab.

Two figures (issue targets: no growing lag between a frame's arrival and its
drawing; an alarm visible in under 300 ms after the decision):

1. Frame-to-draw lag: a real controller service (store, HTTP, console, the live
   hub) with 24 registered gates; a feeder thread publishes 24 x 8 frames/s of
   24 x 32 images on the service's live hub, each stamped with the time it
   "arrived" (time.time(), as the controller stamps a frame on arrival from
   MQTT). The page draws each gate's newest frame at its next animation frame
   and records draw time - arrival time. Printed per 10 s window: frames sent,
   received and drawn, and the lag's median, 95th percentile and maximum. A lag
   that grows from the first window to the last would show the tab falling
   behind.
2. Decision-to-banner latency: during the same load, every few seconds a FEVER
   screening and its alarm are written to the store and published as the
   controller's DecisionHandler does; the page records when the banner that
   shows the alarm is painted (the animation frame after it is in the DOM).
   With ``--fever-gate`` a virtual gate running the ``fever`` scenario through
   MQTT and the real screening pipeline is added, and its real alarms are
   reported separately.

The feeder stands in for MQTT and the screening pipeline so that what is
measured is the console's own path (hub, WebSocket, browser); how many gates
one controller decodes and screens is bench/bench_load.py's figure.

    .venv/bin/python bench/bench_console.py [--gates 24] [--fps 8] [--seconds 60] [--fever-gate]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console_rig import ConsoleRig, launch_chromium, login  # noqa: E402

from controller.service.events import AlarmEvent, DecisionEvent, FrameEvent  # noqa: E402
from controller.store import Screening, encode_snapshot  # noqa: E402

WINDOW_S = 10.0


class Feeder(threading.Thread):
    """24 gates' frames at ``fps`` each, evenly staggered, on the service's live hub."""

    def __init__(self, service, gates: list[str], fps: float):
        super().__init__(name="bench-feeder", daemon=True)
        self.service, self.gates, self.fps = service, gates, fps
        self.stop_event = threading.Event()
        self.sent: list[float] = []
        self.rng = np.random.default_rng(1)
        yy, xx = np.mgrid[0:24, 0:32]
        self.yy, self.xx = yy, xx

    def image(self, k: int, t: float) -> tuple[np.ndarray, list[int]]:
        cx = 16 + 10 * np.sin(0.7 * t + k)  # a warm head walking across the view
        cy = 9 + 2 * np.cos(0.5 * t + k)
        img = 22.0 + 0.3 * self.rng.standard_normal((24, 32))
        img += 13.0 * np.exp(-(((self.xx - cx) / 3.0) ** 2 + ((self.yy - cy) / 3.5) ** 2))
        box = [max(0, int(cy - 4)), max(0, int(cx - 3)), min(24, int(cy + 5)), min(32, int(cx + 4))]
        return img.astype(np.float32), box

    def run(self) -> None:
        period = 1.0 / self.fps
        start = time.monotonic()
        n = 0
        while not self.stop_event.is_set():
            for k, gate in enumerate(self.gates):
                due = start + n * period + k * period / len(self.gates)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                now = time.time()
                img, box = self.image(k, now)
                self.service.live.publish(FrameEvent(
                    gate=gate, image=img, state="measuring", sequence=n, time=now,
                    face_box=box, distance_m=0.6, reference_ok=True, ambient_c=22.0))
                self.sent.append(now)
            n += 1


def raise_alarm(store, live, gate: str, k: int) -> int:
    """A FEVER as DecisionHandler records and announces it; the alarm's id."""
    t0 = time.time()
    img = np.full((24, 32), 22.0, np.float32)
    img[5:14, 12:20] = 36.0
    sid = store.record_screening(Screening(
        uid=f"bench:{gate}:{k}:{time.monotonic_ns()}", gate=gate, time=t0, decision="FEVER", reason="", track=k,
        estimate_c=38.5, face_c=36.0, distance_m=0.6, reduced_accuracy=False, boot=1, sequence=k,
        snapshot=encode_snapshot(img)))
    aid = store.open_alarm(sid, gate, t0)
    event = DecisionEvent(gate=gate, decision="FEVER", reason="", estimate_c=38.5, track=k, time=t0,
                          screening_id=sid, reduced_accuracy=False)
    live.publish(event)
    live.publish(AlarmEvent(**dataclasses.asdict(event), alarm_id=aid))
    return aid


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gates", type=int, default=24)
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--alarm-every", type=float, default=4.0, help="seconds between synthetic alarms")
    ap.add_argument("--fever-gate", action="store_true", help="also a virtual fever gate through MQTT")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with ConsoleRig(["fever"] if args.fever_gate else [], idle_gates=args.gates) as rig, \
            sync_playwright() as p:
        svc = rig.service
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        login(page, rig.url)
        page.wait_for_selector(f"#tile-feed-{args.gates}")
        feeder = Feeder(svc, rig.idle_gates, args.fps)
        feeder.start()
        synthetic: list[int] = []
        t_start = time.time()
        windows = []
        next_alarm = time.monotonic() + 2.0
        window_end = time.monotonic() + WINDOW_S
        last = page.evaluate("({f: tgStats.frames, d: tgStats.drawn})")
        sent_before = 0
        while time.time() - t_start < args.seconds:
            time.sleep(0.2)
            if time.monotonic() >= next_alarm:
                next_alarm += args.alarm_every
                synthetic.append(raise_alarm(svc.store, svc.live, rig.idle_gates[len(synthetic) % args.gates],
                                             len(synthetic)))
            if time.monotonic() >= window_end:
                window_end += WINDOW_S
                s = page.evaluate("""() => { const out = {lag: tgStats.lag, recv: tgStats.recvLag, f: tgStats.frames,
                    d: tgStats.drawn}; tgStats.lag = []; tgStats.recvLag = []; return out; }""")
                sent = len(feeder.sent)
                windows.append({"sent": sent - sent_before, "recv": s["f"] - last["f"], "drawn": s["d"] - last["d"],
                                "lag": s["lag"], "recv_lag": s["recv"]})
                sent_before, last = sent, {"f": s["f"], "d": s["d"]}
        feeder.stop_event.set()
        feeder.join()
        time.sleep(1.0)
        shown = page.evaluate("tgStats.alarmShown")
        browser.close()

    print(f"console bench: {args.gates} gates x {args.fps:g} fps in one tab of headless Chromium, "
          f"{args.seconds:g} s")
    print(f"{'window':>8} {'sent/s':>8} {'recv/s':>8} {'drawn/s':>8} {'lag p50':>8} {'p95':>7} {'max':>7}"
          f" {'ws p50':>7}  (ms; lag = drawn - arrival at the controller, ws = received - sent)")
    for i, w in enumerate(windows):
        print(f"{(i + 1) * WINDOW_S:>7.0f}s {w['sent'] / WINDOW_S:>8.1f} {w['recv'] / WINDOW_S:>8.1f} "
              f"{w['drawn'] / WINDOW_S:>8.1f} {pct(w['lag'], 50):>8.1f} {pct(w['lag'], 95):>7.1f} "
              f"{max(w['lag'] or [float('nan')]):>7.1f} {pct(w['recv_lag'], 50):>7.1f}")
    if len(windows) >= 2:
        growth = pct(windows[-1]["lag"], 50) - pct(windows[0]["lag"], 50)
        print(f"lag growth, median of the last window minus the first: {growth:+.1f} ms")
    synth = [shown[str(a)] for a in synthetic if str(a) in shown]
    real = [v for k, v in shown.items() if int(k) not in set(synthetic)]
    for name, values in (("synthetic", synth), ("virtual fever gate", real)):
        if values:
            print(f"decision to banner ({name} alarms, n={len(values)}): median {statistics.median(values):.0f} ms, "
                  f"p95 {pct(values, 95):.0f} ms, max {max(values):.0f} ms")
    missing = [a for a in synthetic if str(a) not in shown]
    if missing:
        print(f"alarms never shown: {missing}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
