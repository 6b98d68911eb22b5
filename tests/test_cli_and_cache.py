"""The command line, and the numba cache that spares a second start the compile."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from controller.cli import main
from controller.sensor import Calibration, random_eeprom

REPO = Path(__file__).resolve().parent.parent


def test_sensor_check_and_decode(tmp_path, capsys):
    ee = random_eeprom(21, broken=1)
    cal = Calibration.from_eeprom(ee)
    frame = cal.raw_from_to(np.full((24, 32), 30.0), 22.0, 3.3, 1, 0x1901)
    (tmp_path / "ee.json").write_text(json.dumps([int(w) for w in ee]))
    (tmp_path / "ee.bin").write_bytes(ee.astype("<u2").tobytes())
    (tmp_path / "frame.txt").write_text(" ".join(hex(int(w)) for w in frame))
    assert main(["sensor", "check", str(tmp_path / "ee.json")]) == 0
    out = capsys.readouterr().out
    assert "valid MLX90640 calibration" in out
    r, c = divmod(cal.defective_pixels[0], 32)
    assert f"broken pixels: (row {r}, col {c})" in out
    assert main(["sensor", "decode", str(tmp_path / "ee.bin"), str(tmp_path / "frame.txt")]) == 0
    out = capsys.readouterr().out
    assert "subpage 1 (chess): Ta 22.00 degC" in out and "384 pixels" in out and "max 30." in out


def test_sensor_errors_are_one_clear_line(tmp_path, capsys):
    (tmp_path / "short.json").write_text(json.dumps([1, 2, 3]))
    (tmp_path / "odd.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "zero.json").write_text(json.dumps([0] * 832))
    for path, message in [(tmp_path / "short.json", "expected 832 words"), (tmp_path / "odd.bin", "odd number"),
                          (tmp_path / "zero.json", "K_Vdd"), (tmp_path / "missing.json", "No such file")]:
        assert main(["sensor", "check", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("thermogate: error:") and message in err and err.count("\n") == 1


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "thermogate"
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("thermogate ")


@pytest.mark.slow  # 29 s on a shared 2-core machine: two fresh processes, the first compiles every kernel
def test_second_start_loads_compiled_kernels_from_cache(tmp_path):
    script = (
        "import numpy as np\n"
        "from controller.sensor import Calibration, random_eeprom, kernels\n"
        "cal = Calibration.from_eeprom(random_eeprom(1))\n"
        "cal.subpage_to(cal.raw_from_to(np.full((24, 32), 30.0), 25.0, 3.3, 0, 0x1901))\n"
        "s = kernels.subpage_to.stats\n"
        "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))\n"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO,
                           check=True).stdout.split() for _ in range(2)]
    hits, misses = (list(map(int, r)) for r in runs)
    assert hits[0] == 0 and misses[0] >= 1, runs[0]  # first start compiles
    assert hits[1] >= 1 and misses[1] == 0, runs[1]  # second start loads, no compile
