"""Run Python code under the real MicroPython (its WebAssembly port, in node) from pytest.

    from micropython_harness import run_micropython

    out = run_micropython("import wire; print(wire.FRAME_BYTES)", [REPO / "firmware"])
    assert out == "1692\n"

Every ``.py`` file under the given directories is copied into MicroPython's filesystem, keeping
subdirectories, and put first on ``sys.path``; a later directory's file replaces an earlier one's
with the same relative path, so fakes for ``machine`` or ``network`` go last. See
``tests/micropython/run.mjs`` for the details.

The node packages (the MicroPython port and pyright) are pinned in ``tests/micropython/
package-lock.json``; ``make test`` installs them, and so does the first call here when they are
missing or older than the lock file.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

NODE_DIR = Path(__file__).resolve().parent / "micropython"
RUNNER = NODE_DIR / "run.mjs"
PYRIGHT = NODE_DIR / "node_modules" / "pyright" / "index.js"
# Written after a successful `npm ci`; the Makefile uses the same stamp.
INSTALLED_STAMP = NODE_DIR / "node_modules" / ".installed"

# Seconds that node itself may take beyond the script's own time limit before it is killed.
_NODE_GRACE = 30

_MISSING_NODE = (
    "node and npm are needed to run the firmware under MicroPython and to type-check it. "
    "`make test` installs them when run as root on Debian (apt-get install -y nodejs npm); "
    "otherwise install Node.js 18 or newer with npm, e.g. `sudo apt-get install -y nodejs npm`."
)


def node() -> str:
    """The node executable; fails the test with install instructions when node or npm is missing."""
    node_path, npm_path = shutil.which("node"), shutil.which("npm")
    if node_path is None or npm_path is None:
        pytest.fail(_MISSING_NODE, pytrace=False)
    return node_path


@functools.cache
def ensure_node_packages() -> None:
    """Run `npm ci` in tests/micropython once, if the packages are missing or out of date."""
    node()
    lock_files = [NODE_DIR / "package.json", NODE_DIR / "package-lock.json"]
    if INSTALLED_STAMP.exists() and all(
        INSTALLED_STAMP.stat().st_mtime >= f.stat().st_mtime for f in lock_files
    ):
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`npm ci` in {NODE_DIR} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}",
            pytrace=False,
        )
    INSTALLED_STAMP.touch()


def run_micropython(script: str, paths: list[Path], timeout: float = 60) -> str:
    """Run ``script`` under MicroPython with the ``.py`` files of ``paths`` importable.

    Returns what the script printed to stdout. Raises AssertionError with the exit status,
    stdout and stderr (the MicroPython traceback) when the script raises, calls
    ``sys.exit`` with a non-zero status, or runs longer than ``timeout`` seconds.
    """
    ensure_node_packages()
    command = [node(), str(RUNNER), "--timeout", str(timeout), *map(str, paths), "-"]
    try:
        result = subprocess.run(
            command,
            input=script,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout + _NODE_GRACE,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"node did not stop within {timeout + _NODE_GRACE} s: {command}") from exc
    if result.returncode != 0:
        what = "timed out" if result.returncode == 124 else f"failed (exit {result.returncode})"
        raise AssertionError(
            f"MicroPython script {what}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result.stdout


_IMPLEMENTATION = """
import sys, json
i = sys.implementation
print(json.dumps({"name": i.name, "version": i.version[:3], "machine": i._machine, "mpy": i._mpy}))
"""


@functools.cache
def micropython_available() -> SimpleNamespace:
    """The interpreter's ``sys.implementation``: name, version (a tuple), machine and mpy.

    Fails the test (like run_micropython) when MicroPython cannot be run here.
    """
    fields = json.loads(run_micropython(_IMPLEMENTATION, []))
    fields["version"] = tuple(fields["version"])
    return SimpleNamespace(**fields)
