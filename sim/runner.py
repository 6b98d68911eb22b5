"""Run many virtual gates in one process, in real time.

One loop steps every gate in turn every few milliseconds; each gate's sensor
produces subpages on its own schedule, so the gates' frames interleave as a
site's would. ``RunStats`` tells whether the process kept up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .clock import RealClock
from .gate import VirtualGate


@dataclass
class RunStats:
    gates: int
    seconds: float
    subpages: int  # measured by the virtual sensors
    frames_sent: int  # published by the firmware
    expected: float  # subpages the refresh rate asks for in that time
    busy_fraction: float  # share of wall time the stepping loop spent working (not sleeping)
    cpu_fraction: float  # process CPU time (all threads, paho's included) per wall second; 1.0 = one core

    @property
    def kept_up(self) -> bool:
        return self.subpages >= 0.98 * self.expected

    def line(self) -> str:
        rate = self.subpages / max(self.seconds, 1e-9)
        share = 100 * self.subpages / max(self.expected, 1)
        return (f"{self.gates} gates, {self.seconds:.1f} s: {self.subpages} subpages measured ({rate:.0f}/s, "
                f"{share:.1f} % of real time), {self.frames_sent} frames published, "
                f"loop busy {100 * self.busy_fraction:.0f} %, process CPU {100 * self.cpu_fraction:.0f} % of one core")


def make_gates(count: int, scenario_factory, host: str, port: int, *, prefix: str = "sim",
               seed: int = 0, user: str = "", password: str = "") -> list[VirtualGate]:
    """``count`` gates ``<prefix>-1`` .. with scenarios from ``scenario_factory(index)``, sharing one clock."""
    clock = RealClock()
    return [VirtualGate(f"{prefix}-{i + 1}", scenario_factory(i), host, port, seed=seed * 1000 + i, clock=clock,
                        user=user, password=password)
            for i in range(count)]


def run(gates: list[VirtualGate], seconds: float | None = None, tick_s: float = 0.005, report=None,
        report_every_s: float = 5.0, stop=None) -> RunStats:
    """Step ``gates`` until ``seconds`` have passed (or ``stop()`` is true)."""
    start = time.monotonic()
    cpu_start = time.process_time()
    busy = 0.0
    next_report = start + report_every_s
    refresh = [g.scenario.refresh_hz for g in gates]
    produced0 = [g.sensor.produced for g in gates]
    sent0 = [g.gate.frames_sent for g in gates]

    def stats() -> RunStats:
        elapsed = time.monotonic() - start
        return RunStats(len(gates), elapsed, sum(g.sensor.produced for g in gates) - sum(produced0),
                        sum(g.gate.frames_sent for g in gates) - sum(sent0), elapsed * sum(refresh),
                        busy / max(elapsed, 1e-9), (time.process_time() - cpu_start) / max(elapsed, 1e-9))

    while True:
        tick_start = time.monotonic()
        if seconds is not None and tick_start - start >= seconds or stop is not None and stop():
            return stats()
        for g in gates:
            g.step()
        done = time.monotonic()
        busy += done - tick_start
        if report is not None and done >= next_report:
            report(stats())
            next_report += report_every_s
        time.sleep(max(0.0, tick_s - (done - tick_start)))


class GateThread:
    """Gates stepping in a background thread, for tests that wait on the broker meanwhile."""

    def __init__(self, gates: list[VirtualGate], tick_s: float = 0.005):
        import threading

        self.gates = gates
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(tick_s,), name="virtual-gates", daemon=True)

    def _run(self, tick_s: float) -> None:
        try:
            run(self.gates, tick_s=tick_s, stop=self._stop.is_set)
        except BaseException as exc:  # surfaced to the test by stop()
            self.error = exc

    def start(self) -> GateThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for g in self.gates:
            g.close()
        if self.error is not None:
            raise RuntimeError("a virtual gate failed") from self.error
