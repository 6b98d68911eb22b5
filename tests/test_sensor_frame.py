"""controller/sensor/frame.py, the one home of the array's shape and the refresh rates: its figures agree with
each other and with the datasheet's, and importing it (as geometry, the store's snapshots and the site tools
do) loads none of the sensor's numba maths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from controller.sensor import frame as F

REPO = Path(__file__).resolve().parent.parent


def test_the_array_and_the_subpage_layout_agree():
    assert (F.ROWS, F.COLUMNS) == F.SHAPE == (24, 32)
    assert F.PIXELS == F.ROWS * F.COLUMNS == 2 * F.SUBPAGE_PIXELS == 768
    assert F.RAM_WORDS == F.PIXELS + F.AUX_WORDS == 832  # RAM 0x0400..0x073F
    assert (F.F_CONTROL, F.F_SUBPAGE, F.FRAME_WORDS) == (832, 833, 834)
    assert F.A_VBE == F.PIXELS and F.A_VDD < F.RAM_WORDS  # the auxiliary words follow the pixels
    # datasheet table 8: the refresh rate doubles with each code of control register bits 9:7
    assert F.REFRESH_RATES_HZ == tuple(0.5 * 2 ** code for code in range(8))
    for hz in F.REFRESH_RATES_HZ:
        assert F.describe_control(F.control_word(refresh_hz=hz))["refresh_hz"] == hz


def test_importing_the_shape_loads_no_numba():
    code = ("import sys\n"
            "import controller.sensor.frame, controller.geometry, controller.store.snapshot\n"
            "import controller.site.gate_settings\n"
            "heavy = ('numba', 'controller.sensor.kernels', 'controller.sensor.calibration')\n"
            "loaded = sorted(m for m in sys.modules if m in heavy)\n"
            "print(loaded)\n"
            "from controller.sensor import Calibration\n"  # the rest still loads on first use
            "print(Calibration.__module__)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         check=True).stdout.splitlines()
    assert out == ["[]", "controller.sensor.calibration"]
