"""Screening throughput: subpages per second through decode, temperatures,
scene analysis and tracking, for many gates at once, on one core.

Each gate replays a synthetic recording's frame payloads (the bytes a gate
publishes) into its own pipeline, round-robin, as a controller serving many
gates would see them. Measured twice: with the default settings, and with
the lens's wings configured (each image has them taken out first,
controller/screening/lens_wings.py).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from controller.protocol import decode_frame, sensor_key
from controller.screening.config import ScreeningConfig
from controller.screening.pipeline import GatePipeline
from sim.synth import scenario_recording


def main(gates: int = 200, seconds: float = 20.0) -> None:
    for wings in (None, (0.2, 3.0)):
        run(gates, seconds, wings)


def run(gates: int, seconds: float, wings: tuple[float, float] | None) -> None:
    config = ScreeningConfig()
    if wings is not None:
        config = replace(config, analysis=replace(config.analysis, lens_wing_share=wings[0], lens_wing_px=wings[1]))
    recordings = [scenario_recording(name, seconds, seed=i)
                  for i, name in enumerate(("normal_queue", "fever", "two_people", "hot_cup"))]
    streams = []
    key = sensor_key(bytes(32))  # the frames as protocol version 2: decoding includes checking the tag
    sealed = [rec.sealed_payloads(key) for rec in recordings]
    for g in range(gates):
        rec = recordings[g % len(recordings)]
        pipeline = GatePipeline(f"gate-{g}", rec.eeprom_message().words, config)
        times = [float(t) for t in rec.frame_times]
        streams.append((pipeline, sealed[g % len(recordings)], times))
    # Warm up the compiled kernels outside the timing (the optics terms' per-face-size cache fills inside it, as it
    # does on a gate's first faces).
    warm = GatePipeline("warm", recordings[0].eeprom_message().words, config)
    for payload, t in zip(streams[0][1][:4], streams[0][2][:4], strict=True):
        warm.push(decode_frame(payload, key).words, t)
    frames = len(streams[0][1])
    decisions = 0
    start = time.perf_counter()
    cpu = time.process_time()
    for i in range(frames):
        for pipeline, payloads, times in streams:
            message = decode_frame(payloads[i], key)
            decisions += len(pipeline.push(message.words, times[i], message.sequence))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    n = frames * gates
    what = "default settings" if wings is None else f"lens wings {wings[0]:.0%} at {wings[1]:g} px"
    print(f"screening pipeline ({what}): {gates} gates x {frames} subpages = {n} subpages in {wall:.2f} s "
          f"({cpu:.2f} s CPU): {n / cpu:,.0f} subpages/s per core, {1e6 * cpu / n:.1f} us each; "
          f"{decisions} decisions (target: 10,000 subpages/s per core)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
