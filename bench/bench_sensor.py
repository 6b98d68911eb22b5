"""Sensor-maths benchmark: `make bench`.

Same EEPROM and frame for every implementation, measured in this one run:
the numba kernel, the public API around it, the plain-numpy reference and
the Adafruit package's pure-Python computation. Also: throughput over 1,000
sensors, EEPROM-to-calibration time, a cold and a warm start (numba cache),
and the temperature step of one ADC count (the sensor's own resolution).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the Adafruit fake-I2C harness lives with the tests

from controller.sensor import Calibration, control_word, random_eeprom  # noqa: E402
from controller.sensor import kernels as K  # noqa: E402
from controller.sensor import reference as R  # noqa: E402
from controller.sensor.frame import TR_FROM_TA  # noqa: E402

VECTORS = REPO.parent / "shared" / "vectors" / "melexis_example_xlsx.json"


def per_call(fn, n: int, repeats: int = 5) -> float:
    """Best mean seconds per call over ``repeats`` runs of ``n`` calls."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def inputs():
    """The vendor's example device if the reference vectors are beside the checkout, else a generated one."""
    if VECTORS.exists():
        data = json.loads(VECTORS.read_text())
        return "Melexis example device, chess, 18-bit", np.array(data["eeprom"], np.uint16), \
            np.array(data["frames"][0], np.uint16)
    ee = random_eeprom(1)
    cal = Calibration.from_eeprom(ee)
    frame = cal.raw_from_to(np.full((24, 32), 30.0), 25.0, 3.3, 0, control_word())
    return "generated device, chess, 18-bit", ee, frame


def start_times() -> tuple[float, float]:
    """Seconds to import and compute a first subpage: with an empty numba cache, then with it filled."""
    script = ("import time; t = time.perf_counter()\n"
              "import numpy as np\n"
              "from controller.sensor import Calibration, random_eeprom\n"
              "cal = Calibration.from_eeprom(random_eeprom(1))\n"
              "cal.subpage_to(cal.aux_frame(25.0, 3.3, 0, 0x1901))\n"
              "print(time.perf_counter() - t)\n")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        run = lambda: float(subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO,  # noqa: E731
                                           capture_output=True, text=True, check=True).stdout)
        return run(), run()


def main() -> None:
    from adafruit_reference import AdafruitSensor

    label, eeprom, frame = inputs()
    cal = Calibration.from_eeprom(eeprom)
    out = np.empty((24, 32), dtype=np.float32)
    flat = out.reshape(768)
    adafruit = AdafruitSensor([int(w) for w in eeprom])
    frame_list = [int(w) for w in frame]
    ada_result = [0.0] * 768
    tr = cal.ambient(frame) - 8.0

    rows = [
        ("numba kernel (one call)",
         per_call(lambda: K.subpage_to(frame, cal._k, cal._table, out, 1.0, TR_FROM_TA), 20000)),
        ("Calibration.subpage_to(out=...)", per_call(lambda: cal.subpage_to(frame, out=out), 20000)),
        ("Calibration.subpage_to (new image)", per_call(lambda: cal.subpage_to(frame), 20000)),
        ("numpy reference", per_call(lambda: R.subpage_to(cal.params, frame), 200)),
        ("Adafruit _CalculateTo (pure Python)",
         per_call(lambda: adafruit.driver._CalculateTo(frame_list, 1.0, tr, ada_result), 20)),
    ]
    ada = rows[-1][1]
    print(f"MLX90640 temperatures per subpage; input: {label}")
    print(f"{'implementation':38s} {'us/subpage':>12s} {'vs Adafruit':>12s}")
    for name, seconds in rows:
        print(f"{name:38s} {seconds * 1e6:12.2f} {ada / seconds:11.0f}x")
    del flat

    # 1,000 sensors, each its own calibration and frame.
    sensors = []
    rng = np.random.default_rng(0)
    for i in range(1000):
        c = Calibration.from_eeprom(random_eeprom(rng, calibrated_in_chess=i % 2 == 0))
        f = c.raw_from_to(rng.uniform(18, 38, (24, 32)), float(rng.uniform(15, 35)), 3.3, i % 2,
                          control_word(chess=i % 3 != 0))
        sensors.append((c, f))
    outs = [np.empty((24, 32), dtype=np.float32) for _ in sensors]

    def batch():
        for (c, f), o in zip(sensors, outs, strict=True):
            c.subpage_to(f, out=o)
    batch_s = per_call(batch, 5)
    print(f"\n1,000 sensors, one subpage each, one thread: {batch_s * 1e3:.2f} ms per batch = "
          f"{1000 / batch_s:,.0f} subpages/s")

    ee_s = per_call(lambda: Calibration.from_eeprom(eeprom), 200)
    print(f"EEPROM -> Calibration: {ee_s * 1e3:.3f} ms (target < 5 ms)")
    cold, warm = start_times()
    print(f"start to first subpage: {cold:.2f} s with an empty numba cache, {warm:.2f} s with it filled")
    inverse_s = per_call(lambda: cal.raw_from_to(np.full((24, 32), 36.0), 25.0, 3.3, 0, control_word()), 50)
    print(f"inverse (temperature image -> 834 words): {inverse_s * 1e3:.2f} ms per subpage")

    # The sensor's own resolution: the temperature step of one raw count, at face temperatures.
    print("\none ADC count at 30-40 degC (median over pixels and 100 generated sensors):")
    for bits in (16, 17, 18, 19):
        steps = []
        for seed in range(100):
            c = Calibration.from_eeprom(random_eeprom(seed))
            f = c.raw_from_to(np.full((24, 32), 35.0), 25.0, 3.3, 0, control_word(resolution_bits=bits))
            state = R.frame_state(c.params, f)
            raw = f[:768].astype(np.int64)
            raw = np.where(raw > 0x7FFF, raw - 0x10000, raw).astype(np.float64)
            lo, hi = (R.to_from_ir(c.params, R.ir_from_raw(c.params, raw + d, state, 1.0), state) for d in (0, 1))
            steps.append(np.median(hi - lo))
        print(f"  {bits}-bit: {np.median(steps):.3f} degC per count")


if __name__ == "__main__":
    main()
